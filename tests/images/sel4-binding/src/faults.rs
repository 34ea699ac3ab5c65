//! Faults of a thread, received on its fault endpoint and decoded: VM faults (data read,
//! address above 4 GiB, instruction fetch), a fault endpoint moved by TCB_SetSpace, cap faults
//! (send and receive phase), an unknown syscall answered by the handler, and an invalid opcode
//! the handler skips.

use sel4::Fault;
use sel4::cap::{Endpoint, ObjectType, init};
use sel4::fault::{self, LookupFailure, SyscallRegisters};
use sel4::kernel::{CALL_RIGHTS, UserContext};
use sel4_root_task::println;

use crate::Root;
use crate::threads::{self, Thread, load};

/// The badge of the faulting thread's first fault endpoint capability.
const FAULTER_BADGE: u64 = 0xf1;
/// The badge of its fault endpoint capability after SetSpace.
const MOVED_BADGE: u64 = 0xf2;
/// What the handler puts in message register 0 when it emulates the unknown syscall.
const EMULATED_RESULT: u64 = 4242;

/// Where the faulting thread's faults arrive: the endpoint and the badge they carry.
#[derive(Clone, Copy)]
struct Handler {
    endpoint: Endpoint,
    badge: u64,
}

/// Decodes a received fault message, checking it came with the handler's badge.
fn decode(root: &mut Root, handler: Handler, received: sel4::ipc::Received) -> Fault {
    assert_eq!(received.badge, handler.badge, "the fault message's badge");
    Fault::decode(received.info, root.ipc.message(received.info))
        .unwrap_or_else(|error| panic!("decoding a fault: {error:?}"))
}

/// Waits for the next fault at `handler`.
fn next_fault(root: &mut Root, handler: Handler) -> Fault {
    let received = handler.endpoint.recv(root.ipc);
    decode(root, handler, received)
}

/// Restarts the (faulted) thread in `role` and waits for its next fault.
fn restart(root: &mut Root, faulter: &Thread, handler: Handler, role: u64) -> Fault {
    restart_at(root, faulter, handler, &faulter.start_context(role))
}

fn restart_at(root: &mut Root, faulter: &Thread, handler: Handler, context: &UserContext) -> Fault {
    faulter
        .tcb
        .write_registers(root.ipc, true, context)
        .unwrap_or_else(|error| panic!("restarting the faulting thread: {error}"));
    next_fault(root, handler)
}

pub fn faults(root: &mut Root) {
    let endpoint: Endpoint = root.make(ObjectType::Endpoint);
    // A fault endpoint capability needs what a Call needs: on 5.0.0, Send and Grant.
    let fault_cap = root.mint(endpoint, CALL_RIGHTS, FAULTER_BADGE);
    let faulter =
        threads::spawn(root, "binding-faulter", threads::ROLE_FAULT_READ, 150, Some(fault_cap));

    let first = Handler { endpoint, badge: FAULTER_BADGE };
    vm_faults(root, &faulter, first);
    let moved = move_fault_endpoint(root, &faulter);
    cap_faults(root, &faulter, moved);
    resumed_faults(root, &faulter, moved);
    faulter.tcb.suspend().unwrap_or_else(|error| panic!("suspending the faulting thread: {error}"));
}

fn vm_faults(root: &mut Root, faulter: &Thread, handler: Handler) {
    let fault = next_fault(root, handler);
    let Fault::VmFault { ip, address, prefetch, fsr } = fault else {
        panic!("reading an unmapped address gave {fault:?}")
    };
    assert_eq!(address, threads::UNMAPPED, "VM fault address");
    assert!(!prefetch, "a data read reported as an instruction fetch");
    assert!(root.image().contains(&ip), "VM fault ip {ip:#x} outside the image");
    assert_eq!(fsr & 0b111, 0b100, "fault status: user-mode read of a missing page");
    let stopped = faulter
        .tcb
        .read_registers(root.ipc, false)
        .unwrap_or_else(|error| panic!("ReadRegisters of the faulted thread: {error}"));
    assert_eq!(stopped.rip, ip, "the faulted thread's rip");
    root.pass(
        "fault-vm",
        format_args!(
            "read of {address:#x} arrived as VmFault {{ ip: {ip:#x}, prefetch: false, fsr: \
             {fsr:#x} }} with the thread's badge; its rip is the fault ip"
        ),
    );

    let fault = restart(root, faulter, handler, threads::ROLE_FAULT_READ_HIGH);
    let Fault::VmFault { address, .. } = fault else {
        panic!("reading an unmapped address above 4 GiB gave {fault:?}")
    };
    assert_eq!(
        address,
        threads::UNMAPPED_HIGH & 0xffff_ffff,
        "5.0.0 reports the low 32 bits of a VM fault address"
    );
    root.pass(
        "fault-vm-address-width",
        format_args!(
            "read of {:#x} reported at {address:#x}: 5.0.0 keeps the low 32 bits",
            threads::UNMAPPED_HIGH
        ),
    );

    let mut jump = faulter.start_context(threads::ROLE_FAULT_READ);
    jump.rip = threads::UNMAPPED;
    let fault = restart_at(root, faulter, handler, &jump);
    let Fault::VmFault { ip, address, prefetch, fsr } = fault else {
        panic!("jumping to an unmapped address gave {fault:?}")
    };
    assert_eq!((ip, address), (threads::UNMAPPED, threads::UNMAPPED), "fetch fault");
    // 5.0.0 leaves NX off, so the CPU does not flag fetches in the error code.
    assert!(!prefetch, "5.0.0 reported an instruction fetch: has NX been enabled?");
    root.pass(
        "fault-vm-fetch",
        format_args!(
            "jump to {address:#x} arrived as VmFault {{ ip: {ip:#x}, prefetch: {prefetch}, fsr: \
             {fsr:#x} }}"
        ),
    );
}

