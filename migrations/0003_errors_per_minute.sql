-- Per-minute counts for dashboards over months, summed by ClickHouse as parts merge. Readers
-- must still aggregate (sum(events) ... GROUP BY): rows of one key are merged eventually, not at once.
CREATE TABLE IF NOT EXISTS api_errors_per_minute
(
    event_date Date,
    minute DateTime,
    service String,
    category String,
    code String,
    http_status UInt16,
    events UInt64
)
ENGINE = SummingMergeTree(events)
PARTITION BY event_date
ORDER BY (minute, service, category, code, http_status);

CREATE MATERIALIZED VIEW IF NOT EXISTS api_errors_per_minute_mv TO api_errors_per_minute AS
SELECT
    event_date, toStartOfMinute(event_time) AS minute, service, category, code, http_status, count() AS events
FROM api_errors
GROUP BY event_date, minute, service, category, code, http_status;
