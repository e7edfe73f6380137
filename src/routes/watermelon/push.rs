//! Push: WatermelonDB's changed rows as native mutations, applied by the tenant's hub.

use kasir_core::entity::{catalog_spec, ColumnKind, SERVER_COLUMNS};
use kasir_core::error::{ApiError, ErrorCode, Lang};
use kasir_core::validate::{format_rfc3339_millis, parse_uuid};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use worker::{Env, Request, Response};

use super::{parse_last_pulled_at, TABLES};
use crate::auth::Principal;
use crate::http::{self, Query, MAX_PUSH_BYTES};
use crate::hub;

/// Order in which pushed tables are applied, so that a referenced record (a category, a
/// customer, a product) is written before the records in the same push that point at it.
const PUSH_ORDER: [&str; 5] = ["categories", "customers", "products", "stock_movements", "transactions"];

/// Tables whose records are never changed or deleted once stored.
const INSERT_ONLY: [&str; 2] = ["transactions", "stock_movements"];

/// `POST /v1/sync/watermelon?last_pulled_at=`.
pub async fn push(req: &mut Request, env: &Env, principal: &Principal, lang: Lang) -> Result<Response, ApiError> {
    let Some(device_id) = principal.device_id.clone() else {
        return Err(ApiError::keyed(ErrorCode::Forbidden, "device_required"));
    };
    let query = Query::of(req);
    let body = http::read_json(req, MAX_PUSH_BYTES).await?;
    let (changes, body_last_pulled_at) = split_push_body(body)?;
    let last_pulled_at = parse_last_pulled_at(query.get("last_pulled_at"))?
        .or(body_last_pulled_at)
        .ok_or_else(|| ApiError::invalid("last_pulled_at", "required"))?;

    let plan = plan_push(&device_id, &changes, last_pulled_at)?;
    let mut rejected = Rejections::default();
    for (table, id, error) in plan.rejected {
        rejected.add(table, id, error_object(&error, lang));
    }

    let sent = plan.mutations.len();
    let reply = hub::push(
        env,
        &principal.tenant,
        principal.actor(),
        lang,
        &device_id,
        plan.mutations,
        true,
        None,
    )
    .await?;
    let results: Vec<Value> = match reply["results"].as_array() {
        Some(list) if list.len() == sent => list.clone(),
        _ => return Err(ApiError::internal("hub push reply lacks one result per mutation")),
    };
    for (target, result) in plan.targets.iter().zip(results.iter()) {
        if result.get("status").and_then(Value::as_str) != Some("rejected") {
            continue;
        }
        let error = result.get("error").cloned().unwrap_or(Value::Null);
        // A created sale or movement whose id is already stored under another body is a
        // replay of a record the server keeps as it is: ignored, so the device stops
        // sending it. The hub keeps the other body for review.
        let stored_with_other_body = error.get("code").and_then(Value::as_str) == Some("conflict");
        if target.kind == Kind::Created && INSERT_ONLY.contains(&target.table) && stored_with_other_body {
            continue;
        }
        rejected.add(target.table, Value::String(target.id.clone()), error);
    }

    if !rejected.details.is_empty() {
        worker::console_warn!(
            "{}",
            json!({
                "event": "watermelon_push_rejected",
                "tenant_id": principal.tenant.id,
                "device_id": device_id,
                "rejected": rejected.details.len(),
            })
        );
    }
    http::json(
        200,
        &json!({
            "experimentalRejectedIds": rejected.ids,
            "rejected": rejected.details,
        }),
    )
}

