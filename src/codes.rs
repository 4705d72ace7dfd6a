//! Defender for Endpoint's error codes, their HTTP statuses, and the aliases real clients log.
//!
//! Codes are an open set: anything not listed here is kept as written. The table is also the
//! bounded set of values the metrics use for their `code` label (everything else is `other`).

/// The published table, in the table's casing, plus `ActiveRequestAlreadyExists`, which real
/// responses carry with 400 although the table does not list it.
pub const KNOWN_CODES: &[(&str, u16)] = &[
    ("BadRequest", 400),
    ("ODataError", 400),
    ("InvalidInput", 400),
    ("InvalidRequestBody", 400),
    ("InvalidHashValue", 400),
    ("InvalidDomainName", 400),
    ("InvalidIpAddress", 400),
    ("InvalidUrl", 400),
    ("MaximumBatchSizeExceeded", 400),
    ("MissingRequiredParameter", 400),
    ("OsPlatformNotSupported", 400),
    ("ClientVersionNotSupported", 400),
    ("ActiveRequestAlreadyExists", 400),
    ("Unauthorized", 401),
    ("Forbidden", 403),
    ("DisabledFeature", 403),
    ("DisallowedOperation", 403),
    ("NotFound", 404),
    ("ResourceNotFound", 404),
    ("TooManyRequests", 429),
    ("InternalServerError", 500),
];

/// Codes from the machine-translated copy of the table and from real responses, with the
/// canonical code each one means.
const ALIASES: &[(&str, &str)] = &[
    ("Obehörig", "Unauthorized"),
    ("Förbjudet", "Forbidden"),
    ("Inaktiveradfeature", "DisabledFeature"),
    ("OtillåtenOperation", "DisallowedOperation"),
    ("Inte tillåtetOperation", "DisallowedOperation"),
    ("InvalidRequest Det här är ett måste", "InvalidRequestBody"),
    ("InvalidRequest Entitet", "InvalidRequestBody"),
    ("InvalidRequest Gemener-", "InvalidRequestBody"),
    ("InvalidRequest Parameter-", "InvalidRequestBody"),
    ("MaximumBatchSizeExceededed", "MaximumBatchSizeExceeded"),
    ("429", "TooManyRequests"),
];

/// The canonical spelling of a table code or alias, matched ignoring case and surrounding
/// spaces; `None` for a code the table does not know.
pub fn canonical(raw: &str) -> Option<&'static str> {
    let raw = raw.trim();
    if raw.is_ascii() {
        // Every non-ASCII alias keeps a non-ASCII letter in lower case (a test holds the table
        // to that), so an ASCII code can only match an ASCII entry, byte for byte. Most codes
        // are ASCII; this spares them the comparison character by character.
        let known = KNOWN_CODES.iter().map(|(code, _)| *code).find(|code| code.eq_ignore_ascii_case(raw));
        return known
            .or_else(|| ALIASES.iter().find(|(alias, _)| alias.eq_ignore_ascii_case(raw)).map(|(_, code)| *code));
    }
    ALIASES.iter().find(|(alias, _)| same_letters(alias, raw)).map(|(_, code)| *code)
}

/// The HTTP status the table gives a canonical code.
pub fn status_of(code: &str) -> Option<u16> {
    KNOWN_CODES.iter().find(|(known, _)| *known == code).map(|(_, status)| *status)
}

/// The code a bare HTTP status stands for, when a record has a status but no code.
pub fn code_for_status(status: u16) -> Option<&'static str> {
    match status {
        400 => Some("BadRequest"),
        401 => Some("Unauthorized"),
        403 => Some("Forbidden"),
        404 => Some("NotFound"),
        429 => Some("TooManyRequests"),
        500 => Some("InternalServerError"),
        _ => None,
    }
}

/// Whether a code is one the table knows, which is what keeps the metrics' code label bounded.
pub fn is_known(code: &str) -> bool {
    status_of(code).is_some()
}

/// Inner codes that mean the call was throttled, whatever the outer code says.
pub fn means_throttled(inner_code: &str) -> bool {
    let inner_code = inner_code.trim();
    inner_code.eq_ignore_ascii_case("throttledRequest") || inner_code.eq_ignore_ascii_case("TooManyRequests")
}

/// Unicode-aware case-insensitive comparison of an alias and a code as written, for the
/// translated aliases (`Obehörig`).
fn same_letters(alias: &str, raw: &str) -> bool {
    alias.chars().flat_map(char::to_lowercase).eq(raw.chars().flat_map(char::to_lowercase))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(raw: &str, expected: Option<&str>) {
        assert_eq!(canonical(raw), expected, "raw code: {raw:?}");
    }

    #[test]
    fn table_codes_match_ignoring_case_and_spaces() {
        for (code, _) in KNOWN_CODES {
            check(code, Some(code));
            check(&code.to_lowercase(), Some(code));
            check(&format!("  {}  ", code.to_uppercase()), Some(code));
        }
    }

    #[test]
    fn aliases_map_to_the_table() {
        check("Obehörig", Some("Unauthorized"));
        check("OBEHÖRIG", Some("Unauthorized"));
        check("förbjudet", Some("Forbidden"));
        check("Inaktiveradfeature", Some("DisabledFeature"));
        check("OtillåtenOperation", Some("DisallowedOperation"));
        check(" Inte tillåtetOperation ", Some("DisallowedOperation"));
        check("InvalidRequest Det här är ett måste", Some("InvalidRequestBody"));
        check("invalidrequest entitet", Some("InvalidRequestBody"));
        check("InvalidRequest Gemener-", Some("InvalidRequestBody"));
        check("InvalidRequest Parameter-", Some("InvalidRequestBody"));
        check("MaximumBatchSizeExceededed", Some("MaximumBatchSizeExceeded"));
        check("429", Some("TooManyRequests"));
        check(" 429 ", Some("TooManyRequests"));
    }

    #[test]
    fn translated_aliases_stay_non_ascii_in_lower_case() {
        for (alias, _) in ALIASES.iter().filter(|(alias, _)| !alias.is_ascii()) {
            assert!(!alias.to_lowercase().is_ascii(), "{alias:?} could match an ASCII code");
        }
    }

    #[test]
    fn other_codes_are_unknown() {
        check("Authorization_RequestDenied", None);
        check("invalid_client", None);
        check("404", None);
        check("", None);
        check("InvalidRequest", None);
    }

    #[test]
    fn statuses_of_codes_and_codes_of_statuses() {
        assert_eq!(status_of("ResourceNotFound"), Some(404));
        assert_eq!(status_of("ActiveRequestAlreadyExists"), Some(400));
        assert_eq!(status_of("resourcenotfound"), None, "only canonical spellings are looked up");
        assert_eq!(code_for_status(429), Some("TooManyRequests"));
        assert_eq!(code_for_status(503), None);
        assert!(means_throttled("throttledRequest"));
        assert!(means_throttled("TOOMANYREQUESTS"));
        assert!(!means_throttled("429"));
    }
}
