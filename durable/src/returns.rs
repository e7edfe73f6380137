//! Voids, refunds and payment confirmations: new records and status changes on a stored
//! sale, never an edit of its lines or figures. Each writes a new version of the sale so
//! terminals pull its status, and reverses stock with movements of its own.

use kasir_core::error::{ApiError, Detail};
use kasir_core::money::{format_qty, parse_qty, PaymentMethod};
use kasir_core::refund::{plan_refund, RefundedLine, SoldLine};
use kasir_core::sale::{body_hash, derived_id, sale_record};
use kasir_core::validate::{format_rfc3339_millis, parse_uuid};
use serde_json::{json, Map, Value};
use worker::D1PreparedStatement;

use crate::catalog::load;
use crate::db::{self, Row};
use crate::protocol::Actor;
use crate::stock::{movement_statement, NewMovement};
use crate::{internal, now_millis, now_rfc3339, Writer};

const MAX_REASON_CHARS: usize = 500;

fn reason_of(body: &Map<String, Value>, details: &mut Vec<Detail>) -> String {
    match body.get("reason").and_then(Value::as_str) {
        Some(text) if text.chars().count() > MAX_REASON_CHARS => {
            details.push(Detail::new("reason", "too_long"));
            String::new()
        }
        Some(text) if text.contains('\0') => {
            details.push(Detail::new("reason", "invalid_format"));
            String::new()
        }
        Some(text) if !text.trim().is_empty() => text.trim().to_string(),
        _ => {
            details.push(Detail::new("reason", "required"));
            String::new()
        }
    }
}

async fn sale_row(writer: &Writer<'_>, transaction_id: &str) -> Result<Row, ApiError> {
    load(writer, "transactions", transaction_id)
        .await?
        .ok_or_else(ApiError::not_found)
}

fn json_column(row: &Row, column: &str) -> Vec<Value> {
    db::get_str(row, column)
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .and_then(|value| value.as_array().cloned())
        .unwrap_or_default()
}

/// Product ids of the sale's lines whose products track stock.
async fn tracked_products(writer: &Writer<'_>, items: &[Value]) -> Result<Vec<String>, ApiError> {
    let mut tracked = Vec::new();
    for item in items {
        let Some(product_id) = item["product_id"].as_str() else {
            continue;
        };
        if tracked.iter().any(|id| id == product_id) {
            continue;
        }
        let product = load(writer, "products", product_id).await?;
        if product.is_some_and(|row| db::get_i64(&row, "track_stock").unwrap_or(0) != 0) {
            tracked.push(product_id.to_string());
        }
    }
    Ok(tracked)
}

fn status_statement(
    writer: &Writer<'_>,
    transaction_id: &str,
    status: &str,
    version: i64,
) -> Result<D1PreparedStatement, ApiError> {
    db::statement(
        &writer.db,
        "UPDATE transactions SET status = ?, version = ?, updated_at = ? WHERE tenant_id = ? AND id = ?",
        &[
            db::text(status),
            db::int(version),
            db::text(now_rfc3339()),
            db::text(&writer.tenant_id),
            db::text(transaction_id),
        ],
    )
    .map_err(internal)
}

struct NewReturn<'a> {
    id: &'a str,
    transaction_id: &'a str,
    kind: &'a str,
    items: Value,
    total: i64,
    method: &'a str,
    reason: &'a str,
    shift_id: Option<&'a str>,
    body_hash: &'a str,
}

fn return_statement(
    writer: &Writer<'_>,
    actor: &Actor,
    record: &NewReturn<'_>,
) -> Result<D1PreparedStatement, ApiError> {
    let now = now_millis();
    db::statement(
        &writer.db,
        "INSERT INTO sale_returns (tenant_id, id, transaction_id, kind, items, total, method, reason, user_id, device_id, shift_id, body_hash, created_at, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            db::text(&writer.tenant_id),
            db::text(record.id),
            db::text(record.transaction_id),
            db::text(record.kind),
            db::text(record.items.to_string()),
            db::int(record.total),
            db::text(record.method),
            db::text(record.reason),
            db::text(&actor.user_id),
            db::opt_text(actor.device_id.as_deref()),
            db::opt_text(record.shift_id),
            db::text(record.body_hash),
            db::text(format_rfc3339_millis(now)),
            db::int(now),
        ],
    )
    .map_err(internal)
}

