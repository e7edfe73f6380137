//! Cash drawer shifts: open with a float, close with counted cash.
//!
//! Shifts do not sync, so the Worker writes them directly to D1. Each write that must not race
//! is one conditional statement: an open inserts only while the user has no open shift, and a
//! close updates only a shift that is still open, so two concurrent requests cannot both win.

use kasir_core::cursor::{decode_cursor, encode_cursor};
use kasir_core::entity::{normalize_integers, whole_number};
use kasir_core::error::{ApiError, Detail};
use kasir_core::money::PaymentMethod;
use kasir_core::permissions::Permission;
use kasir_core::sale::sale_record;
use kasir_core::shift::{close_figures, parse_stored_payments, shift_figures, ShiftFigures, ShiftRefund, ShiftSale};
use kasir_core::validate::parse_uuid;
use kasir_durable::db::{self, Row};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use worker::{D1Database, Env, Method, Request, Response};

use crate::auth::Principal;
use crate::crypto;
use crate::http::{self, reject_unknown, Query};
use crate::router::path_id;

const COLUMNS: &str = "id, outlet_id, user_id, device_id, opening_float, opened_at, status, closed_at, \
                       counted_cash, expected_cash, difference, totals_by_method";

/// Position after the last shift of a page, newest first.
#[derive(Serialize, Deserialize)]
struct ShiftCursor {
    opened_at: String,
    id: String,
}

fn internal(error: worker::Error) -> ApiError {
    ApiError::internal(error.to_string())
}

pub async fn dispatch(
    req: &mut Request,
    env: &Env,
    principal: &Principal,
    method: &Method,
    segments: &[&str],
) -> Result<Response, ApiError> {
    principal.require(Permission::ManageOwnShift)?;
    let database = principal.tenant.db(env)?;
    match (method, segments) {
        (Method::Post, []) => open(req, &database, principal).await,
        (Method::Get, []) => list(req, &database, principal).await,
        (Method::Get, [id]) => show(&database, principal, &path_id(id)?).await,
        (Method::Post, [id, "close"]) => close(req, &database, principal, &path_id(id)?).await,
        _ => Err(ApiError::not_found()),
    }
}

/// Returns the id of the user's open shift, if any.
///
/// The void handler uses it to let a kasir void only its own sale in its open shift.
///
/// # Errors
/// 500 when D1 fails.
pub async fn open_shift_of(env_db: &D1Database, tenant_id: &str, user_id: &str) -> Result<Option<String>, ApiError> {
    let row = db::first(
        env_db,
        "SELECT id FROM shifts WHERE tenant_id = ? AND user_id = ? AND status = 'open' ORDER BY opened_at DESC, id DESC LIMIT 1",
        &[db::text(tenant_id), db::text(user_id)],
    )
    .await
    .map_err(internal)?;
    Ok(row.and_then(|row| db::get_str(&row, "id").map(str::to_string)))
}

/// Returns the user whose shifts the caller may see: `None` for everyone's.
fn visible_user(principal: &Principal) -> Option<&str> {
    if principal.can(Permission::ManageAnyShift) {
        None
    } else {
        Some(principal.user_id.as_str())
    }
}

/// Reads one shift the caller may see. Another user's shift reads as missing to a kasir.
async fn find(database: &D1Database, principal: &Principal, id: &str) -> Result<Row, ApiError> {
    let mut sql = format!("SELECT {COLUMNS} FROM shifts WHERE tenant_id = ? AND id = ?");
    let mut args = vec![db::text(&principal.tenant.id), db::text(id)];
    if let Some(user_id) = visible_user(principal) {
        sql.push_str(" AND user_id = ?");
        args.push(db::text(user_id));
    }
    db::first(database, &sql, &args)
        .await
        .map_err(internal)?
        .ok_or_else(ApiError::not_found)
}

/// Turns a stored row into the API's shift record, `totals_by_method` as a JSON object.
fn shift_record(mut row: Row) -> Map<String, Value> {
    normalize_integers(&mut row);
    row.remove("tenant_id");
    if let Some(Value::String(text)) = row.get("totals_by_method") {
        let totals = serde_json::from_str(text).unwrap_or(Value::Null);
        row.insert("totals_by_method".to_string(), totals);
    }
    row
}

/// Reads a required money field: a whole number from 0 to 2^53 − 1.
fn amount_field(body: &Map<String, Value>, field: &str, details: &mut Vec<Detail>) -> Option<i64> {
    match body.get(field) {
        None | Some(Value::Null) => {
            details.push(Detail::new(field, "required"));
            None
        }
        Some(value) => match whole_number(value) {
            Ok(amount) if amount < 0 => {
                details.push(Detail::new(field, "negative_amount"));
                None
            }
            Ok(amount) => Some(amount),
            Err(code) => {
                details.push(Detail::new(field, code));
                None
            }
        },
    }
}

