//! One name rule for every layer. The same list of names, valid and each kind of invalid,
//! goes to (a) the `system.toml` parser (as a realm's name and as a service's), (b) the
//! protocol's decoder (a Register request's message words, as a realm would send them), and
//! (c) the sans-IO broker (the same words through `Broker::handle_message`); all three must
//! reach the verdict the list expects, and the run-time layers must name the same
//! `NameError` (which byte, or which length) as `vocabulary::Name::new`.
//!
//! A host test: it needs no kernel, and runs in `make test` with the QEMU suites.

use broker::{Broker, KernelOp, Layout, LogLine, OpSink, SlotRange};
use ipc::{Error, Field, Malformed, Request, RequestKind, Response};
use system_config::Rule;
use vocabulary::limits::MAX_NAME_BYTES;
use vocabulary::{Name, NameError, RealmId};

/// Each name and what the rule says of it: `Ok` for a valid name, else the exact error.
fn names() -> Vec<(String, Result<(), NameError>)> {
    let invalid = |index: u8, byte: u8| Err(NameError::InvalidByte { index, byte });
    vec![
        ("kv".into(), Ok(())),
        ("a".into(), Ok(())),
        ("plugin-api".into(), Ok(())),
        ("0-9-az".into(), Ok(())),
        ("a".repeat(MAX_NAME_BYTES), Ok(())),
        (String::new(), Err(NameError::Empty)),
        ("a".repeat(MAX_NAME_BYTES + 1), Err(NameError::TooLong { length: 33 })),
        ("Kv".into(), invalid(0, b'K')),
        ("kv-Store".into(), invalid(3, b'S')),
        ("kv_store".into(), invalid(2, b'_')),
        ("kv.store".into(), invalid(2, b'.')),
        ("kv store".into(), invalid(2, b' ')),
        // Multibyte UTF-8: refused at its first byte (é is 0xc3 0xa9).
        ("caf\u{e9}".into(), invalid(3, 0xc3)),
        // 16 two-byte characters: 32 bytes, so it is the byte, not the length, that is wrong.
        ("\u{e9}".repeat(16), invalid(0, 0xc3)),
        // Control bytes.
        ("kv\u{1}".into(), invalid(2, 0x01)),
        ("kv\u{7f}".into(), invalid(2, 0x7f)),
        ("\tkv".into(), invalid(0, b'\t')),
    ]
}

/// `text` as a TOML basic string, every character that needs it escaped.
fn toml_string(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        if c == '"' || c == '\\' || c.is_control() {
            quoted.push_str(&format!("\\u{:04X}", u32::from(c)));
        } else {
            quoted.push(c);
        }
    }
    quoted.push('"');
    quoted
}

/// (a) The parser's verdict on a system whose only service, or whose second realm, is
/// called `text`: `Ok` if it parses, else the rules of its errors.
fn parser_verdict(text: &str) -> (Result<(), Vec<Rule>>, Result<(), Vec<Rule>>) {
    let root =
        "[[realm]]\nname = \"init\"\nprogram = \"init\"\npriority = 10\nmemory = \"64 KiB\"\n";
    let as_service =
        format!("{root}\n[[service]]\nname = {}\nrealm = \"init\"\n", toml_string(text));
    let as_realm = format!(
        "{root}\n[[realm]]\nname = {}\nprogram = \"init\"\nparent = \"init\"\npriority = 1\nmemory = \"4 KiB\"\n",
        toml_string(text)
    );
    let verdict = |system: &str| {
        system_config::parse("system.toml", system, &["init"])
            .map(drop)
            .map_err(|errors| errors.iter().map(|error| error.rule).collect::<Vec<_>>())
    };
    (verdict(&as_service), verdict(&as_realm))
}

/// The words of a Register request naming `bytes`, as a realm would send them: the length
/// word, then the bytes eight to a word, little-endian, zero-padded, then the presence words
/// of no interface and no shared endpoint.
fn register_words(bytes: &[u8]) -> Vec<u64> {
    let mut words = vec![bytes.len() as u64];
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        words.push(u64::from_le_bytes(word));
    }
    // No interface, no shared endpoint: the two presence words.
    words.extend([0, 0]);
    words
}

/// Counts the kernel ops a call asks for.
struct Ops(usize);

