//! The test's other threads, all in the root task's address space and CSpace: how they are
//! started (a TCB, an IPC buffer frame mapped for them alone, a static stack, registers
//! pointing at [`thread_start`]) and what each role does. Roles learn their capabilities
//! from the atomics below, which the root task sets before starting them.

use core::ops::Range;
use core::sync::atomic::{AtomicU64, Ordering};

use sel4::cap::tcb::{IpcBufferFrame, TcbConfig};
use sel4::cap::vspace::VmAttributes;
use sel4::cap::{Cap, Endpoint, Frame, Notification, ObjectType, Reply, Rights, Tcb, init};
use sel4::debug::{self, CapType};
use sel4::ipc::{self, Received};
use sel4::kernel::UserContext;
use sel4::syscall::{self, Registers};
use sel4::{IpcBuffer, MessageInfo};

use crate::Root;

/// Thread `i`'s IPC buffer is the page at `IPC_BUFFERS + i * PAGE_BYTES` (one page table covers
/// them).
pub const IPC_BUFFERS: u64 = 0x1000_0000;
use sel4::kernel::PAGE_BYTES;
const MAX_THREADS: usize = 6;
/// A page under the same page table, after every thread's buffer, for SetIPCBuffer.
pub const SPARE_IPC_BUFFER: u64 = IPC_BUFFERS + MAX_THREADS as u64 * PAGE_BYTES;
const STACK_BYTES: usize = 32 * 1024;

#[repr(C, align(16))]
struct Stack([u8; STACK_BYTES]);

/// One stack per thread; only that thread touches it, through its stack pointer.
static mut STACKS: [Stack; MAX_THREADS] = [const { Stack([0; STACK_BYTES]) }; MAX_THREADS];

pub const ROLE_SERVER: u64 = 1;
pub const ROLE_WORKER: u64 = 2;
pub const ROLE_SPINNER: u64 = 3;
pub const ROLE_SENDER: u64 = 4;
pub const ROLE_FAULT_READ: u64 = 10;
pub const ROLE_FAULT_READ_HIGH: u64 = 11;
pub const ROLE_FAULT_CAP_SEND: u64 = 12;
pub const ROLE_FAULT_CAP_RECV: u64 = 13;
pub const ROLE_FAULT_CHAIN: u64 = 14;

/// An address nothing maps (below the root task's image).
pub const UNMAPPED: u64 = 0x1000;
/// An unmapped address above 4 GiB whose low 32 bits are [`UNMAPPED`].
pub const UNMAPPED_HIGH: u64 = 0x1_0000_1000;
/// A CPtr whose high bits do not match the root CNode's guard: no slot at all.
pub const UNRESOLVABLE_CPTR: u64 = 1 << 40;
/// Syscall numbers the kernel does not know: the first is emulated by the fault handler, the
/// second marks the end of the fault chain.
pub const EMULATED_SYSCALL: i64 = 100;
pub const CHAIN_DONE_SYSCALL: i64 = 101;

// What the server answers to each request label.
pub const ECHO: u64 = 1;
pub const ECHO_VIA_REPLY: u64 = 2;
pub const WHO: u64 = 3;
pub const TAKE_CAP: u64 = 4;
pub const SAVE_REPLY: u64 = 5;
pub const STATS: u64 = 6;
pub const SET_OWN_PRIORITY: u64 = 7;
pub const ONE_WAY: u64 = 8;
pub const UNKNOWN_REQUEST: u64 = 0xbad;
/// Badges with this bit come from the server's bound notification, not a client.
pub const SIGNAL_BADGE_BIT: u64 = 1 << 20;
/// What the server sends back through a saved reply capability.
pub const SAVED_REPLY_MARK: u64 = 0x5a5e;

