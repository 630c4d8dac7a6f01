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

/// The last second (Unix) of `day`, written `YYYY-MM-DD`, in Japan: when a validity "until"
/// a day ends. `None` if `day` is not such a date (each caller says which of its fields).
pub fn end_of_day_in_japan(day: &str) -> Option<i64> {
    let date = time::Date::parse(
        day,
        &time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()?;
    Some(
        date.with_hms(23, 59, 59)
            .expect("23:59:59 is a valid time")
            .assume_offset(JAPAN)
            .unix_timestamp(),
    )
}

/// A Unix time as the board reads it, in Japan; `None` out of range.
pub fn in_japan(unix: i64) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .map(|moment| moment.to_offset(JAPAN))
}

/// A Unix time's day in Japan, written `YYYY-MM-DD` (as date fields and filters take it);
/// empty out of range.
pub fn japan_date(unix: i64) -> String {
    in_japan(unix)
        .and_then(|moment| {
            moment
                .date()
                .format(&time::macros::format_description!("[year]-[month]-[day]"))
                .ok()
        })
        .unwrap_or_default()
}
