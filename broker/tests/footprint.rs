//! The broker's memory footprint: its size (it lives in a static of the memory manager) and
//! the stack its calls need (the memory manager runs on a 256 KiB stack). Nothing a call
//! produces is collected: with the tables full, the largest call there is (a realm holding
//! as many connections as a realm may, 255, and owning every service but one dies) runs on a
//! small stack.

use broker::{BROKER_SLOTS_NEEDED, Broker, KernelOp, Layout, LogLine, OpSink, Request, SlotRange};
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

/// Connections one realm may hold (`max_connections`, a `u8` in the system description).
const MOST_PER_REALM: usize = u8::MAX as usize;
/// The dying realm's connections.
const HELD: usize = MOST_PER_REALM;

/// The realms that hold the connections to heavy's services, and how many each holds.
fn leaves() -> Vec<usize> {
    let mut left = MAX_CONNECTIONS - HELD;
    let mut leaves = Vec::new();
    while left > 0 {
        leaves.push(left.min(MOST_PER_REALM));
        left -= left.min(MOST_PER_REALM);
    }
    leaves
}

/// Every table full: "base" (0) provides one service; "heavy" (1), its child, owns every
/// other service and holds 255 connections (the most a realm may), to "base"; "leaf-i"
/// (2, 3, ...), heavy's children, hold the others, to heavy's services. Every quota is the
/// realm's share exactly: the quotas add up to the broker's tables, as the checker allows.
fn full_broker() -> Box<Broker<'static>> {
    let realm = |name: &str, parent: Option<&str>, services: usize, connections: usize| {
        let parent = parent.map_or(String::new(), |parent| format!("parent = \"{parent}\"\n"));
        format!(
            "[[realm]]\nname = \"{name}\"\nprogram = \"p\"\n{parent}priority = 100\n\
             memory = \"1 MiB\"\nmax_services = {services}\nmax_connections = {connections}\n"
        )
    };
    let mut text = realm("base", None, 1, 0);
    text += &realm("heavy", Some("base"), MAX_REGISTERED_SERVICES - 1, HELD);
    let mut ranges = vec![
        SlotRange { start: 10_000, count: 1 },
        SlotRange { start: 20_000, count: (MAX_REGISTERED_SERVICES - 1 + HELD) as u16 },
    ];
    for (i, &connections) in leaves().iter().enumerate() {
        text += &realm(&format!("leaf-{i}"), Some("heavy"), 0, connections);
        ranges.push(SlotRange { start: 30_000 + 1_000 * i as u64, count: connections as u16 });
    }
    let config = system_config::parse("system.toml", &text, &["p"]).unwrap();
    let config = Box::leak(Box::new(config));
    let mut broker = Box::new(Broker::empty());
    let broker_slots = SlotRange { start: 1, count: BROKER_SLOTS_NEEDED as u16 };
    broker.configure(config, &Layout { realm_slots: &ranges, broker_slots }).unwrap();
    let mut call = |realm: u8, request: Request| {
        broker.handle(RealmId(realm), &request, &mut Count(0)).unwrap();
    };
    let service = |i: usize| name(&format!("s{i}"));
    call(0, Request::Register { service: name("base"), interface: None, share: None });
    for i in 1..MAX_REGISTERED_SERVICES {
        call(1, Request::Register { service: service(i), interface: None, share: None });
    }
    for _ in 0..HELD {
        call(1, Request::Connect { service: name("base"), interface: None });
    }
    let mut i = 0;
    for (leaf, &connections) in leaves().iter().enumerate() {
        for _ in 0..connections {
            let service = service(1 + i % (MAX_REGISTERED_SERVICES - 1));
            call(2 + leaf as u8, Request::Connect { service, interface: None });
            i += 1;
        }
    }
    assert_eq!(broker.registry().connections().count(), MAX_CONNECTIONS);
    broker
}

/// 172 KiB before typed interfaces; each of the 1024 service records now also holds the
/// interface it was registered with (56 bytes) and its index on its endpoint, and the
/// registry one record per endpoint: about 235 KiB, in the memory manager's `.bss`.
#[test]
fn the_broker_fits_a_static_of_under_256_kib() {
    let size = size_of::<Broker<'static>>();
    assert!(size <= 256 * 1024, "the broker is {size} bytes");
}

/// The test runs on a thread with a 32 KiB stack (it needs less than 16 KiB, in debug
/// builds too; the memory manager has 256 KiB).
#[test]
fn the_largest_calls_run_on_a_small_stack() {
    let mut broker = full_broker();
    let small = std::thread::Builder::new().stack_size(32 * 1024);
    let thread = small.spawn(move || {
        let mut count = Count(0);
        let message = Request::Connect { service: name("s5"), interface: None }.encode();
        let reply = broker.handle_message(RealmId(2), message.label(), message.words(), &mut count);
        // Every connection slot is taken.
        assert!(reply.is_err());
        broker.realm_died(RealmId(1), &mut count);
        assert_eq!(broker.registry().service_count(), 1);
        count.0
    });
    let produced = thread.unwrap().join().unwrap();
    // The refusal is not logged (quota), so: the death's ops and events only.
    let held = HELD;
    let others = MAX_CONNECTIONS - held;
    let services = MAX_REGISTERED_SERVICES - 1;
    assert_eq!(produced, 5 * held + 4 * services + 2 * others + 1);
}
