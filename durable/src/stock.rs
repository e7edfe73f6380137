//! The stock ledger inside the hub: movements are insert-only, like sales, and a level is the
//! sum of a product's movements at an outlet.

use kasir_core::entity::UnknownFields;
use kasir_core::error::{ApiError, Detail};
use kasir_core::merge::Op;
use kasir_core::money::{format_qty, parse_qty};
use kasir_core::permissions::{allows, Permission};
use kasir_core::sale::derived_id;
use kasir_core::stock::{movement_hash, movement_record, parse_movement, MovementInput};
use kasir_core::validate::parse_uuid;
use serde_json::{json, Map, Value};
use worker::D1PreparedStatement;

use crate::catalog::load;
use crate::db::{self, Row};
use crate::protocol::Actor;
use crate::push::{log_rejection, outcome, record_only, record_statement, Mutation};
use crate::{internal, now_rfc3339, Writer};

/// One movement to insert.
pub(crate) struct NewMovement<'a> {
    pub id: &'a str,
    pub product_id: &'a str,
    pub outlet_id: &'a str,
    /// Signed quantity in thousandths.
    pub qty_milli: i64,
    pub kind: &'a str,
    pub ref_id: Option<&'a str>,
    pub note: Option<&'a str>,
    pub created_at: &'a str,
    pub version: i64,
    pub sync_source: &'a str,
    pub device_id: Option<&'a str>,
    pub user_id: &'a str,
    /// Hash of the client's body; empty for movements the server derives.
    pub body_hash: &'a str,
}

/// Builds the insert of one movement.
pub(crate) fn movement_statement(
    writer: &Writer<'_>,
    movement: &NewMovement<'_>,
) -> Result<D1PreparedStatement, ApiError> {
    db::statement(
        &writer.db,
        "INSERT INTO stock_movements (tenant_id, id, product_id, outlet_id, qty, kind, ref_id, note, created_at, version, updated_at, sync_source, device_id, user_id, body_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            db::text(&writer.tenant_id),
            db::text(movement.id),
            db::text(movement.product_id),
            db::text(movement.outlet_id),
            db::int(movement.qty_milli),
            db::text(movement.kind),
            db::opt_text(movement.ref_id),
            db::opt_text(movement.note),
            db::text(movement.created_at),
            db::int(movement.version),
            db::text(now_rfc3339()),
            db::text(movement.sync_source),
            db::opt_text(movement.device_id),
            db::text(movement.user_id),
            db::text(movement.body_hash),
        ],
    )
    .map_err(internal)
}

/// Reads a product that must exist and track stock.
async fn tracked_product(writer: &Writer<'_>, product_id: &str, field: &str) -> Result<Row, ApiError> {
    let product = load(writer, "products", product_id)
        .await?
        .ok_or_else(|| ApiError::invalid(field, "invalid_reference"))?;
    if db::get_i64(&product, "track_stock").unwrap_or(0) == 0 {
        return Err(ApiError::invalid(field, "untracked_product"));
    }
    Ok(product)
}

async fn require_outlet(writer: &Writer<'_>, outlet_id: &str, field: &str) -> Result<(), ApiError> {
    match load(writer, "outlets", outlet_id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::invalid(field, "invalid_reference")),
    }
}

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
    tracked_product(writer, &movement.product_id, "product_id").await?;
    require_outlet(writer, &movement.outlet_id, "outlet_id").await?;

    let version = writer.current_version().await? + 1;
    let result = outcome(&mutation.id, "applied", version, &movement.ignored);
    let created_at = movement.created_at.clone().unwrap_or_else(now_rfc3339);
    let insert = movement_statement(
        writer,
        &NewMovement {
            id: &mutation.record_id,
            product_id: &movement.product_id,
            outlet_id: &movement.outlet_id,
            qty_milli: movement.qty_milli,
            kind: &movement.kind,
            ref_id: movement.ref_id.as_deref(),
            note: movement.note.as_deref(),
            created_at: &created_at,
            version,
            sync_source: &mutation.sync_source,
            device_id: Some(device_id),
            user_id: &actor.user_id,
            body_hash: &hash,
        },
    )?;
    let record = record_statement(writer, device_id, &mutation.id, &result)?;
    writer.commit(vec![insert, record], version).await?;
    Ok(json!(result))
}

async fn stored_movements(writer: &Writer<'_>, ids: &[String]) -> Result<Vec<Value>, ApiError> {
    let mut movements = Vec::new();
    for id in ids {
        if let Some(row) = load(writer, "stock_movements", id).await? {
            movements.push(movement_record(row));
        }
    }
    Ok(movements)
}

