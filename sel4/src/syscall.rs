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

// A `Call` whose `syscall` instruction has a global label (see `call_at_known_site`).
// extern "C" fn(cap: u64, info: u64, buffer: *mut IpcBuffer) -> u64 (the reply's info): the
// four register message words come from and go back to the IPC buffer's `msg[0..4]` (byte
// offsets 8 to 32, see `IpcBuffer`'s layout checks). rbx and r15 are callee-saved in the
// System V ABI: saved on the stack; rsp is parked in rbx across the instruction (the kernel
// does not keep it).
core::arch::global_asm!(
    ".global switchboard_sel4_known_call",
    ".global switchboard_sel4_known_call_site",
    "switchboard_sel4_known_call:",
    "    push rbx",
    "    push r15",
    "    push rdx",
    "    mov r10, [rdx + 8]",
    "    mov r8, [rdx + 16]",
    "    mov r9, [rdx + 24]",
    "    mov r15, [rdx + 32]",
    "    mov rdx, -1",
    "    mov rbx, rsp",
    "switchboard_sel4_known_call_site:",
    "    syscall",
    "    mov rsp, rbx",
    "    pop rax",
    "    mov [rax + 8], r10",
    "    mov [rax + 16], r8",
    "    mov [rax + 24], r9",
    "    mov [rax + 32], r15",
    "    mov rax, rsi",
    "    pop r15",
    "    pop rbx",
    "    ret",
);

unsafe extern "C" {
    fn switchboard_sel4_known_call(
        cap: u64,
        info: u64,
        buffer: *mut crate::ipc_buffer::IpcBuffer,
    ) -> u64;
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
pub fn call_at_known_site(cap: u64, info: u64, buffer: &mut crate::ipc_buffer::IpcBuffer) -> u64 {
    // SAFETY: the asm reads and writes the four register message words of the IPC buffer
    // `buffer` points to (valid, exclusively borrowed), saves and restores the callee-saved
    // registers it uses and leaves the stack as it found it; the kernel may write the rest
    // of the buffer, which is handed over so that the compiler treats it as written.
    unsafe { switchboard_sel4_known_call(cap, info, core::ptr::from_mut(buffer)) }
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
