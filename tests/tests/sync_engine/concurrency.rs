//! Concurrent pushes: four devices of one tenant push at once on shared
//! products. The hub must serialize them into unique, gap-free versions, merge
//! each mutation by the rules, and a paged pull must end in the stored state.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use kasir_tests::{hlc_now, login_owner, ApiResponse, Session};
use serde_json::{json, Value};

use crate::{
    api, edit_mutation, int_field, pull_to_end, push, rest_new_product, results_of, sync_shop, upserted, STATUSES,
};

const PRODUCTS: usize = 10;
const PULL_LIMIT: u32 = 7;

/// The column each device owns, so its edits never overlap another device's.
const OWN_COLUMNS: [&str; 4] = ["price", "cost", "sku", "barcode"];

/// Value device `device` writes to its own column of product `product`.
fn own_value(device: usize, product: usize) -> Value {
    let product = product as i64;
    match OWN_COLUMNS[device] {
        "price" => json!(20000 + product * 100),
        "cost" => json!(15000 + product * 100),
        "sku" => json!(format!("SKU-{product:02}")),
        _ => json!(format!("899{product:010}")),
    }
}

fn name_from(device: usize, product: usize) -> String {
    format!("Produk {product} dari perangkat {device}")
}

/// What one device pushed and what the server returned.
struct DevicePush {
    device: usize,
    mutations: Vec<Value>,
    response: ApiResponse,
}

/// Lists every product over REST, following `next_cursor`, keyed by id.
#[track_caller]
fn list_products(session: &Session) -> BTreeMap<String, Value> {
    let api = api();
    let mut products = BTreeMap::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let mut request = api
            .get("/v1/products")
            .bearer(&session.access_token)
            .query("limit", "100");
        if let Some(cursor) = &cursor {
            request = request.query("cursor", cursor);
        }
        let page = request.send();
        page.expect_status(200);
        for item in page.items() {
            products.insert(item["id"].as_str().unwrap_or_default().to_string(), item);
        }
        cursor = page.next_cursor();
        if cursor.is_none() {
            return products;
        }
    }
    panic!("GET /v1/products still had a next_cursor after 50 pages");
}

