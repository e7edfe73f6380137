//! Checks `GET /v1/openapi.json` against the route table. The spec must document every route
//! the Worker serves and no route it does not serve, and every documented operation must reach
//! a handler.

use std::collections::BTreeSet;
use std::io::Read;

use kasir_tests::{login_owner, new_id, server};
use serde_json::{json, Value};

use crate::{admin_token, api, new_shop};

/// Every method and path that `src/router.rs` and the admin dispatch in
/// `src/routes/admin.rs` serve, spelled as the spec spells its paths. A new route goes here
/// and into `openapi.json`, and a removed one leaves both.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/health"),
    ("GET", "/v1/openapi.json"),
    // Platform admin.
    ("POST", "/v1/admin/tenants"),
    ("GET", "/v1/admin/tenants"),
    ("GET", "/v1/admin/tenants/{code}"),
    ("PATCH", "/v1/admin/tenants/{code}"),
    ("DELETE", "/v1/admin/tenants/{code}"),
    ("POST", "/v1/admin/tenants/{code}/alarm"),
    ("POST", "/v1/admin/dev/panic"),
    ("GET", "/v1/admin/jobs"),
    ("GET", "/v1/admin/jobs/{id}"),
    ("GET", "/v1/admin/outbox"),
    ("POST", "/v1/admin/vendor/files"),
    ("GET", "/v1/admin/vendor/files"),
    ("GET", "/v1/admin/vendor/files/{id}"),
    ("DELETE", "/v1/admin/vendor/files/{id}"),
    ("GET", "/v1/vendor/logo"),
    // Auth, the caller and the tenant.
    ("POST", "/v1/auth/login"),
    ("POST", "/v1/auth/refresh"),
    ("POST", "/v1/auth/logout"),
    ("GET", "/v1/me"),
    ("GET", "/v1/audit"),
    ("GET", "/v1/jobs/{id}"),
    ("GET", "/v1/tenant"),
    ("PATCH", "/v1/tenant"),
    ("GET", "/v1/backups"),
    ("POST", "/v1/backups"),
    ("POST", "/v1/backups/{id}/restore"),
    ("GET", "/v1/users"),
    ("POST", "/v1/users"),
    ("GET", "/v1/users/{id}"),
    ("PATCH", "/v1/users/{id}"),
    ("DELETE", "/v1/users/{id}"),
    ("GET", "/v1/devices"),
    ("POST", "/v1/devices"),
    ("GET", "/v1/devices/{id}"),
    ("DELETE", "/v1/devices/{id}"),
    // Catalog.
    ("GET", "/v1/products"),
    ("POST", "/v1/products"),
    ("GET", "/v1/products/{id}"),
    ("PATCH", "/v1/products/{id}"),
    ("DELETE", "/v1/products/{id}"),
    ("PUT", "/v1/products/{id}/image"),
    ("GET", "/v1/categories"),
    ("POST", "/v1/categories"),
    ("GET", "/v1/categories/{id}"),
    ("PATCH", "/v1/categories/{id}"),
    ("DELETE", "/v1/categories/{id}"),
    ("GET", "/v1/customers"),
    ("POST", "/v1/customers"),
    ("GET", "/v1/customers/{id}"),
    ("PATCH", "/v1/customers/{id}"),
    ("DELETE", "/v1/customers/{id}"),
    ("GET", "/v1/customers/{id}/transactions"),
    ("GET", "/v1/outlets"),
    ("POST", "/v1/outlets"),
    ("GET", "/v1/outlets/{id}"),
    ("PATCH", "/v1/outlets/{id}"),
    ("DELETE", "/v1/outlets/{id}"),
    // Files.
    ("GET", "/v1/files"),
    ("POST", "/v1/files"),
    ("GET", "/v1/files/{id}"),
    ("DELETE", "/v1/files/{id}"),
    // Shifts, reports and stock.
    ("POST", "/v1/shifts"),
    ("GET", "/v1/shifts"),
    ("GET", "/v1/shifts/{id}"),
    ("POST", "/v1/shifts/{id}/close"),
    ("GET", "/v1/reports/daily"),
    ("GET", "/v1/reports/summary"),
    ("GET", "/v1/stock"),
    ("GET", "/v1/stock/movements"),
    ("POST", "/v1/stock/movements"),
    ("POST", "/v1/stock/adjustments"),
    // Sales.
    ("POST", "/v1/transactions"),
    ("GET", "/v1/transactions"),
    ("GET", "/v1/transactions/{id}"),
    ("POST", "/v1/transactions/{id}/void"),
    ("POST", "/v1/transactions/{id}/refunds"),
    ("GET", "/v1/transactions/{id}/refunds"),
    ("POST", "/v1/transactions/{id}/payments/{index}/confirm"),
    // Sync.
    ("POST", "/v1/sync/push"),
    ("GET", "/v1/sync/pull"),
    ("GET", "/v1/sync/conflicts"),
    ("POST", "/v1/sync/conflicts/{id}/resolve"),
    ("GET", "/v1/sync/log"),
    ("GET", "/v1/sync/watermelon"),
    ("POST", "/v1/sync/watermelon"),
];

