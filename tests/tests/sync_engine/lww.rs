//! Last writer wins (the default for customers): concurrent edits go by hybrid
//! logical clock, an edit on the current version applies whatever its clock,
//! and a clock far ahead of the server is clamped.

use std::thread;
use std::time::Duration;

use kasir_tests::fixtures::hlc_shifted;
use kasir_tests::hlc_now;
use serde_json::json;

use crate::{
    api, assert_status, edit_mutation, int_field, push_new_customer, push_one, read_record, sync_shop, MINUTE_MS,
};

#[test]
fn stale_concurrent_edit_changes_nothing() {
    let shop = sync_shop("lwwstale");
    let api = api();
    let (id, created) = push_new_customer(&api, &shop.device_a, "Budi Santoso");
    let newer = push_one(
        &api,
        &shop.device_a,
        edit_mutation(
            "customers",
            &id,
            created,
            json!({"name": "Budi dari A"}),
            &hlc_now(shop.device_a.device()),
        ),
    );
    assert_status(&newer, "applied");
    let current = int_field(&newer, "version");

    let stale_hlc = hlc_shifted(shop.device_b.device(), -MINUTE_MS);
    let stale = push_one(
        &api,
        &shop.device_b,
        edit_mutation("customers", &id, created, json!({"name": "Budi dari B"}), &stale_hlc),
    );

    assert_status(&stale, "merged");
    assert_eq!(
        int_field(&stale, "version"),
        current,
        "a stale edit must not bump the version: {stale}"
    );
    let stored = read_record(&api, &shop.owner, "customers", &id);
    assert_eq!(stored["name"], "Budi dari A", "{stored}");
    assert_eq!(int_field(&stored, "version"), current, "{stored}");
}

#[test]
fn newer_concurrent_edit_applies() {
    let shop = sync_shop("lwwnewer");
    let api = api();
    let (id, created) = push_new_customer(&api, &shop.device_a, "Siti Aminah");
    let first = push_one(
        &api,
        &shop.device_a,
        edit_mutation(
            "customers",
            &id,
            created,
            json!({"name": "Siti dari A"}),
            &hlc_now(shop.device_a.device()),
        ),
    );
    assert_status(&first, "applied");
    let after_first = int_field(&first, "version");

    // One minute ahead stays inside the 5 minutes a client clock may lead the server.
    let newer_hlc = hlc_shifted(shop.device_b.device(), MINUTE_MS);
    let second = push_one(
        &api,
        &shop.device_b,
        edit_mutation("customers", &id, created, json!({"name": "Siti dari B"}), &newer_hlc),
    );

    assert_status(&second, "applied");
    assert!(int_field(&second, "version") > after_first, "{second}");
    let stored = read_record(&api, &shop.owner, "customers", &id);
    assert_eq!(stored["name"], "Siti dari B", "{stored}");
    assert_eq!(stored["version"], second["version"], "{stored}");
}

#[test]
fn edit_on_current_version_ignores_slow_clock() {
    let shop = sync_shop("lwwslow");
    let api = api();
    let (id, created) = push_new_customer(&api, &shop.device_a, "Agus Salim");
    let first = push_one(
        &api,
        &shop.device_a,
        edit_mutation(
            "customers",
            &id,
            created,
            json!({"phone": "0813-1111-1111"}),
            &hlc_now(shop.device_a.device()),
        ),
    );
    assert_status(&first, "applied");
    let current = int_field(&first, "version");

    let hour_behind = hlc_shifted(shop.device_b.device(), -60 * MINUTE_MS);
    let edit = push_one(
        &api,
        &shop.device_b,
        edit_mutation(
            "customers",
            &id,
            current,
            json!({"phone": "0813-2222-2222"}),
            &hour_behind,
        ),
    );

    assert_status(&edit, "applied");
    assert!(int_field(&edit, "version") > current, "{edit}");
    let stored = read_record(&api, &shop.owner, "customers", &id);
    assert_eq!(stored["phone"], "0813-2222-2222", "{stored}");
    assert_eq!(stored["version"], edit["version"], "{stored}");
}

#[test]
fn far_future_clock_is_clamped_to_server_time() {
    let shop = sync_shop("lwwclamp");
    let api = api();
    let (id, created) = push_new_customer(&api, &shop.device_a, "Rina Wijaya");
    let day_ahead = hlc_shifted(shop.device_a.device(), 24 * 60 * MINUTE_MS);
    let future = push_one(
        &api,
        &shop.device_a,
        edit_mutation(
            "customers",
            &id,
            created,
            json!({"name": "Rina dari masa depan"}),
            &day_ahead,
        ),
    );
    assert_status(&future, "applied");
    thread::sleep(Duration::from_millis(50));

    // Concurrent with the future edit (same base), stamped now: it wins only if the
    // server stored the clamped clock rather than the clock a day ahead.
    let now_hlc = hlc_now(shop.device_b.device());
    let concurrent = push_one(
        &api,
        &shop.device_b,
        edit_mutation("customers", &id, created, json!({"name": "Rina dari B"}), &now_hlc),
    );

    assert_status(&concurrent, "applied");
    let stored = read_record(&api, &shop.owner, "customers", &id);
    assert_eq!(stored["name"], "Rina dari B", "{stored}");
}

#[test]
fn edit_after_far_future_clock_applies() {
    let shop = sync_shop("lwwafter");
    let api = api();
    let (id, created) = push_new_customer(&api, &shop.device_a, "Dewi Lestari");
    let day_ahead = hlc_shifted(shop.device_a.device(), 24 * 60 * MINUTE_MS);
    let future = push_one(
        &api,
        &shop.device_a,
        edit_mutation(
            "customers",
            &id,
            created,
            json!({"note": "dari masa depan"}),
            &day_ahead,
        ),
    );
    assert_status(&future, "applied");
    let current = int_field(&future, "version");

    let edit = push_one(
        &api,
        &shop.device_b,
        edit_mutation(
            "customers",
            &id,
            current,
            json!({"note": "pelanggan tetap"}),
            &hlc_now(shop.device_b.device()),
        ),
    );

    assert_status(&edit, "applied");
    assert!(int_field(&edit, "version") > current, "{edit}");
    let stored = read_record(&api, &shop.owner, "customers", &id);
    assert_eq!(stored["note"], "pelanggan tetap", "{stored}");
}
