//! Sync push inside the hub: mutations applied in order, each committed with its recorded
//! result so a retried push returns exactly what the first one did.

use std::collections::{HashMap, HashSet};

use kasir_core::entity::{catalog_spec, client_fields, validate_fields, EntitySpec, Mode, SqlValue, UnknownFields};
use kasir_core::error::{ApiError, Detail, ErrorCode};
use kasir_core::hlc::Hlc;
use kasir_core::merge::{decide, effective_base, Decision, Incoming, Op, Stored};
use kasir_core::money::TaxSettings;
use kasir_core::permissions::{allows, Permission};
use kasir_core::validate::parse_uuid;
use serde_json::{json, Map, Value};
use worker::D1PreparedStatement;

use crate::catalog::{check_unique, columns_of, delete_statement, load, row_after_update, write_statements, Stamp};
use crate::db::{self, Row};
use crate::protocol::Actor;
use crate::sale::insert_sale;
use crate::{internal, now_millis, now_rfc3339, stock, Writer};

/// The parts of one mutation the hub reads.
pub(crate) struct Mutation<'a> {
    pub id: String,
    pub entity: &'a str,
    pub op: Op,
    pub record_id: String,
    pub base_version: Option<i64>,
    pub fields: Option<Vec<String>>,
    pub data: Map<String, Value>,
    /// The device's clock, clamped; `None` when the hub stamps its own.
    pub hlc: Option<Hlc>,
    pub sync_source: String,
}

/// Applies a push and returns `{results, version}`.
///
/// # Errors
/// Only a D1 failure fails the whole push; mutations committed before it keep their
/// recorded results, so the client's retry gets them from the record.
pub(crate) async fn apply_push(
    writer: &mut Writer<'_>,
    actor: &Actor,
    tax: &TaxSettings,
    device_id: &str,
    mutations: Vec<Value>,
    server_clock: bool,
) -> Result<Value, ApiError> {
    let started = now_millis();
    let mut results = Vec::with_capacity(mutations.len());
    let mut counts: Map<String, Value> = ["applied", "merged", "duplicate", "conflict", "rejected"]
        .iter()
        .map(|status| (status.to_string(), json!(0)))
        .collect();

    let parsed: Vec<Result<Mutation<'_>, Detail>> =
        mutations.iter().map(|raw| parse_mutation(raw, server_clock)).collect();
    let mut cache = PushCache::prefetch(writer, device_id, &parsed).await?;

    // Catalog writes are held back and committed a chunk at a time. A mutation that reads
    // what the held-back chunk wrote (the same record or mutation id, a referenced record)
    // or that writes on its own (sales, stock, outlets with their unique code) flushes first.
    writer.defer();
    let mut touched: HashSet<(String, String)> = HashSet::new();
    let mut held = 0;
    for (index, parsed) in parsed.into_iter().enumerate() {
        let result = match parsed {
            Err(detail) => {
                // The id is echoed only when it is a string; anything else reads as none.
                let mutation_id = mutations[index]
                    .get("id")
                    .filter(|id| id.is_string())
                    .cloned()
                    .unwrap_or(Value::Null);
                rejected(
                    writer,
                    mutation_id,
                    &ApiError::validation(vec![prefixed(detail, index)]),
                )
            }
            Ok(mutation) => {
                let batched = catalog_spec(mutation.entity).is_some_and(|spec| spec.unique.is_none());
                let depends = touched.contains(&(String::new(), mutation.id.clone()))
                    || cache.needs_flush(&touched, &(mutation.entity.to_string(), mutation.record_id.clone()))
                    || references(&mutation).iter().any(|key| cache.needs_flush(&touched, key));
                if !batched || depends || held >= MAX_HELD_MUTATIONS {
                    writer.flush().await?;
                    cache.forget(&touched);
                    touched.clear();
                    held = 0;
                }
                touched.insert((String::new(), mutation.id.clone()));
                touched.insert((mutation.entity.to_string(), mutation.record_id.clone()));
                held += 1;
                let mutation_id = mutation.id.clone();
                let result = match cache.results.get(&mutation_id) {
                    Some(result) => result.clone(),
                    None if batched => apply_one(writer, actor, tax, device_id, mutation, &mut cache).await?,
                    None => {
                        let deferred = writer.deferred.take();
                        let result = apply_one(writer, actor, tax, device_id, mutation, &mut cache).await;
                        writer.deferred = deferred;
                        result?
                    }
                };
                // The same id again later in this push gets this result.
                cache.results.insert(mutation_id, result.clone());
                result
            }
        };
        if let Some(status) = result.get("status").and_then(Value::as_str) {
            if let Some(count) = counts.get_mut(status) {
                *count = json!(count.as_i64().unwrap_or(0) + 1);
            }
        }
        results.push(result);
    }
    // The sync log line commits with the last held-back chunk.
    let log = db::statement(
        &writer.db,
        "INSERT INTO sync_log (tenant_id, id, device_id, user_id, at, counts, duration_ms) VALUES (?, lower(hex(randomblob(16))), ?, ?, ?, ?, ?)",
        &[
            db::text(&writer.tenant_id),
            db::text(device_id),
            db::text(&actor.user_id),
            db::text(now_rfc3339()),
            db::text(Value::Object(counts).to_string()),
            db::int(now_millis() - started),
        ],
    )
    .map_err(internal)?;
    writer.write(vec![log]).await?;
    writer.flush().await?;
    writer.deferred = None;

    let version = writer.current_version().await?;
    Ok(json!({ "results": results, "version": version }))
}

