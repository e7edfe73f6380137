//! The WatermelonDB sync protocol, served by the same engine as native sync.
//!
//! Pull reads the changes at or after `last_pulled_at` straight from D1, as native pull does,
//! and sorts each record into `created`, `updated` or `deleted`. Push turns the rows that
//! WatermelonDB's `synchronize()` hands to `pushChanges` into native mutations and runs them
//! in the tenant's hub with the hub's clock, because WatermelonDB clients keep none.
//!
//! The sync timestamp is a change version: a device that pulled with result `timestamp` has
//! seen every change with a version below it, so its next push edits from `timestamp - 1`.

mod pull;
mod push;

pub use self::pull::pull;
pub use self::push::push;

use kasir_core::error::ApiError;

/// Tables this protocol syncs, in pull order.
const TABLES: [&str; 5] = ["products", "categories", "customers", "transactions", "stock_movements"];

/// Reads `last_pulled_at`: absent, empty or `null` on a first sync, else a change version.
fn parse_last_pulled_at(text: Option<&str>) -> Result<Option<i64>, ApiError> {
    match text {
        None | Some("null") | Some("undefined") => Ok(None),
        Some(text) => match text.parse::<i64>() {
            Ok(version) if version >= 0 => Ok(Some(version)),
            _ => Err(ApiError::invalid("last_pulled_at", "invalid_format")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_pulled_at_forms() {
        for text in [None, Some("null"), Some("undefined")] {
            assert_eq!(parse_last_pulled_at(text).unwrap(), None);
        }
        assert_eq!(parse_last_pulled_at(Some("42")).unwrap(), Some(42));
        for text in ["-1", "1.5", "abc"] {
            assert!(parse_last_pulled_at(Some(text)).is_err(), "{text}");
        }
    }
}