/// Takes the changes out of a push body, which is `{"changes": {...}}` (optionally with
/// `lastPulledAt`, as `pushChanges` receives it) or the bare changes object.
fn split_push_body(body: Value) -> Result<(Map<String, Value>, Option<i64>), ApiError> {
    let Value::Object(mut object) = body else {
        return Err(ApiError::invalid("body", "invalid_type"));
    };
    if !object.contains_key("changes") {
        return Ok((object, None));
    }
    let last_pulled_at = match object.get("lastPulledAt").or_else(|| object.get("last_pulled_at")) {
        None | Some(Value::Null) => None,
        Some(value) => match value.as_i64() {
            Some(version) if version >= 0 => Some(version),
            _ => return Err(ApiError::invalid("lastPulledAt", "invalid_format")),
        },
    };
    match object.remove("changes") {
        Some(Value::Object(changes)) => Ok((changes, last_pulled_at)),
        _ => Err(ApiError::invalid("changes", "invalid_type")),
    }
}

/// The list of a push that a record came in: `created`, `updated` or `deleted`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Created,
    Updated,
    Deleted,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Created => "created",
            Kind::Updated => "updated",
            Kind::Deleted => "deleted",
        }
    }
}

/// The record behind one mutation, to map the hub's result back to a rejected id.
#[derive(Debug)]
struct Target {
    table: &'static str,
    id: String,
    kind: Kind,
}

/// A push translated for the hub: mutations in order, their records, and the records
/// rejected before reaching the hub.
#[derive(Debug, Default)]
struct PushPlan {
    mutations: Vec<Value>,
    targets: Vec<Target>,
    rejected: Vec<(String, Value, ApiError)>,
}

/// Rejected records, as WatermelonDB reads them (`{table: [id]}`) and with their errors.
#[derive(Default)]
struct Rejections {
    ids: Map<String, Value>,
    details: Vec<Value>,
}

impl Rejections {
    fn add(&mut self, table: impl Into<String>, id: Value, error: Value) {
        let table = table.into();
        if let Value::String(text) = &id {
            let list = self.ids.entry(table.clone()).or_insert_with(|| json!([]));
            if let Some(list) = list.as_array_mut() {
                list.push(json!(text));
            }
        }
        self.details.push(json!({ "table": table, "id": id, "error": error }));
    }
}

/// Renders an error as the hub renders it in a push result: `{code, message, details}`.
fn error_object(error: &ApiError, lang: Lang) -> Value {
    let mut envelope = error.envelope(lang, "");
    let mut object = envelope["error"].take();
    if let Some(fields) = object.as_object_mut() {
        fields.remove("request_id");
    }
    object
}

/// Translates the pushed changes into native mutations, tables in [`PUSH_ORDER`] with
/// created and updated records first and every delete after them.
///
/// # Errors
/// 422 when the changes are not shaped as WatermelonDB sends them. A single bad record is
/// a rejection in the plan instead.
fn plan_push(device_id: &str, changes: &Map<String, Value>, last_pulled_at: i64) -> Result<PushPlan, ApiError> {
    let mut plan = PushPlan::default();
    let mut deletes = PushPlan::default();
    let base_version = (last_pulled_at - 1).max(0);

    for (name, table_changes) in changes {
        let Some(table_changes) = table_changes.as_object() else {
            return Err(ApiError::invalid(format!("changes.{name}"), "invalid_type"));
        };
        for key in ["created", "updated", "deleted"] {
            if !matches!(table_changes.get(key), None | Some(Value::Null) | Some(Value::Array(_))) {
                return Err(ApiError::invalid(format!("changes.{name}.{key}"), "invalid_type"));
            }
        }
        if !TABLES.contains(&name.as_str()) {
            // A table this server does not sync is rejected record by record, so the client
            // keeps those records unsynced instead of taking them as stored on the server.
            for id in record_ids(table_changes) {
                plan.rejected
                    .push((name.clone(), id, ApiError::invalid("table", "unknown_entity")));
            }
        }
    }

    for table in PUSH_ORDER {
        let Some(table_changes) = changes.get(table).and_then(Value::as_object) else {
            continue;
        };
        let context = RecordContext {
            device_id,
            table,
            last_pulled_at,
            base_version,
        };
        for (kind, key) in [(Kind::Created, "created"), (Kind::Updated, "updated")] {
            for record in list_of(table_changes, key) {
                context.add_record(&mut plan, kind, record);
            }
        }
        for id in list_of(table_changes, "deleted") {
            context.add_delete(&mut deletes, id);
        }
    }

    plan.mutations.append(&mut deletes.mutations);
    plan.targets.append(&mut deletes.targets);
    plan.rejected.append(&mut deletes.rejected);
    Ok(plan)
}

