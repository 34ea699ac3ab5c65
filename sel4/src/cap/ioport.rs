//! x86 I/O ports: reads and writes of 8, 16 and 32 bits through an IOPort capability.

use crate::cap::{Invocation, IoPort};
use crate::error::Error;
use crate::kernel::label;

/// In8/In16/In32: the port. The value comes back in message register 0.
pub const fn port_in(label: u64, port: u16) -> Invocation<1, 0> {
    Invocation::words(label, [port as u64])
}

/// Out8/Out16/Out32: the port, the value.
pub const fn port_out(label: u64, port: u16, value: u32) -> Invocation<2, 0> {
    Invocation::words(label, [port as u64, value as u64])
}

impl IoPort {
    pub fn in8(self, port: u16) -> Result<u8, Error> {
        let reply = port_in(label::X86_IO_PORT_IN8, port).call_in_registers(self)?;
        Ok(reply.message[0] as u8)
    }

    pub fn in16(self, port: u16) -> Result<u16, Error> {
        let reply = port_in(label::X86_IO_PORT_IN16, port).call_in_registers(self)?;
        Ok(reply.message[0] as u16)
    }

    pub fn in32(self, port: u16) -> Result<u32, Error> {
        let reply = port_in(label::X86_IO_PORT_IN32, port).call_in_registers(self)?;
        Ok(reply.message[0] as u32)
    }

    pub fn out8(self, port: u16, value: u8) -> Result<(), Error> {
        port_out(label::X86_IO_PORT_OUT8, port, value as u32).call_in_registers(self)?;
        Ok(())
    }

    pub fn out16(self, port: u16, value: u16) -> Result<(), Error> {
        port_out(label::X86_IO_PORT_OUT16, port, value as u32).call_in_registers(self)?;
        Ok(())
    }

    pub fn out32(self, port: u16, value: u32) -> Result<(), Error> {
        port_out(label::X86_IO_PORT_OUT32, port, value).call_in_registers(self)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_arguments() {
        let read = port_in(label::X86_IO_PORT_IN16, 0xcfc);
        assert_eq!(read.label, label::X86_IO_PORT_IN16);
        assert_eq!(read.words, [0xcfc]);
        let write = port_out(label::X86_IO_PORT_OUT32, 0xcf8, 0x8000_0000);
        assert_eq!(write.label, label::X86_IO_PORT_OUT32);
        assert_eq!(write.words, [0xcf8, 0x8000_0000]);
        assert_eq!(write.info().length(), 2);
        assert_eq!(write.info().extra_caps(), 0);
    }
}
