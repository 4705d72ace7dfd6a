//! The API a call went to, in a form that groups calls: `/api/machines/{id}/isolate`.

use crate::guid::Guid;

/// The host of an absolute URL (`api.security.microsoft.com`), without port or credentials.
pub fn host(url: &str) -> Option<&str> {
    let rest = after_scheme(url)?;
    let authority = rest.get(..path_start(rest))?;
    let host_and_port = authority.rsplit_once('@').map_or(authority, |(_, host_and_port)| host_and_port);
    let host = match host_and_port.strip_prefix('[') {
        Some(bracketed) => bracketed.split_once(']').map_or(bracketed, |(host, _)| host),
        None => host_and_port.split_once(':').map_or(host_and_port, |(host, _)| host),
    };
    (!host.is_empty()).then_some(host)
}

/// The URL's path with every id replaced by `{id}` and the query string dropped. Ids are
/// GUIDs, numbers, hex strings of 16 characters or more (machine ids are 40), and OData keys
/// such as `machines('…')`. `None` when there is no path.
pub fn api_template(url: &str) -> Option<String> {
    let path = match after_scheme(url) {
        Some(rest) => rest.find('/').and_then(|slash| rest.get(slash..))?,
        None if url.starts_with('/') => url,
        None => return None,
    };
    let path_end = memchr::memchr2(b'?', b'#', path.as_bytes()).unwrap_or(path.len());
    let path = path.get(..path_end)?;
    let mut template = String::with_capacity(path.len());
    for (index, segment) in path.split('/').enumerate() {
        if index > 0 {
            template.push('/');
        }
        push_segment(&mut template, segment);
    }
    Some(template)
}

/// What follows the first `://`: the authority and the rest.
fn after_scheme(url: &str) -> Option<&str> {
    let bytes = url.as_bytes();
    let colon = memchr::memchr_iter(b':', bytes).find(|&colon| bytes.get(colon + 1..colon + 3) == Some(b"//"))?;
    url.get(colon + 3..)
}

/// Where the authority ends: at the path, the query or the fragment.
fn path_start(rest: &str) -> usize {
    memchr::memchr3(b'/', b'?', b'#', rest.as_bytes()).unwrap_or(rest.len())
}

fn push_segment(template: &mut String, segment: &str) {
    if is_id(segment) {
        template.push_str("{id}");
        return;
    }
    // OData key syntax: machines('abc…') or alerts(123).
    if let Some((name, key)) = segment.strip_suffix(')').and_then(|s| s.split_once('(')) {
        if is_id(key.trim_matches('\'')) {
            template.push_str(name);
            template.push_str("({id})");
            return;
        }
    }
    template.push_str(segment);
}

fn is_id(segment: &str) -> bool {
    if segment.is_empty() {
        return false;
    }
    let all_digits = segment.bytes().all(|b| b.is_ascii_digit());
    let long_hex = segment.len() >= 16 && segment.bytes().all(|b| b.is_ascii_hexdigit());
    // A GUID is 32 or 36 characters, 34 or 38 in braces.
    let may_be_guid = matches!(segment.trim().len(), 32 | 34 | 36 | 38);
    all_digits || long_hex || (may_be_guid && Guid::parse(segment).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(url: &str, expected_host: Option<&str>, expected_api: Option<&str>) {
        assert_eq!(host(url), expected_host, "host of {url:?}");
        assert_eq!(api_template(url).as_deref(), expected_api, "api of {url:?}");
    }

    #[test]
    fn ids_become_placeholders() {
        check(
            "https://api.security.microsoft.com/api/machines/1e5bc9d7e413ddd7902c2932e418702b84d0cc07/isolate",
            Some("api.security.microsoft.com"),
            Some("/api/machines/{id}/isolate"),
        );
        check(
            "https://api.securitycenter.microsoft.com/api/alerts/da637308392288907382_-880718168?$expand=evidence",
            Some("api.securitycenter.microsoft.com"),
            Some("/api/alerts/da637308392288907382_-880718168"),
        );
        check(
            "https://h:8443/api/machineactions/43f4cb08-8fac-4b65-9db1-745c2ae65f3a",
            Some("h"),
            Some("/api/machineactions/{id}"),
        );
        check("https://h/api/ips/10/stats", Some("h"), Some("/api/ips/{id}/stats"));
        check(
            "https://h/api/machines('0a1b2c3d4e5f60718293a4b5c6d7e8f901234567')/x",
            Some("h"),
            Some("/api/machines({id})/x"),
        );
        check("https://h/api/machines/abc/isolate", Some("h"), Some("/api/machines/abc/isolate"));
        check("https://user@h", Some("h"), None);
        check("/api/alerts/123", None, Some("/api/alerts/{id}"));
        check("not a url", None, None);
    }
}
