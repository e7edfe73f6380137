//! Forged JSON Web Tokens for the token tests.
//!
//! The tests crate depends on no JWT, HMAC or SHA-2 crate, so this module implements
//! HMAC (RFC 2104) over SHA-256, SHA-384 and SHA-512 (FIPS 180-4), and base64url without
//! padding (RFC 7515 section 2). The unit tests at the bottom check it against RFC 4231
//! vectors. The round constants are the fractional parts of the square and cube roots of
//! the first primes, as FIPS 180-4 defines them.

use serde_json::{json, Value};

/// HMAC algorithm named in a token's `alg` header.
#[derive(Clone, Copy, Debug)]
pub enum Algorithm {
    Hs256,
    Hs384,
    Hs512,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Hs256 => "HS256",
            Algorithm::Hs384 => "HS384",
            Algorithm::Hs512 => "HS512",
        }
    }

    /// Computes the HMAC of `message` under `key`.
    pub fn mac(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        match self {
            Algorithm::Hs256 => hmac(sha256, 64, key, message),
            Algorithm::Hs384 => hmac(sha384, 128, key, message),
            Algorithm::Hs512 => hmac(sha512, 128, key, message),
        }
    }
}

/// Signs `claims` with `algorithm` and `secret` under the header `{"alg", "typ": "JWT"}`.
pub fn sign(algorithm: Algorithm, secret: &[u8], claims: &Value) -> String {
    let header = json!({"alg": algorithm.name(), "typ": "JWT"});
    let signing_input = format!("{}.{}", encode_json(&header), encode_json(claims));
    let signature = algorithm.mac(secret, signing_input.as_bytes());
    format!("{signing_input}.{}", base64url(&signature))
}

/// Builds an unsigned token with `alg: none` and an empty signature.
pub fn unsigned(claims: &Value) -> String {
    let header = json!({"alg": "none", "typ": "JWT"});
    format!("{}.{}.", encode_json(&header), encode_json(claims))
}

/// Decodes the payload of a compact token, panicking on anything that is not a JWT.
#[track_caller]
pub fn claims_of(token: &str) -> Value {
    let payload = token
        .split('.')
        .nth(1)
        .unwrap_or_else(|| panic!("token {token:.40}... has no payload segment"));
    let bytes = base64url_decode(payload).unwrap_or_else(|| panic!("token payload {payload:.40}... is not base64url"));
    serde_json::from_slice(&bytes).unwrap_or_else(|error| panic!("token payload is not JSON: {error}"))
}

/// Replaces the payload of a compact token and keeps its header and signature.
#[track_caller]
pub fn with_claims(token: &str, claims: &Value) -> String {
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(segments.len(), 3, "token {token:.40}... does not have three segments");
    format!("{}.{}.{}", segments[0], encode_json(claims), segments[2])
}

fn encode_json(value: &Value) -> String {
    base64url(value.to_string().as_bytes())
}

const BASE64URL_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Encodes bytes as base64url without padding.
pub fn base64url(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let mut group = [0u8; 3];
        group[..chunk.len()].copy_from_slice(chunk);
        let bits = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
        // A chunk of n bytes carries n + 1 significant six-bit digits.
        for index in 0..=chunk.len() {
            let digit = (bits >> (18 - 6 * index)) & 0x3f;
            text.push(char::from(BASE64URL_ALPHABET[digit as usize]));
        }
    }
    text
}

/// Decodes base64url without padding. Returns `None` when the text has any other character.
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(text.len() * 3 / 4);
    let mut bits: u32 = 0;
    let mut bit_count = 0;
    for character in text.bytes() {
        let digit = BASE64URL_ALPHABET.iter().position(|&c| c == character)? as u32;
        bits = bits << 6 | digit;
        bit_count += 6;
        if bit_count >= 8 {
            bit_count -= 8;
            bytes.push((bits >> bit_count) as u8);
            bits &= (1 << bit_count) - 1;
        }
    }
    Some(bytes)
}

/// Computes HMAC with a hash function of the given block size in bytes.
fn hmac(hash: fn(&[u8]) -> Vec<u8>, block_size: usize, key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block_key = if key.len() > block_size {
        hash(key)
    } else {
        key.to_vec()
    };
    block_key.resize(block_size, 0);

    let mut inner: Vec<u8> = block_key.iter().map(|byte| byte ^ 0x36).collect();
    inner.extend_from_slice(message);
    let inner_digest = hash(&inner);

    let mut outer: Vec<u8> = block_key.iter().map(|byte| byte ^ 0x5c).collect();
    outer.extend_from_slice(&inner_digest);
    hash(&outer)
}

