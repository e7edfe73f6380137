//! Sale figures and payments: weighed goods, discounts, split payments, receipt numbers and
//! QRIS payments confirmed after the sale.

use serde_json::{json, Value};

use crate::{api, cash, detail_with_code, int_field, line, pos_shop, post_sale, string_field};

#[test]
fn fractional_quantity_stored_exactly() {
    let shop = pos_shop("saleqty");
    let sugar = shop.tracked_product("Gula Pasir (kg)", 18_000, None);
    let body = shop.sale_body(
        &shop.kasir,
        json!([line(&sugar, json!(1.5), 18_000), line(&sugar, json!(0.125), 18_000)]),
        cash(29_250),
    );

    let sale = shop.sell(&shop.kasir, &body);

    // 1.5 × 18000 = 27000 and 0.125 × 18000 = 2250.
    assert_eq!(sale["items"][0]["qty"], json!(1.5), "{sale}");
    assert_eq!(sale["items"][0]["amount"], json!(27_000), "{sale}");
    assert_eq!(sale["items"][1]["qty"], json!(0.125), "{sale}");
    assert_eq!(sale["items"][1]["amount"], json!(2_250), "{sale}");
    assert_eq!(int_field(&sale, "subtotal"), 29_250);
    assert_eq!(int_field(&sale, "total"), 29_250);

    let stored = shop.stored_sale(&string_field(&sale, "id"));
    assert_eq!(stored["items"][0]["qty"], json!(1.5), "{stored}");
    assert_eq!(stored["items"][1]["qty"], json!(0.125), "{stored}");

    let movements = shop.movements(&[("ref_id", &string_field(&sale, "id"))]);
    let mut quantities: Vec<String> = movements.iter().map(|movement| movement["qty"].to_string()).collect();
    quantities.sort();
    assert_eq!(quantities, ["-0.125", "-1.5"], "{movements:?}");
    assert_eq!(shop.level(&sugar, shop.outlet_id()), Some(json!(-1.625)));
}

#[test]
fn line_and_sale_discounts_reduce_total() {
    let shop = pos_shop("saledisc");
    let coffee = shop.product("Kopi Susu", 15_000);
    let bread = shop.product("Roti Coklat", 8_000);
    let mut discounted_line = line(&coffee, json!(2), 15_000);
    discounted_line["discount"] = json!(2_000);
    let mut body = shop.sale_body(
        &shop.kasir,
        json!([discounted_line, line(&bread, json!(1), 8_000)]),
        cash(35_000),
    );
    body["discount"] = json!(1_000);

    let sale = shop.sell(&shop.kasir, &body);

    // Coffee is 2 × 15000 − 2000 = 28000 and bread 8000, so the subtotal is 36000 and the total
    // 1000 less.
    assert_eq!(sale["items"][0]["amount"], json!(28_000), "{sale}");
    assert_eq!(sale["items"][0]["discount"], json!(2_000), "{sale}");
    assert_eq!(sale["items"][1]["amount"], json!(8_000), "{sale}");
    assert_eq!(int_field(&sale, "subtotal"), 36_000);
    assert_eq!(int_field(&sale, "discount"), 1_000);
    assert_eq!(int_field(&sale, "total"), 35_000);
    assert_eq!(int_field(&sale, "change"), 0);
}

#[test]
fn line_discount_above_line_is_rejected() {
    let shop = pos_shop("saledisx");
    let coffee = shop.product("Kopi Susu", 15_000);
    let mut too_much = line(&coffee, json!(1), 15_000);
    too_much["discount"] = json!(15_001);
    let body = shop.sale_body(&shop.kasir, json!([too_much]), cash(1));

    let response = post_sale(&shop.kasir, &body);

    response.expect_error(422, "validation_failed");
    detail_with_code(&response, "line_discount_exceeds_line");
}

