//! Native sync: push results, retried pushes, pull pages and limits.

use std::collections::HashMap;

use kasir_tests::{create_user_session, hlc_now, new_id, Api, Session};
use serde_json::{json, Value};

use crate::{api, int_field, new_shop, sale_body, Line, Shop};

/// A shop with an admin on device A, who may write the catalog, and a kasir
/// on device B.
struct SyncShop {
    shop: Shop,
    device_a: Session,
    device_b: Session,
}

fn sync_shop(code_prefix: &str) -> SyncShop {
    let api = api();
    let shop = new_shop(code_prefix);
    let (_, device_a) = create_user_session(&api, &shop.tenant, &shop.owner, "admin", "Tablet A");
    let (_, device_b) = create_user_session(&api, &shop.tenant, &shop.owner, "kasir", "Tablet B");
    SyncShop {
        shop,
        device_a,
        device_b,
    }
}

fn upsert(device_id: &str, entity: &str, record_id: &str, data: Value) -> Value {
    json!({
        "id": new_id(),
        "entity": entity,
        "op": "upsert",
        "record_id": record_id,
        "data": data,
        "hlc": hlc_now(device_id),
    })
}

fn product_upserts(device_id: &str, names_and_prices: &[(&str, i64)]) -> Vec<Value> {
    names_and_prices
        .iter()
        .map(|(name, price)| upsert(device_id, "products", &new_id(), json!({"name": name, "price": price})))
        .collect()
}

fn push(api: &Api, session: &Session, mutations: &[Value]) -> kasir_tests::ApiResponse {
    api.post("/v1/sync/push").bearer(&session.access_token).json(&json!({
        "device_id": session.device(),
        "schema_version": 1,
        "mutations": mutations,
    }))
}

/// Returns the push results, after checking there is one per mutation, in order.
#[track_caller]
fn results_of(response: &kasir_tests::ApiResponse, mutations: &[Value]) -> Vec<Value> {
    response.expect_status(200);
    let results = response.json["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        results.len(),
        mutations.len(),
        "one result per mutation: {}",
        response.text
    );
    for (result, mutation) in results.iter().zip(mutations) {
        assert_eq!(
            result["mutation_id"], mutation["id"],
            "results out of order: {}",
            response.text
        );
    }
    results
}

#[test]
fn push_applies_product_upserts() {
    let setup = sync_shop("pushprod");
    let api = api();
    let mutations = product_upserts(
        setup.device_a.device(),
        &[("Kopi Susu", 22000), ("Roti Tawar", 18000), ("Teh Melati", 12000)],
    );

    let response = push(&api, &setup.device_a, &mutations);

    let results = results_of(&response, &mutations);
    for result in &results {
        assert_eq!(result["status"], "applied", "{}", response.text);
        assert!(int_field(result, "version") > 0, "{}", response.text);
    }
    let max_version = results.iter().map(|r| int_field(r, "version")).max().unwrap_or(0);
    assert!(int_field(&response.json, "version") >= max_version, "{}", response.text);

    let first_id = mutations[0]["record_id"].as_str().unwrap_or_default();
    let stored = api
        .get(&format!("/v1/products/{first_id}"))
        .bearer(&setup.shop.owner.access_token)
        .send();
    stored.expect_status(200);
    assert_eq!(stored.json["name"], "Kopi Susu");
    assert_eq!(stored.json["price"], json!(22000));
    assert_eq!(stored.json["version"], results[0]["version"]);
}

#[test]
fn retried_push_returns_first_results() {
    let setup = sync_shop("pushretry");
    let api = api();
    let mutations = product_upserts(setup.device_a.device(), &[("Kue Lapis", 8000), ("Lemper Ayam", 7000)]);
    let first = push(&api, &setup.device_a, &mutations);
    let first_results = results_of(&first, &mutations);

    let retry = push(&api, &setup.device_a, &mutations);

    let retry_results = results_of(&retry, &mutations);
    assert_eq!(retry_results, first_results);
    for (mutation, result) in mutations.iter().zip(&first_results) {
        let record_id = mutation["record_id"].as_str().unwrap_or_default();
        let stored = api
            .get(&format!("/v1/products/{record_id}"))
            .bearer(&setup.shop.owner.access_token)
            .send();
        assert_eq!(
            stored.json["version"], result["version"],
            "the retry bumped {record_id}"
        );
    }
}

