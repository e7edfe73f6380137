//! Long-running sync checks, outside `make test`: a first sync of a 100,000-product catalog,
//! paginated, after tombstones expired. Run with `make test-large`.

use std::collections::HashSet;
use std::time::Instant;

use kasir_tests::fixtures::set_sync_settings;
use kasir_tests::{hlc_now, login_owner, new_id, provision_tenant, server};
use serde_json::{json, Value};

/// Products in the tenant; a push carries at most 500 mutations.
const CATALOG_ROWS: usize = 100_000;
const PUSH_SIZE: usize = 500;
const PULL_LIMIT: usize = 2000;

#[test]
fn full_resync_of_100k_products_after_expiry() {
    let server = server();
    let api = server.api();
    let tenant = provision_tenant(&api, &server.admin_token, "large");
    let owner = login_owner(&api, &tenant, Some("Back office"));
    let device = owner.device().to_string();

    // Seed the catalog through sync pushes, as terminals would.
    let seeding = Instant::now();
    let mut created: Vec<String> = Vec::with_capacity(CATALOG_ROWS);
    for chunk in 0..CATALOG_ROWS / PUSH_SIZE {
        let mutations: Vec<Value> = (0..PUSH_SIZE)
            .map(|offset| {
                let record_id = new_id();
                created.push(record_id.clone());
                json!({
                    "id": new_id(),
                    "entity": "products",
                    "op": "upsert",
                    "record_id": record_id,
                    "data": {"name": format!("Produk {:06}", chunk * PUSH_SIZE + offset), "price": 1000 + offset},
                    "hlc": hlc_now(&device),
                })
            })
            .collect();
        let push = api
            .post("/v1/sync/push")
            .bearer(&owner.access_token)
            .json(&json!({"device_id": device, "schema_version": 1, "mutations": mutations}));
        push.expect_status(200);
    }
    println!(
        "seeded {CATALOG_ROWS} products in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    // An old cursor, then a delete that expires at once.
    let first = api
        .get("/v1/sync/pull")
        .bearer(&owner.access_token)
        .query("entities", "products")
        .query("limit", "1")
        .send();
    first.expect_status(200);
    let old_cursor = first.json["cursor"].as_str().unwrap_or_default().to_string();
    set_sync_settings(&api, &owner, json!({"tombstone_retention_seconds": 1}));
    let deleted_id = created[0].clone();
    api.delete(&format!("/v1/products/{deleted_id}"))
        .bearer(&owner.access_token)
        .send()
        .expect_status(204);
    std::thread::sleep(std::time::Duration::from_millis(2500));

    let expired = api
        .get("/v1/sync/pull")
        .bearer(&owner.access_token)
        .query("cursor", &old_cursor)
        .send();
    expired.expect_error(410, "cursor_expired");

    // A full resync from no cursor, page by page.
    let resync = Instant::now();
    let mut seen: HashSet<String> = HashSet::with_capacity(CATALOG_ROWS);
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut request = api
            .get("/v1/sync/pull")
            .bearer(&owner.access_token)
            .query("entities", "products")
            .query("limit", &PULL_LIMIT.to_string());
        if let Some(cursor) = &cursor {
            request = request.query("cursor", cursor);
        }
        let page = request.send();
        page.expect_status(200);
        pages += 1;
        for record in page.json["changes"]["products"]["upserted"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let id = record["id"].as_str().unwrap_or_default().to_string();
            assert!(seen.insert(id.clone()), "product {id} came twice");
        }
        cursor = page.json["cursor"].as_str().map(str::to_string);
        if page.json["has_more"] != json!(true) {
            break;
        }
    }
    println!(
        "resynced {} products in {pages} pages in {:.1} s",
        seen.len(),
        resync.elapsed().as_secs_f64()
    );

    assert_eq!(seen.len(), CATALOG_ROWS - 1);
    assert!(!seen.contains(&deleted_id), "the purged product came back");
    assert!(
        created[1..].iter().all(|id| seen.contains(id)),
        "a product is missing from the resync"
    );
}

/// Waits for a job to end, polling `GET /v1/jobs/{id}` for up to 10 minutes.
fn wait_for_job(api: &kasir_tests::Api, token: &str, job_id: &str) -> Value {
    let deadline = Instant::now() + std::time::Duration::from_secs(600);
    loop {
        let job = api.get(&format!("/v1/jobs/{job_id}")).bearer(token).send();
        let status = job.json["status"].as_str().unwrap_or_default().to_string();
        if status == "done" || status == "failed" || Instant::now() > deadline {
            return job.json;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

#[test]
fn backup_of_100k_products() {
    let server = server();
    let api = server.api();
    let tenant = provision_tenant(&api, &server.admin_token, "largebackup");
    let owner = login_owner(&api, &tenant, Some("Back office"));
    let device = owner.device().to_string();
    for chunk in 0..CATALOG_ROWS / PUSH_SIZE {
        let mutations: Vec<Value> = (0..PUSH_SIZE)
            .map(|offset| {
                json!({
                    "id": new_id(),
                    "entity": "products",
                    "op": "upsert",
                    "record_id": new_id(),
                    "data": {"name": format!("Barang {:06}", chunk * PUSH_SIZE + offset), "price": 500 + offset},
                    "hlc": hlc_now(&device),
                })
            })
            .collect();
        api.post("/v1/sync/push")
            .bearer(&owner.access_token)
            .json(&json!({"device_id": device, "schema_version": 1, "mutations": mutations}))
            .expect_status(200);
    }

    let backup_started = Instant::now();
    let started = api.post("/v1/backups").bearer(&owner.access_token).json(&json!({}));
    started.expect_status(202);
    let job = wait_for_job(
        &api,
        &owner.access_token,
        started.json["job_id"].as_str().unwrap_or_default(),
    );
    println!(
        "backup of {CATALOG_ROWS} products: {} in {:.1} s",
        job["status"],
        backup_started.elapsed().as_secs_f64()
    );
    assert_eq!(job["status"], json!("done"), "backup job: {job}");
    assert_eq!(job["result"]["row_counts"]["products"], json!(CATALOG_ROWS));

    // NOTE: a restore of this many rows is not run here: it holds the local runtime for
    // minutes while it writes the rows back, longer than a client waits.
}
