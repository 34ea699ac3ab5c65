//! Test realms `early`, `late` and `caller`: clients of their parent's `echo` service (the
//! `lc-echo` program, which answers `generation * 1000 + value`).
//!
//! - `early` makes three calls and exits.
//! - `late` tells the memory manager it only serves (so that a run that ends when every
//!   realm is idle would end now), waits about three seconds of time-stamp counter, then
//!   connects and makes five calls: only a system that runs for ever answers them.
//! - `caller` makes 1,000 calls and reports how many were answered correctly.
//! - `registrar` registers a service and exits without ever serving a request: it owes no
//!   client a reply, so the abort path must make none.
//! - `labeller` sends `echo` a request with a valid argument (the words of `7u64`) under
//!   label 999, an operation the interface `Echo` does not have: the service must refuse it,
//!   not serve it. A raw seL4 Call, on purpose: no typed client sends an operation its
//!   interface does not declare.
//! - `forger` sends, on its own fault endpoint, a message shaped like the kernel's report of
//!   a bad memory access at 0xdead000 that never happened. On seL4 5.0.0 the memory manager
//!   cannot tell it from a real fault (see README, "Faults"): the forger must gain nothing a
//!   real fault would not give it, so it is stopped like a faulting realm and no one else is
//!   touched.
//! - `hoarder` (16 MiB budget) asks for 1,600 pages at once: they fit its budget but not the
//!   1,536 capability slots the memory manager keeps for one realm's objects, and the
//!   refusal must say so; then it asks for 4 pages, which it gets.
//! - `rawsrv` serves "raw" with a receive loop of its own (raw seL4 on purpose: the test is
//!   about a service that is not a `Server`), and faults on the first request; `rawcli`
//!   calls it as an `Echo`: its call must return (the abort path answers it).
//! - `dropper` (`max_connections = 1`) connects to `echo` five times, dropping each handle
//!   without `disconnect`: a dropped handle is let go of, so each connect succeeds.
//! - `garbler` writes nonsense into its control page (a deadline long past, a call site
//!   that is no instruction of its own) and then makes 200 calls to `echo` with no deadline
//!   and sleeps
//!   20 ms: its own calls and sleep still work, and nobody else is touched.
//! - `looper` asks to connect to `echo` 1,000 times, which the policy refuses each time, and
//!   reports how many were refused.
#![no_std]
#![no_main]

use realm_runtime::interface::{ReplyError, Response, Wire};
use realm_runtime::sel4::cap::Endpoint;
use realm_runtime::sel4::{MessageInfo, timestamp};
use realm_runtime::{Realm, println};
use test_protocols::Echo;

realm_runtime::main!(main);

/// About three seconds at the 1 to 3 GHz that QEMU's time-stamp counter runs at.
const LATE_WAIT_CYCLES: u64 = 6_000_000_000;