#[test]
fn push_lists_ignored_fields() {
    let setup = sync_shop("pushign");
    let mutations = vec![upsert(
        setup.device_a.device(),
        "products",
        &new_id(),
        json!({"name": "Onde-onde", "price": 5000, "warna_kemasan": "hijau"}),
    )];

    let response = push(&api(), &setup.device_a, &mutations);

    let results = results_of(&response, &mutations);
    assert_eq!(results[0]["status"], "applied", "{}", response.text);
    assert_eq!(results[0]["ignored_fields"], json!(["warna_kemasan"]));
}

#[test]
fn kasir_product_write_in_push_is_rejected() {
    let setup = sync_shop("pushkasir");
    let mutations = product_upserts(setup.device_b.device(), &[("Harga Liar", 1)]);

    let response = push(&api(), &setup.device_b, &mutations);

    let results = results_of(&response, &mutations);
    assert_eq!(results[0]["status"], "rejected", "{}", response.text);
    assert_eq!(results[0]["error"]["code"], "forbidden", "{}", response.text);
}

#[test]
fn push_of_sale_creates_transaction() {
    let setup = sync_shop("pushsale");
    let api = api();
    let products = product_upserts(setup.device_a.device(), &[("Kopi Tubruk", 15000), ("Roti Bakar", 8000)]);
    results_of(&push(&api, &setup.device_a, &products), &products);
    let sale = sale_body(
        setup.device_b.device(),
        &setup.shop.tenant.default_outlet_id,
        &[
            Line {
                product_id: products[0]["record_id"].as_str().unwrap_or_default(),
                qty: json!(2),
                unit_price: 15000,
            },
            Line {
                product_id: products[1]["record_id"].as_str().unwrap_or_default(),
                qty: json!(1),
                unit_price: 8000,
            },
        ],
        json!([{"method": "cash", "amount": 50000}]),
    );
    let sale_id = sale["id"].as_str().unwrap_or_default().to_string();
    let mutations = vec![upsert(setup.device_b.device(), "transactions", &sale_id, sale)];

    let response = push(&api, &setup.device_b, &mutations);

    let results = results_of(&response, &mutations);
    assert_eq!(results[0]["status"], "applied", "{}", response.text);
    let stored = api
        .get(&format!("/v1/transactions/{sale_id}"))
        .bearer(&setup.shop.owner.access_token)
        .send();
    stored.expect_status(200);
    assert_eq!(int_field(&stored.json, "total"), 38000);
    assert_eq!(int_field(&stored.json, "change"), 12000);
}

/// Returns entity, id and version of every upserted row on one pull page.
fn page_rows(page: &Value) -> Vec<(String, String, i64)> {
    let mut rows = Vec::new();
    let Some(changes) = page["changes"].as_object() else {
        return rows;
    };
    for (entity, change) in changes {
        for record in change["upserted"].as_array().into_iter().flatten() {
            rows.push((
                entity.clone(),
                record["id"].as_str().unwrap_or_default().to_string(),
                record["version"].as_i64().unwrap_or(-1),
            ));
        }
    }
    rows
}

