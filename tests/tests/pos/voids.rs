//! Voids: a new record that points at the sale, the sale's status, stock moved back, and who
//! may void which sale.

use std::thread;

use kasir_tests::{ApiResponse, Session};
use serde_json::{json, Value};

use crate::{api, cash, int_field, line, pos_shop, string_field, PosShop};

/// Opens a shift for `session` at the default outlet and returns its id.
#[track_caller]
fn open_shift(shop: &PosShop, session: &Session) -> String {
    let response = api()
        .post("/v1/shifts")
        .bearer(&session.access_token)
        .json(&json!({"outlet_id": shop.outlet_id(), "opening_float": 200_000}));
    assert_ne!(
        response.status, 404,
        "POST /v1/shifts is not routed (HTTP 404): {}",
        response.text
    );
    response.expect_status(201);
    response.str_field("id")
}

fn void(session: &Session, sale_id: &str, reason: &str) -> ApiResponse {
    api()
        .post(&format!("/v1/transactions/{sale_id}/void"))
        .bearer(&session.access_token)
        .json(&json!({"reason": reason}))
}

/// Sells 2 of `product_id` at 10000 as `session`, in `shift_id` when given.
#[track_caller]
fn sell_two(shop: &PosShop, session: &Session, product_id: &str, shift_id: Option<&str>) -> Value {
    let mut body = shop.sale_body(session, json!([line(product_id, json!(2), 10_000)]), cash(20_000));
    if let Some(shift_id) = shift_id {
        body["shift_id"] = json!(shift_id);
    }
    shop.sell(session, &body)
}

#[test]
fn owner_voids_any_sale() {
    let shop = pos_shop("voidown");
    let noodles = shop.tracked_product("Mi Instan", 3_500, None);
    let bag = shop.product("Kantong Plastik", 500);
    shop.purchase(&noodles, shop.outlet_id(), json!(10));
    let body = shop.sale_body(
        &shop.kasir,
        json!([line(&noodles, json!(3), 3_500), line(&bag, json!(1), 500)]),
        cash(11_000),
    );
    let sale = shop.sell(&shop.kasir, &body);
    let sale_id = string_field(&sale, "id");
    assert_eq!(shop.level(&noodles, shop.outlet_id()), Some(json!(7)));

    let response = void(&shop.owner, &sale_id, "Salah input harga");

    response.expect_status(201);
    let record = &response.json;
    let void_id = string_field(record, "id");
    assert_ne!(void_id, sale_id, "the void reuses the sale's id");
    assert_eq!(record["transaction_id"], json!(sale_id), "{record}");
    assert_eq!(record["kind"], json!("void"), "{record}");
    assert_eq!(int_field(record, "total"), 11_000);
    assert_eq!(record["reason"], json!("Salah input harga"), "{record}");

    let stored = shop.stored_sale(&sale_id);
    assert_eq!(stored["status"], json!("voided"), "{stored}");
    assert!(int_field(&stored, "version") > int_field(&sale, "version"), "{stored}");
    assert_eq!(int_field(&stored, "total"), 11_000, "voiding changed the figures");

    let void_movements = shop.movements(&[("ref_id", &void_id)]);
    assert_eq!(void_movements.len(), 1, "{void_movements:?}");
    assert_eq!(void_movements[0]["kind"], json!("void"));
    assert_eq!(void_movements[0]["product_id"], json!(noodles));
    assert_eq!(void_movements[0]["outlet_id"], json!(shop.outlet_id()));
    assert_eq!(void_movements[0]["qty"], json!(3));
    assert_eq!(shop.level(&noodles, shop.outlet_id()), Some(json!(10)));
    assert!(
        shop.movements(&[("product_id", &bag)]).is_empty(),
        "an untracked product got movements"
    );

    let returns = api()
        .get(&format!("/v1/transactions/{sale_id}/refunds"))
        .bearer(&shop.owner.access_token)
        .send();
    returns.expect_status(200);
    let listed = returns.items();
    assert_eq!(listed.len(), 1, "{}", returns.text);
    assert_eq!(listed[0]["id"], json!(void_id));

    let voided = api()
        .get("/v1/transactions")
        .bearer(&shop.owner.access_token)
        .query("status", "voided")
        .send();
    voided.expect_status(200);
    assert_eq!(voided.items().len(), 1, "{}", voided.text);
}

