//! Deletes meeting edits: what a stale edit, an echoed create or a stale delete
//! does under last writer wins and under the manual strategy, and what a pull
//! carries for a record created and deleted between two pulls.

use kasir_tests::fixtures::{hlc_shifted, set_sync_settings};
use kasir_tests::hlc_now;
use serde_json::{json, Value};

use crate::{
    api, assert_status, create_mutation, current_cursor, delete_mutation, deleted_ids, edit_mutation, get_record,
    int_field, pull_to_end, push, push_new_customer, push_one, read_record, rest_new_product, results_of, sync_shop,
    upserted, MINUTE_MS,
};

#[test]
fn stale_edit_of_deleted_record_stays_deleted() {
    let shop = sync_shop("delstaleedit");
    let api = api();
    let (id, created) = push_new_customer(&api, &shop.device_a, "Hendra Gunawan");
    let removal = push_one(
        &api,
        &shop.device_a,
        delete_mutation("customers", &id, created, &hlc_now(shop.device_a.device())),
    );
    assert_status(&removal, "applied");

    let older_hlc = hlc_shifted(shop.device_b.device(), -MINUTE_MS);
    let edit = push_one(
        &api,
        &shop.device_b,
        edit_mutation("customers", &id, created, json!({"name": "Hendra G."}), &older_hlc),
    );

    assert_status(&edit, "merged");
    assert_eq!(
        edit["version"], removal["version"],
        "a lost edit must not bump the version: {edit}"
    );
    get_record(&api, &shop.owner, "customers", &id).expect_error(404, "not_found");
    let (pages, _) = pull_to_end(&api, &shop.device_b, None, None);
    let deleted: Vec<String> = pages.iter().flat_map(|page| deleted_ids(page, "customers")).collect();
    assert!(deleted.contains(&id), "customer {id} should pull as deleted: {pages:?}");
    assert!(
        pages
            .iter()
            .flat_map(|page| upserted(page, "customers"))
            .all(|record| record["id"] != id.as_str()),
        "customer {id} must not pull as upserted: {pages:?}"
    );
}

#[test]
fn echoed_create_never_resurrects_deleted_record() {
    let shop = sync_shop("delecho");
    let api = api();
    let (id, _) = push_new_customer(&api, &shop.device_a, "Wulan Sari");
    api.delete(&format!("/v1/customers/{id}"))
        .bearer(&shop.owner.access_token)
        .send()
        .expect_status(204);

    // The device resends its create (no base_version) with a clock newer than the delete.
    let newer_hlc = hlc_shifted(shop.device_a.device(), MINUTE_MS);
    let echo = push_one(
        &api,
        &shop.device_a,
        create_mutation(
            "customers",
            &id,
            json!({"name": "Wulan Sari", "phone": "0812-0000-0000"}),
            &newer_hlc,
        ),
    );

    assert_ne!(
        echo["status"], "applied",
        "an echoed create must not take effect: {echo}"
    );
    assert_status(&echo, "merged");
    get_record(&api, &shop.owner, "customers", &id).expect_error(404, "not_found");
}

#[test]
fn stale_delete_of_edited_record_is_merged() {
    let shop = sync_shop("delstaledel");
    let api = api();
    let (id, created) = push_new_customer(&api, &shop.device_a, "Yusuf Hidayat");
    let edit = push_one(
        &api,
        &shop.device_a,
        edit_mutation(
            "customers",
            &id,
            created,
            json!({"name": "Yusuf H."}),
            &hlc_now(shop.device_a.device()),
        ),
    );
    assert_status(&edit, "applied");
    let current = int_field(&edit, "version");

    let older_hlc = hlc_shifted(shop.device_b.device(), -MINUTE_MS);
    let removal = push_one(
        &api,
        &shop.device_b,
        delete_mutation("customers", &id, created, &older_hlc),
    );

    // The record stays, so the delete did not take effect as sent.
    let stored = read_record(&api, &shop.owner, "customers", &id);
    assert_eq!(stored["name"], "Yusuf H.", "{stored}");
    assert_eq!(int_field(&stored, "version"), current, "{stored}");
    assert_eq!(int_field(&removal, "version"), current, "{removal}");
    assert_status(&removal, "merged");
}

#[test]
fn stale_delete_under_manual_is_conflict() {
    let shop = sync_shop("delmandel");
    let api = api();
    set_sync_settings(&api, &shop.owner, json!({"strategies": {"customers": "manual"}}));
    let (id, created) = push_new_customer(&api, &shop.device_a, "Lina Marlina");
    let edit = push_one(
        &api,
        &shop.device_a,
        edit_mutation(
            "customers",
            &id,
            created,
            json!({"note": "langganan"}),
            &hlc_now(shop.device_a.device()),
        ),
    );
    assert_status(&edit, "applied");

    let removal = push_one(
        &api,
        &shop.device_b,
        delete_mutation("customers", &id, created, &hlc_now(shop.device_b.device())),
    );

    assert_status(&removal, "conflict");
    assert!(removal["conflict_id"].is_string(), "{removal}");
    let stored = read_record(&api, &shop.owner, "customers", &id);
    assert_eq!(stored["note"], "langganan", "{stored}");
    assert_eq!(stored["version"], edit["version"], "{stored}");
}

