//! A customer's purchase history, `GET /v1/customers/{id}/transactions`.

use kasir_tests::Session;
use serde_json::json;

use crate::{api, cash, line, pos_shop, post_sale};

/// Creates a customer as `session` and returns its id.
#[track_caller]
fn create_customer(session: &Session, name: &str) -> String {
    let response = api()
        .post("/v1/customers")
        .bearer(&session.access_token)
        .json(&json!({"name": name}));
    response.expect_status(201);
    response.str_field("id")
}

#[test]
fn customer_sale_appears_in_history() {
    let shop = pos_shop("custhist");
    let coffee = shop.product("Kopi Susu", 15_000);
    let customer = create_customer(&shop.kasir, "Bu Sari");
    let other_customer = create_customer(&shop.owner, "Pak Budi");
    let mut with_customer = shop.sale_body(&shop.kasir, json!([line(&coffee, json!(1), 15_000)]), cash(15_000));
    with_customer["customer_id"] = json!(customer);
    let mut for_other = shop.sale_body(&shop.kasir, json!([line(&coffee, json!(2), 15_000)]), cash(30_000));
    for_other["customer_id"] = json!(other_customer);
    let anonymous = shop.sale_body(&shop.kasir, json!([line(&coffee, json!(3), 15_000)]), cash(45_000));
    for body in [&with_customer, &for_other, &anonymous] {
        shop.sell(&shop.kasir, body);
    }

    let history = api()
        .get(&format!("/v1/customers/{customer}/transactions"))
        .bearer(&shop.owner.access_token)
        .send();

    history.expect_status(200);
    let items = history.items();
    assert_eq!(items.len(), 1, "{}", history.text);
    assert_eq!(items[0]["id"], with_customer["id"]);
    assert_eq!(items[0]["customer_id"], json!(customer));
    assert_eq!(items[0]["total"], json!(15_000));
    assert_eq!(history.next_cursor(), None);

    let kasir_view = api()
        .get(&format!("/v1/customers/{customer}/transactions"))
        .bearer(&shop.kasir.access_token)
        .send();
    kasir_view.expect_status(200);
    assert_eq!(kasir_view.items().len(), 1, "{}", kasir_view.text);
}

#[test]
fn other_tenants_customer_is_404() {
    let shop = pos_shop("custown");
    let other_shop = pos_shop("custother");
    let coffee = other_shop.product("Kopi Susu", 15_000);
    let foreign_customer = create_customer(&other_shop.owner, "Bu Sari");
    let mut body = other_shop.sale_body(
        &other_shop.kasir,
        json!([line(&coffee, json!(1), 15_000)]),
        cash(15_000),
    );
    body["customer_id"] = json!(foreign_customer);
    other_shop.sell(&other_shop.kasir, &body);

    let history = api()
        .get(&format!("/v1/customers/{foreign_customer}/transactions"))
        .bearer(&shop.owner.access_token)
        .send();

    history.expect_error(404, "not_found");
    let own_coffee = shop.product("Kopi Susu", 15_000);
    let mut own_sale = shop.sale_body(&shop.kasir, json!([line(&own_coffee, json!(1), 15_000)]), cash(15_000));
    own_sale["customer_id"] = json!(foreign_customer);
    let response = post_sale(&shop.kasir, &own_sale);
    response.expect_error(422, "validation_failed");
    assert!(
        response.detail_codes().contains(&"invalid_reference".to_string()),
        "{}",
        response.text
    );
    api()
        .get(&format!("/v1/customers/{}/transactions", kasir_tests::new_id()))
        .bearer(&shop.owner.access_token)
        .send()
        .expect_error(404, "not_found");
}
