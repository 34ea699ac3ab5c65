//! The generated code without a kernel: a test interface declared with `#[interface]` over a
//! loopback runtime (the request's words go to the generated dispatch in the same buffer, as
//! in the IPC buffer; the reply comes back through the same classification a realm uses).
//! Every operation round-trips; unknown operations, wrong lengths, bad padding and replies
//! that are not the operation's are refused with the precise reason.

use interface::reply::BadRequest;
use interface::{Deferrable, Dispatch, Interface, ReplyError, ReplyMalformed, Response};
use serde::{Deserialize, Serialize};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// A runtime with the names the generated code uses (`Realm`, `Client`, `Call`,
/// `CallError`, `interface`), over a loopback instead of seL4.
mod loopback {
    use std::marker::PhantomData;

    pub use interface;
    use interface::{Answer, Context, EncodeError, Interface, ReplyError, Response};

    pub const WORDS: usize = 120;

    type Handler = Box<dyn FnMut(&mut Call<'_>, u64) -> Answer>;

    /// A realm whose every call is served, in the same buffer, by `server`.
    pub struct Realm {
        pub buffer: [u64; WORDS],
        server: Handler,
        /// Deferred callers: their operation, answered later by `answer`.
        pub deferred: Vec<u64>,
    }

    #[derive(Debug, PartialEq)]
    pub enum CallError {
        Reply(ReplyError),
        RequestTooLarge,
    }

    pub struct Client<I>(PhantomData<I>);

    impl<I> Client<I> {
        pub fn new() -> Self {
            Client(PhantomData)
        }

        pub fn into_connection(self) -> Connection {
            Connection
        }
    }

    /// What a client gives up to be disconnected (the runtime's own holds the cap).
    pub struct Connection;

    pub struct Call<'a> {
        pub buffer: &'a mut [u64; WORDS],
        pub length: usize,
        pub deferred: &'a mut Vec<u64>,
        pub operation: u64,
    }

    impl Call<'_> {
        pub fn defer(&mut self) {
            self.deferred.push(self.operation);
        }
    }

    impl Context for Call<'_> {
        fn request(&self) -> &[u64] {
            &self.buffer[..self.length]
        }
        fn registers(&self) -> &[u64] {
            &self.buffer[..]
        }
        fn reply_words(&mut self) -> &mut [u64] {
            &mut self.buffer[..]
        }
    }

    impl Realm {
        pub fn new(server: impl FnMut(&mut Call<'_>, u64) -> Answer + 'static) -> Self {
            Realm { buffer: [0xDEAD; WORDS], server: Box::new(server), deferred: Vec::new() }
        }

        /// One request with `label` and the first `length` words of the buffer, served;
        /// the reply's label and length (`None` if deferred).
        pub fn deliver(&mut self, label: u64, length: usize) -> Option<(u64, usize)> {
            let mut call = Call {
                buffer: &mut self.buffer,
                length,
                deferred: &mut self.deferred,
                operation: label,
            };
            match (self.server)(&mut call, (label << 12) | length as u64) {
                Answer::Reply { label, length } => Some((label, length)),
                Answer::Deferred => None,
            }
        }

        /// A raw request: `label` and `words`; the reply's label and words.
        pub fn raw(&mut self, label: u64, words: &[u64]) -> Option<(u64, Vec<u64>)> {
            self.buffer[..words.len()].copy_from_slice(words);
            let (label, length) = self.deliver(label, words.len())?;
            Some((label, self.buffer[..length].to_vec()))
        }

        /// What the generated client calls.
        pub fn invoke<I: Interface, R: Response>(
            &mut self,
            _client: &mut Client<I>,
            operation: u64,
            _idempotent: bool,
            encode: &impl Fn(&mut [u64]) -> Result<usize, EncodeError>,
        ) -> Result<R, CallError> {
            // Poison the buffer: the dispatch must read only the request's words.
            self.buffer = [0xDEAD; WORDS];
            let length = encode(&mut self.buffer).map_err(|_| CallError::RequestTooLarge)?;
            let (label, length) =
                self.deliver(operation, length).ok_or(CallError::Reply(ReplyError::Aborted))?;
            R::decode_message((label << 12) | length as u64, &self.buffer).map_err(CallError::Reply)
        }
    }
}

use loopback::{Call, CallError, Client, Realm};

