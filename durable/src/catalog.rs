//! Catalog writes inside the hub: provisioning, create, update and soft delete of products,
//! categories, customers and outlets.

use kasir_core::entity::{catalog_spec, client_fields, row_to_record, EntitySpec, SqlValue};
use kasir_core::error::ApiError;
use kasir_core::hlc::Hlc;
use serde_json::{json, Map, Value};
use worker::D1PreparedStatement;

use crate::db::{self, Row};
use crate::protocol::{NewOutlet, NewUser, SaveMode, Saved};
use crate::{internal, now_rfc3339, Writer};

/// Creates the tenant's version row, its owner and its first outlet in one batch.
pub(crate) async fn provision(writer: &mut Writer<'_>, owner: NewUser, outlet: NewOutlet) -> Result<Value, ApiError> {
    let now = now_rfc3339();
    let version = writer.current_version().await? + 1;
    let tenant = db::text(&writer.tenant_id);
    let statements = vec![
        db::statement(
            &writer.db,
            "INSERT INTO users (tenant_id, id, email, name, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                tenant.clone(),
                db::text(&owner.id),
                db::text(&owner.email),
                db::text(&owner.name),
                db::text(owner.role.as_str()),
                db::text(&owner.password_hash),
                db::text(&now),
                db::text(&now),
            ],
        )
        .map_err(internal)?,
        db::statement(
            &writer.db,
            "INSERT INTO outlets (tenant_id, id, code, name, version, created_version, created_at, updated_at, sync_source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'admin')",
            &[
                tenant,
                db::text(&outlet.id),
                db::text(&outlet.code),
                db::text(&outlet.name),
                db::int(version),
                db::int(version),
                db::text(&now),
                db::text(&now),
            ],
        )
        .map_err(internal)?,
    ];
    writer.commit(statements, version).await?;
    Ok(json!({ "owner_id": owner.id, "outlet_id": outlet.id }))
}

pub(crate) fn spec_of(entity: &str) -> Result<&'static EntitySpec, ApiError> {
    catalog_spec(entity).ok_or_else(|| ApiError::internal(format!("not a catalog entity: {entity}")))
}

/// Reads one row of a catalog or sales table by id, deleted or not.
pub(crate) async fn load(writer: &Writer<'_>, table: &str, id: &str) -> Result<Option<Row>, ApiError> {
    // `table` always comes from a constant entity spec, never from the client.
    let sql = format!("SELECT * FROM {table} WHERE tenant_id = ? AND id = ?");
    db::first(&writer.db, &sql, &[db::text(&writer.tenant_id), db::text(id)])
        .await
        .map_err(internal)
}

/// Converts a validated JSON field to its stored form (booleans as 0/1).
pub(crate) fn to_sql(value: &Value) -> SqlValue {
    match value {
        Value::Null => SqlValue::Null,
        Value::Bool(flag) => SqlValue::Int(i64::from(*flag)),
        Value::Number(number) => {
            SqlValue::Int(number.as_i64().unwrap_or_else(|| number.as_f64().unwrap_or(0.0) as i64))
        }
        Value::String(text) => SqlValue::Text(text.clone()),
        other => SqlValue::Text(other.to_string()),
    }
}

/// Keeps only the spec's columns, in spec order, so no client key reaches SQL text.
pub(crate) fn columns_of(spec: &EntitySpec, fields: &Map<String, Value>) -> Vec<(&'static str, SqlValue)> {
    spec.columns
        .iter()
        .filter_map(|column| fields.get(column.name).map(|value| (column.name, to_sql(value))))
        .collect()
}

