//! Checks that need a second thread: IPC (Call/ReplyRecv, Reply, Send, NBSend, NBRecv, long
//! messages, badges, capability transfer and unwrapping, SaveCaller, bound notifications) and
//! the TCB invocations (IPC buffer, priorities, suspend/resume, registers, yield, cancel badged
//! sends).

use sel4::cap::tcb::IpcBufferFrame;
use sel4::cap::vspace::VmAttributes;
use sel4::cap::{Endpoint, Frame, Notification, ObjectType, PageTable, Rights, init};
use sel4::debug::CapType;
use sel4::ipc::yield_now;
use sel4::kernel::CALL_RIGHTS;
use sel4::{Error, MessageInfo};

use crate::threads::{self, Thread, load, store};
use crate::{Root, expect_error, expect_type};

/// The badge of the root task's calling capability to the server.
const CLIENT_BADGE: u64 = 0x1234;

/// The server thread and the capabilities to reach it.
pub struct Server {
    pub thread: Thread,
    /// The endpoint itself (all rights); the server receives on it.
    pub endpoint: Endpoint,
    /// [`CALL_RIGHTS`] (write and grant), badge [`CLIENT_BADGE`]: what the root task calls
    /// through.
    pub client: Endpoint,
}

/// Maps the page table that holds every thread's IPC buffer.
pub fn prepare_thread_area(root: &mut Root) {
    let table: PageTable = root.make(ObjectType::PageTable);
    table
        .map(root.ipc, init::VSPACE, threads::IPC_BUFFERS, VmAttributes::DEFAULT)
        .unwrap_or_else(|error| panic!("mapping the threads' page table: {error}"));
}

/// Calls the server with `label` and `words` through `via`; returns the answer's info.
fn call(root: &mut Root, via: Endpoint, label: u64, words: &[u64]) -> MessageInfo {
    let info = root
        .ipc
        .set_message(label, words, &[])
        .unwrap_or_else(|error| panic!("message: {error:?}"));
    via.call(root.ipc, info)
}

/// Calls and checks the answer's label; returns its words.
fn request<'a>(root: &'a mut Root, via: Endpoint, label: u64, words: &[u64]) -> &'a [u64] {
    let answer = call(root, via, label, words);
    assert_eq!(answer.label(), label, "the server's answer to request {label}");
    root.ipc.message(answer)
}

/// The server's count of one-way messages and the last signal it saw.
fn stats(root: &mut Root, server: &Server) -> (u64, u64) {
    let words = request(root, server.client, threads::STATS, &[]);
    (words[0], words[1])
}

/// Starts the server thread (priority 200, below the root task's 255) and sees it answer.
pub fn start_server(root: &mut Root) -> Server {
    let endpoint: Endpoint = root.make(ObjectType::Endpoint);
    store(&threads::SERVER_ENDPOINT, endpoint.cptr());
    let receive_slot = root.slot();
    store(&threads::SERVER_RECEIVE_SLOT, receive_slot);
    let reply_slot = root.slot();
    store(&threads::SERVER_REPLY_SLOT, reply_slot);
    let thread = threads::spawn(root, "binding-server", threads::ROLE_SERVER, 200, None);
    store(&threads::SERVER_TCB, thread.tcb.cptr());
    let client = root.mint(endpoint, CALL_RIGHTS, CLIENT_BADGE);
    let server = Server { thread, endpoint, client };
    let words = request(root, server.client, threads::WHO, &[]);
    assert_eq!(words, &[CLIENT_BADGE], "the server's first answer");
    root.pass(
        "thread-start",
        format_args!(
            "TCB_Configure (root CSpace and VSpace, IPC buffer at {:#x}, priority 200), \
             DebugNameThread, WriteRegisters, Resume: the server answers",
            thread.ipc_buffer
        ),
    );
    server
}

/// Call and ReplyRecv with 5 and 120 words, every word checked.
pub fn long_messages(root: &mut Root, server: &Server) {
    for length in [5, 120] {
        let words: [u64; 120] =
            core::array::from_fn(|index| (index as u64).wrapping_mul(0x0101_0101_0101) + 7);
        let answer = request(root, server.client, threads::ECHO, &words[..length]);
        assert_eq!(answer.len(), length, "echo length");
        for (index, (sent, echoed)) in words.iter().zip(answer).enumerate() {
            assert_eq!(*echoed, !sent, "echoed word {index} of {length}");
        }
    }
    root.pass(
        "call-long",
        format_args!("Call of 5 and 120 words answered by ReplyRecv with each word inverted"),
    );
}

