//! Login, refresh rotation, logout and `/v1/me`.

use kasir_tests::{login_owner, session_from, try_login};
use serde_json::{json, Value};

use crate::{api, int_field, new_shop};

#[test]
fn login_returns_bearer_tokens_user_and_tenant() {
    let shop = new_shop("login");

    let response = try_login(
        &api(),
        &shop.tenant.code,
        &shop.tenant.owner_email,
        &shop.tenant.owner_password,
        None,
    );

    response.expect_status(200);
    let body = &response.json;
    assert!(body["access_token"].as_str().is_some_and(|t| !t.is_empty()), "{body}");
    assert!(body["refresh_token"].as_str().is_some_and(|t| !t.is_empty()), "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(int_field(body, "expires_in") > 0, "{body}");
    assert_eq!(body["user"]["id"], json!(shop.tenant.owner_id));
    assert_eq!(body["user"]["email"], json!(shop.tenant.owner_email));
    assert_eq!(body["user"]["role"], "owner");
    assert_eq!(body["tenant"]["code"], json!(shop.tenant.code));
    assert!(
        body.get("device").is_none_or(Value::is_null),
        "no device was asked for: {body}"
    );
}

#[test]
fn login_with_device_name_registers_device() {
    let shop = new_shop("logindev");
    let api = api();

    let session = login_owner(&api, &shop.tenant, Some("Tablet Kasir 1"));

    let device = &session.body["device"];
    assert!(
        device["id"].is_string(),
        "login response has no device.id: {}",
        session.body
    );
    assert_eq!(device["name"], "Tablet Kasir 1");
    let me = api.get("/v1/me").bearer(&session.access_token).send();
    me.expect_status(200);
    assert_eq!(me.json["device"]["id"], device["id"], "{}", me.text);
}

#[test]
fn wrong_password_matches_unknown_email() {
    let shop = new_shop("badlogin");
    let api = api();

    let wrong_password = try_login(
        &api,
        &shop.tenant.code,
        &shop.tenant.owner_email,
        "bukan-sandinya",
        None,
    );
    let unknown_email = try_login(&api, &shop.tenant.code, "tidak-ada@kasir.test", "bukan-sandinya", None);

    wrong_password.expect_error(401, "unauthorized");
    unknown_email.expect_error(401, "unauthorized");
    assert_eq!(wrong_password.error_message(), unknown_email.error_message());
    assert_eq!(wrong_password.error_details(), unknown_email.error_details());
}

#[test]
fn login_error_message_follows_accept_language() {
    let shop = new_shop("language");
    let api = api();
    let body = json!({
        "tenant": shop.tenant.code,
        "email": shop.tenant.owner_email,
        "password": "bukan-sandinya",
    });

    let indonesian = api.post("/v1/auth/login").language("id").json(&body);
    let english = api.post("/v1/auth/login").language("en").json(&body);

    indonesian.expect_error(401, "unauthorized");
    english.expect_error(401, "unauthorized");
    let indonesian_message = indonesian.error_message().unwrap_or_default();
    let english_message = english.error_message().unwrap_or_default();
    assert!(!indonesian_message.is_empty(), "{}", indonesian.text);
    assert!(!english_message.is_empty(), "{}", english.text);
    assert_ne!(
        indonesian_message, english_message,
        "the id and en messages should be in different languages"
    );
}

#[test]
fn refresh_returns_new_working_pair() {
    let shop = new_shop("refresh");
    let api = api();

    let response = api
        .post("/v1/auth/refresh")
        .json(&json!({"refresh_token": shop.owner.refresh_token}));

    response.expect_status(200);
    let renewed = session_from(&response);
    assert_ne!(renewed.refresh_token, shop.owner.refresh_token);
    let me = api.get("/v1/me").bearer(&renewed.access_token).send();
    me.expect_status(200);
    assert_eq!(me.json["user"]["id"], json!(shop.owner.user_id));
}

#[test]
fn reused_refresh_token_revokes_its_family() {
    let shop = new_shop("reuse");
    let api = api();
    let original = shop.owner.refresh_token.clone();

    let rotated = api.post("/v1/auth/refresh").json(&json!({"refresh_token": original}));
    rotated.expect_status(200);
    let renewed = session_from(&rotated);

    let reuse = api.post("/v1/auth/refresh").json(&json!({"refresh_token": original}));
    reuse.expect_error(401, "unauthorized");

    let after_reuse = api
        .post("/v1/auth/refresh")
        .json(&json!({"refresh_token": renewed.refresh_token}));
    after_reuse.expect_error(401, "unauthorized");
}

#[test]
fn garbage_refresh_token_is_unauthorized() {
    let response = api()
        .post("/v1/auth/refresh")
        .json(&json!({"refresh_token": "bukan-token"}));

    response.expect_error(401, "unauthorized");
}

#[test]
fn logout_ends_refresh_token() {
    let shop = new_shop("logout");
    let api = api();
    let session = login_owner(&api, &shop.tenant, None);

    let logout = api
        .post("/v1/auth/logout")
        .bearer(&session.access_token)
        .json(&json!({"refresh_token": session.refresh_token}));

    assert!(
        (200..300).contains(&logout.status),
        "logout returned HTTP {}: {}",
        logout.status,
        logout.text
    );
    let refresh = api
        .post("/v1/auth/refresh")
        .json(&json!({"refresh_token": session.refresh_token}));
    refresh.expect_error(401, "unauthorized");
    let other_session = api.get("/v1/me").bearer(&shop.owner.access_token).send();
    other_session.expect_status(200);
}

#[test]
fn me_returns_user_and_tenant() {
    let shop = new_shop("me");

    let response = api().get("/v1/me").bearer(&shop.owner.access_token).send();

    response.expect_status(200);
    assert_eq!(response.json["user"]["id"], json!(shop.tenant.owner_id));
    assert_eq!(response.json["user"]["role"], "owner");
    assert_eq!(response.json["tenant"]["code"], json!(shop.tenant.code));
    assert_eq!(response.json["tenant"]["id"], json!(shop.tenant.id));
}

#[test]
fn me_rejects_missing_and_garbage_tokens() {
    let api = api();

    api.get("/v1/me").send().expect_error(401, "unauthorized");
    api.get("/v1/me")
        .bearer("bukan.token.jwt")
        .send()
        .expect_error(401, "unauthorized");
}

#[test]
fn login_with_other_tenants_credentials_fails() {
    let first = new_shop("crosslog");
    let second = new_shop("crosslog");

    let response = try_login(
        &api(),
        &first.tenant.code,
        &second.tenant.owner_email,
        &second.tenant.owner_password,
        None,
    );

    response.expect_error(401, "unauthorized");
}
