//! Refunds: the money rule, the sale's status, replays, stock moved back and who may refund.
//!
//! A refund of q of a line's n units is worth q/n of that line's share of the sale total. The
//! share is the line amount less its pro-rata part of the sale discount, plus its part of the
//! tax when prices exclude tax, rounded half up.

use std::thread;

use kasir_tests::fixtures::set_tax_settings;
use kasir_tests::{new_id, ApiResponse, Session};
use serde_json::{json, Value};

use crate::{api, cash, detail_with_code, int_field, line, pos_shop, string_field, PosShop};

fn post_refund(session: &Session, sale_id: &str, body: &Value) -> ApiResponse {
    api()
        .post(&format!("/v1/transactions/{sale_id}/refunds"))
        .bearer(&session.access_token)
        .json(body)
}

fn refund_body(items: Value) -> Value {
    json!({"id": new_id(), "items": items, "reason": "Barang rusak"})
}

fn refund_item(product_id: &str, qty: Value) -> Value {
    json!({"product_id": product_id, "qty": qty})
}

/// A shop selling 2 tracked coffees at 15000 and 1 untracked bread at 10000, with 4000 off the
/// sale: subtotal 40000, total 36000, tax off.
struct DiscountedSale {
    shop: PosShop,
    coffee: String,
    bread: String,
    sale: Value,
}

fn discounted_sale(code_prefix: &str) -> DiscountedSale {
    let shop = pos_shop(code_prefix);
    let coffee = shop.tracked_product("Kopi Sachet", 15_000, None);
    let bread = shop.product("Roti Tawar", 10_000);
    shop.purchase(&coffee, shop.outlet_id(), json!(5));
    let mut body = shop.sale_body(
        &shop.kasir,
        json!([line(&coffee, json!(2), 15_000), line(&bread, json!(1), 10_000)]),
        cash(36_000),
    );
    body["discount"] = json!(4_000);
    let sale = shop.sell(&shop.kasir, &body);
    assert_eq!(int_field(&sale, "total"), 36_000, "{sale}");
    DiscountedSale {
        shop,
        coffee,
        bread,
        sale,
    }
}

#[test]
fn partial_refund_then_rest() {
    let setup = discounted_sale("refpart");
    let shop = &setup.shop;
    let sale_id = string_field(&setup.sale, "id");

    // Coffee's share of the total is 30000 × 36000 / 40000 = 27000, so one of two is 13500.
    let first_body = refund_body(json!([refund_item(&setup.coffee, json!(1))]));
    let first = post_refund(&shop.owner, &sale_id, &first_body);

    first.expect_status(201);
    assert_eq!(first.json["id"], first_body["id"], "{}", first.text);
    assert_eq!(first.json["transaction_id"], json!(sale_id), "{}", first.text);
    assert_eq!(int_field(&first.json, "total"), 13_500);
    assert_eq!(first.json["items"][0]["qty"], json!(1), "{}", first.text);
    assert_eq!(first.json["items"][0]["amount"], json!(13_500), "{}", first.text);
    let stored = shop.stored_sale(&sale_id);
    assert_eq!(stored["status"], json!("partially_refunded"), "{stored}");
    assert!(int_field(&stored, "version") > int_field(&setup.sale, "version"));
    assert_eq!(
        int_field(&stored, "total"),
        36_000,
        "the refund changed the sale's figures"
    );

    // The other coffee is 13500 again, and the bread's share is 10000 × 36000 / 40000 = 9000.
    let rest = post_refund(
        &shop.owner,
        &sale_id,
        &refund_body(json!([
            refund_item(&setup.coffee, json!(1)),
            refund_item(&setup.bread, json!(1))
        ])),
    );

    rest.expect_status(201);
    assert_eq!(int_field(&rest.json, "total"), 22_500);
    assert_eq!(
        rest.json["method"],
        json!("cash"),
        "a refund without a method is not cash: {}",
        rest.text
    );
    assert_eq!(shop.stored_sale(&sale_id)["status"], json!("refunded"));

    let listed = api()
        .get(&format!("/v1/transactions/{sale_id}/refunds"))
        .bearer(&shop.owner.access_token)
        .send();
    listed.expect_status(200);
    let totals: i64 = listed.items().iter().map(|refund| int_field(refund, "total")).sum();
    assert_eq!(
        totals, 36_000,
        "refunds of the whole sale differ from its total: {}",
        listed.text
    );
}

