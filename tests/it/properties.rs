//! Properties over generated input: the classifier never panics, and an envelope is found
//! the same wherever a client put it.

use errwatch::report::Report;
use errwatch::{classify, codes, Limits};
use proptest::prelude::*;
use serde_json::Value;

use crate::check::report;

fn classify_and_report(bytes: &[u8]) {
    let limits = Limits { max_record_bytes: 1 << 16, max_depth: 128 };
    let classification = classify(bytes, &limits);
    let mut line = Vec::new();
    Report::new(&classification).write_line(&mut line);
    assert!(serde_json::from_slice::<Value>(&line).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        classify_and_report(&bytes);
    }

    #[test]
    fn json_like_text_never_panics(text in r#"[\[\]{}"':,\\ =()\-><a-zA-Z0-9_./@\n]{0,400}"#) {
        classify_and_report(text.as_bytes());
    }

    #[test]
    fn mutated_envelopes_never_panic(
        cut in 0usize..200,
        insert in r#"[\[\]{}"':,\\]{0,4}"#,
    ) {
        let record = r#"{"ts":"2026-11-26T10:00:01Z","status":429,"body":"{\"error\":{\"code\":\"TooManyRequests\",\"message\":\"q\",\"target\":\"43f4cb08-8fac-4b65-9db1-745c2ae65f3a\"}}"}"#;
        let cut = cut.min(record.len());
        let mutated = format!("{}{insert}{}", &record[..cut], &record[cut..]);
        classify_and_report(mutated.as_bytes());
    }
}

/// One way a client writes an envelope into its log.
#[derive(Debug, Clone, Copy)]
enum Container {
    Whole,
    TextAround,
    EscapedField(u8),
    ObjectField,
    LogfmtQuoted,
    PythonRepr,
    MultiLineText,
}

fn container() -> impl Strategy<Value = Container> {
    prop_oneof![
        Just(Container::Whole),
        Just(Container::TextAround),
        (1u8..=3).prop_map(Container::EscapedField),
        Just(Container::ObjectField),
        Just(Container::LogfmtQuoted),
        Just(Container::PythonRepr),
        Just(Container::MultiLineText),
    ]
}

fn raw_code() -> impl Strategy<Value = String> {
    let known: Vec<String> = codes::KNOWN_CODES.iter().map(|(code, _)| (*code).to_owned()).collect();
    prop_oneof![
        proptest::sample::select(known),
        Just("429".to_owned()),
        Just("Obehörig".to_owned()),
        "[A-Za-z][A-Za-z0-9_]{0,24}",
    ]
}

fn python_string(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn logfmt_quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The record, and whether it states `status` outside the envelope.
fn place(container: Container, envelope: &str, code: &str, message: &str, guid: &str, status: u16) -> (String, bool) {
    let escaped = |levels: u8| (0..levels).fold(envelope.to_owned(), |text, _| serde_json::to_string(&text).unwrap());
    match container {
        Container::Whole => (envelope.to_owned(), false),
        Container::TextAround => (
            format!("2026-11-26T10:00:01Z ERROR mde_client POST https://h/api/x -> {status} {envelope} after retries"),
            true,
        ),
        Container::EscapedField(levels) => {
            (format!(r#"{{"level":"error","statusCode":{status},"body":{}}}"#, escaped(levels)), true)
        }
        Container::ObjectField => (format!(r#"{{"level":"error","status":{status},"response":{envelope}}}"#), true),
        Container::LogfmtQuoted => {
            (format!("ts=2026-11-26T10:00:05Z level=error status={status} body={}", logfmt_quoted(envelope)), true)
        }
        Container::PythonRepr => (
            format!(
                "MDE error: {{'error': {{'code': {}, 'message': {}, 'target': {}}}}}",
                python_string(code),
                python_string(message),
                python_string(guid)
            ),
            false,
        ),
        Container::MultiLineText => {
            (format!("Invoke-RestMethod : {envelope}\nAt line:1 char:12\n+ Invoke-RestMethod -Uri $uri"), false)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn an_envelope_is_found_in_any_container(
        container in container(),
        code in raw_code(),
        message in "[ -~]{0,60}",
        guid in any::<u128>(),
        status in 400u16..=599,
    ) {
        let guid = format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            (guid >> 96) as u32, (guid >> 80) as u16, (guid >> 64) as u16, (guid >> 48) as u16, guid & 0xffff_ffff_ffff
        );
        let envelope = serde_json::json!({"error": {"code": code, "message": message, "target": guid}}).to_string();
        let (record, states_status) = place(container, &envelope, &code, &message, &guid, status);

        let canonical = codes::canonical(&code).unwrap_or(code.trim());
        let expected_status = if states_status { Some(status) } else { codes::status_of(canonical) };
        let actual = report(record.as_bytes());
        prop_assert_eq!(&actual["envelope"], &Value::Bool(true), "record: {}\nreport: {}", record, actual);
        prop_assert_eq!(actual["code"].as_str(), Some(canonical), "record: {}", record);
        prop_assert_eq!(actual["http_status"].as_u64(), expected_status.map(u64::from), "record: {}", record);
        prop_assert_eq!(actual["correlation_id"].as_str(), Some(guid.as_str()), "record: {}", record);
        prop_assert_eq!(actual["message"].as_str(), Some(message.as_str()), "record: {}", record);
    }
}
