//! Who may read and close which shift, list filters and pagination, and missing shifts.

use kasir_tests::new_id;
use serde_json::json;

use crate::{api, ids_of, shift_shop, string_field};

#[test]
fn another_kasirs_shift_is_hidden() {
    let shop = shift_shop("shiftpriv");
    let other_kasir = shop.new_user("kasir", "Tablet Dua");
    let shift = shop.open(&shop.kasir, 100_000);
    let shift_id = string_field(&shift, "id");

    shop.show(&other_kasir, &shift_id).expect_error(404, "not_found");
    shop.close(&other_kasir, &shift_id, 100_000)
        .expect_error(404, "not_found");

    let stored = shop.show(&shop.kasir, &shift_id);
    stored.expect_status(200);
    assert_eq!(stored.json["status"], "open", "another kasir closed the shift");
}

#[test]
fn kasir_lists_only_own_shifts() {
    let shop = shift_shop("shiftmine");
    let other_kasir = shop.new_user("kasir", "Tablet Dua");
    let own = shop.open(&shop.kasir, 100_000);
    let others = shop.open(&other_kasir, 100_000);

    let listed = api().get("/v1/shifts").bearer(&shop.kasir.access_token).send();
    // Asking for another user's shifts by filter still shows none of them.
    let filtered = api()
        .get("/v1/shifts")
        .bearer(&shop.kasir.access_token)
        .query("user_id", &other_kasir.user_id)
        .send();

    listed.expect_status(200);
    assert_eq!(ids_of(&listed.items()), [string_field(&own, "id")]);
    filtered.expect_status(200);
    assert!(filtered.items().is_empty(), "{}", filtered.text);
    let owner_view = api().get("/v1/shifts").bearer(&shop.owner.access_token).send();
    let mut all = ids_of(&owner_view.items());
    all.sort();
    let mut expected = vec![string_field(&own, "id"), string_field(&others, "id")];
    expected.sort();
    assert_eq!(all, expected);
}

#[test]
fn list_filters_by_status_outlet_and_user() {
    let shop = shift_shop("shiftfilter");
    let admin = shop.new_user("admin", "Tablet Admin");
    let second_outlet = api()
        .post("/v1/outlets")
        .bearer(&shop.owner.access_token)
        .json(&json!({"code": "CABANG", "name": "Cabang Dua"}));
    second_outlet.expect_status(201);
    let second_outlet_id = second_outlet.str_field("id");

    let closed = shop.open(&shop.kasir, 100_000);
    shop.close(&shop.kasir, &string_field(&closed, "id"), 100_000)
        .expect_status(200);
    let open = shop.open(&shop.kasir, 50_000);
    let at_branch = api()
        .post("/v1/shifts")
        .bearer(&admin.access_token)
        .json(&json!({"outlet_id": second_outlet_id, "opening_float": 10_000}));
    at_branch.expect_status(201);

    let list = |filters: &[(&str, &str)]| {
        let mut request = api().get("/v1/shifts").bearer(&shop.owner.access_token);
        for (name, value) in filters {
            request = request.query(name, value);
        }
        let response = request.send();
        response.expect_status(200);
        ids_of(&response.items())
    };

    assert_eq!(list(&[("status", "closed")]), [string_field(&closed, "id")]);
    let mut open_ids = list(&[("status", "open")]);
    open_ids.sort();
    let mut expected_open = vec![string_field(&open, "id"), at_branch.str_field("id")];
    expected_open.sort();
    assert_eq!(open_ids, expected_open);
    assert_eq!(list(&[("outlet_id", &second_outlet_id)]), [at_branch.str_field("id")]);
    assert_eq!(
        list(&[("user_id", &shop.kasir.user_id), ("status", "open")]),
        [string_field(&open, "id")]
    );
    // Newest first.
    assert_eq!(
        list(&[("user_id", &shop.kasir.user_id)]),
        [string_field(&open, "id"), string_field(&closed, "id")]
    );
}

#[test]
fn list_rejects_invalid_filters() {
    let shop = shift_shop("shiftbadfilter");
    let token = shop.owner.access_token.as_str();

    for (name, value) in [
        ("status", "pending"),
        ("outlet_id", "PUSAT"),
        ("user_id", "nobody"),
        ("cursor", "garbage!"),
        ("limit", "0"),
    ] {
        let response = api().get("/v1/shifts").bearer(token).query(name, value).send();

        response.expect_error(422, "validation_failed");
    }
}