/// SetSpace gives the faulting thread a new fault endpoint (same CSpace and VSpace); the
/// faults that follow arrive there, with its badge.
fn move_fault_endpoint(root: &mut Root, faulter: &Thread) -> Handler {
    let endpoint: Endpoint = root.make(ObjectType::Endpoint);
    let fault_cap = root.mint(endpoint, CALL_RIGHTS, MOVED_BADGE);
    faulter
        .tcb
        .set_space(root.ipc, Some(fault_cap), init::CNODE, None, init::VSPACE)
        .unwrap_or_else(|error| panic!("SetSpace: {error}"));
    let handler = Handler { endpoint, badge: MOVED_BADGE };
    let fault = restart(root, faulter, handler, threads::ROLE_FAULT_READ);
    assert!(
        matches!(fault, Fault::VmFault { address: threads::UNMAPPED, .. }),
        "the fault after SetSpace: {fault:?}"
    );
    root.pass(
        "set-space",
        format_args!(
            "after SetSpace the thread's fault arrived at its new fault endpoint, badge {MOVED_BADGE:#x}"
        ),
    );
    handler
}

fn cap_faults(root: &mut Root, faulter: &Thread, handler: Handler) {
    let guard_bits = 64 - u64::from(root.bootinfo.cnode_size_bits());
    let expected_failure =
        LookupFailure::GuardMismatch { bits_left: 64, guard_found: 0, bits_found: guard_bits };
    for (role, receive_phase) in
        [(threads::ROLE_FAULT_CAP_SEND, false), (threads::ROLE_FAULT_CAP_RECV, true)]
    {
        let fault = restart(root, faulter, handler, role);
        let Fault::CapFault { ip, address, in_receive_phase, lookup_failure } = fault else {
            panic!("using an unresolvable CPtr gave {fault:?}")
        };
        assert_eq!(address, threads::UNRESOLVABLE_CPTR, "cap fault address");
        assert_eq!(in_receive_phase, receive_phase, "cap fault receive phase");
        assert_eq!(lookup_failure, expected_failure, "cap fault lookup failure");
        assert!(root.image().contains(&ip), "cap fault ip {ip:#x} outside the image");
    }
    root.pass(
        "fault-cap",
        format_args!(
            "Send and Recv on CPtr {:#x} arrived as CapFault (send and receive phase) with \
             {expected_failure:?}",
            threads::UNRESOLVABLE_CPTR
        ),
    );
}

/// Reply to the current fault with `words` (label 0) and wait for the next one.
fn reply_and_wait(root: &mut Root, handler: Handler, words: &[u64]) -> Fault {
    let info = root.ipc.set_message(0, words, &[]).unwrap_or_else(|error| panic!("{error:?}"));
    let received = handler.endpoint.reply_recv(root.ipc, info);
    decode(root, handler, received)
}

fn resumed_faults(root: &mut Root, faulter: &Thread, handler: Handler) {
    let fault = restart(root, faulter, handler, threads::ROLE_FAULT_CHAIN);
    let Fault::UnknownSyscall { ip, sp, flags, syscall, registers } = fault else {
        panic!("an unknown syscall gave {fault:?}")
    };
    assert_eq!(syscall, threads::EMULATED_SYSCALL as u64, "the syscall number");
    assert_eq!(
        (registers.rdi, registers.r10, registers.r8, registers.r9, registers.r15),
        (0xabc, 11, 22, 33, 44),
        "the syscall's capability and message registers"
    );
    assert_eq!(registers.rdx, threads::EMULATED_SYSCALL as u64, "rdx holds the number");
    assert!(root.image().contains(&ip), "unknown syscall ip {ip:#x} outside the image");
    let answered = SyscallRegisters { r10: EMULATED_RESULT, ..registers };
    let words = fault::syscall_fault_reply(&answered, ip + 2, sp, flags);
    let fault = reply_and_wait(root, handler, &words);
    assert_eq!(
        load(&threads::CHAIN_SYSCALL_RESULT),
        EMULATED_RESULT,
        "the emulated syscall's result as the thread saw it"
    );
    root.pass(
        "fault-unknown-syscall",
        format_args!(
            "syscall {syscall} at {ip:#x} arrived as UnknownSyscall with its registers; the \
             reply set r10 to {EMULATED_RESULT} and skipped it, and the thread went on"
        ),
    );

    let Fault::UserException { ip, sp, flags, number, code } = fault else {
        panic!("ud2 gave {fault:?}")
    };
    assert_eq!(number, 6, "ud2 raises the invalid-opcode exception");
    assert!(root.image().contains(&ip), "user exception ip {ip:#x} outside the image");
    let fault = reply_and_wait(root, handler, &fault::exception_reply(ip + 2, sp, flags));
    assert_eq!(load(&threads::CHAIN_PAST_UD2), 1, "the thread did not run past ud2");
    let Fault::UnknownSyscall { syscall, .. } = fault else {
        panic!("the end of the fault chain gave {fault:?}")
    };
    assert_eq!(syscall, threads::CHAIN_DONE_SYSCALL as u64, "the chain's last syscall");
    println!("sel4-binding: the faulting thread ran to the end of its chain");
    root.pass(
        "fault-user-exception",
        format_args!(
            "ud2 at {ip:#x} arrived as UserException {{ number: {number}, code: {code} }}; the \
             reply skipped it and the thread went on"
        ),
    );
}
