//! Attacks on tenant isolation and authentication against one real `wrangler dev`.
//!
//! `matrix` gives a victim tenant one record of every kind that has an id route. It then sends
//! every such route with an attacker tenant's owner token and the victim's ids. It runs for a
//! pair of tenants on the shared database and for a pair on dedicated databases. `tokens`
//! forges, replays and misuses tokens. `login_abuse` checks failed-login responses and the
//! per-account lockout.
//!
//! Every failed login of this binary counts against one per-address limit (50 per 15 minutes,
//! all requests come from 127.0.0.1), so the tests here keep their failed logins under 20.

mod jwt;
mod login_abuse;
mod matrix;
mod records;
mod tokens;

use std::fmt;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use kasir_tests::{server, Api, ApiResponse};
use serde_json::Value;

pub fn api() -> Api {
    server().api()
}

pub fn admin_token() -> &'static str {
    &server().admin_token
}

/// Status, error code, message and details of a response: the parts that must not tell another
/// tenant's record from a missing one. The request id differs on every request.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseSummary {
    pub status: u16,
    pub code: Option<String>,
    pub message: Option<String>,
    pub details: Value,
}

impl ResponseSummary {
    pub fn of(response: &ApiResponse) -> ResponseSummary {
        ResponseSummary {
            status: response.status,
            code: response.error_code().map(str::to_string),
            message: response.error_message().map(str::to_string),
            details: response.json["error"]["details"].clone(),
        }
    }

    pub fn is(&self, status: u16, code: &str) -> bool {
        self.status == status && self.code.as_deref() == Some(code)
    }
}

impl fmt::Display for ResponseSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.code.as_deref().unwrap_or("-"))?;
        if let Some(details) = self.details.as_array().filter(|details| !details.is_empty()) {
            let codes: Vec<String> = details
                .iter()
                .map(|detail| {
                    format!(
                        "{}:{}",
                        detail["field"].as_str().unwrap_or("?"),
                        detail["code"].as_str().unwrap_or("?")
                    )
                })
                .collect();
            write!(f, " [{}]", codes.join(", "))?;
        }
        Ok(())
    }
}

/// One part of a `multipart/form-data` body.
pub struct FormPart<'a> {
    pub name: &'a str,
    pub file_name: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub bytes: &'a [u8],
}

const FORM_BOUNDARY: &str = "isolation-form-boundary-5c2e91";

/// Encodes `parts` as `multipart/form-data` and returns the `Content-Type` and the body.
pub fn multipart(parts: &[FormPart]) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{FORM_BOUNDARY}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", part.name);
        if let Some(file_name) = part.file_name {
            disposition.push_str(&format!("; filename=\"{file_name}\""));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(content_type) = part.content_type {
            body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(part.bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{FORM_BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={FORM_BOUNDARY}"), body)
}

/// Returns the start of a 1×1 PNG: the signature and the IHDR chunk. The server recognises
/// a PNG by these bytes alone and never decodes the image, so the chunk CRC is left zero.
pub fn png_bytes() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend_from_slice(&13u32.to_be_bytes());
    bytes.extend_from_slice(b"IHDR");
    bytes.extend_from_slice(&1u32.to_be_bytes());
    bytes.extend_from_slice(&1u32.to_be_bytes());
    bytes.extend_from_slice(&[8, 6, 0, 0, 0]);
    bytes.extend_from_slice(&[0, 0, 0, 0]);
    bytes
}

/// Current time as RFC 3339 UTC with whole seconds.
pub fn now_rfc3339() -> String {
    let now: DateTime<Utc> = SystemTime::now().into();
    now.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Today's date in Asia/Jakarta (UTC+7, no daylight saving), the default tenant zone.
pub fn today_in_jakarta() -> String {
    let jakarta = FixedOffset::east_opt(7 * 3600).expect("UTC+7 is a valid offset");
    let now: DateTime<Utc> = SystemTime::now().into();
    now.with_timezone(&jakarta).format("%Y-%m-%d").to_string()
}

/// Current Unix time in seconds.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("system clock is after 1970")
        .as_secs() as i64
}

/// Repeats `request` every 250 ms until `done` accepts its response or `timeout` passes, and
/// returns the last response either way.
pub fn poll_until(
    timeout: Duration,
    mut request: impl FnMut() -> ApiResponse,
    done: impl Fn(&ApiResponse) -> bool,
) -> ApiResponse {
    let started = Instant::now();
    loop {
        let response = request();
        if done(&response) || started.elapsed() >= timeout {
            return response;
        }
        thread::sleep(Duration::from_millis(250));
    }
}

/// Pulls native sync pages with `token` from `cursor` (from the beginning when `None`) until
/// `has_more` is false. Returns every page and the last cursor.
#[track_caller]
pub fn pull_to_end(api: &Api, token: &str, cursor: Option<&str>) -> (Vec<Value>, String) {
    let mut pages = Vec::new();
    let mut cursor = cursor.map(str::to_string);
    for _ in 0..100 {
        let mut request = api.get("/v1/sync/pull").bearer(token);
        if let Some(cursor) = &cursor {
            request = request.query("cursor", cursor);
        }
        let page = request.send();
        page.expect_status(200);
        let next = page.json["cursor"]
            .as_str()
            .unwrap_or_else(|| panic!("GET /v1/sync/pull returned no cursor: {}", page.text))
            .to_string();
        let has_more = page.json["has_more"] == Value::Bool(true);
        pages.push(page.json.clone());
        cursor = Some(next);
        if !has_more {
            break;
        }
    }
    (pages, cursor.unwrap_or_default())
}

/// Lists `(entity, id)` of every upserted or deleted record in pulled pages.
pub fn pulled_changes(pages: &[Value]) -> Vec<(String, String)> {
    let mut changes = Vec::new();
    for page in pages {
        let Some(entities) = page["changes"].as_object() else {
            continue;
        };
        for (entity, change) in entities {
            for record in change["upserted"].as_array().into_iter().flatten() {
                changes.push((entity.clone(), record["id"].as_str().unwrap_or("?").to_string()));
            }
            for id in change["deleted"].as_array().into_iter().flatten() {
                changes.push((entity.clone(), id.as_str().unwrap_or("?").to_string()));
            }
        }
    }
    changes
}
