//! Sales over REST: recording one through the hub, listing and reading them.

use kasir_core::cursor::{decode_cursor, encode_cursor};
use kasir_core::error::{ApiError, Detail};
use kasir_core::permissions::Permission;
use kasir_core::sale::sale_record;
use kasir_core::validate::{local_day_bounds, parse_rfc3339_millis, parse_uuid};
use kasir_durable::db;
use kasir_durable::protocol::{Command, Saved};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{Env, Method, Request, Response};

use crate::auth::Principal;
use crate::http::{self, Query, MAX_JSON_BYTES};
use crate::hub;
use crate::router::path_id;

/// Position after the last sale of a page, newest first.
#[derive(Serialize, Deserialize)]
struct SaleCursor {
    at: i64,
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
    match (method, segments) {
        (Method::Post, []) => {
            principal.require(Permission::CreateSales)?;
            create(req, env, principal).await
        }
        (Method::Get, []) => list(req, env, principal).await,
        (Method::Get, [id]) => http::json(200, &find(env, principal, &path_id(id)?).await?),
        (Method::Post, [id, "void"]) => void(req, env, principal, &path_id(id)?).await,
        (Method::Post, [id, "refunds"]) => {
            principal.require(Permission::Refund)?;
            refund(req, env, principal, &path_id(id)?).await
        }
        (Method::Get, [id, "refunds"]) => returns_of(env, principal, &path_id(id)?).await,
        (Method::Post, [id, "payments", index, "confirm"]) => {
            principal.require(Permission::CreateSales)?;
            let index = index.parse::<usize>().map_err(|_| ApiError::not_found())?;
            confirm(req, env, principal, &path_id(id)?, index).await
        }
        _ => Err(ApiError::not_found()),
    }
}

async fn create(req: &mut Request, env: &Env, principal: &Principal) -> Result<Response, ApiError> {
    let body = http::read_json(req, MAX_JSON_BYTES).await?;
    if !body.is_object() {
        return Err(ApiError::invalid("body", "invalid_type"));
    }
    let command = Command::Sale {
        body,
        sync_source: "web".to_string(),
    };
    let saved = hub::call(env, &principal.tenant, principal.actor(), command).await?;
    let saved: Saved = serde_json::from_value(saved).map_err(|error| ApiError::internal(error.to_string()))?;
    http::json(if saved.created { 201 } else { 200 }, &saved.record)
}

/// Returns the user whose sales the caller may see: `None` for everyone's.
fn visible_user(principal: &Principal) -> Result<Option<&str>, ApiError> {
    if principal.can(Permission::ReadAllSales) {
        Ok(None)
    } else if principal.can(Permission::ReadOwnSales) {
        Ok(Some(principal.user_id.as_str()))
    } else {
        Err(ApiError::forbidden())
    }
}

async fn find(env: &Env, principal: &Principal, id: &str) -> Result<Value, ApiError> {
    let mut sql = String::from("SELECT * FROM transactions WHERE tenant_id = ? AND id = ?");
    let mut args = vec![db::text(&principal.tenant.id), db::text(id)];
    // Another user's sale reads as missing to a kasir.
    if let Some(user_id) = visible_user(principal)? {
        sql.push_str(" AND user_id = ?");
        args.push(db::text(user_id));
    }
    let row = db::first(&principal.tenant.db(env)?, &sql, &args)
        .await
        .map_err(internal)?
        .ok_or_else(ApiError::not_found)?;
    Ok(sale_record(row))
}

/// Parses `from`/`to` as RFC 3339, or as a tenant-local date (the start of that day for
/// `from`, the start of the next day for `to`).
fn time_bound(text: &str, field: &str, end_of_day: bool, utc_offset_hours: i64) -> Result<i64, ApiError> {
    if let Some(millis) = parse_rfc3339_millis(text) {
        return Ok(millis);
    }
    let (start, end) = local_day_bounds(text, utc_offset_hours)
        .ok_or_else(|| ApiError::validation(vec![Detail::new(field, "invalid_format")]))?;
    Ok(if end_of_day { end } else { start })
}

/// Hours east of UTC of the Indonesian zones a tenant can be in.
pub fn utc_offset_hours(timezone: &str) -> i64 {
    match timezone {
        "Asia/Makassar" => 8,
        "Asia/Jayapura" => 9,
        _ => 7,
    }
}

async fn list(req: &Request, env: &Env, principal: &Principal) -> Result<Response, ApiError> {
    let query = Query::of(req);
    let limit = query.limit(50, 500)?;
    let offset = utc_offset_hours(&principal.tenant.timezone);
    let mut sql = String::from("SELECT * FROM transactions WHERE tenant_id = ?");
    let mut args = vec![db::text(&principal.tenant.id)];

    if let Some(user_id) = visible_user(principal)? {
        sql.push_str(" AND user_id = ?");
        args.push(db::text(user_id));
    }
    if let Some(from) = query.get("from") {
        sql.push_str(" AND created_at_ms >= ?");
        args.push(db::int(time_bound(from, "from", false, offset)?));
    }
    if let Some(to) = query.get("to") {
        sql.push_str(" AND created_at_ms < ?");
        args.push(db::int(time_bound(to, "to", true, offset)?));
    }
    for (key, column) in [("outlet_id", "outlet_id"), ("user_id", "user_id")] {
        if let Some(value) = query.get(key) {
            let id = parse_uuid(value).ok_or_else(|| ApiError::invalid(key, "invalid_format"))?;
            sql.push_str(&format!(" AND {column} = ?"));
            args.push(db::text(id));
        }
    }
    if let Some(status) = query.get("status") {
        if !["completed", "voided", "refunded", "partially_refunded"].contains(&status) {
            return Err(ApiError::invalid("status", "invalid_format"));
        }
        sql.push_str(" AND status = ?");
        args.push(db::text(status));
    }
    page_of_sales(env, principal, &query, sql, args, limit).await
}

