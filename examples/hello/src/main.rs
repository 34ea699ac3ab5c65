//! Example realm program `hello`, run as two realms by `examples/hello/system.toml`:
//! `greeter` registers the service "greeting" and answers each call; `hello` connects to it,
//! calls it once and exits. Boot it with `cargo xtask run --system examples/hello/system.toml`.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use realm_runtime::{Call, Realm, Server, println};

realm_runtime::main!(main);

/// The service's interface, declared once; the client and the service both use it. The
/// macro generates `GreetingClient`, what `realm.connect::<Greeting>(..)` returns, with one
/// method per operation, and `GreetingServer`, the trait the service implements.
#[realm_runtime::interface(name = "greeting")]
pub trait Greeting {
    /// A number in, the next number out.
    fn next(number: u32) -> u32;
}

/// The greeter's handlers (it keeps no state).
struct Greeter;

impl GreetingServer for Greeter {
    fn next(&mut self, _call: &mut Call<'_>, number: u32) -> u32 {
        number.wrapping_add(1)
    }
}

fn main(realm: &mut Realm) {
    // One line on the console, shown as "[<realm name>] ...".
    println!(realm, "hello, world");
    let me = realm.name().expect("the memory manager knows every realm's name");
    if me.as_str() == "greeter" {
        // Register the service (the system file declares this realm its provider), then
        // answer every call for ever.
        let greeter = Server::new(Greeter).serve::<Greeting>(realm, "greeting");
        greeter.expect("registering \"greeting\"").run(realm)
    } else {
        // Checked against the system file's policy once; then one direct seL4 call per call:
        // the operation's number as the label, the argument in the first message word.
        let mut greeting = realm.connect::<Greeting>("greeting").expect("connecting");
        let answer = greeting.next(realm, 41).expect("calling \"greeting\"");
        println!(realm, "the greeter answered 41 with {answer}");
    }
}
