//! Insert-only entities over sync: a stock movement or sale is stored once, and
//! the same body again is a duplicate. The server rejects another body under a
//! stored id, a delete, and a movement kind that only the server writes.

use std::time::SystemTime;

use chrono::{DateTime, SecondsFormat, Utc};
use kasir_tests::{hlc_now, new_id, Session};
use serde_json::{json, Value};

use crate::{
    api, assert_status, create_mutation, delete_mutation, find_upserted, int_field, pull_to_end, push_one, read_record,
    rest_new_tracked_product, sync_shop, SyncShop,
};

/// Builds a purchase of 2.5 units of `product_id` at the tenant's first outlet.
fn purchase(shop: &SyncShop, product_id: &str) -> Value {
    json!({
        "product_id": product_id,
        "outlet_id": shop.tenant.default_outlet_id,
        "qty": 2.5,
        "kind": "purchase",
        "note": "kiriman pemasok",
    })
}

/// Builds a cash sale of one unit of `product_id` at 15,000, made on the session's device.
fn cash_sale(shop: &SyncShop, session: &Session, product_id: &str) -> Value {
    let now: DateTime<Utc> = SystemTime::now().into();
    json!({
        "id": new_id(),
        "outlet_id": shop.tenant.default_outlet_id,
        "device_id": session.device(),
        "receipt_no": format!("PUSAT-SYNC-260101-{}", &new_id()[..6]),
        "created_at": now.to_rfc3339_opts(SecondsFormat::Secs, true),
        "items": [{"product_id": product_id, "qty": 1, "unit_price": 15000, "discount": 0}],
        "discount": 0,
        "payments": [{"method": "cash", "amount": 20000}],
    })
}