#[test]
fn second_void_conflicts() {
    let shop = pos_shop("voidtwice");
    let noodles = shop.tracked_product("Mi Instan", 10_000, None);
    let sale_id = string_field(&sell_two(&shop, &shop.kasir, &noodles, None), "id");
    void(&shop.owner, &sale_id, "Pembeli batal").expect_status(201);

    let again = void(&shop.owner, &sale_id, "Pembeli batal");

    again.expect_error(409, "conflict");
    let void_movements = shop.movements(&[("product_id", &noodles), ("kind", "void")]);
    assert_eq!(void_movements.len(), 1, "stock moved back twice: {void_movements:?}");
    assert_eq!(shop.level(&noodles, shop.outlet_id()), Some(json!(0)));
}

#[test]
fn parallel_voids_void_once() {
    let shop = pos_shop("voidrace");
    let noodles = shop.tracked_product("Mi Instan", 10_000, None);
    let sale_id = string_field(&sell_two(&shop, &shop.kasir, &noodles, None), "id");

    let responses: Vec<ApiResponse> = thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| void(&shop.owner, &sale_id, "Pembeli batal")))
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("void thread panicked"))
            .collect()
    });

    let statuses: Vec<u16> = responses.iter().map(|response| response.status).collect();
    assert_eq!(
        statuses.iter().filter(|status| **status == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|status| **status == 409).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(shop.movements(&[("kind", "void")]).len(), 1);
    assert_eq!(shop.level(&noodles, shop.outlet_id()), Some(json!(0)));
}

#[test]
fn void_needs_reason() {
    let shop = pos_shop("voidwhy");
    let coffee = shop.product("Kopi Susu", 10_000);
    let sale_id = string_field(&sell_two(&shop, &shop.kasir, &coffee, None), "id");

    let response = api()
        .post(&format!("/v1/transactions/{sale_id}/void"))
        .bearer(&shop.owner.access_token)
        .json(&json!({}));

    response.expect_error(422, "validation_failed");
    assert!(
        response.detail_codes().contains(&"required".to_string()),
        "{}",
        response.text
    );
    assert_eq!(shop.stored_sale(&sale_id)["status"], json!("completed"));
}

#[test]
fn kasir_voids_own_sale_in_open_shift() {
    let shop = pos_shop("voidkas");
    let noodles = shop.tracked_product("Mi Instan", 10_000, None);
    let shift_id = open_shift(&shop, &shop.kasir);
    let sale_id = string_field(&sell_two(&shop, &shop.kasir, &noodles, Some(&shift_id)), "id");

    let response = void(&shop.kasir, &sale_id, "Salah scan");

    response.expect_status(201);
    assert_eq!(response.json["transaction_id"], json!(sale_id));
    assert_eq!(shop.stored_sale(&sale_id)["status"], json!("voided"));
    assert_eq!(shop.level(&noodles, shop.outlet_id()), Some(json!(0)));
}

#[test]
fn kasir_cannot_void_outside_its_shift() {
    let shop = pos_shop("voidkshf");
    let coffee = shop.product("Kopi Susu", 10_000);
    let before_shift = string_field(&sell_two(&shop, &shop.kasir, &coffee, None), "id");

    let without_shift = void(&shop.kasir, &before_shift, "Salah scan");
    let shift_id = open_shift(&shop, &shop.kasir);
    let outside_shift = void(&shop.kasir, &before_shift, "Salah scan");

    without_shift.expect_error(403, "forbidden");
    outside_shift.expect_error(403, "forbidden");
    assert_eq!(shop.stored_sale(&before_shift)["status"], json!("completed"));

    // A sale carrying another user's shift id is outside the kasir's shift too.
    let other_shift = open_shift(&shop, &shop.owner);
    let in_other_shift = string_field(&sell_two(&shop, &shop.kasir, &coffee, Some(&other_shift)), "id");
    void(&shop.kasir, &in_other_shift, "Salah scan").expect_error(403, "forbidden");
    let in_own_shift = string_field(&sell_two(&shop, &shop.kasir, &coffee, Some(&shift_id)), "id");
    void(&shop.kasir, &in_own_shift, "Salah scan").expect_status(201);
}

#[test]
fn kasir_cannot_void_another_kasirs_sale() {
    let shop = pos_shop("voidkoth");
    let coffee = shop.product("Kopi Susu", 10_000);
    let other_kasir = shop.new_user("kasir", "Tablet Dua");
    let shift_id = open_shift(&shop, &shop.kasir);
    open_shift(&shop, &other_kasir);
    let sale_id = string_field(&sell_two(&shop, &shop.kasir, &coffee, Some(&shift_id)), "id");

    let response = void(&other_kasir, &sale_id, "Salah scan");

    response.expect_error(404, "not_found");
    assert_eq!(shop.stored_sale(&sale_id)["status"], json!("completed"));
}
