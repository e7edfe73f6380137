//! A mutation with a missing or malformed clock is rejected on its own, and the
//! mutations after it in the same push still apply.

use kasir_tests::{hlc_now, new_id};
use serde_json::{json, Value};

use crate::{api, create_mutation, get_record, push, read_record, results_of, sync_shop};

/// Builds a product create with the given `hlc` value. `None` leaves the key out.
fn product_create(name: &str, hlc: Option<Value>) -> Value {
    let mut mutation = create_mutation("products", &new_id(), json!({"name": name, "price": 5000}), "");
    match (hlc, mutation.as_object_mut()) {
        (Some(hlc), Some(object)) => {
            object.insert("hlc".to_string(), hlc);
        }
        (None, Some(object)) => {
            object.remove("hlc");
        }
        (_, None) => {}
    }
    mutation
}

#[test]
fn bad_hlc_rejects_only_its_mutation() {
    let shop = sync_shop("pushhlc");
    let api = api();
    let device = shop.device_a.device();
    // Each bad clock with the detail codes that may name it: the contract fixes
    // only `validation_failed`, so a clock of the wrong JSON type may read as
    // missing or as invalid.
    let bad: [(Value, &[&str]); 5] = [
        (product_create("Tanpa Jam", None), &["required"]),
        (
            product_create("Jam Kosong", Some(json!(null))),
            &["required", "invalid_type"],
        ),
        (
            product_create("Jam Tanggal", Some(json!("2026-01-01T08:00:00Z"))),
            &["invalid_format"],
        ),
        (
            product_create("Jam Pendek", Some(json!("1796420917000-01-x"))),
            &["invalid_format"],
        ),
        (
            product_create("Jam Angka", Some(json!(1796420917000_i64))),
            &["required", "invalid_type"],
        ),
    ];
    let good = product_create("Jam Benar", Some(json!(hlc_now(device))));
    let mut mutations: Vec<Value> = bad.iter().map(|(mutation, _)| mutation.clone()).collect();
    mutations.push(good.clone());

    let response = push(&api, &shop.device_a, &mutations);

    let results = results_of(&response, &mutations);
    for (index, ((mutation, detail_codes), result)) in bad.iter().zip(&results).enumerate() {
        assert_eq!(
            result["status"], "rejected",
            "mutation {index} (hlc {}): {result}",
            mutation["hlc"]
        );
        assert_eq!(
            result["error"]["code"], "validation_failed",
            "mutation {index}: {result}"
        );
        let details = result["error"]["details"].as_array().cloned().unwrap_or_default();
        assert!(
            details
                .iter()
                .any(|detail| detail["field"] == format!("mutations[{index}].hlc")
                    && detail_codes.contains(&detail["code"].as_str().unwrap_or_default())),
            "mutation {index} should name its hlc with one of {detail_codes:?}: {result}"
        );
        let record_id = mutation["record_id"].as_str().unwrap_or_default();
        get_record(&api, &shop.owner, "products", record_id).expect_error(404, "not_found");
    }
    let last = results.last().cloned().unwrap_or_default();
    assert_eq!(last["status"], "applied", "{last}");
    let stored = read_record(
        &api,
        &shop.owner,
        "products",
        good["record_id"].as_str().unwrap_or_default(),
    );
    assert_eq!(stored["name"], "Jam Benar", "{stored}");
}

#[test]
fn push_of_only_rejections_after_hub_error_succeeds() {
    let shop = crate::sync_shop("pvhuberr");
    let api = crate::api();
    let (id, _) = crate::rest_new_product(&api, &shop.owner, "Kopi", 10000);

    // A create that collides with a stored id fails inside the hub, which then has no cached
    // version; a push that writes no record must still be answered.
    let collision = api
        .post("/v1/products")
        .bearer(&shop.owner.access_token)
        .json(&json!({"id": id, "name": "Lain", "price": 1}));
    collision.expect_status(409);

    let nameless = crate::create_mutation(
        "products",
        &kasir_tests::new_id(),
        json!({"price": 5000}),
        &kasir_tests::hlc_now(shop.device_a.device()),
    );
    let result = crate::push_one(&api, &shop.device_a, nameless);
    crate::assert_status(&result, "rejected");
}