/// Maximum mutations held back before a flush, so that a push of 100 edits commits in one D1
/// batch: a write per mutation, and their snapshots and results in multi-row INSERTs.
const MAX_HELD_MUTATIONS: usize = 100;
/// Cache of what a push reads before it writes: the recorded results of its mutation ids and
/// the stored rows of the catalog records it names, each fetched in a few queries.
pub(crate) struct PushCache {
    results: HashMap<String, Value>,
    rows: HashMap<(String, String), Option<Row>>,
    /// Client columns of a record at a base version, keyed by (table, id, base). History at
    /// or below a version never changes, so entries stay valid across flushes.
    snapshots: HashMap<(String, String, i64), Option<Map<String, Value>>>,
    /// Records whose cached row includes this push's writes, committed or held back.
    current: HashSet<(String, String)>,
}

impl PushCache {
    async fn prefetch(
        writer: &Writer<'_>,
        device_id: &str,
        parsed: &[Result<Mutation<'_>, Detail>],
    ) -> Result<PushCache, ApiError> {
        let mutations: Vec<&Mutation<'_>> = parsed.iter().filter_map(|parsed| parsed.as_ref().ok()).collect();
        let mut cache = PushCache {
            results: HashMap::new(),
            rows: HashMap::new(),
            snapshots: HashMap::new(),
            current: HashSet::new(),
        };

        // The recorded results of the push's mutation ids and the stored rows it names, read
        // in one D1 batch. `None` in `tables` marks a statement that reads results.
        let mut statements = Vec::new();
        let mut tables: Vec<Option<&'static str>> = Vec::new();
        let ids: Vec<&str> = mutations.iter().map(|mutation| mutation.id.as_str()).collect();
        for chunk in ids.chunks(db::MAX_BOUND_VALUES) {
            let sql = format!(
                "SELECT mutation_id, result FROM sync_mutations WHERE tenant_id = ? AND device_id = ? AND mutation_id IN ({})",
                vec!["?"; chunk.len()].join(", ")
            );
            let mut args = vec![db::text(&writer.tenant_id), db::text(device_id)];
            args.extend(chunk.iter().map(|id| db::text(*id)));
            statements.push(db::statement(&writer.db, &sql, &args).map_err(internal)?);
            tables.push(None);
        }

        let mut record_ids: HashMap<&'static str, Vec<String>> = HashMap::new();
        for mutation in &mutations {
            if let Some(spec) = catalog_spec(mutation.entity) {
                record_ids
                    .entry(spec.name)
                    .or_default()
                    .push(mutation.record_id.clone());
                for (table, id) in references(mutation) {
                    if let Some(table) = catalog_spec(&table) {
                        record_ids.entry(table.name).or_default().push(id);
                    }
                }
            }
        }
        for (table, mut ids) in record_ids {
            ids.sort_unstable();
            ids.dedup();
            for chunk in ids.chunks(db::MAX_BOUND_VALUES) {
                // `table` is a constant entity name.
                let sql = format!(
                    "SELECT * FROM {table} WHERE tenant_id = ? AND id IN ({})",
                    vec!["?"; chunk.len()].join(", ")
                );
                let mut args = vec![db::text(&writer.tenant_id)];
                args.extend(chunk.iter().map(db::text));
                statements.push(db::statement(&writer.db, &sql, &args).map_err(internal)?);
                tables.push(Some(table));
                for id in chunk {
                    cache.rows.insert((table.to_string(), id.clone()), None);
                }
            }
        }

        let results = db::batch(&writer.db, statements).await.map_err(internal)?;
        for (table, result) in tables.into_iter().zip(results) {
            for row in db::rows_of(&result).map_err(internal)? {
                match table {
                    None => {
                        let result = db::get_str(&row, "result").and_then(|text| serde_json::from_str(text).ok());
                        if let (Some(id), Some(result)) = (db::get_str(&row, "mutation_id"), result) {
                            cache.results.insert(id.to_string(), result);
                        }
                    }
                    Some(table) => {
                        if let Some(id) = db::get_str(&row, "id").map(str::to_string) {
                            cache.rows.insert((table.to_string(), id), Some(row));
                        }
                    }
                }
            }
        }

        cache.prefetch_snapshots(writer, device_id, &mutations).await?;
        Ok(cache)
    }

    /// Reads, in one D1 batch, the base snapshot of every edit whose base is older than the
    /// stored record, so that field merges do not read history one record at a time.
    async fn prefetch_snapshots(
        &mut self,
        writer: &Writer<'_>,
        device_id: &str,
        mutations: &[&Mutation<'_>],
    ) -> Result<(), ApiError> {
        let mut requested: HashMap<&'static str, Vec<(String, i64)>> = HashMap::new();
        for mutation in mutations {
            let Some(spec) = catalog_spec(mutation.entity) else {
                continue;
            };
            let key = (spec.name.to_string(), mutation.record_id.clone());
            let Some(Some(row)) = self.rows.get(&key) else {
                continue;
            };
            let stored_version = db::get_i64(row, "version").unwrap_or(0);
            if let Some(base) = merge_base(mutation, row, device_id).filter(|base| *base < stored_version) {
                requested
                    .entry(spec.name)
                    .or_default()
                    .push((mutation.record_id.clone(), base));
            }
        }

        let mut statements = Vec::new();
        let mut statement_tables = Vec::new();
        for (table, mut pairs) in requested {
            pairs.sort_unstable();
            pairs.dedup();
            // Two values per pair, plus the tenant and the entity.
            for chunk in pairs.chunks((db::MAX_BOUND_VALUES - 2) / 2) {
                // The newest snapshot at or below the base: versions between belong to other
                // records.
                let sql = format!(
                    "WITH requested (record_id, base) AS (VALUES {}) \
                     SELECT requested.record_id AS record_id, requested.base AS base, \
                     (SELECT fields FROM record_history AS h WHERE h.tenant_id = ? AND h.entity = ? \
                     AND h.record_id = requested.record_id AND h.version <= requested.base \
                     ORDER BY h.version DESC LIMIT 1) AS fields FROM requested",
                    vec!["(?, ?)"; chunk.len()].join(", ")
                );
                let mut args = Vec::with_capacity(chunk.len() * 2 + 2);
                for (record_id, base) in chunk {
                    args.push(db::text(record_id));
                    args.push(db::int(*base));
                }
                args.push(db::text(&writer.tenant_id));
                args.push(db::text(table));
                statements.push(db::statement(&writer.db, &sql, &args).map_err(internal)?);
                statement_tables.push(table);
            }
        }

        let results = db::batch(&writer.db, statements).await.map_err(internal)?;
        for (table, result) in statement_tables.into_iter().zip(results) {
            for row in db::rows_of(&result).map_err(internal)? {
                let (Some(record_id), Some(base)) = (db::get_str(&row, "record_id"), db::get_i64(&row, "base")) else {
                    continue;
                };
                let fields = db::get_str(&row, "fields").and_then(parse_fields);
                self.snapshots
                    .insert((table.to_string(), record_id.to_string(), base), fields);
            }
        }
        Ok(())
    }

    /// Reads a record's snapshot at `version` through the cache.
    async fn snapshot(
        &mut self,
        writer: &Writer<'_>,
        spec: &EntitySpec,
        record_id: &str,
        version: i64,
    ) -> Result<Option<Map<String, Value>>, ApiError> {
        let key = (spec.name.to_string(), record_id.to_string(), version);
        if let Some(fields) = self.snapshots.get(&key) {
            return Ok(fields.clone());
        }
        // NOTE: snapshots still held back for the flush are not in D1 yet, so a base version
        // written earlier in this same push reads an older snapshot. No device can know such
        // a version before its push returns, so only a forged base meets this.
        let fields = snapshot(writer, spec, record_id, version).await?;
        self.snapshots.insert(key, fields.clone());
        Ok(fields)
    }

    /// Reads a record through the cache.
    async fn load(&mut self, writer: &Writer<'_>, table: &str, id: &str) -> Result<Option<Row>, ApiError> {
        let key = (table.to_string(), id.to_string());
        if let Some(row) = self.rows.get(&key) {
            return Ok(row.clone());
        }
        let row = load(writer, table, id).await?;
        self.rows.insert(key, row.clone());
        Ok(row)
    }

    /// Drops cached rows that a flushed chunk changed, so they are read again, except those
    /// kept current in memory.
    fn forget(&mut self, touched: &HashSet<(String, String)>) {
        for key in touched {
            if !self.current.contains(key) {
                self.rows.remove(key);
            }
        }
    }

    /// Stores a record's row as this push's write left it.
    fn keep_current(&mut self, table: &str, id: &str, row: Row) {
        let key = (table.to_string(), id.to_string());
        self.rows.insert(key.clone(), Some(row));
        self.current.insert(key);
    }

    /// True when a record the held-back chunk wrote must be committed before it is read.
    fn needs_flush(&self, touched: &HashSet<(String, String)>, key: &(String, String)) -> bool {
        touched.contains(key) && !self.current.contains(key)
    }
}

/// Returns the (table, id) pairs of records a mutation's data refers to.
fn references(mutation: &Mutation<'_>) -> Vec<(String, String)> {
    let Some(spec) = catalog_spec(mutation.entity) else {
        return Vec::new();
    };
    spec.references
        .iter()
        .filter_map(|(column, table)| {
            let id = mutation.data.get(*column)?.as_str().and_then(parse_uuid)?;
            Some((table.to_string(), id))
        })
        .collect()
}

fn prefixed(mut detail: Detail, index: usize) -> Detail {
    detail.field = if detail.field.is_empty() {
        format!("mutations[{index}]")
    } else {
        format!("mutations[{index}].{}", detail.field)
    };
    detail
}

fn parse_mutation(raw: &Value, server_clock: bool) -> Result<Mutation<'_>, Detail> {
    let object = raw.as_object().ok_or_else(|| Detail::new("", "invalid_type"))?;
    let uuid_of = |key: &str| -> Result<String, Detail> {
        let text = object
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| Detail::new(key, "required"))?;
        parse_uuid(text).ok_or_else(|| Detail::new(key, "invalid_format"))
    };
    let id = uuid_of("id")?;
    let record_id = uuid_of("record_id")?;
    let entity = object
        .get("entity")
        .and_then(Value::as_str)
        .ok_or_else(|| Detail::new("entity", "required"))?;
    let op = match object.get("op").and_then(Value::as_str) {
        Some("upsert") => Op::Upsert,
        Some("delete") => Op::Delete,
        _ => return Err(Detail::new("op", "invalid_format")),
    };
    let data = match object.get("data") {
        Some(Value::Object(data)) => data.clone(),
        None | Some(Value::Null) if op == Op::Delete => Map::new(),
        _ => return Err(Detail::new("data", "invalid_type")),
    };
    let base_version = match object.get("base_version") {
        None | Some(Value::Null) => None,
        Some(value) => match value.as_i64() {
            Some(version) if version >= 0 => Some(version),
            _ => return Err(Detail::new("base_version", "invalid_format")),
        },
    };
    let fields = match object.get("fields") {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => Some(
            list.iter()
                .map(|field| field.as_str().map(str::to_string))
                .collect::<Option<Vec<String>>>()
                .ok_or_else(|| Detail::new("fields", "invalid_type"))?,
        ),
        Some(_) => return Err(Detail::new("fields", "invalid_type")),
    };
    let hlc = if server_clock {
        None
    } else {
        let text = object
            .get("hlc")
            .and_then(Value::as_str)
            .ok_or_else(|| Detail::new("hlc", "required"))?;
        Some(Hlc::parse(text).map_err(|_| Detail::new("hlc", "invalid_format"))?)
    };
    let sync_source = match object.get("sync_source") {
        None | Some(Value::Null) => "mobile".to_string(),
        Some(Value::String(source)) if source == "mobile" || source == "web" => source.clone(),
        Some(_) => return Err(Detail::new("sync_source", "invalid_format")),
    };
    Ok(Mutation {
        id,
        entity,
        op,
        record_id,
        base_version,
        fields,
        data,
        hlc,
        sync_source,
    })
}