type Text = heapless::String<64>;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout, interface::Wire,
)]
#[wire(words, runtime = crate::loopback)]
#[repr(C)]
pub struct Point {
    x: i32,
    y: i32,
    z: u16,
    tag: [u8; 6],
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, interface::Wire)]
#[wire(postcard, runtime = crate::loopback)]
pub enum Shape {
    Circle { radius: u32 },
    Label(heapless::String<16>),
    Nothing,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, interface::Wire)]
#[wire(postcard, runtime = crate::loopback)]
pub enum KvError {
    NotFound,
    Full { capacity: u32 },
}

/// The test interface: every kind of argument and result.
#[interface::interface(name = "kv-test", runtime = crate::loopback)]
pub trait Kv {
    /// The value of `key`.
    #[idempotent]
    fn get(key: Text) -> Result<Text, KvError>;
    fn put(key: Text, value: Text) -> Result<(), KvError>;
    fn count() -> u64;
    fn add(a: u64, b: u32) -> u64;
    fn echo8(values: [u64; 8]) -> [u64; 8];
    fn point(point: Point) -> Point;
    fn shape(shape: Shape) -> Result<Shape, KvError>;
    fn bytes(bytes: heapless::Vec<u8, 16>, more: u8) -> usize;
    #[deferrable]
    fn wait(ticket: u64) -> u64;
    #[operation(100)]
    fn nothing();
}

#[derive(Default)]
struct Store {
    entries: Vec<(Text, Text)>,
    nothings: u32,
}

impl KvServer for Store {
    fn get(&mut self, _call: &mut Call<'_>, key: Text) -> Result<Text, KvError> {
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
            .ok_or(KvError::NotFound)
    }
    fn put(&mut self, _call: &mut Call<'_>, key: Text, value: Text) -> Result<(), KvError> {
        if self.entries.len() == 2 {
            return Err(KvError::Full { capacity: 2 });
        }
        self.entries.push((key, value));
        Ok(())
    }
    fn count(&mut self, _call: &mut Call<'_>) -> u64 {
        self.entries.len() as u64
    }
    fn add(&mut self, _call: &mut Call<'_>, a: u64, b: u32) -> u64 {
        a.wrapping_add(u64::from(b))
    }
    fn echo8(&mut self, _call: &mut Call<'_>, values: [u64; 8]) -> [u64; 8] {
        values.map(|value| value.wrapping_mul(2))
    }
    fn point(&mut self, _call: &mut Call<'_>, point: Point) -> Point {
        Point { x: -point.x, ..point }
    }
    fn shape(&mut self, _call: &mut Call<'_>, shape: Shape) -> Result<Shape, KvError> {
        match shape {
            Shape::Nothing => Err(KvError::NotFound),
            shape => Ok(shape),
        }
    }
    fn bytes(&mut self, _call: &mut Call<'_>, bytes: heapless::Vec<u8, 16>, more: u8) -> usize {
        bytes.len() + usize::from(more)
    }
    fn wait(&mut self, call: &mut Call<'_>, ticket: u64) -> Deferrable<u64> {
        if ticket == 0 {
            Deferrable::Now(0)
        } else {
            call.defer();
            Deferrable::Later
        }
    }
    fn nothing(&mut self, _call: &mut Call<'_>) {
        self.nothings += 1;
    }
}

fn realm() -> Realm {
    let mut store = Store::default();
    Realm::new(move |call, info| {
        <Kv as Dispatch<Store, Call<'_>>>::dispatch(&mut store, call, info)
    })
}

fn text(value: &str) -> Text {
    Text::try_from(value).unwrap()
}

