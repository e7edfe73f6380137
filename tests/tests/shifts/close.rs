//! Closing a shift: expected cash, difference and totals per method over mixed payments, the
//! running figures of an open shift, and closing only once.

use std::thread;

use serde_json::json;

use crate::{api, ids_of, int_field, shift_shop, string_field, ShiftShop, BREAD_PRICE, COFFEE_PRICE};

/// Sells five sales in `shift_id` by the shop's kasir, with the figures worked out by hand:
///
/// | sale | items                | total  | payments                    | change |
/// |------|----------------------|--------|-----------------------------|--------|
/// | 1    | 2 coffee + 1 bread   | 38,000 | cash 50,000                 | 12,000 |
/// | 2    | 1 coffee             | 15,000 | qris 15,000                 | 0      |
/// | 3    | 1 bread              |  8,000 | card 8,000                  | 0      |
/// | 4    | 2 coffee + 2 bread   | 46,000 | qris 20,000 + cash 30,000   | 4,000  |
/// | 5    | 1 coffee             | 15,000 | qris 15,000, still pending  | 0      |
///
/// Returns the sale ids in order.
fn sell_mixed_day(shop: &ShiftShop, shift_id: &str) -> Vec<String> {
    let coffee = shop.coffee_id.as_str();
    let bread = shop.bread_id.as_str();
    let kasir = &shop.kasir;
    let shift = Some(shift_id);
    let sales = [
        shop.sell(
            kasir,
            shift,
            &[(coffee, 2, COFFEE_PRICE), (bread, 1, BREAD_PRICE)],
            json!([{"method": "cash", "amount": 50_000}]),
        ),
        shop.sell(
            kasir,
            shift,
            &[(coffee, 1, COFFEE_PRICE)],
            json!([{"method": "qris", "amount": 15_000, "reference": "QR-0001"}]),
        ),
        shop.sell(
            kasir,
            shift,
            &[(bread, 1, BREAD_PRICE)],
            json!([{"method": "card", "amount": 8_000, "reference": "EDC-0001"}]),
        ),
        shop.sell(
            kasir,
            shift,
            &[(coffee, 2, COFFEE_PRICE), (bread, 2, BREAD_PRICE)],
            json!([{"method": "qris", "amount": 20_000}, {"method": "cash", "amount": 30_000}]),
        ),
        shop.sell(
            kasir,
            shift,
            &[(coffee, 1, COFFEE_PRICE)],
            json!([{"method": "qris", "amount": 15_000, "status": "pending"}]),
        ),
    ];
    assert_eq!(int_field(&sales[0], "change"), 12_000);
    assert_eq!(int_field(&sales[3], "change"), 4_000);
    sales.iter().map(|sale| string_field(sale, "id")).collect()
}

#[test]
fn close_computes_cash_and_totals() {
    let shop = shift_shop("closemixed");
    let shift = shop.open(&shop.kasir, 200_000);
    let shift_id = string_field(&shift, "id");
    sell_mixed_day(&shop, &shift_id);
    // A sale outside any shift does not count.
    shop.sell(
        &shop.kasir,
        None,
        &[(&shop.bread_id, 1, BREAD_PRICE)],
        json!([{"method": "cash", "amount": 10_000}]),
    );

    let response = shop.close(&shop.kasir, &shift_id, 263_500);

    response.expect_status(200);
    let closed = &response.json;
    // 200,000 float + (50,000 + 30,000) cash − (12,000 + 4,000) change = 264,000.
    assert_eq!(int_field(closed, "expected_cash"), 264_000);
    assert_eq!(int_field(closed, "counted_cash"), 263_500);
    assert_eq!(int_field(closed, "difference"), -500);
    // Cash is 38,000 + 26,000, QRIS 15,000 + 20,000 + 15,000 pending, and card 8,000.
    assert_eq!(
        closed["totals_by_method"],
        json!({"cash": 64_000, "qris": 50_000, "card": 8_000, "transfer": 0, "ewallet": 0})
    );
    assert_eq!(closed["id"], json!(shift_id));
    assert_eq!(closed["status"], "closed");
    assert_eq!(int_field(closed, "opening_float"), 200_000);
    assert!(
        closed["closed_at"].as_str().is_some_and(|at| at.ends_with('Z')),
        "{closed}"
    );
}

#[test]
fn closed_shift_reads_stored_figures() {
    let shop = shift_shop("closeread");
    let shift = shop.open(&shop.kasir, 200_000);
    let shift_id = string_field(&shift, "id");
    sell_mixed_day(&shop, &shift_id);
    let closed = shop.close(&shop.kasir, &shift_id, 265_000);
    closed.expect_status(200);
    assert_eq!(int_field(&closed.json, "difference"), 1_000);

    let read = shop.show(&shop.owner, &shift_id);

    read.expect_status(200);
    for field in [
        "status",
        "closed_at",
        "expected_cash",
        "counted_cash",
        "difference",
        "totals_by_method",
    ] {
        assert_eq!(read.json[field], closed.json[field], "{field}");
    }
    let listed = api()
        .get("/v1/shifts")
        .bearer(&shop.owner.access_token)
        .query("status", "closed")
        .send();
    listed.expect_status(200);
    assert_eq!(listed.items(), std::slice::from_ref(&closed.json));
}

