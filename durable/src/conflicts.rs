//! Conflicts held for manual review: stored by a push under the `manual` strategy and settled
//! by an owner or admin, whose choice syncs like any change.

use kasir_core::entity::{client_fields, row_to_record, validate_fields, EntitySpec, Mode, UnknownFields};
use kasir_core::error::ApiError;
use kasir_core::merge::Op;
use kasir_core::permissions::{allows, Permission};
use serde_json::{json, Map, Value};

use crate::catalog::{
    check_references, check_unique, columns_of, delete_statement, load, spec_of, write_statements, Stamp,
};
use crate::db::{self, Row};
use crate::protocol::Actor;
use crate::push::Mutation;
use crate::{internal, now_rfc3339, Writer};

/// Stores an open conflict and returns its id.
pub(crate) async fn store(
    writer: &mut Writer<'_>,
    actor: &Actor,
    spec: &EntitySpec,
    mutation: &Mutation<'_>,
    server: &Map<String, Value>,
    client: &Map<String, Value>,
    fields: &[String],
) -> Result<String, ApiError> {
    let row = db::first(&writer.db, "SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-a' || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))) AS id", &[])
        .await
        .map_err(internal)?;
    let id = row
        .as_ref()
        .and_then(|row| db::get_str(row, "id"))
        .map(str::to_string)
        .ok_or_else(|| ApiError::internal("no conflict id"))?;
    let op = if mutation.op == Op::Delete { "delete" } else { "upsert" };
    let insert = db::statement(
        &writer.db,
        "INSERT INTO sync_conflicts (tenant_id, id, entity, record_id, op, fields, server, client, base_version, hlc, device_id, user_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            db::text(&writer.tenant_id),
            db::text(&id),
            db::text(spec.name),
            db::text(&mutation.record_id),
            db::text(op),
            db::text(json!(fields).to_string()),
            db::text(Value::Object(server.clone()).to_string()),
            db::text(Value::Object(client.clone()).to_string()),
            mutation.base_version.map(db::int).unwrap_or(kasir_core::entity::SqlValue::Null),
            db::text(mutation.hlc.as_ref().map(ToString::to_string).unwrap_or_default()),
            db::text(actor.device_id.clone().unwrap_or_default()),
            db::text(&actor.user_id),
            db::text(now_rfc3339()),
        ],
    )
    .map_err(internal)?;
    // Written with the push's other statements, so a failed batch leaves no stray conflict.
    writer.write(vec![insert]).await?;
    Ok(id)
}

/// Turns a stored conflict row into the API's conflict.
pub fn conflict_json(row: &Row) -> Value {
    let parse = |column: &str| {
        db::get_str(row, column)
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
            .unwrap_or(Value::Null)
    };
    json!({
        "id": row.get("id"),
        "entity": row.get("entity"),
        "record_id": row.get("record_id"),
        "op": row.get("op"),
        "fields": parse("fields"),
        "server": parse("server"),
        "client": parse("client"),
        "base_version": row.get("base_version"),
        "device_id": row.get("device_id"),
        "user_id": row.get("user_id"),
        "created_at": row.get("created_at"),
        "status": row.get("status"),
        "resolution": row.get("resolution"),
        "resolved_at": row.get("resolved_at"),
        "resolved_by": row.get("resolved_by"),
    })
}

/// Settles an open conflict: `keep_server` re-stamps the stored record, `take_client`
/// applies the device's change, `custom` applies `data`. Each writes a new version, so every
/// terminal pulls the outcome.
///
/// # Errors
/// 404 for an unknown conflict, 409 for a settled one, 422 for an invalid resolution or data.
pub(crate) async fn resolve(
    writer: &mut Writer<'_>,
    actor: &Actor,
    conflict_id: &str,
    resolution: &str,
    data: Option<Map<String, Value>>,
) -> Result<Value, ApiError> {
    if !allows(actor.role, Permission::ResolveConflicts) {
        return Err(ApiError::forbidden());
    }
    let conflict = db::first(
        &writer.db,
        "SELECT * FROM sync_conflicts WHERE tenant_id = ? AND id = ?",
        &[db::text(&writer.tenant_id), db::text(conflict_id)],
    )
    .await
    .map_err(internal)?
    .ok_or_else(ApiError::not_found)?;
    if db::get_str(&conflict, "status") != Some("open") {
        return Err(ApiError::conflict("conflict"));
    }
    let spec = spec_of(db::get_str(&conflict, "entity").unwrap_or_default())?;
    let record_id = db::get_str(&conflict, "record_id").unwrap_or_default().to_string();
    let existing = load(writer, spec.name, &record_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let deleted = !existing.get("deleted_at").is_none_or(Value::is_null);
    let client_delete = db::get_str(&conflict, "op") == Some("delete");

    // What the resolution writes: the stored columns again, the client's, or the given data.
    let (values, delete) = match (resolution, data) {
        ("keep_server", None) => (client_fields(spec, &existing), deleted),
        ("take_client", None) => {
            let client = db::get_str(&conflict, "client")
                .and_then(|text| serde_json::from_str::<Value>(text).ok())
                .and_then(|value| value.as_object().cloned())
                .unwrap_or_default();
            (client, client_delete)
        }
        ("custom", Some(data)) => {
            let validated =
                validate_fields(spec, &data, Mode::Update, UnknownFields::Reject).map_err(ApiError::validation)?;
            let values = validated
                .values
                .iter()
                .map(|(column, value)| (column.to_string(), value.to_json()))
                .collect();
            (values, false)
        }
        ("keep_server" | "take_client", Some(_)) => return Err(ApiError::invalid("data", "unknown_field")),
        ("custom", None) => return Err(ApiError::invalid("data", "required")),
        _ => return Err(ApiError::invalid("resolution", "invalid_format")),
    };

    let columns = columns_of(spec, &values);
    if !delete {
        check_references(writer, spec, &columns).await?;
        check_unique(writer, spec, &record_id, &columns).await?;
    }
    let version = writer.current_version().await? + 1;
    let hlc = writer.server_hlc();
    let stamp = Stamp {
        version,
        hlc: &hlc,
        sync_source: "web",
        device_id: None,
        caught_up: true,
    };
    let mut statements = if delete {
        vec![delete_statement(writer, spec, &record_id, &stamp)?]
    } else {
        write_statements(writer, spec, &record_id, &columns, Some(&existing), &stamp, deleted)?
    };
    let now = now_rfc3339();
    statements.push(
        db::statement(
            &writer.db,
            "UPDATE sync_conflicts SET status = 'resolved', resolution = ?, resolved_at = ?, resolved_by = ? WHERE tenant_id = ? AND id = ?",
            &[
                db::text(resolution),
                db::text(&now),
                db::text(&actor.user_id),
                db::text(&writer.tenant_id),
                db::text(conflict_id),
            ],
        )
        .map_err(internal)?,
    );
    writer.commit(statements, version).await?;

    let settled = db::first(
        &writer.db,
        "SELECT * FROM sync_conflicts WHERE tenant_id = ? AND id = ?",
        &[db::text(&writer.tenant_id), db::text(conflict_id)],
    )
    .await
    .map_err(internal)?
    .ok_or_else(|| ApiError::internal("conflict missing after commit"))?;
    let record = load(writer, spec.name, &record_id)
        .await?
        .map(|row| row_to_record(spec, row));
    let mut answer = conflict_json(&settled);
    answer["version"] = json!(version);
    answer["record"] = record.unwrap_or(Value::Null);
    Ok(answer)
}
