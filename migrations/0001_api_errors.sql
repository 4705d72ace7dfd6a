-- One row per error event. Partitioned by day so that retention drops whole partitions,
-- ordered for the trend queries dashboards run (by category, service, code over time).
-- Only types both ClickHouse 18.16 and current releases know: no DateTime64, LowCardinality,
-- TTL or codecs. The event time is seconds plus a separate millisecond part for that reason.
CREATE TABLE IF NOT EXISTS api_errors
(
    event_date Date,
    event_time DateTime,
    event_millis UInt16,
    ingest_time DateTime,
    correlation_id String,
    code String,
    raw_code String,
    http_status UInt16,
    category String,
    retryable UInt8,
    retry String,
    retry_after_seconds Nullable(Float64),
    message String,
    family String,
    inner_codes Array(String),
    service String,
    method String,
    host String,
    api String,
    tenant_id String,
    source String,
    source_partition Int32,
    source_offset UInt64,
    raw String,
    raw_truncated UInt8
)
ENGINE = MergeTree
PARTITION BY event_date
ORDER BY (category, service, code, event_time);
