//! The interfaces of the test realms' services (tests/systems/*.toml), each declared once
//! with `#[realm_runtime::interface]`: [`Echo`] (a number in, a number out: `echo`, `once`,
//! `stuck`, `lagger`, `hasty` and the other `lc-echo` services), [`Keeper`] (the lifecycle
//! and promises tests' parent, which grants, revokes and closes connections), and the
//! services test's [`Desk`] and [`Shop`].
#![forbid(unsafe_code)]
#![no_std]

use heapless::String;
use realm_runtime::Wire;
use serde::{Deserialize, Serialize};

/// A realm or service name.
pub type Name = String<32>;

/// Makes a [`Name`], cutting what does not fit.
pub fn name(text: &str) -> Name {
    let mut name = Name::new();
    for character in text.chars() {
        if name.push(character).is_err() {
            break;
        }
    }
    name
}

/// A number in, a number out. What each service answers is its own: `lc-echo`'s services
/// `generation * 1000 + value` (the value [`CRASH`] makes them fault instead, and [`QUIT`]
/// exit in the middle of the request), `tm-realm`'s `stuck` and `lagger` `1000 + value`.
#[realm_runtime::interface(name = "echo")]
pub trait Echo {
    fn echo(value: u64) -> u64;
}

/// The value that makes an `lc-echo` service fault while its client waits.
pub const CRASH: u64 = u64::MAX;
/// The value that makes an `lc-echo` service exit while its client waits.
pub const QUIT: u64 = u64::MAX - 1;

/// The realm that serves refused: the broker's refusal, which it prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Wire)]
#[wire(postcard)]
pub struct Refused;

/// `keeper`, served by the parent `init` (`lc-init`): grants and revokes on its children's
/// behalf, and closes the connection of a client that asks to be kicked out.
#[realm_runtime::interface(name = "keeper")]
pub trait Keeper {
    /// Lets `child` reach `service` (a parent's grant at run time).
    fn grant(child: Name, service: Name) -> Result<(), Refused>;
    /// Takes that grant back.
    fn revoke(child: Name, service: Name) -> Result<(), Refused>;
    /// Closes the connection this request came on (and still answers it).
    fn kick() -> Result<(), Refused>;
}

/// `desk`, served by the parent `init` (`svc-root`): grants the calling child a service.
#[realm_runtime::interface(name = "desk")]
pub trait Desk {
    /// Lets the caller reach `service`.
    fn grant(service: Name) -> Result<(), Refused>;
}

/// `shop`, served by `bob` (`svc-shop`).
#[realm_runtime::interface(name = "shop")]
pub trait Shop {
    /// `number * 2`, wrapping.
    fn double(number: u64) -> u64;
}
