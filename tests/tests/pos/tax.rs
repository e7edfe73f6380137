//! PPN figures. With tax on and no rate given, the rate is 12 % on a DPP of 11/12, so the
//! effective rate r is 1200 / 10000 × 11 / 12 = 11 %.

use kasir_tests::fixtures::set_tax_settings;
use serde_json::{json, Value};

use crate::{api, cash, detail_with_code, int_field, line, pos_shop, post_sale, PosShop};

/// Sells one unit at `unit_price`, paid with exactly `paid` in cash, with `discount` off the
/// sale, and returns the stored sale.
#[track_caller]
fn sell_one(shop: &PosShop, product_id: &str, unit_price: i64, discount: i64, paid: i64) -> Value {
    let mut body = shop.sale_body(&shop.kasir, json!([line(product_id, json!(1), unit_price)]), cash(paid));
    body["discount"] = json!(discount);
    shop.sell(&shop.kasir, &body)
}

#[test]
fn tax_off_charges_nothing() {
    let shop = pos_shop("taxoff");
    let product = shop.product("Beras 5 kg", 100_000);
    let tenant = api().get("/v1/tenant").bearer(&shop.owner.access_token).send();
    tenant.expect_status(200);
    assert_eq!(
        tenant.json["tax"]["enabled"],
        json!(false),
        "a new tenant has tax on: {}",
        tenant.text
    );

    let sale = sell_one(&shop, &product, 100_000, 0, 100_000);

    assert_eq!(int_field(&sale, "subtotal"), 100_000);
    assert_eq!(int_field(&sale, "tax"), 0);
    assert_eq!(int_field(&sale, "total"), 100_000);
    assert_eq!(int_field(&sale, "change"), 0);
}

#[test]
fn tax_added_to_prices_excluding_it() {
    let shop = pos_shop("taxexcl");
    let product = shop.product("Minyak Goreng 2 L", 100_000);
    let tenant = set_tax_settings(&api(), &shop.owner, json!({"enabled": true}));
    assert_eq!(tenant["tax"]["enabled"], json!(true), "{tenant}");
    assert_eq!(tenant["tax"]["rate_bps"], json!(1200), "{tenant}");
    assert_eq!(tenant["tax"]["dpp_numerator"], json!(11), "{tenant}");
    assert_eq!(tenant["tax"]["dpp_denominator"], json!(12), "{tenant}");
    assert_eq!(tenant["tax"]["price_includes_tax"], json!(false), "{tenant}");

    // 100000 × 11 % = 11000 on top.
    let sale = sell_one(&shop, &product, 100_000, 0, 111_000);

    assert_eq!(int_field(&sale, "subtotal"), 100_000);
    assert_eq!(int_field(&sale, "tax"), 11_000);
    assert_eq!(int_field(&sale, "total"), 111_000);
    assert_eq!(int_field(&sale, "change"), 0);
}

#[test]
fn tax_comes_after_sale_discount() {
    let shop = pos_shop("taxdisc");
    let product = shop.product("Minyak Goreng 2 L", 100_000);
    set_tax_settings(&api(), &shop.owner, json!({"enabled": true}));

    // (100000 − 10000) × 11 % = 9900, so the total is 90000 + 9900.
    let sale = sell_one(&shop, &product, 100_000, 10_000, 99_900);

    assert_eq!(int_field(&sale, "subtotal"), 100_000);
    assert_eq!(int_field(&sale, "discount"), 10_000);
    assert_eq!(int_field(&sale, "tax"), 9_900);
    assert_eq!(int_field(&sale, "total"), 99_900);
}

#[test]
fn tax_extracted_from_prices_including_it() {
    let shop = pos_shop("taxincl");
    let product = shop.product("Susu UHT 1 L", 111_000);
    let tenant = set_tax_settings(
        &api(),
        &shop.owner,
        json!({"enabled": true, "price_includes_tax": true, "rate_bps": 1200, "dpp_numerator": 11, "dpp_denominator": 12}),
    );
    assert_eq!(tenant["tax"]["price_includes_tax"], json!(true), "{tenant}");

    // 111000 × 0.11 / 1.11 = 11000 is already in the price.
    let sale = sell_one(&shop, &product, 111_000, 0, 111_000);

    assert_eq!(int_field(&sale, "subtotal"), 111_000);
    assert_eq!(int_field(&sale, "tax"), 11_000);
    assert_eq!(int_field(&sale, "total"), 111_000);
}

