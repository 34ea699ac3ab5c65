//! Rendering: the bytes one queued record becomes on the console.
//!
//! - A realm's line is `[name] text`; the memory manager's own lines have no prefix.
//! - A cut line ends with [`CUT_MARK`].
//! - Text is shown, never obeyed: printable ASCII and printable UTF-8 characters pass; a
//!   backslash becomes `\\`; tab, line feed and carriage return become `\t`, `\n`, `\r`;
//!   other control bytes and bytes that are not UTF-8 become `\xNN`; control and
//!   layout-changing characters beyond ASCII (C1 controls, line and paragraph separators,
//!   bidirectional overrides, the byte-order mark) become `\u{XXXX}`. So a realm can neither
//!   send terminal escape sequences nor start a new console line: every record is exactly
//!   one console line, and a realm's line always starts with its `[name]`, which is what
//!   stops a realm from forging the memory manager's event lines.
//! - Every line ends with a single `\n` (the UART driver adds a `\r` if the terminal wants
//!   one).
//! - Lines dropped before a record are reported before it: `[name] 1234 lines dropped` (the
//!   memory manager's: `memory manager: 1234 lines dropped`), then the event line
//!   `SWITCHBOARD-EVENT lines-dropped source=<index> realm=<name> count=<n>` (no `realm`
//!   for the memory manager's or an unnamed source's lines). A saturated count (`u32::MAX`)
//!   reads `4294967295 or more lines dropped`.

use core::fmt::{self, Write};

use crate::Source;
use crate::event::EventLine;

/// What a cut line ends with.
pub const CUT_MARK: &str = " [cut]";

/// Realms' names, for the `[name]` prefix. Implemented for slices and arrays of strings,
/// where element `i` names realm source `i + 1` (source 0, the memory manager, has no
/// prefix).
pub trait SourceNames {
    /// The name of `source`, or `None` when it has none (it is then shown as `realm-N`, with
    /// N the source index).
    fn name(&self, source: Source) -> Option<&str>;
}

impl<T: AsRef<str>> SourceNames for [T] {
    fn name(&self, source: Source) -> Option<&str> {
        let index = usize::from(source.index()).checked_sub(1)?;
        self.get(index).map(AsRef::as_ref)
    }
}

impl<T: AsRef<str>, const M: usize> SourceNames for [T; M] {
    fn name(&self, source: Source) -> Option<&str> {
        self.as_slice().name(source)
    }
}

/// A [`fmt::Write`] over a byte sink.
struct Sink<'s, F: FnMut(u8)>(&'s mut F);

impl<F: FnMut(u8)> Write for Sink<'_, F> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        text.bytes().for_each(&mut *self.0);
        Ok(())
    }
}

fn put(sink: &mut impl FnMut(u8), text: &str) {
    text.bytes().for_each(sink);
}

/// Writes the `[name] ` prefix of a realm source (nothing for the memory manager).
fn prefix<S: SourceNames + ?Sized>(source: Source, names: &S, sink: &mut impl FnMut(u8)) {
    if source.is_memory_manager() {
        return;
    }
    sink(b'[');
    match names.name(source) {
        Some(name) => {
            text(name.len(), |index| name.as_bytes().get(index).copied().unwrap_or(b'?'), sink)
        }
        None => {
            let _ = write!(Sink(sink), "realm-{}", source.index());
        }
    }
    put(sink, "] ");
}

/// Renders one text line of `source`: prefix, `length` bytes of text read through
/// `byte_at`, the cut mark when `cut`, and `\n`.
pub fn line<S: SourceNames + ?Sized>(
    source: Source,
    names: &S,
    length: usize,
    byte_at: impl Fn(usize) -> u8,
    cut: bool,
    sink: &mut impl FnMut(u8),
) {
    prefix(source, names, sink);
    text(length, byte_at, sink);
    if cut {
        put(sink, CUT_MARK);
    }
    sink(b'\n');
}

/// Renders the report of `count` lines of `source` dropped: the human line and the event
/// line, each ending in `\n`.
pub fn drop_report<S: SourceNames + ?Sized>(
    source: Source,
    count: u32,
    names: &S,
    sink: &mut impl FnMut(u8),
) {
    if source.is_memory_manager() {
        put(sink, "memory manager: ");
    } else {
        prefix(source, names, sink);
    }
    let plural = if count == 1 { "line" } else { "lines" };
    let more = if count == u32::MAX { " or more" } else { "" };
    let _ = writeln!(Sink(sink), "{count}{more} {plural} dropped");
    let mut out = Sink(sink);
    let _ = (|| {
        let mut event = EventLine::start(&mut out, "lines-dropped")?;
        event.field("source", source.index())?;
        if let Some(name) = names.name(source).filter(|_| !source.is_memory_manager()) {
            event.field("realm", name)?;
        }
        event.field("count", count)?;
        out.write_char('\n')
    })();
}

/// Renders `length` bytes read through `byte_at` as shown text (see the module doc).
pub fn text(length: usize, byte_at: impl Fn(usize) -> u8, sink: &mut impl FnMut(u8)) {
    let mut index = 0;
    while index < length {
        let byte = byte_at(index);
        if byte < 0x80 {
            match byte {
                b'\\' => put(sink, "\\\\"),
                b'\t' => put(sink, "\\t"),
                b'\n' => put(sink, "\\n"),
                b'\r' => put(sink, "\\r"),
                0x20..=0x7e => sink(byte),
                _ => {
                    let _ = write!(Sink(sink), "\\x{byte:02x}");
                }
            }
            index += 1;
            continue;
        }
        let width = match byte {
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            _ => 0,
        };
        let mut encoded = [0; 4];
        let decoded = (width > 0 && index + width <= length)
            .then(|| {
                for (offset, slot) in encoded.iter_mut().take(width).enumerate() {
                    *slot = byte_at(index + offset);
                }
                core::str::from_utf8(encoded.get(..width)?).ok()?.chars().next()
            })
            .flatten();
        match decoded {
            Some(character) if shown_as_is(character) => {
                encoded.iter().take(width).for_each(|&byte| sink(byte));
                index += width;
            }
            Some(character) => {
                let _ = write!(Sink(sink), "\\u{{{:04x}}}", u32::from(character));
                index += width;
            }
            None => {
                let _ = write!(Sink(sink), "\\x{byte:02x}");
                index += 1;
            }
        }
    }
}