/// Pads a message for SHA-2 with a 1 bit, zeros and then the bit length in `length_bytes`
/// big-endian bytes, up to a multiple of `block_size`.
fn pad(message: &[u8], block_size: usize, length_bytes: usize) -> Vec<u8> {
    let mut padded = message.to_vec();
    padded.push(0x80);
    while padded.len() % block_size != block_size - length_bytes {
        padded.push(0);
    }
    let bit_length = (message.len() as u128) * 8;
    padded.extend_from_slice(&bit_length.to_be_bytes()[16 - length_bytes..]);
    padded
}

fn sha256(message: &[u8]) -> Vec<u8> {
    let mut state = SHA256_INITIAL;
    for block in pad(message, 64, 8).chunks(64) {
        let mut schedule = [0u32; 64];
        for (word, bytes) in schedule.iter_mut().zip(block.chunks(4)) {
            *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        for t in 16..64 {
            let s0 = schedule[t - 15].rotate_right(7) ^ schedule[t - 15].rotate_right(18) ^ (schedule[t - 15] >> 3);
            let s1 = schedule[t - 2].rotate_right(17) ^ schedule[t - 2].rotate_right(19) ^ (schedule[t - 2] >> 10);
            schedule[t] = schedule[t - 16]
                .wrapping_add(s0)
                .wrapping_add(schedule[t - 7])
                .wrapping_add(s1);
        }

        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = state;
        for t in 0..64 {
            let sum1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let choice = (e & f) ^ (!e & g);
            let temp1 = h
                .wrapping_add(sum1)
                .wrapping_add(choice)
                .wrapping_add(SHA256_ROUND[t])
                .wrapping_add(schedule[t]);
            let sum0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let majority = (a & b) ^ (a & c) ^ (b & c);
            let temp2 = sum0.wrapping_add(majority);
            h = g;
            g = f;
            f = e;
            e = d.wrapping_add(temp1);
            d = c;
            c = b;
            b = a;
            a = temp1.wrapping_add(temp2);
        }
        for (word, value) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
            *word = word.wrapping_add(value);
        }
    }
    state.iter().flat_map(|word| word.to_be_bytes()).collect()
}

fn sha384(message: &[u8]) -> Vec<u8> {
    let mut digest = sha512_with(SHA384_INITIAL, message);
    digest.truncate(48);
    digest
}

fn sha512(message: &[u8]) -> Vec<u8> {
    sha512_with(SHA512_INITIAL, message)
}

/// Runs the SHA-512 compression from `initial`, which SHA-384 shares with other initial values.
fn sha512_with(initial: [u64; 8], message: &[u8]) -> Vec<u8> {
    let mut state = initial;
    for block in pad(message, 128, 16).chunks(128) {
        let mut schedule = [0u64; 80];
        for (word, bytes) in schedule.iter_mut().zip(block.chunks(8)) {
            let mut array = [0u8; 8];
            array.copy_from_slice(bytes);
            *word = u64::from_be_bytes(array);
        }
        for t in 16..80 {
            let s0 = schedule[t - 15].rotate_right(1) ^ schedule[t - 15].rotate_right(8) ^ (schedule[t - 15] >> 7);
            let s1 = schedule[t - 2].rotate_right(19) ^ schedule[t - 2].rotate_right(61) ^ (schedule[t - 2] >> 6);
            schedule[t] = schedule[t - 16]
                .wrapping_add(s0)
                .wrapping_add(schedule[t - 7])
                .wrapping_add(s1);
        }

        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = state;
        for t in 0..80 {
            let sum1 = e.rotate_right(14) ^ e.rotate_right(18) ^ e.rotate_right(41);
            let choice = (e & f) ^ (!e & g);
            let temp1 = h
                .wrapping_add(sum1)
                .wrapping_add(choice)
                .wrapping_add(SHA512_ROUND[t])
                .wrapping_add(schedule[t]);
            let sum0 = a.rotate_right(28) ^ a.rotate_right(34) ^ a.rotate_right(39);
            let majority = (a & b) ^ (a & c) ^ (b & c);
            let temp2 = sum0.wrapping_add(majority);
            h = g;
            g = f;
            f = e;
            e = d.wrapping_add(temp1);
            d = c;
            c = b;
            b = a;
            a = temp1.wrapping_add(temp2);
        }
        for (word, value) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
            *word = word.wrapping_add(value);
        }
    }
    state.iter().flat_map(|word| word.to_be_bytes()).collect()
}

