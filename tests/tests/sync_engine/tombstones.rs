//! Tombstone retention: once a tombstone older than the tenant's retention is
//! purged, cursors from before it expire and a pull from the beginning no
//! longer mentions the record.

use std::thread;
use std::time::Duration;

use kasir_tests::fixtures::set_sync_settings;
use kasir_tests::hlc_now;
use serde_json::json;

use crate::{
    api, assert_status, current_cursor, delete_mutation, deleted_ids, pull, pull_to_end, push_new_customer, push_one,
    rest_new_product, sync_shop, upserted,
};

/// Wait after a delete: past the 1 second retention, with margin for a slow server.
const PAST_RETENTION: Duration = Duration::from_millis(2500);

/// Creates a customer over sync from device A, deletes it again and returns its id.
#[track_caller]
fn create_and_delete_customer(shop: &crate::SyncShop, name: &str) -> String {
    let api = api();
    let (id, created) = push_new_customer(&api, &shop.device_a, name);
    let removal = push_one(
        &api,
        &shop.device_a,
        delete_mutation("customers", &id, created, &hlc_now(shop.device_a.device())),
    );
    assert_status(&removal, "applied");
    id
}

#[test]
fn cursor_older_than_purged_tombstone_expires() {
    let shop = sync_shop("tombexpire");
    let api = api();
    set_sync_settings(&api, &shop.owner, json!({"tombstone_retention_seconds": 1}));
    let cursor = current_cursor(&api, &shop.device_b);
    create_and_delete_customer(&shop, "Pelanggan Sementara");
    thread::sleep(PAST_RETENTION);

    let response = pull(&api, &shop.device_b, Some(&cursor), None);

    response.expect_error(410, "cursor_expired");
}

#[test]
fn full_pull_after_purge_omits_purged_record() {
    let shop = sync_shop("tombfull");
    let api = api();
    set_sync_settings(&api, &shop.owner, json!({"tombstone_retention_seconds": 1}));
    // Records older than the tombstone, so pages of 2 end on cursors below it.
    let mut product_ids = Vec::new();
    for (name, price) in [
        ("Gula Pasir", 16000),
        ("Minyak Goreng", 18000),
        ("Beras 5 kg", 70000),
        ("Telur 1 kg", 28000),
    ] {
        product_ids.push(rest_new_product(&api, &shop.owner, name, price).0);
    }
    let purged_id = create_and_delete_customer(&shop, "Pelanggan Sementara");
    thread::sleep(PAST_RETENTION);

    let (pages, _) = pull_to_end(&api, &shop.device_b, None, Some(2));

    for page in &pages {
        assert!(
            !deleted_ids(page, "customers").contains(&purged_id),
            "purged customer {purged_id} pulled as deleted: {page}"
        );
        assert!(
            upserted(page, "customers")
                .iter()
                .all(|record| record["id"] != purged_id.as_str()),
            "purged customer {purged_id} pulled as upserted: {page}"
        );
    }
    let pulled_products: Vec<String> = pages
        .iter()
        .flat_map(|page| upserted(page, "products"))
        .map(|record| record["id"].as_str().unwrap_or_default().to_string())
        .collect();
    for id in &product_ids {
        assert!(
            pulled_products.contains(id),
            "product {id} missing from the full pull: {pages:?}"
        );
    }
}