#[test]
fn pull_pages_deliver_every_change_once() {
    let setup = sync_shop("pullpage");
    let api = api();
    let products = product_upserts(
        setup.device_a.device(),
        &[
            ("Bika Ambon", 9000),
            ("Kue Putu", 6000),
            ("Martabak Manis", 30000),
            ("Serabi", 7000),
        ],
    );
    let product_results = results_of(&push(&api, &setup.device_a, &products), &products);
    let sale = sale_body(
        setup.device_a.device(),
        &setup.shop.tenant.default_outlet_id,
        &[Line {
            product_id: products[0]["record_id"].as_str().unwrap_or_default(),
            qty: json!(3),
            unit_price: 9000,
        }],
        json!([{"method": "qris", "amount": 27000}]),
    );
    let sale_id = sale["id"].as_str().unwrap_or_default().to_string();
    let sale_push = vec![upsert(setup.device_a.device(), "transactions", &sale_id, sale)];
    results_of(&push(&api, &setup.device_a, &sale_push), &sale_push);

    let limit = 2;
    let mut seen: HashMap<(String, String), i64> = HashMap::new();
    let mut previous_max_version = 0;
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        assert!(pages < 50, "pull still had more after 50 pages");
        let mut request = api
            .get("/v1/sync/pull")
            .bearer(&setup.device_b.access_token)
            .query("limit", &limit.to_string());
        if let Some(cursor) = &cursor {
            request = request.query("cursor", cursor);
        }
        let page = request.send();
        page.expect_status(200);
        pages += 1;

        let rows = page_rows(&page.json);
        assert!(
            rows.len() <= limit,
            "page {pages} has {} rows: {}",
            rows.len(),
            page.text
        );
        for (entity, id, version) in rows {
            assert!(
                version > previous_max_version,
                "page {pages}: {entity} {id} has version {version}, not above {previous_max_version}"
            );
            let key = (entity.clone(), id.clone());
            assert!(!seen.contains_key(&key), "{entity} {id} pulled twice");
            seen.insert(key, version);
        }
        previous_max_version = seen.values().copied().max().unwrap_or(previous_max_version);

        cursor = Some(page.str_field("cursor"));
        if page.json["has_more"] == json!(false) {
            break;
        }
        assert_eq!(
            page.json["has_more"],
            json!(true),
            "has_more is not a boolean: {}",
            page.text
        );
    }

    assert!(pages >= 3, "5 changes at limit {limit} came in {pages} pages");
    for (mutation, result) in products.iter().zip(&product_results) {
        let key = (
            "products".to_string(),
            mutation["record_id"].as_str().unwrap_or_default().to_string(),
        );
        assert_eq!(
            seen.get(&key).copied(),
            result["version"].as_i64(),
            "product {} in pull",
            key.1
        );
    }
    assert!(
        seen.contains_key(&("transactions".to_string(), sale_id.clone())),
        "sale {sale_id} missing from the pull"
    );
}

#[test]
fn pull_needs_no_device() {
    let shop = new_shop("pullweb");

    let response = api().get("/v1/sync/pull").bearer(&shop.owner.access_token).send();

    response.expect_status(200);
    assert!(response.json["changes"].is_object(), "{}", response.text);
    assert!(response.json["cursor"].is_string(), "{}", response.text);
    assert!(response.json["has_more"].is_boolean(), "{}", response.text);
}

#[test]
fn pull_garbage_cursor_is_rejected() {
    let shop = new_shop("pullcur");

    let response = api()
        .get("/v1/sync/pull")
        .bearer(&shop.owner.access_token)
        .query("cursor", "bukan-kursor")
        .send();

    response.expect_error(422, "validation_failed");
}

#[test]
fn push_over_500_mutations_is_too_large() {
    let setup = sync_shop("push501");
    let device = setup.device_a.device();
    let mutations: Vec<Value> = (0..501)
        .map(|index| {
            upsert(
                device,
                "products",
                &new_id(),
                json!({"name": format!("Produk {index}"), "price": 1000}),
            )
        })
        .collect();

    let response = push(&api(), &setup.device_a, &mutations);

    response.expect_error(413, "payload_too_large");
}

#[test]
fn push_unknown_schema_version_is_rejected() {
    let setup = sync_shop("pushschema");
    let mutations = product_upserts(setup.device_a.device(), &[("Klepon", 5000)]);

    let response = api()
        .post("/v1/sync/push")
        .bearer(&setup.device_a.access_token)
        .json(&json!({
            "device_id": setup.device_a.device(),
            "schema_version": 99,
            "mutations": mutations,
        }));

    response.expect_error(422, "unsupported_schema_version");
}

#[test]
fn push_device_must_match_token() {
    let setup = sync_shop("pushdev");
    let mutations = product_upserts(setup.device_a.device(), &[("Getuk", 5000)]);

    let response = api()
        .post("/v1/sync/push")
        .bearer(&setup.device_a.access_token)
        .json(&json!({
            "device_id": setup.device_b.device(),
            "schema_version": 1,
            "mutations": mutations,
        }));

    response.expect_status(403);
}
