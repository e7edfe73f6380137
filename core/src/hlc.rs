//! Hybrid logical clocks: `{unix_ms:013}-{counter:04x}-{node}`, which sort as text in clock
//! order. Terminals stamp each edit with one; the server keeps its own and clamps client
//! clocks that run far ahead of it.

use std::cmp::Ordering;
use std::fmt;

/// How far ahead of the server a client clock may run before it is clamped: 5 minutes.
pub const MAX_CLOCK_AHEAD_MS: i64 = 5 * 60 * 1000;
/// Largest millisecond value the 13-digit field carries.
const MAX_MILLIS: i64 = 9_999_999_999_999;
const MAX_NODE_CHARS: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hlc {
    pub millis: i64,
    pub counter: u16,
    pub node: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HlcError;

impl fmt::Display for HlcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("hlc must look like {unix_ms:013}-{counter:04x}-{device_id}")
    }
}

impl Hlc {
    /// Parses the text form.
    ///
    /// # Errors
    /// Fails unless the text has 13 decimal digits, a dash, 4 lowercase hex digits, a dash
    /// and a node id of 1 to 64 characters without control characters.
    pub fn parse(text: &str) -> Result<Hlc, HlcError> {
        let mut parts = text.splitn(3, '-');
        let millis = parts.next().ok_or(HlcError)?;
        let counter = parts.next().ok_or(HlcError)?;
        let node = parts.next().ok_or(HlcError)?;
        if millis.len() != 13 || !millis.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HlcError);
        }
        if counter.len() != 4
            || !counter
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(HlcError);
        }
        if node.is_empty() || node.chars().count() > MAX_NODE_CHARS || node.chars().any(char::is_control) {
            return Err(HlcError);
        }
        Ok(Hlc {
            millis: millis.parse().map_err(|_| HlcError)?,
            counter: u16::from_str_radix(counter, 16).map_err(|_| HlcError)?,
            node: node.to_string(),
        })
    }

    /// Returns the clock value a server stamps on its own writes at wall time `now_ms`, after
    /// `last`.
    pub fn tick(last: Option<&Hlc>, now_ms: i64, node: &str) -> Hlc {
        match last {
            Some(last) if last.millis >= now_ms => {
                if last.counter == u16::MAX {
                    Hlc {
                        millis: last.millis + 1,
                        counter: 0,
                        node: node.to_string(),
                    }
                } else {
                    Hlc {
                        millis: last.millis,
                        counter: last.counter + 1,
                        node: node.to_string(),
                    }
                }
            }
            _ => Hlc {
                millis: now_ms.clamp(0, MAX_MILLIS),
                counter: 0,
                node: node.to_string(),
            },
        }
    }

    /// Clamps a clock running more than [`MAX_CLOCK_AHEAD_MS`] ahead of `server_now_ms`, and
    /// reports whether it did. The clamped clock is the server's next tick after `last`, the
    /// server's latest clock, so a fast device's successive edits keep their order.
    pub fn clamp_to(self, server_now_ms: i64, last: Option<&Hlc>) -> (Hlc, bool) {
        if self.millis > server_now_ms + MAX_CLOCK_AHEAD_MS {
            (Hlc::tick(last, server_now_ms, &self.node), true)
        } else {
            (self, false)
        }
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:013}-{:04x}-{}", self.millis, self.counter, self.node)
    }
}

impl Ord for Hlc {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.millis, self.counter, &self.node).cmp(&(other.millis, other.counter, &other.node))
    }
}

impl PartialOrd for Hlc {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        let text = "1796420917000-000a-0190f5c4-7d3a-7b2e-9c1d-1234567890ab";
        let hlc = Hlc::parse(text).unwrap();
        assert_eq!(hlc.millis, 1_796_420_917_000);
        assert_eq!(hlc.counter, 10);
        assert_eq!(hlc.node, "0190f5c4-7d3a-7b2e-9c1d-1234567890ab");
        assert_eq!(hlc.to_string(), text);
    }

    #[test]
    fn order_matches_text_order() {
        let a = Hlc::parse("1796420917000-0001-b").unwrap();
        let b = Hlc::parse("1796420917000-0002-a").unwrap();
        let c = Hlc::parse("1796420917001-0000-a").unwrap();
        assert!(a < b);
        assert!(b < c);
        assert!(a.to_string() < b.to_string());
        assert!(b.to_string() < c.to_string());
    }

    #[test]
    fn malformed_text_is_rejected() {
        for text in [
            "",
            "1-2-3",
            "179642091700-0001-a",
            "1796420917000-001-a",
            "1796420917000-00G1-a",
            "1796420917000-0001-",
            "1796420917000-0001-\u{0}",
        ] {
            assert_eq!(Hlc::parse(text), Err(HlcError), "{text:?}");
        }
    }

    #[test]
    fn tick_advances_past_last_clock() {
        let last = Hlc::parse("1796420917000-0003-server").unwrap();
        let next = Hlc::tick(Some(&last), 1_796_420_916_000, "server");
        assert!(next > last);
        assert_eq!(next.counter, 4);
        let later = Hlc::tick(Some(&last), 1_796_420_918_000, "server");
        assert_eq!(later.millis, 1_796_420_918_000);
        assert_eq!(later.counter, 0);
    }

    #[test]
    fn far_future_clock_is_clamped() {
        let now = 1_796_420_917_000;
        let ahead = Hlc::parse("1796424517000-0000-dev").unwrap();
        let (clamped, was_clamped) = ahead.clone().clamp_to(now, None);
        assert!(was_clamped);
        assert_eq!(clamped.millis, now);
        let (again, _) = ahead.clamp_to(now, Some(&clamped));
        assert!(again > clamped, "a second clamped clock must come after the first");
        let near = Hlc::parse("1796421017000-0000-dev").unwrap();
        assert!(!near.clamp_to(now, None).1);
    }
}
