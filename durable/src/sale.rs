//! Recording a sale inside the hub. Sales are insert-only: the same id and body again is a
//! replay that returns the stored sale; the same id with another body is a conflict.

use kasir_core::entity::UnknownFields;
use kasir_core::error::{ApiError, ErrorCode};
use kasir_core::money::TaxSettings;
use kasir_core::sale::{derived_id, items_json, parse_sale, payments_json, price_sale, sale_hash, sale_record};
use serde_json::Value;
use worker::D1PreparedStatement;

use crate::catalog::load;
use crate::db;
use crate::protocol::{Actor, Saved};
use crate::{internal, now_rfc3339, Writer};

/// The outcome of recording a sale, with the fields a sync push ignored.
pub(crate) struct RecordedSale {
    pub saved: Saved,
    pub version: i64,
    pub ignored: Vec<String>,
}

/// Records a sale from the REST API.
pub(crate) async fn record_sale(
    writer: &mut Writer<'_>,
    actor: &Actor,
    tax: &TaxSettings,
    body: &Value,
    sync_source: &str,
) -> Result<Saved, ApiError> {
    let recorded = insert_sale(writer, actor, tax, body, UnknownFields::Reject, sync_source, Vec::new()).await?;
    Ok(recorded.saved)
}

/// Validates, prices and inserts a sale; `extra` statements commit in the same batch.
///
/// # Errors
/// 422 for invalid bodies, references or figures; 403 when the sale's device is not the
/// token's; 409 for a different body under a stored id or a receipt number already used.
pub(crate) async fn insert_sale(
    writer: &mut Writer<'_>,
    actor: &Actor,
    tax: &TaxSettings,
    body: &Value,
    unknown: UnknownFields,
    sync_source: &str,
    extra: Vec<D1PreparedStatement>,
) -> Result<RecordedSale, ApiError> {
    let sale = parse_sale(body, unknown).map_err(ApiError::validation)?;
    if let Some(device_id) = &actor.device_id {
        if *device_id != sale.device_id {
            return Err(ApiError::keyed(ErrorCode::Forbidden, "device_mismatch"));
        }
    }

    let hash = sale_hash(&sale);
    if let Some(stored) = load(writer, "transactions", &sale.id).await? {
        if db::get_str(&stored, "body_hash") != Some(hash.as_str()) {
            return Err(ApiError::conflict("sale_replay_mismatch"));
        }
        let version = db::get_i64(&stored, "version").unwrap_or(0);
        return Ok(RecordedSale {
            saved: Saved {
                record: sale_record(stored),
                created: false,
            },
            version,
            ignored: sale.ignored,
        });
    }

    // Deleted outlets, customers and products still count: a terminal that sold offline
    // before the deletion reached it must not lose the sale.
    if load(writer, "outlets", &sale.outlet_id).await?.is_none() {
        return Err(ApiError::invalid("outlet_id", "invalid_reference"));
    }
    if let Some(customer_id) = &sale.customer_id {
        if load(writer, "customers", customer_id).await?.is_none() {
            return Err(ApiError::invalid("customer_id", "invalid_reference"));
        }
    }
    let device = db::first(
        &writer.db,
        "SELECT id FROM devices WHERE tenant_id = ? AND id = ?",
        &[db::text(&writer.tenant_id), db::text(&sale.device_id)],
    )
    .await
    .map_err(internal)?;
    if device.is_none() {
        return Err(ApiError::invalid("device_id", "invalid_reference"));
    }
    let product_ids: Vec<&str> = sale.items.iter().map(|item| item.product_id.as_str()).collect();
    let known = existing_ids(writer, "products", &product_ids).await?;
    if let Some(index) = sale
        .items
        .iter()
        .position(|item| !known.iter().any(|(id, _)| *id == item.product_id))
    {
        return Err(ApiError::invalid(
            format!("items[{index}].product_id"),
            "invalid_reference",
        ));
    }
    let totals = price_sale(&sale, tax).map_err(ApiError::validation)?;

    let receipt_owner = db::first(
        &writer.db,
        "SELECT id FROM transactions WHERE tenant_id = ? AND receipt_no = ?",
        &[db::text(&writer.tenant_id), db::text(&sale.receipt_no)],
    )
    .await
    .map_err(internal)?;
    if receipt_owner.is_some() {
        return Err(ApiError::new(ErrorCode::DuplicateReceiptNo));
    }

    let version = writer.current_version().await? + 1;
    let now = now_rfc3339();
    let mut statements = vec![db::statement(
        &writer.db,
        "INSERT INTO transactions (tenant_id, id, outlet_id, device_id, user_id, shift_id, customer_id, receipt_no, created_at, created_at_ms, items, payments, subtotal, line_discounts, discount, tax, total, paid, change, status, note, body_hash, version, recorded_at, updated_at, sync_source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'completed', ?, ?, ?, ?, ?, ?)",
        &[
            db::text(&writer.tenant_id),
            db::text(&sale.id),
            db::text(&sale.outlet_id),
            db::text(&sale.device_id),
            db::text(&actor.user_id),
            db::opt_text(sale.shift_id.clone()),
            db::opt_text(sale.customer_id.clone()),
            db::text(&sale.receipt_no),
            db::text(&sale.created_at),
            db::int(sale.created_at_ms),
            db::text(items_json(&sale, &totals).to_string()),
            db::text(payments_json(&sale).to_string()),
            db::int(totals.subtotal),
            db::int(totals.line_discounts),
            db::int(totals.discount),
            db::int(totals.tax),
            db::int(totals.total),
            db::int(totals.paid),
            db::int(totals.change),
            db::opt_text(sale.note.clone()),
            db::text(&hash),
            db::int(version),
            db::text(&now),
            db::text(&now),
            db::text(sync_source),
        ],
    )
    .map_err(internal)?];

    // Each line of a product that tracks stock moves it out, under an id derived from the
    // sale and the line, so the sale's replay can never move stock twice.
    let mut last_version = version;
    for (index, item) in sale.items.iter().enumerate() {
        let tracked = known
            .iter()
            .any(|(id, track_stock)| *id == item.product_id && *track_stock);
        if !tracked {
            continue;
        }
        last_version += 1;
        statements.push(crate::stock::movement_statement(
            writer,
            &crate::stock::NewMovement {
                id: &derived_id(&[&sale.id, "sale", &index.to_string()]),
                product_id: &item.product_id,
                outlet_id: &sale.outlet_id,
                qty_milli: -item.qty_milli,
                kind: "sale",
                ref_id: Some(&sale.id),
                note: None,
                created_at: &sale.created_at,
                version: last_version,
                sync_source,
                device_id: Some(&sale.device_id),
                user_id: &actor.user_id,
                body_hash: "",
            },
        )?);
    }
    statements.extend(extra);
    writer.commit(statements, last_version).await?;

    let stored = load(writer, "transactions", &sale.id)
        .await?
        .ok_or_else(|| ApiError::internal("sale missing after commit"))?;
    Ok(RecordedSale {
        saved: Saved {
            record: sale_record(stored),
            created: true,
        },
        version,
        ignored: sale.ignored,
    })
}

/// Most values bound in one D1 statement; D1 allows 100.
const MAX_BOUND_VALUES: usize = 90;

/// Returns which of the product `ids` exist for the tenant, deleted or not, with whether each
/// tracks stock, in one query per 90 distinct ids instead of one per id.
async fn existing_ids(writer: &Writer<'_>, table: &str, ids: &[&str]) -> Result<Vec<(String, bool)>, ApiError> {
    let mut distinct: Vec<&str> = ids.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let mut found = Vec::with_capacity(distinct.len());
    for chunk in distinct.chunks(MAX_BOUND_VALUES) {
        let placeholders = vec!["?"; chunk.len()].join(", ");
        // `table` is a constant of the caller.
        let sql = format!("SELECT id, track_stock FROM {table} WHERE tenant_id = ? AND id IN ({placeholders})");
        let mut args = vec![db::text(&writer.tenant_id)];
        args.extend(chunk.iter().map(|id| db::text(*id)));
        let rows = db::all(&writer.db, &sql, &args).await.map_err(internal)?;
        for row in &rows {
            if let Some(id) = db::get_str(row, "id") {
                found.push((id.to_string(), db::get_i64(row, "track_stock").unwrap_or(0) != 0));
            }
        }
    }
    Ok(found)
}
