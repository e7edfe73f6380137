//! Password hashing (PBKDF2-SHA256 through WebCrypto), random tokens and digests.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use js_sys::{Object, Reflect, Uint8Array};
use sha2::{Digest, Sha256};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Crypto, CryptoKey, WorkerGlobalScope};

/// PBKDF2 rounds. workerd rejects more than 100,000, so this is the most it allows.
const PBKDF2_ITERATIONS: u32 = 100_000;
const SALT_BYTES: usize = 16;
const HASH_BITS: u32 = 256;

/// A stored hash that no password matches, verified for unknown users so a login takes as
/// long whether or not the email exists.
const DUMMY_HASH: &str = "pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn crypto() -> worker::Result<Crypto> {
    // workerd's global scope carries `crypto` as a browser worker's does.
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    scope.crypto().map_err(js_error)
}

fn js_error(error: JsValue) -> worker::Error {
    worker::Error::from(error)
}

/// Fills a buffer from the runtime's secure random source.
pub fn random_bytes<const N: usize>() -> worker::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    crypto()?
        .get_random_values_with_u8_array(&mut bytes)
        .map_err(js_error)?;
    Ok(bytes)
}

/// Generates a random (version 4) UUID.
pub fn new_uuid() -> worker::Result<String> {
    Ok(crypto()?.random_uuid())
}

/// Generates a random opaque token: 32 bytes, base64url.
pub fn random_token() -> worker::Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// SHA-256 of a text as lowercase hex, for storing tokens that must not be readable.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn pbkdf2(password: &str, salt: &[u8], iterations: u32) -> worker::Result<Vec<u8>> {
    let subtle = crypto()?.subtle();
    let usages = js_sys::Array::of1(&JsValue::from_str("deriveBits"));
    let password_bytes = Uint8Array::from(password.as_bytes());
    let key = subtle
        .import_key_with_str("raw", &password_bytes, "PBKDF2", false, &usages)
        .map_err(js_error)?;
    let key: CryptoKey = JsFuture::from(key).await.map_err(js_error)?.unchecked_into();

    let algorithm = Object::new();
    Reflect::set(&algorithm, &"name".into(), &"PBKDF2".into()).map_err(js_error)?;
    Reflect::set(&algorithm, &"hash".into(), &"SHA-256".into()).map_err(js_error)?;
    Reflect::set(&algorithm, &"salt".into(), &Uint8Array::from(salt)).map_err(js_error)?;
    Reflect::set(&algorithm, &"iterations".into(), &JsValue::from(iterations)).map_err(js_error)?;
    let bits = subtle
        .derive_bits_with_object(&algorithm, &key, HASH_BITS)
        .map_err(js_error)?;
    let bits = JsFuture::from(bits).await.map_err(js_error)?;
    Ok(Uint8Array::new(&bits).to_vec())
}

/// Hashes a password as `pbkdf2-sha256$<iterations>$<salt>$<hash>` (base64url parts).
pub async fn hash_password(password: &str) -> worker::Result<String> {
    let salt = random_bytes::<SALT_BYTES>()?;
    let hash = pbkdf2(password, &salt, PBKDF2_ITERATIONS).await?;
    Ok(format!(
        "pbkdf2-sha256${PBKDF2_ITERATIONS}${}${}",
        URL_SAFE_NO_PAD.encode(salt),
        URL_SAFE_NO_PAD.encode(hash)
    ))
}

/// Checks a password against a stored hash; `None` runs against a dummy hash and fails,
/// taking the same time as a real check.
pub async fn verify_password(password: &str, stored: Option<&str>) -> worker::Result<bool> {
    let is_real = stored.is_some();
    let stored = stored.unwrap_or(DUMMY_HASH);
    let parts: Vec<&str> = stored.split('$').collect();
    let [scheme, iterations, salt, expected] = parts.as_slice() else {
        return Ok(false);
    };
    let (Ok(iterations), Ok(salt), Ok(expected)) = (
        iterations.parse::<u32>(),
        URL_SAFE_NO_PAD.decode(salt),
        URL_SAFE_NO_PAD.decode(expected),
    ) else {
        return Ok(false);
    };
    if *scheme != "pbkdf2-sha256" || iterations == 0 || iterations > PBKDF2_ITERATIONS {
        return Ok(false);
    }
    let actual = pbkdf2(password, &salt, iterations).await?;
    Ok(constant_time_eq(&actual, &expected) && is_real)
}