#[test]
fn tax_rounds_half_up() {
    let shop = pos_shop("taxround");
    let product = shop.product("Kopi Bubuk", 12_350);
    set_tax_settings(&api(), &shop.owner, json!({"enabled": true}));

    // 12350 × 11 % = 1358.5, an exact half, which rounds up to 1359.
    let half = sell_one(&shop, &product, 12_350, 0, 13_709);
    assert_eq!(int_field(&half, "tax"), 1_359);
    assert_eq!(int_field(&half, "total"), 13_709);

    // 12340 × 11 % = 1357.4, which rounds down to 1357.
    let below_half = sell_one(&shop, &product, 12_340, 0, 13_697);
    assert_eq!(int_field(&below_half, "tax"), 1_357);
    assert_eq!(int_field(&below_half, "total"), 13_697);

    // 12345 × 11 % = 1357.95, which rounds up to 1358.
    let above_half = sell_one(&shop, &product, 12_345, 0, 13_703);
    assert_eq!(int_field(&above_half, "tax"), 1_358);
    assert_eq!(int_field(&above_half, "total"), 13_703);
}

#[test]
fn tax_included_rounds_to_nearest() {
    let shop = pos_shop("taxinclr");
    let product = shop.product("Teh Kotak", 10_000);
    set_tax_settings(
        &api(),
        &shop.owner,
        json!({"enabled": true, "price_includes_tax": true}),
    );

    // 10000 × 0.11 / 1.11 = 990.99…, which rounds up to 991. The total stays the price.
    let sale = sell_one(&shop, &product, 10_000, 0, 10_000);

    assert_eq!(int_field(&sale, "tax"), 991);
    assert_eq!(int_field(&sale, "total"), 10_000);
}

#[test]
fn client_tax_mismatch_is_rejected() {
    let shop = pos_shop("taxwrong");
    let product = shop.product("Minyak Goreng 2 L", 100_000);
    set_tax_settings(&api(), &shop.owner, json!({"enabled": true}));
    let mut body = shop.sale_body(&shop.kasir, json!([line(&product, json!(1), 100_000)]), cash(112_000));
    body["tax"] = json!(12_000);

    let response = post_sale(&shop.kasir, &body);

    response.expect_error(422, "validation_failed");
    let detail = detail_with_code(&response, "tax_mismatch");
    assert_eq!(detail["field"], json!("tax"), "{detail}");
    assert_eq!(detail["expected"], json!(11_000), "server figure missing: {detail}");
    assert_eq!(detail["received"], json!(12_000), "client figure missing: {detail}");
    let message = detail["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("11000"),
        "the message lacks the server figure: {detail}"
    );
    assert!(
        message.contains("12000"),
        "the message lacks the client figure: {detail}"
    );
    let stored = api()
        .get(&format!("/v1/transactions/{}", body["id"].as_str().unwrap_or_default()))
        .bearer(&shop.owner.access_token)
        .send();
    stored.expect_error(404, "not_found");
}

#[test]
fn client_tax_matching_server_is_accepted() {
    let shop = pos_shop("taxright");
    let product = shop.product("Minyak Goreng 2 L", 100_000);
    set_tax_settings(&api(), &shop.owner, json!({"enabled": true}));
    let mut body = shop.sale_body(&shop.kasir, json!([line(&product, json!(1), 100_000)]), cash(111_000));
    body["subtotal"] = json!(100_000);
    body["tax"] = json!(11_000);
    body["total"] = json!(111_000);

    let response = post_sale(&shop.kasir, &body);

    response.expect_status(201);
    assert_eq!(int_field(&response.json, "tax"), 11_000);
}
