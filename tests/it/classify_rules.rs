//! The classification contract, rule by rule: one test per rule of the spec, each a table of
//! records and the fields they must get.

use serde_json::json;

use crate::check::{check, report, report_with};
use errwatch::Limits;

const GUID: &str = "43f4cb08-8fac-4b65-9db1-745c2ae65f3a";
const OTHER_GUID: &str = "1fa66c0f-18bd-4133-b378-36d76f3a2ba0";

// 1. Envelope families.

#[test]
fn mde_envelopes() {
    check(
        &format!(r#"{{"error":{{"code":"Forbidden","message":"no","target":"{GUID}"}}}}"#),
        json!({"envelope": true, "family": "mde", "code": "Forbidden", "http_status": 403, "correlation_id": GUID, "message": "no", "inner_codes": []}),
    );
}

#[test]
fn graph_envelopes() {
    check(
        &format!(
            r#"{{"error":{{"code":"invalidRange","message":"overlap","innerError":{{"request-id":"{GUID}","client-request-id":"{OTHER_GUID}","date":"2021-07-02T01:40:19"}}}}}}"#
        ),
        json!({"family": "graph", "code": "invalidRange", "correlation_id": GUID, "http_status": null, "category": "unknown"}),
    );
    // client-request-id when request-id is missing or not a GUID; `innererror` in any case.
    check(
        &format!(
            r#"{{"error":{{"code":"BadRequest","innererror":{{"request-id":"request-id","client-request-id":"{OTHER_GUID}"}}}}}}"#
        ),
        json!({"family": "graph", "code": "BadRequest", "http_status": 400, "correlation_id": OTHER_GUID}),
    );
    // A throttled inner code means 429 whatever the outer code says.
    check(
        r#"{"error":{"code":"accessDenied","message":"Too Many Requests","innerError":{"code":"throttledRequest"}}}"#,
        json!({"family": "graph", "code": "accessDenied", "http_status": 429, "category": "throttling", "retry": "after_delay", "inner_codes": ["throttledRequest"]}),
    );
    // innerError chains: every inner code, in order.
    check(
        r#"{"error":{"code":"generalException","innerError":{"code":"a","innerError":{"code":"b","innerError":{"code":"a"}}}}}"#,
        json!({"family": "graph", "inner_codes": ["a", "b"]}),
    );
}

#[test]
fn rest_envelopes() {
    // The REST API guidelines form: target names a field, details carry codes.
    check(
        r#"{"error":{"code":"badRequest","message":"Multiple errors","target":"contactInfo","details":[{"code":"nullValue","target":"phoneNumber"},{"code":"nullValue","target":"lastName"},{"code":"malformedValue","target":"address"}]}}"#,
        json!({"family": "rest", "code": "BadRequest", "raw_code": "badRequest", "http_status": 400, "correlation_id": null, "inner_codes": ["nullValue", "malformedValue"]}),
    );
    // ARM, with the correlation id in the log record's own fields.
    check(
        &format!(
            r#"{{"level":"error","x-ms-request-id":"{GUID}","error":{{"code":"AuthorizationFailed","message":"The client does not have authorization"}}}}"#
        ),
        json!({"family": "rest", "code": "AuthorizationFailed", "correlation_id": GUID, "message": "The client does not have authorization"}),
    );
    // A GUID target counts for rest too, when innerError made it graph-shaped it does not.
    check(
        &format!(r#"{{"error":{{"code":"Conflict","target":"{{{}}}"}}}}"#, GUID.to_uppercase()),
        json!({"family": "mde", "correlation_id": GUID}),
    );
}

#[test]
fn odata_v3_envelopes() {
    check(
        &format!(
            r#"{{"odata.error":{{"code":"Request_BadRequest","date":"2026-11-26T10:00:00","message":{{"lang":"en","value":"Invalid value"}},"requestId":"{GUID}"}}}}"#
        ),
        json!({"family": "odata_v3", "code": "Request_BadRequest", "message": "Invalid value", "correlation_id": GUID}),
    );
    check(
        r#"{"odata.error":{"code":"-2147024891, System.UnauthorizedAccessException","message":{"lang":"en-US","value":"Access denied."}}}"#,
        json!({"family": "odata_v3", "code": "-2147024891, System.UnauthorizedAccessException", "correlation_id": null}),
    );
}

#[test]
fn token_endpoint_envelopes() {
    check(
        &format!(
            r#"{{"error":"invalid_scope","error_description":"AADSTS70011: bad scope","error_codes":[70011],"trace_id":"{GUID}"}}"#
        ),
        json!({"family": "aad", "code": "invalid_scope", "http_status": 400, "category": "bad_request", "correlation_id": GUID, "inner_codes": ["70011"], "message": "AADSTS70011: bad scope"}),
    );
    check(
        r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#,
        json!({"family": "aad", "code": "invalid_client", "http_status": 401, "category": "authentication", "retry": "refresh_token"}),
    );
    // An `error` string alone is an application's own field, not the token endpoint.
    check(r#"{"level":"error","error":"connection reset by peer"}"#, json!({"envelope": false}));
}

#[test]
fn status_only_records() {
    check(
        r#"{"level":"error","status":503,"msg":"upstream unavailable"}"#,
        json!({"envelope": true, "family": "status_only", "code": null, "raw_code": null, "http_status": 503, "message": "upstream unavailable", "inner_codes": []}),
    );
    check(
        "  The remote server returned an error: (401) Unauthorized.  ",
        json!({"family": "status_only", "code": "Unauthorized", "http_status": 401, "message": "The remote server returned an error: (401) Unauthorized."}),
    );
    check(
        r#"{"statusCode":"429","message":"slow down"}"#,
        json!({"family": "status_only", "code": "TooManyRequests", "http_status": 429}),
    );
    // An application `error` object without a code is no envelope; its status still makes an error.
    check(
        r#"{"error":{"message":"boom"},"status":500}"#,
        json!({"family": "status_only", "code": "InternalServerError"}),
    );
}

// 1. Container shapes.

#[test]
fn envelopes_are_found_in_every_container() {
    let envelope = format!(r#"{{"error":{{"code":"TooManyRequests","message":"quota","target":"{GUID}"}}}}"#);
    let escaped_once = serde_json::to_string(&envelope).unwrap();
    let escaped_twice = serde_json::to_string(&escaped_once).unwrap();
    let escaped_thrice = serde_json::to_string(&escaped_twice).unwrap();
    let containers = [
        envelope.clone(),
        format!("2026-11-26T10:00:00Z ERROR call failed {envelope} (after 3 tries)"),
        format!(r#"{{"level":"error","body":{escaped_once}}}"#),
        format!(r#"{{"level":"error","body":{escaped_twice}}}"#),
        format!(r#"{{"level":"error","body":{escaped_thrice}}}"#),
        format!(r#"{{"level":"error","response":{{"body":{envelope}}}}}"#),
        format!(r#"{{"message":"call failed: {}"}}"#, &escaped_once[1..escaped_once.len() - 1]),
        format!("level=error body={escaped_once}"),
        format!("MDE error: {{'error': {{'code': 'TooManyRequests', 'message': 'quota', 'target': '{GUID}'}}}}"),
        format!("Invoke-RestMethod : {envelope}\nAt line:1 char:12\n+ Invoke-RestMethod -Uri $uri\n    + CategoryInfo          : InvalidOperation"),
        format!("[{envelope}]"),
    ];
    for record in containers {
        check(
            &record,
            json!({"envelope": true, "code": "TooManyRequests", "http_status": 429, "correlation_id": GUID, "message": "quota"}),
        );
    }
}

#[test]
fn nested_envelopes_the_outermost_with_a_code_wins() {
    // ARM: details[].message holds an escaped envelope that holds another.
    let innermost = r#"{"error":{"code":"InvalidResourceReference","message":"missing"}}"#;
    let middle = format!(
        r#"{{"status":"Failed","error":{{"code":"ResourceDeploymentFailure","message":{}}}}}"#,
        serde_json::to_string(innermost).unwrap()
    );
    let record = format!(
        r#"{{"status":"Failed","error":{{"code":"DeploymentFailed","message":"see details","details":[{{"code":"Conflict","message":{}}}]}}}}"#,
        serde_json::to_string(&middle).unwrap()
    );
    check(
        &record,
        json!({"family": "rest", "code": "DeploymentFailed", "message": "see details", "inner_codes": ["Conflict", "ResourceDeploymentFailure", "InvalidResourceReference"]}),
    );

    // An outer body without a code gives way to the code nested in it.
    let inner = format!(r#"{{"error":{{"code":"Forbidden","message":"denied","target":"{GUID}"}}}}"#);
    let record = format!(
        r#"{{"error":{{"message":{},"innerError":{{"date":"2026-11-26T10:00:00"}}}}}}"#,
        serde_json::to_string(&inner).unwrap()
    );
    check(&record, json!({"family": "mde", "code": "Forbidden", "http_status": 403, "correlation_id": GUID}));
}

#[test]
fn of_two_envelopes_side_by_side_the_first_wins() {
    check(
        &format!(
            r#"first {{"error":{{"code":"Unauthorized","target":"{GUID}"}}}} then {{"error":{{"code":"Forbidden","target":"{OTHER_GUID}"}}}}"#
        ),
        json!({"code": "Unauthorized", "correlation_id": GUID, "inner_codes": []}),
    );
}

#[test]
fn envelopes_without_a_code_take_it_from_the_status() {
    check(
        &format!(r#"{{"status":404,"body":{{"error":{{"innerError":{{"request-id":"{GUID}"}}}}}}}}"#),
        json!({"family": "graph", "code": "NotFound", "raw_code": null, "http_status": 404, "correlation_id": GUID}),
    );
    check(
        r#"{"odata.error":{"message":{"value":"gateway"}}}"#,
        json!({"family": "odata_v3", "code": null, "http_status": null, "category": "unknown"}),
    );
}

// 2. Canonical codes.

#[test]
fn codes_are_canonical_or_kept_as_written() {
    let cases = [
        ("  toomanyrequests ", "TooManyRequests", 429),
        ("RESOURCENOTFOUND", "ResourceNotFound", 404),
        ("Förbjudet", "Forbidden", 403),
        ("Inaktiveradfeature", "DisabledFeature", 403),
        ("OtillåtenOperation", "DisallowedOperation", 403),
        ("Inte tillåtetOperation", "DisallowedOperation", 403),
        ("InvalidRequest Det här är ett måste", "InvalidRequestBody", 400),
        ("InvalidRequest Parameter-", "InvalidRequestBody", 400),
        ("ActiveRequestAlreadyExists", "ActiveRequestAlreadyExists", 400),
        ("OsPlatformNotSupported", "OsPlatformNotSupported", 400),
        ("InternalServerError", "InternalServerError", 500),
    ];
    for (raw, code, status) in cases {
        let record = format!(r#"{{"error":{{"code":"{raw}","target":"{GUID}"}}}}"#);
        check(&record, json!({"code": code, "raw_code": raw.trim(), "http_status": status}));
    }
    check(
        &format!(r#"{{"error":{{"code":"  SomethingNew  ","target":"{GUID}"}}}}"#),
        json!({"code": "SomethingNew", "raw_code": "SomethingNew", "http_status": null, "category": "unknown"}),
    );
    check(
        &format!(r#"{{"error":{{"code":429,"target":"{GUID}"}}}}"#),
        json!({"code": "TooManyRequests", "raw_code": "429", "http_status": 429}),
    );
}

#[test]
fn status_only_codes_come_from_the_status() {
    for (status, code) in [
        (400, json!("BadRequest")),
        (401, json!("Unauthorized")),
        (403, json!("Forbidden")),
        (404, json!("NotFound")),
        (429, json!("TooManyRequests")),
        (500, json!("InternalServerError")),
        (502, json!(null)),
        (409, json!(null)),
    ] {
        check(
            &format!(r#"{{"status":{status}}}"#),
            json!({"family": "status_only", "code": code, "http_status": status}),
        );
    }
}

// 3. HTTP status.

#[test]
fn an_explicit_status_wins_over_the_code() {
    check(
        &format!(r#"{{"status":503,"error":{{"code":"TooManyRequests","target":"{GUID}"}}}}"#),
        json!({"code": "TooManyRequests", "http_status": 503, "category": "server", "retry": "backoff"}),
    );
    check(
        &format!(r#"{{"http":{{"response":{{"status_code":401}}}},"error":{{"code":"Forbidden","target":"{GUID}"}}}}"#),
        json!({"http_status": 401, "code": "Forbidden"}),
    );
    check(
        &format!(r#"{{"HttpStatus":"403 Forbidden","body":{{"error":{{"code":"BadRequest","target":"{GUID}"}}}}}}"#),
        json!({"http_status": 403}),
    );
    check(
        &format!(r#"HTTP/1.1 429 Too Many Requests {{"error":{{"code":"ServiceUnavailable","target":"{GUID}"}}}}"#),
        json!({"http_status": 429, "code": "ServiceUnavailable"}),
    );
}

#[test]
fn the_shallowest_status_field_wins() {
    check(r#"{"response":{"status":404},"status":502}"#, json!({"http_status": 502}));
    check(r#"{"a":{"b":{"statusCode":500}},"c":{"status_code":403}}"#, json!({"http_status": 403}));
    check(r#"{"error":{"code":"TooManyRequests","innerError":{"status":"503"}}}"#, json!({"http_status": 503}));
}

#[test]
fn a_success_status_beside_an_envelope_is_ignored() {
    check(
        &format!(r#"{{"status":200,"body":{{"error":{{"code":"Forbidden","target":"{GUID}"}}}}}}"#),
        json!({"envelope": true, "http_status": 403, "category": "authorization"}),
    );
}

#[test]
fn statuses_in_text() {
    let cases = [
        ("HTTP/1.1 429 Too Many Requests", 429),
        ("GET https://api.securitycenter.microsoft.com/api/alerts -> 401 Unauthorized", 401),
        ("The remote server returned an error: (403) Forbidden.", 403),
        ("Response status code does not indicate success: 404 (Not Found).", 404),
        ("requests.exceptions.HTTPError: 403 Client Error: Forbidden for url: https://h/api", 403),
        ("requests.exceptions.HTTPError: 503 Server Error: Service Unavailable for url: https://h/api", 503),
        ("Error in API call [404] - Not Found", 404),
        ("level=error status=429", 429),
        ("Get-MDATPAlert : Error retrieving MDATP alert data [The remote server returned an error: (403) Forbidden.]", 403),
    ];
    for (text, status) in cases {
        check(text, json!({"envelope": true, "family": "status_only", "http_status": status}));
    }
}

#[test]
fn numbers_that_are_not_statuses() {
    for text in [
        "app[123]: started worker 404",
        "host-7 app[500]: retry",
        "fetched 429 alerts in 130 ms",
        "2026-11-26 10:00:10 INFO done (took 404ms)",
    ] {
        check(text, json!({"envelope": false, "http_status": null}));
    }
}

#[test]
fn text_inside_the_envelope_message_never_counts() {
    check(
        &format!(
            r#"{{"error":{{"code":"UnknownThing","message":"upstream said (404) and HTTP/1.1 503","target":"{GUID}"}}}}"#
        ),
        json!({"http_status": null, "category": "unknown"}),
    );
    check(
        &format!(r#"Invoke-RestMethod: {{"error":{{"code":"Odd","message":"-> 401","target":"{GUID}"}}}} -> 409"#),
        json!({"http_status": 409}),
    );
}

#[test]
fn a_success_status_alone_is_a_successful_call() {
    check(
        r#"{"ts":"2026-11-26T10:00:09Z","msg":"GET /api/machines","statusCode":200}"#,
        json!({"envelope": false, "http_status": 200, "timestamp": "2026-11-26T10:00:09.000Z", "code": null, "category": null, "inner_codes": null}),
    );
    check("GET https://h/api/machines -> 204", json!({"envelope": false, "http_status": 204}));
    // Fields come first: a success status field outweighs a number in the text.
    check(r#"{"status":200,"msg":"returned (404) items"}"#, json!({"envelope": false, "http_status": 200}));
}

// 4. Correlation id.

#[test]
fn correlation_ids() {
    // Normalised: braces and upper case removed.
    check(
        &format!(r#"{{"error":{{"code":"NotFound","target":"{{{}}}"}}}}"#, GUID.to_uppercase()),
        json!({"correlation_id": GUID}),
    );
    // A target that is not a GUID is not a correlation id; the record's own fields come next.
    check(r#"{"error":{"code":"NotFound","target":"machineId"}}"#, json!({"family": "rest", "correlation_id": null}));
    check(
        &format!(
            r#"{{"requestId":"{OTHER_GUID}","correlation_id":"{GUID}","error":{{"code":"NotFound","target":"machineId"}}}}"#
        ),
        json!({"correlation_id": GUID}),
    );
    check(
        &format!(r#"{{"client-request-id":"{OTHER_GUID}","x-ms-request-id":"{GUID}","status":500}}"#),
        json!({"family": "status_only", "correlation_id": GUID}),
    );
    check(r#"{"correlationId":"not-a-guid","status":500}"#, json!({"correlation_id": null}));
    // Graph's request-id that is not a GUID falls back to the record's own id fields.
    check(
        &format!(r#"{{"requestId":"{GUID}","error":{{"code":"x","innerError":{{"request-id":"request-id"}}}}}}"#),
        json!({"family": "graph", "correlation_id": GUID}),
    );
    // A raw HTTP dump names its ids in headers.
    check(
        &format!("HTTP/2.0 403 Forbidden\nrequest-id: {}\nclient-request-id: {OTHER_GUID}\n\n{{\"error\":{{\"code\":\"Authorization_RequestDenied\",\"message\":\"denied\"}}}}", GUID.to_uppercase()),
        json!({"family": "rest", "http_status": 403, "correlation_id": GUID}),
    );
    // The token endpoint: correlation_id, else trace_id.
    check(
        &format!(
            r#"{{"error":"invalid_grant","error_codes":[1],"trace_id":"{OTHER_GUID}","correlation_id":"{GUID}"}}"#
        ),
        json!({"correlation_id": GUID}),
    );
}

// 5. Category and retry.

#[test]
fn category_and_retry_follow_the_status() {
    let cases = [
        (429, "throttling", true, "after_delay"),
        (401, "authentication", false, "refresh_token"),
        (403, "authorization", false, "none"),
        (404, "not_found", false, "none"),
        (408, "timeout", true, "backoff"),
        (500, "server", true, "backoff"),
        (502, "server", true, "backoff"),
        (503, "server", true, "backoff"),
        (504, "server", true, "backoff"),
        (501, "server", false, "none"),
        (505, "server", false, "none"),
        (400, "bad_request", false, "none"),
        (409, "bad_request", false, "none"),
        (422, "bad_request", false, "none"),
    ];
    for (status, category, retryable, retry) in cases {
        check(
            &format!(r#"{{"status":{status}}}"#),
            json!({"category": category, "retryable": retryable, "retry": retry}),
        );
    }
    check(
        &format!(r#"{{"error":{{"code":"Mystery","target":"{GUID}"}}}}"#),
        json!({"category": "unknown", "retryable": false, "retry": "none"}),
    );
}

#[test]
fn retry_after() {
    let throttled = format!(r#"{{"error":{{"code":"TooManyRequests","target":"{GUID}"}}}}"#);
    check(&format!(r#"{{"retry_after":12,"body":{throttled}}}"#), json!({"retry_after_seconds": 12}));
    check(
        &format!(r#"{{"headers":{{"Retry-After":"2.128"}},"body":{throttled}}}"#),
        json!({"retry_after_seconds": 2.128}),
    );
    check(
        &format!("HTTP/1.1 429 Too Many Requests\nRetry-After: 2.128\n\n{throttled}"),
        json!({"retry_after_seconds": 2.128}),
    );
    check(&format!(r#"{{"x-ms-retry-after-ms":"1500","body":{throttled}}}"#), json!({"retry_after_seconds": 1.5}));
    check(&format!("retry-after-ms=250 {throttled}"), json!({"retry_after_seconds": 0.25}));
    // An HTTP date counts from the record's own time.
    check(
        &format!(r#"{{"ts":"2026-10-21T07:27:48Z","Retry-After":"Wed, 21 Oct 2026 07:28:00 GMT","body":{throttled}}}"#),
        json!({"retry_after_seconds": 12}),
    );
    check(
        &format!(r#"{{"ts":"2026-10-21T08:00:00Z","Retry-After":"Wed, 21 Oct 2026 07:28:00 GMT","body":{throttled}}}"#),
        json!({"retry_after_seconds": 0}),
    );
    check(
        &format!(r#"{{"Retry-After":"Wed, 21 Oct 2026 07:28:00 GMT","body":{throttled}}}"#),
        json!({"retry_after_seconds": null}),
    );
    check(&throttled, json!({"retry_after_seconds": null}));
}

/// An HTTP date in each form HTTP allows, as a field and in header text, counts from the
/// record's own time; a date in none of them is not read.
#[test]
fn retry_after_dates_in_every_form() {
    let throttled = format!(r#"{{"error":{{"code":"TooManyRequests","target":"{GUID}"}}}}"#);
    let cases = [
        ("Wed, 21 Oct 2026 07:28:00 GMT", json!(12)),
        ("Wednesday, 21-Oct-26 07:28:00 GMT", json!(12)),
        ("Wed Oct 21 07:28:00 2026", json!(12)),
        // A two-digit year more than 50 years ahead is of the century before: long past.
        ("Thursday, 21-Oct-99 07:28:00 GMT", json!(0)),
        ("Wed, 21-Oct-26 07:28:00 GMT", json!(null)),
        ("Wednesday, 21-Oct-2026 07:28:00 GMT", json!(null)),
        ("Tuesday, 21-Oct-26 07:28:00 GMT", json!(null)),
        ("Wed Oct 21 07:28:00 26", json!(null)),
        ("Wed Oct 21 7:28:00 2026", json!(null)),
        ("Wed Oct 32 07:28:00 2026", json!(null)),
    ];
    for (date, seconds) in cases {
        check(
            &format!(r#"{{"ts":"2026-10-21T07:27:48Z","Retry-After":"{date}","body":{throttled}}}"#),
            json!({"retry_after_seconds": seconds}),
        );
        check(
            &format!("2026-10-21T07:27:48Z HTTP/1.1 429 Too Many Requests\nRetry-After: {date}\n\n{throttled}"),
            json!({"retry_after_seconds": seconds}),
        );
    }
}

// 6. Output of records that are not errors, and timestamps.

#[test]
fn records_that_are_not_errors_keep_only_time_and_status() {
    let actual = report(br#"{"ts":"2026-11-26T10:00:09Z","level":"info","msg":"sync done","service":"mde-sync"}"#);
    let object = actual.as_object().unwrap();
    assert_eq!(object["envelope"], json!(false));
    assert_eq!(object["timestamp"], json!("2026-11-26T10:00:09.000Z"));
    let non_null: Vec<&String> = object.iter().filter(|(_, value)| !value.is_null()).map(|(field, _)| field).collect();
    assert_eq!(non_null, ["envelope", "timestamp"]);
    assert!(!object.contains_key("error"), "a readable record has no error field");
}

#[test]
fn timestamps_are_utc_with_milliseconds() {
    let cases = [
        (r#"{"@t":"2026-11-26T12:00:01.5+02:00","status":500}"#, json!("2026-11-26T10:00:01.500Z")),
        (r#"{"@timestamp":"2026-11-26T10:00:01.123456Z","status":500}"#, json!("2026-11-26T10:00:01.123Z")),
        (r#"{"time":1795000000,"status":500}"#, json!("2026-11-18T11:06:40.000Z")),
        (r#"{"timestamp":1795000000123,"status":500}"#, json!("2026-11-18T11:06:40.123Z")),
        (r#"{"TS":"2026-11-26 10:00:00","status":500}"#, json!("2026-11-26T10:00:00.000Z")),
        ("2026-11-26T10:00:04.123Z ERROR -> 500", json!("2026-11-26T10:00:04.123Z")),
        (
            "[2022-03-01 12:35:37] [Error] :: The remote server returned an error: (403) Forbidden.",
            json!("2022-03-01T12:35:37.000Z"),
        ),
        ("[2022-03-01 12:35:37] [Information] :: Imported 500 indicators", json!("2022-03-01T12:35:37.000Z")),
        ("2021-12-23T10:34:48.923 [Information] OUTPUT: 403 (Forbidden).", json!("2021-12-23T10:34:48.923Z")),
        ("Nov 26 10:00:01 host app: (500) failure", json!(null)),
        (r#"{"ts":"yesterday","status":500}"#, json!(null)),
        ("2026-11-26 10:00:10 INFO fetched 25 alerts in 130 ms", json!("2026-11-26T10:00:10.000Z")),
        (r#"{"ts":"2026-11-26T10:00:09Z","level":"info","msg":"ok"}"#, json!("2026-11-26T10:00:09.000Z")),
    ];
    for (record, timestamp) in cases {
        check(record, json!({"timestamp": timestamp}));
    }
}

// 7. Limits and hostile input.

#[test]
fn unreadable_records_are_answered_with_the_reason() {
    let over_limit = Limits { max_record_bytes: 64, ..Limits::default() };
    let actual = report_with(&[b'a'; 65], &over_limit);
    assert_eq!(actual["envelope"], json!(false));
    assert!(actual["error"].as_str().unwrap().contains("over the limit of 64 bytes"), "{actual}");

    let actual = report(b"{\"error\":{\"code\":\"Forbidden\",\"message\":\"\xff\xfe\"}}");
    assert_eq!(actual["envelope"], json!(false));
    assert!(actual["error"].as_str().unwrap().contains("not valid UTF-8"), "{actual}");

    let five_megabytes = format!(r#"{{"error":{{"code":"Forbidden","message":"{}"}}}}"#, "x".repeat(5 * 1024 * 1024));
    let actual = report(five_megabytes.as_bytes());
    assert!(actual["error"].as_str().unwrap().contains("over the limit of 1048576 bytes"), "{actual}");
}

#[test]
fn nesting_is_limited_to_128_levels() {
    let nested =
        |levels: usize| format!("{}{}", r#"{"a":"#.repeat(levels - 1) + r#"{"status":500"#, "}".repeat(levels));
    check(&nested(128), json!({"envelope": true, "http_status": 500}));
    let actual = report(nested(129).as_bytes());
    assert!(actual["error"].as_str().unwrap().contains("deeper than 128 levels"), "{actual}");
    let actual = report(format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).as_bytes());
    assert!(actual["error"].as_str().unwrap().contains("deeper than 128 levels"), "{actual}");
    // Escaped documents count towards the limit too: four levels around an escaped one.
    let around =
        |inner: &str| format!(r#"{{"a":{{"b":{{"c":{{"body":{}}}}}}}}}"#, serde_json::to_string(inner).unwrap());
    check(&around(&nested(124)), json!({"envelope": true, "http_status": 500}));
    let actual = report(around(&nested(125)).as_bytes());
    assert!(actual["error"].as_str().unwrap().contains("deeper than 128 levels"), "{actual}");
}

#[test]
fn broken_json_is_read_as_text() {
    check(&format!(r#"{{"error":{{"code":"Forbidden","target":"{GUID}""#), json!({"envelope": false, "error": null}));
    check(
        &format!(r#"{{"error":{{"code":"Forbidden","target":"{GUID}"}} -> 403"#),
        json!({"envelope": true, "http_status": 403}),
    );
    check("{\"status\":500\u{0}}", json!({"envelope": true, "http_status": 500}));
    check(
        &format!("\u{0}\u{0}{{\"error\":{{\"code\":\"Forbidden\",\"target\":\"{GUID}\"}}}}\u{0}"),
        json!({"code": "Forbidden"}),
    );
    check("", json!({"envelope": false, "error": null}));
    check("{{{{{{{{ }}", json!({"envelope": false}));
}

// 8. Context.

#[test]
fn context_of_the_call() {
    check(
        &format!(
            r#"{{"service":{{"name":"mde-sync"}},"http":{{"request":{{"method":"post"}}}},"url":{{"full":"https://api.security.microsoft.com/api/machines/1e5bc9d7e413ddd7902c2932e418702b84d0cc07/isolate?x=1"}},"tenantId":"{OTHER_GUID}","error":{{"code":"Forbidden","target":"{GUID}"}}}}"#
        ),
        json!({
            "service": "mde-sync", "method": "POST",
            "url": "https://api.security.microsoft.com/api/machines/1e5bc9d7e413ddd7902c2932e418702b84d0cc07/isolate?x=1",
            "host": "api.security.microsoft.com", "api": "/api/machines/{id}/isolate", "tenant_id": OTHER_GUID,
        }),
    );
    check(
        &format!(
            r#"{{"logger":"mde_client","app":"sentinel-sync","uri":"/api/alerts/123","error":{{"code":"NotFound","target":"{GUID}"}}}}"#
        ),
        json!({"service": "sentinel-sync", "url": "/api/alerts/123", "host": null, "api": "/api/alerts/{id}"}),
    );
    check(
        "2026-11-26T10:00:04.123Z ERROR DELETE https://h.example/api/machines/43f4cb08-8fac-4b65-9db1-745c2ae65f3a/tags -> 404",
        json!({"service": null, "method": "DELETE", "host": "h.example", "api": "/api/machines/{id}/tags"}),
    );
    check(r#"{"source":"collector","service.name":"edr-export","status":500}"#, json!({"service": "edr-export"}));
}
