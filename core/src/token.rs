//! Short-lived access tokens: HS256 JSON Web Tokens signed with one server secret.
//!
//! The caller passes the current Unix time in, so this module reads no clock and runs the same
//! natively and in a Worker.

use std::fmt;

use chrono::{DateTime, Utc};
use jwt_compact::alg::{Hs256, Hs256Key};
use jwt_compact::{AlgorithmExt, Claims, Header, UntrustedToken, ValidationError};
use serde::{Deserialize, Serialize};

use crate::permissions::Role;

/// Seconds past `exp` during which a token is still accepted, to absorb clock skew between
/// isolates.
pub const EXPIRY_LEEWAY_SECONDS: i64 = 30;

/// Maximum token length in bytes that [`verify_access_token`] parses. Tokens from
/// [`sign_access_token`] with UUID ids are under 500 bytes, and the cap bounds the parsing work
/// that a forged token can cause.
pub const MAX_TOKEN_LEN: usize = 4096;

/// Identity carried by an access token. The JSON claim names are short to keep the token small.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccessClaims {
    #[serde(rename = "tid")]
    pub tenant_id: String,
    #[serde(rename = "tc")]
    pub tenant_code: String,
    #[serde(rename = "sub")]
    pub user_id: String,
    pub role: Role,
    /// The device the user logged in from, when there is one.
    #[serde(rename = "dev", default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// The login session, shared by the access and refresh tokens it issued.
    #[serde(rename = "sid")]
    pub session_id: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Not a well-formed JWT, claims that do not parse, or no `exp` claim.
    Malformed,
    /// The signature does not match this secret.
    BadSignature,
    /// More than [`EXPIRY_LEEWAY_SECONDS`] past `exp`.
    Expired,
    /// The header names an algorithm other than HS256, `none` included.
    WrongAlgorithm,
    /// No token could be made: an empty secret, a TTL of 0 or less, or a time out of range.
    Signing,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = match self {
            TokenError::Malformed => "access token is malformed",
            TokenError::BadSignature => "access token signature is invalid",
            TokenError::Expired => "access token has expired",
            TokenError::WrongAlgorithm => "access token algorithm is not HS256",
            TokenError::Signing => "access token could not be signed",
        };
        f.write_str(message)
    }
}

impl std::error::Error for TokenError {}

/// Signs `claims` into an HS256 token issued at `now_unix` that expires `ttl_seconds` later.
///
/// Fails with [`TokenError::Signing`] for an empty secret, a TTL of 0 or less, or an issue or
/// expiry time that chrono cannot represent.
pub fn sign_access_token(
    secret: &[u8],
    claims: &AccessClaims,
    now_unix: i64,
    ttl_seconds: i64,
) -> Result<String, TokenError> {
    if secret.is_empty() || ttl_seconds <= 0 {
        return Err(TokenError::Signing);
    }
    let issued_at = DateTime::<Utc>::from_timestamp(now_unix, 0).ok_or(TokenError::Signing)?;
    let expires_at = now_unix
        .checked_add(ttl_seconds)
        .and_then(|seconds| DateTime::<Utc>::from_timestamp(seconds, 0))
        .ok_or(TokenError::Signing)?;

    let mut token_claims = Claims::new(claims.clone());
    token_claims.issued_at = Some(issued_at);
    token_claims.expiration = Some(expires_at);
    let header = Header::empty().with_token_type("JWT");
    Hs256
        .token(&header, &token_claims, &Hs256Key::new(secret))
        .map_err(|_| TokenError::Signing)
}

/// Verifies an HS256 token made by [`sign_access_token`] and returns its claims.
///
/// The header must name HS256, so `alg: none` and every other algorithm are rejected before
/// any signature check. The token must carry `exp` and be no more than
/// [`EXPIRY_LEEWAY_SECONDS`] past it at `now_unix`. An empty secret verifies nothing and
/// returns [`TokenError::BadSignature`].
pub fn verify_access_token(secret: &[u8], token: &str, now_unix: i64) -> Result<AccessClaims, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let untrusted = UntrustedToken::new(token).map_err(|_| TokenError::Malformed)?;
    if untrusted.algorithm() != "HS256" {
        return Err(TokenError::WrongAlgorithm);
    }
    if secret.is_empty() {
        return Err(TokenError::BadSignature);
    }

    let key = Hs256Key::new(secret);
    let verified = Hs256
        .validator::<AccessClaims>(&key)
        .validate(&untrusted)
        .map_err(validation_error)?;
    let (_, claims) = verified.into_parts();

    let expires_at = claims.expiration.ok_or(TokenError::Malformed)?;
    if now_unix > expires_at.timestamp().saturating_add(EXPIRY_LEEWAY_SECONDS) {
        return Err(TokenError::Expired);
    }
    Ok(claims.custom)
}