#[test]
fn refund_shares_discount_and_tax() {
    let shop = pos_shop("reftax");
    let soap = shop.product("Sabun Mandi", 10_000);
    let tea = shop.product("Teh Celup", 5_000);
    set_tax_settings(&api(), &shop.owner, json!({"enabled": true}));
    let mut body = shop.sale_body(
        &shop.kasir,
        json!([line(&soap, json!(3), 10_000), line(&tea, json!(2), 5_000)]),
        cash(43_290),
    );
    body["discount"] = json!(1_000);
    let sale = shop.sell(&shop.kasir, &body);
    let sale_id = string_field(&sale, "id");
    // The subtotal is 30000 + 10000 = 40000 and 39000 after the discount. Tax at 11 % is 4290,
    // so the total is 43290.
    assert_eq!(int_field(&sale, "subtotal"), 40_000);
    assert_eq!(int_field(&sale, "tax"), 4_290);
    assert_eq!(int_field(&sale, "total"), 43_290);

    // Soap's share: 30000 − 1000 × 30000/40000 = 29250, plus 4290 × 30000/40000 = 3217.5 of the
    // tax, so 32467.5. One of three soaps is 10822.5, which rounds half up to 10823.
    let one_soap = post_refund(
        &shop.owner,
        &sale_id,
        &refund_body(json!([refund_item(&soap, json!(1))])),
    );

    one_soap.expect_status(201);
    assert_eq!(int_field(&one_soap.json, "total"), 10_823, "{}", one_soap.text);
    assert_eq!(shop.stored_sale(&sale_id)["status"], json!("partially_refunded"));

    // The rest of the sale returns the rest of its total: 43290 − 10823 = 32467.
    let rest = post_refund(
        &shop.owner,
        &sale_id,
        &refund_body(json!([refund_item(&soap, json!(2)), refund_item(&tea, json!(2))])),
    );

    rest.expect_status(201);
    assert_eq!(int_field(&rest.json, "total"), 32_467, "{}", rest.text);
    assert_eq!(shop.stored_sale(&sale_id)["status"], json!("refunded"));
}

#[test]
fn refund_of_weighed_goods_is_proportional() {
    let shop = pos_shop("refkg");
    let sugar = shop.tracked_product("Gula Pasir (kg)", 18_000, None);
    let body = shop.sale_body(&shop.kasir, json!([line(&sugar, json!(1.5), 18_000)]), cash(27_000));
    let sale_id = string_field(&shop.sell(&shop.kasir, &body), "id");

    // 0.5 of 1.5 kg is a third of 27000.
    let refund = post_refund(
        &shop.owner,
        &sale_id,
        &refund_body(json!([refund_item(&sugar, json!(0.5))])),
    );

    refund.expect_status(201);
    assert_eq!(int_field(&refund.json, "total"), 9_000);
    assert_eq!(refund.json["items"][0]["qty"], json!(0.5), "{}", refund.text);
    assert_eq!(shop.level(&sugar, shop.outlet_id()), Some(json!(-1)));
}

#[test]
fn refund_beyond_sold_is_rejected() {
    let setup = discounted_sale("refmax");
    let shop = &setup.shop;
    let sale_id = string_field(&setup.sale, "id");

    let three_of_two = post_refund(
        &shop.owner,
        &sale_id,
        &refund_body(json!([refund_item(&setup.coffee, json!(3))])),
    );
    three_of_two.expect_error(422, "validation_failed");
    assert_eq!(
        detail_with_code(&three_of_two, "exceeds_sold")["field"],
        json!("items[0].qty")
    );

    post_refund(
        &shop.owner,
        &sale_id,
        &refund_body(json!([refund_item(&setup.coffee, json!(1.5))])),
    )
    .expect_status(201);
    let beyond_rest = post_refund(
        &shop.owner,
        &sale_id,
        &refund_body(json!([refund_item(&setup.coffee, json!(1))])),
    );
    beyond_rest.expect_error(422, "validation_failed");
    detail_with_code(&beyond_rest, "exceeds_sold");

    let not_sold = shop.product("Gula Aren", 20_000);
    let unknown = post_refund(
        &shop.owner,
        &sale_id,
        &refund_body(json!([refund_item(&not_sold, json!(1))])),
    );
    unknown.expect_error(422, "validation_failed");
    detail_with_code(&unknown, "invalid_reference");

    let refunds = shop.movements(&[("product_id", &setup.coffee), ("kind", "refund")]);
    assert_eq!(refunds.len(), 1, "a rejected refund moved stock: {refunds:?}");
    assert_eq!(shop.stored_sale(&sale_id)["status"], json!("partially_refunded"));
}

#[test]
fn refund_replay_returns_same_record() {
    let setup = discounted_sale("refrep");
    let shop = &setup.shop;
    let sale_id = string_field(&setup.sale, "id");
    let body = refund_body(json!([refund_item(&setup.coffee, json!(1))]));
    let first = post_refund(&shop.owner, &sale_id, &body);
    first.expect_status(201);

    let replay = post_refund(&shop.owner, &sale_id, &body);

    replay.expect_status(200);
    assert_eq!(replay.json, first.json, "the replay returned another record");
    let mut other_qty = body.clone();
    other_qty["items"][0]["qty"] = json!(2);
    post_refund(&shop.owner, &sale_id, &other_qty).expect_error(409, "conflict");
    let mut other_reason = body.clone();
    other_reason["reason"] = json!("Salah ukuran");
    post_refund(&shop.owner, &sale_id, &other_reason).expect_error(409, "conflict");

    let listed = api()
        .get(&format!("/v1/transactions/{sale_id}/refunds"))
        .bearer(&shop.owner.access_token)
        .send();
    listed.expect_status(200);
    assert_eq!(listed.items().len(), 1, "{}", listed.text);
    let movements = shop.movements(&[("ref_id", &string_field(&body, "id"))]);
    assert_eq!(movements.len(), 1, "the replay moved stock again: {movements:?}");
    assert_eq!(shop.level(&setup.coffee, shop.outlet_id()), Some(json!(4)));
}

