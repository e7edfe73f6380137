//! End-to-end tests of the sync engine: merge strategies, hybrid logical
//! clocks, conflicts, tombstones, insert-only entities and concurrent pushes,
//! against one real `wrangler dev`.
//!
//! Every test provisions its own tenant on shared placement, so tests run in
//! parallel and in any order.

mod concurrency;
mod deletes;
mod field_merge;
mod insert_only;
mod lww;
mod manual;
mod push_validation;
mod sync_log;
mod sync_source;
mod tombstones;

use kasir_tests::{
    create_user_session, login_owner, new_id, provision_tenant, server, Api, ApiResponse, Session, TenantFixture,
};
use serde_json::{json, Value};

/// Statuses a push result may carry.
pub const STATUSES: [&str; 5] = ["applied", "merged", "duplicate", "conflict", "rejected"];

/// One minute in milliseconds, for clock offsets.
pub const MINUTE_MS: i64 = 60_000;

pub fn api() -> Api {
    server().api()
}

/// A tenant whose owner is logged in without a device, and two admins, each
/// on a device of their own, who may write the catalog over sync.
pub struct SyncShop {
    pub tenant: TenantFixture,
    pub owner: Session,
    pub device_a: Session,
    pub device_b: Session,
}

#[track_caller]
pub fn sync_shop(code_prefix: &str) -> SyncShop {
    let api = api();
    let tenant = provision_tenant(&api, &server().admin_token, code_prefix);
    let owner = login_owner(&api, &tenant, None);
    let (_, device_a) = create_user_session(&api, &tenant, &owner, "admin", "Tablet A");
    let (_, device_b) = create_user_session(&api, &tenant, &owner, "admin", "Tablet B");
    SyncShop {
        tenant,
        owner,
        device_a,
        device_b,
    }
}

impl SyncShop {
    /// Creates a kasir and logs it in on a new device.
    #[track_caller]
    pub fn kasir(&self) -> Session {
        let (_, kasir) = create_user_session(&api(), &self.tenant, &self.owner, "kasir", "Tablet Kasir");
        kasir
    }
}

/// Builds an upsert without `base_version`, as for a record the device created.
pub fn create_mutation(entity: &str, record_id: &str, data: Value, hlc: &str) -> Value {
    json!({
        "id": new_id(),
        "entity": entity,
        "op": "upsert",
        "record_id": record_id,
        "data": data,
        "hlc": hlc,
    })
}

/// Builds an upsert of the columns in `data`, made on the record's `base_version`.
pub fn edit_mutation(entity: &str, record_id: &str, base_version: i64, data: Value, hlc: &str) -> Value {
    json!({
        "id": new_id(),
        "entity": entity,
        "op": "upsert",
        "record_id": record_id,
        "base_version": base_version,
        "data": data,
        "hlc": hlc,
    })
}

/// Builds a delete made on the record's `base_version`.
pub fn delete_mutation(entity: &str, record_id: &str, base_version: i64, hlc: &str) -> Value {
    json!({
        "id": new_id(),
        "entity": entity,
        "op": "delete",
        "record_id": record_id,
        "base_version": base_version,
        "hlc": hlc,
    })
}

/// Sends `POST /v1/sync/push` for the session's device.
pub fn push(api: &Api, session: &Session, mutations: &[Value]) -> ApiResponse {
    api.post("/v1/sync/push").bearer(&session.access_token).json(&json!({
        "device_id": session.device(),
        "schema_version": 1,
        "mutations": mutations,
    }))
}

/// Returns the push results after checking the status is 200 and there is one
/// result per mutation, in mutation order.
#[track_caller]
pub fn results_of(response: &ApiResponse, mutations: &[Value]) -> Vec<Value> {
    response.expect_status(200);
    let results = response.json["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        results.len(),
        mutations.len(),
        "expected one result per mutation: {}",
        response.text
    );
    for (result, mutation) in results.iter().zip(mutations) {
        assert_eq!(
            result["mutation_id"], mutation["id"],
            "results out of mutation order: {}",
            response.text
        );
    }
    results
}

/// Pushes one mutation and returns its result.
#[track_caller]
pub fn push_one(api: &Api, session: &Session, mutation: Value) -> Value {
    let mutations = [mutation];
    let response = push(api, session, &mutations);
    results_of(&response, &mutations).remove(0)
}

/// Panics unless the result has `status`. The message shows the whole result.
#[track_caller]
pub fn assert_status(result: &Value, status: &str) {
    assert_eq!(result["status"], status, "push result {result}");
}

/// Reads an integer field, panicking with the whole value when it is missing.
#[track_caller]
pub fn int_field(body: &Value, field: &str) -> i64 {
    match body[field].as_i64() {
        Some(value) => value,
        None => panic!("expected integer field {field:?} in {body}"),
    }
}

/// Sends `GET /v1/{entity}/{id}`.
pub fn get_record(api: &Api, session: &Session, entity: &str, id: &str) -> ApiResponse {
    api.get(&format!("/v1/{entity}/{id}"))
        .bearer(&session.access_token)
        .send()
}

