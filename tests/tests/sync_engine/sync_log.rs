//! The sync log: one entry per push with its results counted by outcome,
//! readable by owners and admins only.

use kasir_tests::fixtures::hlc_shifted;
use kasir_tests::{hlc_now, new_id};
use serde_json::{json, Value};

use crate::{
    api, create_mutation, edit_mutation, int_field, push, rest_new_tracked_product, results_of, sync_shop, MINUTE_MS,
};

/// Returns the statuses of a push's results, in order.
fn statuses(results: &[Value]) -> Vec<String> {
    results
        .iter()
        .map(|result| result["status"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn sync_log_counts_each_push_by_outcome() {
    let shop = sync_shop("synclog");
    let api = api();
    let (product_id, base) = rest_new_tracked_product(&api, &shop.owner, "Martabak Telur", 30000);
    let movement_id = new_id();
    let movement = json!({
        "product_id": product_id,
        "outlet_id": shop.tenant.default_outlet_id,
        "qty": 4,
        "kind": "purchase",
    });

    let first_push = vec![
        edit_mutation(
            "products",
            &product_id,
            base,
            json!({"price": 32000}),
            &hlc_now(shop.device_a.device()),
        ),
        create_mutation(
            "stock_movements",
            &movement_id,
            movement.clone(),
            &hlc_now(shop.device_a.device()),
        ),
        create_mutation("customers", &new_id(), json!({"name": "Tanpa Jam"}), "kemarin sore"),
    ];
    let first = results_of(&push(&api, &shop.device_a, &first_push), &first_push);
    assert_eq!(statuses(&first), ["applied", "applied", "rejected"], "{first:?}");
    let second_push = vec![
        create_mutation(
            "stock_movements",
            &movement_id,
            movement,
            &hlc_now(shop.device_b.device()),
        ),
        edit_mutation(
            "products",
            &product_id,
            base,
            json!({"price": 31000}),
            &hlc_shifted(shop.device_b.device(), -MINUTE_MS),
        ),
    ];
    let second = results_of(&push(&api, &shop.device_b, &second_push), &second_push);
    assert_eq!(statuses(&second), ["duplicate", "merged"], "{second:?}");

    let response = api.get("/v1/sync/log").bearer(&shop.owner.access_token).send();

    response.expect_status(200);
    let items = response.items();
    assert_eq!(items.len(), 2, "one log entry per push: {}", response.text);
    let entry_of = |device: &str| -> Value {
        items
            .iter()
            .find(|item| item["device_id"] == device)
            .cloned()
            .unwrap_or_else(|| panic!("no log entry for device {device}: {}", response.text))
    };
    let first_entry = entry_of(shop.device_a.device());
    assert_eq!(
        first_entry["counts"],
        json!({"applied": 2, "merged": 0, "duplicate": 0, "conflict": 0, "rejected": 1}),
        "{first_entry}"
    );
    assert_eq!(first_entry["user_id"], shop.device_a.user_id.as_str(), "{first_entry}");
    let second_entry = entry_of(shop.device_b.device());
    assert_eq!(
        second_entry["counts"],
        json!({"applied": 0, "merged": 1, "duplicate": 1, "conflict": 0, "rejected": 0}),
        "{second_entry}"
    );
    assert_eq!(
        second_entry["user_id"],
        shop.device_b.user_id.as_str(),
        "{second_entry}"
    );
    for entry in [&first_entry, &second_entry] {
        assert!(entry["id"].is_string(), "{entry}");
        assert!(entry["at"].is_string(), "{entry}");
        assert!(int_field(entry, "duration_ms") >= 0, "{entry}");
    }
}

#[test]
fn sync_log_is_forbidden_to_kasir() {
    let shop = sync_shop("synclogkasir");
    let kasir = shop.kasir();
    let api = api();

    let response = api.get("/v1/sync/log").bearer(&kasir.access_token).send();

    response.expect_error(403, "forbidden");
    api.get("/v1/sync/log")
        .bearer(&shop.device_a.access_token)
        .send()
        .expect_status(200);
}
