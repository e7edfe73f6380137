//! Field merge (the default for products): concurrent edits of disjoint fields
//! both survive, and a field both sides changed goes to the newer clock.

use kasir_tests::fixtures::hlc_shifted;
use kasir_tests::hlc_now;
use serde_json::{json, Value};

use crate::{
    api, assert_status, current_cursor, edit_mutation, find_upserted, int_field, pull_to_end, push, push_one,
    read_record, rest_new_product, results_of, sync_shop, MINUTE_MS,
};

#[test]
fn disjoint_field_edits_both_survive() {
    let shop = sync_shop("fmdisjoint");
    let api = api();
    let (id, base) = rest_new_product(&api, &shop.owner, "Kopi Susu", 22000);
    let cursor = current_cursor(&api, &shop.owner);

    let rename = push_one(
        &api,
        &shop.device_a,
        edit_mutation(
            "products",
            &id,
            base,
            json!({"name": "Kopi Susu Gula Aren"}),
            &hlc_now(shop.device_a.device()),
        ),
    );
    // Older than the rename: under last writer wins this edit would lose.
    let older_hlc = hlc_shifted(shop.device_b.device(), -MINUTE_MS);
    let reprice = push_one(
        &api,
        &shop.device_b,
        edit_mutation("products", &id, base, json!({"price": 24000}), &older_hlc),
    );

    assert_status(&rename, "applied");
    assert_status(&reprice, "applied");
    let (pages, _) = pull_to_end(&api, &shop.device_a, Some(&cursor), None);
    let pulled =
        find_upserted(&pages, "products", &id).unwrap_or_else(|| panic!("product {id} missing from {pages:?}"));
    assert_eq!(pulled["name"], "Kopi Susu Gula Aren", "{pulled}");
    assert_eq!(pulled["price"], json!(24000), "{pulled}");
    assert_eq!(pulled["version"], reprice["version"], "{pulled}");
    let stored = read_record(&api, &shop.owner, "products", &id);
    assert_eq!(stored["name"], "Kopi Susu Gula Aren", "{stored}");
    assert_eq!(stored["price"], json!(24000), "{stored}");
}

#[test]
fn overlapping_field_older_clock_is_merged() {
    let shop = sync_shop("fmolder");
    let api = api();
    let (id, base) = rest_new_product(&api, &shop.owner, "Teh Tarik", 12000);
    let winner = push_one(
        &api,
        &shop.device_a,
        edit_mutation(
            "products",
            &id,
            base,
            json!({"price": 15000}),
            &hlc_now(shop.device_a.device()),
        ),
    );
    assert_status(&winner, "applied");
    let current = int_field(&winner, "version");

    let older_hlc = hlc_shifted(shop.device_b.device(), -MINUTE_MS);
    let loser = push_one(
        &api,
        &shop.device_b,
        edit_mutation("products", &id, base, json!({"price": 13000}), &older_hlc),
    );

    assert_status(&loser, "merged");
    assert_eq!(
        int_field(&loser, "version"),
        current,
        "nothing changed, so no new version: {loser}"
    );
    let stored = read_record(&api, &shop.owner, "products", &id);
    assert_eq!(stored["price"], json!(15000), "{stored}");
    assert_eq!(int_field(&stored, "version"), current, "{stored}");
}

#[test]
fn overlapping_field_newer_clock_wins() {
    let shop = sync_shop("fmnewer");
    let api = api();
    let (id, base) = rest_new_product(&api, &shop.owner, "Es Jeruk", 10000);
    let older_hlc = hlc_shifted(shop.device_a.device(), -MINUTE_MS);
    let first = push_one(
        &api,
        &shop.device_a,
        edit_mutation("products", &id, base, json!({"price": 11000}), &older_hlc),
    );
    assert_status(&first, "applied");

    let second = push_one(
        &api,
        &shop.device_b,
        edit_mutation(
            "products",
            &id,
            base,
            json!({"price": 11500}),
            &hlc_now(shop.device_b.device()),
        ),
    );

    assert_status(&second, "applied");
    assert!(int_field(&second, "version") > int_field(&first, "version"), "{second}");
    let stored = read_record(&api, &shop.owner, "products", &id);
    assert_eq!(stored["price"], json!(11500), "{stored}");
    assert_eq!(stored["version"], second["version"], "{stored}");
}

