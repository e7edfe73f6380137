//! Daily job times in a tenant's zone: when today's slot falls, and which slot is the latest
//! one due. Slots are named by the tenant-local date, which makes each job once per day.

use crate::validate::local_day_bounds;

const DAY_MS: i64 = 86_400_000;

/// Parses `HH:MM` into minutes after midnight.
pub fn parse_clock(text: &str) -> Option<i64> {
    let (hours, minutes) = text.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 || !hours.bytes().chain(minutes.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes): (i64, i64) = (hours.parse().ok()?, minutes.parse().ok()?);
    (hours < 24 && minutes < 60).then_some(hours * 60 + minutes)
}

/// Returns the tenant-local date (`YYYY-MM-DD`) at Unix milliseconds `at_ms`.
pub fn local_date(at_ms: i64, utc_offset_hours: i64) -> String {
    let local = at_ms + utc_offset_hours * 3_600_000;
    match chrono::DateTime::from_timestamp_millis(local) {
        Some(time) => time.format("%Y-%m-%d").to_string(),
        None => String::new(),
    }
}

/// Unix milliseconds of the slot at `minutes` after local midnight of `date`.
pub fn slot_time(date: &str, utc_offset_hours: i64, minutes: i64) -> Option<i64> {
    local_day_bounds(date, utc_offset_hours).map(|(start, _)| start + minutes * 60_000)
}

/// Returns the latest slot at or before `now_ms`: its local date and time.
pub fn latest_due(now_ms: i64, utc_offset_hours: i64, minutes: i64) -> Option<(String, i64)> {
    let today = local_date(now_ms, utc_offset_hours);
    let at = slot_time(&today, utc_offset_hours, minutes)?;
    if at <= now_ms {
        return Some((today, at));
    }
    let yesterday = local_date(now_ms - DAY_MS, utc_offset_hours);
    slot_time(&yesterday, utc_offset_hours, minutes).map(|at| (yesterday, at))
}

/// Returns the first slot strictly after `now_ms`.
pub fn next_slot(now_ms: i64, utc_offset_hours: i64, minutes: i64) -> Option<i64> {
    let (_, latest) = latest_due(now_ms, utc_offset_hours, minutes)?;
    Some(latest + DAY_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::parse_rfc3339_millis;

    fn at(text: &str) -> i64 {
        parse_rfc3339_millis(text).unwrap()
    }

    #[test]
    fn clock_is_parsed_in_minutes() {
        assert_eq!(parse_clock("02:00"), Some(120));
        assert_eq!(parse_clock("21:30"), Some(1290));
        assert_eq!(parse_clock("24:00"), None);
        assert_eq!(parse_clock("+1:00"), None);
        assert_eq!(parse_clock("2:00"), None);
    }

    #[test]
    fn late_evening_in_jakarta_is_that_local_day() {
        // 23:30 WIB on 4 December is 16:30 UTC.
        assert_eq!(local_date(at("2026-12-04T16:30:00Z"), 7), "2026-12-04");
        // 00:10 WIB on 5 December is 17:10 UTC on the 4th.
        assert_eq!(local_date(at("2026-12-04T17:10:00Z"), 7), "2026-12-05");
    }

    #[test]
    fn latest_due_slot_by_time_of_day() {
        // 21:00 WIB is 14:00 UTC.
        let (date, time) = latest_due(at("2026-12-04T15:00:00Z"), 7, 21 * 60).unwrap();
        assert_eq!(date, "2026-12-04");
        assert_eq!(time, at("2026-12-04T14:00:00Z"));
        let (date, _) = latest_due(at("2026-12-04T13:00:00Z"), 7, 21 * 60).unwrap();
        assert_eq!(date, "2026-12-03");
    }

    #[test]
    fn next_slot_is_the_following_occurrence() {
        // 02:00 WITA (UTC+8) is 18:00 UTC the day before.
        assert_eq!(
            next_slot(at("2026-12-04T10:00:00Z"), 8, 120),
            Some(at("2026-12-04T18:00:00Z"))
        );
        assert_eq!(
            next_slot(at("2026-12-04T18:00:00Z"), 8, 120),
            Some(at("2026-12-05T18:00:00Z"))
        );
    }
}
