//! Faults as a fault handler receives them: the kernel turns a thread's fault into a message
//! on the thread's fault endpoint, labelled with the fault type, with the fault's fields as
//! message words. [`Fault::decode`] turns that message back into a typed value.
//!
//! Word layouts (x86_64, the same for 5.0.0 and later kernels): cap fault: ip, address,
//! in-receive-phase, lookup-failure type (1 + the kernel's), then up to three words of the
//! lookup failure; unknown syscall: rax, rbx, rcx, rdx, rsi, rdi, rbp, r8..r15, ip, sp, flags,
//! syscall number; user exception: ip, sp, flags, exception number, error code; VM fault: ip,
//! address, prefetch (1 for an instruction fetch), fault status (the x86 page-fault error
//! code). The labels are version-specific (`kernel::fault_label`).
//!
//! On 5.0.0 the address of a VM fault is truncated to its low 32 bits by the kernel
//! (`handleVMFault` keeps it in a `uint32_t`), and `prefetch` is the error code's
//! instruction-fetch bit, which the CPU sets only with NX enabled: 5.0.0 does not enable NX,
//! so a jump to an unmapped address arrives as `prefetch: false` with `ip == address`.
//!
//! Replying to a fault restarts the thread (a cap fault or VM fault retries the instruction).
//! A reply to an unknown-syscall or user-exception fault may carry new register values first:
//! see [`syscall_fault_reply`] and [`exception_reply`].

use crate::kernel::fault_label;
use crate::message::MessageInfo;

/// Why a capability lookup failed (`seL4_LookupFailureType` and its fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupFailure {
    /// The CSpace root is not a CNode.
    InvalidRoot,
    /// The slot is empty (or the capability lacks a needed right).
    MissingCapability { bits_left: u64 },
    /// The CPtr's depth does not end at a slot.
    DepthMismatch { bits_left: u64, bits_found: u64 },
    /// A CNode's guard did not match the CPtr's bits.
    GuardMismatch { bits_left: u64, guard_found: u64, bits_found: u64 },
}

impl core::fmt::Display for LookupFailure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            LookupFailure::InvalidRoot => f.write_str("the CSpace root is not a CNode"),
            LookupFailure::MissingCapability { bits_left } => write!(
                f,
                "no capability there (or it lacks a right), {bits_left} bits of the address left"
            ),
            LookupFailure::DepthMismatch { bits_left, bits_found } => write!(
                f,
                "the address does not end at a slot: {bits_left} bits left, a CNode of \
                 {bits_found} bits found"
            ),
            LookupFailure::GuardMismatch { bits_left, guard_found, bits_found } => write!(
                f,
                "a CNode's guard does not match: guard {guard_found:#x} of {bits_found} bits \
                 found, {bits_left} bits of the address left"
            ),
        }
    }
}

/// The general registers of a thread at an unknown syscall, as the fault message has them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyscallRegisters {
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rbp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
}

/// A fault, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A capability the thread used (or its fault endpoint) could not be looked up.
    CapFault {
        ip: u64,
        /// The CPtr that failed.
        address: u64,
        /// The failure was in the receive phase of a syscall (a Recv's endpoint).
        in_receive_phase: bool,
        lookup_failure: LookupFailure,
    },
    /// The thread executed `syscall` with a number the kernel does not know. `ip` is the
    /// address of the `syscall` instruction.
    UnknownSyscall { ip: u64, sp: u64, flags: u64, syscall: u64, registers: SyscallRegisters },
    /// A processor exception (invalid opcode, divide error, general protection, ...).
    UserException {
        ip: u64,
        sp: u64,
        flags: u64,
        /// The x86 exception vector (6: invalid opcode, 13: general protection, ...).
        number: u64,
        code: u64,
    },
    /// A page fault.
    VmFault {
        ip: u64,
        address: u64,
        /// An instruction fetch rather than a data access (see the module doc: always false
        /// on 5.0.0).
        prefetch: bool,
        /// The x86 page-fault error code (bit 0 present, 1 write, 2 user, 4 fetch).
        fsr: u64,
    },
}

/// Why a message is not a fault this binding can decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultDecodeError {
    /// The label is not a fault type (it may be an ordinary message).
    NotAFault { label: u64 },
    /// Fewer words than this fault type carries.
    Truncated { label: u64, length: usize, needed: usize },
    /// A cap fault with a lookup failure type the binding does not know.
    UnknownLookupFailure { kind: u64 },
}

impl core::fmt::Display for FaultDecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotAFault { label } => write!(f, "label {label} is not a fault type"),
            Self::Truncated { label, length, needed } => {
                write!(f, "a fault of type {label} needs {needed} message words and has {length}")
            }
            Self::UnknownLookupFailure { kind } => {
                write!(f, "a capability fault with unknown lookup failure type {kind}")
            }
        }
    }
}

/// The words of each fault message.
pub const VM_FAULT_WORDS: usize = 4;
pub const USER_EXCEPTION_WORDS: usize = 5;
pub const UNKNOWN_SYSCALL_WORDS: usize = 19;
/// A cap fault carries at least ip, address, receive phase and lookup failure type.
pub const CAP_FAULT_MIN_WORDS: usize = 4;