#[test]
fn every_operation_round_trips() {
    let mut realm = realm();
    let mut kv = KvClient::from(Client::new());
    assert_eq!(kv.get(&mut realm, text("a")), Ok(Err(KvError::NotFound)));
    assert_eq!(kv.put(&mut realm, text("a"), text("alpha")), Ok(Ok(())));
    assert_eq!(kv.put(&mut realm, text("b"), text("")), Ok(Ok(())));
    assert_eq!(kv.put(&mut realm, text("c"), text("x")), Ok(Err(KvError::Full { capacity: 2 })));
    assert_eq!(kv.get(&mut realm, text("a")), Ok(Ok(text("alpha"))));
    assert_eq!(kv.get(&mut realm, text("b")), Ok(Ok(text(""))));
    assert_eq!(kv.count(&mut realm), Ok(2));
    assert_eq!(kv.add(&mut realm, u64::MAX, 2), Ok(1));
    assert_eq!(
        kv.echo8(&mut realm, [1, 2, 3, 4, 5, 6, 7, u64::MAX]),
        Ok([2, 4, 6, 8, 10, 12, 14, u64::MAX - 1])
    );
    let point = Point { x: 5, y: -7, z: 9, tag: *b"abcdef" };
    assert_eq!(kv.point(&mut realm, point), Ok(Point { x: -5, ..point }));
    let label = Shape::Label(heapless::String::try_from("sixteen bytes!!!").unwrap());
    assert_eq!(kv.shape(&mut realm, label.clone()), Ok(Ok(label)));
    assert_eq!(
        kv.shape(&mut realm, Shape::Circle { radius: 3 }),
        Ok(Ok(Shape::Circle { radius: 3 }))
    );
    assert_eq!(kv.shape(&mut realm, Shape::Nothing), Ok(Err(KvError::NotFound)));
    let bytes = heapless::Vec::from_slice(&[1, 2, 3]).unwrap();
    assert_eq!(kv.bytes(&mut realm, bytes, 4), Ok(7));
    assert_eq!(kv.wait(&mut realm, 0), Ok(0));
    assert_eq!(kv.nothing(&mut realm), Ok(()));
}

#[test]
fn the_words_are_the_arguments_with_no_header() {
    let mut realm = realm();
    // add(a: u64, b: u32): two words, the label is the operation number.
    assert_eq!(realm.raw(Kv::ADD, &[40, 2]), Some((ipc::abi::label::OK, vec![42])));
    // echo8: eight words in, eight out.
    let (label, words) = realm.raw(Kv::ECHO8, &[1; 8]).unwrap();
    assert_eq!((label, words), (ipc::abi::label::OK, vec![2; 8]));
    // A () result is no words; nothing() is number 100.
    assert_eq!(Kv::NOTHING, 100);
    assert_eq!(realm.raw(100, &[]), Some((ipc::abi::label::OK, vec![])));
    // An application error travels under ERROR, as its postcard encoding.
    let (label, words) = realm.raw(Kv::GET, &[2, 0x7a01]).unwrap();
    assert_eq!(label, ipc::abi::label::ERROR);
    assert_eq!(<Result<Text, KvError>>::decode(label, &words), Ok(Err(KvError::NotFound)));
}

fn refused(realm: &mut Realm, label: u64, words: &[u64]) -> BadRequest {
    let (reply, words) = realm.raw(label, words).expect("answered");
    assert_eq!(reply, ipc::abi::label::BAD_REQUEST);
    BadRequest::decode(&words).expect("a reason")
}

#[test]
fn malformed_requests_are_refused_with_their_reason_and_serving_goes_on() {
    let mut realm = realm();
    assert_eq!(refused(&mut realm, 7777, &[]), BadRequest::UnknownOperation { operation: 7777 });
    assert_eq!(refused(&mut realm, 0, &[1]), BadRequest::UnknownOperation { operation: 0 });
    // add takes two words: one is too few, three too many.
    assert_eq!(refused(&mut realm, Kv::ADD, &[1]), BadRequest::WrongLength { received: 1 });
    assert_eq!(refused(&mut realm, Kv::ADD, &[1, 2, 3]), BadRequest::WrongLength { received: 3 });
    // b is a u32: its word's upper half is padding, which must be zero.
    assert_eq!(
        refused(&mut realm, Kv::ADD, &[1, 1 << 32]),
        BadRequest::Undecodable { argument: 1 }
    );
    assert_eq!(refused(&mut realm, Kv::COUNT, &[0]), BadRequest::WrongLength { received: 1 });
    // A postcard length beyond the message, bytes postcard cannot read, bytes left over.
    assert_eq!(refused(&mut realm, Kv::GET, &[9, 0]), BadRequest::WrongLength { received: 2 });
    assert_eq!(refused(&mut realm, Kv::GET, &[1, 0xFF]), BadRequest::Undecodable { argument: 0 });
    assert_eq!(
        refused(&mut realm, Kv::GET, &[2, u64::from_le_bytes(*b"\x00x\0\0\0\0\0\0")]),
        BadRequest::Undecodable { argument: 0 }
    );
    // put's second argument missing entirely.
    assert_eq!(refused(&mut realm, Kv::PUT, &[2, 0x6101]), BadRequest::WrongLength { received: 2 });
    // The service still answers a good request.
    let mut kv = KvClient::from(Client::new());
    assert_eq!(kv.add(&mut realm, 1, 2), Ok(3));
}