/// Turns a stored `sale_returns` row into the API's void or refund record.
pub fn return_record(mut row: Row) -> Value {
    kasir_core::entity::normalize_integers(&mut row);
    for column in ["tenant_id", "body_hash", "created_at_ms"] {
        row.remove(column);
    }
    if let Some(Value::String(text)) = row.get("items") {
        let items = serde_json::from_str(text).unwrap_or(Value::Array(Vec::new()));
        row.insert("items".to_string(), items);
    }
    Value::Object(row)
}

async fn stored_return(writer: &Writer<'_>, id: &str) -> Result<Option<Row>, ApiError> {
    db::first(
        &writer.db,
        "SELECT * FROM sale_returns WHERE tenant_id = ? AND id = ?",
        &[db::text(&writer.tenant_id), db::text(id)],
    )
    .await
    .map_err(internal)
}

/// Voids a whole sale: status `voided`, a `void` record, and stock moved back in.
///
/// # Errors
/// 404 for an unknown sale; 409 when it is already voided or has refunds.
pub(crate) async fn void(
    writer: &mut Writer<'_>,
    actor: &Actor,
    transaction_id: &str,
    void_id: &str,
    body: &Map<String, Value>,
    shift_id: Option<&str>,
) -> Result<Value, ApiError> {
    let mut details = Vec::new();
    for key in body.keys() {
        if key != "reason" {
            details.push(Detail::new(key.clone(), "unknown_field"));
        }
    }
    let reason = reason_of(body, &mut details);
    if !details.is_empty() {
        return Err(ApiError::validation(details));
    }
    let sale = sale_row(writer, transaction_id).await?;
    match db::get_str(&sale, "status") {
        Some("voided") => return Err(ApiError::conflict("already_voided")),
        Some("completed") => {}
        _ => return Err(ApiError::conflict("void_after_refund")),
    }

    let items = json_column(&sale, "items");
    let tracked = tracked_products(writer, &items).await?;
    let outlet_id = db::get_str(&sale, "outlet_id").unwrap_or_default().to_string();
    let mut version = writer.current_version().await? + 1;
    let mut statements = vec![status_statement(writer, transaction_id, "voided", version)?];
    let total = db::get_i64(&sale, "total").unwrap_or(0);
    statements.push(return_statement(
        writer,
        actor,
        &NewReturn {
            id: void_id,
            transaction_id,
            kind: "void",
            items: Value::Array(items.clone()),
            total,
            method: "cash",
            reason: &reason,
            shift_id,
            body_hash: "",
        },
    )?);
    let now = now_rfc3339();
    for (index, item) in items.iter().enumerate() {
        let Some(product_id) = item["product_id"].as_str() else {
            continue;
        };
        if !tracked.iter().any(|id| id == product_id) {
            continue;
        }
        let qty_milli = parse_qty(&item["qty"]).unwrap_or(0);
        version += 1;
        statements.push(movement_statement(
            writer,
            &NewMovement {
                id: &derived_id(&[void_id, "void", &index.to_string()]),
                product_id,
                outlet_id: &outlet_id,
                qty_milli,
                kind: "void",
                ref_id: Some(void_id),
                note: Some(&reason),
                created_at: &now,
                version,
                sync_source: "web",
                device_id: actor.device_id.as_deref(),
                user_id: &actor.user_id,
                body_hash: "",
            },
        )?);
    }
    writer.commit(statements, version).await?;

    let record = stored_return(writer, void_id)
        .await?
        .ok_or_else(|| ApiError::internal("void missing after commit"))?;
    Ok(return_record(record))
}

