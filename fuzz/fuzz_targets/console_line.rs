//! Console lines: a realm's `Print` request, from its words to the bytes on the serial port,
//! the way the memory manager handles it: `RealmRequest::decode` (label 39), `line_text`,
//! the console's `LineQueue`, and the consumer's rendering (`console::render`). Whatever the
//! words, a line that decodes comes out as exactly one console line: it starts with the
//! realm's `[name] ` (so it cannot pass for the memory manager's or another realm's line),
//! ends with its only `\n`, is UTF-8, holds no control byte and no character that moves the
//! cursor or turns the text around, carries the cut mark when cut, and plain text comes
//! out as it went in.
#![no_main]

use arbitrary::Arbitrary;
use console::{LineQueue, Source, render::CUT_MARK};
use ipc::console::{MAX_LINE_BYTES, line_text};
use ipc::realm::{RealmRequest, RealmRequestKind};
use libfuzzer_sys::fuzz_target;
use switchboard_fuzz::Word;

/// The realms' names as the memory manager passes them (realm source 3 has none).
const NAMES: [&str; 2] = ["init", "kv-store"];

#[derive(Arbitrary, Debug)]
struct Input {
    /// Which realm prints: source 1, 2 or 3.
    realm: u8,
    words: Vec<Word>,
}

/// Characters a console must never pass through as they are: they move the cursor, break
/// the line or turn the text around.
fn is_hostile(character: char) -> bool {
    character.is_control()
        || matches!(
            character,
            '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'
        )
}

fuzz_target!(|input: Input| {
    let words: Vec<u64> = input.words.iter().map(|word| word.value()).collect();
    let Ok(Some(RealmRequest::Print { line })) =
        RealmRequest::decode(RealmRequestKind::Print.code(), &words)
    else {
        return;
    };
    let mut text = [0u8; MAX_LINE_BYTES];
    let text = line_text(&words, line, &mut text);

    let queue = LineQueue::<4096>::new();
    let (Some(mut producer), Some(mut consumer)) = (queue.producer(), queue.consumer()) else {
        unreachable!("a new queue gives one producer and one consumer");
    };
    let source = Source::realm(1 + input.realm % 3).expect("sources 1 to 3 are realms");
    producer.push(source, text, line.cut).expect("an empty queue takes one realm line");
    let mut out = Vec::new();
    let record = consumer.write_next(&NAMES, |byte| out.push(byte)).expect("one record");
    assert!(consumer.is_empty());
    assert_eq!(record.source, source);
    assert_eq!(record.cut, line.cut);
    assert_eq!(record.text_length, text.len());
    assert!(record.has_text && record.dropped_before == 0);

    let prefix = match NAMES.get(usize::from(source.index()) - 1) {
        Some(name) => format!("[{name}] "),
        None => format!("[realm-{}] ", source.index()),
    };
    let shown = std::str::from_utf8(&out).expect("the console writes UTF-8");
    let body = shown.strip_prefix(prefix.as_str()).expect("a realm's line starts with its name");
    let body = body.strip_suffix('\n').expect("a line ends with a line feed");
    assert!(!body.chars().any(is_hostile), "{shown:?} passes a control character");
    let body = if line.cut {
        body.strip_suffix(CUT_MARK).expect("a cut line ends with the cut mark")
    } else {
        body
    };
    if text.iter().all(|&byte| (0x20..0x7f).contains(&byte) && byte != b'\\') {
        assert_eq!(body.as_bytes(), text, "plain text comes out as it went in");
    }
});