#[test]
fn deferred_answers_leave_the_reply_for_later() {
    let mut realm = realm();
    assert_eq!(realm.raw(Kv::WAIT, &[5]), None);
    assert_eq!(realm.deferred, vec![Kv::WAIT]);
    let mut kv = KvClient::from(Client::new());
    assert_eq!(kv.wait(&mut realm, 3), Err(CallError::Reply(ReplyError::Aborted)));
}

#[test]
fn replies_that_are_not_the_operations_are_transport_errors() {
    use ipc::abi::label;
    // An ERROR reply to an operation that declares no error.
    assert_eq!(
        u64::decode(label::ERROR, &[1]),
        Err(ReplyError::Malformed(ReplyMalformed::UndeclaredError))
    );
    // A value with a word too many, or too few.
    assert_eq!(
        u64::decode(label::OK, &[1, 2]),
        Err(ReplyError::Malformed(ReplyMalformed::ExtraWords { words: 2 }))
    );
    assert_eq!(
        <[u64; 2]>::decode(label::OK, &[1]),
        Err(ReplyError::Malformed(ReplyMalformed::Undecodable(interface::DecodeError::Short)))
    );
    for code in 1..=10 {
        assert_eq!(<Result<u64, KvError>>::decode(code, &[0]), Err(ReplyError::Kernel { code }));
    }
    assert_eq!(u64::decode(label::ABORTED, &[]), Err(ReplyError::Aborted));
    assert_eq!(u64::decode(label::TIMED_OUT, &[]), Err(ReplyError::TimedOut));
    assert_eq!(u64::decode(label::RESPONSE_TOO_LARGE, &[]), Err(ReplyError::ResponseTooLarge));
    assert_eq!(
        u64::decode(0, &[7]),
        Err(ReplyError::Malformed(ReplyMalformed::UnknownLabel { label: 0 }))
    );
    assert_eq!(
        u64::decode(label::BAD_REQUEST, &[9, 9]),
        Err(ReplyError::Malformed(ReplyMalformed::BadRequestReason { code: Some(9) }))
    );
}

#[test]
fn the_fingerprint_covers_the_whole_declaration() {
    assert_eq!(<Kv as Interface>::NAME, "kv-test");
    // The canonical text's hash, then the layout (size and alignment) of each operation's
    // argument and result types.
    let text = interface::fingerprint::fnv1a64(Kv::CANONICAL.as_bytes());
    assert_ne!(<Kv as Interface>::FINGERPRINT, text);
    assert_eq!(
        <Kv as Interface>::FINGERPRINT,
        interface::fingerprint::with_layouts(text, Kv::LAYOUTS)
    );
    assert!(
        Kv::CANONICAL.starts_with("interface kv-test;op 1 get(heapless :: String < 64 >)")
            || Kv::CANONICAL.starts_with("interface kv-test;op 1 get(Text)")
    );
    assert!(Kv::CANONICAL.contains("idempotent;op 2 put("));
    assert!(Kv::CANONICAL.contains("op 9 wait(u64)->u64 deferrable;op 100 nothing()->();"));
    assert_eq!(<Kv as Interface>::id().unwrap().name.as_str(), "kv-test");
    // The same operations, one not idempotent: another fingerprint.
    assert_ne!(<Kv as Interface>::FINGERPRINT, <KvOther as Interface>::FINGERPRINT);
    assert_ne!(<KvOther as Interface>::FINGERPRINT, <KvRenumbered as Interface>::FINGERPRINT);
}

#[interface::interface(name = "kv-test", runtime = crate::loopback)]
pub trait KvOther {
    fn get(key: Text) -> Result<Text, KvError>;
}

#[interface::interface(name = "kv-test", runtime = crate::loopback)]
pub trait KvRenumbered {
    #[operation(2)]
    fn get(key: Text) -> Result<Text, KvError>;
}

/// The same declaration, written the same way, where `Text` is another type: a client built
/// where the alias says `String<32>` must not pass the connect check of a service built where
/// it says `String<64>` (it would get `Undecodable` or, for a plain-data struct of the same
/// words, a wrong value, only later).
mod other_text {
    use super::KvError;

    type Text = heapless::String<32>;

    #[interface::interface(name = "kv-test", runtime = crate::loopback)]
    pub trait KvOther {
        fn get(key: Text) -> Result<Text, KvError>;
    }