impl OpSink for Ops {
    fn run(&mut self, _op: KernelOp) {
        self.0 += 1;
    }

    fn log(&mut self, _line: LogLine<'_>) {}
}

/// A broker with one realm that may register any undeclared name.
fn broker() -> Box<Broker<'static>> {
    let text = "[[realm]]\nname = \"init\"\nprogram = \"p\"\npriority = 100\nmemory = \"1 MiB\"\n\
                max_services = 64\nmax_connections = 64\n";
    let config = system_config::parse("system.toml", text, &["p"]).unwrap();
    let config = Box::leak(Box::new(config));
    let mut broker = Box::new(Broker::empty());
    let layout = Layout {
        realm_slots: &[SlotRange { start: 10_000, count: 64 }],
        broker_slots: SlotRange { start: 1, count: broker::BROKER_SLOTS_NEEDED as u16 },
    };
    broker.configure(config, &layout).unwrap();
    broker
}

#[test]
fn every_layer_applies_the_same_name_rule() {
    let label = RequestKind::Register.code();
    for (text, expected) in names() {
        let bytes = text.as_bytes();
        // The rule itself.
        assert_eq!(Name::new(&text).map(drop), expected, "vocabulary on {text:?}");

        // (a) system.toml, as a service name and as a realm name.
        let (as_service, as_realm) = parser_verdict(&text);
        match expected {
            Ok(()) => {
                assert_eq!(as_service, Ok(()), "parser, service {text:?}");
                assert_eq!(as_realm, Ok(()), "parser, realm {text:?}");
            }
            Err(_) => {
                assert_eq!(as_service, Err(vec![Rule::BadName]), "parser, service {text:?}");
                assert_eq!(as_realm, Err(vec![Rule::BadName]), "parser, realm {text:?}");
            }
        }

        // (b) the protocol decoder, from the message words.
        let words = register_words(bytes);
        let decoded = Request::decode(label, &words);
        let refusal = |error| Malformed::BadName { field: Field::ServiceName, error };
        match expected {
            Ok(()) => {
                let request = Request::Register {
                    service: Name::new(&text).unwrap(),
                    interface: None,
                    share: None,
                };
                // The words built here are the ones the runtime sends.
                let message = request.encode();
                assert_eq!((message.label(), message.words()), (label, &words[..]));
                assert_eq!(decoded, Ok(request), "decoder on {text:?}");
            }
            Err(error) => assert_eq!(decoded, Err(refusal(error)), "decoder on {text:?}"),
        }

        // (c) the broker, handed the same words by the realm.
        let mut broker = broker();
        let mut ops = Ops(0);
        let reply = broker.handle_message(RealmId(0), label, &words, &mut ops);
        match expected {
            Ok(()) => {
                assert!(
                    matches!(reply, Ok(Response::Registered { .. })),
                    "broker on {text:?}: {reply:?}"
                );
                let name = Name::new(&text).unwrap();
                assert!(broker.registry().find(&name).is_some(), "registered {text:?}");
                assert!(ops.0 > 0, "a registration makes its endpoint");
            }
            Err(error) => {
                assert_eq!(
                    reply,
                    Err(Error::MalformedRequest { reason: refusal(error) }),
                    "broker on {text:?}"
                );
                assert_eq!(ops.0, 0, "a refused name makes nothing");
            }
        }
    }
}

/// The list covers every kind of refusal the rule has, and the edges of the length.
#[test]
fn the_list_covers_every_kind_of_name() {
    let names = names();
    assert!(names.iter().any(|(_, verdict)| *verdict == Err(NameError::Empty)));
    assert!(names.iter().any(|(_, verdict)| matches!(verdict, Err(NameError::TooLong { .. }))));
    assert!(names.iter().any(|(text, verdict)| text.len() == MAX_NAME_BYTES && verdict.is_ok()));
    for byte in [b'A', b'_', b'.', b' ', 0xc3, 0x01] {
        assert!(
            names.iter().any(|(text, verdict)| text.as_bytes().contains(&byte)
                && matches!(verdict, Err(NameError::InvalidByte { byte: b, .. }) if *b == byte)
                || (byte == b'A'
                    && matches!(verdict, Err(NameError::InvalidByte { byte: b'K', .. })))),
            "a name refused for byte {byte:#04x}"
        );
    }
}
