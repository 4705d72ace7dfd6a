//! `errwatch lookup`: every stored event of one correlation id, oldest first.

use std::process::ExitCode;

use crate::guid::CorrelationId;
use crate::json;
use crate::shutdown::Shutdown;
use crate::store::{code_label, JsonEvent, Lookup, Store, StoredEvent};

/// `errwatch lookup`: prints the events of `id` (any spelling of a GUID) as a table or JSON;
/// exits 1 when there are none. Waits for an unreachable server as `wait` allows. When more
/// are stored than a lookup answers with, one line on standard error says so, whatever the
/// format, so that a script's JSON keeps its shape.
pub fn command(
    store: crate::store::Settings,
    id: &str,
    json: bool,
    wait: super::WaitForClickHouse,
) -> anyhow::Result<ExitCode> {
    let Some(id) = CorrelationId::parse(id) else {
        anyhow::bail!("{id:?} is not a correlation id: expected a GUID such as 43f4cb08-8fac-4b65-9db1-745c2ae65f3a");
    };
    let store = Store::new(store)?;
    let found = super::runtime()?.block_on(super::reach(&store, wait, &Shutdown::new(), || async {
        store.ping().await?;
        store.lookup(id).await
    }))?;
    let Some(found) = found else { return Ok(ExitCode::FAILURE) };
    let database = &store.settings().database;
    if found.events.is_empty() {
        eprintln!("errwatch: no events for correlation id {id} in database {database}");
        return Ok(ExitCode::FAILURE);
    }
    let output = if json { json_array(&found.events) } else { table(&found.events) };
    std::io::Write::write_all(&mut std::io::stdout().lock(), output.as_bytes())?;
    if let Some(notice) = limit_notice(&found, id, database) {
        eprintln!("errwatch: {notice}");
    }
    Ok(ExitCode::SUCCESS)
}

/// What to tell when a lookup stopped at its limit: how many events were shown, and the query
/// that reads the rest from ClickHouse, starting at the second of the last one shown.
pub fn limit_notice(found: &Lookup, id: CorrelationId, database: &str) -> Option<String> {
    if !found.truncated {
        return None;
    }
    let last = found.events.last()?;
    let from = last.timestamp().map(|time| format!(" from {time} on")).unwrap_or_default();
    Some(format!(
        "showing the first {limit} events of more than {limit} for correlation id {id}; \
         the rest{from}: SELECT * FROM {database}.api_errors_by_correlation \
         WHERE correlation_id = '{id}' AND event_time >= toDateTime({seconds}) \
         ORDER BY event_time, event_millis, source, source_partition, source_offset",
        limit = found.limit,
        seconds = last.event_time,
    ))
}

/// The events as a table for people: time, service, call, status, code, category, message.
pub fn table(events: &[StoredEvent]) -> String {
    let rows: Vec<[String; 7]> = events
        .iter()
        .map(|event| {
            let call = format!("{} {}", event.method, if event.api.is_empty() { "-" } else { &event.api });
            [
                event.timestamp().map(|time| time.to_string()).unwrap_or_default(),
                or_dash(&event.service),
                call.trim().to_owned(),
                if event.http_status == 0 { "-".to_owned() } else { event.http_status.to_string() },
                code_label(&event.code, event.http_status).into_owned(),
                event.category.clone(),
                shorten(&event.message, 100),
            ]
        })
        .collect();
    let header = ["TIME", "SERVICE", "CALL", "STATUS", "CODE", "CATEGORY", "MESSAGE"];
    let mut widths = header.map(|title| title.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let padded: Vec<String> = cells.iter().zip(widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    };
    line(&header.map(str::to_owned));
    for row in &rows {
        line(row);
    }
    out
}

/// The events as one JSON array, for scripts.
pub fn json_array(events: &[StoredEvent]) -> String {
    let items: Vec<JsonEvent<'_>> = events.iter().map(JsonEvent::from).collect();
    let mut out = Vec::new();
    let _ = json::write_line(&mut out, &items);
    String::from_utf8(out).unwrap_or_default()
}

fn or_dash(text: &str) -> String {
    if text.is_empty() {
        "-".to_owned()
    } else {
        text.to_owned()
    }
}

/// At most `limit` characters on one line.
fn shorten(text: &str, limit: usize) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(limit) {
        Some((cut, _)) => format!("{}…", one_line.get(..cut).unwrap_or_default()),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(message: &str) -> StoredEvent {
        StoredEvent {
            correlation_id: "43f4cb08-8fac-4b65-9db1-745c2ae65f3a".into(),
            event_date: 20_783,
            event_time: 1_795_312_801,
            event_millis: 250,
            service: "sync".into(),
            method: "POST".into(),
            api: "/api/machines/{id}/isolate".into(),
            host: "h".into(),
            http_status: 429,
            code: "TooManyRequests".into(),
            category: "throttling".into(),
            message: message.into(),
            source: "file:1".into(),
            source_partition: 0,
            source_offset: 3,
        }
    }

    #[test]
    fn a_table_for_people() {
        let out = table(&[event("quota\nreached"), event("")]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("TIME"), "{out}");
        assert!(
            lines[1].contains("POST /api/machines/{id}/isolate  429     TooManyRequests  throttling  quota reached"),
            "{out}"
        );
    }

    #[test]
    fn an_error_without_a_code_is_named_by_its_status() {
        let mut unavailable = event("unavailable");
        unavailable.code = String::new();
        unavailable.http_status = 503;
        unavailable.category = "server".into();
        let out = table(&[unavailable]);
        assert!(out.contains("  503     HTTP 503  server    unavailable"), "{out}");
    }

    #[test]
    fn json_for_scripts() {
        let out = json_array(&[event("m")]);
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed[0]["http_status"], 429);
        assert_eq!(parsed[0]["timestamp"], "2026-11-22T02:00:01.250Z");
    }

    #[test]
    fn a_lookup_that_stopped_at_its_limit_says_so_and_how_to_read_the_rest() {
        let id = CorrelationId::parse("43f4cb08-8fac-4b65-9db1-745c2ae65f3a").unwrap();
        let found = |truncated| Lookup { events: vec![event("a"), event("b")], truncated, limit: 2 };
        assert_eq!(limit_notice(&found(false), id, "errwatch"), None);
        assert_eq!(
            limit_notice(&found(true), id, "errwatch").unwrap(),
            "showing the first 2 events of more than 2 for correlation id 43f4cb08-8fac-4b65-9db1-745c2ae65f3a; \
             the rest from 2026-11-22T02:00:01.250Z on: SELECT * FROM errwatch.api_errors_by_correlation \
             WHERE correlation_id = '43f4cb08-8fac-4b65-9db1-745c2ae65f3a' AND event_time >= toDateTime(1795312801) \
             ORDER BY event_time, event_millis, source, source_partition, source_offset"
        );
    }

    #[test]
    fn long_messages_are_shortened() {
        assert_eq!(shorten("abcdef", 3), "abc…");
        assert_eq!(shorten("a  b", 10), "a b");
    }
}