/// Whether a character beyond ASCII can be shown as it is: not a control character, not one
/// that changes line breaking or text direction, and not an invisible format character (the
/// Unicode `Cf` characters a terminal shows as nothing, which could hide text). The list is
/// Unicode 15's `Cf` category with the separators and the private-use-free specials.
fn shown_as_is(character: char) -> bool {
    !character.is_control()
        && !matches!(
            character,
            '\u{00ad}' // soft hyphen
            | '\u{061c}' // Arabic letter mark
            | '\u{0600}'..='\u{0605}' | '\u{06dd}' | '\u{070f}' | '\u{0890}' | '\u{0891}'
            | '\u{08e2}' | '\u{180e}' // number signs, Mongolian vowel separator
            | '\u{200b}'..='\u{200f}' // zero widths, direction marks
            | '\u{2028}'..='\u{202e}' // separators, bidirectional embeddings and overrides
            | '\u{2060}'..='\u{206f}' // word joiner, invisible operators, isolates
            | '\u{feff}' // byte-order mark
            | '\u{fff9}'..='\u{fffb}' // interlinear annotation
            | '\u{110bd}' | '\u{110cd}' | '\u{13430}'..='\u{1343f}' | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}' | '\u{e0001}' | '\u{e0020}'..='\u{e007f}' // tags
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(bytes: &[u8]) -> String {
        let mut out = Vec::new();
        text(bytes.len(), |index| bytes[index], &mut |byte| out.push(byte));
        String::from_utf8(out).expect("rendered text is UTF-8")
    }

    #[test]
    fn invisible_format_characters_are_shown_escaped() {
        let text = "a\u{200b}b\u{061c}c\u{e0041}d\u{2064}e\u{00ad}f";
        assert_eq!(shown(text.as_bytes()), "a\\u{200b}b\\u{061c}c\\u{e0041}d\\u{2064}e\\u{00ad}f");
        assert_eq!(shown("é中€".as_bytes()), "é中€");
    }

    #[test]
    fn printable_text_passes() {
        assert_eq!(shown(b"hello, world: 42 {}"), "hello, world: 42 {}");
        assert_eq!(
            shown("caf\u{e9} \u{2026} \u{1f600}".as_bytes()),
            "caf\u{e9} \u{2026} \u{1f600}"
        );
    }

    #[test]
    fn control_bytes_are_neutralised() {
        assert_eq!(shown(b"a\nSWITCHBOARD-EVENT x"), "a\\nSWITCHBOARD-EVENT x");
        assert_eq!(shown(b"\x1b[2J\r\t\x00\x7f\\"), "\\x1b[2J\\r\\t\\x00\\x7f\\\\");
        // C1 CSI, a line separator, a right-to-left override.
        assert_eq!(shown("\u{9b}\u{2028}\u{202e}".as_bytes()), "\\u{009b}\\u{2028}\\u{202e}");
        // Not UTF-8: a lone continuation byte, a truncated sequence, an overlong encoding,
        // a surrogate.
        assert_eq!(shown(b"\x80"), "\\x80");
        assert_eq!(shown(b"\xe2\x80"), "\\xe2\\x80");
        assert_eq!(shown(b"\xc0\xaf"), "\\xc0\\xaf");
        assert_eq!(shown(b"\xed\xa0\x80"), "\\xed\\xa0\\x80");
        assert_eq!(shown(b"\xe2\x80z"), "\\xe2\\x80z");
    }

    #[test]
    fn any_bytes_make_one_printable_line() {
        let all: Vec<u8> = (0..=255).collect();
        let rendered = shown(&all);
        assert!(rendered.chars().all(|c| !c.is_control() && shown_as_is(c)));
    }

    #[test]
    fn lines_have_prefixes_marks_and_one_newline() {
        let names = ["init", "plugin"];
        let render = |source: u8, body: &[u8], cut: bool| {
            let mut out = Vec::new();
            let source = Source::from_index(source).unwrap();
            line(source, &names, body.len(), |i| body[i], cut, &mut |b| out.push(b));
            String::from_utf8(out).unwrap()
        };
        assert_eq!(render(2, b"hello", false), "[plugin] hello\n");
        assert_eq!(render(0, b"broker: ok", false), "broker: ok\n");
        assert_eq!(render(1, b"long", true), "[init] long [cut]\n");
        assert_eq!(render(9, b"who", false), "[realm-9] who\n");
    }

    #[test]
    fn drop_reports_read_as_sentences_and_events() {
        let names = ["plugin"];
        let report = |source: u8, count: u32| {
            let mut out = Vec::new();
            drop_report(Source::from_index(source).unwrap(), count, &names, &mut |b| out.push(b));
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            report(1, 1234),
            "[plugin] 1234 lines dropped\n\
             SWITCHBOARD-EVENT lines-dropped source=1 realm=plugin count=1234\n"
        );
        assert_eq!(
            report(0, 1),
            "memory manager: 1 line dropped\nSWITCHBOARD-EVENT lines-dropped source=0 count=1\n"
        );
        assert!(report(1, u32::MAX).starts_with("[plugin] 4294967295 or more lines dropped\n"));
    }
}
