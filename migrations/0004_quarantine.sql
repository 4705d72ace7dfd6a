-- Records that could not be read (invalid UTF-8, over the size limit, nested too deep), kept
-- with their bytes up to a cap, the reason and where they came from. Nothing is dropped silently.
CREATE TABLE IF NOT EXISTS quarantine
(
    received_date Date,
    received_time DateTime,
    reason String,
    detail String,
    source String,
    source_partition Int32,
    source_offset UInt64,
    size UInt64,
    raw String,
    raw_truncated UInt8
)
ENGINE = MergeTree
PARTITION BY received_date
ORDER BY (source, source_partition, source_offset);