/// Reads a UUID field. A missing one is a `required` detail only when `required` is set.
fn uuid_field(body: &Map<String, Value>, field: &str, required: bool, details: &mut Vec<Detail>) -> Option<String> {
    match body.get(field) {
        None | Some(Value::Null) => {
            if required {
                details.push(Detail::new(field, "required"));
            }
            None
        }
        Some(Value::String(text)) => {
            let id = parse_uuid(text);
            if id.is_none() {
                details.push(Detail::new(field, "invalid_format"));
            }
            id
        }
        Some(_) => {
            details.push(Detail::new(field, "invalid_type"));
            None
        }
    }
}

/// `POST /v1/shifts {id?, outlet_id, opening_float}`: opens a shift for the caller on the
/// token's device. A client may send its own `id`, so a retried open returns 200 with the
/// stored shift instead of a conflict.
async fn open(req: &mut Request, database: &D1Database, principal: &Principal) -> Result<Response, ApiError> {
    let body = http::read_object(req).await?;
    let mut details = Vec::new();
    reject_unknown(&body, &["id", "outlet_id", "opening_float"], &mut details);
    let id = uuid_field(&body, "id", false, &mut details);
    let outlet_id = uuid_field(&body, "outlet_id", true, &mut details);
    let opening_float = amount_field(&body, "opening_float", &mut details);
    let (Some(outlet_id), Some(opening_float)) = (outlet_id, opening_float) else {
        return Err(ApiError::validation(details));
    };
    if !details.is_empty() {
        return Err(ApiError::validation(details));
    }

    if let Some(id) = &id {
        if let Some(stored) = replay(database, principal, id, &outlet_id, opening_float).await? {
            return http::json(200, &Value::Object(stored));
        }
    }
    check_outlet(database, principal, &outlet_id).await?;

    let id = match id {
        Some(id) => id,
        None => crypto::new_uuid().map_err(internal)?,
    };
    let tenant_id = &principal.tenant.id;
    // One statement, so a concurrent open of the same user cannot slip in between the check
    // and the insert.
    let inserted = db::statement(
        database,
        "INSERT INTO shifts (tenant_id, id, outlet_id, user_id, device_id, opening_float, opened_at, status) \
         SELECT ?, ?, ?, ?, ?, ?, ?, 'open' \
         WHERE NOT EXISTS (SELECT 1 FROM shifts WHERE tenant_id = ? AND user_id = ? AND status = 'open')",
        &[
            db::text(tenant_id),
            db::text(&id),
            db::text(&outlet_id),
            db::text(&principal.user_id),
            db::opt_text(principal.device_id.clone()),
            db::int(opening_float),
            db::text(kasir_durable::now_rfc3339()),
            db::text(tenant_id),
            db::text(&principal.user_id),
        ],
    )
    .map_err(internal)?
    .run()
    .await;
    let changes = match inserted {
        Ok(result) => changed_rows(&result)?,
        // The same client id sent twice at once. The request that lost the insert is a replay.
        Err(error) if db::is_unique_violation(&error) => {
            return match replay(database, principal, &id, &outlet_id, opening_float).await? {
                Some(stored) => http::json(200, &Value::Object(stored)),
                None => Err(ApiError::conflict("id_taken")),
            };
        }
        Err(error) => return Err(internal(error)),
    };
    if changes == 0 {
        return Err(ApiError::conflict("shift_already_open"));
    }

    let shift = find(database, principal, &id).await?;
    http::json(201, &Value::Object(shift_record(shift)))
}

/// Number of rows a write statement changed.
fn changed_rows(result: &worker::D1Result) -> Result<usize, ApiError> {
    let meta = result.meta().map_err(internal)?;
    meta.and_then(|meta| meta.changes)
        .ok_or_else(|| ApiError::internal("D1 returned no change count"))
}

/// Returns the stored shift when `id` is a replay of the same open by the same user, `None`
/// when no shift has that id.
///
/// # Errors
/// 409 `id_taken` when the id belongs to another user's shift or to another body.
async fn replay(
    database: &D1Database,
    principal: &Principal,
    id: &str,
    outlet_id: &str,
    opening_float: i64,
) -> Result<Option<Map<String, Value>>, ApiError> {
    let stored = db::first(
        database,
        &format!("SELECT {COLUMNS} FROM shifts WHERE tenant_id = ? AND id = ?"),
        &[db::text(&principal.tenant.id), db::text(id)],
    )
    .await
    .map_err(internal)?;
    let Some(stored) = stored else {
        return Ok(None);
    };
    let same = db::get_str(&stored, "user_id") == Some(principal.user_id.as_str())
        && db::get_str(&stored, "outlet_id") == Some(outlet_id)
        && db::get_i64(&stored, "opening_float") == Some(opening_float);
    if same {
        Ok(Some(shift_record(stored)))
    } else {
        Err(ApiError::conflict("id_taken"))
    }
}