/// INSERT head of a mutation's recorded result.
const RESULT_INSERT: &str =
    "INSERT OR IGNORE INTO sync_mutations (tenant_id, device_id, mutation_id, result, applied_at) VALUES";

fn result_row(writer: &Writer<'_>, device_id: &str, mutation_id: &str, result: &Value) -> Vec<SqlValue> {
    vec![
        db::text(&writer.tenant_id),
        db::text(device_id),
        db::text(mutation_id),
        db::text(result.to_string()),
        db::text(now_rfc3339()),
    ]
}

/// Builds the statement that records a mutation's result, to commit with its write.
pub(crate) fn record_statement(
    writer: &Writer<'_>,
    device_id: &str,
    mutation_id: &str,
    result: &Value,
) -> Result<D1PreparedStatement, ApiError> {
    let row = result_row(writer, device_id, mutation_id, result);
    let sql = format!("{RESULT_INSERT} ({})", vec!["?"; row.len()].join(", "));
    db::statement(&writer.db, &sql, &row).map_err(internal)
}

/// Returns the statements that record a mutation's result. While commits are deferred, the
/// result joins the flush's multi-row INSERT instead.
fn record_statements(
    writer: &mut Writer<'_>,
    device_id: &str,
    mutation_id: &str,
    result: &Value,
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    let row = result_row(writer, device_id, mutation_id, result);
    writer.insert_row(RESULT_INSERT, row)
}