/// Refunds some or all of a sale's lines, `{id, items: [{product_id, qty}], reason, method?}`.
/// The same id and body again returns the stored refund.
///
/// # Errors
/// 404 for an unknown sale; 409 for a voided sale or another body under a stored refund id;
/// 422 for invalid fields or more than is left to refund.
pub(crate) async fn refund(
    writer: &mut Writer<'_>,
    actor: &Actor,
    transaction_id: &str,
    body: &Map<String, Value>,
    shift_id: Option<&str>,
) -> Result<Value, ApiError> {
    let mut details = Vec::new();
    for key in body.keys() {
        if !["id", "items", "reason", "method"].contains(&key.as_str()) {
            details.push(Detail::new(key.clone(), "unknown_field"));
        }
    }
    let refund_id = body.get("id").and_then(Value::as_str).and_then(parse_uuid);
    if refund_id.is_none() {
        details.push(Detail::new("id", "required"));
    }
    let reason = reason_of(body, &mut details);
    let method = match body.get("method") {
        None | Some(Value::Null) => "cash".to_string(),
        Some(Value::String(text)) if PaymentMethod::parse(text).is_some() => text.clone(),
        Some(_) => {
            details.push(Detail::new("method", "invalid_format"));
            String::new()
        }
    };
    let mut requested = Vec::new();
    match body.get("items").and_then(Value::as_array) {
        Some(items) if !items.is_empty() && items.len() <= 1000 => {
            for (index, item) in items.iter().enumerate() {
                let product_id = item.get("product_id").and_then(Value::as_str).and_then(parse_uuid);
                let qty = item.get("qty").and_then(|qty| parse_qty(qty).ok());
                match (product_id, qty) {
                    (Some(product_id), Some(qty)) => requested.push((product_id, qty)),
                    (None, _) => details.push(Detail::new(format!("items[{index}].product_id"), "invalid_format")),
                    (_, None) => details.push(Detail::new(format!("items[{index}].qty"), "invalid_quantity")),
                }
            }
        }
        _ => details.push(Detail::new("items", "required")),
    }
    if !details.is_empty() {
        return Err(ApiError::validation(details));
    }
    let refund_id = refund_id.unwrap_or_default();
    let hash = body_hash(&json!([transaction_id, requested, reason, method]));

    if let Some(stored) = stored_return(writer, &refund_id).await? {
        let same = db::get_str(&stored, "body_hash") == Some(hash.as_str())
            && db::get_str(&stored, "transaction_id") == Some(transaction_id);
        if !same {
            return Err(ApiError::conflict("refund_replay_mismatch"));
        }
        let mut record = return_record(stored);
        record["replayed"] = json!(true);
        return Ok(record);
    }

    let sale = sale_row(writer, transaction_id).await?;
    if db::get_str(&sale, "status") == Some("voided") {
        return Err(ApiError::conflict("already_voided"));
    }
    let items = json_column(&sale, "items");
    let earlier = db::all(
        &writer.db,
        "SELECT items, total FROM sale_returns WHERE tenant_id = ? AND transaction_id = ? AND kind = 'refund'",
        &[db::text(&writer.tenant_id), db::text(transaction_id)],
    )
    .await
    .map_err(internal)?;
    let mut lines: Vec<SoldLine> = items
        .iter()
        .map(|item| SoldLine {
            product_id: item["product_id"].as_str().unwrap_or_default().to_string(),
            qty_milli: parse_qty(&item["qty"]).unwrap_or(0),
            amount: item["amount"].as_i64().unwrap_or(0),
            refunded_milli: 0,
        })
        .collect();
    let mut refunded_total = 0;
    for row in &earlier {
        refunded_total += db::get_i64(row, "total").unwrap_or(0);
        for item in json_column(row, "items") {
            let line = item["line"].as_u64().unwrap_or(u64::MAX) as usize;
            if let Some(sold) = lines.get_mut(line) {
                sold.refunded_milli += parse_qty(&item["qty"]).unwrap_or(0);
            }
        }
    }
    let subtotal = db::get_i64(&sale, "subtotal").unwrap_or(0);
    let total = db::get_i64(&sale, "total").unwrap_or(0);
    let plan: Vec<RefundedLine> = plan_refund(&lines, &requested, subtotal, total, refunded_total)
        .map_err(|detail| ApiError::validation(vec![detail]))?;
    let amount: i64 = plan.iter().map(|line| line.amount).sum();
    let fully = lines.iter().enumerate().all(|(index, line)| {
        let now_refunded = line.refunded_milli
            + plan
                .iter()
                .filter(|p| p.line == index)
                .map(|p| p.qty_milli)
                .sum::<i64>();
        now_refunded >= line.qty_milli
    });
    let status = if fully { "refunded" } else { "partially_refunded" };

    let refund_items: Vec<Value> = plan
        .iter()
        .map(|line| json!({ "line": line.line, "product_id": line.product_id, "qty": format_qty(line.qty_milli), "amount": line.amount }))
        .collect();
    let tracked = tracked_products(writer, &items).await?;
    let outlet_id = db::get_str(&sale, "outlet_id").unwrap_or_default().to_string();
    let mut version = writer.current_version().await? + 1;
    let mut statements = vec![
        status_statement(writer, transaction_id, status, version)?,
        return_statement(
            writer,
            actor,
            &NewReturn {
                id: &refund_id,
                transaction_id,
                kind: "refund",
                items: Value::Array(refund_items),
                total: amount,
                method: &method,
                reason: &reason,
                shift_id,
                body_hash: &hash,
            },
        )?,
    ];
    let now = now_rfc3339();
    for line in &plan {
        if !tracked.contains(&line.product_id) {
            continue;
        }
        version += 1;
        statements.push(movement_statement(
            writer,
            &NewMovement {
                id: &derived_id(&[&refund_id, "refund", &line.line.to_string()]),
                product_id: &line.product_id,
                outlet_id: &outlet_id,
                qty_milli: line.qty_milli,
                kind: "refund",
                ref_id: Some(&refund_id),
                note: Some(&reason),
                created_at: &now,
                version,
                sync_source: "web",
                device_id: actor.device_id.as_deref(),
                user_id: &actor.user_id,
                body_hash: "",
            },
        )?);
    }
    writer.commit(statements, version).await?;

    let record = stored_return(writer, &refund_id)
        .await?
        .ok_or_else(|| ApiError::internal("refund missing after commit"))?;
    Ok(return_record(record))
}