#[test]
fn open_shift_shows_running_figures() {
    let shop = shift_shop("closerunning");
    let shift = shop.open(&shop.kasir, 200_000);
    let shift_id = string_field(&shift, "id");

    let empty = shop.show(&shop.kasir, &shift_id);
    empty.expect_status(200);
    assert_eq!(int_field(&empty.json, "expected_cash"), 200_000);
    assert_eq!(empty.json["sales"], json!([]));

    let sale_ids = sell_mixed_day(&shop, &shift_id);
    let running = shop.show(&shop.kasir, &shift_id);

    running.expect_status(200);
    let body = &running.json;
    assert_eq!(body["status"], "open");
    assert_eq!(int_field(body, "expected_cash"), 264_000);
    assert_eq!(body["totals_by_method"]["cash"], json!(64_000));
    assert_eq!(body["totals_by_method"]["qris"], json!(50_000));
    assert!(body["counted_cash"].is_null(), "{body}");
    assert!(body["difference"].is_null(), "{body}");
    let sales = body["sales"].as_array().cloned().unwrap_or_default();
    let mut listed = ids_of(&sales);
    listed.sort();
    let mut expected = sale_ids.clone();
    expected.sort();
    assert_eq!(listed, expected);
    let first = sales.iter().find(|sale| sale["id"] == json!(sale_ids[0]));
    let first = first.expect("the first sale is listed");
    assert_eq!(int_field(first, "total"), 38_000);
    assert_eq!(first["payments"][0]["method"], "cash");
    assert!(first.get("tenant_id").is_none(), "{first}");
}

#[test]
fn empty_shift_closes_at_its_float() {
    let shop = shift_shop("closeempty");
    let shift = shop.open(&shop.kasir, 150_000);

    let response = shop.close(&shop.kasir, &string_field(&shift, "id"), 150_000);

    response.expect_status(200);
    assert_eq!(int_field(&response.json, "expected_cash"), 150_000);
    assert_eq!(int_field(&response.json, "difference"), 0);
    assert_eq!(
        response.json["totals_by_method"],
        json!({"cash": 0, "qris": 0, "card": 0, "transfer": 0, "ewallet": 0})
    );
}

#[test]
fn double_close_conflicts() {
    let shop = shift_shop("closetwice");
    let shift = shop.open(&shop.kasir, 100_000);
    let shift_id = string_field(&shift, "id");
    let first = shop.close(&shop.kasir, &shift_id, 100_000);
    first.expect_status(200);

    let second = shop.close(&shop.kasir, &shift_id, 90_000);

    second.expect_error(409, "conflict");
    let stored = shop.show(&shop.kasir, &shift_id);
    assert_eq!(int_field(&stored.json, "counted_cash"), 100_000);
    assert_eq!(stored.json["closed_at"], first.json["closed_at"]);
}

#[test]
fn concurrent_closes_store_one_count() {
    let shop = shift_shop("closerace");
    let shift = shop.open(&shop.kasir, 100_000);
    let shift_id = string_field(&shift, "id");

    let results: Vec<(u16, i64)> = thread::scope(|scope| {
        let handles: Vec<_> = (0..4_i64)
            .map(|index| {
                let shop = &shop;
                let shift_id = shift_id.as_str();
                scope.spawn(move || {
                    let counted = 100_000 + index;
                    (shop.close(&shop.kasir, shift_id, counted).status, counted)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("thread ran"))
            .collect()
    });

    let winners: Vec<i64> = results
        .iter()
        .filter(|(status, _)| *status == 200)
        .map(|(_, counted)| *counted)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert_eq!(
        results.iter().filter(|(status, _)| *status == 409).count(),
        3,
        "{results:?}"
    );
    let stored = shop.show(&shop.kasir, &shift_id);
    assert_eq!(int_field(&stored.json, "counted_cash"), winners[0]);
}

#[test]
fn close_rejects_invalid_bodies() {
    let shop = shift_shop("closeinvalid");
    let shift = shop.open(&shop.kasir, 100_000);
    let path = format!("/v1/shifts/{}/close", string_field(&shift, "id"));
    // (body, field, detail code)
    let cases = [
        (json!({}), "counted_cash", "required"),
        (json!({"counted_cash": null}), "counted_cash", "required"),
        (json!({"counted_cash": -500}), "counted_cash", "negative_amount"),
        (json!({"counted_cash": 99.5}), "counted_cash", "invalid_type"),
        (json!({"counted_cash": "100000"}), "counted_cash", "invalid_type"),
        (
            json!({"counted_cash": 9_007_199_254_740_992_u64}),
            "counted_cash",
            "too_large",
        ),
        (
            json!({"counted_cash": 100_000, "expected_cash": 100_000}),
            "expected_cash",
            "unknown_field",
        ),
    ];

    for (body, field, code) in cases {
        let response = api().post(&path).bearer(&shop.kasir.access_token).json(&body);

        response.expect_error(422, "validation_failed");
        let details = response.error_details();
        assert!(
            details
                .iter()
                .any(|detail| detail["field"] == field && detail["code"] == code),
            "body {body}: expected {field}/{code} in {details:?}"
        );
    }
    let stored = shop.show(&shop.kasir, &string_field(&shift, "id"));
    assert_eq!(stored.json["status"], "open", "an invalid body closed the shift");
}

#[test]
fn admin_closes_kasir_shift() {
    let shop = shift_shop("closeadmin");
    let admin = shop.new_user("admin", "Tablet Admin");
    let shift = shop.open(&shop.kasir, 100_000);
    let shift_id = string_field(&shift, "id");
    shop.sell(
        &shop.kasir,
        Some(&shift_id),
        &[(&shop.coffee_id, 1, COFFEE_PRICE)],
        json!([{"method": "cash", "amount": 20_000}]),
    );

    let response = shop.close(&admin, &shift_id, 114_000);

    response.expect_status(200);
    // 100,000 + 20,000 − 5,000 change = 115,000.
    assert_eq!(int_field(&response.json, "expected_cash"), 115_000);
    assert_eq!(int_field(&response.json, "difference"), -1_000);
    assert_eq!(response.json["user_id"], json!(shop.kasir.user_id));
}
