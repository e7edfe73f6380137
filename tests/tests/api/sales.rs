//! Sales over REST: figures, idempotent replay, conflicts and who may read.

use kasir_tests::{create_product, create_user_session, Api, Session};
use serde_json::{json, Value};

use crate::{api, ids_of, int_field, list_all, new_shop, sale_body, Line, Shop};

/// A shop with two products and a kasir logged in on a device.
struct SalesShop {
    shop: Shop,
    kasir: Session,
    /// Priced 15,000.
    coffee_id: String,
    /// Priced 8,000.
    bread_id: String,
}

fn sales_shop(code_prefix: &str) -> SalesShop {
    let api = api();
    let shop = new_shop(code_prefix);
    let coffee = create_product(&api, &shop.owner, "Kopi Tubruk", 15000);
    let bread = create_product(&api, &shop.owner, "Roti Bakar", 8000);
    let (_, kasir) = create_user_session(&api, &shop.tenant, &shop.owner, "kasir", "Tablet Kasir");
    SalesShop {
        shop,
        kasir,
        coffee_id: coffee["id"].as_str().unwrap_or_default().to_string(),
        bread_id: bread["id"].as_str().unwrap_or_default().to_string(),
    }
}

impl SalesShop {
    /// 2 × coffee + 1 × bread (38,000), paid with `payments`.
    fn standard_sale(&self, payments: Value) -> Value {
        sale_body(
            self.kasir.device(),
            &self.shop.tenant.default_outlet_id,
            &[
                Line {
                    product_id: &self.coffee_id,
                    qty: json!(2),
                    unit_price: 15000,
                },
                Line {
                    product_id: &self.bread_id,
                    qty: json!(1),
                    unit_price: 8000,
                },
            ],
            payments,
        )
    }

    fn post_sale(&self, api: &Api, session: &Session, body: &Value) -> kasir_tests::ApiResponse {
        api.post("/v1/transactions").bearer(&session.access_token).json(body)
    }
}

fn cash(amount: i64) -> Value {
    json!([{"method": "cash", "amount": amount}])
}

#[test]
fn sale_computes_subtotal_tax_total_and_change() {
    let setup = sales_shop("salecalc");
    let body = setup.standard_sale(cash(50000));

    let response = setup.post_sale(&api(), &setup.kasir, &body);

    response.expect_status(201);
    let sale = &response.json;
    assert_eq!(sale["id"], body["id"]);
    assert_eq!(sale["receipt_no"], body["receipt_no"]);
    assert_eq!(sale["device_id"], body["device_id"]);
    assert_eq!(sale["outlet_id"], body["outlet_id"]);
    assert_eq!(int_field(sale, "subtotal"), 38000);
    assert_eq!(int_field(sale, "tax"), 0);
    assert_eq!(int_field(sale, "total"), 38000);
    assert_eq!(int_field(sale, "change"), 12000);
    assert!(int_field(sale, "version") > 0, "{sale}");
    assert_eq!(sale["status"], "completed");
}

#[test]
fn sale_applies_line_and_sale_discounts() {
    let setup = sales_shop("saledisc");
    let mut body = setup.standard_sale(json!([{"method": "qris", "amount": 35000}]));
    body["items"][0]["discount"] = json!(1000);
    body["discount"] = json!(2000);

    let response = setup.post_sale(&api(), &setup.kasir, &body);

    response.expect_status(201);
    assert_eq!(int_field(&response.json, "subtotal"), 37000);
    assert_eq!(int_field(&response.json, "total"), 35000);
    assert_eq!(int_field(&response.json, "change"), 0);
}

#[test]
fn sale_rounds_fractional_quantity_half_up() {
    let setup = sales_shop("saleqty");
    let body = sale_body(
        setup.kasir.device(),
        &setup.shop.tenant.default_outlet_id,
        &[Line {
            product_id: &setup.bread_id,
            qty: json!(1.5),
            unit_price: 999,
        }],
        cash(1499),
    );

    let response = setup.post_sale(&api(), &setup.kasir, &body);

    response.expect_status(201);
    assert_eq!(int_field(&response.json, "subtotal"), 1499);
    assert_eq!(int_field(&response.json, "total"), 1499);
}

#[test]
fn sale_with_wrong_total_is_rejected() {
    let setup = sales_shop("saletot");
    let mut body = setup.standard_sale(cash(50000));
    body["total"] = json!(40000);

    let response = setup.post_sale(&api(), &setup.kasir, &body);

    response.expect_error(422, "validation_failed");
    assert!(
        response.detail_codes().iter().any(|code| code == "total_mismatch"),
        "no total_mismatch detail: {}",
        response.text
    );
    let details = serde_json::to_string(&response.error_details()).unwrap_or_default();
    assert!(details.contains("38000"), "details lack the server's total: {details}");
    assert!(details.contains("40000"), "details lack the client's total: {details}");
}

#[test]
fn sale_with_right_client_figures_is_accepted() {
    let setup = sales_shop("salefig");
    let mut body = setup.standard_sale(cash(38000));
    body["subtotal"] = json!(38000);
    body["tax"] = json!(0);
    body["total"] = json!(38000);

    let response = setup.post_sale(&api(), &setup.kasir, &body);

    response.expect_status(201);
    assert_eq!(int_field(&response.json, "change"), 0);
}

