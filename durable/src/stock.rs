//! Stock movements pushed by terminals: insert-only, like sales.

use kasir_core::entity::UnknownFields;
use kasir_core::error::ApiError;
use kasir_core::merge::Op;
use kasir_core::permissions::{allows, Permission};
use kasir_core::stock::{movement_hash, parse_movement};
use serde_json::{json, Value};

use crate::catalog::load;
use crate::db;
use crate::protocol::Actor;
use crate::push::{log_rejection, outcome, record_only, record_statement, Mutation};
use crate::{internal, now_rfc3339, Writer};

/// Records a pushed purchase, adjustment or transfer leg.
///
/// # Errors
/// 403 without stock rights; 422 for an invalid body, an unknown product or outlet, a
/// delete, or a server-only kind; 409 for another body under a stored id.
pub(crate) async fn apply_movement(
    writer: &mut Writer<'_>,
    actor: &Actor,
    device_id: &str,
    mutation: &Mutation<'_>,
) -> Result<Value, ApiError> {
    if !allows(actor.role, Permission::WriteStock) {
        return Err(ApiError::forbidden());
    }
    if mutation.op == Op::Delete {
        return Err(ApiError::invalid("op", "insert_only"));
    }
    let movement = parse_movement(&mutation.data, UnknownFields::Ignore).map_err(ApiError::validation)?;
    let hash = movement_hash(&mutation.record_id, &movement);

    if let Some(stored) = load(writer, "stock_movements", &mutation.record_id).await? {
        let version = db::get_i64(&stored, "version").unwrap_or(0);
        if db::get_str(&stored, "body_hash") == Some(hash.as_str()) {
            let result = outcome(&mutation.id, "duplicate", version, &movement.ignored);
            return record_only(writer, device_id, &mutation.id, result).await;
        }
        log_rejection(
            writer,
            "stock_movements",
            &mutation.record_id,
            device_id,
            "different body under a stored id",
            &Value::Object(mutation.data.clone()),
        )
        .await;
        return Err(ApiError::conflict("sale_replay_mismatch"));
    }
    if load(writer, "products", &movement.product_id).await?.is_none() {
        return Err(ApiError::invalid("product_id", "invalid_reference"));
    }
    if load(writer, "outlets", &movement.outlet_id).await?.is_none() {
        return Err(ApiError::invalid("outlet_id", "invalid_reference"));
    }

    let version = writer.current_version().await? + 1;
    let now = now_rfc3339();
    let result = outcome(&mutation.id, "applied", version, &movement.ignored);
    let insert = db::statement(
        &writer.db,
        "INSERT INTO stock_movements (tenant_id, id, product_id, outlet_id, qty, kind, ref_id, note, created_at, version, updated_at, sync_source, device_id, user_id, body_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            db::text(&writer.tenant_id),
            db::text(&mutation.record_id),
            db::text(&movement.product_id),
            db::text(&movement.outlet_id),
            db::int(movement.qty_milli),
            db::text(&movement.kind),
            db::opt_text(movement.ref_id.clone()),
            db::opt_text(movement.note.clone()),
            db::text(movement.created_at.clone().unwrap_or_else(|| now.clone())),
            db::int(version),
            db::text(&now),
            db::text(&mutation.sync_source),
            db::text(device_id),
            db::text(&actor.user_id),
            db::text(&hash),
        ],
    )
    .map_err(internal)?;
    let record = record_statement(writer, device_id, &mutation.id, &result)?;
    writer.commit(vec![insert, record], version).await?;
    Ok(json!(result))
}
