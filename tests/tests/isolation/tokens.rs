//! Forged, expired, revoked and misplaced tokens: each must get 401 (423 for a suspended
//! tenant), and the owner's audit trail must list failed logins and refresh-token reuse.
//!
//! Forged tokens are signed with `JWT_SECRET` from `.dev.vars`, the local secret that the
//! harness's `wrangler dev` loads, so a rejection is caused by the forged part alone.

use std::fs;

use kasir_tests::dev_vars::{find_var, workspace_root};
use kasir_tests::{
    create_user_session, login_owner, provision_tenant, session_from, try_login, ApiResponse, Session, TenantFixture,
};
use serde_json::{json, Value};

use crate::jwt::{self, Algorithm};
use crate::{admin_token, api, unix_now, ResponseSummary};

/// Reads `JWT_SECRET` from the workspace's `.dev.vars`.
fn dev_jwt_secret() -> Vec<u8> {
    let path = workspace_root().join(".dev.vars");
    let text = fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "failed to read {}: {error}. Create it with `cp -n .dev.vars.example .dev.vars`.",
            path.display()
        )
    });
    find_var(&text, "JWT_SECRET")
        .unwrap_or_else(|| panic!("{} sets no JWT_SECRET", path.display()))
        .into_bytes()
}

/// A tenant on the shared database with its owner logged in without a device.
struct TokenShop {
    tenant: TenantFixture,
    owner: Session,
}

#[track_caller]
fn token_shop(code_prefix: &str) -> TokenShop {
    let api = api();
    let tenant = provision_tenant(&api, admin_token(), code_prefix);
    let owner = login_owner(&api, &tenant, None);
    TokenShop { tenant, owner }
}

fn get_with(token: &str, path: &str) -> ApiResponse {
    api().get(path).bearer(token).send()
}

/// Panics unless `token` gets 401 `unauthorized` on a route every user may call and on an
/// owner-only one.
#[track_caller]
fn assert_unauthorized(token: &str, case: &str) {
    for path in ["/v1/me", "/v1/users"] {
        let response = get_with(token, path);
        assert!(
            ResponseSummary::of(&response).is(401, "unauthorized"),
            "{case}: GET {path} should return 401 unauthorized, got {} {}",
            response.status,
            response.text
        );
    }
}

#[track_caller]
fn refresh(refresh_token: &str) -> ApiResponse {
    api()
        .post("/v1/auth/refresh")
        .json(&json!({"refresh_token": refresh_token}))
}

/// Returns the claims of `token` with `iat` and `exp` replaced.
fn claims_issued_at(token: &str, issued_at: i64, expires_at: i64) -> Value {
    let mut claims = jwt::claims_of(token);
    claims["iat"] = json!(issued_at);
    claims["exp"] = json!(expires_at);
    claims
}

#[test]
fn alg_none_token_rejected() {
    let shop = token_shop("tok-none");
    let claims = jwt::claims_of(&shop.owner.access_token);
    let header_only = shop
        .owner
        .access_token
        .rsplit_once('.')
        .map(|(unsigned, _)| format!("{unsigned}."))
        .unwrap_or_default();

    assert_unauthorized(&jwt::unsigned(&claims), "alg none");
    assert_unauthorized(&header_only, "HS256 header with the signature removed");
    assert_eq!(
        get_with(&shop.owner.access_token, "/v1/users").status,
        200,
        "the genuine token still works"
    );
}

#[test]
fn hs384_and_hs512_tokens_rejected() {
    let shop = token_shop("tok-alg");
    let secret = dev_jwt_secret();
    let claims = jwt::claims_of(&shop.owner.access_token);

    assert_unauthorized(
        &jwt::sign(Algorithm::Hs384, &secret, &claims),
        "HS384 signed with the server secret",
    );
    assert_unauthorized(
        &jwt::sign(Algorithm::Hs512, &secret, &claims),
        "HS512 signed with the server secret",
    );
}

#[test]
fn token_signed_with_wrong_key_rejected() {
    let shop = token_shop("tok-key");
    let claims = jwt::claims_of(&shop.owner.access_token);
    let forged = jwt::sign(
        Algorithm::Hs256,
        b"another-secret-of-the-same-length-0123456789",
        &claims,
    );

    assert_unauthorized(&forged, "HS256 signed with another key");
}

#[test]
fn tampered_role_claim_rejected() {
    let shop = token_shop("tok-role");
    let (_, kasir) = create_user_session(&api(), &shop.tenant, &shop.owner, "kasir", "Tablet Kasir");
    let mut claims = jwt::claims_of(&kasir.access_token);
    assert_eq!(claims["role"], "kasir", "kasir token claims: {claims}");
    claims["role"] = json!("owner");
    let tampered = jwt::with_claims(&kasir.access_token, &claims);

    let genuine = get_with(&kasir.access_token, "/v1/users");
    assert!(
        ResponseSummary::of(&genuine).is(403, "forbidden"),
        "a kasir may not list users: {} {}",
        genuine.status,
        genuine.text
    );
    assert_unauthorized(&tampered, "kasir token with role changed to owner");
}