fn rejected(writer: &Writer<'_>, mutation_id: Value, error: &ApiError) -> Value {
    let envelope = error.envelope(writer.lang, "");
    let mut error_object = envelope["error"].clone();
    if let Some(object) = error_object.as_object_mut() {
        object.remove("request_id");
    }
    json!({ "mutation_id": mutation_id, "status": "rejected", "error": error_object })
}

pub(crate) fn outcome(mutation_id: &str, status: &str, version: i64, ignored: &[String]) -> Value {
    let mut result = json!({ "mutation_id": mutation_id, "status": status, "version": version });
    if !ignored.is_empty() {
        result["ignored_fields"] = json!(ignored);
    }
    result
}

/// Records a result that wrote nothing, so a retry gets it from the record.
pub(crate) async fn record_only(
    writer: &mut Writer<'_>,
    device_id: &str,
    mutation_id: &str,
    result: Value,
) -> Result<Value, ApiError> {
    let statements = record_statements(writer, device_id, mutation_id, &result)?;
    writer.write(statements).await?;
    Ok(result)
}

/// Applies one mutation, committing its result with it. A permanent rejection is recorded
/// on its own, so it does not block the mutations after it.
async fn apply_one(
    writer: &mut Writer<'_>,
    actor: &Actor,
    tax: &TaxSettings,
    device_id: &str,
    mut mutation: Mutation<'_>,
    cache: &mut PushCache,
) -> Result<Value, ApiError> {
    // A clock far ahead of the server's is clamped, so one device cannot win every future
    // conflict; the hub's clock then moves past what it accepted.
    let hlc = match mutation.hlc.take() {
        Some(hlc) => {
            let (hlc, clamped) = hlc.clamp_to(now_millis(), writer.memory.last_hlc.as_ref());
            if clamped {
                worker::console_warn!(
                    "{}",
                    json!({ "event": "hlc_clamped", "tenant_id": writer.tenant_id, "device_id": device_id, "mutation_id": mutation.id })
                );
            }
            writer.observe_hlc(&hlc);
            hlc
        }
        None => writer.server_hlc(),
    };
    mutation.hlc = Some(hlc);

    let applied = match mutation.entity {
        "transactions" => apply_sale(writer, actor, tax, device_id, &mutation).await,
        "stock_movements" => stock::apply_movement(writer, actor, device_id, &mutation).await,
        entity => match catalog_spec(entity) {
            Some(spec) => apply_catalog(writer, actor, spec, device_id, &mutation, cache).await,
            None => Err(ApiError::invalid("entity", "unknown_entity")),
        },
    };
    match applied {
        Ok(result) => Ok(result),
        Err(error) if error.code == ErrorCode::Internal => Err(error),
        Err(error) => {
            let result = rejected(writer, json!(mutation.id), &error);
            record_only(writer, device_id, &mutation.id, result).await
        }
    }
}