#[test]
fn sale_payments_must_cover_total() {
    let setup = sales_shop("salepay");
    let api = api();

    let underpaid = setup.standard_sale(cash(30000));
    setup
        .post_sale(&api, &setup.kasir, &underpaid)
        .expect_error(422, "validation_failed");

    let overpaid_qris = setup.standard_sale(json!([{"method": "qris", "amount": 40000}]));
    setup
        .post_sale(&api, &setup.kasir, &overpaid_qris)
        .expect_error(422, "validation_failed");

    let split = setup.standard_sale(json!([
        {"method": "qris", "amount": 20000},
        {"method": "cash", "amount": 20000},
    ]));
    let response = setup.post_sale(&api, &setup.kasir, &split);
    response.expect_status(201);
    assert_eq!(int_field(&response.json, "change"), 2000);
}

#[test]
fn sale_replay_returns_same_sale_once() {
    let setup = sales_shop("salerep");
    let api = api();
    let body = setup.standard_sale(cash(50000));

    let first = setup.post_sale(&api, &setup.kasir, &body);
    let replay = setup.post_sale(&api, &setup.kasir, &body);

    first.expect_status(201);
    replay.expect_status(200);
    assert_eq!(replay.json, first.json);
    let sales = list_all(&api, "/v1/transactions", &setup.shop.owner.access_token, 50);
    let id = body["id"].as_str().unwrap_or_default();
    let copies = ids_of(&sales).iter().filter(|listed| *listed == id).count();
    assert_eq!(copies, 1, "the replayed sale is listed {copies} times");
}

#[test]
fn sale_same_id_other_body_conflicts() {
    let setup = sales_shop("saleconf");
    let api = api();
    let body = setup.standard_sale(cash(50000));
    setup.post_sale(&api, &setup.kasir, &body).expect_status(201);

    let mut changed = body.clone();
    changed["items"][0]["qty"] = json!(3);
    let response = setup.post_sale(&api, &setup.kasir, &changed);

    response.expect_status(409);
    let stored = api
        .get(&format!("/v1/transactions/{}", body["id"].as_str().unwrap_or_default()))
        .bearer(&setup.shop.owner.access_token)
        .send();
    assert_eq!(
        int_field(&stored.json, "total"),
        38000,
        "the conflicting body changed the sale"
    );
}

#[test]
fn sale_duplicate_receipt_number_conflicts() {
    let setup = sales_shop("salercpt");
    let api = api();
    let first = setup.standard_sale(cash(50000));
    setup.post_sale(&api, &setup.kasir, &first).expect_status(201);

    let mut second = setup.standard_sale(cash(50000));
    second["receipt_no"] = first["receipt_no"].clone();
    let response = setup.post_sale(&api, &setup.kasir, &second);

    response.expect_error(409, "duplicate_receipt_no");
}

#[test]
fn sale_device_must_match_token() {
    let setup = sales_shop("saledev");
    let api = api();
    let other_device = api
        .post("/v1/devices")
        .bearer(&setup.shop.owner.access_token)
        .json(&json!({"name": "Tablet Lain"}));
    other_device.expect_status(201);

    let mut body = setup.standard_sale(cash(50000));
    body["device_id"] = other_device.json["id"].clone();
    let response = setup.post_sale(&api, &setup.kasir, &body);

    response.expect_status(403);
}

#[test]
fn sales_list_and_get_by_id() {
    let setup = sales_shop("salelist");
    let api = api();
    let body = setup.standard_sale(cash(50000));
    let created = setup.post_sale(&api, &setup.kasir, &body);
    created.expect_status(201);
    let id = body["id"].as_str().unwrap_or_default();

    let fetched = api
        .get(&format!("/v1/transactions/{id}"))
        .bearer(&setup.kasir.access_token)
        .send();
    fetched.expect_status(200);
    assert_eq!(fetched.json["id"], json!(id));
    assert_eq!(int_field(&fetched.json, "total"), 38000);
    assert_eq!(int_field(&fetched.json, "change"), 12000);

    for session in [&setup.kasir, &setup.shop.owner] {
        let sales = list_all(&api, "/v1/transactions", &session.access_token, 50);
        assert_eq!(ids_of(&sales), [id], "list for role {}", session.role);
    }
}

#[test]
fn kasir_cannot_read_another_kasirs_sale() {
    let setup = sales_shop("salepriv");
    let api = api();
    let (_, other_kasir) = create_user_session(&api, &setup.shop.tenant, &setup.shop.owner, "kasir", "Tablet Dua");
    let body = setup.standard_sale(cash(50000));
    setup.post_sale(&api, &setup.kasir, &body).expect_status(201);
    let path = format!("/v1/transactions/{}", body["id"].as_str().unwrap_or_default());

    api.get(&path)
        .bearer(&other_kasir.access_token)
        .send()
        .expect_error(404, "not_found");
    let other_list = list_all(&api, "/v1/transactions", &other_kasir.access_token, 50);
    assert!(other_list.is_empty(), "another kasir lists the sale: {other_list:?}");
    api.get(&path)
        .bearer(&setup.shop.owner.access_token)
        .send()
        .expect_status(200);
}

#[test]
fn unknown_and_malformed_sale_ids_are_404() {
    let shop = new_shop("sale404");
    let api = api();
    let token = shop.owner.access_token.as_str();

    api.get(&format!("/v1/transactions/{}", kasir_tests::new_id()))
        .bearer(token)
        .send()
        .expect_error(404, "not_found");
    api.get("/v1/transactions/bukan-uuid")
        .bearer(token)
        .send()
        .expect_error(404, "not_found");
}
