//! The release kernel has no debug system calls. A thread of this root task, with a fault
//! endpoint, makes each of the five (`DebugPutChar` -9, `DebugCapIdentify` -11,
//! `DebugNameThread` -13, `DebugSnapshot` -12, `DebugHalt` -10), and each must arrive at the
//! root task as an `UnknownSyscall` fault carrying its number and arguments: on a release
//! build, seL4 5.0.0's `handleUnknownSyscall` (`src/api/syscall.c`) has its debug cases under
//! `#ifdef CONFIG_DEBUG_BUILD` and sends every other number to the thread's fault handler. The
//! root task restarts the thread at the next call. A debug call that returns to the thread
//! (a debug kernel) makes the thread say so with an unknown syscall of its own, and the run
//! fails. So on the release kernel no thread, realm or root task alike, can stop, snapshot or
//! inspect the system through a debug system call.
//!
//! Everything here is printed through the root task's own serial output
//! (`sel4_root_task::println!`), which is all there is on a release kernel. The image names the
//! release kernel in its `Cargo.toml`: on the debug kernel its `DebugHalt` would stop the
//! machine.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use sel4::cap::tcb::TcbConfig;
use sel4::cap::{Badge, Cap, Endpoint, ObjectType, RetypeTarget, Tcb, Untyped, init};
use sel4::kernel::{CALL_RIGHTS, UserContext, init_slot, syscall_number};
use sel4::syscall::{self, Registers};
use sel4::{BootInfo, Fault};
use sel4_root_task::{Verdict, println};

sel4_root_task::main!(main);

/// A debug system call and the value the thread passes in its capability register (rdi).
struct DebugSyscall {
    name: &'static str,
    number: i64,
    argument: u64,
}

/// The debug system calls of seL4 5.0.0, in the order the thread makes them; `DebugHalt`
/// last, as it would end everything if it worked.
const DEBUG_SYSCALLS: [DebugSyscall; 5] = [
    DebugSyscall { name: "DebugPutChar", number: syscall_number::DEBUG_PUT_CHAR, argument: 0x21 },
    DebugSyscall {
        name: "DebugCapIdentify",
        number: syscall_number::DEBUG_CAP_IDENTIFY,
        argument: init_slot::TCB,
    },
    DebugSyscall {
        name: "DebugNameThread",
        number: syscall_number::DEBUG_NAME_THREAD,
        argument: init_slot::TCB,
    },
    DebugSyscall { name: "DebugSnapshot", number: syscall_number::DEBUG_SNAPSHOT, argument: 0 },
    DebugSyscall { name: "DebugHalt", number: syscall_number::DEBUG_HALT, argument: 0 },
];

/// The syscall number the thread makes when a debug call returned to it (unknown to every
/// seL4 kernel), with the step in rdi.
const RETURNED: i64 = 100;
/// The badge of the thread's fault endpoint capability.
const FAULT_BADGE: u64 = 0xdb9;
/// The thread's priority (the root task runs at 255 and waits for its faults).
const THREAD_PRIORITY: u8 = 100;

const STACK_BYTES: usize = 16 * 1024;

#[repr(C, align(16))]
struct Stack([u8; STACK_BYTES]);

/// The thread's stack; only the thread touches it, through its stack pointer.
static mut STACK: Stack = Stack([0; STACK_BYTES]);

/// Makes debug system call number `step` of [`DEBUG_SYSCALLS`]; the root task restarts the
/// thread here for each.
extern "C" fn debug_syscall_thread(step: u64) -> ! {
    let call = &DEBUG_SYSCALLS[step as usize];
    syscall::syscall(
        call.number,
        Registers { cap_or_badge: call.argument, ..Registers::default() },
    );
    syscall::syscall(RETURNED, Registers { cap_or_badge: step, ..Registers::default() });
    panic!("the root task resumed the thread after {} returned", call.name)
}

fn main(bootinfo: &'static BootInfo) -> ! {
    let ipc = bootinfo.take_ipc_buffer().expect("the root task's IPC buffer");
    let memory = bootinfo
        .untypeds()
        .filter(|untyped| !untyped.is_device && untyped.size_bits >= 12)
        .min_by_key(|untyped| untyped.size_bits)
        .expect("a RAM untyped of at least 4 KiB");
    let untyped: Untyped = Cap::from_cptr(memory.cptr);
    let mut slots = bootinfo.empty_slots();
    let mut make = |object: ObjectType| {
        let slot = slots.next().expect("a free slot");
        untyped
            .retype(ipc, object, RetypeTarget::slots_of(init::CNODE, slot), 1)
            .unwrap_or_else(|error| panic!("retyping {object:?}: {error}"));
        slot
    };
    let tcb: Tcb = Cap::from_cptr(make(ObjectType::Tcb));
    let endpoint: Endpoint = Cap::from_cptr(make(ObjectType::Endpoint));
    let fault_slot = slots.next().expect("a free slot");
    let badge = Badge::new(FAULT_BADGE).unwrap_or_else(|error| panic!("{error}"));
    init::CNODE
        .slot(fault_slot)
        .mint_from(ipc, init::CNODE.slot(endpoint.cptr()), CALL_RIGHTS, badge)
        .unwrap_or_else(|error| panic!("minting the fault endpoint capability: {error}"));
    let config = TcbConfig {
        fault_endpoint: Some(Cap::from_cptr(fault_slot)),
        priority: THREAD_PRIORITY,
        max_controlled_priority: THREAD_PRIORITY,
        cspace_root: init::CNODE,
        cspace_root_guard: None,
        vspace_root: init::VSPACE,
        ipc_buffer: None,
    };
    tcb.configure(ipc, &config).unwrap_or_else(|error| panic!("configuring the thread: {error}"));
    let stack_top = (&raw const STACK) as u64 + STACK_BYTES as u64;
    println!("no-debug-syscalls: a thread with a fault endpoint makes each debug system call");

    for (step, call) in DEBUG_SYSCALLS.iter().enumerate() {
        let entry = debug_syscall_thread as *const () as u64;
        let context = UserContext::function_call(entry, stack_top, [step as u64, 0]);
        tcb.write_registers(ipc, true, &context)
            .unwrap_or_else(|error| panic!("starting the thread for {}: {error}", call.name));
        let received = endpoint.recv(ipc);
        assert_eq!(received.badge, FAULT_BADGE, "the fault message's badge");
        let fault = Fault::decode(received.info, ipc.message(received.info))
            .unwrap_or_else(|error| panic!("decoding the fault of {}: {error:?}", call.name));
        match fault {
            Fault::UnknownSyscall { syscall, registers, ip, .. }
                if syscall as i64 == call.number =>
            {
                assert_eq!(registers.rdi, call.argument, "{}'s argument in the fault", call.name);
                println!(
                    "check {}: ok (syscall {} at {ip:#x} arrived as an UnknownSyscall fault)",
                    call.name, call.number
                );
            }
            Fault::UnknownSyscall { syscall, .. } if syscall as i64 == RETURNED => panic!(
                "{} ({}) returned to the thread: this kernel has debug system calls",
                call.name, call.number
            ),
            other => panic!(
                "{} ({}) gave {other:?}, not an UnknownSyscall fault",
                call.name, call.number
            ),
        }
    }
    tcb.suspend().unwrap_or_else(|error| panic!("suspending the thread: {error}"));
    println!(
        "no-debug-syscalls: all {} debug system calls are UnknownSyscall faults",
        DEBUG_SYSCALLS.len()
    );
    sel4_root_task::exit(Verdict::Pass)
}