async fn apply_sale(
    writer: &mut Writer<'_>,
    actor: &Actor,
    tax: &TaxSettings,
    device_id: &str,
    mutation: &Mutation<'_>,
) -> Result<Value, ApiError> {
    if !allows(actor.role, Permission::CreateSales) {
        return Err(ApiError::forbidden());
    }
    if mutation.op == Op::Delete {
        return Err(ApiError::invalid("op", "insert_only"));
    }
    let mut body = mutation.data.clone();
    match body.get("id").and_then(Value::as_str).map(parse_uuid) {
        None => {
            body.insert("id".to_string(), json!(mutation.record_id));
        }
        Some(Some(id)) if id == mutation.record_id => {}
        Some(_) => return Err(ApiError::invalid("data.id", "invalid_format")),
    }
    let body = Value::Object(body);

    // The result is recorded in the sale's own batch, so it must be known before the insert:
    // an insert always gets the next version.
    let next_version = writer.current_version().await? + 1;
    let provisional = outcome(&mutation.id, "applied", next_version, &[]);
    let record = record_statement(writer, device_id, &mutation.id, &provisional)?;
    let recorded = match insert_sale(
        writer,
        actor,
        tax,
        &body,
        UnknownFields::Ignore,
        &mutation.sync_source,
        vec![record],
    )
    .await
    {
        Ok(recorded) => recorded,
        Err(error) => {
            if error.message_key.as_deref() == Some("sale_replay_mismatch") {
                log_rejection(
                    writer,
                    "transactions",
                    &mutation.record_id,
                    device_id,
                    "different body under a stored id",
                    &body,
                )
                .await;
            }
            return Err(error);
        }
    };

    if recorded.saved.created {
        return Ok(outcome(&mutation.id, "applied", recorded.version, &recorded.ignored));
    }
    // A replay of a stored sale: nothing was written, so record the duplicate now.
    let result = outcome(&mutation.id, "duplicate", recorded.version, &recorded.ignored);
    record_only(writer, device_id, &mutation.id, result).await
}

