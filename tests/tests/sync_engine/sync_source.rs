//! `sync_source` records where a row's last change came from: pushes carry
//! `mobile` unless they set `sync_source` to `web`, and REST writes carry `web`.

use kasir_tests::{hlc_now, new_id};
use serde_json::json;

use crate::{
    api, assert_status, create_mutation, find_upserted, pull_to_end, push_one, read_record, rest_new_product, sync_shop,
};

#[test]
fn pushed_rows_carry_their_sync_source() {
    let shop = sync_shop("srcpush");
    let api = api();
    let mobile_id = new_id();
    let web_id = new_id();
    let mobile = create_mutation(
        "products",
        &mobile_id,
        json!({"name": "Dari Tablet", "price": 7000}),
        &hlc_now(shop.device_a.device()),
    );
    let mut web = create_mutation(
        "products",
        &web_id,
        json!({"name": "Dari Peramban", "price": 8000}),
        &hlc_now(shop.device_a.device()),
    );
    web["sync_source"] = json!("web");

    assert_status(&push_one(&api, &shop.device_a, mobile), "applied");
    assert_status(&push_one(&api, &shop.device_a, web), "applied");

    let (pages, _) = pull_to_end(&api, &shop.device_b, None, None);
    for (id, source) in [(&mobile_id, "mobile"), (&web_id, "web")] {
        let stored = read_record(&api, &shop.owner, "products", id);
        assert_eq!(stored["sync_source"], source, "{stored}");
        let pulled =
            find_upserted(&pages, "products", id).unwrap_or_else(|| panic!("product {id} missing from {pages:?}"));
        assert_eq!(pulled["sync_source"], source, "{pulled}");
    }
}

#[test]
fn rest_writes_carry_web_source() {
    let shop = sync_shop("srcrest");
    let api = api();
    let (created_id, _) = rest_new_product(&api, &shop.owner, "Dibuat di Web", 9000);
    let pushed_id = new_id();
    let pushed = push_one(
        &api,
        &shop.device_a,
        create_mutation(
            "products",
            &pushed_id,
            json!({"name": "Dibuat di Tablet", "price": 9500}),
            &hlc_now(shop.device_a.device()),
        ),
    );
    assert_status(&pushed, "applied");
    assert_eq!(
        read_record(&api, &shop.owner, "products", &pushed_id)["sync_source"],
        "mobile"
    );

    api.patch(&format!("/v1/products/{pushed_id}"))
        .bearer(&shop.owner.access_token)
        .json(&json!({"price": 9900}))
        .expect_status(200);

    for id in [&created_id, &pushed_id] {
        let stored = read_record(&api, &shop.owner, "products", id);
        assert_eq!(stored["sync_source"], "web", "{stored}");
    }
}
