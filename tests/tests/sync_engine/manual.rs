//! Manual strategy: an overlapping concurrent edit is held as a conflict, which
//! an owner or admin lists and resolves. The resolution syncs like any change.

use kasir_tests::fixtures::set_sync_settings;
use kasir_tests::{hlc_now, ApiResponse, Session};
use serde_json::{json, Value};

use crate::{
    api, assert_status, current_cursor, edit_mutation, find_upserted, int_field, pull_to_end, push_one, read_record,
    rest_new_product, sync_shop, SyncShop,
};

const SERVER_PRICE: i64 = 25000;
const CLIENT_PRICE: i64 = 23000;

/// A product under the manual strategy with one open conflict on `price`:
/// device A changed it to [`SERVER_PRICE`], then device B, from the same base,
/// to [`CLIENT_PRICE`].
struct OpenConflict {
    shop: SyncShop,
    product_id: String,
    /// Product version after device A's edit, which the conflict leaves as is.
    server_version: i64,
    /// Device B's push result.
    result: Value,
    conflict_id: String,
}

#[track_caller]
fn open_conflict(code_prefix: &str) -> OpenConflict {
    let shop = sync_shop(code_prefix);
    let api = api();
    set_sync_settings(&api, &shop.owner, json!({"strategies": {"products": "manual"}}));
    let (product_id, base) = rest_new_product(&api, &shop.owner, "Nasi Goreng", 20000);
    let server_edit = push_one(
        &api,
        &shop.device_a,
        edit_mutation(
            "products",
            &product_id,
            base,
            json!({"price": SERVER_PRICE}),
            &hlc_now(shop.device_a.device()),
        ),
    );
    assert_status(&server_edit, "applied");

    let result = push_one(
        &api,
        &shop.device_b,
        edit_mutation(
            "products",
            &product_id,
            base,
            json!({"price": CLIENT_PRICE}),
            &hlc_now(shop.device_b.device()),
        ),
    );
    assert_status(&result, "conflict");
    let conflict_id = result["conflict_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a conflict result needs a conflict_id: {result}"))
        .to_string();
    OpenConflict {
        shop,
        product_id,
        server_version: int_field(&server_edit, "version"),
        result,
        conflict_id,
    }
}

fn resolve(session: &Session, conflict_id: &str, body: Value) -> ApiResponse {
    api()
        .post(&format!("/v1/sync/conflicts/{conflict_id}/resolve"))
        .bearer(&session.access_token)
        .json(&body)
}

fn list_open_conflicts(session: &Session) -> ApiResponse {
    api()
        .get("/v1/sync/conflicts")
        .bearer(&session.access_token)
        .query("status", "open")
        .send()
}

/// Checks a resolve response and returns the record version it reports.
#[track_caller]
fn resolved_version(response: &ApiResponse, setup: &OpenConflict, resolution: &str) -> i64 {
    response.expect_status(200);
    assert_eq!(response.json["id"], setup.conflict_id.as_str(), "{}", response.text);
    assert_eq!(response.json["status"], "resolved", "{}", response.text);
    assert_eq!(response.json["resolution"], resolution, "{}", response.text);
    let version = int_field(&response.json, "version");
    assert!(
        version > setup.server_version,
        "a resolution writes a new version above {}: {}",
        setup.server_version,
        response.text
    );
    version
}

/// Pulls from `cursor` and returns the product as pulled, panicking when the
/// pull does not carry it.
#[track_caller]
fn pulled_product(setup: &OpenConflict, cursor: &str) -> Value {
    let (pages, _) = pull_to_end(&api(), &setup.shop.device_b, Some(cursor), None);
    find_upserted(&pages, "products", &setup.product_id).unwrap_or_else(|| {
        panic!(
            "product {} missing from the pull after {cursor}: {pages:?}",
            setup.product_id
        )
    })
}

#[test]
fn overlapping_edit_is_held_as_conflict() {
    let setup = open_conflict("manheld");
    let api = api();

    assert_eq!(
        int_field(&setup.result, "version"),
        setup.server_version,
        "{}",
        setup.result
    );
    let stored = read_record(&api, &setup.shop.owner, "products", &setup.product_id);
    assert_eq!(
        stored["price"],
        json!(SERVER_PRICE),
        "an open conflict changes nothing: {stored}"
    );
    assert_eq!(int_field(&stored, "version"), setup.server_version, "{stored}");

    let listed = list_open_conflicts(&setup.shop.owner);
    listed.expect_status(200);
    let items = listed.items();
    let conflict = items
        .iter()
        .find(|item| item["id"] == setup.conflict_id.as_str())
        .unwrap_or_else(|| panic!("conflict {} not listed as open: {}", setup.conflict_id, listed.text));
    assert_eq!(conflict["entity"], "products", "{conflict}");
    assert_eq!(conflict["record_id"], setup.product_id.as_str(), "{conflict}");
    assert_eq!(conflict["status"], "open", "{conflict}");
    assert_eq!(conflict["fields"], json!(["price"]), "{conflict}");
    assert_eq!(conflict["server"]["price"], json!(SERVER_PRICE), "{conflict}");
    assert_eq!(conflict["client"]["price"], json!(CLIENT_PRICE), "{conflict}");
    assert_eq!(conflict["device_id"], setup.shop.device_b.device(), "{conflict}");
    assert_eq!(conflict["user_id"], setup.shop.device_b.user_id.as_str(), "{conflict}");
    assert!(conflict["created_at"].is_string(), "{conflict}");
}

