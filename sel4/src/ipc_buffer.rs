//! The IPC buffer: the 1024 bytes per thread through which message words beyond the four
//! CPU registers, extra capabilities (or their badges) and the receive slot travel.
//!
//! # Design: the buffer is passed explicitly, as `&mut IpcBuffer`
//!
//! Each thread has its own buffer, at an address the kernel learns from TCB_Configure or
//! TCB_SetIPCBuffer. This binding keeps no global or thread-local pointer to it (upstream
//! seL4 does not point the GS base at it, and our runtime has no thread-local storage):
//! every call that needs the buffer (more than four words, extra caps, a receive slot, the
//! long replies of TCB_ReadRegisters) takes `&mut IpcBuffer`; calls that fit the registers
//! (Signal, Wait, Yield, Suspend, Delete, I/O ports, ...) do not. A thread gets its
//! `&'static mut IpcBuffer` once, at its start: the root task from
//! [`crate::BootInfo::take_ipc_buffer`], any other thread from [`IpcBuffer::from_address`]
//! in its entry code. So several threads in one address space each hold their own buffer,
//! exclusivity is checked by the compiler, and nothing can use a buffer that is not the
//! caller's without an `unsafe` claim that says otherwise.
//!
//! The message of a call is always `msg()` in the buffer: the IPC functions copy words 0..4
//! into the registers before the syscall and back afterwards, so callers never see the split.

use core::mem::{align_of, offset_of, size_of};

use crate::cap::{CPtr, CSlot, Cap};
use crate::message::{MAX_EXTRA_CAPS, MAX_MESSAGE_WORDS, MessageInfo, MessageInfoError};

/// One thread's IPC buffer (`seL4_IPCBuffer`). 1024-aligned, so it never crosses a page.
#[repr(C, align(1024))]
pub struct IpcBuffer {
    tag: u64,
    msg: [u64; MAX_MESSAGE_WORDS],
    user_data: u64,
    caps_or_badges: [u64; MAX_EXTRA_CAPS],
    receive_cnode: u64,
    receive_index: u64,
    receive_depth: u64,
}

// The layout every supported kernel reads, checked at compile time.
const _: () = {
    assert!(offset_of!(IpcBuffer, tag) == 0);
    assert!(offset_of!(IpcBuffer, msg) == 8);
    assert!(offset_of!(IpcBuffer, user_data) == 968);
    assert!(offset_of!(IpcBuffer, caps_or_badges) == 976);
    assert!(offset_of!(IpcBuffer, receive_cnode) == 1000);
    assert!(offset_of!(IpcBuffer, receive_index) == 1008);
    assert!(offset_of!(IpcBuffer, receive_depth) == 1016);
    assert!(size_of::<IpcBuffer>() == 1024);
    assert!(align_of::<IpcBuffer>() == 1024);
};