/// Records a purchase, or a transfer as its two legs, from `POST /v1/stock/movements`
/// `{id?, product_id, outlet_id, qty, kind: "purchase"|"transfer", to_outlet_id?, note?}`.
/// Returns `{items, created}`; the same id and body again returns the stored legs.
///
/// # Errors
/// 422 for invalid fields, an untracked product, or a transfer to the same outlet; 409 for
/// another body under a stored id.
pub(crate) async fn record_movement(
    writer: &mut Writer<'_>,
    actor: &Actor,
    body: &Map<String, Value>,
) -> Result<Value, ApiError> {
    let id = body
        .get("id")
        .and_then(Value::as_str)
        .and_then(parse_uuid)
        .ok_or_else(|| ApiError::invalid("id", "required"))?;
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or_default();
    let to_outlet_id = match body.get("to_outlet_id") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            value
                .as_str()
                .and_then(parse_uuid)
                .ok_or_else(|| ApiError::invalid("to_outlet_id", "invalid_format"))?,
        ),
    };

    // The ledger kinds: a purchase is one movement, a transfer its two legs.
    let mut fields = body.clone();
    fields.remove("id");
    fields.remove("to_outlet_id");
    let legs: Vec<(String, String, i64)> = match (kind, &to_outlet_id) {
        ("purchase", None) => {
            fields.insert("kind".into(), json!("purchase"));
            let movement = parse(&fields)?;
            if movement.qty_milli <= 0 {
                return Err(ApiError::invalid("qty", "invalid_quantity"));
            }
            vec![(id.clone(), "purchase".to_string(), movement.qty_milli)]
        }
        ("transfer", Some(_)) => {
            fields.insert("kind".into(), json!("transfer_out"));
            let movement = parse(&fields)?;
            if movement.qty_milli <= 0 {
                return Err(ApiError::invalid("qty", "invalid_quantity"));
            }
            vec![
                (
                    derived_id(&[&id, "transfer_out"]),
                    "transfer_out".to_string(),
                    -movement.qty_milli,
                ),
                (
                    derived_id(&[&id, "transfer_in"]),
                    "transfer_in".to_string(),
                    movement.qty_milli,
                ),
            ]
        }
        ("transfer", None) => return Err(ApiError::invalid("to_outlet_id", "required")),
        ("purchase", Some(_)) => return Err(ApiError::invalid("to_outlet_id", "unknown_field")),
        _ => return Err(ApiError::invalid("kind", "invalid_format")),
    };
    let movement = parse(&fields)?;
    if to_outlet_id.as_deref() == Some(movement.outlet_id.as_str()) {
        return Err(ApiError::invalid("to_outlet_id", "invalid_reference"));
    }
    let hash = kasir_core::sale::body_hash(&json!([
        id,
        kind,
        movement.product_id,
        movement.outlet_id,
        to_outlet_id,
        movement.qty_milli,
        movement.note
    ]));

    let ids: Vec<String> = legs.iter().map(|(leg_id, _, _)| leg_id.clone()).collect();
    if let Some(stored) = load(writer, "stock_movements", &ids[0]).await? {
        if db::get_str(&stored, "body_hash") != Some(hash.as_str()) {
            return Err(ApiError::conflict("sale_replay_mismatch"));
        }
        return Ok(json!({ "items": stored_movements(writer, &ids).await?, "created": false }));
    }
    tracked_product(writer, &movement.product_id, "product_id").await?;
    require_outlet(writer, &movement.outlet_id, "outlet_id").await?;
    if let Some(to_outlet_id) = &to_outlet_id {
        require_outlet(writer, to_outlet_id, "to_outlet_id").await?;
    }

    let mut version = writer.current_version().await?;
    let created_at = now_rfc3339();
    let mut statements = Vec::new();
    for (leg_id, leg_kind, qty_milli) in &legs {
        version += 1;
        let outlet_id = match (leg_kind.as_str(), &to_outlet_id) {
            ("transfer_in", Some(to_outlet_id)) => to_outlet_id.as_str(),
            _ => movement.outlet_id.as_str(),
        };
        statements.push(movement_statement(
            writer,
            &NewMovement {
                id: leg_id,
                product_id: &movement.product_id,
                outlet_id,
                qty_milli: *qty_milli,
                kind: leg_kind,
                // A transfer's two legs point at the transfer; a purchase stands alone.
                ref_id: (legs.len() > 1).then_some(id.as_str()),
                note: movement.note.as_deref(),
                created_at: &created_at,
                version,
                sync_source: "web",
                device_id: actor.device_id.as_deref(),
                user_id: &actor.user_id,
                body_hash: &hash,
            },
        )?);
    }
    writer.commit(statements, version).await?;
    Ok(json!({ "items": stored_movements(writer, &ids).await?, "created": true }))
}

