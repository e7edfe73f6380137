//! Pull: the changes at or after `last_pulled_at`, sorted into WatermelonDB's lists.

use kasir_core::error::ApiError;
use kasir_core::stock::SERVER_KINDS;
use kasir_durable::db;
use serde_json::{json, Map, Value};
use worker::{Env, Request, Response};

use super::{parse_last_pulled_at, TABLES};
use crate::auth::Principal;
use crate::http::{self, Query};
use crate::routes::sync::{purge_expired, read_changes, record_of, Change};

/// `GET /v1/sync/watermelon?last_pulled_at=&schema_version=&migration=`.
pub async fn pull(req: &Request, env: &Env, principal: &Principal) -> Result<Response, ApiError> {
    let query = Query::of(req);
    let last_pulled_at = parse_last_pulled_at(query.get("last_pulled_at"))?;
    check_schema_version(query.get("schema_version"))?;
    let migration = parse_migration(query.get("migration"))?;

    let database = principal.tenant.db(env)?;
    let purged_version = purge_expired(env, principal).await?;
    // The device has seen every version below `last_pulled_at`. A purged tombstone at or
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
    // The timestamp never goes below the device's cursor nor below the purge horizon: no read
    // carries purged tombstones, so a cursor under the horizon would only expire again.
    let mut timestamp = last_pulled_at.unwrap_or(1).max(purged_version + 1);
    for change in changes {
        timestamp = timestamp.max(change.version + 1);
        let Some(slot) = plan.slot_of(&change, device_id) else {
            continue;
        };
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

    let mut body = json!({ "changes": by_table, "timestamp": timestamp });
    if expired {
        body["experimentalStrategy"] = json!("replacement");
    }
    http::json(200, &body)
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

/// The list of a table's changes that a record goes in.
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

/// The way one table is read for a pull.
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

/// The reads of one pull and the way it sorts their rows.
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
                // D1 batch. `slot_of` drops the other tables' rows below the cursor.
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
            // it was inserted at until something updates the row. That update also moves
            // `updated_at` away from `recorded_at`, and from then on the sale is sent as updated.
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

#[cfg(test)]
mod tests {
    use super::*;

    const DEVICE: &str = "0190f5c4-7d3a-7b2e-9c1d-00000000000a";
    const OTHER_DEVICE: &str = "0190f5c4-7d3a-7b2e-9c1d-00000000000b";
    const PRODUCT: &str = "0190f5c4-7d3a-7b2e-9c1d-000000000003";

    fn change(entity: &'static str, version: i64, row: Value) -> Change {
        Change {
            version,
            entity,
            row: row.as_object().cloned().unwrap_or_default(),
        }
    }

    fn product(version: i64, created_version: i64, creator: Option<&str>, deleted: bool) -> Change {
        change(
            "products",
            version,
            json!({
                "id": PRODUCT,
                "version": version,
                "created_version": created_version,
                "created_device_id": creator,
                "deleted_at": if deleted { json!("2026-12-04T00:00:00.000Z") } else { Value::Null },
            }),
        )
    }

    #[test]
    fn first_sync_creates_live_and_skips_tombstones() {
        let plan = PullPlan::new(None, false, None);
        assert_eq!(plan.after, 0);
        assert_eq!(
            plan.slot_of(&product(4, 4, Some(DEVICE), false), Some(DEVICE)),
            Some(Slot::Created)
        );
        assert_eq!(plan.slot_of(&product(5, 4, None, true), Some(DEVICE)), None);
    }

    #[test]
    fn incremental_pull_tells_created_from_updated() {
        let plan = PullPlan::new(Some(10), false, None);
        assert_eq!(plan.after, 9);
        let cases = [
            (product(12, 11, Some(OTHER_DEVICE), false), Some(Slot::Created)),
            (product(12, 11, None, false), Some(Slot::Created)),
            (product(12, 11, Some(DEVICE), false), Some(Slot::Updated)),
            (product(12, 3, Some(OTHER_DEVICE), false), Some(Slot::Updated)),
            (product(10, 10, Some(OTHER_DEVICE), false), Some(Slot::Created)),
            (product(12, 3, Some(OTHER_DEVICE), true), Some(Slot::Deleted)),
        ];
        for (index, (row, expected)) in cases.iter().enumerate() {
            assert_eq!(plan.slot_of(row, Some(DEVICE)), *expected, "case {index}");
        }
    }

    #[test]
    fn replacement_resends_live_records_as_updated() {
        let plan = PullPlan::new(Some(10), true, None);
        assert_eq!(plan.after, 0);
        assert_eq!(
            plan.slot_of(&product(4, 2, None, false), Some(DEVICE)),
            Some(Slot::Updated)
        );
        assert_eq!(plan.slot_of(&product(4, 2, None, true), Some(DEVICE)), None);
        assert_eq!(
            plan.slot_of(&product(12, 11, None, false), Some(DEVICE)),
            Some(Slot::Created)
        );
    }

    #[test]
    fn migration_reads_new_tables_whole() {
        let migration = parse_migration(Some(
            r#"{"from": 1, "tables": ["customers", "drafts"], "columns": [{"table": "products", "columns": ["sku"]}]}"#,
        ))
        .unwrap()
        .unwrap();
        assert_eq!(migration.new_tables, vec!["customers"]);
        assert_eq!(migration.new_columns, vec!["products"]);

        let plan = PullPlan::new(Some(10), false, Some(&migration));
        assert_eq!(plan.after, 0);
        let customer = change("customers", 3, json!({"id": PRODUCT, "created_version": 3}));
        assert_eq!(plan.slot_of(&customer, Some(DEVICE)), Some(Slot::Created));
        assert_eq!(
            plan.slot_of(&product(4, 2, None, false), Some(DEVICE)),
            Some(Slot::Updated)
        );
        let old_category = change("categories", 4, json!({"id": PRODUCT, "created_version": 4}));
        assert_eq!(plan.slot_of(&old_category, Some(DEVICE)), None);
    }

    #[test]
    fn migration_null_and_garbage() {
        assert_eq!(parse_migration(None).unwrap(), None);
        assert_eq!(parse_migration(Some("null")).unwrap(), None);
        assert!(parse_migration(Some("{not json")).is_err());
        assert!(parse_migration(Some(r#"{"tables": "products"}"#)).is_err());
    }

    #[test]
    fn server_written_movements_are_created() {
        let plan = PullPlan::new(Some(10), false, None);
        let movement = |kind: &str| {
            change(
                "stock_movements",
                11,
                json!({"id": PRODUCT, "kind": kind, "device_id": DEVICE}),
            )
        };
        assert_eq!(plan.slot_of(&movement("sale"), Some(DEVICE)), Some(Slot::Created));
        assert_eq!(plan.slot_of(&movement("purchase"), Some(DEVICE)), Some(Slot::Updated));
    }

    #[test]
    fn sale_updated_after_insert_is_updated() {
        let plan = PullPlan::new(Some(10), false, None);
        let sale = |updated_at: &str| {
            change(
                "transactions",
                11,
                json!({"id": PRODUCT, "device_id": OTHER_DEVICE, "recorded_at": "2026-12-04T01:00:00.000Z", "updated_at": updated_at}),
            )
        };
        assert_eq!(
            plan.slot_of(&sale("2026-12-04T01:00:00.000Z"), Some(DEVICE)),
            Some(Slot::Created)
        );
        assert_eq!(
            plan.slot_of(&sale("2026-12-04T02:00:00.000Z"), Some(DEVICE)),
            Some(Slot::Updated)
        );
    }

    #[test]
    fn sale_record_carries_json_strings_and_millis() {
        let row = json!({
            "tenant_id": "t",
            "id": PRODUCT,
            "created_at": "2026-12-04T02:30:00.000Z",
            "created_at_ms": 1_796_351_400_000_i64,
            "items": r#"[{"product_id":"p","qty":2}]"#,
            "payments": r#"[{"method":"cash","amount":5000}]"#,
            "body_hash": "h",
            "total": 5000.0,
        });
        let record = watermelon_record("transactions", row.as_object().cloned().unwrap());
        assert_eq!(record["created_at"], json!(1_796_351_400_000_i64));
        assert_eq!(record["items_json"], json!(r#"[{"product_id":"p","qty":2}]"#));
        assert_eq!(record["payments_json"], json!(r#"[{"amount":5000,"method":"cash"}]"#));
        assert_eq!(record["total"], json!(5000));
        assert!(record.get("items").is_none());
        assert!(record.get("tenant_id").is_none());
    }
}