fn list_of<'a>(table_changes: &'a Map<String, Value>, key: &str) -> &'a [Value] {
    table_changes
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Collects every record id that a table's changes name, to reject the whole table.
fn record_ids(table_changes: &Map<String, Value>) -> Vec<Value> {
    let mut ids = Vec::new();
    for key in ["created", "updated"] {
        for record in list_of(table_changes, key) {
            ids.push(record.get("id").cloned().unwrap_or(Value::Null));
        }
    }
    ids.extend(list_of(table_changes, "deleted").iter().cloned());
    ids
}

/// The values that every mutation of one table in one push shares.
struct RecordContext<'a> {
    device_id: &'a str,
    table: &'static str,
    last_pulled_at: i64,
    /// The version a device edited from: it has seen every version below `last_pulled_at`.
    base_version: i64,
}

impl RecordContext<'_> {
    fn add_record(&self, plan: &mut PushPlan, kind: Kind, record: &Value) {
        let id = record.get("id").cloned().unwrap_or(Value::Null);
        let translated = record
            .as_object()
            .ok_or_else(|| ApiError::invalid("record", "invalid_type"))
            .and_then(|object| {
                let record_id = record_id_of(&id)?;
                let data = self.data_of(object)?;
                Ok((record_id, data, object))
            });
        let (record_id, data, object) = match translated {
            Ok(translated) => translated,
            Err(error) => {
                plan.rejected.push((self.table.to_string(), id, error));
                return;
            }
        };
        let mut mutation = json!({
            "id": self.mutation_id(&record_id, kind, record),
            "entity": self.table,
            "op": "upsert",
            "record_id": record_id,
            "data": data,
        });
        if kind == Kind::Updated {
            mutation["base_version"] = json!(self.base_version);
            mutation["fields"] = json!(changed_columns(object));
        }
        plan.mutations.push(mutation);
        plan.targets.push(Target {
            table: self.table,
            id: record_id,
            kind,
        });
    }

    fn add_delete(&self, plan: &mut PushPlan, id: &Value) {
        let record_id = match record_id_of(id) {
            Ok(record_id) => record_id,
            Err(error) => {
                plan.rejected.push((self.table.to_string(), id.clone(), error));
                return;
            }
        };
        plan.mutations.push(json!({
            "id": self.mutation_id(&record_id, Kind::Deleted, &Value::Null),
            "entity": self.table,
            "op": "delete",
            "record_id": record_id,
            "base_version": self.base_version,
            "data": {},
        }));
        plan.targets.push(Target {
            table: self.table,
            id: record_id,
            kind: Kind::Deleted,
        });
    }

    /// Derives the mutation id from everything that makes the mutation, so that a retried
    /// push of the same records after the same pull carries the same ids and the hub
    /// returns the results it recorded for the first one.
    fn mutation_id(&self, record_id: &str, kind: Kind, record: &Value) -> String {
        // serde_json keeps object keys sorted, so the text is canonical.
        let material = json!([
            self.device_id,
            self.table,
            record_id,
            kind.as_str(),
            self.last_pulled_at,
            record
        ]);
        uuid_from_digest(&Sha256::digest(material.to_string().as_bytes()))
    }

    /// Builds the native `data` of a pushed row.
    fn data_of(&self, record: &Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
        match self.table {
            "transactions" => sale_body(record, self.device_id),
            "stock_movements" => Ok(movement_data(record)),
            table => Ok(catalog_data(table, record)),
        }
    }
}