    /// A result type that changes size (an added field) under the same name.
    #[derive(
        Clone,
        Copy,
        Debug,
        PartialEq,
        Eq,
        zerocopy::IntoBytes,
        zerocopy::FromBytes,
        zerocopy::Immutable,
        interface::Wire,
    )]
    #[wire(words, runtime = crate::loopback)]
    #[repr(C)]
    pub struct Stat {
        pub count: u64,
        pub bytes: u64,
    }

    #[interface::interface(name = "stat", runtime = crate::loopback)]
    pub trait Stats {
        fn stat() -> Stat;
    }
}

mod narrow_stat {
    #[derive(
        Clone,
        Copy,
        Debug,
        PartialEq,
        Eq,
        zerocopy::IntoBytes,
        zerocopy::FromBytes,
        zerocopy::Immutable,
        interface::Wire,
    )]
    #[wire(words, runtime = crate::loopback)]
    #[repr(C)]
    pub struct Stat {
        pub count: u64,
    }

    #[interface::interface(name = "stat", runtime = crate::loopback)]
    pub trait Stats {
        fn stat() -> Stat;
    }
}

#[test]
fn the_fingerprint_covers_the_layouts_of_the_types_as_well_as_their_names() {
    assert_eq!(KvOther::CANONICAL, other_text::KvOther::CANONICAL);
    assert_ne!(
        <KvOther as Interface>::FINGERPRINT,
        <other_text::KvOther as Interface>::FINGERPRINT
    );
    assert_eq!(other_text::Stats::CANONICAL, narrow_stat::Stats::CANONICAL);
    assert_ne!(
        <other_text::Stats as Interface>::FINGERPRINT,
        <narrow_stat::Stats as Interface>::FINGERPRINT
    );
}

#[test]
fn the_record_is_the_name_and_the_fingerprint() {
    let entry =
        interface::section::Entry::new(<Kv as Interface>::NAME, <Kv as Interface>::FINGERPRINT);
    assert_eq!(entry.name_bytes(), b"kv-test");
    assert_eq!(interface::section::Entry::from_bytes(&entry.to_bytes()), Some(entry));
}

/// Arguments named as the generated code's own variables (`words`, `used`, `received`,
/// `total`, `taken`): each must reach the handler as the client sent it, and be decoded
/// from the message, not from another argument.
#[interface::interface(name = "names", runtime = crate::loopback)]
pub trait Names {
    fn spelled(label: Text, received: usize, used: usize) -> [u64; 3];
    fn fixed(total: usize, taken: usize, received: usize, used: usize) -> [u64; 4];
    fn listed(words: heapless::Vec<u64, 4>, more: u64) -> [u64; 2];
}

struct Namer;

impl NamesServer for Namer {
    fn spelled(
        &mut self,
        _call: &mut Call<'_>,
        label: Text,
        received: usize,
        used: usize,
    ) -> [u64; 3] {
        [label.len() as u64, received as u64, used as u64]
    }
    fn fixed(
        &mut self,
        _call: &mut Call<'_>,
        total: usize,
        taken: usize,
        received: usize,
        used: usize,
    ) -> [u64; 4] {
        [total as u64, taken as u64, received as u64, used as u64]
    }
    fn listed(
        &mut self,
        _call: &mut Call<'_>,
        words: heapless::Vec<u64, 4>,
        more: u64,
    ) -> [u64; 2] {
        [words.iter().sum(), more]
    }
}

#[test]
fn arguments_named_as_the_generated_variables_travel_as_sent() {
    let mut realm = Realm::new(|call, info| {
        <Names as Dispatch<Namer, Call<'_>>>::dispatch(&mut Namer, call, info)
    });
    let mut names = NamesClient::from(Client::new());
    assert_eq!(names.spelled(&mut realm, text("abc"), 7, 9), Ok([3, 7, 9]));
    assert_eq!(names.fixed(&mut realm, 1, 2, 3, 4), Ok([1, 2, 3, 4]));
    // The general path (not the fast one) decodes fixed arguments too.
    assert_eq!(
        realm.raw(Names::FIXED, &[5, 6, 7, 8]).map(|(_, words)| words),
        Some(vec![5, 6, 7, 8])
    );
    let words = heapless::Vec::from_slice(&[1, 2, 3]).unwrap();
    assert_eq!(names.listed(&mut realm, words, 10), Ok([6, 10]));
}