#[test]
fn concurrent_pushes_get_unique_ordered_versions() {
    let shop = sync_shop("concurrent");
    let api = api();
    let device_c = login_owner(&api, &shop.tenant, Some("Tablet C"));
    let device_d = login_owner(&api, &shop.tenant, Some("Tablet D"));
    let sessions = [shop.device_a.clone(), shop.device_b.clone(), device_c, device_d];
    let mut products = Vec::new();
    for index in 0..PRODUCTS {
        products.push(rest_new_product(&api, &shop.owner, &format!("Produk {index}"), 10000));
    }
    let version_before = products.iter().map(|(_, version)| *version).max().unwrap_or(0);
    // Device clocks must run past the clock the server stamped on the creates.
    thread::sleep(Duration::from_millis(20));

    // Each device edits every product once from its created version: its own column,
    // which merges cleanly, and the name, which every device contests.
    let barrier = Arc::new(Barrier::new(sessions.len()));
    let handles: Vec<_> = sessions
        .iter()
        .enumerate()
        .map(|(device, session)| {
            let session = session.clone();
            let products = products.clone();
            let barrier = Arc::clone(&barrier);
            let api = api.clone();
            thread::spawn(move || {
                barrier.wait();
                let mutations: Vec<Value> = products
                    .iter()
                    .enumerate()
                    .map(|(product, (id, base))| {
                        let mut data = json!({"name": name_from(device, product)});
                        data[OWN_COLUMNS[device]] = own_value(device, product);
                        edit_mutation("products", id, *base, data, &hlc_now(session.device()))
                    })
                    .collect();
                let response = push(&api, &session, &mutations);
                DevicePush {
                    device,
                    mutations,
                    response,
                }
            })
        })
        .collect();
    let pushes: Vec<DevicePush> = handles
        .into_iter()
        .map(|handle| handle.join().expect("a pushing thread panicked"))
        .collect();

    // Every result is well-formed, and each push's versions rise in mutation order.
    let mut all_versions = Vec::new();
    // Per product: (version, hlc, device, status) of each edit.
    let mut edits: HashMap<String, Vec<(i64, String, usize, String)>> = HashMap::new();
    for device_push in &pushes {
        let results = results_of(&device_push.response, &device_push.mutations);
        let mut previous = version_before;
        for (mutation, result) in device_push.mutations.iter().zip(&results) {
            let status = result["status"].as_str().unwrap_or_default().to_string();
            assert!(STATUSES.contains(&status.as_str()), "unknown status: {result}");
            assert!(
                status == "applied" || status == "merged",
                "device {}: an edit of its own column must take effect: {result}",
                device_push.device
            );
            let version = int_field(result, "version");
            assert!(
                version > previous,
                "device {}: version {version} does not rise past {previous}: {}",
                device_push.device,
                device_push.response.text
            );
            previous = version;
            all_versions.push(version);
            edits
                .entry(mutation["record_id"].as_str().unwrap_or_default().to_string())
                .or_default()
                .push((
                    version,
                    mutation["hlc"].as_str().unwrap_or_default().to_string(),
                    device_push.device,
                    status,
                ));
        }
        assert!(
            int_field(&device_push.response.json, "version") >= previous,
            "the push's tenant version is below its last result: {}",
            device_push.response.text
        );
    }
    all_versions.sort_unstable();
    let expected_versions: Vec<i64> = (version_before + 1..=version_before + all_versions.len() as i64).collect();
    assert_eq!(
        all_versions, expected_versions,
        "the hub must hand out each version once, with no gaps"
    );

    // Replaying the merge in version order predicts each status and the final name:
    // the name goes to the newest clock, and an edit whose name loses is `merged`.
    let mut expected_names = HashMap::new();
    for (id, product_edits) in &mut edits {
        product_edits.sort();
        let mut newest_hlc = String::new();
        let mut name = String::new();
        for (version, hlc, device, status) in product_edits.iter() {
            let product = products
                .iter()
                .position(|(product_id, _)| product_id == id)
                .unwrap_or_default();
            let wins = *hlc > newest_hlc;
            let expected = if wins { "applied" } else { "merged" };
            assert_eq!(
                status, expected,
                "product {id}, version {version}, device {device} with clock {hlc} (newest before it {newest_hlc})"
            );
            if wins {
                newest_hlc = hlc.clone();
                name = name_from(*device, product);
            }
        }
        expected_names.insert(id.clone(), name);
    }

    // A paged pull from the beginning carries each product once, in its final state.
    let (pages, _) = pull_to_end(&api, &shop.device_b, None, Some(PULL_LIMIT));
    let mut pulled: HashMap<String, Value> = HashMap::new();
    for (page_index, page) in pages.iter().enumerate() {
        let mut on_page = HashSet::new();
        for record in upserted(page, "products") {
            let id = record["id"].as_str().unwrap_or_default().to_string();
            assert!(
                on_page.insert(id.clone()),
                "page {page_index} carries product {id} twice: {page}"
            );
            assert!(
                pulled.insert(id.clone(), record).is_none(),
                "product {id} pulled on two pages though nothing changed during the pull"
            );
        }
    }
    let listed = list_products(&shop.owner);
    assert_eq!(listed.len(), PRODUCTS, "{listed:?}");
    for (product, (id, _)) in products.iter().enumerate() {
        let record = pulled
            .get(id)
            .unwrap_or_else(|| panic!("product {id} missing from the pull: {pages:?}"));
        let stored = &listed[id];
        for column in ["name", "price", "cost", "sku", "barcode", "version"] {
            assert_eq!(
                record[column], stored[column],
                "product {id} column {column}: pulled {record}, listed {stored}"
            );
        }
        for (device, column) in OWN_COLUMNS.iter().enumerate() {
            assert_eq!(stored[*column], own_value(device, product), "product {id}: {stored}");
        }
        assert_eq!(stored["name"], expected_names[id].as_str(), "product {id}: {stored}");
    }
}