/// Checks that referenced records exist and are live.
pub(crate) async fn check_references(
    writer: &Writer<'_>,
    spec: &EntitySpec,
    values: &[(&'static str, SqlValue)],
) -> Result<(), ApiError> {
    for (column, table) in spec.references {
        let Some((_, SqlValue::Text(id))) = values.iter().find(|(name, _)| name == column) else {
            continue;
        };
        let found = load(writer, table, id).await?;
        let live = found.is_some_and(|row| row.get("deleted_at").is_none_or(Value::is_null));
        if !live {
            return Err(ApiError::invalid(*column, "invalid_reference"));
        }
    }
    Ok(())
}

/// Checks the entity's unique column against other live records.
pub(crate) async fn check_unique(
    writer: &Writer<'_>,
    spec: &EntitySpec,
    id: &str,
    values: &[(&'static str, SqlValue)],
) -> Result<(), ApiError> {
    let Some((column, message_key)) = spec.unique else {
        return Ok(());
    };
    let Some((_, value)) = values.iter().find(|(name, _)| *name == column) else {
        return Ok(());
    };
    let sql = format!(
        "SELECT id FROM {} WHERE tenant_id = ? AND {column} = ? AND id <> ? AND deleted_at IS NULL",
        spec.name
    );
    let taken = db::first(
        &writer.db,
        &sql,
        &[db::text(&writer.tenant_id), value.clone(), db::text(id)],
    )
    .await
    .map_err(internal)?;
    match taken {
        Some(_) => Err(ApiError::conflict(message_key)),
        None => Ok(()),
    }
}

/// Stamp of one catalog write: its version, clock, source and device.
pub(crate) struct Stamp<'a> {
    pub version: i64,
    pub hlc: &'a Hlc,
    pub sync_source: &'a str,
    /// The device that wrote it, when a device did.
    pub device_id: Option<&'a str>,
    /// Whether that device had seen every earlier version of the record.
    pub caught_up: bool,
}

/// Builds the INSERT of a new record or the UPDATE of an existing one, and the snapshot of
/// the record's client columns at the new version. `restore` clears `deleted_at`.
pub(crate) fn write_statements(
    writer: &mut Writer<'_>,
    spec: &EntitySpec,
    id: &str,
    values: &[(&'static str, SqlValue)],
    existing: Option<&Row>,
    stamp: &Stamp<'_>,
    restore: bool,
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    let now = now_rfc3339();
    let hlc = stamp.hlc.to_string();
    let (sql, args) = if existing.is_some() {
        let mut sql = format!("UPDATE {} SET ", spec.name);
        for (column, _) in values {
            sql.push_str(column);
            sql.push_str(" = ?, ");
        }
        if restore {
            sql.push_str("deleted_at = NULL, ");
        }
        sql.push_str(
            "version = ?, hlc = ?, updated_at = ?, sync_source = ?, updated_device_id = ?, updated_device_caught_up = ? WHERE tenant_id = ? AND id = ?",
        );
        let mut args: Vec<SqlValue> = values.iter().map(|(_, value)| value.clone()).collect();
        args.extend([
            db::int(stamp.version),
            db::text(&hlc),
            db::text(&now),
            db::text(stamp.sync_source),
            db::opt_text(stamp.device_id),
            db::int(i64::from(stamp.caught_up)),
            db::text(&writer.tenant_id),
            db::text(id),
        ]);
        (sql, args)
    } else {
        let names: Vec<&str> = values.iter().map(|(column, _)| *column).collect();
        let placeholders = vec!["?"; names.len() + 11].join(", ");
        let sql = format!(
            "INSERT INTO {} (tenant_id, id, {}, version, hlc, created_version, created_device_id, updated_device_id, updated_device_caught_up, created_at, updated_at, sync_source) VALUES ({placeholders})",
            spec.name,
            names.join(", "),
        );
        let mut args = vec![db::text(&writer.tenant_id), db::text(id)];
        args.extend(values.iter().map(|(_, value)| value.clone()));
        args.extend([
            db::int(stamp.version),
            db::text(&hlc),
            db::int(stamp.version),
            db::opt_text(stamp.device_id),
            db::opt_text(stamp.device_id),
            db::int(i64::from(stamp.caught_up)),
            db::text(&now),
            db::text(&now),
            db::text(stamp.sync_source),
        ]);
        (sql, args)
    };

    let mut snapshot = existing.map(|row| client_fields(spec, row)).unwrap_or_default();
    for (column, value) in values {
        snapshot.insert(column.to_string(), value.to_json());
    }
    let snapshot = client_fields(spec, &snapshot);
    let mut statements = vec![db::statement(&writer.db, &sql, &args).map_err(internal)?];
    statements.extend(history_statements(writer, spec, id, stamp.version, &snapshot)?);
    Ok(statements)
}

/// Returns `existing` as the UPDATE of [`write_statements`] or [`delete_statement`] leaves it,
/// `updated_at` aside, so that a push can merge a later change of the same record before the
/// write commits. `deleted` is `Some(true)` for a delete, `Some(false)` for a restore.
pub(crate) fn row_after_update(
    existing: &Row,
    values: &[(&'static str, SqlValue)],
    stamp: &Stamp<'_>,
    deleted: Option<bool>,
) -> Row {
    let mut row = existing.clone();
    for (column, value) in values {
        row.insert(column.to_string(), value.to_json());
    }
    match deleted {
        Some(true) => {
            row.insert("deleted_at".to_string(), Value::from(now_rfc3339()));
        }
        Some(false) => {
            row.insert("deleted_at".to_string(), Value::Null);
        }
        None => {}
    }
    row.insert("version".to_string(), Value::from(stamp.version));
    row.insert("hlc".to_string(), Value::from(stamp.hlc.to_string()));
    row.insert("sync_source".to_string(), Value::from(stamp.sync_source));
    row.insert(
        "updated_device_id".to_string(),
        stamp.device_id.map_or(Value::Null, Value::from),
    );
    row.insert(
        "updated_device_caught_up".to_string(),
        Value::from(i64::from(stamp.caught_up)),
    );
    row
}

/// Returns the statements that record a record's client columns at a version, for later
/// three-way merges. While commits are deferred, the row joins the flush's multi-row INSERT.
pub(crate) fn history_statements(
    writer: &mut Writer<'_>,
    spec: &EntitySpec,
    id: &str,
    version: i64,
    fields: &Map<String, Value>,
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    let row = vec![
        db::text(&writer.tenant_id),
        db::text(spec.name),
        db::text(id),
        db::int(version),
        db::text(Value::Object(fields.clone()).to_string()),
    ];
    writer.insert_row(
        "INSERT OR REPLACE INTO record_history (tenant_id, entity, record_id, version, fields) VALUES",
        row,
    )
}

/// Builds the soft delete of a record at a new version.
pub(crate) fn delete_statement(
    writer: &Writer<'_>,
    spec: &EntitySpec,
    id: &str,
    stamp: &Stamp<'_>,
) -> Result<D1PreparedStatement, ApiError> {
    let now = now_rfc3339();
    let sql = format!(
        "UPDATE {} SET deleted_at = ?, updated_at = ?, version = ?, hlc = ?, sync_source = ?, updated_device_id = ?, updated_device_caught_up = ? WHERE tenant_id = ? AND id = ?",
        spec.name
    );
    db::statement(
        &writer.db,
        &sql,
        &[
            db::text(&now),
            db::text(&now),
            db::int(stamp.version),
            db::text(stamp.hlc.to_string()),
            db::text(stamp.sync_source),
            db::opt_text(stamp.device_id),
            db::int(i64::from(stamp.caught_up)),
            db::text(&writer.tenant_id),
            db::text(id),
        ],
    )
    .map_err(internal)
}

/// Creates or updates one record through the REST API.
pub(crate) async fn save(
    writer: &mut Writer<'_>,
    entity: &str,
    id: &str,
    fields: &Map<String, Value>,
    mode: SaveMode,
    sync_source: &str,
) -> Result<Saved, ApiError> {
    let spec = spec_of(entity)?;
    let values = columns_of(spec, fields);
    let existing = load(writer, spec.name, id).await?;

    match (&existing, mode) {
        (Some(row), SaveMode::Create) => {
            // The same create again is a replay and returns the stored record.
            let same = values
                .iter()
                .all(|(column, value)| row.get(*column).map(to_sql).as_ref() == Some(value));
            let live = row.get("deleted_at").is_none_or(Value::is_null);
            if same && live {
                return Ok(Saved {
                    record: row_to_record(spec, row.clone()),
                    created: false,
                });
            }
            return Err(ApiError::conflict("id_taken"));
        }
        (None, SaveMode::Update) => return Err(ApiError::not_found()),
        (Some(row), SaveMode::Update) if !row.get("deleted_at").is_none_or(Value::is_null) => {
            return Err(ApiError::not_found())
        }
        _ => {}
    }

    // An update that changes nothing is not a change: no new version for terminals to pull.
    if let (Some(row), SaveMode::Update) = (&existing, mode) {
        let unchanged = values
            .iter()
            .all(|(column, value)| row.get(*column).map(to_sql).as_ref() == Some(value));
        if unchanged {
            return Ok(Saved {
                record: row_to_record(spec, row.clone()),
                created: false,
            });
        }
    }

    check_references(writer, spec, &values).await?;
    check_unique(writer, spec, id, &values).await?;
    let version = writer.current_version().await? + 1;
    let hlc = writer.server_hlc();
    let stamp = Stamp {
        version,
        hlc: &hlc,
        sync_source,
        device_id: None,
        caught_up: true,
    };
    let statements = write_statements(writer, spec, id, &values, existing.as_ref(), &stamp, false)?;
    writer.commit(statements, version).await?;

    let stored = load(writer, spec.name, id)
        .await?
        .ok_or_else(|| ApiError::internal("record missing after commit"))?;
    Ok(Saved {
        record: row_to_record(spec, stored),
        created: existing.is_none(),
    })
}

/// Soft-deletes a live record through the REST API.
///
/// # Errors
/// `not_found` when the record is missing or already deleted.
pub(crate) async fn delete(
    writer: &mut Writer<'_>,
    entity: &str,
    id: &str,
    sync_source: &str,
) -> Result<i64, ApiError> {
    let spec = spec_of(entity)?;
    let existing = load(writer, spec.name, id).await?;
    let live = existing.is_some_and(|row| row.get("deleted_at").is_none_or(Value::is_null));
    if !live {
        return Err(ApiError::not_found());
    }
    let version = writer.current_version().await? + 1;
    let hlc = writer.server_hlc();
    let stamp = Stamp {
        version,
        hlc: &hlc,
        sync_source,
        device_id: None,
        caught_up: true,
    };
    let statement = delete_statement(writer, spec, id, &stamp)?;
    writer.commit(vec![statement], version).await?;
    Ok(version)
}
