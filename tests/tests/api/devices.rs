//! Devices: registration, codes and revocation.

use kasir_tests::{create_user_session, new_id};
use serde_json::json;

use crate::{api, ids_of, list_all, new_shop};

fn is_device_code(code: &str) -> bool {
    !code.is_empty() && code.len() <= 8 && code.chars().all(|c| c.is_ascii_alphanumeric())
}

#[test]
fn device_registration_issues_short_code() {
    let shop = new_shop("devcode");
    let api = api();
    let token = shop.owner.access_token.as_str();

    let first = api
        .post("/v1/devices")
        .bearer(token)
        .json(&json!({"name": "Tablet Depan"}));
    let second = api
        .post("/v1/devices")
        .bearer(token)
        .json(&json!({"name": "Tablet Belakang"}));

    first.expect_status(201);
    second.expect_status(201);
    assert!(first.json["id"].is_string(), "{}", first.text);
    assert_eq!(first.json["name"], "Tablet Depan");
    let first_code = first.str_field("code");
    let second_code = second.str_field("code");
    assert!(is_device_code(&first_code), "bad device code {first_code:?}");
    assert!(is_device_code(&second_code), "bad device code {second_code:?}");
    assert_ne!(first_code, second_code, "two devices of one tenant share a code");

    let devices = list_all(&api, "/v1/devices", token, 50);
    let device_ids = ids_of(&devices);
    assert!(device_ids.contains(&first.str_field("id")), "{devices:?}");
    assert!(device_ids.contains(&second.str_field("id")), "{devices:?}");
}

#[test]
fn device_keeps_proposed_id() {
    let shop = new_shop("devid");
    let proposed = new_id();

    let response = api()
        .post("/v1/devices")
        .bearer(&shop.owner.access_token)
        .json(&json!({"id": proposed, "name": "Kasir Kedua", "outlet_id": shop.tenant.default_outlet_id}));

    response.expect_status(201);
    assert_eq!(response.json["id"], json!(proposed));
    assert!(is_device_code(&response.str_field("code")), "{}", response.text);
}

#[test]
fn kasir_cannot_register_devices() {
    let shop = new_shop("devkasir");
    let api = api();
    let (_, kasir) = create_user_session(&api, &shop.tenant, &shop.owner, "kasir", "Tablet 1");

    let response = api
        .post("/v1/devices")
        .bearer(&kasir.access_token)
        .json(&json!({"name": "Tablet Liar"}));

    response.expect_error(403, "forbidden");
}

#[test]
fn deleting_device_revokes_its_tokens_at_once() {
    let shop = new_shop("devdel");
    let api = api();
    let (_, kasir) = create_user_session(&api, &shop.tenant, &shop.owner, "kasir", "Tablet Hilang");
    let device_id = kasir.device().to_string();
    api.get("/v1/me").bearer(&kasir.access_token).send().expect_status(200);

    let deleted = api
        .delete(&format!("/v1/devices/{device_id}"))
        .bearer(&shop.owner.access_token)
        .send();

    deleted.expect_status(204);
    api.get("/v1/me")
        .bearer(&kasir.access_token)
        .send()
        .expect_error(401, "unauthorized");
    api.post("/v1/auth/refresh")
        .json(&json!({"refresh_token": kasir.refresh_token}))
        .expect_error(401, "unauthorized");
    api.get("/v1/me")
        .bearer(&shop.owner.access_token)
        .send()
        .expect_status(200);
}