/// The server answers with the Reply syscall (then Recv) instead of ReplyRecv.
pub fn reply_syscall(root: &mut Root, server: &Server) {
    let words = [1, 2, 3, 4, 5, 6];
    let answer = request(root, server.client, threads::ECHO_VIA_REPLY, &words);
    assert_eq!(answer, &[!1, !2, !3, !4, !5, !6], "answer through Reply");
    root.pass("reply", format_args!("6-word answer through Reply, then Recv"));
}

/// The receiver sees the badge of the capability each message came through.
pub fn badges(root: &mut Root, server: &Server) {
    let other = root.mint(server.endpoint, CALL_RIGHTS, 0x777);
    let through_other = request(root, other, threads::WHO, &[])[0];
    assert_eq!(through_other, 0x777, "badge of a second minted capability");
    let unbadged = root.copy(server.endpoint, CALL_RIGHTS);
    let through_unbadged = request(root, unbadged, threads::WHO, &[])[0];
    assert_eq!(through_unbadged, 0, "badge of an unbadged copy");
    let through_client = request(root, server.client, threads::WHO, &[])[0];
    assert_eq!(through_client, CLIENT_BADGE, "badge of the client capability");
    root.pass(
        "mint-badge",
        format_args!(
            "server saw badge {through_client:#x}, {through_other:#x} and {through_unbadged} \
             for two minted capabilities and an unbadged copy"
        ),
    );
}

/// Send waits for the receiver; NBSend delivers only to a waiting receiver.
pub fn send_and_nb_send(root: &mut Root, server: &Server) {
    let one_way = |root: &mut Root, blocking: bool| {
        let info = root
            .ipc
            .set_message(threads::ONE_WAY, &[], &[])
            .unwrap_or_else(|error| panic!("{error:?}"));
        if blocking {
            server.client.send(root.ipc, info);
        } else {
            server.client.nb_send(root.ipc, info);
        }
    };
    let (before, _) = stats(root, server);
    one_way(root, true);
    assert_eq!(stats(root, server).0, before + 1, "after a Send");
    // The server waits in Recv again (it answered STATS): NBSend reaches it.
    one_way(root, false);
    assert_eq!(stats(root, server).0, before + 2, "after an NBSend to a waiting server");
    // Send leaves the server busy (it runs only when the root task blocks), so an NBSend
    // right after finds no receiver and is dropped.
    one_way(root, true);
    one_way(root, false);
    assert_eq!(stats(root, server).0, before + 3, "an NBSend to a busy server was delivered");
    root.pass(
        "send-nbsend",
        format_args!(
            "Send delivered; NBSend delivered to a waiting server, dropped for a busy one"
        ),
    );
}

/// NBRecv on an endpoint with no sender returns at once, empty.
pub fn nb_recv(root: &mut Root) {
    let endpoint: Endpoint = root.make(ObjectType::Endpoint);
    let received = endpoint.nb_recv(root.ipc);
    assert_eq!(received.badge, 0, "NBRecv with no sender");
    assert_eq!(received.info.label(), 0, "NBRecv with no sender");
    assert_eq!(received.info.length(), 0, "NBRecv with no sender");
    root.pass("nb-recv", format_args!("returned at once with badge 0 and an empty message"));
}

/// A badged notification capability sent with a Call lands in the server's receive slot.
pub fn cap_transfer(root: &mut Root, server: &Server) {
    let notification: Notification = root.make(ObjectType::Notification);
    let badged = root.mint(notification, Rights::WRITE, 0x55);
    let info = root
        .ipc
        .set_message(threads::TAKE_CAP, &[], &[badged.cptr()])
        .unwrap_or_else(|error| panic!("{error:?}"));
    let answer = server.client.call(root.ipc, info);
    assert_eq!(answer.label(), threads::TAKE_CAP, "answer to a capability transfer");
    let words = root.ipc.message(answer);
    assert_eq!(words[0], 1, "extra caps the server received");
    assert_eq!(words[1], 0, "unwrapped mask of a transferred capability");
    assert_eq!(words[3], 1, "the receive slot does not hold a notification");
    assert_eq!(notification.poll(), 0x55, "the server's signal through the transferred capability");
    expect_type(badged.cptr(), CapType::Notification, "the sender's own capability");
    root.pass(
        "cap-transfer",
        format_args!(
            "notification capability sent with a Call landed in the receive slot; the server \
             signalled through it (badge 0x55 arrived)"
        ),
    );
}