/// Fails with 422 unless `outlet_id` names a live outlet of the tenant.
async fn check_outlet(database: &D1Database, principal: &Principal, outlet_id: &str) -> Result<(), ApiError> {
    let outlet = db::first(
        database,
        "SELECT id FROM outlets WHERE tenant_id = ? AND id = ? AND deleted_at IS NULL",
        &[db::text(&principal.tenant.id), db::text(outlet_id)],
    )
    .await
    .map_err(internal)?;
    match outlet {
        Some(_) => Ok(()),
        None => Err(ApiError::invalid("outlet_id", "invalid_reference")),
    }
}

/// `GET /v1/shifts`: newest first, filtered by `status`, `outlet_id` and `user_id`. A kasir
/// lists only its own shifts. Open shifts carry no running figures here, so read one shift
/// for those.
async fn list(req: &Request, database: &D1Database, principal: &Principal) -> Result<Response, ApiError> {
    let query = Query::of(req);
    let limit = query.limit(50, 500)?;
    let mut sql = format!("SELECT {COLUMNS} FROM shifts WHERE tenant_id = ?");
    let mut args = vec![db::text(&principal.tenant.id)];

    if let Some(user_id) = visible_user(principal) {
        sql.push_str(" AND user_id = ?");
        args.push(db::text(user_id));
    }
    if let Some(status) = query.get("status") {
        if !["open", "closed"].contains(&status) {
            return Err(ApiError::invalid("status", "invalid_format"));
        }
        sql.push_str(" AND status = ?");
        args.push(db::text(status));
    }
    for key in ["outlet_id", "user_id"] {
        if let Some(value) = query.get(key) {
            let id = parse_uuid(value).ok_or_else(|| ApiError::invalid(key, "invalid_format"))?;
            sql.push_str(&format!(" AND {key} = ?"));
            args.push(db::text(id));
        }
    }
    if let Some(text) = query.get("cursor") {
        let cursor: ShiftCursor = decode_cursor(text).map_err(|_| ApiError::invalid("cursor", "invalid_cursor"))?;
        sql.push_str(" AND (opened_at < ? OR (opened_at = ? AND id < ?))");
        args.extend([
            db::text(&cursor.opened_at),
            db::text(&cursor.opened_at),
            db::text(&cursor.id),
        ]);
    }
    sql.push_str(" ORDER BY opened_at DESC, id DESC LIMIT ?");
    args.push(db::int(limit + 1));

    let mut rows = db::all(database, &sql, &args).await.map_err(internal)?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = match (has_more, rows.last()) {
        (true, Some(last)) => Some(encode_cursor(&ShiftCursor {
            opened_at: db::get_str(last, "opened_at").unwrap_or_default().to_string(),
            id: db::get_str(last, "id").unwrap_or_default().to_string(),
        })),
        _ => None,
    };
    let items: Vec<Value> = rows.into_iter().map(|row| Value::Object(shift_record(row))).collect();
    http::json(200, &json!({ "items": items, "next_cursor": next_cursor }))
}

/// `GET /v1/shifts/{id}`: the shift with its sales, oldest first, and while it is open the
/// running `expected_cash` and `totals_by_method`.
async fn show(database: &D1Database, principal: &Principal, id: &str) -> Result<Response, ApiError> {
    let row = find(database, principal, id).await?;
    let is_open = db::get_str(&row, "status") == Some("open");
    let opening_float = db::get_i64(&row, "opening_float").unwrap_or(0);
    let mut shift = shift_record(row);

    if is_open {
        let figures = running_figures(database, &principal.tenant.id, id, opening_float).await?;
        shift.insert("expected_cash".to_string(), Value::from(figures.expected_cash));
        shift.insert("totals_by_method".to_string(), figures.totals_by_method.to_json());
    }

    // The sales follow the rules of `GET /v1/transactions`: a kasir lists only its own, even
    // when another user's sale carries this shift's id.
    let mut sql = String::from("SELECT * FROM transactions WHERE tenant_id = ? AND shift_id = ?");
    let mut args = vec![db::text(&principal.tenant.id), db::text(id)];
    if !principal.can(Permission::ReadAllSales) {
        sql.push_str(" AND user_id = ?");
        args.push(db::text(&principal.user_id));
    }
    sql.push_str(" ORDER BY created_at_ms, id");
    let sales = db::all(database, &sql, &args).await.map_err(internal)?;
    let sales: Vec<Value> = sales.into_iter().map(sale_record).collect();
    shift.insert("sales".to_string(), Value::Array(sales));

    http::json(200, &Value::Object(shift))
}