/// Reads a pushed record id, which must be a UUID in lower case: the server stores ids in
/// lower case, and WatermelonDB would take an id returned in another case for another record.
fn record_id_of(id: &Value) -> Result<String, ApiError> {
    let text = id.as_str().ok_or_else(|| ApiError::invalid("id", "required"))?;
    match parse_uuid(text) {
        Some(parsed) if parsed == text => Ok(parsed),
        _ => Err(ApiError::invalid("id", "invalid_format")),
    }
}

/// Formats the first 16 bytes of a digest as a UUID of version 8 (custom data, RFC 9562).
fn uuid_from_digest(digest: &[u8]) -> String {
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Lists the columns WatermelonDB marked as edited on the device, from `_changed`.
fn changed_columns(record: &Map<String, Value>) -> Vec<String> {
    record
        .get("_changed")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|column| !column.is_empty())
        .map(str::to_string)
        .collect()
}

/// Copies a row without WatermelonDB's bookkeeping columns and the given server columns.
fn without(record: &Map<String, Value>, server_columns: &[&str]) -> Map<String, Value> {
    record
        .iter()
        .filter(|(key, _)| key.as_str() != "_status" && key.as_str() != "_changed")
        .filter(|(key, _)| !server_columns.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// Builds the `data` of a catalog row. A storage that keeps booleans as 0 and 1 is read as
/// booleans, and an empty string in an id or email column (what WatermelonDB stores for an
/// unset non-optional string) as null.
fn catalog_data(table: &str, record: &Map<String, Value>) -> Map<String, Value> {
    let mut data = without(record, &SERVER_COLUMNS);
    let Some(spec) = catalog_spec(table) else {
        return data;
    };
    for column in spec.columns {
        let Some(value) = data.get_mut(column.name) else {
            continue;
        };
        match column.kind {
            ColumnKind::Bool => {
                if let Some(number) = value.as_f64() {
                    if number == 0.0 || number == 1.0 {
                        *value = Value::Bool(number == 1.0);
                    }
                }
            }
            ColumnKind::Uuid | ColumnKind::Email if value.as_str() == Some("") => *value = Value::Null,
            _ => {}
        }
    }
    data
}

/// Builds the `data` of a stock movement row. Its `created_at` may come in Unix ms.
fn movement_data(record: &Map<String, Value>) -> Map<String, Value> {
    let mut data = without(
        record,
        &[
            "id",
            "version",
            "updated_at",
            "deleted_at",
            "sync_source",
            "device_id",
            "user_id",
        ],
    );
    if let Some(value) = data.get_mut("created_at") {
        if let Some(millis) = value.as_i64() {
            *value = Value::String(format_rfc3339_millis(millis));
        }
    }
    if data.get("ref_id").and_then(Value::as_str) == Some("") {
        data.insert("ref_id".to_string(), Value::Null);
    }
    data
}

/// Builds the native sale body of a `transactions` row: `items_json` and `payments_json`
/// become `items` and `payments`, a `created_at` in Unix ms becomes RFC 3339, and a missing
/// `device_id` is the pushing device. The server's own figures (`paid`, `change`, `status`
/// and the like) are left out, because the server computes them.
fn sale_body(record: &Map<String, Value>, device_id: &str) -> Result<Map<String, Value>, ApiError> {
    let mut body = Map::new();
    body.insert("id".to_string(), record.get("id").cloned().unwrap_or(Value::Null));
    for column in [
        "outlet_id",
        "receipt_no",
        "discount",
        "subtotal",
        "tax",
        "total",
        "note",
    ] {
        if let Some(value) = record.get(column) {
            body.insert(column.to_string(), value.clone());
        }
    }
    for column in ["shift_id", "customer_id"] {
        match record.get(column) {
            Some(Value::String(text)) if text.is_empty() => {}
            Some(value) => {
                body.insert(column.to_string(), value.clone());
            }
            None => {}
        }
    }
    let device = match record.get("device_id") {
        Some(Value::String(text)) if !text.is_empty() => Value::String(text.clone()),
        _ => Value::String(device_id.to_string()),
    };
    body.insert("device_id".to_string(), device);

    match record.get("created_at") {
        Some(Value::Number(number)) => {
            let millis = number
                .as_i64()
                .or_else(|| {
                    number
                        .as_f64()
                        .filter(|float| float.fract() == 0.0)
                        .map(|float| float as i64)
                })
                .ok_or_else(|| ApiError::invalid("created_at", "invalid_format"))?;
            body.insert("created_at".to_string(), Value::String(format_rfc3339_millis(millis)));
        }
        Some(value) => {
            body.insert("created_at".to_string(), value.clone());
        }
        None => {}
    }

    for (native, column) in [("items", "items_json"), ("payments", "payments_json")] {
        let list = match (record.get(column), record.get(native)) {
            (Some(Value::String(text)), _) => {
                serde_json::from_str::<Value>(text).map_err(|_| ApiError::invalid(column, "invalid_json"))?
            }
            (Some(Value::Array(list)), _) | (None, Some(Value::Array(list))) => Value::Array(list.clone()),
            (Some(_), _) => return Err(ApiError::invalid(column, "invalid_type")),
            (None, _) => return Err(ApiError::invalid(column, "required")),
        };
        body.insert(native.to_string(), list);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEVICE: &str = "0190f5c4-7d3a-7b2e-9c1d-00000000000a";
    const OTHER_DEVICE: &str = "0190f5c4-7d3a-7b2e-9c1d-00000000000b";
    const PRODUCT: &str = "0190f5c4-7d3a-7b2e-9c1d-000000000003";

    #[test]
    fn sale_body_from_row() {
        let record = json!({
            "id": PRODUCT,
            "_status": "created",
            "_changed": "",
            "outlet_id": OTHER_DEVICE,
            "receipt_no": "PUSAT-K1-0001",
            "created_at": 1_796_351_400_000_i64,
            "items_json": r#"[{"product_id":"p","qty":1,"unit_price":5000,"discount":0}]"#,
            "payments_json": r#"[{"method":"cash","amount":5000}]"#,
            "shift_id": "",
            "change": 0,
            "status": "completed",
        });
        let body = sale_body(record.as_object().unwrap(), DEVICE).unwrap();
        assert_eq!(body["created_at"], json!("2026-12-04T02:30:00.000Z"));
        assert_eq!(body["device_id"], json!(DEVICE));
        assert_eq!(body["items"][0]["unit_price"], json!(5000));
        assert_eq!(body["payments"][0]["method"], json!("cash"));
        for absent in ["shift_id", "change", "status", "_status", "items_json"] {
            assert!(body.get(absent).is_none(), "{absent}");
        }
    }

    #[test]
    fn sale_body_with_broken_items_json() {
        let record = json!({"id": PRODUCT, "items_json": "[{", "payments_json": "[]"});
        let error = sale_body(record.as_object().unwrap(), DEVICE).unwrap_err();
        assert_eq!(error.details[0].field, "items_json");
        assert_eq!(error.details[0].code, "invalid_json");
    }

    #[test]
    fn catalog_data_reads_watermelon_storage() {
        let record = json!({
            "id": PRODUCT,
            "_status": "updated",
            "_changed": "price",
            "name": "Kopi",
            "price": 5000,
            "track_stock": 1,
            "is_active": 0,
            "category_id": "",
            "version": 7,
        });
        let data = catalog_data("products", record.as_object().unwrap());
        assert_eq!(data["track_stock"], json!(true));
        assert_eq!(data["is_active"], json!(false));
        assert_eq!(data["category_id"], Value::Null);
        for absent in ["id", "_status", "_changed", "version"] {
            assert!(data.get(absent).is_none(), "{absent}");
        }
    }

    fn push_of(changes: Value) -> PushPlan {
        plan_push(DEVICE, changes.as_object().unwrap(), 8).unwrap()
    }

    #[test]
    fn push_orders_references_first_and_deletes_last() {
        let category = "0190f5c4-7d3a-7b2e-9c1d-000000000001";
        let plan = push_of(json!({
            "products": {
                "created": [{"id": PRODUCT, "name": "Kopi", "price": 1, "category_id": category, "_status": "created", "_changed": ""}],
                "updated": [],
                "deleted": [OTHER_DEVICE],
            },
            "categories": {
                "created": [],
                "updated": [{"id": category, "name": "Minuman", "_status": "updated", "_changed": "name, sort_order"}],
                "deleted": [],
            },
        }));
        let summary: Vec<(&str, &str)> = plan
            .mutations
            .iter()
            .map(|mutation| (mutation["entity"].as_str().unwrap(), mutation["op"].as_str().unwrap()))
            .collect();
        assert_eq!(
            summary,
            vec![("categories", "upsert"), ("products", "upsert"), ("products", "delete")]
        );
        assert_eq!(plan.mutations[0]["base_version"], json!(7));
        assert_eq!(plan.mutations[0]["fields"], json!(["name", "sort_order"]));
        assert!(plan.mutations[1].get("base_version").is_none());
        assert_eq!(plan.mutations[2]["base_version"], json!(7));
        assert!(plan.rejected.is_empty());
    }

    #[test]
    fn push_rejects_bad_ids_and_unknown_tables() {
        let plan = push_of(json!({
            "products": {"created": [{"id": "abc", "name": "x", "price": 1}], "updated": [], "deleted": []},
            "drafts": {"created": [{"id": "d1"}], "updated": [], "deleted": ["d2"]},
        }));
        assert!(plan.mutations.is_empty());
        let rejected: Vec<(&str, &Value)> = plan
            .rejected
            .iter()
            .map(|(table, id, _)| (table.as_str(), id))
            .collect();
        assert_eq!(
            rejected,
            vec![
                ("drafts", &json!("d1")),
                ("drafts", &json!("d2")),
                ("products", &json!("abc"))
            ]
        );
    }

    #[test]
    fn push_rejects_upper_case_ids() {
        let plan = push_of(json!({"products": {"deleted": [PRODUCT.to_uppercase()]}}));
        assert!(plan.mutations.is_empty());
        assert_eq!(plan.rejected.len(), 1);
    }

    #[test]
    fn push_of_malformed_table_fails() {
        let changes = json!({"products": {"created": {}}});
        assert!(plan_push(DEVICE, changes.as_object().unwrap(), 8).is_err());
    }

    #[test]
    fn mutation_ids_are_stable_uuids() {
        let changes = json!({"products": {"updated": [{"id": PRODUCT, "name": "Kopi", "_changed": "name"}]}});
        let first = push_of(changes.clone());
        let again = push_of(changes);
        let id = first.mutations[0]["id"].as_str().unwrap().to_string();
        assert_eq!(again.mutations[0]["id"], json!(id));
        assert_eq!(parse_uuid(&id), Some(id.clone()));
        assert_eq!(&id[14..15], "8");

        let edited = push_of(json!({"products": {"updated": [{"id": PRODUCT, "name": "Teh", "_changed": "name"}]}}));
        assert_ne!(edited.mutations[0]["id"], json!(id));
        let later = plan_push(
            DEVICE,
            json!({"products": {"updated": [{"id": PRODUCT, "name": "Kopi", "_changed": "name"}]}})
                .as_object()
                .unwrap(),
            9,
        )
        .unwrap();
        assert_ne!(later.mutations[0]["id"], json!(id));
    }

    #[test]
    fn push_body_forms() {
        let wrapped = split_push_body(json!({"changes": {"products": {}}, "lastPulledAt": 5})).unwrap();
        assert!(wrapped.0.contains_key("products"));
        assert_eq!(wrapped.1, Some(5));
        let bare = split_push_body(json!({"products": {}})).unwrap();
        assert!(bare.0.contains_key("products"));
        assert_eq!(bare.1, None);
        assert!(split_push_body(json!([])).is_err());
        assert!(split_push_body(json!({"changes": []})).is_err());
    }
}