pub static SERVER_ENDPOINT: AtomicU64 = AtomicU64::new(0);
pub static SERVER_TCB: AtomicU64 = AtomicU64::new(0);
pub static SERVER_RECEIVE_SLOT: AtomicU64 = AtomicU64::new(0);
pub static SERVER_REPLY_SLOT: AtomicU64 = AtomicU64::new(0);
pub static WORKER_NOTIFICATION: AtomicU64 = AtomicU64::new(0);
pub static WORKER_COUNT: AtomicU64 = AtomicU64::new(0);
pub static SPIN_COUNT: AtomicU64 = AtomicU64::new(0);
pub static SENDER_CAP: AtomicU64 = AtomicU64::new(0);
pub static SENDER_DONE: AtomicU64 = AtomicU64::new(0);
pub static SENDER_TCB: AtomicU64 = AtomicU64::new(0);
/// `SENDER_RETURNED | label` once the sender's Call returned.
pub static SENDER_RESULT: AtomicU64 = AtomicU64::new(0);
pub const SENDER_RETURNED: u64 = 1 << 32;
/// Message register 0 as the faulting thread saw it after its emulated syscall.
pub static CHAIN_SYSCALL_RESULT: AtomicU64 = AtomicU64::new(0);
/// Set once the faulting thread ran past its `ud2`.
pub static CHAIN_PAST_UD2: AtomicU64 = AtomicU64::new(0);

pub fn load(cell: &AtomicU64) -> u64 {
    cell.load(Ordering::SeqCst)
}

pub fn store(cell: &AtomicU64, value: u64) {
    cell.store(value, Ordering::SeqCst);
}

/// A started thread.
#[derive(Clone, Copy, Debug)]
pub struct Thread {
    pub tcb: Tcb,
    index: usize,
    pub ipc_buffer: u64,
}

impl Thread {
    /// The thread's stack.
    pub fn stack(&self) -> Range<u64> {
        let base = (&raw const STACKS) as u64 + (self.index * STACK_BYTES) as u64;
        base..base + STACK_BYTES as u64
    }

    /// Registers that (re)start the thread at [`thread_start`] in `role`, on an empty stack.
    pub fn start_context(&self, role: u64) -> UserContext {
        UserContext::function_call(
            thread_start as *const () as u64,
            self.stack().end,
            [self.ipc_buffer, role],
        )
    }
}

/// Makes a thread in the root task's CSpace and VSpace and starts it in `role`: a new TCB,
/// a new frame mapped as its IPC buffer, its own stack, the priority (also its maximum
/// controlled priority) and fault endpoint given.
pub fn spawn(
    root: &mut Root,
    name: &str,
    role: u64,
    priority: u8,
    fault_endpoint: Option<Endpoint>,
) -> Thread {
    let index = root.threads_started;
    assert!(index < MAX_THREADS, "more than {MAX_THREADS} threads");
    root.threads_started += 1;

    let tcb: Tcb = root.make(ObjectType::Tcb);
    let frame: Frame = root.make(ObjectType::Frame);
    let ipc_buffer = IPC_BUFFERS + index as u64 * PAGE_BYTES;
    frame
        .map(root.ipc, init::VSPACE, ipc_buffer, Rights::READ_WRITE, VmAttributes::DEFAULT)
        .unwrap_or_else(|error| panic!("mapping {name}'s IPC buffer: {error}"));
    let config = TcbConfig {
        fault_endpoint,
        priority,
        max_controlled_priority: priority,
        cspace_root: init::CNODE,
        cspace_root_guard: None,
        vspace_root: init::VSPACE,
        ipc_buffer: Some(IpcBufferFrame { address: ipc_buffer, frame }),
    };
    tcb.configure(root.ipc, &config).unwrap_or_else(|error| panic!("configuring {name}: {error}"));
    debug::name_thread(root.ipc, tcb, name)
        .unwrap_or_else(|error| panic!("naming {name}: {error:?}"));
    let thread = Thread { tcb, index, ipc_buffer };
    tcb.write_registers(root.ipc, false, &thread.start_context(role))
        .unwrap_or_else(|error| panic!("setting {name}'s registers: {error}"));
    tcb.resume().unwrap_or_else(|error| panic!("resuming {name}: {error}"));
    thread
}

