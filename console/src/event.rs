//! Machine-readable event lines: `SWITCHBOARD-EVENT <kind> key=value key=value`.
//!
//! The memory manager prints one after each human sentence about a decision (and for other
//! things tests check, such as dropped lines), and tests parse them (the `qemu` crate's
//! `events` module). The format is stable:
//!
//! - the line starts with [`EVENT_PREFIX`] and one space, then the kind, then zero or more
//!   fields, each one space then `key=value`;
//! - kind, keys and values are **percent-encoded**: every byte that is not an ASCII letter,
//!   digit or one of `-._~:/,+@` is written `%XX` (two upper-case hex digits), so none of
//!   them ever contains a space, `=`, `%` or a line break unescaped, whatever it holds;
//!   names in this system (`a-z0-9-._`) are written as they are;
//! - kind and keys are never empty; a value may be (`key=`).
//!
//! A realm cannot forge an event line: realm output is always rendered after its `[name]`
//! prefix and cannot start a new line (see [`render`](crate::render)).

use core::fmt::{self, Display, Write};

/// What every event line starts with (followed by one space).
pub const EVENT_PREFIX: &str = "SWITCHBOARD-EVENT";

/// Writes one event line into `W` (a `heapless::String`, a queue line, any
/// [`fmt::Write`]): [`EventLine::start`] writes the prefix and the kind, each
/// [`EventLine::field`] one `key=value`. It writes no line break.
///
/// ```
/// use console::EventLine;
/// let mut line = heapless::String::<128>::new();
/// EventLine::start(&mut line, "connect-denied")
///     .and_then(|mut event| {
///         event.field("realm", "plugin")?.field("service", "kv")?.field("rule", "no route")?;
///         Ok(())
///     })
///     .unwrap();
/// assert_eq!(line, "SWITCHBOARD-EVENT connect-denied realm=plugin service=kv rule=no%20route");
/// ```
pub struct EventLine<'w, W: Write + ?Sized> {
    out: &'w mut W,
}

impl<'w, W: Write + ?Sized> EventLine<'w, W> {
    /// Writes the prefix and `kind`.
    ///
    /// # Errors
    ///
    /// [`fmt::Error`] when `kind` is empty or `out` fails (a `heapless::String` that is full).
    pub fn start(out: &'w mut W, kind: &str) -> Result<Self, fmt::Error> {
        if kind.is_empty() {
            return Err(fmt::Error);
        }
        out.write_str(EVENT_PREFIX)?;
        out.write_char(' ')?;
        Escaped(&mut *out).write_str(kind)?;
        Ok(Self { out })
    }

    /// Writes ` key=value`, both escaped; `value` is anything [`Display`].
    ///
    /// # Errors
    ///
    /// [`fmt::Error`] when `key` is empty or `out` fails.
    pub fn field(&mut self, key: &str, value: impl Display) -> Result<&mut Self, fmt::Error> {
        if key.is_empty() {
            return Err(fmt::Error);
        }
        self.out.write_char(' ')?;
        Escaped(&mut *self.out).write_str(key)?;
        self.out.write_char('=')?;
        write!(Escaped(&mut *self.out), "{value}")?;
        Ok(self)
    }
}

/// Whether `byte` is written as it is in an event line.
pub const fn is_unescaped(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(byte, b'-' | b'.' | b'_' | b'~' | b':' | b'/' | b',' | b'+' | b'@')
}

/// A writer that percent-encodes what it is given into the writer inside.
struct Escaped<'w, W: Write + ?Sized>(&'w mut W);

impl<W: Write + ?Sized> Write for Escaped<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let bytes = text.as_bytes();
        let mut plain_from = 0;
        for (index, &byte) in bytes.iter().enumerate() {
            if is_unescaped(byte) {
                continue;
            }
            // Plain bytes are ASCII, so a run of them is a whole `str` slice.
            self.0.write_str(text.get(plain_from..index).unwrap_or(""))?;
            self.0.write_char('%')?;
            for digit in [byte >> 4, byte & 0xf] {
                let hex = HEX.get(usize::from(digit)).copied().unwrap_or(b'0');
                self.0.write_char(char::from(hex))?;
            }
            plain_from = index + 1;
        }
        self.0.write_str(text.get(plain_from..).unwrap_or(""))?;
        Ok(())
    }
}