/// Keeps an insert-only write that was rejected for another body under a stored id, for
/// review; a failure to keep it is logged, not fatal.
pub(crate) async fn log_rejection(
    writer: &Writer<'_>,
    entity: &str,
    record_id: &str,
    device_id: &str,
    reason: &str,
    body: &Value,
) {
    worker::console_warn!(
        "{}",
        json!({ "event": "insert_only_rejected", "tenant_id": writer.tenant_id, "entity": entity, "record_id": record_id, "device_id": device_id })
    );
    let result = db::run(
        &writer.db,
        "INSERT INTO sync_rejections (tenant_id, id, entity, record_id, device_id, reason, body, at) VALUES (?, lower(hex(randomblob(16))), ?, ?, ?, ?, ?, ?)",
        &[
            db::text(&writer.tenant_id),
            db::text(entity),
            db::text(record_id),
            db::text(device_id),
            db::text(reason),
            db::text(body.to_string()),
            db::text(now_rfc3339()),
        ],
    )
    .await;
    if let Err(error) = result {
        worker::console_error!(
            "{}",
            json!({ "event": "rejection_not_logged", "error": error.to_string() })
        );
    }
}

fn catalog_permission(spec: &EntitySpec, creating: bool) -> Permission {
    match spec.name {
        "outlets" => Permission::ManageOutlets,
        "customers" if creating => Permission::CreateCustomers,
        "customers" => Permission::WriteCustomers,
        _ => Permission::WriteCatalog,
    }
}