/// A capability to the endpoint a message travels through arrives as its badge.
pub fn cap_unwrap(root: &mut Root, server: &Server) {
    let to_itself = root.mint(server.endpoint, CALL_RIGHTS, 0x999);
    let info = root
        .ipc
        .set_message(threads::TAKE_CAP, &[], &[to_itself.cptr()])
        .unwrap_or_else(|error| panic!("{error:?}"));
    let answer = server.client.call(root.ipc, info);
    let words = root.ipc.message(answer);
    assert_eq!(
        words,
        &[1, 0b1, 0x999, 0],
        "extra caps, unwrapped mask, badge, notification received"
    );
    root.pass(
        "cap-unwrap",
        format_args!(
            "a badged capability to the server's own endpoint arrived unwrapped as badge 0x999"
        ),
    );
}

/// The server saves the reply capability and answers through it later.
pub fn save_caller(root: &mut Root, server: &Server) {
    let words = request(root, server.client, threads::SAVE_REPLY, &[]);
    assert_eq!(words, &[threads::SAVED_REPLY_MARK, 1], "answer through the saved reply capability");
    expect_type(
        load(&threads::SERVER_REPLY_SLOT),
        CapType::Null,
        "the reply capability after its use",
    );
    root.pass(
        "save-caller",
        format_args!("reply capability saved into a slot, answered through, used up"),
    );
}

/// A notification bound to the server wakes it in Recv; unbound, it no longer does.
pub fn bound_notification(root: &mut Root, server: &Server) {
    let notification: Notification = root.make(ObjectType::Notification);
    server
        .thread
        .tcb
        .bind_notification(root.ipc, notification)
        .unwrap_or_else(|error| panic!("BindNotification: {error}"));
    let first = root.mint(notification, Rights::WRITE, threads::SIGNAL_BADGE_BIT | 3);
    first.signal();
    let (_, seen) = stats(root, server);
    assert_eq!(seen, threads::SIGNAL_BADGE_BIT | 3, "signal to the bound notification");

    server
        .thread
        .tcb
        .unbind_notification()
        .unwrap_or_else(|error| panic!("UnbindNotification: {error}"));
    let second = root.mint(notification, Rights::WRITE, threads::SIGNAL_BADGE_BIT | 5);
    second.signal();
    let (_, seen) = stats(root, server);
    assert_eq!(seen, threads::SIGNAL_BADGE_BIT | 3, "an unbound notification woke the server");
    assert_eq!(
        notification.poll(),
        threads::SIGNAL_BADGE_BIT | 5,
        "the signal left pending after unbinding"
    );
    root.pass(
        "bind-notification",
        format_args!(
            "bound: a signal woke the server in Recv with its badge; unbound: it stayed pending"
        ),
    );
}

/// SetIPCBuffer moves the server to a new buffer: restarted there, it still echoes 120
/// words, which the kernel can only deliver through the buffer it was given.
pub fn set_ipc_buffer(root: &mut Root, server: &Server) {
    let tcb = server.thread.tcb;
    tcb.suspend().unwrap_or_else(|error| panic!("Suspend: {error}"));
    let frame: Frame = root.make(ObjectType::Frame);
    let address = threads::SPARE_IPC_BUFFER;
    frame
        .map(root.ipc, init::VSPACE, address, Rights::READ_WRITE, VmAttributes::DEFAULT)
        .unwrap_or_else(|error| panic!("mapping the new IPC buffer: {error}"));
    tcb.set_ipc_buffer(root.ipc, IpcBufferFrame { address, frame })
        .unwrap_or_else(|error| panic!("SetIPCBuffer: {error}"));
    let mut restart = server.thread.start_context(threads::ROLE_SERVER);
    restart.rdi = address;
    tcb.write_registers(root.ipc, true, &restart)
        .unwrap_or_else(|error| panic!("restarting the server: {error}"));
    let words: [u64; 120] = core::array::from_fn(|index| index as u64 ^ 0x5e7);
    let answer = request(root, server.client, threads::ECHO, &words);
    let inverted = answer.iter().zip(&words).all(|(echoed, sent)| *echoed == !sent);
    assert!(inverted, "120-word echo from the server on its new IPC buffer");
    root.pass(
        "set-ipc-buffer",
        format_args!(
            "the server, moved to a new IPC buffer at {address:#x} and restarted there, echoes \
             120 words"
        ),
    );
}

