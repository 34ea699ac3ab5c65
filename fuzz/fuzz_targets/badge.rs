//! Badges (`ipc::Badge::decode`, `Badge::realm`, `Badge::connection`): the word the kernel
//! delivers with every message, the memory manager's only source of who sent it. Any word
//! either decodes to a badge that re-encodes to itself (within seL4's 28 badge bits, never
//! zero) or is refused, and the narrower readers agree with `decode`.
#![no_main]

use ipc::{Badge, BadgeError, BadgeKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|badge: u64| {
    let decoded = Badge::decode(badge);
    if let Ok(kind) = decoded {
        let again = match kind {
            BadgeKind::Realm { realm, thread } => Badge::for_realm_thread(realm, thread),
            BadgeKind::Fault { realm, thread } => Badge::for_fault_thread(realm, thread),
            BadgeKind::Inbox { thread } => Badge::for_inbox(thread),
            BadgeKind::Connection { connection, service } => {
                Badge::for_connection(connection, service)
            }
            BadgeKind::Timer => Badge::TIMER,
            BadgeKind::Notification { bits } => {
                Badge::for_notification(bits).expect("a decoded notification re-encodes")
            }
        };
        assert_eq!(again.value(), badge);
        assert!(badge != 0 && badge < 1 << ipc::badge::BADGE_BITS);
    }
    let expect_realm = match decoded {
        Ok(BadgeKind::Realm { realm, .. }) => Ok(realm),
        Ok(found) => Err(BadgeError::WrongKind { found }),
        Err(error) => Err(error),
    };
    assert_eq!(Badge::realm(badge), expect_realm);
    let expect_connection = match decoded {
        Ok(BadgeKind::Connection { connection, .. }) => Ok(connection),
        Ok(found) => Err(BadgeError::WrongKind { found }),
        Err(error) => Err(error),
    };
    assert_eq!(Badge::connection(badge), expect_connection);
});