#[test]
fn list_pages_with_cursor() {
    let shop = shift_shop("shiftpages");
    let mut opened = Vec::new();
    for role in ["kasir", "kasir", "admin", "kasir"] {
        let user = shop.new_user(role, "Tablet");
        opened.push(string_field(&shop.open(&user, 1_000), "id"));
    }
    opened.push(string_field(&shop.open(&shop.kasir, 1_000), "id"));

    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut request = api()
            .get("/v1/shifts")
            .bearer(&shop.owner.access_token)
            .query("limit", "2");
        if let Some(cursor) = &cursor {
            request = request.query("cursor", cursor);
        }
        let page = request.send();
        page.expect_status(200);
        assert!(page.items().len() <= 2, "{}", page.text);
        paged.extend(ids_of(&page.items()));
        cursor = page.next_cursor();
        if cursor.is_none() {
            break;
        }
    }

    let whole = api().get("/v1/shifts").bearer(&shop.owner.access_token).send();
    let whole = ids_of(&whole.items());
    assert_eq!(paged, whole, "pages differ from the single list");
    let mut sorted = paged.clone();
    sorted.sort();
    opened.sort();
    assert_eq!(sorted, opened);
}

#[test]
fn missing_shift_ids_are_404() {
    let shop = shift_shop("shift404");
    let token = shop.owner.access_token.as_str();

    for path in [format!("/v1/shifts/{}", new_id()), "/v1/shifts/bukan-uuid".to_string()] {
        api().get(&path).bearer(token).send().expect_error(404, "not_found");
    }
    for path in [
        format!("/v1/shifts/{}/close", new_id()),
        "/v1/shifts/bukan-uuid/close".to_string(),
    ] {
        api()
            .post(&path)
            .bearer(token)
            .json(&json!({"counted_cash": 0}))
            .expect_error(404, "not_found");
    }
}

#[test]
fn another_tenants_shift_is_404() {
    let shop = shift_shop("shifttenant");
    let other_shop = shift_shop("shiftother");
    let shift = shop.open(&shop.kasir, 100_000);
    let shift_id = string_field(&shift, "id");

    other_shop
        .show(&other_shop.owner, &shift_id)
        .expect_error(404, "not_found");
    other_shop
        .close(&other_shop.owner, &shift_id, 0)
        .expect_error(404, "not_found");
}

#[test]
fn disabled_shifts_module_is_403() {
    let shop = shift_shop("shiftmodule");
    let modules = json!(["catalog", "customers", "sales", "inventory", "reports", "files", "sync"]);
    api()
        .patch("/v1/tenant")
        .bearer(&shop.owner.access_token)
        .json(&json!({"modules": modules}))
        .expect_status(200);

    let response = shop.try_open(&shop.kasir, 100_000);

    response.expect_error(403, "module_disabled");
}

#[test]
fn kasir_sees_own_shift_sales() {
    let shop = shift_shop("shiftsales");
    let other_kasir = shop.new_user("kasir", "Tablet Dua");
    let shift = shop.open(&shop.kasir, 0);
    let shift_id = string_field(&shift, "id");
    let own = shop.sell(
        &shop.kasir,
        Some(&shift_id),
        &[(&shop.bread_id, 1, crate::BREAD_PRICE)],
        json!([{"method": "cash", "amount": 8_000}]),
    );
    // Another kasir's terminal tags a sale with this shift's id.
    let foreign = shop.sell(
        &other_kasir,
        Some(&shift_id),
        &[(&shop.bread_id, 1, crate::BREAD_PRICE)],
        json!([{"method": "cash", "amount": 8_000}]),
    );

    let kasir_view = shop.show(&shop.kasir, &shift_id);
    let owner_view = shop.show(&shop.owner, &shift_id);

    kasir_view.expect_status(200);
    let kasir_sales = kasir_view.json["sales"].as_array().cloned().unwrap_or_default();
    assert_eq!(ids_of(&kasir_sales), [string_field(&own, "id")]);
    let owner_sales = owner_view.json["sales"].as_array().cloned().unwrap_or_default();
    assert_eq!(owner_sales.len(), 2, "{}", owner_view.text);
    assert!(ids_of(&owner_sales).contains(&string_field(&foreign, "id")));
    // Both sales carry the shift's id, so both count towards its cash.
    assert_eq!(kasir_view.json["expected_cash"], json!(16_000));
}