/// Marks a pending payment (QRIS taken offline) paid, `{reference?}`; confirming a paid one
/// again returns the sale unchanged.
///
/// # Errors
/// 404 for an unknown sale or payment index; 422 for an invalid reference.
pub(crate) async fn confirm_payment(
    writer: &mut Writer<'_>,
    transaction_id: &str,
    index: usize,
    body: &Map<String, Value>,
) -> Result<Value, ApiError> {
    let mut details = Vec::new();
    for key in body.keys() {
        if key != "reference" {
            details.push(Detail::new(key.clone(), "unknown_field"));
        }
    }
    let reference = match body.get("reference") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.chars().count() <= 128 && !text.contains('\0') => Some(text.clone()),
        Some(_) => {
            details.push(Detail::new("reference", "invalid_format"));
            None
        }
    };
    if !details.is_empty() {
        return Err(ApiError::validation(details));
    }
    let sale = sale_row(writer, transaction_id).await?;
    let mut payments = json_column(&sale, "payments");
    let Some(payment) = payments.get_mut(index) else {
        return Err(ApiError::not_found());
    };
    if payment["status"] == json!("paid") {
        return Ok(sale_record(sale));
    }
    payment["status"] = json!("paid");
    if let Some(reference) = reference {
        payment["reference"] = json!(reference);
    }
    let version = writer.current_version().await? + 1;
    let statement = db::statement(
        &writer.db,
        "UPDATE transactions SET payments = ?, version = ?, updated_at = ? WHERE tenant_id = ? AND id = ?",
        &[
            db::text(Value::Array(payments).to_string()),
            db::int(version),
            db::text(now_rfc3339()),
            db::text(&writer.tenant_id),
            db::text(transaction_id),
        ],
    )
    .map_err(internal)?;
    writer.commit(vec![statement], version).await?;
    let stored = sale_row(writer, transaction_id).await?;
    Ok(sale_record(stored))
}
