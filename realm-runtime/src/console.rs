//! Formatting one console line in place, before it is sent to the memory manager.

use core::fmt;

use ipc::console::MAX_LINE_BYTES;

/// One line being formatted: at most [`MAX_LINE_BYTES`] bytes, cut at a character boundary
/// when the line is longer (and then marked cut).
pub(crate) struct LineBuffer {
    bytes: [u8; MAX_LINE_BYTES],
    length: usize,
    cut: bool,
}

impl LineBuffer {
    pub(crate) const fn new() -> Self {
        Self { bytes: [0; MAX_LINE_BYTES], length: 0, cut: false }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes[..self.length]
    }

    /// Whether text was left out.
    pub(crate) fn cut(&self) -> bool {
        self.cut
    }
}

impl fmt::Write for LineBuffer {
    /// Keeps what fits, up to a character boundary, and drops the rest; never fails, so
    /// formatting always completes.
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let room = self.bytes.len() - self.length;
        let mut taken = text.len().min(room);
        while !text.is_char_boundary(taken) {
            taken -= 1;
        }
        self.cut |= taken < text.len();
        self.bytes[self.length..self.length + taken].copy_from_slice(&text.as_bytes()[..taken]);
        self.length += taken;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use core::fmt::Write;

    use super::*;

    #[test]
    fn a_long_line_is_cut_at_a_character_boundary_and_marked() {
        let mut line = LineBuffer::new();
        let _ = write!(line, "{}", "x".repeat(MAX_LINE_BYTES - 1));
        let _ = write!(line, "€ and more");
        assert_eq!(line.bytes().len(), MAX_LINE_BYTES - 1, "the euro sign does not fit");
        assert!(line.cut());
        assert!(core::str::from_utf8(line.bytes()).is_ok());
        let mut words = [0u64; ipc::console::LINE_WORDS];
        let used = ipc::console::encode_line(line.bytes(), line.cut(), &mut words);
        assert_eq!(words[0] >> 16, 1, "marked cut");
        assert_eq!(used, ipc::console::LINE_WORDS);
    }

    #[test]
    fn a_line_that_fits_is_not_cut() {
        let mut line = LineBuffer::new();
        let _ = write!(line, "{}", "y".repeat(MAX_LINE_BYTES));
        assert!(!line.cut());
        assert_eq!(line.bytes().len(), MAX_LINE_BYTES);
    }
}
