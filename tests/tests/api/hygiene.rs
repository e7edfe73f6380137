//! HTTP hygiene and the audit trail: CORS for allowed origins only, security headers, and the
//! owner's list of security events.

use kasir_tests::{create_user_session, try_login};
use serde_json::json;

use crate::{api, new_shop};

/// An origin `.dev.vars.example` allows.
const ALLOWED_ORIGIN: &str = "http://localhost:5173";

#[test]
fn preflight_from_allowed_origin_is_answered() {
    let response = api()
        .request("OPTIONS", "/v1/products")
        .header("Origin", ALLOWED_ORIGIN)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "authorization, content-type")
        .send();
    assert_eq!(response.status, 204);
    assert_eq!(response.header("access-control-allow-origin"), Some(ALLOWED_ORIGIN));
    let methods = response.header("access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("POST"), "allowed methods: {methods}");
    let headers = response.header("access-control-allow-headers").unwrap_or_default();
    assert!(headers.contains("authorization"), "allowed headers: {headers}");
}

#[test]
fn other_origin_gets_no_cors_headers() {
    let preflight = api()
        .request("OPTIONS", "/v1/products")
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "POST")
        .send();
    assert_eq!(preflight.header("access-control-allow-origin"), None);

    let health = api().get("/health").header("Origin", "https://evil.example").send();
    assert_eq!(health.status, 200);
    assert_eq!(health.header("access-control-allow-origin"), None);
}

#[test]
fn allowed_origin_sees_request_id() {
    let response = api().get("/health").header("Origin", ALLOWED_ORIGIN).send();
    assert_eq!(response.header("access-control-allow-origin"), Some(ALLOWED_ORIGIN));
    let exposed = response.header("access-control-expose-headers").unwrap_or_default();
    assert!(exposed.contains("x-request-id"), "exposed headers: {exposed}");
}

#[test]
fn json_responses_carry_security_headers() {
    let shop = new_shop("hygiene");
    let response = api().get("/v1/me").bearer(&shop.owner.access_token).send();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("cache-control"), Some("no-store"));
    assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(response.header("x-frame-options"), Some("DENY"));
}

#[test]
fn failed_login_is_in_audit_trail() {
    let shop = new_shop("auditlogin");
    let api = api();
    let failed = try_login(&api, &shop.tenant.code, &shop.tenant.owner_email, "salah-sekali", None);
    assert_eq!(failed.status, 401);

    let audit = api
        .get("/v1/audit")
        .bearer(&shop.owner.access_token)
        .query("action", "login_failed")
        .send();
    assert_eq!(audit.status, 200);
    let items = audit.items();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["detail"]["email"], json!(shop.tenant.owner_email));
    assert_eq!(items[0]["user_id"], json!(shop.tenant.owner_id));
}

#[test]
fn role_change_is_in_audit_trail() {
    let shop = new_shop("auditrole");
    let api = api();
    let (kasir, _) = create_user_session(&api, &shop.tenant, &shop.owner, "kasir", "Kasir 1");
    let promote = api
        .patch(&format!("/v1/users/{}", kasir.id))
        .bearer(&shop.owner.access_token)
        .json(&json!({"role": "admin"}));
    assert_eq!(promote.status, 200);

    let audit = api
        .get("/v1/audit")
        .bearer(&shop.owner.access_token)
        .query("action", "user_changed")
        .send();
    let items = audit.items();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["detail"]["user_id"], json!(kasir.id));
    assert_eq!(items[0]["detail"]["role_from"], json!("kasir"));
    assert_eq!(items[0]["detail"]["role_to"], json!("admin"));
}

#[test]
fn audit_trail_is_owner_only() {
    let shop = new_shop("auditowner");
    let api = api();
    let (_, admin) = create_user_session(&api, &shop.tenant, &shop.owner, "admin", "Tablet Admin");
    let (_, kasir) = create_user_session(&api, &shop.tenant, &shop.owner, "kasir", "Tablet Kasir");
    for session in [&admin, &kasir] {
        let response = api.get("/v1/audit").bearer(&session.access_token).send();
        assert_eq!(response.status, 403, "role {}", session.role);
    }
}
