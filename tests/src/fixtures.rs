//! Fixtures that tests and the demo build through the public API: tenants,
//! logins, users, devices, products, and ids for sync mutations.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use uuid::Uuid;

use crate::client::{Api, ApiResponse};

/// A tenant created through `POST /v1/admin/tenants`, with its owner's login.
#[derive(Debug, Clone)]
pub struct TenantFixture {
    pub id: String,
    pub code: String,
    pub name: String,
    pub default_outlet_id: String,
    pub owner_id: String,
    pub owner_email: String,
    pub owner_password: String,
    /// The whole 201 body: `{tenant, owner}`.
    pub body: Value,
}

/// Tokens and identity returned by `POST /v1/auth/login`.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub user_id: String,
    pub role: String,
    /// Device the token carries, when the login registered or named one.
    pub device_id: Option<String>,
    /// Server-issued device code, used in receipt numbers.
    pub device_code: Option<String>,
    /// The whole 200 body.
    pub body: Value,
}

impl Session {
    /// Returns the device id, panicking when the login carried no device.
    #[track_caller]
    pub fn device(&self) -> &str {
        self.device_id
            .as_deref()
            .expect("this session was logged in without a device")
    }
}

/// A user created through `POST /v1/users`, with the password it was given.
#[derive(Debug, Clone)]
pub struct UserFixture {
    pub id: String,
    pub email: String,
    pub password: String,
    pub role: String,
}

/// Returns a new random UUID v4 as a string.
pub fn new_id() -> String {
    Uuid::new_v4().to_string()
}

/// Returns `prefix-<8 hex digits>`, cut so the whole code fits the tenant code
/// rule `^[a-z0-9][a-z0-9-]{2,31}$` when `prefix` uses only those characters.
pub fn unique_code(prefix: &str) -> String {
    let suffix = &Uuid::new_v4().simple().to_string()[..8];
    let max_prefix = 32 - 1 - suffix.len();
    let prefix: String = prefix.chars().take(max_prefix).collect();
    format!("{prefix}-{suffix}")
}

/// Creates a tenant with a unique code starting with `code_prefix`, on
/// `shared` placement so that tests do not use up the pool of dedicated tenant
/// databases. Panics unless the server responds with 201.
#[track_caller]
pub fn provision_tenant(api: &Api, admin_token: &str, code_prefix: &str) -> TenantFixture {
    provision_tenant_with(api, admin_token, code_prefix, json!({"placement": "shared"}))
}

/// Creates a tenant with a unique code starting with `code_prefix` and adds
/// the keys of `extra` (such as `placement` or `timezone`) to the request body.
/// Panics unless the server responds with 201.
#[track_caller]
pub fn provision_tenant_with(api: &Api, admin_token: &str, code_prefix: &str, extra: Value) -> TenantFixture {
    let code = unique_code(code_prefix);
    let name = format!("Toko Uji {code}");
    let owner_email = format!("pemilik@{code}.test");
    let owner_password = format!("Rahasia-{}", &new_id()[..8]);
    let mut body = json!({
        "code": code,
        "name": name,
        "owner": {"email": owner_email, "name": "Pemilik Toko", "password": owner_password},
    });
    if let (Some(fields), Some(extra_fields)) = (body.as_object_mut(), extra.as_object()) {
        for (key, value) in extra_fields {
            fields.insert(key.clone(), value.clone());
        }
    }

    let response = api.post("/v1/admin/tenants").bearer(admin_token).json(&body);
    response.expect_status(201);

    let tenant = &response.json["tenant"];
    let owner = &response.json["owner"];
    TenantFixture {
        id: required_str(&response, &tenant["id"], "tenant.id"),
        code,
        name,
        default_outlet_id: required_str(&response, &tenant["default_outlet_id"], "tenant.default_outlet_id"),
        owner_id: required_str(&response, &owner["id"], "owner.id"),
        owner_email,
        owner_password,
        body: response.json.clone(),
    }
}

/// Sends `POST /v1/auth/login` and returns the raw response, for tests that
/// check failures.
pub fn try_login(api: &Api, tenant_code: &str, email: &str, password: &str, device_name: Option<&str>) -> ApiResponse {
    let mut body = json!({"tenant": tenant_code, "email": email, "password": password});
    if let Some(name) = device_name {
        body["device"] = json!({"name": name});
    }
    api.post("/v1/auth/login").json(&body)
}

/// Logs in. A `device_name` registers a new device that the token carries.
/// Panics unless the server responds with 200.
#[track_caller]
pub fn login(api: &Api, tenant_code: &str, email: &str, password: &str, device_name: Option<&str>) -> Session {
    let response = try_login(api, tenant_code, email, password, device_name);
    response.expect_status(200);
    session_from(&response)
}

/// Logs in as the tenant's owner.
#[track_caller]
pub fn login_owner(api: &Api, tenant: &TenantFixture, device_name: Option<&str>) -> Session {
    login(
        api,
        &tenant.code,
        &tenant.owner_email,
        &tenant.owner_password,
        device_name,
    )
}

/// Reads a [`Session`] out of a login or refresh response.
#[track_caller]
pub fn session_from(response: &ApiResponse) -> Session {
    let body = &response.json;
    let device = &body["device"];
    Session {
        access_token: required_str(response, &body["access_token"], "access_token"),
        refresh_token: required_str(response, &body["refresh_token"], "refresh_token"),
        user_id: required_str(response, &body["user"]["id"], "user.id"),
        role: body["user"]["role"].as_str().unwrap_or_default().to_string(),
        device_id: device["id"].as_str().map(str::to_string),
        device_code: device["code"].as_str().map(str::to_string),
        body: body.clone(),
    }
}

