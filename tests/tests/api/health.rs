//! Health check, request ids and the error envelope.

use serde_json::json;

use crate::{api, assert_request_id, new_shop};

#[test]
fn health_returns_200_with_request_id() {
    let response = api().get("/health").send();

    response.expect_status(200);
    assert_request_id(&response);
}

#[test]
fn request_ids_differ_between_requests() {
    let first = assert_request_id(&api().get("/health").send());
    let second = assert_request_id(&api().get("/health").send());

    assert_ne!(first, second);
}

#[test]
fn error_envelope_repeats_request_id() {
    let response = api().get("/v1/me").send();

    response.expect_error(401, "unauthorized");
    let header_id = assert_request_id(&response);
    assert_eq!(response.json["error"]["request_id"].as_str(), Some(header_id.as_str()));
    assert!(
        response.error_message().is_some_and(|message| !message.is_empty()),
        "error.message is missing or empty: {}",
        response.text
    );
}

#[test]
fn unknown_route_returns_404_with_request_id() {
    let shop = new_shop("noroute");
    let api = api();

    let outside_v1 = api.get("/no-such-route").send();
    let inside_v1 = api.get("/v1/no-such-route").bearer(&shop.owner.access_token).send();

    outside_v1.expect_error(404, "not_found");
    inside_v1.expect_error(404, "not_found");
    assert_request_id(&outside_v1);
    assert_request_id(&inside_v1);
}

#[test]
fn request_id_on_every_response_kind() {
    let shop = new_shop("reqid");
    let api = api();
    let token = shop.owner.access_token.as_str();

    let created = api.post("/v1/categories").bearer(token).json(&json!({"name": "Roti"}));
    created.expect_status(201);
    let category_path = format!("/v1/categories/{}", created.str_field("id"));
    let fetched = api.get(&category_path).bearer(token).send();
    fetched.expect_status(200);
    let deleted = api.delete(&category_path).bearer(token).send();
    deleted.expect_status(204);
    let missing = api.get(&category_path).bearer(token).send();
    missing.expect_status(404);
    let invalid = api.post("/v1/categories").bearer(token).json(&json!({}));
    invalid.expect_status(422);
    let forbidden_admin = api.get("/v1/admin/tenants").bearer(token).send();
    forbidden_admin.expect_status(401);

    for response in [&created, &fetched, &deleted, &missing, &invalid, &forbidden_admin] {
        assert_request_id(response);
    }
}
