//! Benchmark server `echo`: answers each operation of the typed interface `bench-echo` with
//! its argument, through a `realm_runtime::Server` (the generated dispatch: the operation
//! number in the label, the arguments' words, no header word).
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use bench_protocol::{Echo, EchoServer, Text};
use realm_runtime::{Call, Realm, Server};

realm_runtime::main!(main);

struct Echoes;

impl EchoServer for Echoes {
    #[inline(always)]
    fn small(&mut self, _call: &mut Call<'_>, value: u64) -> u64 {
        value
    }

    #[inline(always)]
    fn large(&mut self, _call: &mut Call<'_>, values: [u64; 8]) -> [u64; 8] {
        values
    }

    #[inline(always)]
    fn text(&mut self, _call: &mut Call<'_>, text: Text) -> Text {
        text
    }
}

fn main(realm: &mut Realm) {
    let server = Server::new(Echoes).serve::<Echo>(realm, "echo").expect("registering echo");
    server.run(realm)
}