/// Runs a sales query newest first, a page at a time.
async fn page_of_sales(
    env: &Env,
    principal: &Principal,
    query: &Query,
    mut sql: String,
    mut args: Vec<kasir_core::entity::SqlValue>,
    limit: i64,
) -> Result<Response, ApiError> {
    if let Some(text) = query.get("cursor") {
        let cursor: SaleCursor = decode_cursor(text).map_err(|_| ApiError::invalid("cursor", "invalid_cursor"))?;
        sql.push_str(" AND (created_at_ms < ? OR (created_at_ms = ? AND id < ?))");
        args.extend([db::int(cursor.at), db::int(cursor.at), db::text(&cursor.id)]);
    }
    sql.push_str(" ORDER BY created_at_ms DESC, id DESC LIMIT ?");
    args.push(db::int(limit + 1));

    let mut rows = db::all(&principal.tenant.db(env)?, &sql, &args)
        .await
        .map_err(internal)?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = match (has_more, rows.last()) {
        (true, Some(last)) => Some(encode_cursor(&SaleCursor {
            at: db::get_i64(last, "created_at_ms").unwrap_or(0),
            id: db::get_str(last, "id").unwrap_or_default().to_string(),
        })),
        _ => None,
    };
    let items: Vec<Value> = rows.into_iter().map(sale_record).collect();
    http::json(200, &json!({ "items": items, "next_cursor": next_cursor }))
}

/// The caller's open shift, if any.
async fn open_shift(env: &Env, principal: &Principal) -> Result<Option<String>, ApiError> {
    crate::routes::shifts::open_shift_of(&principal.tenant.db(env)?, &principal.tenant.id, &principal.user_id).await
}

/// `POST /v1/transactions/{id}/void`: owners and admins void any sale; a kasir only its own
/// sale made in its open shift (another's sale reads as missing).
async fn void(req: &mut Request, env: &Env, principal: &Principal, id: &str) -> Result<Response, ApiError> {
    let body = http::read_object(req).await?;
    let shift_id = open_shift(env, principal).await?;
    if !principal.can(Permission::VoidAnySale) {
        principal.require(Permission::VoidOwnSale)?;
        let sale = find(env, principal, id).await?;
        let in_open_shift = shift_id.is_some() && sale["shift_id"].as_str() == shift_id.as_deref();
        if !in_open_shift {
            return Err(ApiError::forbidden());
        }
    }
    let command = Command::Void {
        transaction_id: id.to_string(),
        void_id: crate::crypto::new_uuid().map_err(internal)?,
        body,
        shift_id,
    };
    let record = hub::call(env, &principal.tenant, principal.actor(), command).await?;
    http::json(201, &record)
}

/// `POST /v1/transactions/{id}/refunds`.
async fn refund(req: &mut Request, env: &Env, principal: &Principal, id: &str) -> Result<Response, ApiError> {
    let body = http::read_object(req).await?;
    let shift_id = open_shift(env, principal).await?;
    let command = Command::Refund {
        transaction_id: id.to_string(),
        body,
        shift_id,
    };
    let mut record = hub::call(env, &principal.tenant, principal.actor(), command).await?;
    let replayed = record
        .as_object_mut()
        .and_then(|record| record.remove("replayed"))
        .is_some();
    http::json(if replayed { 200 } else { 201 }, &record)
}

/// `GET /v1/transactions/{id}/refunds`: the voids and refunds of a sale.
async fn returns_of(env: &Env, principal: &Principal, id: &str) -> Result<Response, ApiError> {
    find(env, principal, id).await?;
    let rows = db::all(
        &principal.tenant.db(env)?,
        "SELECT * FROM sale_returns WHERE tenant_id = ? AND transaction_id = ? ORDER BY created_at_ms, id",
        &[db::text(&principal.tenant.id), db::text(id)],
    )
    .await
    .map_err(internal)?;
    let items: Vec<Value> = rows.into_iter().map(kasir_durable::returns::return_record).collect();
    http::json(200, &json!({ "items": items, "next_cursor": null }))
}

/// `POST /v1/transactions/{id}/payments/{index}/confirm`.
async fn confirm(
    req: &mut Request,
    env: &Env,
    principal: &Principal,
    id: &str,
    index: usize,
) -> Result<Response, ApiError> {
    let body = http::read_object(req).await?;
    find(env, principal, id).await?;
    let command = Command::ConfirmPayment {
        transaction_id: id.to_string(),
        index,
        body,
    };
    let sale = hub::call(env, &principal.tenant, principal.actor(), command).await?;
    http::json(200, &sale)
}

/// `GET /v1/customers/{id}/transactions`: a customer's purchase history, newest first.
pub async fn of_customer(req: &Request, env: &Env, principal: &Principal, id: &str) -> Result<Response, ApiError> {
    crate::routes::catalog::find(env, principal, &kasir_core::entity::CUSTOMERS, id).await?;
    let query = Query::of(req);
    let limit = query.limit(50, 500)?;
    let mut sql = String::from("SELECT * FROM transactions WHERE tenant_id = ? AND customer_id = ?");
    let mut args = vec![db::text(&principal.tenant.id), db::text(id)];
    if let Some(user_id) = visible_user(principal)? {
        sql.push_str(" AND user_id = ?");
        args.push(db::text(user_id));
    }
    page_of_sales(env, principal, &query, sql, args, limit).await
}
