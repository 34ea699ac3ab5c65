//! Property tests of the reply classification: every reply a service can send decodes to
//! exactly the outcome it was sent as (the value, the application error, or the transport
//! error), and arbitrary labels and words decode to exactly one outcome, never a value or an
//! application error for a kernel error code, `ABORTED` or `TIMED_OUT`.

use interface::reply::{BadRequest, KERNEL_ERROR_CODES};
use interface::{ReplyError, Response, Wire};
use ipc::abi::label;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

type Text = heapless::String<64>;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, interface::Wire)]
#[wire(postcard, runtime = crate::runtime)]
enum AppError {
    NotFound,
    Busy { retry_after: u32 },
    Message(heapless::String<16>),
}

mod runtime {
    pub use interface;
}

fn app_error() -> impl Strategy<Value = AppError> {
    prop_oneof![
        Just(AppError::NotFound),
        any::<u32>().prop_map(|retry_after| AppError::Busy { retry_after }),
        "[a-z]{0,16}"
            .prop_map(|text| AppError::Message(heapless::String::try_from(text.as_str()).unwrap())),
    ]
}

fn text() -> impl Strategy<Value = Text> {
    "\\PC{0,16}".prop_filter_map("fits", |text| Text::try_from(text.as_str()).ok())
}

fn bad_request() -> impl Strategy<Value = BadRequest> {
    prop_oneof![
        any::<u64>().prop_map(|operation| BadRequest::UnknownOperation { operation }),
        any::<u64>().prop_map(|received| BadRequest::WrongLength { received }),
        (any::<u64>(), any::<u64>())
            .prop_map(|(caps, unwrapped)| BadRequest::ExtraCaps { caps, unwrapped }),
        any::<u64>().prop_map(|argument| BadRequest::Undecodable { argument }),
        any::<u64>().prop_map(|badge| BadRequest::NotAConnection { badge }),
    ]
}

/// A label: mostly the interesting ones, sometimes anything.
fn reply_label() -> impl Strategy<Value = u64> {
    prop_oneof![label::RESERVED, 0..=KERNEL_ERROR_CODES + 1, 1..=label::MAX_OPERATION, any::<u64>(),]
}

/// What a reply must never be, whatever its words.
fn check_never_a_result<T: core::fmt::Debug, E: core::fmt::Debug>(
    reply_label: u64,
    decoded: &Result<Result<T, E>, ReplyError>,
) -> Result<(), TestCaseError> {
    match decoded {
        Ok(Ok(_)) => prop_assert_eq!(reply_label, label::OK),
        Ok(Err(_)) => prop_assert_eq!(reply_label, label::ERROR),
        Err(_) => {}
    }
    if (1..=KERNEL_ERROR_CODES).contains(&reply_label) {
        prop_assert_eq!(decoded.as_ref().err(), Some(&ReplyError::Kernel { code: reply_label }));
    }
    if reply_label == label::ABORTED {
        prop_assert_eq!(decoded.as_ref().err(), Some(&ReplyError::Aborted));
    }
    if reply_label == label::TIMED_OUT {
        prop_assert_eq!(decoded.as_ref().err(), Some(&ReplyError::TimedOut));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_result_a_service_sends_decodes_as_itself(
        result in prop_oneof![text().prop_map(Ok), app_error().prop_map(Err)],
    ) {
        let mut words = [0u64; 120];
        let (reply_label, length) = result.encode(&mut words).unwrap();
        let decoded = <Result<Text, AppError>>::decode(reply_label, &words[..length]);
        prop_assert_eq!(decoded, Ok(result));
    }

    #[test]
    fn every_plain_value_a_service_sends_decodes_as_itself(value in any::<[u64; 8]>(), small in any::<u16>()) {
        let mut words = [0u64; 120];
        let (reply_label, length) = Response::encode(&value, &mut words).unwrap();
        prop_assert_eq!((reply_label, length), (label::OK, 8));
        prop_assert_eq!(<[u64; 8] as Response>::decode(reply_label, &words[..length]), Ok(value));
        let (reply_label, length) = Response::encode(&small, &mut words).unwrap();
        prop_assert_eq!(<u16 as Response>::decode(reply_label, &words[..length]), Ok(small));
    }

    #[test]
    fn every_refusal_decodes_as_itself(reason in bad_request()) {
        let mut words = [0u64; BadRequest::MAX_WORDS];
        let length = reason.encode(&mut words);
        prop_assert_eq!(
            <Result<Text, AppError>>::decode(label::BAD_REQUEST, &words[..length]),
            Err(ReplyError::BadRequest(reason))
        );
        prop_assert_eq!(<u64 as Response>::decode(label::BAD_REQUEST, &words[..length]), Err(ReplyError::BadRequest(reason)));
    }

    #[test]
    fn any_reply_decodes_to_exactly_one_outcome(
        reply_label in reply_label(),
        words in prop::collection::vec(any::<u64>(), 0..12),
    ) {
        let decoded = <Result<Text, AppError>>::decode(reply_label, &words);
        check_never_a_result(reply_label, &decoded)?;
        let decoded = <Result<u64, u32>>::decode(reply_label, &words);
        check_never_a_result(reply_label, &decoded)?;
        // An operation without an application error: its result never comes from ERROR.
        let decoded = <[u64; 2] as Response>::decode(reply_label, &words).map(Ok::<_, ()>);
        check_never_a_result(reply_label, &decoded)?;
        if reply_label == label::ERROR {
            prop_assert!(decoded.is_err());
        }
        // What decodes as a value is exactly that value's encoding.
        if let Ok(Ok(value)) = <Result<u64, u32>>::decode(reply_label, &words) {
            prop_assert_eq!(&words[..], &[value][..]);
        }
    }

    #[test]
    fn the_fast_path_decides_as_the_general_one(
        reply_label in reply_label(),
        words in prop::collection::vec(any::<u64>(), 0..12),
        caps in 0u64..16,
    ) {
        // The message registers: the reply's words, then whatever was there before.
        let mut registers = [0x5A5A_5A5A_5A5A_5A5Au64; 120];
        registers[..words.len()].copy_from_slice(&words);
        let info = ((reply_label & 0xF_FFFF) << 12) | (caps << 7) | words.len() as u64;
        let label = reply_label & 0xF_FFFF;
        prop_assert_eq!(
            <u64 as Response>::decode_message(info, &registers),
            <u64 as Response>::decode(label, &words)
        );
        prop_assert_eq!(
            <Result<[u64; 2], u32>>::decode_message(info, &registers),
            <Result<[u64; 2], u32>>::decode(label, &words)
        );
        prop_assert_eq!(
            <Result<Text, AppError>>::decode_message(info, &registers),
            <Result<Text, AppError>>::decode(label, &words)
        );
        prop_assert_eq!(
            <u32 as Response>::decode_message(info, &registers),
            <u32 as Response>::decode(label, &words)
        );
    }

    #[test]
    fn short_words_after_a_value_are_never_dropped(value in any::<u64>(), extra in any::<u64>()) {
        // Decoding is exact: a trailing word is an error, not ignored.
        prop_assert!(<u64 as Response>::decode(label::OK, &[value, extra]).is_err());
        let mut words = [0u64; 2];
        prop_assert_eq!(Wire::encode(&value, &mut words), Ok(1));
    }
}
