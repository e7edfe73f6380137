//! Voids and refunds in a shift: a voided sale drops out of the figures, a cash refund takes
//! cash out of the drawer, and a kasir voids only in its own open shift.

use kasir_tests::new_id;
use serde_json::json;

use crate::{api, int_field, shift_shop, string_field, BREAD_PRICE, COFFEE_PRICE};

#[test]
fn returns_reduce_expected_cash() {
    let shop = shift_shop("shiftreturns");
    let shift = shop.open(&shop.kasir, 100_000);
    let shift_id = string_field(&shift, "id");
    let coffee = shop.coffee_id.as_str();
    let bread = shop.bread_id.as_str();
    // A: 2 coffee + 1 bread = 38,000 in exact cash.
    let kept = shop.sell(
        &shop.kasir,
        Some(&shift_id),
        &[(coffee, 2, COFFEE_PRICE), (bread, 1, BREAD_PRICE)],
        json!([{"method": "cash", "amount": 38_000}]),
    );
    // B: 1 coffee = 15,000 paid with 20,000 cash and 5,000 change, voided below.
    let voided = shop.sell(
        &shop.kasir,
        Some(&shift_id),
        &[(coffee, 1, COFFEE_PRICE)],
        json!([{"method": "cash", "amount": 20_000}]),
    );
    // C: 1 bread = 8,000 by card.
    let by_card = shop.sell(
        &shop.kasir,
        Some(&shift_id),
        &[(bread, 1, BREAD_PRICE)],
        json!([{"method": "card", "amount": 8_000}]),
    );
    let before = shop.show(&shop.owner, &shift_id);
    // 100,000 + 38,000 + 20,000 − 5,000 = 153,000.
    assert_eq!(int_field(&before.json, "expected_cash"), 153_000);

    let void = api()
        .post(&format!("/v1/transactions/{}/void", string_field(&voided, "id")))
        .bearer(&shop.owner.access_token)
        .json(&json!({"reason": "salah input"}));
    void.expect_status(201);
    let after_void = shop.show(&shop.owner, &shift_id);
    // Sale B no longer counts: 100,000 + 38,000 = 138,000.
    assert_eq!(int_field(&after_void.json, "expected_cash"), 138_000);

    // One bread of sale A, refunded in cash (the default): 8,000.
    let cash_refund = api()
        .post(&format!("/v1/transactions/{}/refunds", string_field(&kept, "id")))
        .bearer(&shop.owner.access_token)
        .json(&json!({
            "id": new_id(),
            "items": [{"product_id": bread, "qty": 1}],
            "reason": "roti basi",
        }));
    cash_refund.expect_status(201);
    assert_eq!(int_field(&cash_refund.json, "total"), 8_000);
    // The card sale refunded to the card: no cash leaves the drawer.
    let card_refund = api()
        .post(&format!("/v1/transactions/{}/refunds", string_field(&by_card, "id")))
        .bearer(&shop.owner.access_token)
        .json(&json!({
            "id": new_id(),
            "items": [{"product_id": bread, "qty": 1}],
            "reason": "roti basi",
            "method": "card",
        }));
    card_refund.expect_status(201);

    let running = shop.show(&shop.owner, &shift_id);
    // 138,000 − 8,000 cash refunded = 130,000.
    assert_eq!(int_field(&running.json, "expected_cash"), 130_000);
    let listed_sales = running.json["sales"].as_array().cloned().unwrap_or_default();
    assert_eq!(listed_sales.len(), 3, "voided sales stay listed: {}", running.text);
    let voided_listed = listed_sales.iter().find(|sale| sale["id"] == voided["id"]);
    assert_eq!(voided_listed.map(|sale| sale["status"].clone()), Some(json!("voided")));

    let closed = shop.close(&shop.kasir, &shift_id, 130_000);

    closed.expect_status(200);
    assert_eq!(int_field(&closed.json, "expected_cash"), 130_000);
    assert_eq!(int_field(&closed.json, "difference"), 0);
    // Totals are takings net of change. Refunds are not taken off them.
    assert_eq!(
        closed.json["totals_by_method"],
        json!({"cash": 38_000, "qris": 0, "card": 8_000, "transfer": 0, "ewallet": 0})
    );
}

#[test]
fn kasir_void_needs_open_shift() {
    let shop = shift_shop("shiftkasirvoid");
    let shift = shop.open(&shop.kasir, 50_000);
    let shift_id = string_field(&shift, "id");
    let sell_bread = || {
        shop.sell(
            &shop.kasir,
            Some(&shift_id),
            &[(&shop.bread_id, 1, BREAD_PRICE)],
            json!([{"method": "cash", "amount": 8_000}]),
        )
    };
    let first = sell_bread();
    let second = sell_bread();
    let void = |sale_id: &str| {
        api()
            .post(&format!("/v1/transactions/{sale_id}/void"))
            .bearer(&shop.kasir.access_token)
            .json(&json!({"reason": "pelanggan batal"}))
    };

    void(&string_field(&first, "id")).expect_status(201);
    let running = shop.show(&shop.kasir, &shift_id);
    // 50,000 + 8,000 from the second sale only.
    assert_eq!(int_field(&running.json, "expected_cash"), 58_000);
    shop.close(&shop.kasir, &shift_id, 58_000).expect_status(200);

    let after_close = void(&string_field(&second, "id"));

    after_close.expect_error(403, "forbidden");
}