/// Codes of the `details` of a rejected result's error.
fn rejection_detail_codes(result: &Value) -> Vec<String> {
    result["error"]["details"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|detail| detail["code"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn stock_movement_replay_is_duplicate() {
    let shop = sync_shop("insmovedup");
    let api = api();
    let (product_id, _) = rest_new_tracked_product(&api, &shop.owner, "Gula Aren", 30000);
    let movement_id = new_id();
    let body = purchase(&shop, &product_id);
    let first = push_one(
        &api,
        &shop.device_a,
        create_mutation(
            "stock_movements",
            &movement_id,
            body.clone(),
            &hlc_now(shop.device_a.device()),
        ),
    );
    assert_status(&first, "applied");

    let replay = push_one(
        &api,
        &shop.device_a,
        create_mutation("stock_movements", &movement_id, body, &hlc_now(shop.device_a.device())),
    );

    assert_status(&replay, "duplicate");
    assert_eq!(replay["version"], first["version"], "{replay}");
    let (pages, _) = pull_to_end(&api, &shop.device_b, None, None);
    let pulled = find_upserted(&pages, "stock_movements", &movement_id)
        .unwrap_or_else(|| panic!("movement {movement_id} missing from the pull: {pages:?}"));
    assert_eq!(pulled["qty"], json!(2.5), "{pulled}");
    assert_eq!(pulled["kind"], "purchase", "{pulled}");
    assert_eq!(int_field(&pulled, "version"), int_field(&first, "version"), "{pulled}");
}

#[test]
fn stock_movement_other_body_is_rejected() {
    let shop = sync_shop("insmoveother");
    let api = api();
    let (product_id, _) = rest_new_tracked_product(&api, &shop.owner, "Kopi Bubuk", 45000);
    let movement_id = new_id();
    let first = push_one(
        &api,
        &shop.device_a,
        create_mutation(
            "stock_movements",
            &movement_id,
            purchase(&shop, &product_id),
            &hlc_now(shop.device_a.device()),
        ),
    );
    assert_status(&first, "applied");

    let mut other = purchase(&shop, &product_id);
    other["qty"] = json!(3);
    let rewrite = push_one(
        &api,
        &shop.device_a,
        create_mutation("stock_movements", &movement_id, other, &hlc_now(shop.device_a.device())),
    );

    assert_status(&rewrite, "rejected");
    assert_eq!(rewrite["error"]["code"], "conflict", "{rewrite}");
    let (pages, _) = pull_to_end(&api, &shop.device_b, None, None);
    let pulled = find_upserted(&pages, "stock_movements", &movement_id)
        .unwrap_or_else(|| panic!("movement {movement_id} missing from the pull: {pages:?}"));
    assert_eq!(
        pulled["qty"],
        json!(2.5),
        "the stored movement must keep its body: {pulled}"
    );
}

#[test]
fn sale_kind_movement_is_rejected() {
    let shop = sync_shop("insmovesale");
    let api = api();
    let (product_id, _) = rest_new_tracked_product(&api, &shop.owner, "Susu Kental", 12000);
    let mut body = purchase(&shop, &product_id);
    body["kind"] = json!("sale");
    body["qty"] = json!(-1);
    let movement_id = new_id();

    let result = push_one(
        &api,
        &shop.device_a,
        create_mutation("stock_movements", &movement_id, body, &hlc_now(shop.device_a.device())),
    );

    assert_status(&result, "rejected");
    assert_eq!(result["error"]["code"], "validation_failed", "{result}");
    assert!(
        rejection_detail_codes(&result).contains(&"server_only".to_string()),
        "{result}"
    );
    let (pages, _) = pull_to_end(&api, &shop.device_b, None, None);
    assert!(
        find_upserted(&pages, "stock_movements", &movement_id).is_none(),
        "a rejected movement must not be stored: {pages:?}"
    );
}

#[test]
fn delete_of_insert_only_record_is_rejected() {
    let shop = sync_shop("insdelete");
    let api = api();
    let (product_id, _) = rest_new_tracked_product(&api, &shop.owner, "Kopi Tubruk", 15000);
    let movement_id = new_id();
    let movement = push_one(
        &api,
        &shop.device_a,
        create_mutation(
            "stock_movements",
            &movement_id,
            purchase(&shop, &product_id),
            &hlc_now(shop.device_a.device()),
        ),
    );
    assert_status(&movement, "applied");
    let sale = cash_sale(&shop, &shop.device_a, &product_id);
    let sale_id = sale["id"].as_str().unwrap_or_default().to_string();
    let recorded = push_one(
        &api,
        &shop.device_a,
        create_mutation("transactions", &sale_id, sale, &hlc_now(shop.device_a.device())),
    );
    assert_status(&recorded, "applied");

    let movement_delete = push_one(
        &api,
        &shop.device_a,
        delete_mutation(
            "stock_movements",
            &movement_id,
            int_field(&movement, "version"),
            &hlc_now(shop.device_a.device()),
        ),
    );
    let sale_delete = push_one(
        &api,
        &shop.device_a,
        delete_mutation(
            "transactions",
            &sale_id,
            int_field(&recorded, "version"),
            &hlc_now(shop.device_a.device()),
        ),
    );

    for result in [&movement_delete, &sale_delete] {
        assert_status(result, "rejected");
        assert_eq!(result["error"]["code"], "validation_failed", "{result}");
        assert!(
            rejection_detail_codes(result).contains(&"insert_only".to_string()),
            "{result}"
        );
    }
    let stored = read_record(&api, &shop.owner, "transactions", &sale_id);
    assert_eq!(stored["status"], "completed", "{stored}");
    let (pages, _) = pull_to_end(&api, &shop.device_b, None, None);
    assert!(
        find_upserted(&pages, "stock_movements", &movement_id).is_some(),
        "the movement must survive the rejected delete: {pages:?}"
    );
}

#[test]
fn transaction_replay_is_duplicate() {
    let shop = sync_shop("inssaledup");
    let api = api();
    let (product_id, _) = rest_new_tracked_product(&api, &shop.owner, "Es Teh", 15000);
    let sale = cash_sale(&shop, &shop.device_a, &product_id);
    let sale_id = sale["id"].as_str().unwrap_or_default().to_string();
    let first = push_one(
        &api,
        &shop.device_a,
        create_mutation("transactions", &sale_id, sale.clone(), &hlc_now(shop.device_a.device())),
    );
    assert_status(&first, "applied");

    let replay = push_one(
        &api,
        &shop.device_a,
        create_mutation("transactions", &sale_id, sale, &hlc_now(shop.device_a.device())),
    );

    assert_status(&replay, "duplicate");
    assert_eq!(replay["version"], first["version"], "{replay}");
    let stored = read_record(&api, &shop.owner, "transactions", &sale_id);
    assert_eq!(int_field(&stored, "total"), 15000, "{stored}");
    assert_eq!(int_field(&stored, "version"), int_field(&first, "version"), "{stored}");
}
