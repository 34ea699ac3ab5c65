//! Example realm program `hello`, run as two realms by `examples/hello/system.toml`:
//! `greeter` registers the service "greeting" and answers each call; `hello` connects to it,
//! calls it once and exits. Boot it with `cargo xtask run --system examples/hello/system.toml`.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use realm_runtime::{Realm, println};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    // One line on the console, shown as "[<realm name>] ...".
    println!(realm, "hello, world");
    let me = realm.name().expect("the memory manager knows every realm's name");
    if me.as_str() == "greeter" {
        // Register the service (the system file declares this realm its provider), then
        // answer every call for ever: a number in, the next number out.
        let service = realm.register("greeting").expect("registering \"greeting\"");
        realm.serve(&service, |_realm, _caller, number: u32| number.wrapping_add(1))
    } else {
        // Checked against the system file's policy once; then one direct seL4 call per call.
        let greeting = realm.connect_raw("greeting").expect("connecting to \"greeting\"");
        let answer: u32 = realm.call(&greeting, &41u32).expect("calling \"greeting\"");
        println!(realm, "the greeter answered 41 with {answer}");
    }
}