#[test]
fn kasir_cannot_list_or_resolve_conflicts() {
    let setup = open_conflict("mankasir");
    let kasir = setup.shop.kasir();

    list_open_conflicts(&kasir).expect_error(403, "forbidden");
    resolve(&kasir, &setup.conflict_id, json!({"resolution": "take_client"})).expect_error(403, "forbidden");

    let listed = list_open_conflicts(&setup.shop.owner);
    listed.expect_status(200);
    assert!(
        listed
            .items()
            .iter()
            .any(|item| item["id"] == setup.conflict_id.as_str()),
        "the refused resolve must leave the conflict open: {}",
        listed.text
    );
}

#[test]
fn take_client_resolution_applies_device_value() {
    let setup = open_conflict("mantake");
    let api = api();
    let cursor = current_cursor(&api, &setup.shop.owner);

    let response = resolve(
        &setup.shop.owner,
        &setup.conflict_id,
        json!({"resolution": "take_client"}),
    );

    let version = resolved_version(&response, &setup, "take_client");
    let stored = read_record(&api, &setup.shop.owner, "products", &setup.product_id);
    assert_eq!(stored["price"], json!(CLIENT_PRICE), "{stored}");
    assert_eq!(int_field(&stored, "version"), version, "{stored}");
    let pulled = pulled_product(&setup, &cursor);
    assert_eq!(pulled["price"], json!(CLIENT_PRICE), "{pulled}");
    assert_eq!(int_field(&pulled, "version"), version, "{pulled}");
    let listed = list_open_conflicts(&setup.shop.owner);
    listed.expect_status(200);
    assert!(
        !listed
            .items()
            .iter()
            .any(|item| item["id"] == setup.conflict_id.as_str()),
        "a resolved conflict is no longer open: {}",
        listed.text
    );
}

#[test]
fn keep_server_resolution_restamps_stored_value() {
    let setup = open_conflict("mankeep");
    let api = api();
    let cursor = current_cursor(&api, &setup.shop.owner);

    // Device A's user is an admin, who may resolve conflicts too.
    let response = resolve(
        &setup.shop.device_a,
        &setup.conflict_id,
        json!({"resolution": "keep_server"}),
    );

    let version = resolved_version(&response, &setup, "keep_server");
    let stored = read_record(&api, &setup.shop.owner, "products", &setup.product_id);
    assert_eq!(stored["price"], json!(SERVER_PRICE), "{stored}");
    assert_eq!(int_field(&stored, "version"), version, "{stored}");
    let pulled = pulled_product(&setup, &cursor);
    assert_eq!(pulled["price"], json!(SERVER_PRICE), "{pulled}");
    assert_eq!(int_field(&pulled, "version"), version, "{pulled}");
}

#[test]
fn custom_resolution_applies_given_data() {
    let setup = open_conflict("mancustom");
    let api = api();
    let cursor = current_cursor(&api, &setup.shop.owner);

    let response = resolve(
        &setup.shop.owner,
        &setup.conflict_id,
        json!({"resolution": "custom", "data": {"price": 24000, "name": "Nasi Goreng Spesial"}}),
    );

    let version = resolved_version(&response, &setup, "custom");
    let stored = read_record(&api, &setup.shop.owner, "products", &setup.product_id);
    assert_eq!(stored["price"], json!(24000), "{stored}");
    assert_eq!(stored["name"], "Nasi Goreng Spesial", "{stored}");
    assert_eq!(int_field(&stored, "version"), version, "{stored}");
    let pulled = pulled_product(&setup, &cursor);
    assert_eq!(pulled["price"], json!(24000), "{pulled}");
    assert_eq!(pulled["name"], "Nasi Goreng Spesial", "{pulled}");
    assert_eq!(int_field(&pulled, "version"), version, "{pulled}");
}

#[test]
fn resolving_twice_is_conflict() {
    let setup = open_conflict("mantwice");
    let first = resolve(
        &setup.shop.owner,
        &setup.conflict_id,
        json!({"resolution": "take_client"}),
    );
    let version = resolved_version(&first, &setup, "take_client");

    let second = resolve(
        &setup.shop.owner,
        &setup.conflict_id,
        json!({"resolution": "keep_server"}),
    );

    second.expect_error(409, "conflict");
    let stored = read_record(&api(), &setup.shop.owner, "products", &setup.product_id);
    assert_eq!(
        stored["price"],
        json!(CLIENT_PRICE),
        "the second resolve must change nothing: {stored}"
    );
    assert_eq!(int_field(&stored, "version"), version, "{stored}");
}