#[test]
fn forged_token_with_dev_secret_works_until_expiry() {
    let shop = token_shop("tok-exp");
    let secret = dev_jwt_secret();
    let now = unix_now();

    // The forging works: a fresh token signed with the dev secret is accepted. So the
    // rejections below come from the expiry alone.
    let fresh = jwt::sign(
        Algorithm::Hs256,
        &secret,
        &claims_issued_at(&shop.owner.access_token, now, now + 900),
    );
    let accepted = get_with(&fresh, "/v1/users");
    assert_eq!(
        accepted.status, 200,
        "a fresh forged token should work: {}",
        accepted.text
    );

    let expired_long_ago = jwt::sign(
        Algorithm::Hs256,
        &secret,
        &claims_issued_at(&shop.owner.access_token, now - 3600, now - 2700),
    );
    assert_unauthorized(&expired_long_ago, "token expired 45 minutes ago");
    // The server accepts a token up to 30 s past `exp` for clock skew, so 90 s past is expired.
    let just_expired = jwt::sign(
        Algorithm::Hs256,
        &secret,
        &claims_issued_at(&shop.owner.access_token, now - 990, now - 90),
    );
    assert_unauthorized(&just_expired, "token expired 90 seconds ago");
}

#[test]
fn deleted_user_tokens_rejected() {
    let shop = token_shop("tok-deluser");
    let api = api();
    let (kasir, session) = create_user_session(&api, &shop.tenant, &shop.owner, "kasir", "Tablet Kasir");
    assert_eq!(
        get_with(&session.access_token, "/v1/me").status,
        200,
        "the kasir token works before the delete"
    );

    let deleted = api
        .delete(&format!("/v1/users/{}", kasir.id))
        .bearer(&shop.owner.access_token)
        .send();
    deleted.expect_status(204);

    assert_unauthorized(&session.access_token, "access token of a deleted user");
    let refreshed = refresh(&session.refresh_token);
    assert!(
        ResponseSummary::of(&refreshed).is(401, "unauthorized"),
        "refresh token of a deleted user: {} {}",
        refreshed.status,
        refreshed.text
    );
    let login = try_login(&api, &shop.tenant.code, &kasir.email, &kasir.password, None);
    assert!(
        ResponseSummary::of(&login).is(401, "unauthorized"),
        "login of a deleted user: {} {}",
        login.status,
        login.text
    );
}

#[test]
fn revoked_device_tokens_rejected() {
    let shop = token_shop("tok-revoke");
    let api = api();
    let (kasir, session) = create_user_session(&api, &shop.tenant, &shop.owner, "kasir", "Tablet Kasir");
    let device_id = session.device().to_string();
    assert_eq!(
        get_with(&session.access_token, "/v1/me").status,
        200,
        "the device token works before the revocation"
    );

    let revoked = api
        .delete(&format!("/v1/devices/{device_id}"))
        .bearer(&shop.owner.access_token)
        .send();
    revoked.expect_status(204);

    assert_unauthorized(&session.access_token, "access token of a revoked device");
    let refreshed = refresh(&session.refresh_token);
    assert!(
        ResponseSummary::of(&refreshed).is(401, "unauthorized"),
        "refresh token of a revoked device: {} {}",
        refreshed.status,
        refreshed.text
    );
    let relogin = api.post("/v1/auth/login").json(&json!({
        "tenant": shop.tenant.code,
        "email": kasir.email,
        "password": kasir.password,
        "device": {"id": device_id, "name": "Tablet Kasir"},
    }));
    assert!(
        ResponseSummary::of(&relogin).is(401, "unauthorized"),
        "login naming the revoked device: {} {}",
        relogin.status,
        relogin.text
    );
}

#[test]
fn suspended_tenant_gets_423() {
    let shop = token_shop("tok-suspend");
    let api = api();
    let path = format!("/v1/admin/tenants/{}", shop.tenant.code);
    let suspended = api
        .patch(&path)
        .bearer(admin_token())
        .json(&json!({"status": "suspended"}));
    suspended.expect_status(200);
    assert_eq!(suspended.json["status"], "suspended", "{}", suspended.text);

    // The isolate that made the change applies it at once, and wrangler dev runs one isolate.
    let me = get_with(&shop.owner.access_token, "/v1/me");
    let refreshed = refresh(&shop.owner.refresh_token);
    let login = try_login(
        &api,
        &shop.tenant.code,
        &shop.tenant.owner_email,
        &shop.tenant.owner_password,
        None,
    );
    let reactivated = api
        .patch(&path)
        .bearer(admin_token())
        .json(&json!({"status": "active"}));
    reactivated.expect_status(200);

    assert!(
        ResponseSummary::of(&me).is(423, "tenant_suspended"),
        "GET /v1/me of a suspended tenant: {} {}",
        me.status,
        me.text
    );
    assert!(
        ResponseSummary::of(&refreshed).is(423, "tenant_suspended"),
        "refresh of a suspended tenant: {} {}",
        refreshed.status,
        refreshed.text
    );
    assert!(
        ResponseSummary::of(&login).is(423, "tenant_suspended"),
        "login to a suspended tenant: {} {}",
        login.status,
        login.text
    );
    assert_eq!(
        get_with(&shop.owner.access_token, "/v1/me").status,
        200,
        "the owner's token works again once the tenant is active"
    );
}