#[test]
fn mixed_payments_give_change_from_cash() {
    let shop = pos_shop("salemix");
    let rice = shop.product("Beras 10 kg", 100_000);
    let payments = json!([
        {"method": "cash", "amount": 50_000},
        {"method": "qris", "amount": 40_000, "reference": "QR-0001"},
        {"method": "card", "amount": 30_000, "reference": "EDC-0001"},
    ]);
    let body = shop.sale_body(&shop.kasir, json!([line(&rice, json!(1), 100_000)]), payments);

    let sale = shop.sell(&shop.kasir, &body);

    // 120000 is paid on 100000, so the 20000 change comes out of the 50000 cash.
    assert_eq!(int_field(&sale, "total"), 100_000);
    assert_eq!(int_field(&sale, "change"), 20_000);
    let methods: Vec<&str> = sale["payments"]
        .as_array()
        .map(|payments| payments.iter().filter_map(|p| p["method"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(methods, ["cash", "qris", "card"], "{sale}");
    assert_eq!(sale["payments"][1]["reference"], json!("QR-0001"), "{sale}");
    assert_eq!(sale["payments"][2]["amount"], json!(30_000), "{sale}");
    for payment in sale["payments"].as_array().into_iter().flatten() {
        assert_eq!(payment["status"], json!("paid"), "{sale}");
    }
}

#[test]
fn overpayment_without_cash_is_rejected() {
    let shop = pos_shop("saleover");
    let rice = shop.product("Beras 10 kg", 100_000);
    let cases = [
        (json!([{"method": "card", "amount": 100_500}]), "overpaid_without_cash"),
        (
            json!([{"method": "qris", "amount": 60_000}, {"method": "card", "amount": 50_000}]),
            "overpaid_without_cash",
        ),
        // 106000 paid leaves 6000 change, more than the 1000 in cash.
        (
            json!([{"method": "qris", "amount": 105_000}, {"method": "cash", "amount": 1_000}]),
            "change_exceeds_cash",
        ),
        (json!([{"method": "ewallet", "amount": 99_999}]), "underpaid"),
    ];

    for (payments, code) in cases {
        let body = shop.sale_body(&shop.kasir, json!([line(&rice, json!(1), 100_000)]), payments.clone());
        let response = post_sale(&shop.kasir, &body);

        response.expect_error(422, "validation_failed");
        let detail = detail_with_code(&response, code);
        assert_eq!(detail["field"], json!("payments"), "payments {payments}: {detail}");
    }
}

#[test]
fn receipt_number_of_another_sale_conflicts() {
    let shop = pos_shop("salercpt");
    let coffee = shop.product("Kopi Susu", 15_000);
    let first = shop.sale_body(&shop.kasir, json!([line(&coffee, json!(1), 15_000)]), cash(15_000));
    let created = shop.sell(&shop.kasir, &first);

    let mut second = shop.sale_body(&shop.kasir, json!([line(&coffee, json!(2), 15_000)]), cash(30_000));
    second["receipt_no"] = first["receipt_no"].clone();
    let duplicate = post_sale(&shop.kasir, &second);
    let replay = post_sale(&shop.kasir, &first);

    duplicate.expect_error(409, "duplicate_receipt_no");
    replay.expect_status(200);
    assert_eq!(replay.json, created, "the replay returned another body");
    api()
        .get(&format!("/v1/transactions/{}", string_field(&second, "id")))
        .bearer(&shop.owner.access_token)
        .send()
        .expect_error(404, "not_found");
}

#[test]
fn sale_ids_independent_across_tenants() {
    let first_shop = pos_shop("saletwin");
    let second_shop = pos_shop("saletwin");
    let product_id = kasir_tests::new_id();
    for shop in [&first_shop, &second_shop] {
        let product = kasir_tests::fixtures::create_product_with(
            &api(),
            &shop.owner,
            &json!({"id": product_id, "name": "Kopi Susu", "price": 15_000, "track_stock": true}),
        );
        assert_eq!(product["id"], json!(product_id));
    }
    let first_body = first_shop.sale_body(
        &first_shop.kasir,
        json!([line(&product_id, json!(1), 15_000)]),
        cash(15_000),
    );
    let mut second_body = second_shop.sale_body(
        &second_shop.kasir,
        json!([line(&product_id, json!(1), 15_000)]),
        cash(15_000),
    );
    second_body["id"] = first_body["id"].clone();
    second_body["receipt_no"] = first_body["receipt_no"].clone();

    first_shop.sell(&first_shop.kasir, &first_body);
    second_shop.sell(&second_shop.kasir, &second_body);

    let sale_id = string_field(&first_body, "id");
    api()
        .post(&format!("/v1/transactions/{sale_id}/void"))
        .bearer(&first_shop.owner.access_token)
        .json(&json!({"reason": "Salah input"}))
        .expect_status(201);
    assert_eq!(first_shop.stored_sale(&sale_id)["status"], json!("voided"));
    assert_eq!(second_shop.stored_sale(&sale_id)["status"], json!("completed"));
    assert_eq!(first_shop.level(&product_id, first_shop.outlet_id()), Some(json!(0)));
    assert_eq!(second_shop.level(&product_id, second_shop.outlet_id()), Some(json!(-1)));
}

/// Pulls every change of `transactions` after `cursor` and returns the upserted sales and the
/// new cursor.
#[track_caller]
fn pull_sales(token: &str, cursor: Option<&str>) -> (Vec<Value>, String) {
    let mut sales = Vec::new();
    let mut cursor = cursor.map(str::to_string);
    for _ in 0..50 {
        let mut request = api()
            .get("/v1/sync/pull")
            .bearer(token)
            .query("entities", "transactions");
        if let Some(cursor) = &cursor {
            request = request.query("cursor", cursor);
        }
        let page = request.send();
        page.expect_status(200);
        if let Some(upserted) = page.json["changes"]["transactions"]["upserted"].as_array() {
            sales.extend(upserted.iter().cloned());
        }
        cursor = Some(page.str_field("cursor"));
        if page.json["has_more"] != json!(true) {
            return (sales, cursor.unwrap_or_default());
        }
    }
    panic!("GET /v1/sync/pull still had more after 50 pages");
}

#[test]
fn pending_qris_confirmed_with_reference() {
    let shop = pos_shop("saleqris");
    let coffee = shop.product("Kopi Susu", 15_000);
    let body = shop.sale_body(
        &shop.kasir,
        json!([line(&coffee, json!(2), 15_000)]),
        json!([{"method": "qris", "amount": 30_000, "status": "pending"}]),
    );
    let sale = shop.sell(&shop.kasir, &body);
    let sale_id = string_field(&sale, "id");
    assert_eq!(sale["payments"][0]["status"], json!("pending"), "{sale}");
    assert_eq!(shop.stored_sale(&sale_id)["payments"][0]["status"], json!("pending"));
    let (_, cursor) = pull_sales(&shop.owner.access_token, None);

    let confirmed = api()
        .post(&format!("/v1/transactions/{sale_id}/payments/0/confirm"))
        .bearer(&shop.kasir.access_token)
        .json(&json!({"reference": "QRIS-20260101-0042"}));

    confirmed.expect_status(200);
    assert_eq!(
        confirmed.json["payments"][0]["status"],
        json!("paid"),
        "{}",
        confirmed.text
    );
    assert_eq!(confirmed.json["payments"][0]["reference"], json!("QRIS-20260101-0042"));
    assert!(
        int_field(&confirmed.json, "version") > int_field(&sale, "version"),
        "version did not grow: {} then {}",
        sale["version"],
        confirmed.json["version"]
    );
    let stored = shop.stored_sale(&sale_id);
    assert_eq!(stored["payments"][0]["status"], json!("paid"), "{stored}");
    assert_eq!(int_field(&stored, "total"), 30_000, "confirming changed the figures");

    let (pulled, _) = pull_sales(&shop.owner.access_token, Some(&cursor));
    let pulled_sale = pulled.iter().find(|record| record["id"] == json!(sale_id));
    match pulled_sale {
        Some(record) => {
            assert_eq!(record["payments"][0]["status"], json!("paid"), "{record}");
            assert_eq!(record["version"], confirmed.json["version"], "{record}");
        }
        None => panic!("a pull after the old cursor lacks the confirmed sale: {pulled:?}"),
    }
}

#[test]
fn confirming_paid_payment_changes_nothing() {
    let shop = pos_shop("saleqrpd");
    let coffee = shop.product("Kopi Susu", 15_000);
    let body = shop.sale_body(
        &shop.kasir,
        json!([line(&coffee, json!(1), 15_000)]),
        json!([{"method": "qris", "amount": 15_000, "status": "pending"}]),
    );
    let sale_id = string_field(&shop.sell(&shop.kasir, &body), "id");
    let path = format!("/v1/transactions/{sale_id}/payments/0/confirm");
    let first = api().post(&path).bearer(&shop.owner.access_token).json(&json!({}));
    first.expect_status(200);

    let again = api().post(&path).bearer(&shop.owner.access_token).json(&json!({}));

    again.expect_status(200);
    assert_eq!(
        again.json["version"], first.json["version"],
        "a second confirm wrote a new version"
    );
    assert_eq!(again.json["payments"][0]["status"], json!("paid"));
}

#[test]
fn confirm_unknown_payment_is_404() {
    let shop = pos_shop("saleqr404");
    let coffee = shop.product("Kopi Susu", 15_000);
    let body = shop.sale_body(
        &shop.kasir,
        json!([line(&coffee, json!(1), 15_000)]),
        json!([{"method": "qris", "amount": 15_000, "status": "pending"}]),
    );
    let sale_id = string_field(&shop.sell(&shop.kasir, &body), "id");
    let token = shop.owner.access_token.as_str();

    for index in ["1", "99", "-1", "satu"] {
        api()
            .post(&format!("/v1/transactions/{sale_id}/payments/{index}/confirm"))
            .bearer(token)
            .json(&json!({}))
            .expect_error(404, "not_found");
    }
    api()
        .post(&format!(
            "/v1/transactions/{}/payments/0/confirm",
            kasir_tests::new_id()
        ))
        .bearer(token)
        .json(&json!({}))
        .expect_error(404, "not_found");
    let other_kasir = shop.new_user("kasir", "Tablet Dua");
    api()
        .post(&format!("/v1/transactions/{sale_id}/payments/0/confirm"))
        .bearer(&other_kasir.access_token)
        .json(&json!({}))
        .expect_error(404, "not_found");
    assert_eq!(shop.stored_sale(&sale_id)["payments"][0]["status"], json!("pending"));
}