/// Operations the probe does not send. This handler panics on purpose, and the panic restarts
/// the Worker instance under the requests of tests running alongside. `faults.rs` checks that
/// it returns 500.
const NOT_PROBED: &[(&str, &str)] = &[("POST", "/v1/admin/dev/panic")];

/// Keys of an OpenAPI path item that name operations.
const OPERATION_METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// A PNG signature and the start of an IHDR chunk, which is all the upload check reads.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01";

/// Credentials an operation declares in its `security`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Credential {
    None,
    AdminToken,
    TenantToken,
}

/// One operation of the spec.
struct Operation {
    method: String,
    path: String,
    credential: Credential,
}

fn fetch_spec() -> Value {
    let response = api().get("/v1/openapi.json").send();
    response.expect_status(200);
    assert!(
        response.json.is_object(),
        "GET /v1/openapi.json did not return a JSON object: {}",
        response.text
    );
    response.json
}

/// Reads the operations of `spec` with the credentials each declares. An operation without its
/// own `security` takes the document's.
fn operations_of(spec: &Value) -> Vec<Operation> {
    let paths = spec["paths"]
        .as_object()
        .unwrap_or_else(|| panic!("openapi.json has no `paths` object"));
    let mut operations = Vec::new();
    for (path, item) in paths {
        let item = item
            .as_object()
            .unwrap_or_else(|| panic!("openapi.json path {path} is not an object"));
        for (key, operation) in item {
            if !OPERATION_METHODS.contains(&key.as_str()) {
                continue;
            }
            let security = operation.get("security").unwrap_or(&spec["security"]);
            operations.push(Operation {
                method: key.to_ascii_uppercase(),
                path: path.clone(),
                credential: credential_of(security),
            });
        }
    }
    operations
}

fn credential_of(security: &Value) -> Credential {
    let schemes: Vec<&str> = security
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|requirement| requirement.keys().map(String::as_str))
        .collect();
    if schemes.contains(&"adminToken") {
        Credential::AdminToken
    } else if schemes.contains(&"tenantJwt") {
        Credential::TenantToken
    } else {
        Credential::None
    }
}

fn route_set() -> BTreeSet<(String, String)> {
    ROUTES
        .iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect()
}

/// Replaces each `{name}` of a spec path with a value that names no record. Ids get a fresh
/// UUID, a tenant code gets one no tenant has, and a payment index gets 0.
fn concrete_path(path: &str) -> String {
    let mut concrete = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..]
            .find('}')
            .map(|offset| start + offset)
            .unwrap_or_else(|| panic!("unclosed placeholder in {path}"));
        concrete.push_str(&rest[..start]);
        concrete.push_str(&match &rest[start + 1..end] {
            "code" => "no-such-shop".to_string(),
            "index" => "0".to_string(),
            _ => new_id(),
        });
        rest = &rest[end + 1..];
    }
    concrete.push_str(rest);
    concrete
}

/// Status and error code of one probe. The body is read as bytes, because file routes return
/// binary bodies that `ApiResponse` cannot hold.
struct ProbeResult {
    status: u16,
    error_code: Option<String>,
}