/// Starts the worker (priority 100), which counts signals on its notification.
pub fn start_worker(root: &mut Root) -> (Thread, Notification) {
    let notification: Notification = root.make(ObjectType::Notification);
    store(&threads::WORKER_NOTIFICATION, notification.cptr());
    let worker = threads::spawn(root, "binding-worker", threads::ROLE_WORKER, 100, None);
    (worker, notification)
}

fn set_priority(tcb: sel4::cap::Tcb, priority: u8, whose: &str) {
    tcb.set_priority(priority)
        .unwrap_or_else(|error| panic!("SetPriority of {whose} to {priority}: {error}"));
}

fn worker_count() -> u64 {
    load(&threads::WORKER_COUNT)
}

/// SetPriority decides who runs. On 5.0.0 a new priority of another thread takes effect at
/// the next scheduling decision (here a Yield); lowering the caller's own reschedules at once.
pub fn priorities(root: &mut Root, worker: &(Thread, Notification)) {
    let (worker, notification) = worker;
    let before = worker_count();
    notification.signal();
    assert_eq!(worker_count(), before, "a priority-100 thread ran before the root task (255)");
    set_priority(init::TCB, 150, "the root task");
    yield_now();
    assert_eq!(worker_count(), before, "a priority-100 thread ran before the root task (150)");
    set_priority(worker.tcb, 200, "the worker");
    yield_now();
    assert_eq!(
        worker_count(),
        before + 1,
        "the worker raised above the root task did not run at the next Yield"
    );
    set_priority(init::TCB, 255, "the root task");
    set_priority(worker.tcb, 100, "the worker");
    root.pass(
        "priority",
        format_args!(
            "a signalled priority-100 worker waits while the root task is at 255, and at 150 \
             across a Yield; raised to 200 it runs at the next Yield"
        ),
    );
}

/// SetMCPriority limits the priority a thread may give (here: itself).
pub fn mc_priority(root: &mut Root, server: &Server) {
    let tcb = server.thread.tcb;
    tcb.set_mc_priority(50).unwrap_or_else(|error| panic!("SetMCPriority: {error}"));
    let above = request(root, server.client, threads::SET_OWN_PRIORITY, &[60])[0];
    assert_eq!(
        above,
        Error::RangeError.code(),
        "the server raised itself above its maximum controlled priority"
    );
    let below = request(root, server.client, threads::SET_OWN_PRIORITY, &[40])[0];
    assert_eq!(below, 0, "the server could not lower itself below its MCP");
    set_priority(tcb, 200, "the server");
    tcb.set_mc_priority(200).unwrap_or_else(|error| panic!("SetMCPriority: {error}"));
    root.pass(
        "mc-priority",
        format_args!(
            "with MCP 50 the server's own SetPriority(60) is RangeError, SetPriority(40) succeeds"
        ),
    );
}

/// A suspended thread does not run even when it outranks the root task; Resume runs it.
pub fn suspend_resume(root: &mut Root, worker: &(Thread, Notification)) {
    let (worker, notification) = worker;
    worker.tcb.suspend().unwrap_or_else(|error| panic!("Suspend: {error}"));
    set_priority(worker.tcb, 200, "the worker");
    set_priority(init::TCB, 150, "the root task");
    let before = worker_count();
    notification.signal();
    assert_eq!(worker_count(), before, "a suspended thread ran");
    worker.tcb.resume().unwrap_or_else(|error| panic!("Resume: {error}"));
    assert_eq!(worker_count(), before + 1, "the resumed worker did not run");
    set_priority(init::TCB, 255, "the root task");
    set_priority(worker.tcb, 100, "the worker");
    root.pass(
        "suspend-resume",
        format_args!(
            "a suspended priority-200 worker ignored a signal while the root task was at 150; \
             Resume ran it at once"
        ),
    );
}