/// Reads a live record over REST, panicking unless the server responds with 200.
#[track_caller]
pub fn read_record(api: &Api, session: &Session, entity: &str, id: &str) -> Value {
    let response = get_record(api, session, entity, id);
    response.expect_status(200);
    response.json.clone()
}

/// Creates a customer over sync from the session's device and returns its id
/// and version.
#[track_caller]
pub fn push_new_customer(api: &Api, session: &Session, name: &str) -> (String, i64) {
    let id = new_id();
    let hlc = kasir_tests::hlc_now(session.device());
    let result = push_one(
        api,
        session,
        create_mutation("customers", &id, json!({"name": name, "phone": "0812-0000-0000"}), &hlc),
    );
    assert_status(&result, "applied");
    (id, int_field(&result, "version"))
}

/// Creates a product over REST as `session` and returns its id and version.
#[track_caller]
pub fn rest_new_product(api: &Api, session: &Session, name: &str, price: i64) -> (String, i64) {
    let product = kasir_tests::create_product(api, session, name, price);
    let id = product["id"].as_str().unwrap_or_default().to_string();
    (id, int_field(&product, "version"))
}

/// Creates a product that tracks stock over REST as `session` and returns its id and version;
/// only such products take stock movements.
#[track_caller]
pub fn rest_new_tracked_product(api: &Api, session: &Session, name: &str, price: i64) -> (String, i64) {
    let response = api
        .post("/v1/products")
        .bearer(&session.access_token)
        .json(&serde_json::json!({"name": name, "price": price, "track_stock": true}));
    response.expect_status(201);
    let id = response.json["id"].as_str().unwrap_or_default().to_string();
    (id, int_field(&response.json, "version"))
}

/// Sends one `GET /v1/sync/pull`.
pub fn pull(api: &Api, session: &Session, cursor: Option<&str>, limit: Option<u32>) -> ApiResponse {
    let mut request = api.get("/v1/sync/pull").bearer(&session.access_token);
    if let Some(cursor) = cursor {
        request = request.query("cursor", cursor);
    }
    if let Some(limit) = limit {
        request = request.query("limit", &limit.to_string());
    }
    request.send()
}

/// Pulls from `cursor` (the beginning when `None`) until `has_more` is false,
/// checking every page returns 200 and carries at most `limit` rows. Returns
/// the pages and the last cursor. Stops with a panic after 200 pages.
#[track_caller]
pub fn pull_to_end(api: &Api, session: &Session, cursor: Option<&str>, limit: Option<u32>) -> (Vec<Value>, String) {
    let mut pages = Vec::new();
    let mut cursor = cursor.map(str::to_string);
    for _ in 0..200 {
        let page = pull(api, session, cursor.as_deref(), limit);
        assert_eq!(
            page.status,
            200,
            "page {} of the pull from cursor {cursor:?} failed: HTTP {} {}",
            pages.len() + 1,
            page.status,
            page.text
        );
        if let Some(limit) = limit {
            let rows = page_row_count(&page.json);
            assert!(
                rows <= limit as usize,
                "page {} carries {rows} rows over limit {limit}: {}",
                pages.len() + 1,
                page.text
            );
        }
        let next = page.str_field("cursor");
        let has_more = page.json["has_more"].as_bool();
        assert!(has_more.is_some(), "has_more is not a boolean: {}", page.text);
        pages.push(page.json.clone());
        cursor = Some(next);
        if has_more == Some(false) {
            return (pages, cursor.unwrap_or_default());
        }
    }
    panic!("the pull still had more after 200 pages");
}

/// Returns the cursor at the tenant's current version, as seen by `session`.
#[track_caller]
pub fn current_cursor(api: &Api, session: &Session) -> String {
    pull_to_end(api, session, None, None).1
}

/// Upserted records of `entity` on one pull page.
pub fn upserted(page: &Value, entity: &str) -> Vec<Value> {
    page["changes"][entity]["upserted"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Deleted ids of `entity` on one pull page.
pub fn deleted_ids(page: &Value, entity: &str) -> Vec<String> {
    page["changes"][entity]["deleted"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|id| id.as_str().unwrap_or_default().to_string())
        .collect()
}

/// Rows on one pull page, upserted and deleted, over every entity.
pub fn page_row_count(page: &Value) -> usize {
    let Some(changes) = page["changes"].as_object() else {
        return 0;
    };
    changes
        .values()
        .map(|change| {
            change["upserted"].as_array().map_or(0, Vec::len) + change["deleted"].as_array().map_or(0, Vec::len)
        })
        .sum()
}

/// Finds the record with `id` among the upserted `entity` rows of the pages,
/// in its latest pulled state.
pub fn find_upserted(pages: &[Value], entity: &str, id: &str) -> Option<Value> {
    pages
        .iter()
        .rev()
        .find_map(|page| upserted(page, entity).into_iter().find(|record| record["id"] == id))
}