/// Where every thread starts: `spawn` (or a restart through WriteRegisters) puts the
/// address of its IPC buffer and its role in the first two argument registers.
extern "C" fn thread_start(ipc_buffer: usize, role: u64) -> ! {
    // SAFETY: thread entry code. `spawn` mapped a fresh frame at `ipc_buffer` for this thread
    // alone and registered it as this thread's IPC buffer with TCB_Configure. Nothing else
    // reads or writes it; a thread restarted here by WriteRegisters never returns to the
    // frames that held its earlier reference.
    let ipc = unsafe { IpcBuffer::from_address(ipc_buffer) }
        .unwrap_or_else(|| panic!("thread IPC buffer {ipc_buffer:#x} is not usable"));
    match role {
        ROLE_SERVER => server(ipc),
        ROLE_WORKER => worker(),
        ROLE_SPINNER => spinner(),
        ROLE_SENDER => sender(ipc),
        ROLE_FAULT_READ => read_and_fault(UNMAPPED),
        ROLE_FAULT_READ_HIGH => read_and_fault(UNMAPPED_HIGH),
        ROLE_FAULT_CAP_SEND => {
            let nowhere: Endpoint = Cap::from_cptr(UNRESOLVABLE_CPTR);
            nowhere.send(ipc, MessageInfo::from_word(0));
            panic!("a send to an unresolvable CPtr returned instead of faulting")
        }
        ROLE_FAULT_CAP_RECV => {
            let nowhere: Endpoint = Cap::from_cptr(UNRESOLVABLE_CPTR);
            nowhere.recv(ipc);
            panic!("a receive on an unresolvable CPtr returned instead of faulting")
        }
        ROLE_FAULT_CHAIN => fault_chain(),
        other => panic!("thread started with unknown role {other}"),
    }
}

/// How the server answers a message.
enum Answer {
    /// Reply and wait in one syscall.
    ReplyRecv(MessageInfo),
    /// The Reply syscall, then a separate Recv.
    Reply(MessageInfo),
    /// No reply (a one-way message, a signal, or a reply already sent another way).
    Nothing,
}

/// What the server remembers between messages.
#[derive(Default)]
struct ServerState {
    one_way_messages: u64,
    last_signal: u64,
}

/// Serves requests on its endpoint forever.
fn server(ipc: &mut IpcBuffer) -> ! {
    let endpoint: Endpoint = Cap::from_cptr(load(&SERVER_ENDPOINT));
    ipc.set_receive_slot(init::CNODE.slot(load(&SERVER_RECEIVE_SLOT)));
    let mut state = ServerState::default();
    let mut received = endpoint.recv(ipc);
    loop {
        received = match serve(ipc, &mut state, received) {
            Answer::ReplyRecv(info) => endpoint.reply_recv(ipc, info),
            Answer::Reply(info) => {
                ipc::reply(ipc, info);
                endpoint.recv(ipc)
            }
            Answer::Nothing => endpoint.recv(ipc),
        };
    }
}

fn answer(ipc: &mut IpcBuffer, label: u64, words: &[u64]) -> Answer {
    let info = ipc
        .set_message(label, words, &[])
        .unwrap_or_else(|error| panic!("server: answer too long: {error:?}"));
    Answer::ReplyRecv(info)
}

fn serve(ipc: &mut IpcBuffer, state: &mut ServerState, received: Received) -> Answer {
    if received.badge & SIGNAL_BADGE_BIT != 0 {
        state.last_signal = received.badge;
        return Answer::Nothing;
    }
    let request = received.info;
    match request.label() {
        ECHO | ECHO_VIA_REPLY => {
            let length = request.length();
            for word in &mut ipc.msg_mut()[..length] {
                *word = !*word;
            }
            let info = MessageInfo::new(request.label(), 0, length)
                .unwrap_or_else(|error| panic!("server: echo of {length} words: {error:?}"));
            if request.label() == ECHO { Answer::ReplyRecv(info) } else { Answer::Reply(info) }
        }
        WHO => answer(ipc, WHO, &[received.badge]),
        TAKE_CAP => take_cap(ipc, request),
        SAVE_REPLY => {
            let slot = load(&SERVER_REPLY_SLOT);
            init::CNODE
                .slot(slot)
                .save_caller()
                .unwrap_or_else(|error| panic!("server: SaveCaller: {error}"));
            let saved = (debug::cap_identify(slot) == CapType::Reply) as u64;
            let info = ipc
                .set_message(SAVE_REPLY, &[SAVED_REPLY_MARK, saved], &[])
                .unwrap_or_else(|error| panic!("server: {error:?}"));
            let reply: Reply = Cap::from_cptr(slot);
            reply.send(ipc, info);
            Answer::Nothing
        }
        STATS => {
            let words = [state.one_way_messages, state.last_signal];
            answer(ipc, STATS, &words)
        }
        SET_OWN_PRIORITY => {
            let priority = ipc.msg()[0] as u8;
            let own: Tcb = Cap::from_cptr(load(&SERVER_TCB));
            let code = match own.set_priority(priority) {
                Ok(()) => 0,
                Err(error) => error.code(),
            };
            answer(ipc, SET_OWN_PRIORITY, &[code])
        }
        ONE_WAY => {
            state.one_way_messages += 1;
            Answer::Nothing
        }
        _ => answer(ipc, UNKNOWN_REQUEST, &[]),
    }
}