#[test]
fn replayed_refresh_token_revokes_session() {
    let shop = token_shop("tok-replay");
    let api = api();
    let victim = login_owner(&api, &shop.tenant, None);
    let session_id = jwt::claims_of(&victim.access_token)["sid"].clone();

    let rotated = refresh(&victim.refresh_token);
    rotated.expect_status(200);
    let rotated = session_from(&rotated);
    let replayed = refresh(&victim.refresh_token);
    let after_replay = refresh(&rotated.refresh_token);

    assert!(
        ResponseSummary::of(&replayed).is(401, "unauthorized"),
        "refresh token replayed after rotation: {} {}",
        replayed.status,
        replayed.text
    );
    assert!(
        ResponseSummary::of(&after_replay).is(401, "unauthorized"),
        "the rotated refresh token after the replay: {} {}",
        after_replay.status,
        after_replay.text
    );
    assert_unauthorized(
        &rotated.access_token,
        "access token of the session whose refresh token was replayed",
    );
    assert_unauthorized(&victim.access_token, "first access token of that session");
    assert_eq!(
        get_with(&shop.owner.access_token, "/v1/me").status,
        200,
        "the owner's other session is untouched"
    );

    let audit = api
        .get("/v1/audit")
        .bearer(&shop.owner.access_token)
        .query("action", "refresh_token_reused")
        .send();
    audit.expect_status(200);
    let events = audit.items();
    assert!(
        events.iter().any(|event| event["detail"]["session_id"] == session_id),
        "GET /v1/audit lists no refresh_token_reused event of session {session_id}: {}",
        audit.text
    );
}

#[test]
fn failed_login_listed_in_audit() {
    let shop = token_shop("tok-audit");
    let api = api();
    let failed = try_login(
        &api,
        &shop.tenant.code,
        &shop.tenant.owner_email,
        "salah-sandi-123",
        None,
    );
    assert!(
        ResponseSummary::of(&failed).is(401, "unauthorized"),
        "wrong password: {} {}",
        failed.status,
        failed.text
    );

    let audit = api
        .get("/v1/audit")
        .bearer(&shop.owner.access_token)
        .query("action", "login_failed")
        .send();
    audit.expect_status(200);
    let events = audit.items();
    assert!(
        events
            .iter()
            .any(|event| event["detail"]["email"] == json!(shop.tenant.owner_email)),
        "GET /v1/audit lists no login_failed event for {}: {}",
        shop.tenant.owner_email,
        audit.text
    );
}

#[test]
fn tenant_token_rejected_on_admin_routes() {
    let shop = token_shop("tok-admin");
    let api = api();
    let tenant_path = format!("/v1/admin/tenants/{}", shop.tenant.code);

    for (method, path, body) in [
        ("GET", "/v1/admin/tenants".to_string(), None),
        ("GET", tenant_path.clone(), None),
        ("PATCH", tenant_path.clone(), Some(json!({"plan": "enterprise"}))),
        ("DELETE", tenant_path.clone(), None),
        ("POST", format!("{tenant_path}/alarm"), None),
        (
            "POST",
            "/v1/admin/tenants".to_string(),
            Some(json!({
                "code": format!("{}-x", shop.tenant.code),
                "name": "Toko Tiruan",
                "owner": {"email": "tiruan@kasir.test", "name": "Tiruan", "password": "Sandi-tiruan-123"},
            })),
        ),
        ("GET", "/v1/admin/jobs".to_string(), None),
        ("GET", format!("/v1/admin/jobs/{}", kasir_tests::new_id()), None),
        ("GET", "/v1/admin/outbox".to_string(), None),
    ] {
        let request = api.request(method, &path).bearer(&shop.owner.access_token);
        let response = match &body {
            Some(body) => request.json(body),
            None => request.send(),
        };
        assert!(
            ResponseSummary::of(&response).is(401, "unauthorized"),
            "{method} {path} with a tenant owner's token: {} {}",
            response.status,
            response.text
        );
    }
    let tenant = api.get(&tenant_path).bearer(admin_token()).send();
    tenant.expect_status(200);
    assert_eq!(
        tenant.json["plan"], "free",
        "the rejected PATCH changed the plan: {}",
        tenant.text
    );
    assert_eq!(
        tenant.json["status"], "active",
        "the rejected DELETE changed the status: {}",
        tenant.text
    );
    let copy = api.get(&format!("{tenant_path}-x")).bearer(admin_token()).send();
    assert_eq!(copy.status, 404, "the rejected POST created a tenant: {}", copy.text);
}

#[test]
fn admin_token_rejected_on_tenant_routes() {
    for path in [
        "/v1/me",
        "/v1/tenant",
        "/v1/products",
        "/v1/users",
        "/v1/audit",
        "/v1/sync/pull",
    ] {
        let response = get_with(admin_token(), path);
        assert!(
            ResponseSummary::of(&response).is(401, "unauthorized"),
            "GET {path} with the admin token: {} {}",
            response.status,
            response.text
        );
    }
}
