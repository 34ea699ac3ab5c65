//! The console: the memory manager's own lines and its realms' lines, on the serial port.

use sel4::{debug_print, debug_println};

/// Prints one line of realm `name`, prefixed with the name; control bytes are shown as `?`
/// so that a realm cannot start a new line or send terminal escapes.
pub fn print_realm_line(name: &str, text: &[u8], cut: bool) {
    debug_print!("[{name}] ");
    for chunk in text.utf8_chunks() {
        for c in chunk.valid().chars() {
            debug_print!("{}", if c.is_control() { '?' } else { c });
        }
        if !chunk.invalid().is_empty() {
            debug_print!("\u{fffd}");
        }
    }
    debug_println!("{}", if cut { " [cut]" } else { "" });
}
