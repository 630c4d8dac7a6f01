//! The one clock every crate reads, so that "now" means the same everywhere.

/// Current time in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Japan's offset from UTC (no daylight saving): the board's days and hours.
pub const JAPAN: time::UtcOffset = match time::UtcOffset::from_hms(9, 0, 0) {
    Ok(offset) => offset,
    Err(_) => panic!("UTC+9 is a valid offset"),
};

/// A Unix time as the board reads it, in Japan; `None` out of range.
pub fn in_japan(unix: i64) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .map(|moment| moment.to_offset(JAPAN))
}