/// Creates a user with `role` as `creator`. Panics unless the server responds
/// with 201.
#[track_caller]
pub fn create_user(api: &Api, creator: &Session, role: &str, name: &str) -> UserFixture {
    let email = format!("{}-{}@kasir.test", role, &new_id()[..8]);
    let password = format!("Sandi-{}", &new_id()[..8]);
    let response = api.post("/v1/users").bearer(&creator.access_token).json(&json!({
        "email": email,
        "name": name,
        "password": password,
        "role": role,
    }));
    response.expect_status(201);
    UserFixture {
        id: response.str_field("id"),
        email,
        password,
        role: role.to_string(),
    }
}

/// Creates a user with `role` and logs it in on a new device.
#[track_caller]
pub fn create_user_session(
    api: &Api,
    tenant: &TenantFixture,
    creator: &Session,
    role: &str,
    device_name: &str,
) -> (UserFixture, Session) {
    let user = create_user(api, creator, role, &format!("Pengguna {role}"));
    let session = login(api, &tenant.code, &user.email, &user.password, Some(device_name));
    (user, session)
}

/// Creates a product and returns the stored record. Panics unless the server
/// responds with 201.
#[track_caller]
pub fn create_product(api: &Api, session: &Session, name: &str, price: i64) -> Value {
    let response = api
        .post("/v1/products")
        .bearer(&session.access_token)
        .json(&json!({"name": name, "price": price}));
    response.expect_status(201);
    response.json.clone()
}

static HLC_COUNTER: AtomicU32 = AtomicU32::new(0);

/// Returns a hybrid logical clock string for `device_id` at the current time:
/// `{unix_ms:013}-{counter:04x}-{device_id}`. The counter grows on every call
/// in this process, so values from one process never repeat.
pub fn hlc_now(device_id: &str) -> String {
    let unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("system clock is after 1970")
        .as_millis();
    let counter = HLC_COUNTER.fetch_add(1, Ordering::Relaxed) & 0xffff;
    format!("{unix_ms:013}-{counter:04x}-{device_id}")
}

#[track_caller]
fn required_str(response: &ApiResponse, value: &Value, name: &str) -> String {
    match value.as_str() {
        Some(text) => text.to_string(),
        None => panic!(
            "{} {}: expected string {name} in body {}",
            response.method, response.path, response.text
        ),
    }
}

/// Returns a hybrid logical clock string for `device_id` at the current time
/// moved by `offset_ms` (negative for the past). It shares the counter of
/// [`hlc_now`], so values from one process never repeat.
pub fn hlc_shifted(device_id: &str, offset_ms: i64) -> String {
    let unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("system clock is after 1970")
        .as_millis() as i64
        + offset_ms;
    let counter = HLC_COUNTER.fetch_add(1, Ordering::Relaxed) & 0xffff;
    format!("{unix_ms:013}-{counter:04x}-{device_id}")
}

/// Sets the tenant's sync settings with `PATCH /v1/tenant {"sync": settings}`
/// as `owner`, such as `{"strategies": {"products": "manual"}}`. Panics
/// unless the server responds with 200, and returns the updated tenant.
#[track_caller]
pub fn set_sync_settings(api: &Api, owner: &Session, settings: Value) -> Value {
    let response = api
        .patch("/v1/tenant")
        .bearer(&owner.access_token)
        .json(&json!({"sync": settings}));
    response.expect_status(200);
    response.json.clone()
}

/// Creates a product from a whole `POST /v1/products` body, such as one with
/// `track_stock` or `low_stock_threshold`, and returns the stored record.
/// Panics unless the server responds with 201.
#[track_caller]
pub fn create_product_with(api: &Api, session: &Session, body: &Value) -> Value {
    let response = api.post("/v1/products").bearer(&session.access_token).json(body);
    response.expect_status(201);
    response.json.clone()
}

/// Sets the tenant's tax settings with `PATCH /v1/tenant {"tax": tax}` as
/// `owner`, such as `{"enabled": true, "price_includes_tax": true}`. Panics
/// unless the server responds with 200, and returns the updated tenant.
#[track_caller]
pub fn set_tax_settings(api: &Api, owner: &Session, tax: Value) -> Value {
    let response = api
        .patch("/v1/tenant")
        .bearer(&owner.access_token)
        .json(&json!({"tax": tax}));
    response.expect_status(200);
    response.json.clone()
}

#[cfg(test)]
mod tests {
    use super::{hlc_now, unique_code};

    #[test]
    fn unique_code_fits_tenant_code_rule() {
        let long_prefix = "a-very-long-prefix-that-goes-past-the-limit";
        for prefix in ["t", "toko", long_prefix] {
            let code = unique_code(prefix);

            assert!(code.len() >= 3 && code.len() <= 32, "{code} has a bad length");
            assert!(code.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()));
            assert!(
                code.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{code} has a character outside [a-z0-9-]"
            );
        }
    }

    #[test]
    fn hlc_sorts_in_call_order() {
        let first = hlc_now("device");
        let second = hlc_now("device");

        assert_eq!(first.len(), 13 + 1 + 4 + 1 + "device".len());
        assert!(first < second, "{first} should sort before {second}");
    }
}
