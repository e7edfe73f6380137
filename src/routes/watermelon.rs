//! The WatermelonDB sync protocol, served by the same engine as native sync.
//!
//! Pull reads the changes at or after `last_pulled_at` straight from D1, as native pull does,
//! and sorts each record into `created`, `updated` or `deleted`. Push turns the rows that
//! WatermelonDB's `synchronize()` hands to `pushChanges` into native mutations and runs them
//! in the tenant's hub with the hub's clock, because WatermelonDB clients keep none.
//!
//! The sync timestamp is a change version: a device that pulled with result `timestamp` has
//! seen every change with a version below it, so its next push edits from `timestamp - 1`.

use kasir_core::entity::{catalog_spec, ColumnKind, SERVER_COLUMNS};
use kasir_core::error::{ApiError, ErrorCode, Lang};
use kasir_core::stock::SERVER_KINDS;
use kasir_core::validate::{format_rfc3339_millis, parse_uuid};
use kasir_durable::db;
use kasir_durable::protocol::Command;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use worker::{Env, Request, Response};

use crate::auth::Principal;
use crate::http::{self, Query, MAX_PUSH_BYTES};
use crate::hub;
use crate::routes::sync::{purge_expired, read_changes, record_of, Change};

/// Tables this protocol syncs, in pull order.
const TABLES: [&str; 5] = ["products", "categories", "customers", "transactions", "stock_movements"];

/// Order in which pushed tables are applied, so that a referenced record (a category, a
/// customer, a product) is written before the records in the same push that point at it.
const PUSH_ORDER: [&str; 5] = ["categories", "customers", "products", "stock_movements", "transactions"];

/// Tables whose records are never changed or deleted once stored.
const INSERT_ONLY: [&str; 2] = ["transactions", "stock_movements"];

/// Mutations sent to the hub in one call. A push has no cap of its own, so a large one goes
/// to the hub in slices of the size a native push may have.
const HUB_BATCH: usize = 500;

// ---------------------------------------------------------------------------------------------
// Pull
// ---------------------------------------------------------------------------------------------

/// `GET /v1/sync/watermelon?last_pulled_at=&schema_version=&migration=`.
pub async fn pull(req: &Request, env: &Env, principal: &Principal) -> Result<Response, ApiError> {
    let query = Query::of(req);
    let last_pulled_at = parse_last_pulled_at(query.get("last_pulled_at"))?;
    check_schema_version(query.get("schema_version"))?;
    let migration = parse_migration(query.get("migration"))?;

    let database = principal.tenant.db(env)?;
    let purged_version = purge_expired(env, principal).await?;
    // The device has seen every version below `last_pulled_at`; a purged tombstone at or
    // above that is a delete it can no longer receive.
    let expired = last_pulled_at.is_some_and(|since| since - 1 < purged_version);

    let plan = PullPlan::new(last_pulled_at, expired, migration.as_ref());
    let (changes, _) = read_changes(&database, &principal.tenant.id, plan.after, None, &TABLES).await?;

    let device_id = principal.device_id.as_deref();
    let mut by_table: Map<String, Value> = TABLES
        .iter()
        .map(|table| {
            (
                table.to_string(),
                json!({ "created": [], "updated": [], "deleted": [] }),
            )
        })
        .collect();
    let mut timestamp = last_pulled_at.unwrap_or(1).max(purged_version + 1).max(1);
    for change in changes {
        timestamp = timestamp.max(change.version + 1);
        let slot = plan.slot_of(&change, device_id);
        let Some(slot) = slot else { continue };
        let entry = match slot {
            Slot::Deleted => change.row.get("id").cloned().unwrap_or(Value::Null),
            Slot::Created | Slot::Updated => watermelon_record(change.entity, change.row),
        };
        let list = by_table
            .get_mut(change.entity)
            .and_then(|table| table.get_mut(slot.key()))
            .and_then(Value::as_array_mut)
            .ok_or_else(|| ApiError::internal("watermelon pull slot missing"))?;
        list.push(entry);
    }

    let mut answer = json!({ "changes": by_table, "timestamp": timestamp });
    if expired {
        answer["experimentalStrategy"] = json!("replacement");
    }
    http::json(200, &answer)
}

/// Reads `last_pulled_at`: absent, empty or `null` on a first sync, else a change version.
fn parse_last_pulled_at(text: Option<&str>) -> Result<Option<i64>, ApiError> {
    match text {
        None | Some("null") | Some("undefined") => Ok(None),
        Some(text) => match text.parse::<i64>() {
            Ok(version) if version >= 0 => Ok(Some(version)),
            _ => Err(ApiError::invalid("last_pulled_at", "invalid_format")),
        },
    }
}

/// Checks that `schema_version`, when sent, is an integer. The server's tables do not vary
/// with the client's schema version, so its value is not used.
fn check_schema_version(text: Option<&str>) -> Result<(), ApiError> {
    match text {
        None | Some("null") => Ok(()),
        Some(text) if text.parse::<i64>().is_ok() => Ok(()),
        Some(_) => Err(ApiError::invalid("schema_version", "invalid_format")),
    }
}