#[test]
fn partly_stale_edit_keeps_its_disjoint_fields() {
    let shop = sync_shop("fmpartial");
    let api = api();
    let (id, base) = rest_new_product(&api, &shop.owner, "Roti Sobek", 18000);
    let winner = push_one(
        &api,
        &shop.device_a,
        edit_mutation(
            "products",
            &id,
            base,
            json!({"price": 19000}),
            &hlc_now(shop.device_a.device()),
        ),
    );
    assert_status(&winner, "applied");
    let current = int_field(&winner, "version");

    let older_hlc = hlc_shifted(shop.device_b.device(), -MINUTE_MS);
    let partial = push_one(
        &api,
        &shop.device_b,
        edit_mutation(
            "products",
            &id,
            base,
            json!({"price": 17000, "unit": "bungkus"}),
            &older_hlc,
        ),
    );

    assert_status(&partial, "merged");
    assert!(
        int_field(&partial, "version") > current,
        "the unit change needs a new version: {partial}"
    );
    let stored = read_record(&api, &shop.owner, "products", &id);
    assert_eq!(stored["price"], json!(19000), "{stored}");
    assert_eq!(stored["unit"], "bungkus", "{stored}");
    assert_eq!(stored["version"], partial["version"], "{stored}");
}

#[test]
fn own_merged_write_does_not_hide_newer_edit() {
    let shop = sync_shop("fmownmerge");
    let api = api();
    let (id, base) = rest_new_product(&api, &shop.owner, "Teh Manis", 8000);

    // Device A reprices on the current version.
    let reprice = push_one(
        &api,
        &shop.device_a,
        edit_mutation(
            "products",
            &id,
            base,
            json!({"price": 9000}),
            &hlc_now(shop.device_a.device()),
        ),
    );
    assert_status(&reprice, "applied");

    // Device B, still on the old base and with an older clock, renames and then reprices in
    // one push. Its rename merges over A's price, which B never saw, so B's own write must
    // not make its stale price look current.
    let older = hlc_shifted(shop.device_b.device(), -MINUTE_MS);
    let mutations = [
        edit_mutation("products", &id, base, json!({"name": "Teh Manis Dingin"}), &older),
        edit_mutation("products", &id, base, json!({"price": 7000}), &older),
    ];
    let response = crate::push(&api, &shop.device_b, &mutations);
    let results = crate::results_of(&response, &mutations);
    assert_status(&results[0], "applied");
    assert_status(&results[1], "merged");

    let product = read_record(&api, &shop.owner, "products", &id);
    assert_eq!(product["name"], json!("Teh Manis Dingin"));
    assert_eq!(int_field(&product, "price"), 9000);
}

/// Pushes device A's three edits of a product, all from `base`, after device B repriced
/// it. With `together` they go in one push, otherwise in one push each. Returns the
/// statuses and the stored record.
fn edit_three_times(shop: &crate::SyncShop, name: &str, together: bool) -> (Vec<Value>, Value) {
    let api = api();
    let (id, base) = rest_new_product(&api, &shop.owner, name, 20000);
    let repriced = push_one(
        &api,
        &shop.device_b,
        edit_mutation(
            "products",
            &id,
            base,
            json!({"price": 21000}),
            &hlc_shifted(shop.device_b.device(), -MINUTE_MS),
        ),
    );
    assert_status(&repriced, "applied");

    let device = shop.device_a.device();
    let edits = [
        edit_mutation(
            "products",
            &id,
            base,
            json!({"name": format!("{name} Baru")}),
            &hlc_now(device),
        ),
        edit_mutation("products", &id, base, json!({"price": 23000}), &hlc_shifted(device, 1)),
        edit_mutation(
            "products",
            &id,
            base,
            json!({"is_active": false}),
            &hlc_shifted(device, 2),
        ),
    ];
    let results: Vec<Value> = if together {
        let response = push(&api, &shop.device_a, &edits);
        results_of(&response, &edits)
    } else {
        edits
            .iter()
            .map(|edit| push_one(&api, &shop.device_a, edit.clone()))
            .collect()
    };
    let statuses = results.iter().map(|result| result["status"].clone()).collect();
    let versions: Vec<i64> = results.iter().map(|result| int_field(result, "version")).collect();
    assert!(
        versions.windows(2).all(|pair| pair[0] < pair[1]),
        "versions not increasing: {results:?}"
    );
    (statuses, read_record(&api, &shop.owner, "products", &id))
}

#[test]
fn repeated_record_in_one_push_matches_separate_pushes() {
    let shop = sync_shop("fmrepeat");
    let (together_statuses, together) = edit_three_times(&shop, "Roti Sobek", true);
    let (apart_statuses, apart) = edit_three_times(&shop, "Roti Sobek", false);

    assert_eq!(together_statuses, apart_statuses);
    assert_eq!(together["name"], "Roti Sobek Baru", "{together}");
    assert_eq!(together["price"], json!(23000), "{together}");
    assert_eq!(together["is_active"], json!(false), "{together}");
    for field in ["name", "price", "is_active"] {
        assert_eq!(together[field], apart[field], "field {field}: {together} vs {apart}");
    }
}
