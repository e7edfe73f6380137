//! Catalog CRUD (products, categories, outlets, customers), list pages,
//! search, input validation and tenant isolation.

use kasir_tests::{create_product, create_user_session, new_id, Api, Session};
use serde_json::{json, Value};

use crate::{api, ids_of, int_field, list_all, new_shop};

/// Creates, reads, patches, lists and deletes one record of `resource`, and
/// checks the version and the 404 after delete.
fn check_crud(api: &Api, session: &Session, resource: &str, create: Value, patch: Value) {
    let token = session.access_token.as_str();
    let collection = format!("/v1/{resource}");

    let created = api.post(&collection).bearer(token).json(&create);
    created.expect_status(201);
    let id = created.str_field("id");
    let first_version = int_field(&created.json, "version");
    for (field, value) in create.as_object().expect("create body is an object") {
        assert_eq!(
            &created.json[field], value,
            "{resource}.{field} after create: {}",
            created.text
        );
    }

    let path = format!("{collection}/{id}");
    let fetched = api.get(&path).bearer(token).send();
    fetched.expect_status(200);
    assert_eq!(
        fetched.json, created.json,
        "GET {path} differs from the create response"
    );

    let patched = api.patch(&path).bearer(token).json(&patch);
    patched.expect_status(200);
    let patched_version = int_field(&patched.json, "version");
    assert!(
        patched_version > first_version,
        "{resource} version went from {first_version} to {patched_version} on PATCH"
    );
    for (field, value) in patch.as_object().expect("patch body is an object") {
        assert_eq!(
            &patched.json[field], value,
            "{resource}.{field} after patch: {}",
            patched.text
        );
    }

    let listed = list_all(api, &collection, token, 50);
    assert!(ids_of(&listed).contains(&id), "{id} missing from GET {collection}");

    api.delete(&path).bearer(token).send().expect_status(204);
    api.get(&path).bearer(token).send().expect_error(404, "not_found");
    let listed_after = list_all(api, &collection, token, 50);
    assert!(!ids_of(&listed_after).contains(&id), "deleted {id} still listed");
}

#[test]
fn product_crud_round_trip() {
    let shop = new_shop("prodcrud");

    check_crud(
        &api(),
        &shop.owner,
        "products",
        json!({"name": "Kopi Susu", "price": 22000, "sku": "KOPI-001"}),
        json!({"price": 24000, "name": "Kopi Susu Gula Aren"}),
    );
}

#[test]
fn category_crud_round_trip() {
    let shop = new_shop("catcrud");

    check_crud(
        &api(),
        &shop.owner,
        "categories",
        json!({"name": "Minuman"}),
        json!({"name": "Minuman Dingin"}),
    );
}

#[test]
fn outlet_crud_round_trip() {
    let shop = new_shop("outcrud");

    check_crud(
        &api(),
        &shop.owner,
        "outlets",
        json!({"code": "CBG2", "name": "Cabang Kemang"}),
        json!({"name": "Cabang Kemang Raya"}),
    );
}

#[test]
fn customer_crud_round_trip() {
    let shop = new_shop("custcrud");

    check_crud(
        &api(),
        &shop.owner,
        "customers",
        json!({"name": "Budi Santoso"}),
        json!({"name": "Budi S."}),
    );
}

#[test]
fn product_create_fills_defaults() {
    let shop = new_shop("proddef");

    let product = create_product(&api(), &shop.owner, "Roti Tawar", 18000);

    assert_eq!(product["unit"], "pcs");
    assert_eq!(product["track_stock"], json!(false));
    assert_eq!(product["is_active"], json!(true));
    assert!(product["version"].is_i64(), "version is not an integer: {product}");
    assert!(product["updated_at"].is_string(), "updated_at missing: {product}");
    assert!(product["deleted_at"].is_null(), "new product is deleted: {product}");
}

#[test]
fn product_keeps_client_id() {
    let shop = new_shop("prodid");
    let id = new_id();

    let response = api()
        .post("/v1/products")
        .bearer(&shop.owner.access_token)
        .json(&json!({"id": id, "name": "Donat Gula", "price": 6000}));

    response.expect_status(201);
    assert_eq!(response.json["id"], json!(id));
}

