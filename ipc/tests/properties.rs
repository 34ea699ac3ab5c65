//! Property tests of the protocol encoding: decoding never panics on arbitrary words, and
//! every request and reply survives an encode/decode round trip within seL4's limits.

use ipc::{
    Badge, BadgeKind, CloseReason, ConnectionId, Error, Field, InterfaceId, MAX_NAME_BYTES,
    MAX_PROTOCOL_WORDS, Malformed, Missing, Name, NameError, RealmId, Reply, Request, Resource,
    Response, Rule, ServiceIndex, decode_reply, encode_reply,
};
use proptest::prelude::*;

/// seL4 labels are 20 bits wide.
use sel4::message::MAX_LABEL;
/// seL4 carries at most this many message words (the binding's constant).
use vocabulary::limits::MAX_MESSAGE_WORDS;

fn name() -> impl Strategy<Value = Name> {
    proptest::string::string_regex(&format!("[a-z0-9-]{{1,{MAX_NAME_BYTES}}}"))
        .unwrap()
        .prop_map(|text| Name::new(&text).unwrap())
}

fn connection() -> impl Strategy<Value = ConnectionId> {
    (0..ConnectionId::INDEX_LIMIT as u16, 1..=ConnectionId::MAX_GENERATION)
        .prop_map(|(index, generation)| ConnectionId::new(index, generation).unwrap())
}

fn one_of<T: Copy + std::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
    proptest::sample::select(all)
}

fn interface() -> impl Strategy<Value = Option<InterfaceId>> {
    proptest::option::of(
        (name(), any::<u64>()).prop_map(|(name, fingerprint)| InterfaceId { name, fingerprint }),
    )
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (name(), interface(), proptest::option::of(name())).prop_map(
            |(service, interface, share)| Request::Register { service, interface, share }
        ),
        (name(), interface())
            .prop_map(|(service, interface)| Request::Connect { service, interface }),
        connection().prop_map(|connection| Request::Disconnect { connection }),
        (name(), name()).prop_map(|(child, service)| Request::Grant { child, service }),
        (name(), name()).prop_map(|(child, service)| Request::RevokeGrant { child, service }),
        connection().prop_map(|connection| Request::Status { connection }),
    ]
}

fn name_error() -> impl Strategy<Value = NameError> {
    prop_oneof![
        Just(NameError::Empty),
        any::<u64>().prop_map(|length| NameError::TooLong { length }),
        (any::<u8>(), any::<u8>()).prop_map(|(index, byte)| NameError::InvalidByte { index, byte }),
    ]
}

fn malformed() -> impl Strategy<Value = Malformed> {
    let field = || one_of(Field::ALL);
    prop_oneof![
        any::<u64>().prop_map(|label| Malformed::UnknownLabel { label }),
        (any::<u32>(), any::<u32>())
            .prop_map(|(needed, actual)| Malformed::Truncated { needed, actual }),
        (any::<u32>(), any::<u32>())
            .prop_map(|(expected, actual)| Malformed::TrailingWords { expected, actual }),
        (field(), name_error()).prop_map(|(field, error)| Malformed::BadName { field, error }),
        field().prop_map(|field| Malformed::NamePadding { field }),
        any::<u64>().prop_map(|value| Malformed::BadConnectionId { value }),
        (field(), any::<u64>()).prop_map(|(field, value)| Malformed::UnknownCode { field, value }),
        (field(), any::<u64>()).prop_map(|(field, value)| Malformed::OutOfRange { field, value }),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        (any::<u64>(), any::<u32>(), 0..ServiceIndex::LIMIT as u8).prop_map(
            |(endpoint_slot, generation, index)| Ok(Response::Registered {
                endpoint_slot,
                generation,
                index: ServiceIndex::new(index).unwrap()
            })
        ),
        (connection(), any::<u64>(), any::<u32>()).prop_map(
            |(connection, slot, service_generation)| Ok(Response::Connected {
                connection,
                slot,
                service_generation
            })
        ),
        Just(Ok(Response::Done)),
        any::<u32>().prop_map(|service_generation| Ok(Response::Live { service_generation })),
        one_of(Missing::ALL).prop_map(|what| Err(Error::NotFound { what })),
        one_of(Rule::ALL).prop_map(|rule| Err(Error::Denied { rule })),
        Just(Err(Error::AlreadyRegistered)),
        one_of(Resource::ALL).prop_map(|what| Err(Error::QuotaExceeded { what })),
        malformed().prop_map(|reason| Err(Error::MalformedRequest { reason })),
        one_of(CloseReason::ALL).prop_map(|reason| Err(Error::Disconnected { reason })),
        any::<u32>().prop_map(|generation| Err(Error::ServiceRestarted { generation })),
        Just(Err(Error::NotOwner)),
        Just(Err(Error::ServiceRestarting)),
        Just(Err(Error::NotYetRegistered)),
        Just(Err(Error::ServiceGone)),
        Just(Err(Error::InterfaceMismatch)),
    ]
}

