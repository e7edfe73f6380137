//! Reading request bodies and query strings, and building JSON responses.

use kasir_core::error::{ApiError, Detail, ErrorCode};
use serde_json::Value;
use worker::{Request, Response};

/// Largest JSON body accepted on ordinary routes.
pub const MAX_JSON_BYTES: usize = 1024 * 1024;
/// Largest sync push body: 500 mutations of a few KB each.
pub const MAX_PUSH_BYTES: usize = 5 * 1024 * 1024;

/// Reads a JSON body of at most `max_bytes`.
///
/// # Errors
/// 415 when the body is not declared as JSON or does not parse, 413 when it is too large
/// (judged by `Content-Length` before reading when the client sends one).
pub async fn read_json(req: &mut Request, max_bytes: usize) -> Result<Value, ApiError> {
    let content_type = req.headers().get("content-type").ok().flatten().unwrap_or_default();
    if !content_type.to_ascii_lowercase().starts_with("application/json") {
        return Err(ApiError::new(ErrorCode::UnsupportedMediaType));
    }
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|length| length.parse::<usize>().ok());
    if declared.is_some_and(|length| length > max_bytes) {
        return Err(ApiError::new(ErrorCode::PayloadTooLarge));
    }
    let bytes = req
        .bytes()
        .await
        .map_err(|error| ApiError::internal(format!("reading body: {error}")))?;
    if bytes.len() > max_bytes {
        return Err(ApiError::new(ErrorCode::PayloadTooLarge));
    }
    // A body that does not parse is not JSON, whatever its Content-Type header claims.
    serde_json::from_slice(&bytes).map_err(|_| {
        let mut error = ApiError::new(ErrorCode::UnsupportedMediaType);
        error.details.push(Detail::new("body", "invalid_json"));
        error
    })
}

/// Reads a JSON body that must be an object.
pub async fn read_object(req: &mut Request) -> Result<serde_json::Map<String, Value>, ApiError> {
    match read_json(req, MAX_JSON_BYTES).await? {
        Value::Object(object) => Ok(object),
        _ => Err(ApiError::invalid("body", "invalid_type")),
    }
}

pub fn json(status: u16, body: &Value) -> Result<Response, ApiError> {
    Response::from_json(body)
        .map(|response| response.with_status(status))
        .map_err(|error| ApiError::internal(error.to_string()))
}

pub fn no_content() -> Result<Response, ApiError> {
    Ok(Response::empty()
        .map_err(|error| ApiError::internal(error.to_string()))?
        .with_status(204))
}

/// Query parameters of a request, decoded.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn of(req: &Request) -> Query {
        let pairs = req
            .url()
            .map(|url| {
                url.query_pairs()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Query(pairs)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }

    /// `?limit=`: `default` when absent, clamped to `max`.
    ///
    /// # Errors
    /// 422 when it is not a positive integer.
    pub fn limit(&self, default: i64, max: i64) -> Result<i64, ApiError> {
        match self.get("limit") {
            None => Ok(default),
            Some(text) => match text.parse::<i64>() {
                Ok(limit) if limit >= 1 => Ok(limit.min(max)),
                _ => Err(ApiError::validation(vec![Detail::new("limit", "out_of_range")])),
            },
        }
    }
}

/// Takes a string field out of a JSON object, for bodies validated field by field.
pub fn string_field(object: &serde_json::Map<String, Value>, name: &str, details: &mut Vec<Detail>) -> Option<String> {
    match object.get(name) {
        Some(Value::String(text)) => Some(text.clone()),
        None | Some(Value::Null) => {
            details.push(Detail::new(name, "required"));
            None
        }
        Some(_) => {
            details.push(Detail::new(name, "invalid_type"));
            None
        }
    }
}

/// Lists keys of `object` outside `allowed` as `unknown_field` details.
pub fn reject_unknown(object: &serde_json::Map<String, Value>, allowed: &[&str], details: &mut Vec<Detail>) {
    for key in object.keys() {
        if !allowed.contains(&key.as_str()) {
            details.push(Detail::new(key.clone(), "unknown_field"));
        }
    }
}
