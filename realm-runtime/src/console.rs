//! Formatting one console line in place, before it is sent to the memory manager.

use core::fmt;

use ipc::console::MAX_LINE_BYTES;

/// One line being formatted: up to one more byte than [`MAX_LINE_BYTES`], so that
/// [`ipc::console::encode_line`] sees that the line was longer and marks it cut.
pub(crate) struct LineBuffer {
    bytes: [u8; MAX_LINE_BYTES + 1],
    length: usize,
}

impl LineBuffer {
    pub(crate) const fn new() -> Self {
        Self { bytes: [0; MAX_LINE_BYTES + 1], length: 0 }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes[..self.length]
    }
}

impl fmt::Write for LineBuffer {
    /// Keeps what fits and drops the rest; never fails, so formatting always completes.
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let room = self.bytes.len() - self.length;
        let taken = text.len().min(room);
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
    fn a_long_line_keeps_one_byte_more_than_a_message_so_it_is_marked_cut() {
        let mut line = LineBuffer::new();
        for _ in 0..200 {
            let _ = write!(line, "0123456789");
        }
        assert_eq!(line.bytes().len(), MAX_LINE_BYTES + 1);
        let mut words = [0u64; ipc::console::LINE_WORDS];
        let used = ipc::console::encode_line(line.bytes(), false, &mut words);
        assert_eq!(used, ipc::console::LINE_WORDS);
        assert_eq!(words[0] >> 16, 1, "marked cut");
    }
}
