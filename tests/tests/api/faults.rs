//! Faults lose nothing: a D1 failure in the middle of a merge leaves nothing half-written and
//! the retried push applies once. The hook exists only in development. The panic test has its
//! own binary, `tests/tests/panic`, because a panic drops every request in flight.

use kasir_tests::{hlc_now, login_owner, new_id};
use serde_json::json;

use crate::{api, new_shop};

#[test]
fn failed_batch_writes_nothing_and_retry_applies() {
    let shop = new_shop("faultbatch");
    let api = api();
    let terminal = login_owner(&api, &shop.tenant, Some("Tablet"));
    let device = terminal.device().to_string();
    let product_id = new_id();
    let push_body = json!({
        "device_id": device,
        "schema_version": 1,
        "mutations": [{
            "id": new_id(),
            "entity": "products",
            "op": "upsert",
            "record_id": product_id,
            "data": {"name": "Kopi Gagal", "price": 12000},
            "hlc": hlc_now(&device),
        }],
    });

    let failed = api
        .post("/v1/sync/push")
        .bearer(&terminal.access_token)
        .header("x-kasir-fault", "d1_batch")
        .json(&push_body);
    assert_eq!(failed.status, 500);
    assert_eq!(failed.error_code(), Some("internal"));
    assert!(
        !failed.text.contains("injected_fault"),
        "internal cause leaked: {}",
        failed.text
    );
    let missing = api
        .get(&format!("/v1/products/{product_id}"))
        .bearer(&terminal.access_token)
        .send();
    assert_eq!(missing.status, 404);

    let retried = api
        .post("/v1/sync/push")
        .bearer(&terminal.access_token)
        .json(&push_body);
    assert_eq!(retried.status, 200);
    assert_eq!(retried.json["results"][0]["status"], json!("applied"));
    let stored = api
        .get(&format!("/v1/products/{product_id}"))
        .bearer(&terminal.access_token)
        .send();
    assert_eq!(stored.status, 200);
    assert_eq!(stored.json["name"], json!("Kopi Gagal"));

    let again = api
        .post("/v1/sync/push")
        .bearer(&terminal.access_token)
        .json(&push_body);
    assert_eq!(again.json["results"], retried.json["results"]);
}