#[test]
fn refund_moves_tracked_stock_back() {
    let setup = discounted_sale("refstock");
    let shop = &setup.shop;
    let sale_id = string_field(&setup.sale, "id");
    assert_eq!(shop.level(&setup.coffee, shop.outlet_id()), Some(json!(3)));
    let body = refund_body(json!([
        refund_item(&setup.coffee, json!(2)),
        refund_item(&setup.bread, json!(1))
    ]));

    post_refund(&shop.owner, &sale_id, &body).expect_status(201);

    let refund_id = string_field(&body, "id");
    let movements = shop.movements(&[("ref_id", &refund_id)]);
    assert_eq!(movements.len(), 1, "only the tracked coffee moves: {movements:?}");
    assert_eq!(movements[0]["kind"], json!("refund"));
    assert_eq!(movements[0]["product_id"], json!(setup.coffee));
    assert_eq!(movements[0]["outlet_id"], json!(shop.outlet_id()));
    assert_eq!(movements[0]["qty"], json!(2));
    assert_eq!(shop.level(&setup.coffee, shop.outlet_id()), Some(json!(5)));
    assert!(
        shop.movements(&[("product_id", &setup.bread)]).is_empty(),
        "an untracked product got movements"
    );
}

#[test]
fn kasir_cannot_refund() {
    let setup = discounted_sale("refkas");
    let shop = &setup.shop;
    let sale_id = string_field(&setup.sale, "id");

    let response = post_refund(
        &shop.kasir,
        &sale_id,
        &refund_body(json!([refund_item(&setup.coffee, json!(1))])),
    );

    response.expect_error(403, "forbidden");
    assert_eq!(shop.stored_sale(&sale_id)["status"], json!("completed"));
    assert!(shop.movements(&[("kind", "refund")]).is_empty());
}

#[test]
fn voided_sale_cannot_be_refunded() {
    let setup = discounted_sale("refvoid");
    let shop = &setup.shop;
    let sale_id = string_field(&setup.sale, "id");
    api()
        .post(&format!("/v1/transactions/{sale_id}/void"))
        .bearer(&shop.owner.access_token)
        .json(&json!({"reason": "Pembeli batal"}))
        .expect_status(201);

    let response = post_refund(
        &shop.owner,
        &sale_id,
        &refund_body(json!([refund_item(&setup.coffee, json!(1))])),
    );

    response.expect_error(409, "conflict");
    assert_eq!(shop.stored_sale(&sale_id)["status"], json!("voided"));
    assert_eq!(shop.level(&setup.coffee, shop.outlet_id()), Some(json!(5)));
}

#[test]
fn refund_records_its_method() {
    let setup = discounted_sale("refmeth");
    let shop = &setup.shop;
    let sale_id = string_field(&setup.sale, "id");
    let mut by_transfer = refund_body(json!([refund_item(&setup.coffee, json!(1))]));
    by_transfer["method"] = json!("transfer");
    let mut by_cheque = refund_body(json!([refund_item(&setup.coffee, json!(1))]));
    by_cheque["method"] = json!("cek");

    let accepted = post_refund(&shop.owner, &sale_id, &by_transfer);
    let rejected = post_refund(&shop.owner, &sale_id, &by_cheque);

    accepted.expect_status(201);
    assert_eq!(accepted.json["method"], json!("transfer"), "{}", accepted.text);
    rejected.expect_error(422, "validation_failed");
    assert_eq!(detail_with_code(&rejected, "invalid_format")["field"], json!("method"));
}

#[test]
fn parallel_refunds_never_exceed_sold() {
    let shop = pos_shop("refrace");
    let cake = shop.tracked_product("Kue Lapis", 25_000, None);
    let body = shop.sale_body(&shop.kasir, json!([line(&cake, json!(1), 25_000)]), cash(25_000));
    let sale_id = string_field(&shop.sell(&shop.kasir, &body), "id");
    let bodies: Vec<Value> = (0..4)
        .map(|_| refund_body(json!([refund_item(&cake, json!(1))])))
        .collect();

    let responses: Vec<ApiResponse> = thread::scope(|scope| {
        let handles: Vec<_> = bodies
            .iter()
            .map(|body| scope.spawn(|| post_refund(&shop.owner, &sale_id, body)))
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("refund thread panicked"))
            .collect()
    });

    let statuses: Vec<u16> = responses.iter().map(|response| response.status).collect();
    assert_eq!(
        statuses.iter().filter(|status| **status == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|status| **status == 422).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(shop.movements(&[("kind", "refund")]).len(), 1);
    assert_eq!(shop.level(&cake, shop.outlet_id()), Some(json!(0)));
}
