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
