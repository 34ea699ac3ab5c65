//! Threads: configuration (CSpace, VSpace, IPC buffer, fault endpoint, priorities), registers,
//! suspend and resume, and bound notifications.
//!
//! The fault endpoint is a CPtr in the *configured thread's* CSpace, looked up when the thread
//! faults; the capability there must be an endpoint with [`kernel::CALL_RIGHTS`] (on 5.0.0:
//! Send and Grant), or the fault is a double fault and the kernel stops the thread.
//!
//! On 5.0.0 a new priority for *another* thread takes effect at the next scheduling decision
//! (the caller blocking, yielding, or its time slice ending), not at once; changing the
//! caller's own priority reschedules immediately.

use crate::cap::rights::CNodeGuard;
use crate::cap::{CNode, Endpoint, Frame, Invocation, Notification, Tcb, VSpace};
use crate::error::Error;
use crate::ipc_buffer::IpcBuffer;
use crate::kernel::{self, UserContext, label};

/// Where a thread's IPC buffer is: its address in the thread's VSpace and the frame holding it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpcBufferFrame {
    /// Must be aligned to 2^9 on 5.0.0 ([`IpcBuffer`] values need 2^10 to be used from Rust).
    pub address: u64,
    pub frame: Frame,
}

/// Everything TCB_Configure sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcbConfig {
    /// The endpoint the thread's faults go to, as a CPtr in its own CSpace.
    pub fault_endpoint: Option<Endpoint>,
    pub priority: u8,
    /// The highest priority the thread may give itself or another thread.
    pub max_controlled_priority: u8,
    pub cspace_root: CNode,
    /// A new guard for the CSpace root capability; `None` keeps the capability's own.
    pub cspace_root_guard: Option<CNodeGuard>,
    pub vspace_root: VSpace,
    pub ipc_buffer: Option<IpcBufferFrame>,
}

impl Tcb {
    /// Sets the thread's fault endpoint, priorities, CSpace, VSpace and IPC buffer at once.
    pub fn configure(self, ipc: &mut IpcBuffer, config: &TcbConfig) -> Result<(), Error> {
        kernel::tcb_configure(config).call_with_buffer(ipc, self)?;
        Ok(())
    }

    /// Sets the thread's priority (at most the invoker's maximum controlled priority; more is
    /// [`Error::RangeError`]). See the module doc for when it takes effect.
    pub fn set_priority(self, priority: u8) -> Result<(), Error> {
        Invocation::words(label::TCB_SET_PRIORITY, [priority as u64]).call_in_registers(self)?;
        Ok(())
    }

    /// Sets the highest priority the thread may give (at most the invoker's own).
    pub fn set_mc_priority(self, max_controlled_priority: u8) -> Result<(), Error> {
        Invocation::words(label::TCB_SET_MC_PRIORITY, [max_controlled_priority as u64])
            .call_in_registers(self)?;
        Ok(())
    }

    /// Sets the thread's IPC buffer.
    pub fn set_ipc_buffer(self, ipc: &mut IpcBuffer, buffer: IpcBufferFrame) -> Result<(), Error> {
        set_ipc_buffer(buffer).call_with_buffer(ipc, self)?;
        Ok(())
    }

    /// Sets the thread's fault endpoint, CSpace and VSpace.
    pub fn set_space(
        self,
        ipc: &mut IpcBuffer,
        fault_endpoint: Option<Endpoint>,
        cspace_root: CNode,
        cspace_root_guard: Option<CNodeGuard>,
        vspace_root: VSpace,
    ) -> Result<(), Error> {
        set_space(fault_endpoint, cspace_root, cspace_root_guard, vspace_root)
            .call_with_buffer(ipc, self)?;
        Ok(())
    }

    /// Reads the thread's registers (not the caller's own: that is
    /// [`Error::IllegalOperation`]), suspending it first if `suspend`.
    pub fn read_registers(self, ipc: &mut IpcBuffer, suspend: bool) -> Result<UserContext, Error> {
        let reply = read_registers(suspend).call_with_buffer(ipc, self)?;
        if reply.length() < UserContext::WORDS {
            return Err(Error::TruncatedMessage);
        }
        let mut words = [0; UserContext::WORDS];
        words.copy_from_slice(&ipc.msg()[..UserContext::WORDS]);
        Ok(UserContext::from_words(&words))
    }

    /// Writes the thread's registers (the kernel keeps rflags sane and addresses canonical),
    /// resuming it afterwards if `resume`.
    pub fn write_registers(
        self,
        ipc: &mut IpcBuffer,
        resume: bool,
        context: &UserContext,
    ) -> Result<(), Error> {
        write_registers(resume, context).call_with_buffer(ipc, self)?;
        Ok(())
    }

