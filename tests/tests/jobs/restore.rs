//! `POST /v1/backups/{id}/restore`: the catalog goes back to the snapshot over REST and sync,
//! sales recorded after the backup stay, and a push sent while it runs gets its result or 503
//! `restore_in_progress`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Instant;

use kasir_tests::{create_user_session, hlc_now, new_id, ApiResponse, Session};
use serde_json::{json, Value};

use crate::{api, int_field, job_shop, line, string_field, wait_for_job_end, JOB_TIMEOUT};

/// Maximum pull pages read to catch up, far above what these small tenants need.
const MAX_PULL_PAGES: usize = 100;

/// The products of a run of pulls: the latest upserted record per id, and the deleted ids.
#[derive(Default)]
struct PulledProducts {
    upserted: BTreeMap<String, Value>,
    deleted: BTreeSet<String>,
}

/// Pulls every change after `cursor` (from the beginning when `None`) as `session`, and
/// returns the products and the cursor to continue from.
#[track_caller]
fn pull_to_end(session: &Session, cursor: Option<&str>) -> (PulledProducts, String) {
    let mut products = PulledProducts::default();
    let mut cursor = cursor.map(str::to_string);
    for _ in 0..MAX_PULL_PAGES {
        let mut request = api().get("/v1/sync/pull").bearer(&session.access_token);
        if let Some(cursor) = &cursor {
            request = request.query("cursor", cursor);
        }
        let response = request.send();
        response.expect_status(200);
        let changes = &response.json["changes"]["products"];
        for record in changes["upserted"].as_array().into_iter().flatten() {
            let id = string_field(record, "id");
            products.deleted.remove(&id);
            products.upserted.insert(id, record.clone());
        }
        for id in changes["deleted"].as_array().into_iter().flatten() {
            let id = id.as_str().unwrap_or_default().to_string();
            products.upserted.remove(&id);
            products.deleted.insert(id);
        }
        cursor = Some(response.str_field("cursor"));
        if response.json["has_more"] != true {
            return (products, cursor.unwrap_or_default());
        }
    }
    panic!("GET /v1/sync/pull still has_more after {MAX_PULL_PAGES} pages");
}

fn get_product(session: &Session, id: &str) -> ApiResponse {
    api()
        .get(&format!("/v1/products/{id}"))
        .bearer(&session.access_token)
        .send()
}

#[track_caller]
fn read_product(session: &Session, id: &str) -> Value {
    let response = get_product(session, id);
    response.expect_status(200);
    response.json.clone()
}

#[test]
fn restore_returns_catalog_to_snapshot() {
    let shop = job_shop("restore");
    let owner = &shop.owner;
    let deleted_id = shop.product("Kopi Hitam", 10_000);
    let edited_id = shop.product("Roti Keju", 15_000);
    let kept_id = shop.product("Air Mineral", 4_000);
    let sale_before = shop.sell(
        vec![line(&kept_id, 1, 4_000)],
        0,
        json!([{"method": "cash", "amount": 5_000}]),
    );
    let (_, backup_id) = shop.take_backup();
    let snapshot: BTreeMap<String, Value> = [&deleted_id, &edited_id, &kept_id]
        .into_iter()
        .map(|id| (id.clone(), read_product(owner, id)))
        .collect();

    let deleted = api()
        .delete(&format!("/v1/products/{deleted_id}"))
        .bearer(&owner.access_token)
        .send();
    deleted.expect_status(204);
    let edited = api()
        .patch(&format!("/v1/products/{edited_id}"))
        .bearer(&owner.access_token)
        .json(&json!({"name": "Roti Keju Besar", "price": 17_000}));
    edited.expect_status(200);
    let edited_version = int_field(&edited.json, "version");
    let created_id = shop.product("Donat Gula", 6_000);
    let sale_after = shop.sell(
        vec![line(&created_id, 2, 6_000)],
        0,
        json!([{"method": "qris", "amount": 12_000}]),
    );
    let (_, cursor) = pull_to_end(&shop.kasir, None);

    let response = api()
        .post(&format!("/v1/backups/{backup_id}/restore"))
        .bearer(&owner.access_token)
        .json(&json!({}));
    response.expect_status(202);
    let job = wait_for_job_end(owner, &response.str_field("job_id"), JOB_TIMEOUT);
    assert_eq!(job["kind"], "restore");
    assert_eq!(job["status"], "done", "restore job {job}");

    // REST reads show the snapshot: the deleted product is back and the edit is undone.
    for (id, before) in &snapshot {
        let product = read_product(owner, id);
        assert_eq!(product["name"], before["name"], "restored product {product}");
        assert_eq!(product["price"], before["price"], "restored product {product}");
        assert!(product["deleted_at"].is_null(), "restored product {product}");
        assert_eq!(product["sync_source"], "restore", "restored product {product}");
    }
    assert!(
        int_field(&read_product(owner, &edited_id), "version") > edited_version,
        "a restored record gets a new version, above the edit's {edited_version}"
    );
    get_product(owner, &created_id).expect_error(404, "not_found");
    let listed = api()
        .get("/v1/products")
        .bearer(&owner.access_token)
        .query("limit", "500")
        .send();
    listed.expect_status(200);
    let listed_ids: BTreeSet<String> = listed.items().iter().map(|p| string_field(p, "id")).collect();
    let expected_ids: BTreeSet<String> = snapshot.keys().cloned().collect();
    assert_eq!(listed_ids, expected_ids, "GET /v1/products after the restore");

    // A device that synced before the restore pulls it as ordinary changes.
    let (pulled, _) = pull_to_end(&shop.kasir, Some(&cursor));
    for (id, before) in &snapshot {
        let Some(record) = pulled.upserted.get(id) else {
            panic!("product {id} missing from the pull after the restore");
        };
        assert_eq!(record["sync_source"], "restore", "pulled product {record}");
        assert_eq!(record["name"], before["name"], "pulled product {record}");
        assert_eq!(record["price"], before["price"], "pulled product {record}");
    }
    assert!(
        pulled.deleted.contains(&created_id),
        "the product made after the backup should be in `deleted`: {:?}",
        pulled.deleted
    );
    assert!(
        !pulled.upserted.contains_key(&created_id),
        "the product made after the backup was upserted"
    );

    // Sales are insert-only: the one recorded after the backup stays.
    for sale in [&sale_before, &sale_after] {
        let stored = api()
            .get(&format!("/v1/transactions/{}", string_field(sale, "id")))
            .bearer(&owner.access_token)
            .send();
        stored.expect_status(200);
        assert_eq!(stored.json["total"], sale["total"], "sale {}", stored.text);
    }
}

