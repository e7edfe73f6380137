//! Validators for identifiers and text that arrive from clients.

/// Largest integer a JSON number carries exactly (2^53 − 1); D1 binds numbers as doubles.
pub const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;

/// Returns the canonical lowercase form of a hyphenated UUID, or `None` when `text` is not one.
pub fn parse_uuid(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    if bytes.len() != 36 {
        return None;
    }
    for (index, byte) in bytes.iter().enumerate() {
        let is_hyphen_slot = matches!(index, 8 | 13 | 18 | 23);
        if is_hyphen_slot != (*byte == b'-') {
            return None;
        }
        if !is_hyphen_slot && !byte.is_ascii_hexdigit() {
            return None;
        }
    }
    Some(text.to_ascii_lowercase())
}

/// Tenant codes: `^[a-z0-9][a-z0-9-]{2,31}$`.
pub fn is_tenant_code(text: &str) -> bool {
    let bytes = text.as_bytes();
    (3..=32).contains(&bytes.len())
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// Outlet codes: `^[A-Z0-9]{2,8}$`.
pub fn is_outlet_code(text: &str) -> bool {
    (2..=8).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Checks an email loosely, by design: one `@`, a dot in the domain, no spaces or controls.
pub fn is_email(text: &str) -> bool {
    if text.len() > 254 || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        }
        None => false,
    }
}

/// Normalizes an email for lookups: trimmed and lowercased.
pub fn normalize_email(text: &str) -> String {
    text.trim().to_lowercase()
}

/// Accepts RFC 3339 timestamps such as `2026-12-04T09:30:00Z` or with an offset, and returns
/// Unix milliseconds.
pub fn parse_rfc3339_millis(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.timestamp_millis())
}

/// Formats Unix milliseconds as RFC 3339 UTC with millisecond precision.
pub fn format_rfc3339_millis(millis: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(millis) {
        Some(time) => time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        None => String::new(),
    }
}

/// Returns the Unix milliseconds of the start of a `YYYY-MM-DD` day, and of the next day, in
/// a zone `utc_offset_hours` east of UTC.
pub fn local_day_bounds(date: &str, utc_offset_hours: i64) -> Option<(i64, i64)> {
    let day = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    let start = day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis() - utc_offset_hours * 3_600_000;
    Some((start, start + 86_400_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_is_normalized_to_lowercase() {
        assert_eq!(
            parse_uuid("0190F5C4-7D3A-7B2E-9C1D-1234567890AB").as_deref(),
            Some("0190f5c4-7d3a-7b2e-9c1d-1234567890ab")
        );
    }

    #[test]
    fn malformed_uuids_are_rejected() {
        for text in [
            "",
            "not-a-uuid",
            "0190f5c47d3a7b2e9c1d1234567890ab",
            "0190f5c4-7d3a-7b2e-9c1d-1234567890a",
            "0190f5c4-7d3a-7b2e-9c1d-1234567890ag",
            "0190f5c4-7d3a-7b2e-9c1d_1234567890ab",
            "../../etc/passwd-000000000000000000",
        ] {
            assert_eq!(parse_uuid(text), None, "{text}");
        }
    }

    #[test]
    fn tenant_code_follows_pattern() {
        assert!(is_tenant_code("roti-senja"));
        assert!(is_tenant_code("abc"));
        assert!(is_tenant_code("9warung"));
        assert!(!is_tenant_code("ab"));
        assert!(!is_tenant_code("-abc"));
        assert!(!is_tenant_code("Abc"));
        assert!(!is_tenant_code("abc_def"));
        assert!(!is_tenant_code(&"a".repeat(33)));
    }

    #[test]
    fn outlet_code_follows_pattern() {
        assert!(is_outlet_code("PUSAT"));
        assert!(is_outlet_code("C2"));
        assert!(!is_outlet_code("pusat"));
        assert!(!is_outlet_code("P"));
        assert!(!is_outlet_code("TOOLONGCODE"));
    }

    #[test]
    fn email_check_is_loose_but_sane() {
        assert!(is_email("budi@warung.id"));
        assert!(!is_email("budi"));
        assert!(!is_email("budi@warung"));
        assert!(!is_email("bu di@warung.id"));
        assert!(!is_email("a@b@c.id"));
    }

    #[test]
    fn local_day_starts_at_local_midnight() {
        let (start, end) = local_day_bounds("2026-12-04", 7).unwrap();
        assert_eq!(format_rfc3339_millis(start), "2026-12-03T17:00:00.000Z");
        assert_eq!(end - start, 86_400_000);
        assert_eq!(local_day_bounds("2026-13-04", 7), None);
    }

    #[test]
    fn rfc3339_round_trips_in_utc() {
        let millis = parse_rfc3339_millis("2026-12-04T16:30:00+07:00");
        assert_eq!(millis, Some(1_796_376_600_000));
        assert_eq!(format_rfc3339_millis(1_796_376_600_000), "2026-12-04T09:30:00.000Z");
        assert_eq!(parse_rfc3339_millis("04-12-2026"), None);
    }
}