    /// Stops the thread (cancelling any IPC it is blocked in) until [`Tcb::resume`].
    pub fn suspend(self) -> Result<(), Error> {
        Invocation::words(label::TCB_SUSPEND, []).call_in_registers(self)?;
        Ok(())
    }

    /// Makes a suspended (or never started) thread runnable; it restarts the syscall it was in.
    pub fn resume(self) -> Result<(), Error> {
        Invocation::words(label::TCB_RESUME, []).call_in_registers(self)?;
        Ok(())
    }

    /// Binds `notification` to the thread: signals to it then also wake the thread when it
    /// waits on an endpoint.
    pub fn bind_notification(
        self,
        ipc: &mut IpcBuffer,
        notification: Notification,
    ) -> Result<(), Error> {
        bind_notification(notification).call_with_buffer(ipc, self)?;
        Ok(())
    }

    /// Unbinds the thread's notification.
    pub fn unbind_notification(self) -> Result<(), Error> {
        unbind_notification().call_in_registers(self)?;
        Ok(())
    }
}

/// TCB_BindNotification: the notification as the one extra cap. The kernel refuses a thread
/// that already has one, or a notification bound elsewhere ([`Error::IllegalOperation`]).
pub const fn bind_notification(notification: Notification) -> Invocation<0, 1> {
    Invocation { label: label::TCB_BIND_NOTIFICATION, words: [], caps: [notification.cptr()] }
}

/// TCB_UnbindNotification: no arguments.
pub const fn unbind_notification() -> Invocation<0, 0> {
    Invocation::words(label::TCB_UNBIND_NOTIFICATION, [])
}

/// TCB_SetIPCBuffer: the address; the frame.
pub const fn set_ipc_buffer(buffer: IpcBufferFrame) -> Invocation<1, 1> {
    Invocation {
        label: label::TCB_SET_IPC_BUFFER,
        words: [buffer.address],
        caps: [buffer.frame.cptr()],
    }
}

/// TCB_SetSpace: fault endpoint, CSpace root data, VSpace root data; the two roots.
pub const fn set_space(
    fault_endpoint: Option<Endpoint>,
    cspace_root: CNode,
    cspace_root_guard: Option<CNodeGuard>,
    vspace_root: VSpace,
) -> Invocation<3, 2> {
    let fault_endpoint = match fault_endpoint {
        Some(endpoint) => endpoint.cptr(),
        None => 0,
    };
    let cspace_root_data = match cspace_root_guard {
        Some(guard) => kernel::guard_word(guard),
        None => 0,
    };
    Invocation {
        label: label::TCB_SET_SPACE,
        words: [fault_endpoint, cspace_root_data, 0],
        caps: [cspace_root.cptr(), vspace_root.cptr()],
    }
}

/// TCB_ReadRegisters: flags (bit 0: suspend the source), the number of registers.
pub const fn read_registers(suspend: bool) -> Invocation<2, 0> {
    Invocation::words(label::TCB_READ_REGISTERS, [suspend as u64, UserContext::WORDS as u64])
}

/// The words of TCB_WriteRegisters: flags (bit 0: resume the target), the number of
/// registers, then the registers.
pub const WRITE_REGISTERS_WORDS: usize = 2 + UserContext::WORDS;

/// TCB_WriteRegisters.
pub const fn write_registers(
    resume: bool,
    context: &UserContext,
) -> Invocation<WRITE_REGISTERS_WORDS, 0> {
    let registers = context.to_words();
    let mut words = [0; WRITE_REGISTERS_WORDS];
    words[0] = resume as u64;
    words[1] = UserContext::WORDS as u64;
    let mut index = 0;
    while index < UserContext::WORDS {
        words[2 + index] = registers[index];
        index += 1;
    }
    Invocation::words(label::TCB_WRITE_REGISTERS, words)
}

