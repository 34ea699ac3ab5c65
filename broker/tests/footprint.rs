//! The broker's memory footprint: its size (it lives in a static of the memory manager) and
//! the stack its calls need (the memory manager runs on a 256 KiB stack). Nothing a call
//! produces is collected: with the tables full, the largest call there is (a realm holding
//! half the connections and owning every service but one dies) runs on a small stack.

use broker::{
    BROKER_SLOTS_NEEDED, Broker, BrokerConfig, KernelOp, LogLine, OpSink, Quota, RealmSpec,
    Request, SlotRange,
};
use ipc::{Name, RealmId};
use vocabulary::limits::{MAX_CONNECTIONS, MAX_REGISTERED_SERVICES};

/// Counts ops and formats every log line, as the memory manager would print it.
struct Count(usize);

impl OpSink for Count {
    fn run(&mut self, _op: KernelOp) {
        self.0 += 1;
    }

    fn log(&mut self, line: LogLine<'_>) {
        assert!(!line.to_string().is_empty());
        self.0 += 1;
    }
}

fn name(text: &str) -> Name {
    Name::new(text).unwrap()
}

/// Every table full: "base" (0) provides one service; "heavy" (1), its child, owns every
/// other service and holds half the connections, to "base"; "leaf" (2), heavy's child, holds
/// the other half, to heavy's services.
fn full_broker() -> Box<Broker> {
    let held = MAX_CONNECTIONS / 2;
    let spec = |text: &str, parent, start, count: usize| RealmSpec {
        name: name(text),
        parent,
        slots: SlotRange { start, count: count as u16 },
        quota: Quota { max_services: u16::MAX, max_connections: u16::MAX },
    };
    let realms = [
        spec("base", None, 10_000, 1),
        spec("heavy", Some(RealmId(0)), 20_000, MAX_REGISTERED_SERVICES - 1 + held),
        spec("leaf", Some(RealmId(1)), 30_000, MAX_CONNECTIONS - held),
    ];
    let mut broker = Box::new(Broker::empty());
    let broker_slots = SlotRange { start: 1, count: BROKER_SLOTS_NEEDED as u16 };
    let config = BrokerConfig { realms: &realms, grants: &[], services: &[], broker_slots };
    broker.configure(&config).unwrap();
    let mut call = |realm: u8, request: Request| {
        broker.handle(RealmId(realm), &request, &mut Count(0)).unwrap();
    };
    let service = |i: usize| name(&format!("s{i}"));
    call(0, Request::Register { service: name("base") });
    for i in 1..MAX_REGISTERED_SERVICES {
        call(1, Request::Register { service: service(i) });
    }
    for i in 0..MAX_CONNECTIONS {
        match i < held {
            true => call(1, Request::Connect { service: name("base") }),
            false => call(
                2,
                Request::Connect { service: service(1 + i % (MAX_REGISTERED_SERVICES - 1)) },
            ),
        }
    }
    assert_eq!(broker.registry().connections().count(), MAX_CONNECTIONS);
    broker
}

#[test]
fn the_broker_fits_a_static_of_under_192_kib() {
    let size = size_of::<Broker>();
    assert!(size <= 192 * 1024, "the broker is {size} bytes");
}

/// The test runs on a thread with a 32 KiB stack (it needs less than 16 KiB, in debug
/// builds too; the memory manager has 256 KiB).
#[test]
fn the_largest_calls_run_on_a_small_stack() {
    let mut broker = full_broker();
    let small = std::thread::Builder::new().stack_size(32 * 1024);
    let thread = small.spawn(move || {
        let mut count = Count(0);
        let message = Request::Connect { service: name("s5") }.encode();
        let reply = broker.handle_message(RealmId(2), message.label(), message.words(), &mut count);
        // Every connection slot is taken.
        assert!(reply.is_err());
        broker.realm_died(RealmId(1), &mut count);
        assert_eq!(broker.registry().service_count(), 1);
        count.0
    });
    let produced = thread.unwrap().join().unwrap();
    // The refusal is not logged (quota), so: the death's ops and events only.
    let held = MAX_CONNECTIONS / 2;
    let others = MAX_CONNECTIONS - held;
    let services = MAX_REGISTERED_SERVICES - 1;
    assert_eq!(produced, 5 * held + 4 * services + 2 * others + 1);
}