#[test]
fn products_list_pages_in_name_order() {
    let shop = new_shop("prodpage");
    let api = api();
    let names = ["Donat Gula", "Air Mineral", "Es Teh", "Cireng", "Bolu Pandan"];
    for (index, name) in names.iter().enumerate() {
        create_product(&api, &shop.owner, name, 5000 + 1000 * index as i64);
    }

    let first_page = api
        .get("/v1/products")
        .bearer(&shop.owner.access_token)
        .query("limit", "2")
        .send();
    first_page.expect_status(200);
    assert_eq!(first_page.items().len(), 2);
    assert!(
        first_page.next_cursor().is_some(),
        "first of three pages has no next_cursor"
    );

    let products = list_all(&api, "/v1/products", &shop.owner.access_token, 2);
    let listed: Vec<&str> = products
        .iter()
        .map(|product| product["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(listed, ["Air Mineral", "Bolu Pandan", "Cireng", "Donat Gula", "Es Teh"]);
}

/// Returns the names of the products that `GET /v1/products?q=` finds.
fn search_names(api: &Api, session: &Session, query: &str) -> Vec<String> {
    let response = api
        .get("/v1/products")
        .bearer(&session.access_token)
        .query("q", query)
        .send();
    response.expect_status(200);
    let mut names: Vec<String> = response
        .items()
        .iter()
        .map(|product| product["name"].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn products_search_by_name_sku_and_barcode() {
    let shop = new_shop("prodsrch");
    let api = api();
    let catalog = [
        ("Kopi Susu Gula Aren", "KOPI-001", "8991001000011"),
        ("Es Kopi Hitam", "KOPI-002", "8991001000028"),
        ("Teh Tarik", "TEH-001", "8991001000035"),
    ];
    for (name, sku, barcode) in catalog {
        api.post("/v1/products")
            .bearer(&shop.owner.access_token)
            .json(&json!({"name": name, "sku": sku, "barcode": barcode, "price": 20000}))
            .expect_status(201);
    }

    assert_eq!(search_names(&api, &shop.owner, "GULA"), ["Kopi Susu Gula Aren"]);
    assert_eq!(
        search_names(&api, &shop.owner, "kopi"),
        ["Es Kopi Hitam", "Kopi Susu Gula Aren"]
    );
    assert_eq!(search_names(&api, &shop.owner, "TEH-"), ["Teh Tarik"]);
    assert!(
        search_names(&api, &shop.owner, "EH-001").is_empty(),
        "SKU matched inside, not as a prefix"
    );
    assert_eq!(search_names(&api, &shop.owner, "8991001000028"), ["Es Kopi Hitam"]);
    assert!(
        search_names(&api, &shop.owner, "899100100002").is_empty(),
        "barcode matched by prefix"
    );
}

#[test]
fn product_unknown_field_is_rejected() {
    let shop = new_shop("produnk");

    let response = api()
        .post("/v1/products")
        .bearer(&shop.owner.access_token)
        .json(&json!({"name": "Roti Sobek", "price": 15000, "warna": "cokelat"}));

    response.expect_error(422, "validation_failed");
    let unknown: Vec<Value> = response
        .error_details()
        .into_iter()
        .filter(|detail| detail["code"] == "unknown_field")
        .collect();
    assert_eq!(unknown.len(), 1, "details: {}", response.text);
    assert!(
        unknown[0]["field"]
            .as_str()
            .is_some_and(|field| field.contains("warna")),
        "unknown_field detail does not name the field: {}",
        response.text
    );
}

#[test]
fn product_invalid_values_are_rejected() {
    let shop = new_shop("prodbad");
    let api = api();
    let invalid_bodies = [
        json!({"name": "Roti Minus", "price": -1000}),
        json!({"name": "Roti Mahal", "price": 9_007_199_254_740_992_u64}),
        json!({"name": "Tanpa Harga"}),
        json!({"price": 5000}),
        json!({"name": "Harga Teks", "price": "5000"}),
    ];

    for body in invalid_bodies {
        let response = api.post("/v1/products").bearer(&shop.owner.access_token).json(&body);

        assert_eq!(response.status, 422, "{body} was not rejected: {}", response.text);
        assert_eq!(
            response.error_code(),
            Some("validation_failed"),
            "{body}: {}",
            response.text
        );
    }
}

#[test]
fn patch_with_negative_price_is_rejected() {
    let shop = new_shop("patchbad");
    let api = api();
    let product = create_product(&api, &shop.owner, "Roti Keju", 17000);
    let path = format!("/v1/products/{}", product["id"].as_str().unwrap_or_default());

    let response = api
        .patch(&path)
        .bearer(&shop.owner.access_token)
        .json(&json!({"price": -1}));

    response.expect_error(422, "validation_failed");
    let unchanged = api.get(&path).bearer(&shop.owner.access_token).send();
    assert_eq!(unchanged.json["price"], json!(17000));
    assert_eq!(unchanged.json["version"], product["version"]);
}

#[test]
fn form_body_is_unsupported_media_type() {
    let shop = new_shop("form");

    let response = api()
        .post("/v1/products")
        .bearer(&shop.owner.access_token)
        .raw("application/x-www-form-urlencoded", b"name=Roti&price=5000");

    response.expect_error(415, "unsupported_media_type");
}

#[test]
fn unparsable_json_is_unsupported_media_type() {
    let shop = new_shop("badjson");

    let response = api()
        .post("/v1/products")
        .bearer(&shop.owner.access_token)
        .raw("application/json", b"{\"name\": \"Roti\", \"price\": ");

    response.expect_error(415, "unsupported_media_type");
}

#[test]
fn malformed_id_in_path_is_404() {
    let shop = new_shop("badid");
    let api = api();
    let token = shop.owner.access_token.as_str();

    for resource in ["products", "categories", "outlets", "customers"] {
        let path = format!("/v1/{resource}/bukan-uuid");

        api.get(&path).bearer(token).send().expect_error(404, "not_found");
        api.patch(&path)
            .bearer(token)
            .json(&json!({"name": "X"}))
            .expect_error(404, "not_found");
        api.delete(&path).bearer(token).send().expect_error(404, "not_found");
    }
}

#[test]
fn garbage_cursor_is_rejected() {
    let shop = new_shop("badcur");

    let response = api()
        .get("/v1/products")
        .bearer(&shop.owner.access_token)
        .query("cursor", "%%%bukan-kursor%%%")
        .send();

    response.expect_error(422, "validation_failed");
}

#[test]
fn outlet_code_must_match_rule() {
    let shop = new_shop("outcode");
    let api = api();

    for code in ["pusat2", "A", "CABANG-1", "TERLALUPANJANG"] {
        let response = api
            .post("/v1/outlets")
            .bearer(&shop.owner.access_token)
            .json(&json!({"code": code, "name": "Cabang"}));

        assert_eq!(response.status, 422, "outlet code {code:?} accepted: {}", response.text);
        assert_eq!(response.error_code(), Some("validation_failed"));
    }
}

#[test]
fn kasir_reads_catalog_and_writes_only_customers() {
    let shop = new_shop("kasircat");
    let api = api();
    let product = create_product(&api, &shop.owner, "Roti Cokelat", 12000);
    let (_, kasir) = create_user_session(&api, &shop.tenant, &shop.owner, "kasir", "Tablet 1");
    let token = kasir.access_token.as_str();

    let listed = list_all(&api, "/v1/products", token, 50);
    assert_eq!(ids_of(&listed), [product["id"].as_str().unwrap_or_default()]);

    api.post("/v1/products")
        .bearer(token)
        .json(&json!({"name": "Roti Gelap", "price": 1}))
        .expect_error(403, "forbidden");
    api.patch(&format!("/v1/products/{}", product["id"].as_str().unwrap_or_default()))
        .bearer(token)
        .json(&json!({"price": 1}))
        .expect_error(403, "forbidden");
    api.post("/v1/categories")
        .bearer(token)
        .json(&json!({"name": "Gelap"}))
        .expect_error(403, "forbidden");

    let customer = api
        .post("/v1/customers")
        .bearer(token)
        .json(&json!({"name": "Pelanggan Setia"}));
    customer.expect_status(201);
}

#[test]
fn other_tenants_product_is_404_and_unchanged() {
    let owner_shop = new_shop("isoown");
    let other_shop = new_shop("isooth");
    let api = api();
    let product = create_product(&api, &owner_shop.owner, "Roti Rahasia", 30000);
    let path = format!("/v1/products/{}", product["id"].as_str().unwrap_or_default());
    let intruder = other_shop.owner.access_token.as_str();

    api.get(&path).bearer(intruder).send().expect_error(404, "not_found");
    api.patch(&path)
        .bearer(intruder)
        .json(&json!({"price": 1}))
        .expect_error(404, "not_found");
    api.delete(&path).bearer(intruder).send().expect_error(404, "not_found");
    let intruder_list = list_all(&api, "/v1/products", intruder, 50);
    assert!(
        intruder_list.is_empty(),
        "other tenant sees products: {intruder_list:?}"
    );

    let stored = api.get(&path).bearer(&owner_shop.owner.access_token).send();
    stored.expect_status(200);
    assert_eq!(stored.json, product, "the product changed through another tenant");
}

#[test]
fn two_tenants_may_hold_the_same_id() {
    let first = new_shop("sameid");
    let second = new_shop("sameid");
    let api = api();
    let shared_id = new_id();

    for (shop, name, price) in [(&first, "Roti Satu", 10000), (&second, "Roti Dua", 20000)] {
        api.post("/v1/products")
            .bearer(&shop.owner.access_token)
            .json(&json!({"id": shared_id, "name": name, "price": price}))
            .expect_status(201);
    }

    let path = format!("/v1/products/{shared_id}");
    let first_copy = api.get(&path).bearer(&first.owner.access_token).send();
    let second_copy = api.get(&path).bearer(&second.owner.access_token).send();
    assert_eq!(first_copy.json["name"], "Roti Satu");
    assert_eq!(first_copy.json["price"], json!(10000));
    assert_eq!(second_copy.json["name"], "Roti Dua");
    assert_eq!(second_copy.json["price"], json!(20000));
}
