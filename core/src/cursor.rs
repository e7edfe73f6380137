//! Opaque list and sync cursors: base64url (no padding) of a JSON value.
//!
//! A cursor is not signed, so a client can forge one. Handlers must treat a decoded cursor as
//! untrusted input and still filter every query by tenant.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Maximum cursor length in bytes that [`decode_cursor`] reads. A valid cursor is ASCII, so this
/// is also 1024 characters, which encode 768 bytes of JSON.
pub const MAX_CURSOR_LEN: usize = 1024;

/// A cursor that is too long, not base64url, not JSON, or not the expected shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CursorError;

impl fmt::Display for CursorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cursor is invalid; repeat the request without a cursor")
    }
}

impl std::error::Error for CursorError {}

/// Encodes `value` as JSON in base64url without padding.
///
/// Keep the value small: JSON above 768 bytes makes a cursor that [`decode_cursor`] rejects.
/// A value that serde_json cannot serialize, such as a map with non-string keys, encodes as an
/// empty string, which [`decode_cursor`] also rejects.
pub fn encode_cursor<T: Serialize>(value: &T) -> String {
    match serde_json::to_vec(value) {
        Ok(json) => URL_SAFE_NO_PAD.encode(json),
        Err(_) => String::new(),
    }
}

/// Decodes a cursor made by [`encode_cursor`]. Any other text returns [`CursorError`].
pub fn decode_cursor<T: DeserializeOwned>(text: &str) -> Result<T, CursorError> {
    if text.is_empty() || text.len() > MAX_CURSOR_LEN {
        return Err(CursorError);
    }
    let json = URL_SAFE_NO_PAD.decode(text).map_err(|_| CursorError)?;
    serde_json::from_slice(&json).map_err(|_| CursorError)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::HashMap;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct NameCursor {
        name: String,
        id: String,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct VersionCursor {
        v: i64,
    }

    #[test]
    fn name_cursor_round_trips() {
        let cursor = NameCursor {
            name: "Kopi Susu / Gula Aren \"besar\" ☕".to_string(),
            id: "0190f5a2-7c4e-7d1a-9b3e-2f6c8d9e0a1b".to_string(),
        };
        let text = encode_cursor(&cursor);
        assert_eq!(decode_cursor::<NameCursor>(&text), Ok(cursor));
    }

    #[test]
    fn version_cursor_round_trips() {
        let text = encode_cursor(&VersionCursor { v: 42 });
        assert_eq!(text, "eyJ2Ijo0Mn0");
        assert_eq!(decode_cursor(&text), Ok(VersionCursor { v: 42 }));
    }

    #[test]
    fn cursor_text_is_url_safe() {
        // Bytes that standard base64 writes as `+`, `/` and `=` padding.
        let text = encode_cursor(&NameCursor {
            name: "~~~?>>>".to_string(),
            id: "ÿÿ".to_string(),
        });
        assert!(
            text.bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'),
            "{text}"
        );
    }

    #[test]
    fn garbage_cursors_are_rejected() {
        let cases = [
            "",
            "garbage!",
            "not base64 at all",
            "eyJ2Ijo0Mn0=",  // padded
            "eyJ2Ijo0Mn0==", // padded twice
            "eyJ2I jo0Mn0",  // space inside
            "eyJ2Ijo0Mn",    // truncated
            "e",
            "%%%%",
            "ÿÿÿÿ",
        ];
        for text in cases {
            assert_eq!(
                decode_cursor::<VersionCursor>(text),
                Err(CursorError),
                "cursor {text:?}"
            );
        }
    }

    #[test]
    fn base64_of_non_json_is_rejected() {
        for payload in ["hello", "{\"v\":", "\u{0}\u{1}\u{2}", "{v: 42}"] {
            let text = URL_SAFE_NO_PAD.encode(payload);
            assert_eq!(
                decode_cursor::<VersionCursor>(&text),
                Err(CursorError),
                "payload {payload:?}"
            );
        }
        let invalid_utf8 = URL_SAFE_NO_PAD.encode([0xff, 0xfe, 0xfd]);
        assert_eq!(decode_cursor::<VersionCursor>(&invalid_utf8), Err(CursorError));
    }

    #[test]
    fn json_of_wrong_shape_is_rejected() {
        for payload in [r#"{"v":"42"}"#, r#"{"w":42}"#, "42", "null", "[]"] {
            let text = URL_SAFE_NO_PAD.encode(payload);
            assert_eq!(
                decode_cursor::<VersionCursor>(&text),
                Err(CursorError),
                "payload {payload}"
            );
        }
    }

    #[test]
    fn cursor_length_is_capped() {
        let fits = NameCursor {
            name: "x".repeat(700),
            id: "1".to_string(),
        };
        let text = encode_cursor(&fits);
        assert!(text.len() <= MAX_CURSOR_LEN);
        assert_eq!(decode_cursor(&text), Ok(fits));

        let too_long = encode_cursor(&NameCursor {
            name: "x".repeat(800),
            id: "1".to_string(),
        });
        assert!(too_long.len() > MAX_CURSOR_LEN);
        assert_eq!(decode_cursor::<NameCursor>(&too_long), Err(CursorError));
        assert_eq!(decode_cursor::<NameCursor>(&"A".repeat(1_000_000)), Err(CursorError));
    }

    #[test]
    fn unserializable_value_encodes_as_rejected_cursor() {
        let mut map = HashMap::new();
        map.insert((1, 2), "tuple keys are not JSON object keys");
        let text = encode_cursor(&map);
        assert_eq!(text, "");
        assert_eq!(decode_cursor::<HashMap<String, String>>(&text), Err(CursorError));
    }
}