impl Fault {
    /// Decodes the message `info` describes, whose words are `message` (at least
    /// `info.length()` of them, as [`crate::IpcBuffer::message`] gives).
    pub fn decode(info: MessageInfo, message: &[u64]) -> Result<Fault, FaultDecodeError> {
        let label = info.label();
        let length = info.length().min(message.len());
        let words = message.get(..length).unwrap_or(message);
        let truncated = |needed: usize| FaultDecodeError::Truncated { label, length, needed };
        match label {
            fault_label::VM_FAULT => {
                let [ip, address, prefetch, fsr, ..] = *words else {
                    return Err(truncated(VM_FAULT_WORDS));
                };
                Ok(Fault::VmFault { ip, address, prefetch: prefetch != 0, fsr })
            }
            fault_label::USER_EXCEPTION => {
                let [ip, sp, flags, number, code, ..] = *words else {
                    return Err(truncated(USER_EXCEPTION_WORDS));
                };
                Ok(Fault::UserException { ip, sp, flags, number, code })
            }
            fault_label::UNKNOWN_SYSCALL => {
                let [
                    rax,
                    rbx,
                    rcx,
                    rdx,
                    rsi,
                    rdi,
                    rbp,
                    r8,
                    r9,
                    r10,
                    r11,
                    r12,
                    r13,
                    r14,
                    r15,
                    ip,
                    sp,
                    flags,
                    syscall,
                    ..,
                ] = *words
                else {
                    return Err(truncated(UNKNOWN_SYSCALL_WORDS));
                };
                Ok(Fault::UnknownSyscall {
                    registers: SyscallRegisters {
                        rax,
                        rbx,
                        rcx,
                        rdx,
                        rsi,
                        rdi,
                        rbp,
                        r8,
                        r9,
                        r10,
                        r11,
                        r12,
                        r13,
                        r14,
                        r15,
                    },
                    ip,
                    sp,
                    flags,
                    syscall,
                })
            }
            fault_label::CAP_FAULT => {
                let [ip, address, in_receive_phase, kind, ref fields @ ..] = *words else {
                    return Err(truncated(CAP_FAULT_MIN_WORDS));
                };
                let lookup_failure =
                    decode_lookup_failure(kind, fields).map_err(|error| match error {
                        LookupDecodeError::Unknown(kind) => {
                            FaultDecodeError::UnknownLookupFailure { kind }
                        }
                        LookupDecodeError::Truncated(needed) => {
                            truncated(CAP_FAULT_MIN_WORDS + needed)
                        }
                    })?;
                Ok(Fault::CapFault {
                    ip,
                    address,
                    in_receive_phase: in_receive_phase != 0,
                    lookup_failure,
                })
            }
            _ => Err(FaultDecodeError::NotAFault { label }),
        }
    }

    /// The instruction address the fault happened at.
    pub const fn ip(&self) -> u64 {
        match *self {
            Fault::CapFault { ip, .. }
            | Fault::UnknownSyscall { ip, .. }
            | Fault::UserException { ip, .. }
            | Fault::VmFault { ip, .. } => ip,
        }
    }
}

enum LookupDecodeError {
    Unknown(u64),
    /// The number of lookup-failure words needed.
    Truncated(usize),
}

/// Decodes a lookup failure: `kind` is 1 + the kernel's type (0 would be "no failure"), and
/// `fields` the words after it.
fn decode_lookup_failure(kind: u64, fields: &[u64]) -> Result<LookupFailure, LookupDecodeError> {
    let needed = match kind {
        1 => 0,
        2 => 1,
        3 => 2,
        4 => 3,
        other => return Err(LookupDecodeError::Unknown(other)),
    };
    let truncated = LookupDecodeError::Truncated(needed);
    Ok(match (kind, fields) {
        (1, _) => LookupFailure::InvalidRoot,
        (2, [bits_left, ..]) => LookupFailure::MissingCapability { bits_left: *bits_left },
        (3, [bits_left, bits_found, ..]) => {
            LookupFailure::DepthMismatch { bits_left: *bits_left, bits_found: *bits_found }
        }
        (4, [bits_left, guard_found, bits_found, ..]) => LookupFailure::GuardMismatch {
            bits_left: *bits_left,
            guard_found: *guard_found,
            bits_found: *bits_found,
        },
        _ => return Err(truncated),
    })
}

/// The words of a reply that resumes a thread stopped at an unknown syscall with these
/// registers (label 0; the kernel sets rax..r15, then ip, sp and flags, in that order).
/// To continue after the `syscall` instruction, pass its `ip + 2`.
pub const fn syscall_fault_reply(
    registers: &SyscallRegisters,
    ip: u64,
    sp: u64,
    flags: u64,
) -> [u64; UNKNOWN_SYSCALL_WORDS - 1] {
    [
        registers.rax,
        registers.rbx,
        registers.rcx,
        registers.rdx,
        registers.rsi,
        registers.rdi,
        registers.rbp,
        registers.r8,
        registers.r9,
        registers.r10,
        registers.r11,
        registers.r12,
        registers.r13,
        registers.r14,
        registers.r15,
        ip,
        sp,
        flags,
    ]
}