#[test]
fn edit_of_deleted_record_under_manual_is_conflict() {
    let shop = sync_shop("delmanedit");
    let api = api();
    set_sync_settings(&api, &shop.owner, json!({"strategies": {"customers": "manual"}}));
    let (id, created) = push_new_customer(&api, &shop.device_a, "Bayu Pratama");
    let removal = push_one(
        &api,
        &shop.device_a,
        delete_mutation("customers", &id, created, &hlc_now(shop.device_a.device())),
    );
    assert_status(&removal, "applied");

    let edit = push_one(
        &api,
        &shop.device_b,
        edit_mutation(
            "customers",
            &id,
            created,
            json!({"name": "Bayu P."}),
            &hlc_now(shop.device_b.device()),
        ),
    );

    assert_status(&edit, "conflict");
    assert!(edit["conflict_id"].is_string(), "{edit}");
    get_record(&api, &shop.owner, "customers", &id).expect_error(404, "not_found");
}

#[test]
fn create_then_delete_pulls_only_id() {
    let shop = sync_shop("delbetween");
    let api = api();
    let cursor = current_cursor(&api, &shop.device_b);
    let (id, created) = push_new_customer(&api, &shop.device_a, "Tono Sugiarto");
    let removal = push_one(
        &api,
        &shop.device_a,
        delete_mutation("customers", &id, created, &hlc_now(shop.device_a.device())),
    );
    assert_status(&removal, "applied");

    let (pages, _) = pull_to_end(&api, &shop.device_b, Some(&cursor), None);

    let deleted: Vec<String> = pages.iter().flat_map(|page| deleted_ids(page, "customers")).collect();
    assert_eq!(deleted, vec![id.clone()], "{pages:?}");
    for page in &pages {
        let Some(changes) = page["changes"].as_object() else {
            panic!("pull page without changes: {page}");
        };
        for entity in changes.keys() {
            assert!(
                upserted(page, entity).iter().all(|record| record["id"] != id.as_str()),
                "customer {id} must not pull as an upserted {entity} record: {page}"
            );
        }
    }
}

/// Pushes `mutations` as device A, in one push when `together` is set and otherwise one
/// push each, and returns the statuses of the results in order.
fn push_statuses(shop: &crate::SyncShop, mutations: &[Value], together: bool) -> Vec<Value> {
    let api = api();
    let results: Vec<Value> = if together {
        let response = push(&api, &shop.device_a, mutations);
        results_of(&response, mutations)
    } else {
        mutations
            .iter()
            .map(|mutation| push_one(&api, &shop.device_a, mutation.clone()))
            .collect()
    };
    results.iter().map(|result| result["status"].clone()).collect()
}

/// Deletes a product and then edits it from the version held before the delete, and
/// returns the statuses and the HTTP status of reading the product afterwards.
fn delete_then_edit(shop: &crate::SyncShop, together: bool) -> (Vec<Value>, u16) {
    let api = api();
    let (id, base) = rest_new_product(&api, &shop.owner, "Bolu Pandan", 18000);
    let device = shop.device_a.device();
    let mutations = [
        delete_mutation("products", &id, base, &hlc_now(device)),
        edit_mutation("products", &id, base, json!({"price": 19000}), &hlc_shifted(device, 1)),
    ];
    let statuses = push_statuses(shop, &mutations, together);
    (statuses, get_record(&api, &shop.owner, "products", &id).status)
}

#[test]
fn delete_then_edit_push_matches_apart() {
    let shop = sync_shop("delrepeat");
    let (together, together_read) = delete_then_edit(&shop, true);
    let (apart, apart_read) = delete_then_edit(&shop, false);

    assert_eq!(together, apart);
    assert_eq!(together_read, apart_read, "statuses {together:?}");
    assert_eq!(together[0], "applied", "{together:?}");
}

/// Deletes a category and then creates a product in it, and returns the statuses.
fn delete_category_then_reference(shop: &crate::SyncShop, together: bool) -> Vec<Value> {
    let api = api();
    let device = shop.device_a.device();
    let category_id = uuid::Uuid::new_v4().to_string();
    let created = push_one(
        &api,
        &shop.device_a,
        create_mutation(
            "categories",
            &category_id,
            json!({"name": "Kue Basah"}),
            &hlc_now(device),
        ),
    );
    assert_status(&created, "applied");
    let base = int_field(&created, "version");

    let product_id = uuid::Uuid::new_v4().to_string();
    let mutations = [
        delete_mutation("categories", &category_id, base, &hlc_shifted(device, 1)),
        create_mutation(
            "products",
            &product_id,
            json!({"name": "Klepon", "price": 2000, "category_id": category_id}),
            &hlc_shifted(device, 2),
        ),
    ];
    push_statuses(shop, &mutations, together)
}

#[test]
fn reference_to_deleted_category_rejected() {
    let shop = sync_shop("delref");
    let together = delete_category_then_reference(&shop, true);
    let apart = delete_category_then_reference(&shop, false);

    assert_eq!(together, apart);
    assert_eq!(together[0], "applied", "{together:?}");
    assert_eq!(together[1], "rejected", "{together:?}");
}