async fn apply_catalog(
    writer: &mut Writer<'_>,
    actor: &Actor,
    spec: &'static EntitySpec,
    device_id: &str,
    mutation: &Mutation<'_>,
    cache: &mut PushCache,
) -> Result<Value, ApiError> {
    let existing = cache.load(writer, spec.name, &mutation.record_id).await?;
    if !allows(actor.role, catalog_permission(spec, existing.is_none())) {
        return Err(ApiError::forbidden());
    }

    // Validate what the device changed: on a record it edits, only the listed `fields`.
    let mut data = mutation.data.clone();
    if existing.is_some() {
        if let Some(fields) = &mutation.fields {
            data.retain(|key, _| fields.contains(key));
        }
    }
    let (changes, ignored) = if mutation.op == Op::Upsert {
        let mode = if existing.is_some() { Mode::Update } else { Mode::Create };
        let validated = validate_fields(spec, &data, mode, UnknownFields::Ignore).map_err(ApiError::validation)?;
        // `id` travels as `record_id`; it is not an ignored column.
        let ignored: Vec<String> = validated.ignored.into_iter().filter(|field| field != "id").collect();
        let changes: Map<String, Value> = validated
            .values
            .iter()
            .map(|(column, value)| (column.to_string(), value.to_json()))
            .collect();
        (changes, ignored)
    } else {
        (Map::new(), Vec::new())
    };

    let stored_fields = existing
        .as_ref()
        .map(|row| client_fields(spec, row))
        .unwrap_or_default();
    let stored = existing.as_ref().map(|row| Stored {
        version: db::get_i64(row, "version").unwrap_or(0),
        hlc: db::get_str(row, "hlc").and_then(|text| Hlc::parse(text).ok()),
        deleted: !row.get("deleted_at").is_none_or(Value::is_null),
        fields: &stored_fields,
    });
    let base_version = match &existing {
        Some(row) => merge_base(mutation, row, device_id),
        None => mutation.base_version,
    };
    let base = match (&stored, base_version) {
        (Some(stored), Some(base_version)) if base_version < stored.version => {
            cache.snapshot(writer, spec, &mutation.record_id, base_version).await?
        }
        _ => None,
    };
    let hlc = mutation.hlc.clone().unwrap_or_else(|| writer.server_hlc());
    let incoming = Incoming {
        op: mutation.op,
        base_version,
        changes: &changes,
        hlc: &hlc,
    };
    let decision = decide(
        writer.sync.strategy(spec.name),
        stored.as_ref(),
        base.as_ref(),
        &incoming,
    );
    let stored_version = stored.as_ref().map(|stored| stored.version).unwrap_or(0);

    let (values, restore) = match &decision {
        Decision::Skip => {
            // Deleting what is already gone (or never came) took effect as sent; a delete that
            // lost to a newer edit left the record live, so it merged.
            let gone = stored.as_ref().is_none_or(|stored| stored.deleted);
            let status = if mutation.op == Op::Delete && gone {
                "applied"
            } else {
                "merged"
            };
            let result = outcome(&mutation.id, status, stored_version, &ignored);
            return record_only(writer, device_id, &mutation.id, result).await;
        }
        Decision::Conflict { fields } => {
            let conflict_id =
                crate::conflicts::store(writer, actor, spec, mutation, &stored_fields, &changes, fields).await?;
            let mut result = outcome(&mutation.id, "conflict", stored_version, &ignored);
            result["conflict_id"] = json!(conflict_id);
            return record_only(writer, device_id, &mutation.id, result).await;
        }
        Decision::Delete => (Map::new(), false),
        Decision::Insert(values) | Decision::Update { values, .. } => (values.clone(), false),
        Decision::Restore(values) => (values.clone(), true),
    };

    let columns = columns_of(spec, &values);
    for (column, table) in spec.references {
        let Some((_, SqlValue::Text(id))) = columns.iter().find(|(name, _)| name == column) else {
            continue;
        };
        let live = cache
            .load(writer, table, id)
            .await?
            .is_some_and(|row| row.get("deleted_at").is_none_or(Value::is_null));
        if !live {
            return Err(ApiError::invalid(*column, "invalid_reference"));
        }
    }
    check_unique(writer, spec, &mutation.record_id, &columns).await?;
    let version = writer.current_version().await? + 1;
    // The row keeps the newest clock that touched it.
    let row_hlc = match stored.as_ref().and_then(|stored| stored.hlc.clone()) {
        Some(stored_hlc) if stored_hlc > hlc => stored_hlc,
        _ => hlc.clone(),
    };
    let stamp = Stamp {
        version,
        hlc: &row_hlc,
        sync_source: &mutation.sync_source,
        device_id: Some(device_id),
        // Only a change made on the stored version leaves its device caught up.
        caught_up: stored
            .as_ref()
            .is_none_or(|stored| base_version.is_some_and(|base| base >= stored.version)),
    };
    let result = outcome(&mutation.id, decision.status(), version, &ignored);
    // An update keeps the cached row current, so a later change of the record in this push
    // merges without a flush. A new row is read back, because its defaults come from SQL.
    let updated_row = existing.as_ref().map(|row| {
        let deleted = match &decision {
            Decision::Delete => Some(true),
            _ if restore => Some(false),
            _ => None,
        };
        row_after_update(row, &columns, &stamp, deleted)
    });
    let mut statements = if decision == Decision::Delete {
        vec![delete_statement(writer, spec, &mutation.record_id, &stamp)?]
    } else {
        write_statements(
            writer,
            spec,
            &mutation.record_id,
            &columns,
            existing.as_ref(),
            &stamp,
            restore,
        )?
    };
    statements.extend(record_statements(writer, device_id, &mutation.id, &result)?);
    writer.commit(statements, version).await?;
    if let Some(row) = updated_row {
        cache.keep_current(spec.name, &mutation.record_id, row);
    }
    Ok(result)
}