fn parse(fields: &Map<String, Value>) -> Result<MovementInput, ApiError> {
    parse_movement(fields, UnknownFields::Reject).map_err(ApiError::validation)
}

/// Records a stock count (*stok opname*) from `POST /v1/stock/adjustments`
/// `{outlet_id, reason, items: [{product_id, counted_qty}]}`: one `adjustment` movement per
/// product whose level differs from the count, so the level equals the count. Runs inside
/// the hub, so no sale can land between reading the level and writing the difference.
///
/// # Errors
/// 422 for invalid fields, unknown or untracked products, or an unknown outlet.
pub(crate) async fn adjust(
    writer: &mut Writer<'_>,
    actor: &Actor,
    adjustment_id: &str,
    body: &Map<String, Value>,
) -> Result<Value, ApiError> {
    let mut details = Vec::new();
    for key in body.keys() {
        if !["outlet_id", "reason", "items"].contains(&key.as_str()) {
            details.push(Detail::new(key.clone(), "unknown_field"));
        }
    }
    let outlet_id = body.get("outlet_id").and_then(Value::as_str).and_then(parse_uuid);
    if outlet_id.is_none() {
        details.push(Detail::new("outlet_id", "required"));
    }
    let reason = match body.get("reason").and_then(Value::as_str) {
        Some(text) if !text.trim().is_empty() && text.chars().count() <= 500 && !text.contains('\0') => {
            text.to_string()
        }
        _ => {
            details.push(Detail::new("reason", "required"));
            String::new()
        }
    };
    let mut counts: Vec<(String, i64)> = Vec::new();
    match body.get("items").and_then(Value::as_array) {
        Some(items) if !items.is_empty() && items.len() <= 1000 => {
            for (index, item) in items.iter().enumerate() {
                let product_id = item.get("product_id").and_then(Value::as_str).and_then(parse_uuid);
                let counted = match item.get("counted_qty") {
                    Some(Value::Number(number)) if number.as_i64() == Some(0) => Some(0),
                    Some(value) => parse_qty(value).ok(),
                    None => None,
                };
                match (product_id, counted) {
                    (Some(product_id), Some(counted)) => counts.push((product_id, counted)),
                    (None, _) => details.push(Detail::new(format!("items[{index}].product_id"), "invalid_format")),
                    (_, None) => details.push(Detail::new(format!("items[{index}].counted_qty"), "invalid_quantity")),
                }
            }
        }
        _ => details.push(Detail::new("items", "required")),
    }
    if !details.is_empty() {
        return Err(ApiError::validation(details));
    }
    let outlet_id = outlet_id.unwrap_or_default();
    require_outlet(writer, &outlet_id, "outlet_id").await?;

    let mut version = writer.current_version().await?;
    let created_at = now_rfc3339();
    let mut statements = Vec::new();
    let mut ids = Vec::new();
    for (index, (product_id, counted)) in counts.iter().enumerate() {
        tracked_product(writer, product_id, &format!("items[{index}].product_id")).await?;
        let level = db::first(
            &writer.db,
            "SELECT COALESCE(SUM(qty), 0) AS level FROM stock_movements WHERE tenant_id = ? AND outlet_id = ? AND product_id = ?",
            &[db::text(&writer.tenant_id), db::text(&outlet_id), db::text(product_id)],
        )
        .await
        .map_err(internal)?
        .and_then(|row| db::get_i64(&row, "level"))
        .unwrap_or(0);
        let difference = counted - level;
        if difference == 0 {
            continue;
        }
        version += 1;
        let id = derived_id(&[adjustment_id, &index.to_string()]);
        statements.push(movement_statement(
            writer,
            &NewMovement {
                id: &id,
                product_id,
                outlet_id: &outlet_id,
                qty_milli: difference,
                kind: "adjustment",
                ref_id: Some(adjustment_id),
                note: Some(&reason),
                created_at: &created_at,
                version,
                sync_source: "web",
                device_id: actor.device_id.as_deref(),
                user_id: &actor.user_id,
                body_hash: "",
            },
        )?);
        ids.push(id);
    }
    if !statements.is_empty() {
        writer.commit(statements, version).await?;
    }
    Ok(json!({ "id": adjustment_id, "items": stored_movements(writer, &ids).await? }))
}

/// Formats a level in thousandths as the API's decimal quantity.
pub fn level_json(milli: i64) -> Value {
    format_qty(milli)
}
