//! End-to-end tests of files against one real `wrangler dev`: uploads with type and size
//! checks, downloads with ranges and conditional requests, quotas, product images, the tenant
//! logo and the platform's vendor files.
//!
//! Every test provisions its own tenant, so tests run in parallel and in any order. Vendor
//! files are global to the server, so one test covers them.

mod download;
mod product_image;
mod quota;
mod upload;
mod vendor;

use std::io::Read;
use std::time::Duration;

use kasir_tests::{login_owner, provision_tenant, server, Api, ApiResponse, Session, TenantFixture};
use serde_json::Value;

pub fn api() -> Api {
    server().api()
}

/// A tenant with its owner logged in without a device.
pub struct FileShop {
    pub tenant: TenantFixture,
    pub owner: Session,
}

#[track_caller]
pub fn file_shop(code_prefix: &str) -> FileShop {
    let api = api();
    let tenant = provision_tenant(&api, &server().admin_token, code_prefix);
    let owner = login_owner(&api, &tenant, None);
    FileShop { tenant, owner }
}

/// One part of a multipart body.
pub enum Part<'a> {
    Text {
        name: &'a str,
        value: &'a str,
    },
    File {
        name: &'a str,
        file_name: &'a str,
        content_type: &'a str,
        bytes: &'a [u8],
    },
}

const BOUNDARY: &str = "----kasir-test-boundary-7d1f0c";

/// Builds a `multipart/form-data` body by hand and returns its `Content-Type` and bytes.
pub fn multipart(parts: &[Part]) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match part {
            Part::Text { name, value } => {
                body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes());
                body.extend_from_slice(value.as_bytes());
            }
            Part::File {
                name,
                file_name,
                content_type,
                bytes,
            } => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(bytes);
            }
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

/// Sends `POST /v1/files` with `kind` and one file.
pub fn upload(token: &str, kind: &str, file_name: &str, bytes: &[u8]) -> ApiResponse {
    let (content_type, body) = multipart(&[
        Part::Text {
            name: "kind",
            value: kind,
        },
        Part::File {
            name: "file",
            file_name,
            content_type: "application/octet-stream",
            bytes,
        },
    ]);
    api().post("/v1/files").bearer(token).raw(&content_type, &body)
}

/// Uploads a file and returns the stored record. Panics unless the status is 201.
#[track_caller]
pub fn upload_ok(token: &str, kind: &str, file_name: &str, bytes: &[u8]) -> Value {
    let response = upload(token, kind, file_name, bytes);
    response.expect_status(201);
    response.json.clone()
}

/// Returns a PNG signature and IHDR chunk header, then `len` bytes that vary so checksums differ.
pub fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    bytes.extend((0..len).map(|i| (i * 7 % 251) as u8));
    bytes
}

pub fn jpeg(len: usize) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0];
    bytes.extend((0..len).map(|i| (i * 13 % 251) as u8));
    bytes
}

/// Returns a PDF header followed by `len` bytes of filler text.
pub fn pdf(len: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend((0..len).map(|i| b'a' + (i % 26) as u8));
    bytes
}

pub const CSV: &[u8] = b"sku,nama,harga\nKOPI-01,Kopi Tubruk,15000\nROTI-02,Roti Bakar,8000\n";

/// A response read as bytes, which `ApiResponse` cannot hold.
pub struct BinaryResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl BinaryResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Sends `GET path` with an optional bearer token and extra headers, and reads the body as
/// bytes.
pub fn get_bytes(path: &str, token: Option<&str>, headers: &[(&str, &str)]) -> BinaryResponse {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
    let mut request = agent.get(&format!("{}{path}", api().base_url()));
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let response = match request.call() {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(ureq::Error::Transport(error)) => panic!("GET {path} failed before any HTTP response: {error}"),
    };
    let status = response.status();
    let headers = response
        .headers_names()
        .into_iter()
        .filter_map(|name| Some((name.to_ascii_lowercase(), response.header(&name)?.to_string())))
        .collect();
    let mut body = Vec::new();
    response
        .into_reader()
        .read_to_end(&mut body)
        .unwrap_or_else(|error| panic!("GET {path}: failed to read the body: {error}"));
    BinaryResponse { status, headers, body }
}

/// Reads a string field, panicking with the whole body when it is missing.
#[track_caller]
pub fn string_field(body: &Value, field: &str) -> String {
    match body[field].as_str() {
        Some(value) => value.to_string(),
        None => panic!("expected string field {field:?} in {body}"),
    }
}

/// Reads an integer field, panicking with the whole body when it is missing.
#[track_caller]
pub fn int_field(body: &Value, field: &str) -> i64 {
    match body[field].as_i64() {
        Some(value) => value,
        None => panic!("expected integer field {field:?} in {body}"),
    }
}

/// Returns the tenant's `usage` from the admin view.
#[track_caller]
pub fn admin_usage(tenant: &TenantFixture) -> Value {
    let response = api()
        .get(&format!("/v1/admin/tenants/{}", tenant.code))
        .bearer(&server().admin_token)
        .send();
    response.expect_status(200);
    response.json["usage"].clone()
}