/// A WatermelonDB migration sync: tables the client has just added, and tables it has added
/// columns to. Both need records older than `last_pulled_at`.
#[derive(Debug, Default, PartialEq)]
struct Migration {
    new_tables: Vec<&'static str>,
    new_columns: Vec<&'static str>,
}

/// Reads `migration`: `null`, or WatermelonDB's `{from, tables, columns: [{table, columns}]}`
/// as JSON. Tables this server does not sync are skipped.
fn parse_migration(text: Option<&str>) -> Result<Option<Migration>, ApiError> {
    let invalid = || ApiError::invalid("migration", "invalid_format");
    let value: Value = match text {
        None => return Ok(None),
        Some(text) => serde_json::from_str(text).map_err(|_| invalid())?,
    };
    let object = match value {
        Value::Null => return Ok(None),
        Value::Object(object) => object,
        _ => return Err(invalid()),
    };
    let known = |name: &str| TABLES.iter().copied().find(|table| *table == name);
    let mut migration = Migration::default();
    if let Some(tables) = object.get("tables") {
        let tables = tables.as_array().ok_or_else(invalid)?;
        for table in tables {
            let name = table.as_str().ok_or_else(invalid)?;
            if let Some(table) = known(name) {
                migration.new_tables.push(table);
            }
        }
    }
    if let Some(columns) = object.get("columns") {
        let columns = columns.as_array().ok_or_else(invalid)?;
        for entry in columns {
            let name = entry.get("table").and_then(Value::as_str).ok_or_else(invalid)?;
            if let Some(table) = known(name) {
                migration.new_columns.push(table);
            }
        }
    }
    Ok(Some(migration))
}

/// Which list of a table's changes a record goes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Created,
    Updated,
    Deleted,
}

impl Slot {
    fn key(self) -> &'static str {
        match self {
            Slot::Created => "created",
            Slot::Updated => "updated",
            Slot::Deleted => "deleted",
        }
    }
}

/// How one table is read for a pull.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TableRead {
    /// The device has none of the table: every live record, all as created.
    Fresh,
    /// The device has the table but needs every live record again (an expired cursor, or
    /// columns it has just added), plus the changes since its cursor.
    Resend,
    /// The changes since the device's cursor.
    Incremental,
}

/// What one pull reads and how it sorts the rows.
#[derive(Debug)]
struct PullPlan {
    /// `last_pulled_at`, when the device has pulled before.
    since: Option<i64>,
    /// Rows with a version above this are read.
    after: i64,
    reads: [TableRead; 5],
}

impl PullPlan {
    fn new(since: Option<i64>, expired: bool, migration: Option<&Migration>) -> PullPlan {
        let Some(since) = since else {
            return PullPlan {
                since: None,
                after: 0,
                reads: [TableRead::Fresh; 5],
            };
        };
        if expired {
            return PullPlan {
                since: Some(since),
                after: 0,
                reads: [TableRead::Resend; 5],
            };
        }
        match migration {
            Some(migration) if !migration.new_tables.is_empty() || !migration.new_columns.is_empty() => {
                // One read of every table from the start keeps the pull a single consistent
                // D1 batch; rows below the cursor of the other tables are dropped in `slot_of`.
                let reads = TABLES.map(|table| {
                    if migration.new_tables.contains(&table) {
                        TableRead::Fresh
                    } else if migration.new_columns.contains(&table) {
                        TableRead::Resend
                    } else {
                        TableRead::Incremental
                    }
                });
                PullPlan {
                    since: Some(since),
                    after: 0,
                    reads,
                }
            }
            _ => PullPlan {
                since: Some(since),
                after: since - 1,
                reads: [TableRead::Incremental; 5],
            },
        }
    }

    /// Sorts one changed row into a list, or `None` when this pull leaves it out.
    fn slot_of(&self, change: &Change, device_id: Option<&str>) -> Option<Slot> {
        let read = TABLES
            .iter()
            .position(|table| *table == change.entity)
            .map(|index| self.reads[index])?;
        let deleted = change.deleted();
        let since = match (read, self.since) {
            (TableRead::Fresh, _) | (_, None) => {
                return if deleted { None } else { Some(Slot::Created) };
            }
            (_, Some(since)) => since,
        };
        if change.version < since {
            // Older than the cursor: only a resend carries it, and only while it is live.
            return (read == TableRead::Resend && !deleted).then_some(Slot::Updated);
        }
        if deleted {
            return Some(Slot::Deleted);
        }
        if created_by_another_since(change, since, device_id) {
            Some(Slot::Created)
        } else {
            Some(Slot::Updated)
        }
    }
}