impl IpcBuffer {
    /// Claims the calling thread's IPC buffer at `address`. `None` if the address is null or
    /// not aligned to 1024.
    ///
    /// # Safety
    /// `address` must be the IPC buffer the kernel knows for the calling thread, mapped
    /// read-write for the rest of the program, and nothing else may read or write it while
    /// the returned reference lives (claim it once per thread).
    pub unsafe fn from_address(address: usize) -> Option<&'static mut IpcBuffer> {
        if address == 0 || !address.is_multiple_of(align_of::<IpcBuffer>()) {
            return None;
        }
        // SAFETY: aligned and non-null (checked); per this function's contract the memory is
        // this thread's mapped IPC buffer and unaliased, and every bit pattern is a valid
        // `IpcBuffer` (it is all integers).
        Some(unsafe { &mut *(address as *mut IpcBuffer) })
    }

    /// A zeroed buffer in ordinary memory, for host tests of the encodings.
    #[cfg(test)]
    pub(crate) fn zeroed() -> Self {
        Self {
            tag: 0,
            msg: [0; MAX_MESSAGE_WORDS],
            user_data: 0,
            caps_or_badges: [0; MAX_EXTRA_CAPS],
            receive_cnode: 0,
            receive_index: 0,
            receive_depth: 0,
        }
    }

    /// The message registers.
    pub fn msg(&self) -> &[u64; MAX_MESSAGE_WORDS] {
        &self.msg
    }

    pub fn msg_mut(&mut self) -> &mut [u64; MAX_MESSAGE_WORDS] {
        &mut self.msg
    }

    /// The words of the message `info` describes (what a receive or a reply delivered).
    pub fn message(&self, info: MessageInfo) -> &[u64] {
        self.msg.get(..info.length()).unwrap_or(&self.msg)
    }

    /// Writes `words` and `caps` (CPtrs in the caller's CSpace) as the next message with
    /// `label`, and returns its message info.
    pub fn set_message(
        &mut self,
        label: u64,
        words: &[u64],
        caps: &[CPtr],
    ) -> Result<MessageInfo, MessageInfoError> {
        let info = MessageInfo::new(label, caps.len(), words.len())?;
        self.msg[..words.len()].copy_from_slice(words);
        self.caps_or_badges[..caps.len()].copy_from_slice(caps);
        Ok(info)
    }

    /// Extra caps to send (CPtrs), or on receipt the badges of unwrapped caps.
    pub fn caps_or_badges(&self) -> &[u64; MAX_EXTRA_CAPS] {
        &self.caps_or_badges
    }

    pub fn caps_or_badges_mut(&mut self) -> &mut [u64; MAX_EXTRA_CAPS] {
        &mut self.caps_or_badges
    }

    /// A word for the program's own use; the kernel never touches it.
    pub fn user_data(&self) -> u64 {
        self.user_data
    }

    pub fn set_user_data(&mut self, value: u64) {
        self.user_data = value;
    }

    /// Where a capability received with the next message goes: `slot.index` resolved over
    /// `slot.depth` bits through `slot.root` (a CNode in the receiver's CSpace). The receiver
    /// only gets caps through endpoint capabilities with Grant.
    pub fn set_receive_slot(&mut self, slot: CSlot) {
        self.receive_cnode = slot.root.cptr();
        self.receive_index = slot.index;
        self.receive_depth = slot.depth as u64;
    }

    /// Receive no capabilities.
    pub fn clear_receive_slot(&mut self) {
        self.receive_cnode = 0;
        self.receive_index = 0;
        self.receive_depth = 0;
    }

    /// The receive slot, if one is set.
    pub fn receive_slot(&self) -> Option<CSlot> {
        if self.receive_cnode == 0 {
            return None;
        }
        Some(CSlot::new(
            Cap::from_cptr(self.receive_cnode),
            self.receive_index,
            self.receive_depth as u8,
        ))
    }

    /// Writes `name` as a NUL-terminated string at the start of the message registers (where
    /// DebugNameThread reads it). The name must leave room for the NUL and hold none itself.
    pub(crate) fn write_c_string(&mut self, name: &str) -> Result<(), NameError> {
        let bytes = name.as_bytes();
        if bytes.len() >= MAX_MESSAGE_WORDS * 8 {
            return Err(NameError::TooLong { length: bytes.len() });
        }
        if bytes.contains(&0) {
            return Err(NameError::ContainsNul);
        }
        let mut padded = [0u8; 8];
        for (index, word) in self.msg.iter_mut().enumerate() {
            let start = index * 8;
            if start > bytes.len() {
                break;
            }
            let chunk = &bytes[start..bytes.len().min(start + 8)];
            padded.fill(0);
            padded[..chunk.len()].copy_from_slice(chunk);
            *word = u64::from_ne_bytes(padded);
        }
        Ok(())
    }
}

/// Why a thread name cannot be given to the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameError {
    /// The kernel takes names of at most 959 bytes (120 words with the terminating NUL).
    TooLong {
        length: usize,
    },
    ContainsNul,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cap::init;

    #[test]
    fn messages_go_to_the_message_registers() {
        let mut buffer = IpcBuffer::zeroed();
        let info = buffer.set_message(7, &[1, 2, 3, 4, 5], &[40, 41]).unwrap();
        assert_eq!(info, MessageInfo::new(7, 2, 5).unwrap());
        assert_eq!(buffer.message(info), &[1, 2, 3, 4, 5]);
        assert_eq!(buffer.caps_or_badges(), &[40, 41, 0]);
        assert_eq!(buffer.set_message(0, &[0; 121], &[]), Err(MessageInfoError::TooManyWords));
        assert_eq!(buffer.set_message(0, &[], &[1, 2, 3, 4]), Err(MessageInfoError::TooManyCaps));
        buffer.set_user_data(99);
        assert_eq!(buffer.user_data(), 99);
    }

    #[test]
    fn the_receive_slot_round_trips() {
        let mut buffer = IpcBuffer::zeroed();
        assert_eq!(buffer.receive_slot(), None);
        buffer.set_receive_slot(init::CNODE.slot(300));
        assert_eq!(buffer.receive_slot(), Some(init::CNODE.slot(300)));
        assert_eq!(
            (buffer.receive_cnode, buffer.receive_index, buffer.receive_depth),
            (init::CNODE.cptr(), 300, 64)
        );
        buffer.clear_receive_slot();
        assert_eq!(buffer.receive_slot(), None);
    }

    #[test]
    fn names_are_nul_terminated_bytes() {
        let mut buffer = IpcBuffer::zeroed();
        buffer.msg.fill(u64::MAX);
        buffer.write_c_string("binding-server").unwrap();
        let bytes: std::vec::Vec<u8> =
            buffer.msg[..3].iter().flat_map(|word| word.to_ne_bytes()).collect();
        assert_eq!(&bytes[..15], b"binding-server\0");
        // A name of exactly 8 bytes still gets its NUL in the next word.
        buffer.msg.fill(u64::MAX);
        buffer.write_c_string("12345678").unwrap();
        assert_eq!(buffer.msg[1], 0);
        assert_eq!(
            buffer.write_c_string(&"x".repeat(960)),
            Err(NameError::TooLong { length: 960 })
        );
        assert!(buffer.write_c_string(&"x".repeat(959)).is_ok());
        assert_eq!(buffer.write_c_string("a\0b"), Err(NameError::ContainsNul));
    }
}
