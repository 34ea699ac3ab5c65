//! Reading the memory manager's machine-readable event lines back from serial.
//!
//! The format (`SWITCHBOARD-EVENT <kind> key=value ...`, percent-encoded) is defined and
//! written by the `console` crate ([`console::event`]); this module parses it, so tests can
//! assert on what the system decided rather than on sentences meant for people. Only a line
//! that *starts* with the prefix is an event: realm output is always shown after its realm's
//! `[name]`, so a realm cannot forge one.

use std::collections::BTreeMap;

pub use console::EVENT_PREFIX;

/// One event line, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// What happened, for example `connect-denied`.
    pub kind: String,
    /// The fields, decoded, by key.
    pub fields: BTreeMap<String, String>,
}

impl Event {
    /// The value of field `key`, if the event has it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    /// Whether this is a `kind` event whose fields include every `(key, value)` of `fields`
    /// (it may have others).
    pub fn matches(&self, kind: &str, fields: &[(&str, &str)]) -> bool {
        self.kind == kind && fields.iter().all(|&(key, value)| self.get(key) == Some(value))
    }
}

/// The event on `line`, or `None` when the line is not an event line or is malformed (an
/// empty kind or key, a field without `=`, a bad `%` escape, text that is not UTF-8 once
/// decoded, or a key given twice). A trailing `\r` or `\n` is ignored.
pub fn parse_event(line: &str) -> Option<Event> {
    let line = line.trim_end_matches(['\r', '\n']);
    let rest = line.strip_prefix(EVENT_PREFIX)?.strip_prefix(' ')?;
    let mut tokens = rest.split(' ');
    let kind = decode(tokens.next()?).filter(|kind| !kind.is_empty())?;
    let mut fields = BTreeMap::new();
    for token in tokens {
        let (key, value) = token.split_once('=')?;
        let key = decode(key).filter(|key| !key.is_empty())?;
        let value = decode(value)?;
        if fields.insert(key, value).is_some() {
            return None;
        }
    }
    Some(Event { kind, fields })
}

/// Undoes the percent-encoding of one kind, key or value.
fn decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, after)) = rest.split_first() {
        if byte == b'%' {
            let hex = std::str::from_utf8(after.get(..2)?).ok()?;
            if !hex.bytes().all(|digit| digit.is_ascii_hexdigit()) {
                return None;
            }
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &after[2..];
        } else {
            bytes.push(byte);
            rest = after;
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use console::EventLine;
    use proptest::prelude::*;

    fn format(kind: &str, fields: &BTreeMap<String, String>) -> String {
        let mut line = String::new();
        let mut event = EventLine::start(&mut line, kind).unwrap();
        for (key, value) in fields {
            event.field(key, value).unwrap();
        }
        line
    }

    #[test]
    fn a_denial_reads_back() {
        let event = parse_event(
            "SWITCHBOARD-EVENT connect-denied realm=plugin service=kv rule=no%20grant\r",
        )
        .unwrap();
        assert_eq!(event.kind, "connect-denied");
        assert_eq!(event.get("rule"), Some("no grant"));
        assert!(event.matches("connect-denied", &[("realm", "plugin"), ("service", "kv")]));
        assert!(!event.matches("connect-denied", &[("realm", "app")]));
        assert!(!event.matches("connect-allowed", &[]));
    }

    #[test]
    fn malformed_and_forged_lines_are_not_events() {
        for line in [
            "SWITCHBOARD-EVENT",
            "SWITCHBOARD-EVENT ",
            "SWITCHBOARD-EVENTS x",
            "SWITCHBOARD-EVENT x novalue",
            "SWITCHBOARD-EVENT x =v",
            "SWITCHBOARD-EVENT x a=1 a=2",
            "SWITCHBOARD-EVENT x a=%4",
            "SWITCHBOARD-EVENT x a=%zz",
            "SWITCHBOARD-EVENT x a=%ff",
            "SWITCHBOARD-EVENT x  a=1",
            "[plugin] SWITCHBOARD-EVENT connect-allowed realm=plugin",
            " SWITCHBOARD-EVENT x",
        ] {
            assert_eq!(parse_event(line), None, "{line:?}");
        }
        assert_eq!(parse_event("SWITCHBOARD-EVENT x a=").unwrap().get("a"), Some(""));
    }

    #[test]
    fn an_outcome_lists_its_events() {
        let outcome = crate::Outcome {
            verdict: crate::Verdict::Pass,
            serial: [
                "broker: connect denied: realm \"plugin\" -> service \"kv\": no grant",
                "SWITCHBOARD-EVENT connect-denied realm=plugin service=kv",
                "[plugin] SWITCHBOARD-EVENT connect-allowed realm=plugin service=kv",
                "SWITCHBOARD-EVENT realm-stopped realm=plugin",
            ]
            .map(String::from)
            .to_vec(),
            exit_status: Some(33),
            duration: std::time::Duration::ZERO,
            qemu_pid: 0,
        };
        let kinds: Vec<_> = outcome.events().into_iter().map(|event| event.kind).collect();
        assert_eq!(kinds, ["connect-denied", "realm-stopped"]);
        assert!(outcome.has_event("connect-denied", &[("realm", "plugin"), ("service", "kv")]));
        assert!(!outcome.has_event("connect-allowed", &[("realm", "plugin")]));
    }

    proptest! {
        #[test]
        fn formatted_events_parse_back_exactly(
            kind in ".{1,24}",
            fields in proptest::collection::btree_map(".{1,12}", ".{0,40}", 0..6),
        ) {
            let line = format(&kind, &fields);
            prop_assert!(!line.contains(['\n', '\r']));
            prop_assert_eq!(line.split(' ').count(), 2 + fields.len());
            let event = parse_event(&line).unwrap();
            prop_assert_eq!(event.kind, kind);
            prop_assert_eq!(event.fields, fields);
        }

        #[test]
        fn system_names_are_written_as_they_are(
            kind in "[a-z][a-z0-9-]{0,15}",
            value in "[a-z0-9._-]{0,20}",
        ) {
            let line = format(&kind, &BTreeMap::from([("realm".to_string(), value.clone())]));
            prop_assert_eq!(line, format!("SWITCHBOARD-EVENT {kind} realm={value}"));
        }

        #[test]
        fn any_line_parses_or_not_without_panicking(line in ".*") {
            let _ = parse_event(&line);
        }
    }
}