/// Words that are often small (codes, lengths) and sometimes anything.
fn word() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..40, any::<u64>(), (0u64..=u64::from(u8::MAX)).prop_map(|b| b << 8)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn requests_round_trip(request in request()) {
        let message = request.encode();
        prop_assert!(message.label() <= MAX_LABEL);
        prop_assert!(message.words().len() <= MAX_PROTOCOL_WORDS);
        prop_assert!(message.words().len() <= MAX_MESSAGE_WORDS);
        prop_assert_eq!(Request::decode(message.label(), message.words()), Ok(request));
    }

    #[test]
    fn replies_round_trip(reply in reply()) {
        let message = encode_reply(&reply);
        prop_assert!(message.label() <= MAX_LABEL);
        prop_assert!(message.words().len() <= MAX_PROTOCOL_WORDS);
        prop_assert!(message.words().len() <= MAX_MESSAGE_WORDS);
        prop_assert_eq!(decode_reply(message.label(), message.words()), Ok(reply));
    }

    /// Arbitrary words either decode to a request that re-encodes to exactly those words,
    /// or are refused: the encoding is canonical and decoding never panics.
    #[test]
    fn request_decoding_is_total_and_canonical(
        label in prop_oneof![0u64..8, any::<u64>()],
        words in proptest::collection::vec(word(), 0..20),
    ) {
        if let Ok(request) = Request::decode(label, &words) {
            let message = request.encode();
            prop_assert_eq!(message.label(), label);
            prop_assert_eq!(message.words(), &words[..]);
        }
    }

    #[test]
    fn reply_decoding_is_total_and_canonical(
        label in prop_oneof![0u64..30, any::<u64>()],
        words in proptest::collection::vec(word(), 0..16),
    ) {
        if let Ok(reply) = decode_reply(label, &words) {
            let message = encode_reply(&reply);
            prop_assert_eq!(message.label(), label);
            prop_assert_eq!(message.words(), &words[..]);
        }
    }

    /// Truncating a valid request is always reported as truncation, never misread.
    #[test]
    fn truncated_requests_are_reported(request in request(), cut in 1usize..18) {
        let message = request.encode();
        let words = message.words();
        let kept = words.len().saturating_sub(cut);
        prop_assume!(kept < words.len());
        let result = Request::decode(message.label(), &words[..kept]);
        prop_assert!(
            matches!(result, Err(Malformed::Truncated { actual, .. }) if actual as usize == kept),
            "{:?}", result
        );
    }

    #[test]
    fn badges_round_trip(realm in any::<u8>(), connection in connection(), index in 0u8..8) {
        let service = ServiceIndex::new(index).unwrap();
        let realm_badge = Badge::for_realm(RealmId(realm));
        let connection_badge = Badge::for_connection(connection, service);
        prop_assert!(realm_badge.value() != 0 && realm_badge.value() < 1 << 28);
        prop_assert!(connection_badge.value() != 0 && connection_badge.value() < 1 << 28);
        prop_assert_eq!(Badge::decode(realm_badge.value()), Ok(BadgeKind::Realm { realm: RealmId(realm), thread: ipc::ThreadId::MAIN }));
        prop_assert_eq!(Badge::decode(connection_badge.value()), Ok(BadgeKind::Connection { connection, service }));
    }

    /// Any word either decodes to a badge that re-encodes to itself, or is refused.
    #[test]
    fn badge_decoding_is_total_and_canonical(badge in prop_oneof![any::<u64>(), 0u64..(1 << 28)]) {
        match Badge::decode(badge) {
            Ok(BadgeKind::Realm { realm, thread }) => prop_assert_eq!(Badge::for_realm_thread(realm, thread).value(), badge),
            Ok(BadgeKind::Connection { connection, service }) => {
                prop_assert_eq!(Badge::for_connection(connection, service).value(), badge)
            }
            Ok(BadgeKind::Notification { bits }) => {
                prop_assert_eq!(Badge::for_notification(bits).map(|b| b.value()), Some(badge))
            }
            Ok(BadgeKind::Fault { realm, thread }) => prop_assert_eq!(Badge::for_fault_thread(realm, thread).value(), badge),
            Ok(BadgeKind::Inbox { thread }) => prop_assert_eq!(Badge::for_inbox(thread).value(), badge),
            Ok(BadgeKind::Timer) => prop_assert_eq!(Badge::TIMER.value(), badge),
            Err(_) => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Realm requests and their replies: decoding any words never panics, and whatever
    /// decodes re-encodes to exactly the same words.
    #[test]
    fn realm_requests_decode_totally_and_canonically(
        label in prop_oneof![30u64..50, any::<u64>()],
        first in prop_oneof![0u64..100, any::<u64>()],
        rest in proptest::collection::vec(prop_oneof![0u64..256, any::<u64>()], 0..16),
    ) {
        let words: Vec<u64> = std::iter::once(first).chain(rest).collect();
        use ipc::realm::{RealmRequest, decode_realm_reply, encode_realm_reply};
        if let Ok(Some(RealmRequest::Print { line })) = RealmRequest::decode(label, &words) {
            // A line re-encodes from its text and its cut mark.
            use ipc::console::{LINE_WORDS, MAX_LINE_BYTES, encode_line, line_text};
            let mut text = [0u8; MAX_LINE_BYTES];
            let text = line_text(&words, line, &mut text);
            let mut again = [0u64; LINE_WORDS];
            let used = encode_line(text, line.cut, &mut again);
            prop_assert_eq!(&again[..used], &words[..]);
        } else if let Ok(Some(request)) = RealmRequest::decode(label, &words) {
            let message = request.encode();
            prop_assert_eq!(message.label(), label);
            prop_assert_eq!(message.words(), &words[..]);
        }
        if let Ok(reply) = decode_realm_reply(label, &words) {
            let message = encode_realm_reply(&reply);
            prop_assert_eq!(message.label(), label);
        }
    }
}
