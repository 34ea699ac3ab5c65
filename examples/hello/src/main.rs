//! Example realm `hello`: asks the memory manager for its name, says hello on the console,
//! sleeps 10 ms on the memory manager's timer, and exits.
#![no_std]
#![no_main]

use core::time::Duration;

use realm_runtime::{Realm, println};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    // The name `system.toml` gives this realm: one request to the memory manager.
    match realm.name() {
        Ok(name) => println!(realm, "hello, world: I am realm \"{name}\""),
        Err(error) => println!(realm, "hello, world (who am I? {error})"),
    }

    // The clock is read without IPC; a sleep is one request, answered by the timer.
    let start = realm.now();
    match realm.sleep(Duration::from_millis(10)) {
        Ok(()) => {
            let slept = realm.now().saturating_duration_since(start);
            println!(realm, "slept {} ms; goodbye", slept.as_millis());
        }
        Err(error) => println!(realm, "could not sleep: {error}"),
    }
    // Returning from main exits the realm: the memory manager takes back all it used.
}
