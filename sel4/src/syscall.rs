//! The raw `syscall` instruction and seL4's x86_64 register convention.
//!
//! rdx carries the syscall number; rdi the capability (the badge on return); rsi the message
//! info; r10, r8, r9 and r15 the first four message registers. The kernel does not keep the
//! user stack pointer across the instruction, so it is parked in rbx (which the kernel does
//! keep), and rbx itself, reserved by LLVM, is parked in r12 (also kept by the kernel).

/// Syscall numbers common to every seL4 version we support.
pub mod number {
    pub const CALL: i64 = -1;
    pub const REPLY_RECV: i64 = -2;
    pub const SEND: i64 = -3;
    pub const NB_SEND: i64 = -4;
    pub const RECV: i64 = -5;
    pub const REPLY: i64 = -6;
    pub const YIELD: i64 = -7;
    pub const NB_RECV: i64 = -8;
}

/// The number of message registers passed in CPU registers.
pub const REGISTER_MESSAGE_WORDS: usize = 4;

/// The registers a system call reads and writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Registers {
    /// The capability invoked, or on return the sender's badge.
    pub cap_or_badge: u64,
    /// The message info word.
    pub info: u64,
    /// Message registers 0 to 3.
    pub message: [u64; REGISTER_MESSAGE_WORDS],
}

/// Performs system call `number` with `registers`, and returns what the kernel left in them.
/// For the calls that read or write the caller's IPC buffer, use [`syscall_with_buffer`].
#[inline(always)]
pub fn syscall(number: i64, registers: Registers) -> Registers {
    syscall_with_buffer(number, registers, core::ptr::null_mut())
}