fn main(realm: &mut Realm) {
    let name = realm.name().expect("the memory manager knows this realm's name");
    match name.as_str() {
        "early" => calls(realm, 3),
        "late" => {
            realm.announce_serving();
            let start = timestamp::now();
            while timestamp::now().wrapping_sub(start) < LATE_WAIT_CYCLES {
                core::hint::spin_loop();
            }
            calls(realm, 5);
        }
        "caller" => calls(realm, 1000),
        "registrar" => match realm.register("spare") {
            Ok(_) => println!(realm, "registered \"spare\"; exiting outside any request"),
            Err(error) => println!(realm, "register refused: {error}"),
        },
        "labeller" => labeller(realm),
        "hoarder" => {
            match realm.allocate_pages(1600) {
                Ok(pages) => println!(realm, "1600 pages granted: {} bytes", pages.len()),
                Err(error) => println!(realm, "1600 pages refused: {error}"),
            }
            match realm.allocate_pages(4) {
                Ok(pages) => println!(realm, "then 4 pages granted: {} bytes", pages.len()),
                Err(error) => println!(realm, "then 4 pages refused: {error}"),
            }
        }
        "forger" => {
            // ip, address, prefetch flag, fault status: a data read at 0xdead000.
            let words = [0x0040_1000, 0x0dea_d000, 0, 4];
            let info = realm_runtime::sel4::kernel::fault_label::VM_FAULT;
            let Ok(info) = realm.ipc_buffer().set_message(info, &words, &[]) else { return };
            let fault_endpoint = Endpoint::from_cptr(realm_runtime::ipc::abi::slot::FAULT);
            fault_endpoint.call(realm.ipc_buffer(), info);
            println!(realm, "the forged fault was answered: the memory manager believed nothing");
        }
        "rawsrv" => {
            let Ok(service) = realm.register("raw") else {
                return println!(realm, "register refused");
            };
            realm.announce_serving();
            service.endpoint().recv(realm.ipc_buffer());
            let pointer = core::hint::black_box(0x1000usize) as *const u64;
            // SAFETY: deliberately unsound: the read faults, which is what this test needs.
            let _ = unsafe { core::ptr::read_volatile(pointer) };
        }
        "rawcli" => {
            let mut raw = loop {
                match realm.connect::<Echo>("raw") {
                    Ok(raw) => break raw,
                    Err(_) => {
                        let _ = realm.sleep(core::time::Duration::from_millis(5));
                    }
                }
            };
            let answer = raw.echo(realm, 1);
            println!(realm, "the call to raw returned: {answer:?}");
        }
        "dropper" => {
            let connected = (0..5)
                .filter(|_| match realm.connect::<Echo>("echo") {
                    Ok(connection) => {
                        drop(connection);
                        true
                    }
                    Err(_) => false,
                })
                .count();
            println!(realm, "{connected} of 5 connects after dropping the handle each time");
        }
        "garbler" => garbler(realm),
        "looper" => {
            let refused = (0..1000).filter(|_| realm.connect::<Echo>("echo").is_err()).count();
            println!(realm, "{refused} of 1000 connects refused");
        }
        _ => println!(realm, "has no part in this test"),
    }
}

/// Connects to `echo` and makes `count` calls; prints how many were answered as expected.
fn calls(realm: &mut Realm, count: u64) {
    let mut echo = match realm.connect::<Echo>("echo") {
        Ok(echo) => echo,
        Err(error) => return println!(realm, "connect refused: {error}"),
    };
    let answered = (0..count).filter(|&value| echo.echo(realm, value) == Ok(1000 + value)).count();
    println!(realm, "{answered} of {count} calls answered");
}

/// Calls `echo` with the words of `7u64` under label 999; prints how the service answered.
fn labeller(realm: &mut Realm) {
    let echo = match realm.connect::<Echo>("echo") {
        Ok(echo) => echo,
        Err(error) => return println!(realm, "connect refused: {error}"),
    };
    let Ok(length) = Wire::encode(&7u64, realm.ipc_buffer().msg_mut()) else {
        return println!(realm, "cannot encode the request");
    };
    let Ok(info) = MessageInfo::new(999, 0, length) else { return };
    let reply = echo.connection().endpoint().call(realm.ipc_buffer(), info);
    // Classified as the typed client classifies a reply to an operation `-> u64`.
    match <u64 as Response>::decode(reply.label(), realm.ipc_buffer().message(reply)) {
        Ok(value) => println!(realm, "label 999 was served: {value}"),
        Err(ReplyError::BadRequest(reason)) => println!(realm, "label 999 refused: {reason:?}"),
        Err(error) => println!(realm, "label 999: the reply is not a refusal ({error:?})"),
    }
}

/// See the module doc.
fn garbler(realm: &mut Realm) {
    let Ok(mut echo) = realm.connect::<Echo>("echo") else {
        return println!(realm, "cannot connect");
    };
    // One call with a deadline, so that the memory manager watches the control page.
    let first =
        realm.with_deadline(core::time::Duration::from_secs(1), |realm| echo.echo(realm, 1));
    let control = realm_runtime::ipc::abi::CONTROL as *mut u64;
    // SAFETY: the control page is mapped read-write at `CONTROL` for the realm's life; the
    // words written are the deadline and the call site (`ipc::abi::control`).
    unsafe {
        core::ptr::write_volatile(
            control.add(realm_runtime::ipc::abi::control::call_deadline(
                realm_runtime::ipc::ThreadId::MAIN,
            )),
            1,
        );
        core::ptr::write_volatile(control.add(realm_runtime::ipc::abi::control::CALL_SITE), 0xdead);
    }
    let answered = (0..200u64).filter(|&value| echo.echo(realm, value) == Ok(1000 + value)).count();
    let slept = realm.sleep(core::time::Duration::from_millis(20));
    println!(
        realm,
        "garbage control page: first {first:?}, {answered} of 200 calls answered, sleep {slept:?}"
    );
}
