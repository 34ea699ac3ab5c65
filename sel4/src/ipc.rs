//! The IPC system calls: Call, ReplyRecv, Send, NBSend, Recv, NBRecv, Reply and Yield, and
//! their typed forms on endpoints (messages), notifications (signals) and reply capabilities.
//!
//! Messages live in the caller's [`IpcBuffer`] (see its module for why it is passed
//! explicitly): set the words with [`IpcBuffer::set_message`] or `msg_mut`, send with the
//! returned [`MessageInfo`], read what arrived with [`IpcBuffer::message`]. Words 0..4 travel
//! in registers; these functions copy them between the buffer and the registers.
//!
//! Notifications need no buffer: a signal carries no message, and a wait returns only the
//! badge word (the OR of the badges of every signal since the last wait).
//!
//! A Call needs an endpoint capability with [`crate::kernel::CALL_RIGHTS`]: on 5.0.0 one
//! without Grant makes the caller Inactive for good (no reply can reach it).
//!
//! A Call whose capability slot is empty, or whose endpoint capability lacks Send, is answered
//! by the kernel with the error code as the label ([`crate::Error::InvalidCapability`]); a Send
//! there is dropped silently. A CPtr that does not resolve to a slot at all is a cap fault.

use crate::cap::{CPtr, Endpoint, Notification, Reply};
use crate::ipc_buffer::IpcBuffer;
use crate::message::MessageInfo;
use crate::syscall::{self, Registers, number};

/// What a receive delivered: the message info and the badge of the capability it came
/// through (0 for an unbadged one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    pub info: MessageInfo,
    pub badge: u64,
}

/// Performs syscall `number` on `cap` with the message in `ipc`, and puts the returned
/// message registers back into it ([`syscall::syscall_with_buffer_words`]: only the
/// registers the message uses are loaded, and the buffer's words past the length of what
/// came back are unspecified). Inlined: the words move straight between the buffer and the
/// registers, with no call or copy on the way (each function below is `#[inline]`).
#[inline(always)]
fn buffered(ipc: &mut IpcBuffer, number: i64, cap: CPtr, info: MessageInfo) -> Received {
    let (info, badge) = syscall::syscall_with_buffer_words(number, cap, info.word(), ipc);
    Received { info: MessageInfo::from_word(info), badge }
}

/// Sends the message `info` describes to `cap` and waits for the reply; returns the reply's
/// info (its words are in `ipc`).
#[inline]
pub fn call(ipc: &mut IpcBuffer, cap: CPtr, info: MessageInfo) -> MessageInfo {
    buffered(ipc, number::CALL, cap, info).info
}

/// [`call`] through [`syscall::call_at_known_site`]: the one `syscall` instruction whose
/// address ([`syscall::known_call_site`]) lets the memory manager find this thread waiting in
/// it and cancel the call at a deadline.
#[inline]
pub fn call_at_known_site(ipc: &mut IpcBuffer, cap: CPtr, info: MessageInfo) -> MessageInfo {
    MessageInfo::from_word(syscall::call_at_known_site(cap, info.word(), ipc))
}

/// Sends, waiting until a receiver takes the message.
#[inline]
pub fn send(ipc: &mut IpcBuffer, cap: CPtr, info: MessageInfo) {
    buffered(ipc, number::SEND, cap, info);
}

/// Sends if a receiver is waiting; otherwise the message is dropped.
#[inline]
pub fn nb_send(ipc: &mut IpcBuffer, cap: CPtr, info: MessageInfo) {
    buffered(ipc, number::NB_SEND, cap, info);
}

/// Waits for a message (or a signal) on `cap`.
#[inline]
pub fn recv(ipc: &mut IpcBuffer, cap: CPtr) -> Received {
    buffered(ipc, number::RECV, cap, MessageInfo::from_word(0))
}

/// Takes a message if one is waiting. With none, returns at once with badge 0 and an empty
/// message info (indistinguishable from an empty message from an unbadged sender).
#[inline]
pub fn nb_recv(ipc: &mut IpcBuffer, cap: CPtr) -> Received {
    buffered(ipc, number::NB_RECV, cap, MessageInfo::from_word(0))
}

/// Replies to the last Call received, then waits for the next message on `cap`.
#[inline]
pub fn reply_recv(ipc: &mut IpcBuffer, cap: CPtr, reply: MessageInfo) -> Received {
    buffered(ipc, number::REPLY_RECV, cap, reply)
}

/// Replies to the last Call received (dropped if there is none).
#[inline]
pub fn reply(ipc: &mut IpcBuffer, info: MessageInfo) {
    buffered(ipc, number::REPLY, 0, info);
}

/// Gives the rest of the time slice to threads of the same priority.
#[inline]
pub fn yield_now() {
    syscall::syscall(number::YIELD, Registers::default());
}

impl Endpoint {
    /// [`call`] on this endpoint (needs [`crate::kernel::CALL_RIGHTS`]).
    #[inline]
    pub fn call(self, ipc: &mut IpcBuffer, info: MessageInfo) -> MessageInfo {
        call(ipc, self.cptr(), info)
    }

    /// [`send`] on this endpoint.
    #[inline]
    pub fn send(self, ipc: &mut IpcBuffer, info: MessageInfo) {
        send(ipc, self.cptr(), info)
    }

    /// [`nb_send`] on this endpoint.
    #[inline]
    pub fn nb_send(self, ipc: &mut IpcBuffer, info: MessageInfo) {
        nb_send(ipc, self.cptr(), info)
    }

    /// [`recv`] on this endpoint.
    #[inline]
    pub fn recv(self, ipc: &mut IpcBuffer) -> Received {
        recv(ipc, self.cptr())
    }

    /// [`nb_recv`] on this endpoint.
    #[inline]
    pub fn nb_recv(self, ipc: &mut IpcBuffer) -> Received {
        nb_recv(ipc, self.cptr())
    }

    /// [`reply_recv`] on this endpoint.
    #[inline]
    pub fn reply_recv(self, ipc: &mut IpcBuffer, reply: MessageInfo) -> Received {
        reply_recv(ipc, self.cptr(), reply)
    }
}

impl Notification {
    /// Signals: ORs this capability's badge into the notification word, waking a waiter.
    #[inline]
    pub fn signal(self) {
        syscall::syscall(
            number::SEND,
            Registers { cap_or_badge: self.cptr(), ..Registers::default() },
        );
    }

    /// Waits for a signal, then returns the notification word (the OR of the badges
    /// signalled since the last wait) and clears it.
    #[inline]
    pub fn wait(self) -> u64 {
        syscall::syscall(
            number::RECV,
            Registers { cap_or_badge: self.cptr(), ..Registers::default() },
        )
        .cap_or_badge
    }

    /// Returns the notification word and clears it, without waiting (0: no badged signal).
    #[inline]
    pub fn poll(self) -> u64 {
        syscall::syscall(
            number::NB_RECV,
            Registers { cap_or_badge: self.cptr(), ..Registers::default() },
        )
        .cap_or_badge
    }
}

impl Reply {
    /// Answers the Call this reply capability was saved from (it is used up).
    #[inline]
    pub fn send(self, ipc: &mut IpcBuffer, info: MessageInfo) {
        send(ipc, self.cptr(), info)
    }
}