impl UserContext {
    /// Registers that start a thread in the caller's address space at
    /// `entry(arguments[0], .., arguments[N - 1])`, an `extern "C" fn` that never returns, on
    /// the stack that ends at `stack_top`. The arguments go in the System V ABI's argument
    /// registers in order (`rdi`, `rsi`, `rdx`, `rcx`, `r8`, `r9`: at most six, checked at
    /// compile time); every other register is zero. The stack pointer is set as if `entry`
    /// had just been called (16-byte aligned before the pushed return address), as the ABI
    /// expects.
    ///
    /// All of them reach the thread: on x86_64, seL4 5.0.0's `TCB_WriteRegisters` makes a
    /// thread other than the caller return to user mode by the interrupt path, which
    /// reloads every register (`invokeTCB_WriteRegisters`, `src/object/tcb.c`, sets its
    /// `Error` register to 0; the `sysret` path would load `rcx` and `r11` from the next
    /// instruction pointer and the flags, `src/arch/x86/64/c_traps.c`).
    pub const fn function_call<const N: usize>(
        entry: u64,
        stack_top: u64,
        arguments: [u64; N],
    ) -> UserContext {
        const { assert!(N <= 6, "x86_64 passes at most six arguments in registers") };
        let mut context = UserContext::from_words(&[0; UserContext::WORDS]);
        context.rip = entry;
        context.rsp = (stack_top & !0xf) - 8;
        let mut index = 0;
        while index < N {
            let register = match index {
                0 => &mut context.rdi,
                1 => &mut context.rsi,
                2 => &mut context.rdx,
                3 => &mut context.rcx,
                4 => &mut context.r8,
                _ => &mut context.r9,
            };
            *register = arguments[index];
            index += 1;
        }
        context
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cap::{Cap, init};

    #[test]
    fn register_transfer_arguments() {
        assert_eq!(read_registers(true).words, [1, UserContext::WORDS as u64]);
        assert_eq!(read_registers(false).words, [0, 19]);
        let context =
            UserContext { rip: 0x401000, rsp: 0x7000, tls_base: 0xabc, ..UserContext::default() };
        let invocation = write_registers(true, &context);
        assert_eq!(invocation.label, label::TCB_WRITE_REGISTERS);
        assert_eq!(invocation.words.len(), 21);
        assert_eq!(&invocation.words[..4], &[1, 19, 0x401000, 0x7000]);
        assert_eq!(invocation.words[20], 0xabc);
        assert_eq!(write_registers(false, &context).words[0], 0);
    }

    #[test]
    fn space_and_buffer_arguments() {
        let invocation = set_space(
            Some(Cap::from_cptr(30)),
            init::CNODE,
            Some(CNodeGuard::new(0, 52).unwrap()),
            init::VSPACE,
        );
        assert_eq!(invocation.label, label::TCB_SET_SPACE);
        assert_eq!(invocation.words, [30, (1 << 31) | (52 << 2), 0]);
        assert_eq!(invocation.caps, [init::CNODE.cptr(), init::VSPACE.cptr()]);
        assert_eq!(set_space(None, init::CNODE, None, init::VSPACE).words, [0, 0, 0]);

        let buffer =
            set_ipc_buffer(IpcBufferFrame { address: 0x1000_2000, frame: Cap::from_cptr(99) });
        assert_eq!(buffer.label, label::TCB_SET_IPC_BUFFER);
        assert_eq!(buffer.words, [0x1000_2000]);
        assert_eq!(buffer.caps, [99]);
    }

    #[test]
    fn notification_binding_arguments() {
        let bind = bind_notification(Cap::from_cptr(77));
        assert_eq!(bind.label, label::TCB_BIND_NOTIFICATION);
        assert_eq!(bind.caps, [77]);
        assert_eq!((bind.info().length(), bind.info().extra_caps()), (0, 1));
        let unbind = unbind_notification();
        assert_eq!(unbind.label, label::TCB_UNBIND_NOTIFICATION);
        assert_eq!(unbind.info().word(), label::TCB_UNBIND_NOTIFICATION << 12);
    }

    #[test]
    fn a_function_call_context_follows_the_abi() {
        let context = UserContext::function_call(0x401234, 0x80_0000, [7, 8]);
        assert_eq!(context.rip, 0x401234);
        assert_eq!(context.rsp, 0x80_0000 - 8);
        assert_eq!((context.rsp + 8) % 16, 0);
        assert_eq!((context.rdi, context.rsi), (7, 8));
        // An unaligned top is rounded down first.
        let unaligned = UserContext::function_call(1, 0x80_0009, [0, 0]);
        assert_eq!(unaligned.rsp, 0x80_0000 - 8);
        // Up to six arguments, in the ABI's order; the rest stays zero.
        let six = UserContext::function_call(1, 0x1000, [1, 2, 3, 4, 5, 6]);
        assert_eq!((six.rdi, six.rsi, six.rdx, six.rcx, six.r8, six.r9), (1, 2, 3, 4, 5, 6));
        let four = UserContext::function_call(1, 0x1000, [9, 8, 7, 6]);
        assert_eq!((four.rdx, four.rcx, four.r8, four.r9, four.rax), (7, 6, 0, 0, 0));
        let none = UserContext::function_call(1, 0x1000, []);
        assert_eq!((none.rdi, none.rsi), (0, 0));
    }
}