/// ReadRegisters shows where a thread stopped; WriteRegisters restarts it elsewhere.
pub fn registers(root: &mut Root, worker: &(Thread, Notification)) {
    let (worker, notification) = worker;
    let stopped = worker
        .tcb
        .read_registers(root.ipc, true)
        .unwrap_or_else(|error| panic!("ReadRegisters: {error}"));
    assert!(
        root.image().contains(&stopped.rip),
        "the worker stopped at {:#x}, outside the image",
        stopped.rip
    );
    assert!(
        worker.stack().contains(&stopped.rsp),
        "the worker's stack pointer {:#x} is outside its stack",
        stopped.rsp
    );
    let restart = worker.start_context(threads::ROLE_WORKER);
    worker
        .tcb
        .write_registers(root.ipc, false, &restart)
        .unwrap_or_else(|error| panic!("WriteRegisters: {error}"));
    let written = worker
        .tcb
        .read_registers(root.ipc, false)
        .unwrap_or_else(|error| panic!("ReadRegisters: {error}"));
    assert_eq!(
        (written.rip, written.rsp, written.rdi, written.rsi),
        (restart.rip, restart.rsp, restart.rdi, restart.rsi),
        "registers read back after WriteRegisters"
    );
    // Restarted from the top, the worker counts a signal again.
    worker.tcb.resume().unwrap_or_else(|error| panic!("Resume: {error}"));
    let before = worker_count();
    notification.signal();
    set_priority(init::TCB, 50, "the root task");
    assert_eq!(worker_count(), before + 1, "the restarted worker did not count");
    set_priority(init::TCB, 255, "the root task");
    expect_error(
        init::TCB.read_registers(root.ipc, false),
        Error::IllegalOperation,
        "ReadRegisters of the caller",
    );
    root.pass(
        "registers",
        format_args!(
            "ReadRegisters (suspending) found the worker at rip {:#x}, rsp {:#x}; \
             WriteRegisters to its entry read back; resumed, it ran from there",
            stopped.rip, stopped.rsp
        ),
    );
}

/// Yield lets a thread of the same priority run.
pub fn yield_to_equal_priority(root: &mut Root) {
    let spinner = threads::spawn(root, "binding-spinner", threads::ROLE_SPINNER, 255, None);
    let mut rounds = 0;
    for _ in 0..3 {
        let before = load(&threads::SPIN_COUNT);
        yield_now();
        let after = load(&threads::SPIN_COUNT);
        assert!(after > before, "Yield did not let the equal-priority spinner run");
        rounds += after - before;
    }
    spinner.tcb.suspend().unwrap_or_else(|error| panic!("Suspend: {error}"));
    root.pass("yield", format_args!("3 Yields let a priority-255 spinner run {rounds} rounds"));
}

/// A caller blocked on a badged capability stays blocked when the capability is revoked;
/// CancelBadgedSends releases it and its retried Call finds the slot empty.
pub fn cancel_badged_sends(root: &mut Root) {
    let endpoint: Endpoint = root.make(ObjectType::Endpoint);
    // CancelBadgedSends needs the badged capability with every right; clients get less.
    let broker_copy = root.mint(endpoint, Rights::ALL, 0x42);
    let client_copy = root.copy(broker_copy, CALL_RIGHTS);
    let done: Notification = root.make(ObjectType::Notification);
    store(&threads::SENDER_CAP, client_copy.cptr());
    store(&threads::SENDER_DONE, done.cptr());
    let sender = threads::spawn(root, "binding-sender", threads::ROLE_SENDER, 255, None);
    store(&threads::SENDER_TCB, sender.tcb.cptr());

    yield_now();
    assert_eq!(load(&threads::SENDER_RESULT), 0, "the Call to a silent endpoint returned");
    init::CNODE.slot(broker_copy.cptr()).revoke().unwrap_or_else(|error| panic!("Revoke: {error}"));
    expect_type(client_copy.cptr(), CapType::Null, "the client's copy after Revoke");
    yield_now();
    assert_eq!(
        load(&threads::SENDER_RESULT),
        0,
        "revoking the capability released the blocked caller"
    );
    init::CNODE
        .slot(broker_copy.cptr())
        .cancel_badged_sends()
        .unwrap_or_else(|error| panic!("CancelBadgedSends: {error}"));
    done.wait();
    assert_eq!(
        load(&threads::SENDER_RESULT),
        threads::SENDER_RETURNED | Error::InvalidCapability.code(),
        "what the released Call returned"
    );
    root.pass(
        "cancel-badged-sends",
        format_args!(
            "a Call blocked on badge 0x42 stayed blocked after Revoke; CancelBadgedSends \
             released it and the retried Call returned InvalidCapability"
        ),
    );
}