/// Performs system call `number` with `registers`; the kernel may read and write the calling
/// thread's IPC buffer, which `buffer` points to (handing the pointer to the asm tells the
/// compiler that memory behind it may change).
#[inline(always)]
pub fn syscall_with_buffer(
    number: i64,
    registers: Registers,
    buffer: *mut crate::ipc_buffer::IpcBuffer,
) -> Registers {
    let mut out = registers;
    // SAFETY: the asm only moves rsp through rbx around `syscall` and puts both back; every
    // register the kernel may change is declared as an output or clobber. It does not touch
    // the stack. The kernel may write memory we gave it (the IPC buffer, passed in rax so
    // that it counts as exposed to the asm), so memory is not declared untouched.
    unsafe {
        core::arch::asm!(
            "mov r12, rbx",
            "mov rbx, rsp",
            "syscall",
            "mov rsp, rbx",
            "mov rbx, r12",
            inout("rdx") number => _,
            inout("rdi") out.cap_or_badge,
            inout("rsi") out.info,
            inout("r10") out.message[0],
            inout("r8") out.message[1],
            inout("r9") out.message[2],
            inout("r15") out.message[3],
            inout("rax") buffer => _,
            out("r12") _,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    out
}

/// [`syscall_with_buffer`] of the message `info` describes, its words in `buffer`: the
/// message registers go from the buffer to the registers and back. A message of at most
/// one word loads only the first (seL4 reads only the message registers the info's length
/// covers: `fastpath_copy_mrs` and `copyMRs` in seL4 5.0.0's `src/fastpath/fastpath.c` and
/// `src/kernel/thread.c`); so after the call the buffer's words past the length of what
/// came back are unspecified (they were before too, as far as the kernel is concerned).
/// Returns the received info word and badge.
#[inline(always)]
pub fn syscall_with_buffer_words(
    number: i64,
    cap: u64,
    info: u64,
    buffer: &mut crate::ipc_buffer::IpcBuffer,
) -> (u64, u64) {
    let mut message = [0; REGISTER_MESSAGE_WORDS];
    let (mut info, mut cap) = (info, cap);
    if info & 0x7F <= 1 {
        message[0] = buffer.msg()[0];
        let pointer = core::ptr::from_mut(buffer);
        // SAFETY: as in `syscall_with_buffer`; the registers that carry no word going in are
        // outputs only.
        unsafe {
            core::arch::asm!(
                "mov r12, rbx",
                "mov rbx, rsp",
                "syscall",
                "mov rsp, rbx",
                "mov rbx, r12",
                inout("rdx") number => _,
                inout("rdi") cap,
                inout("rsi") info,
                inout("r10") message[0],
                out("r8") message[1],
                out("r9") message[2],
                out("r15") message[3],
                inout("rax") pointer => _,
                out("r12") _,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        buffer.msg_mut()[..REGISTER_MESSAGE_WORDS].copy_from_slice(&message);
        return (info, cap);
    }
    message.copy_from_slice(&buffer.msg()[..REGISTER_MESSAGE_WORDS]);
    let registers = Registers { cap_or_badge: cap, info, message };
    let out = syscall_with_buffer(number, registers, core::ptr::from_mut(buffer));
    buffer.msg_mut()[..REGISTER_MESSAGE_WORDS].copy_from_slice(&out.message);
    cap = out.cap_or_badge;
    info = out.info;
    (info, cap)
}

// The one `syscall` instruction of every `Call` at the known site (see
// `call_at_known_site`), in a function of its own so that it has one address however many
// callers inline the call. Its convention is the system call's, not the C ABI's: the
// caller (the asm of `call_at_known_site`) has put the number, capability, info and four
// message registers in their registers and parked rbx in r12; this parks rsp in rbx (the
// kernel does not keep rsp; the return address `call` pushed is below it) and returns with
// the kernel's registers as they are. A call the memory manager cancels at its deadline
// resumes right after the `syscall` instruction, at the `mov rsp, rbx`, as if it had
// returned (with the info word it wrote in rsi).
core::arch::global_asm!(
    ".global switchboard_sel4_known_call",
    ".global switchboard_sel4_known_call_site",
    "switchboard_sel4_known_call:",
    "    mov rbx, rsp",
    "switchboard_sel4_known_call_site:",
    "    syscall",
    "    mov rsp, rbx",
    "    ret",
);

unsafe extern "C" {
    /// Not a C function: see the global asm above (only `call`ed from asm).
    fn switchboard_sel4_known_call();
    /// The address of the `syscall` instruction of `switchboard_sel4_known_call`.
    static switchboard_sel4_known_call_site: u8;
}

/// A `Call` of `cap` with message `info`, its words in `buffer`, whose `syscall`
/// instruction has a known address, [`known_call_site`]: there is one copy of it in the
/// whole program, so that another thread holding this thread's TCB can tell from the
/// thread's registers that it waits in this call (a thread stopped in a system call has its
/// instruction pointer at the `syscall` instruction). The memory manager uses it to cancel a
/// realm's call at its deadline (`ipc::abi::control`). Returns the reply's info word; the
/// reply's words are in `buffer`.
///
/// Inlined into its caller except for the instruction itself: the same register moves as
/// [`syscall_with_buffer`] (the first four message words between the buffer and the
/// registers), plus a `call` and a `ret` around the `syscall` instruction (and rbx's parking
/// moved into the callee). That is two instructions more than an ordinary `Call`
/// (`crate::ipc::call`).
///
/// Like [`syscall_with_buffer_words`], it loads only the message registers the request
/// uses; after it, the buffer's words past the reply's length are unspecified.
#[inline(always)]
pub fn call_at_known_site(cap: u64, info: u64, buffer: &mut crate::ipc_buffer::IpcBuffer) -> u64 {
    let mut message = [0; REGISTER_MESSAGE_WORDS];
    let mut info = info;
    if info & 0x7F <= 1 {
        message[0] = buffer.msg()[0];
        let pointer = core::ptr::from_mut(buffer);
        // SAFETY: as below; the kernel reads only the message registers the info's length
        // covers (`r10` here), so the others need no value going in.
        unsafe {
            core::arch::asm!(
                "mov r12, rbx",
                "call {site}",
                "mov rbx, r12",
                site = sym switchboard_sel4_known_call,
                inout("rdx") number::CALL => _,
                inout("rdi") cap => _,
                inout("rsi") info,
                inout("r10") message[0],
                out("r8") message[1],
                out("r9") message[2],
                out("r15") message[3],
                inout("rax") pointer => _,
                out("r12") _,
                lateout("rcx") _,
                lateout("r11") _,
            );
        }
        buffer.msg_mut()[..REGISTER_MESSAGE_WORDS].copy_from_slice(&message);
        return info;
    }
    message.copy_from_slice(&buffer.msg()[..REGISTER_MESSAGE_WORDS]);
    let pointer = core::ptr::from_mut(buffer);
    // SAFETY: the asm parks rbx (reserved by LLVM) in r12 around a `call` of the function
    // above, which parks rsp in rbx around `syscall` and puts it back before `ret`: the stack
    // is as it was (the `call` pushes the return address below rsp; the target has no red
    // zone). Every register the kernel may change is declared as an output or clobber. The
    // kernel may write the IPC buffer (handed over in rax, so that it counts as exposed to
    // the asm), so memory is not declared untouched.
    unsafe {
        core::arch::asm!(
            "mov r12, rbx",
            "call {site}",
            "mov rbx, r12",
            site = sym switchboard_sel4_known_call,
            inout("rdx") number::CALL => _,
            inout("rdi") cap => _,
            inout("rsi") info,
            inout("r10") message[0],
            inout("r8") message[1],
            inout("r9") message[2],
            inout("r15") message[3],
            inout("rax") pointer => _,
            out("r12") _,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    buffer.msg_mut()[..REGISTER_MESSAGE_WORDS].copy_from_slice(&message);
    info
}

/// The address of the `syscall` instruction of [`call_at_known_site`]. The instruction is
/// [`SYSCALL_INSTRUCTION_BYTES`] long: a thread resumed with its instruction pointer past it
/// continues as if the call had returned.
pub fn known_call_site() -> u64 {
    // Only the label's address is taken; nothing is read through it.
    (&raw const switchboard_sel4_known_call_site) as u64
}

/// The length of the `syscall` instruction (`0f 05`) in bytes.
pub const SYSCALL_INSTRUCTION_BYTES: u64 = 2;