/// `POST /v1/shifts/{id}/close {counted_cash}`: stores the closing figures and returns the
/// closed shift.
async fn close(
    req: &mut Request,
    database: &D1Database,
    principal: &Principal,
    id: &str,
) -> Result<Response, ApiError> {
    let body = http::read_object(req).await?;
    let mut details = Vec::new();
    reject_unknown(&body, &["counted_cash"], &mut details);
    let counted_cash = amount_field(&body, "counted_cash", &mut details);
    let Some(counted_cash) = counted_cash else {
        return Err(ApiError::validation(details));
    };
    if !details.is_empty() {
        return Err(ApiError::validation(details));
    }

    let row = find(database, principal, id).await?;
    if db::get_str(&row, "status") != Some("open") {
        return Err(ApiError::conflict("shift_closed"));
    }
    let opening_float = db::get_i64(&row, "opening_float").unwrap_or(0);
    let figures = running_figures(database, &principal.tenant.id, id, opening_float).await?;
    let closing = close_figures(figures, counted_cash).map_err(|error| ApiError::internal(error.to_string()))?;

    // NOTE: a sale recorded with this shift's id after the close (an offline terminal syncing
    // late) does not change the stored figures.
    let result = db::statement(
        database,
        "UPDATE shifts SET status = 'closed', closed_at = ?, counted_cash = ?, expected_cash = ?, difference = ?, \
         totals_by_method = ? WHERE tenant_id = ? AND id = ? AND status = 'open'",
        &[
            db::text(kasir_durable::now_rfc3339()),
            db::int(closing.counted_cash),
            db::int(closing.expected_cash),
            db::int(closing.difference),
            db::text(closing.totals_by_method.to_json().to_string()),
            db::text(&principal.tenant.id),
            db::text(id),
        ],
    )
    .map_err(internal)?
    .run()
    .await
    .map_err(internal)?;
    // A concurrent close won between the read above and this update.
    if changed_rows(&result)? == 0 {
        return Err(ApiError::conflict("shift_closed"));
    }

    let shift = find(database, principal, id).await?;
    http::json(200, &Value::Object(shift_record(shift)))
}

/// Computes a shift's figures from its sales that are not voided and the refunds of those
/// sales, whatever the time or the user of each refund.
async fn running_figures(
    database: &D1Database,
    tenant_id: &str,
    shift_id: &str,
    opening_float: i64,
) -> Result<ShiftFigures, ApiError> {
    let sale_rows = db::all(
        database,
        "SELECT payments, change FROM transactions WHERE tenant_id = ? AND shift_id = ? AND status <> 'voided'",
        &[db::text(tenant_id), db::text(shift_id)],
    )
    .await
    .map_err(internal)?;
    let mut sales = Vec::with_capacity(sale_rows.len());
    for row in &sale_rows {
        let payments = parse_stored_payments(db::get_str(row, "payments").unwrap_or_default())
            .map_err(|error| ApiError::internal(error.to_string()))?;
        sales.push(ShiftSale {
            payments,
            change: db::get_i64(row, "change").unwrap_or(0),
        });
    }

    let refund_rows = db::all(
        database,
        "SELECT r.method, r.total FROM sale_returns r \
         JOIN transactions t ON t.tenant_id = r.tenant_id AND t.id = r.transaction_id \
         WHERE r.tenant_id = ? AND r.kind = 'refund' AND t.shift_id = ? AND t.status <> 'voided'",
        &[db::text(tenant_id), db::text(shift_id)],
    )
    .await
    .map_err(internal)?;
    let mut refunds = Vec::with_capacity(refund_rows.len());
    for row in &refund_rows {
        let method = db::get_str(row, "method").unwrap_or_default();
        let method = PaymentMethod::parse(method)
            .ok_or_else(|| ApiError::internal(format!("refund of shift {shift_id} has unknown method {method:?}")))?;
        refunds.push(ShiftRefund {
            method,
            amount: db::get_i64(row, "total").unwrap_or(0),
        });
    }

    shift_figures(opening_float, &sales, &refunds).map_err(|error| ApiError::internal(error.to_string()))
}