/// Reports what arrived with the message: [extra caps, unwrapped mask, badge 0, 1 if the
/// receive slot holds a notification]. A received notification is signalled, and the receive
/// slot emptied for the next transfer.
fn take_cap(ipc: &mut IpcBuffer, request: MessageInfo) -> Answer {
    let slot = load(&SERVER_RECEIVE_SLOT);
    let received = debug::cap_identify(slot);
    let words = [
        request.extra_caps() as u64,
        request.caps_unwrapped(),
        ipc.caps_or_badges()[0],
        (received == CapType::Notification) as u64,
    ];
    if received == CapType::Notification {
        let notification: Notification = Cap::from_cptr(slot);
        notification.signal();
    }
    if received != CapType::Null {
        init::CNODE
            .slot(slot)
            .delete()
            .unwrap_or_else(|error| panic!("server: emptying the receive slot: {error}"));
    }
    answer(ipc, TAKE_CAP, &words)
}

/// Counts the signals on its notification.
fn worker() -> ! {
    let notification: Notification = Cap::from_cptr(load(&WORKER_NOTIFICATION));
    loop {
        notification.wait();
        WORKER_COUNT.fetch_add(1, Ordering::SeqCst);
    }
}

/// Counts and yields, forever.
fn spinner() -> ! {
    loop {
        SPIN_COUNT.fetch_add(1, Ordering::SeqCst);
        ipc::yield_now();
    }
}

/// Calls through its capability, records what the Call returned, signals, and stops.
fn sender(ipc: &mut IpcBuffer) -> ! {
    let endpoint: Endpoint = Cap::from_cptr(load(&SENDER_CAP));
    let info = endpoint.call(ipc, MessageInfo::from_word(77 << 12));
    store(&SENDER_RESULT, SENDER_RETURNED | info.label());
    let done: Notification = Cap::from_cptr(load(&SENDER_DONE));
    done.signal();
    stop_self(&SENDER_TCB)
}

/// Suspends the calling thread, whose TCB capability is in `tcb`.
fn stop_self(tcb: &AtomicU64) -> ! {
    let own: Tcb = Cap::from_cptr(load(tcb));
    let result = own.suspend();
    panic!("thread ran on after suspending itself ({result:?})")
}

/// Reads `address`, where nothing is mapped: the thread faults there and is never resumed
/// at this instruction.
fn read_and_fault(address: u64) -> ! {
    let pointer = core::hint::black_box(address) as *const u64;
    // SAFETY: deliberately unsound, like `tests/probes/fault`: nothing is mapped at `address`,
    // so the kernel stops the thread at this read and hands the fault to the root task, which
    // restarts the thread elsewhere. No value is ever produced.
    let value = unsafe { core::ptr::read_volatile(pointer) };
    panic!("reading {address:#x} returned {value:#x} instead of faulting")
}

/// Three faults the handler resumes from: an unknown syscall (the handler answers it by
/// setting message register 0 and skipping the instruction), an invalid opcode (skipped), and
/// a last unknown syscall that tells the handler the chain ran to its end.
fn fault_chain() -> ! {
    let emulated = syscall::syscall(
        EMULATED_SYSCALL,
        Registers { cap_or_badge: 0xabc, info: 0, message: [11, 22, 33, 44] },
    );
    store(&CHAIN_SYSCALL_RESULT, emulated.message[0]);
    // SAFETY: `ud2` only raises an invalid-opcode exception; the fault handler (the root task)
    // resumes this thread right after it with the registers it had, so to the code here the
    // instruction does nothing.
    unsafe { core::arch::asm!("ud2", options(nomem, nostack)) };
    store(&CHAIN_PAST_UD2, 1);
    syscall::syscall(CHAIN_DONE_SYSCALL, Registers::default());
    panic!("the fault handler resumed the chain after its last fault")
}