fn validation_error(error: ValidationError) -> TokenError {
    match error {
        ValidationError::AlgorithmMismatch { .. } => TokenError::WrongAlgorithm,
        ValidationError::InvalidSignatureLen { .. }
        | ValidationError::MalformedSignature(_)
        | ValidationError::InvalidSignature => TokenError::BadSignature,
        ValidationError::Expired => TokenError::Expired,
        _ => TokenError::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use jwt_compact::alg::{Hs384, Hs384Key};
    use serde_json::{json, Value};

    const SECRET: &[u8] = b"test-secret-of-reasonable-length-0123456789";
    const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
    const TTL: i64 = 900;

    fn kasir_claims() -> AccessClaims {
        AccessClaims {
            tenant_id: "0190f5a2-7c4e-7d1a-9b3e-2f6c8d9e0a1b".to_string(),
            tenant_code: "warung-sari".to_string(),
            user_id: "0190f5a2-7c4e-7d1a-9b3e-2f6c8d9e0a1c".to_string(),
            role: Role::Kasir,
            device_id: Some("0190f5a2-7c4e-7d1a-9b3e-2f6c8d9e0a1d".to_string()),
            session_id: "0190f5a2-7c4e-7d1a-9b3e-2f6c8d9e0a1e".to_string(),
        }
    }

    fn signed_token() -> String {
        sign_access_token(SECRET, &kasir_claims(), NOW, TTL).expect("signs")
    }

    fn encode_json(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    fn decode_segment(segment: &str) -> Value {
        let bytes = URL_SAFE_NO_PAD.decode(segment).expect("base64url");
        serde_json::from_slice(&bytes).expect("JSON")
    }

    fn token_segments(token: &str) -> Vec<String> {
        token.split('.').map(str::to_string).collect()
    }

    #[test]
    fn token_round_trips_claims() {
        let token = signed_token();
        assert_eq!(verify_access_token(SECRET, &token, NOW), Ok(kasir_claims()));
    }

    #[test]
    fn token_without_device_round_trips() {
        let claims = AccessClaims {
            role: Role::Owner,
            device_id: None,
            ..kasir_claims()
        };
        let token = sign_access_token(SECRET, &claims, NOW, TTL).expect("signs");
        let payload = decode_segment(&token_segments(&token)[1]);
        assert!(payload.get("dev").is_none(), "{payload}");
        assert_eq!(verify_access_token(SECRET, &token, NOW), Ok(claims));
    }

    #[test]
    fn token_uses_short_claim_names() {
        let token = signed_token();
        assert!(token.len() < 500, "token is {} bytes", token.len());
        let segments = token_segments(&token);
        assert_eq!(segments.len(), 3);

        let header = decode_segment(&segments[0]);
        assert_eq!(header["alg"], "HS256");
        assert_eq!(header["typ"], "JWT");

        let payload = decode_segment(&segments[1]);
        let claims = kasir_claims();
        assert_eq!(payload["tid"], json!(claims.tenant_id));
        assert_eq!(payload["tc"], json!(claims.tenant_code));
        assert_eq!(payload["sub"], json!(claims.user_id));
        assert_eq!(payload["role"], "kasir");
        assert_eq!(payload["dev"], json!(claims.device_id));
        assert_eq!(payload["sid"], json!(claims.session_id));
        assert_eq!(payload["iat"], NOW);
        assert_eq!(payload["exp"], NOW + TTL);
    }

    #[test]
    fn token_expires_after_leeway() {
        let token = signed_token();
        let expires_at = NOW + TTL;
        assert!(verify_access_token(SECRET, &token, expires_at).is_ok());
        assert!(verify_access_token(SECRET, &token, expires_at + EXPIRY_LEEWAY_SECONDS).is_ok());
        assert_eq!(
            verify_access_token(SECRET, &token, expires_at + EXPIRY_LEEWAY_SECONDS + 1),
            Err(TokenError::Expired)
        );
        assert_eq!(verify_access_token(SECRET, &token, i64::MAX), Err(TokenError::Expired));
    }

    #[test]
    fn tampered_payload_is_rejected() {
        let segments = token_segments(&signed_token());
        let mut payload = decode_segment(&segments[1]);
        payload["role"] = json!("owner");
        let forged = format!("{}.{}.{}", segments[0], encode_json(&payload), segments[2]);
        assert_eq!(verify_access_token(SECRET, &forged, NOW), Err(TokenError::BadSignature));
    }

    #[test]
    fn tampered_signature_is_rejected() {
        let segments = token_segments(&signed_token());
        let mut signature = URL_SAFE_NO_PAD.decode(&segments[2]).expect("base64url");
        signature[0] ^= 0x01;
        let forged = format!("{}.{}.{}", segments[0], segments[1], URL_SAFE_NO_PAD.encode(&signature));
        assert_eq!(verify_access_token(SECRET, &forged, NOW), Err(TokenError::BadSignature));

        let truncated = format!("{}.{}.{}", segments[0], segments[1], &segments[2][..8]);
        assert_eq!(
            verify_access_token(SECRET, &truncated, NOW),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn wrong_key_is_rejected() {
        let token = signed_token();
        assert_eq!(
            verify_access_token(b"another-secret", &token, NOW),
            Err(TokenError::BadSignature)
        );
        assert_eq!(verify_access_token(b"", &token, NOW), Err(TokenError::BadSignature));
    }

    #[test]
    fn alg_none_is_rejected() {
        let payload = decode_segment(&token_segments(&signed_token())[1]);
        for alg in ["none", "None", "NONE"] {
            let header = json!({"alg": alg, "typ": "JWT"});
            let unsigned = format!("{}.{}.", encode_json(&header), encode_json(&payload));
            assert_eq!(
                verify_access_token(SECRET, &unsigned, NOW),
                Err(TokenError::WrongAlgorithm),
                "alg {alg}"
            );
        }
    }

    #[test]
    fn hs384_token_is_rejected() {
        let mut claims = Claims::new(kasir_claims());
        claims.expiration = DateTime::<Utc>::from_timestamp(NOW + TTL, 0);
        let token = Hs384
            .token(&Header::empty(), &claims, &Hs384Key::new(SECRET))
            .expect("signs");
        assert_eq!(
            verify_access_token(SECRET, &token, NOW),
            Err(TokenError::WrongAlgorithm)
        );
    }

    #[test]
    fn token_without_exp_is_rejected() {
        let claims = Claims::new(kasir_claims());
        let token = Hs256
            .token(&Header::empty(), &claims, &Hs256Key::new(SECRET))
            .expect("signs");
        assert_eq!(verify_access_token(SECRET, &token, NOW), Err(TokenError::Malformed));
    }

    #[test]
    fn token_with_unparsable_claims_is_rejected() {
        let header = encode_json(&json!({"alg": "HS256"}));
        let cases = [
            json!({"exp": NOW + TTL}),
            json!({"exp": "tomorrow", "tid": "t", "tc": "c", "sub": "u", "role": "kasir", "sid": "s"}),
            json!({"exp": NOW + TTL, "tid": "t", "tc": "c", "sub": "u", "role": "root", "sid": "s"}),
            json!({"exp": i64::MAX, "tid": "t", "tc": "c", "sub": "u", "role": "kasir", "sid": "s"}),
        ];
        for payload in cases {
            let signing_input = format!("{header}.{}", encode_json(&payload));
            let token = format!("{signing_input}.{}", hs256_signature(&signing_input));
            assert_eq!(
                verify_access_token(SECRET, &token, NOW),
                Err(TokenError::Malformed),
                "payload {payload}"
            );
        }
    }

    /// Signs arbitrary text with HS256 through jwt-compact's algorithm API.
    fn hs256_signature(signing_input: &str) -> String {
        use jwt_compact::{Algorithm, AlgorithmSignature};
        let signature = Hs256.sign(&Hs256Key::new(SECRET), signing_input.as_bytes());
        URL_SAFE_NO_PAD.encode(signature.as_bytes())
    }

    #[test]
    fn garbage_tokens_are_malformed() {
        let too_long = "a".repeat(MAX_TOKEN_LEN + 1);
        let cases = [
            "",
            "abc",
            "a.b",
            "a.b.c",
            "a.b.c.d",
            "...",
            "!!!.@@@.###",
            "eyJhbGciOiJIUzI1NiJ9..",
            "eyJhbGciOiJIUzI1NiJ9.e30.",
            "bm90IGpzb24.e30.",
            "Bearer abc",
            too_long.as_str(),
        ];
        for token in cases {
            let result = verify_access_token(SECRET, token, NOW);
            assert!(
                matches!(result, Err(TokenError::Malformed | TokenError::BadSignature)),
                "token {token:.40} gave {result:?}"
            );
        }
    }

    #[test]
    fn header_without_alg_is_malformed() {
        let payload = decode_segment(&token_segments(&signed_token())[1]);
        let header = json!({"typ": "JWT"});
        let token = format!("{}.{}.AAAA", encode_json(&header), encode_json(&payload));
        assert_eq!(verify_access_token(SECRET, &token, NOW), Err(TokenError::Malformed));
    }

    #[test]
    fn signing_rejects_bad_inputs() {
        let claims = kasir_claims();
        assert_eq!(sign_access_token(b"", &claims, NOW, TTL), Err(TokenError::Signing));
        assert_eq!(sign_access_token(SECRET, &claims, NOW, 0), Err(TokenError::Signing));
        assert_eq!(sign_access_token(SECRET, &claims, NOW, -1), Err(TokenError::Signing));
        assert_eq!(
            sign_access_token(SECRET, &claims, i64::MAX, TTL),
            Err(TokenError::Signing)
        );
        assert_eq!(
            sign_access_token(SECRET, &claims, i64::MIN, TTL),
            Err(TokenError::Signing)
        );
        assert_eq!(
            sign_access_token(SECRET, &claims, NOW, i64::MAX),
            Err(TokenError::Signing)
        );
    }
}