/// True when a device other than `device_id` (or the server) created the record at a
/// version at or above `since`. Echoing a device's own new record as created would make
/// WatermelonDB recreate it even when the device has deleted it and not pushed that yet.
fn created_by_another_since(change: &Change, since: i64, device_id: Option<&str>) -> bool {
    let row = &change.row;
    let own = |creator: Option<&str>| device_id.is_some() && creator == device_id;
    match change.entity {
        "transactions" => {
            // NOTE: transactions have no creation version column. A sale keeps the version
            // it was inserted at until something updates the row, which also moves
            // `updated_at` away from `recorded_at`; after that the sale is sent as updated.
            let untouched = db::get_str(row, "recorded_at") == db::get_str(row, "updated_at");
            untouched && change.version >= since && !own(db::get_str(row, "device_id"))
        }
        // Movements are never updated, so their version is their creation version. The
        // server writes the sale, refund and void movements itself, whatever device_id they carry.
        "stock_movements" => {
            let server_written = db::get_str(row, "kind").is_some_and(|kind| SERVER_KINDS.contains(&kind));
            change.version >= since && (server_written || !own(db::get_str(row, "device_id")))
        }
        _ => {
            let created_version = db::get_i64(row, "created_version");
            created_version.is_some_and(|version| version >= since) && !own(db::get_str(row, "created_device_id"))
        }
    }
}

/// Turns a stored row into a WatermelonDB raw record: the native record, except that a sale
/// carries `items_json` and `payments_json` as JSON strings and `created_at` in Unix ms.
fn watermelon_record(entity: &'static str, row: db::Row) -> Value {
    if entity != "transactions" {
        return record_of(entity, row);
    }
    let created_at_ms = db::get_i64(&row, "created_at_ms");
    let mut record = record_of(entity, row);
    if let Some(record) = record.as_object_mut() {
        for (native, column) in [("items", "items_json"), ("payments", "payments_json")] {
            let list = record.remove(native).unwrap_or_else(|| json!([]));
            record.insert(column.to_string(), Value::String(list.to_string()));
        }
        if let Some(millis) = created_at_ms {
            record.insert("created_at".to_string(), json!(millis));
        }
    }
    record
}

// ---------------------------------------------------------------------------------------------
// Push
// ---------------------------------------------------------------------------------------------

/// `POST /v1/sync/watermelon?last_pulled_at=`.
pub async fn push(req: &mut Request, env: &Env, principal: &Principal, lang: Lang) -> Result<Response, ApiError> {
    let Some(device_id) = principal.device_id.clone() else {
        return Err(ApiError::keyed(ErrorCode::Forbidden, "device_required"));
    };
    let query = Query::of(req);
    let body = http::read_json(req, MAX_PUSH_BYTES).await?;
    let (changes, body_last_pulled_at) = split_push_body(body)?;
    let last_pulled_at = match query.get("last_pulled_at") {
        Some(text) => parse_last_pulled_at(Some(text))?,
        None => body_last_pulled_at,
    }
    .ok_or_else(|| ApiError::invalid("last_pulled_at", "required"))?;

    let plan = plan_push(&device_id, &changes, last_pulled_at)?;
    let mut rejected = Rejections::default();
    for (table, id, error) in plan.rejected {
        rejected.add(table, id, error_object(&error, lang));
    }

    let mut results = Vec::with_capacity(plan.mutations.len());
    for slice in plan.mutations.chunks(HUB_BATCH) {
        let command = Command::Push {
            device_id: device_id.clone(),
            mutations: slice.to_vec(),
            server_clock: true,
        };
        let answer = hub::call_in(env, &principal.tenant, principal.actor(), lang, command).await?;
        match answer.get("results").and_then(Value::as_array) {
            Some(list) if list.len() == slice.len() => results.extend(list.iter().cloned()),
            _ => return Err(ApiError::internal("hub push answer has no result per mutation")),
        }
    }
    for (target, result) in plan.targets.iter().zip(results.iter()) {
        if result.get("status").and_then(Value::as_str) != Some("rejected") {
            continue;
        }
        let error = result.get("error").cloned().unwrap_or(Value::Null);
        // A created sale or movement whose id is already stored under another body is a
        // replay of a record the server keeps as it is: ignored, so the device stops
        // sending it. The hub keeps the other body for review.
        let stored_elsewhere = error.get("code").and_then(Value::as_str) == Some("conflict");
        if target.kind == Kind::Created && INSERT_ONLY.contains(&target.table) && stored_elsewhere {
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

/// How WatermelonDB marked a pushed record.
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
/// 422 when the changes are not shaped as WatermelonDB sends them; a single bad record is
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
            // NOTE: a table this server does not sync is rejected record by record, so the
            // client keeps the records as unsynced. Local-only tables belong outside the push.
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

/// Every record id a table's changes name, for rejecting a whole table.
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

/// What every mutation of one table in one push shares.
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
    /// answers it from its record of the first one.
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

/// Builds the `data` of a stock movement row; `created_at` may come in Unix ms.
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
