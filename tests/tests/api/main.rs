//! End-to-end tests of the HTTP contract against one real `wrangler dev`.
//!
//! Every test provisions its own tenant, so tests run in parallel and in any
//! order. The modules follow the contract's sections.

mod admin;
mod auth;
mod catalog;
mod devices;
mod faults;
mod health;
mod hygiene;
mod openapi;
mod sales;
mod sync;
mod users;

use std::thread;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};
use kasir_tests::{login_owner, new_id, provision_tenant, server, Api, ApiResponse, Session, TenantFixture};
use serde_json::{json, Value};

pub fn api() -> Api {
    server().api()
}

pub fn admin_token() -> &'static str {
    &server().admin_token
}

/// A freshly provisioned tenant and its owner, logged in without a device.
pub struct Shop {
    pub tenant: TenantFixture,
    pub owner: Session,
}

#[track_caller]
pub fn new_shop(code_prefix: &str) -> Shop {
    let api = api();
    let tenant = provision_tenant(&api, admin_token(), code_prefix);
    let owner = login_owner(&api, &tenant, None);
    Shop { tenant, owner }
}

/// Panics unless the response carries a non-empty `x-request-id`, and
/// returns the id.
#[track_caller]
pub fn assert_request_id(response: &ApiResponse) -> String {
    let request_id = response.header("x-request-id").unwrap_or_default();
    assert!(
        !request_id.is_empty(),
        "{} {} (HTTP {}) has no x-request-id header; headers: {:?}",
        response.method,
        response.path,
        response.status,
        response.headers
    );
    request_id.to_string()
}

/// Follows `next_cursor` from `path` until it is null and returns every item.
/// Stops with a panic after 100 pages, which no test here needs.
#[track_caller]
pub fn list_all(api: &Api, path: &str, token: &str, limit: u32) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let mut request = api.get(path).bearer(token).query("limit", &limit.to_string());
        if let Some(cursor) = &cursor {
            request = request.query("cursor", cursor);
        }
        let page = request.send();
        page.expect_status(200);
        items.extend(page.items());
        cursor = page.next_cursor();
        if cursor.is_none() {
            return items;
        }
    }
    panic!("GET {path} still had a next_cursor after 100 pages");
}

/// Returns the `id` of each item, in order.
pub fn ids_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|item| item["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Repeats `request` every 250 ms until `done` accepts its response or
/// `timeout` passes. Returns the last response either way.
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

/// Current time as RFC 3339 UTC with whole seconds.
pub fn now_rfc3339() -> String {
    let now: DateTime<Utc> = SystemTime::now().into();
    now.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Returns a unique receipt number in the `{outlet}-{device}-{YYMMDD}-{seq}` shape.
pub fn unique_receipt_no() -> String {
    let sequence = &new_id()[..6];
    format!("PUSAT-TEST-260101-{sequence}")
}

/// One sale line: product id, quantity and unit price in rupiah.
pub struct Line<'a> {
    pub product_id: &'a str,
    pub qty: Value,
    pub unit_price: i64,
}

/// Builds a `POST /v1/transactions` body with a new id and receipt number,
/// no discounts and no client-side figures.
pub fn sale_body(device_id: &str, outlet_id: &str, lines: &[Line], payments: Value) -> Value {
    let items: Vec<Value> = lines
        .iter()
        .map(|line| {
            json!({
                "product_id": line.product_id,
                "qty": line.qty,
                "unit_price": line.unit_price,
                "discount": 0,
            })
        })
        .collect();
    json!({
        "id": new_id(),
        "outlet_id": outlet_id,
        "device_id": device_id,
        "receipt_no": unique_receipt_no(),
        "created_at": now_rfc3339(),
        "items": items,
        "discount": 0,
        "payments": payments,
    })
}

/// Reads an integer field, panicking with the whole body when it is missing.
#[track_caller]
pub fn int_field(body: &Value, field: &str) -> i64 {
    match body[field].as_i64() {
        Some(value) => value,
        None => panic!("expected integer field {field:?} in {body}"),
    }
}