/// Products in the tenant of [`push_during_restore_waits_or_503`], so that its restore runs
/// for a noticeable time.
const RESTORE_LOAD_PRODUCTS: usize = 1_000;

/// Mutations per push, the maximum a push takes.
const PUSH_MAX_MUTATIONS: usize = 500;

/// Sends `POST /v1/sync/push` of one new customer from the session's device.
fn push_new_customer(session: &Session, name: &str) -> ApiResponse {
    let mutation = json!({
        "id": new_id(),
        "entity": "customers",
        "op": "upsert",
        "record_id": new_id(),
        "data": {"name": name},
        "hlc": hlc_now(session.device()),
    });
    api().post("/v1/sync/push").bearer(&session.access_token).json(&json!({
        "device_id": session.device(),
        "schema_version": 1,
        "mutations": [mutation],
    }))
}

/// Creates [`RESTORE_LOAD_PRODUCTS`] products over sync from the session's device.
#[track_caller]
fn push_many_products(session: &Session) {
    let mutations: Vec<Value> = (0..RESTORE_LOAD_PRODUCTS)
        .map(|index| {
            json!({
                "id": new_id(),
                "entity": "products",
                "op": "upsert",
                "record_id": new_id(),
                "data": {"name": format!("Produk {index:04}"), "price": 1_000 + index as i64},
                "hlc": hlc_now(session.device()),
            })
        })
        .collect();
    for chunk in mutations.chunks(PUSH_MAX_MUTATIONS) {
        let response = api().post("/v1/sync/push").bearer(&session.access_token).json(&json!({
            "device_id": session.device(),
            "schema_version": 1,
            "mutations": chunk,
        }));
        response.expect_status(200);
    }
}

/// A push that reaches the hub while a restore runs gets 503 `restore_in_progress` with
/// `Retry-After`. Any other push must succeed, and pushing works again once the restore is done.
// NOTE: under `wrangler dev` no push has been seen to get the 503. While a restore of 3,000
// products ran, every other request, `GET /health` included, waited until it ended, so a push
// sent meanwhile reached the hub only after the restore. This test checks the responses it
// gets and does not require a 503.
#[test]
fn push_during_restore_waits_or_503() {
    let shop = job_shop("restpush");
    let (_, admin) = create_user_session(&api(), &shop.tenant, &shop.owner, "admin", "Tablet Admin");
    push_many_products(&admin);
    let (_, backup_id) = shop.take_backup();

    let response = api()
        .post(&format!("/v1/backups/{backup_id}/restore"))
        .bearer(&shop.owner.access_token)
        .json(&json!({}));
    response.expect_status(202);
    let job_id = response.str_field("job_id");
    let restore_done = AtomicBool::new(false);
    let started = Instant::now();
    let (job, pushes) = thread::scope(|scope| {
        let pusher = scope.spawn(|| {
            let mut pushes = Vec::new();
            // The time bound ends this thread when waiting for the job panics.
            while !restore_done.load(Ordering::Relaxed) && started.elapsed() < JOB_TIMEOUT {
                pushes.push(push_new_customer(&shop.kasir, "Pelanggan Saat Pemulihan"));
            }
            pushes
        });
        let job = wait_for_job_end(&shop.owner, &job_id, JOB_TIMEOUT);
        restore_done.store(true, Ordering::Relaxed);
        (job, pusher.join().expect("the pushing thread panicked"))
    });

    assert_eq!(job["status"], "done", "restore job {job}");
    assert!(!pushes.is_empty(), "no push was sent while the restore ran");
    for pushed in pushes.iter().filter(|pushed| pushed.status != 200) {
        pushed.expect_error(503, "restore_in_progress");
        let retry_after = pushed.header("retry-after");
        let seconds = retry_after.and_then(|value| value.parse::<u64>().ok());
        assert!(
            seconds.is_some_and(|seconds| seconds > 0),
            "a 503 push needs Retry-After in whole seconds, got {retry_after:?}"
        );
    }
    let after = push_new_customer(&shop.kasir, "Pelanggan Setelah Pemulihan");
    after.expect_status(200);
    assert_eq!(
        after.json["results"][0]["status"], "applied",
        "push after the restore: {}",
        after.text
    );
}