#[rustfmt::skip]
const SHA256_INITIAL: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

#[rustfmt::skip]
const SHA512_INITIAL: [u64; 8] = [
    0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
    0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179,
];

#[rustfmt::skip]
const SHA384_INITIAL: [u64; 8] = [
    0xcbbb9d5dc1059ed8, 0x629a292a367cd507, 0x9159015a3070dd17, 0x152fecd8f70e5939,
    0x67332667ffc00b31, 0x8eb44a8768581511, 0xdb0c2e0d64f98fa7, 0x47b5481dbefa4fa4,
];

#[rustfmt::skip]
const SHA256_ROUND: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5,
    0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
    0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
    0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
    0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

#[rustfmt::skip]
const SHA512_ROUND: [u64; 80] = [
    0x428a2f98d728ae22, 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f, 0xe9b5dba58189dbbc,
    0x3956c25bf348b538, 0x59f111f1b605d019, 0x923f82a4af194f9b, 0xab1c5ed5da6d8118,
    0xd807aa98a3030242, 0x12835b0145706fbe, 0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2,
    0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235, 0xc19bf174cf692694,
    0xe49b69c19ef14ad2, 0xefbe4786384f25e3, 0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65,
    0x2de92c6f592b0275, 0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5,
    0x983e5152ee66dfab, 0xa831c66d2db43210, 0xb00327c898fb213f, 0xbf597fc7beef0ee4,
    0xc6e00bf33da88fc2, 0xd5a79147930aa725, 0x06ca6351e003826f, 0x142929670a0e6e70,
    0x27b70a8546d22ffc, 0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed, 0x53380d139d95b3df,
    0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6, 0x92722c851482353b,
    0xa2bfe8a14cf10364, 0xa81a664bbc423001, 0xc24b8b70d0f89791, 0xc76c51a30654be30,
    0xd192e819d6ef5218, 0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8,
    0x19a4c116b8d2d0c8, 0x1e376c085141ab53, 0x2748774cdf8eeb99, 0x34b0bcb5e19b48a8,
    0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb, 0x5b9cca4f7763e373, 0x682e6ff3d6b2b8a3,
    0x748f82ee5defb2fc, 0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
    0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915, 0xc67178f2e372532b,
    0xca273eceea26619c, 0xd186b8c721c0c207, 0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178,
    0x06f067aa72176fba, 0x0a637dc5a2c898a6, 0x113f9804bef90dae, 0x1b710b35131c471b,
    0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc, 0x431d67c49c100d4c,
    0x4cc5d4becb3e42b6, 0x597f299cfc657e2a, 0x5fcb6fab3ad6faec, 0x6c44198c4a475817,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let key = b"Jefe";
        let message = b"what do ya want for nothing?";

        assert_eq!(
            hex(&Algorithm::Hs256.mac(key, message)),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&Algorithm::Hs384.mac(key, message)),
            "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"
        );
        assert_eq!(
            hex(&Algorithm::Hs512.mac(key, message)),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
    }

    #[test]
    fn hmac_hashes_key_longer_than_block() {
        let key = [0xaa_u8; 131];
        let message = b"Test Using Larger Than Block-Size Key - Hash Key First";

        assert_eq!(
            hex(&Algorithm::Hs256.mac(&key, message)),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        assert_eq!(
            hex(&Algorithm::Hs512.mac(&key, message)),
            "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"
        );
    }

    #[test]
    fn sha2_digests_match_known_values() {
        assert_eq!(
            hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&sha512(b"abc")),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
        // 200 bytes span two SHA-384 blocks.
        assert_eq!(
            hex(&sha384(&[b'a'; 200])),
            "0691b6e978614b67d60557b2a2cddd53406508522efa21c624dbbfa8ab6e726d5c586b489c7c09f24109a64c10211d48"
        );
    }

    #[test]
    fn base64url_round_trips_every_length() {
        let bytes: Vec<u8> = (0..=255).collect();
        for length in 0..40 {
            let encoded = base64url(&bytes[..length]);

            assert!(!encoded.contains('='), "{encoded} has padding");
            assert_eq!(base64url_decode(&encoded).as_deref(), Some(&bytes[..length]));
        }
        assert_eq!(base64url(b"\xfb\xff"), "-_8");
        assert_eq!(base64url_decode("a+b"), None);
    }
}