/// The words of a reply that resumes a thread stopped by a user exception at `ip` with
/// stack pointer `sp` and `flags` (label 0).
pub const fn exception_reply(ip: u64, sp: u64, flags: u64) -> [u64; 3] {
    [ip, sp, flags]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(label: u64, length: usize) -> MessageInfo {
        MessageInfo::new(label, 0, length).unwrap()
    }

    #[test]
    fn vm_faults() {
        let fault = Fault::decode(info(5, 4), &[0x401234, 0x1000, 0, 4]).unwrap();
        assert_eq!(
            fault,
            Fault::VmFault { ip: 0x401234, address: 0x1000, prefetch: false, fsr: 4 }
        );
        assert_eq!(fault.ip(), 0x401234);
        let fetch = Fault::decode(info(5, 4), &[0x1000, 0x1000, 1, 0x14]).unwrap();
        assert!(matches!(fetch, Fault::VmFault { prefetch: true, .. }));
    }

    #[test]
    fn user_exceptions() {
        assert_eq!(
            Fault::decode(info(3, 5), &[0x401000, 0x7ff0, 0x202, 6, 0]).unwrap(),
            Fault::UserException { ip: 0x401000, sp: 0x7ff0, flags: 0x202, number: 6, code: 0 }
        );
    }

    #[test]
    fn unknown_syscalls() {
        let words: [u64; 19] = core::array::from_fn(|index| index as u64 * 10);
        let Fault::UnknownSyscall { ip, sp, flags, syscall, registers } =
            Fault::decode(info(2, 19), &words).unwrap()
        else {
            panic!("not an unknown syscall");
        };
        assert_eq!((ip, sp, flags, syscall), (150, 160, 170, 180));
        assert_eq!(registers.rax, 0);
        assert_eq!(registers.rdx, 30);
        assert_eq!(registers.rdi, 50);
        assert_eq!(registers.r8, 70);
        assert_eq!(registers.r15, 140);
        // A reply puts the registers back in the same order, without the syscall number.
        let reply = syscall_fault_reply(&registers, ip + 2, sp, flags);
        assert_eq!(&reply[..15], &words[..15]);
        assert_eq!(&reply[15..], &[152, 160, 170]);
    }

    #[test]
    fn cap_faults_with_each_lookup_failure() {
        let decode = |words: &[u64]| Fault::decode(info(1, words.len()), words);
        assert_eq!(
            decode(&[0x401000, 7, 0, 1]).unwrap(),
            Fault::CapFault {
                ip: 0x401000,
                address: 7,
                in_receive_phase: false,
                lookup_failure: LookupFailure::InvalidRoot
            }
        );
        assert!(matches!(
            decode(&[0, 7, 1, 2, 0]).unwrap(),
            Fault::CapFault {
                in_receive_phase: true,
                lookup_failure: LookupFailure::MissingCapability { bits_left: 0 },
                ..
            }
        ));
        assert!(matches!(
            decode(&[0, 7, 0, 3, 12, 64]).unwrap(),
            Fault::CapFault {
                lookup_failure: LookupFailure::DepthMismatch { bits_left: 12, bits_found: 64 },
                ..
            }
        ));
        assert!(matches!(
            decode(&[0, 1 << 40, 0, 4, 64, 0, 52]).unwrap(),
            Fault::CapFault {
                address: 0x100_0000_0000,
                lookup_failure: LookupFailure::GuardMismatch {
                    bits_left: 64,
                    guard_found: 0,
                    bits_found: 52
                },
                ..
            }
        ));
        assert_eq!(decode(&[0, 7, 0, 9]), Err(FaultDecodeError::UnknownLookupFailure { kind: 9 }));
        assert_eq!(
            decode(&[0, 7, 0, 4, 64]),
            Err(FaultDecodeError::Truncated { label: 1, length: 5, needed: 7 })
        );
    }

    #[test]
    fn short_or_foreign_messages_are_errors() {
        assert_eq!(
            Fault::decode(info(5, 3), &[1, 2, 3, 4]),
            Err(FaultDecodeError::Truncated { label: 5, length: 3, needed: 4 })
        );
        // The words slice bounds the length too.
        assert_eq!(
            Fault::decode(info(3, 5), &[1, 2]),
            Err(FaultDecodeError::Truncated { label: 3, length: 2, needed: 5 })
        );
        assert_eq!(Fault::decode(info(0, 0), &[]), Err(FaultDecodeError::NotAFault { label: 0 }));
        assert_eq!(
            Fault::decode(info(4, 4), &[0; 4]),
            Err(FaultDecodeError::NotAFault { label: 4 })
        );
        assert_eq!(exception_reply(1, 2, 3), [1, 2, 3]);
    }
}