fn probe(method: &str, path: &str, token: Option<&str>) -> ProbeResult {
    let url = format!("{}{path}", server().base_url);
    let mut request = ureq::request(method, &url).timeout(std::time::Duration::from_secs(60));
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    // JSON routes reject the unknown field with 422, or the placeholder id with 404, before
    // they change anything, so a probe writes no data. Multipart routes reject the JSON body
    // with 415. Logout reads no body and ends the session it is sent with.
    let result = match method {
        "POST" | "PUT" | "PATCH" => request.send_json(json!({ "openapi_probe": true })),
        _ => request.call(),
    };
    let response = match result {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(ureq::Error::Transport(error)) => panic!("{method} {path} failed before any HTTP response: {error}"),
    };
    let status = response.status();
    let mut bytes = Vec::new();
    response
        .into_reader()
        .read_to_end(&mut bytes)
        .unwrap_or_else(|error| panic!("{method} {path}: failed to read the body: {error}"));
    let error_code = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|body| body["error"]["code"].as_str().map(str::to_string));
    ProbeResult { status, error_code }
}

/// Uploads a vendor logo, so `GET /v1/vendor/logo` has one to return, and returns its id.
fn upload_vendor_logo() -> String {
    let boundary = format!("openapi-{}", new_id());
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nlogo\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"logo.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(PNG);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());

    let response = api()
        .post("/v1/admin/vendor/files")
        .bearer(admin_token())
        .raw(&format!("multipart/form-data; boundary={boundary}"), &form);
    response.expect_status(201);
    response.str_field("id")
}

#[test]
fn spec_documents_every_route() {
    let spec = fetch_spec();
    let documented: BTreeSet<(String, String)> = operations_of(&spec)
        .into_iter()
        .map(|operation| (operation.method, operation.path))
        .collect();

    let missing: Vec<String> = route_set()
        .difference(&documented)
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    assert!(
        missing.is_empty(),
        "openapi.json does not document these routes of the router; add them to the spec: {missing:?}"
    );
}

#[test]
fn spec_documents_only_served_routes() {
    let spec = fetch_spec();
    let documented: BTreeSet<(String, String)> = operations_of(&spec)
        .into_iter()
        .map(|operation| (operation.method, operation.path))
        .collect();

    let unknown: Vec<String> = documented
        .difference(&route_set())
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    assert!(
        unknown.is_empty(),
        "openapi.json documents operations missing from ROUTES; remove them from the spec, \
         or add the route to ROUTES when the router serves it: {unknown:?}"
    );
}

#[test]
fn spec_operation_ids_are_unique() {
    let spec = fetch_spec();
    let mut seen = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            if !OPERATION_METHODS.contains(&method.as_str()) {
                continue;
            }
            let id = operation["operationId"].as_str();
            assert!(id.is_some(), "{method} {path} has no operationId");
            let id = id.unwrap_or_default().to_string();
            assert!(
                seen.insert(id.clone()),
                "operationId {id} is used twice; {method} {path} repeats it"
            );
        }
    }
}

#[test]
fn spec_operations_reach_a_handler() {
    let spec = fetch_spec();
    let shop = new_shop("openapi");
    // Logging out ends a session, so that probe gets a session of its own.
    let logout_session = login_owner(&api(), &shop.tenant, None);
    let logo_id = upload_vendor_logo();

    for operation in operations_of(&spec) {
        let method = operation.method.as_str();
        if NOT_PROBED.contains(&(method, operation.path.as_str())) {
            continue;
        }
        let token = match operation.credential {
            Credential::None => None,
            Credential::AdminToken => Some(admin_token()),
            Credential::TenantToken if operation.path == "/v1/auth/logout" => {
                Some(logout_session.access_token.as_str())
            }
            Credential::TenantToken => Some(shop.owner.access_token.as_str()),
        };
        let path = concrete_path(&operation.path);
        let result = probe(method, &path, token);
        let described = format!(
            "{method} {path} (spec {}) returned {} {:?}",
            operation.path, result.status, result.error_code
        );

        assert_ne!(result.status, 405, "{described}: the method is not routed");
        if !operation.path.contains('{') {
            assert_ne!(result.status, 404, "{described}: the router has no such route");
        }
        assert_ne!(
            result.status, 401,
            "{described}: the credentials its `security` names ({:?}) were rejected",
            operation.credential
        );
    }

    let deleted = api()
        .delete(&format!("/v1/admin/vendor/files/{logo_id}"))
        .bearer(admin_token())
        .send();
    deleted.expect_status(204);
}