/// Reads a record's client columns as they were at `version`, when the hub still keeps them.
pub(crate) async fn snapshot(
    writer: &Writer<'_>,
    spec: &EntitySpec,
    record_id: &str,
    version: i64,
) -> Result<Option<Map<String, Value>>, ApiError> {
    // The snapshot at the base is the newest one at or below it: versions between belong to
    // other records.
    let row = db::first(
        &writer.db,
        "SELECT fields FROM record_history WHERE tenant_id = ? AND entity = ? AND record_id = ? AND version <= ? ORDER BY version DESC LIMIT 1",
        &[
            db::text(&writer.tenant_id),
            db::text(spec.name),
            db::text(record_id),
            db::int(version),
        ],
    )
    .await
    .map_err(internal)?;
    Ok(row.and_then(|row| db::get_str(&row, "fields").and_then(parse_fields)))
}

fn parse_fields(text: &str) -> Option<Map<String, Value>> {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|value| value.as_object().cloned())
}

/// Returns the version a pushed change to a stored record merges from. A change of a version
/// this device wrote itself merges from that version.
fn merge_base(mutation: &Mutation<'_>, row: &Row, device_id: &str) -> Option<i64> {
    effective_base(
        mutation.base_version,
        db::get_i64(row, "version").unwrap_or(0),
        !row.get("deleted_at").is_none_or(Value::is_null),
        db::get_str(row, "updated_device_id") == Some(device_id)
            && db::get_i64(row, "updated_device_caught_up") == Some(1),
    )
}
