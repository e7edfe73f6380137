//! Stock levels and the movement ledger. Levels are sums of movements, read straight from
//! D1; purchases, transfers and counts are written by the tenant's hub.

use kasir_core::cursor::{decode_cursor, encode_cursor};
use kasir_core::error::ApiError;
use kasir_core::money::format_qty;
use kasir_core::permissions::Permission;
use kasir_core::stock::movement_record;
use kasir_core::validate::parse_uuid;
use kasir_durable::db;
use kasir_durable::protocol::Command;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{Env, Method, Request, Response};

use crate::auth::Principal;
use crate::http::{self, Query};
use crate::hub;

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
        (Method::Get, []) => {
            principal.require(Permission::ReadStock)?;
            levels(req, env, principal).await
        }
        (Method::Get, ["movements"]) => {
            principal.require(Permission::ReadStock)?;
            movements(req, env, principal).await
        }
        (Method::Post, ["movements"]) => {
            principal.require(Permission::WriteStock)?;
            let mut body = http::read_object(req).await?;
            if body.get("id").is_none_or(Value::is_null) {
                body.insert("id".to_string(), json!(crate::crypto::new_uuid().map_err(internal)?));
            }
            let mut answer = hub::call(
                env,
                &principal.tenant,
                principal.actor(),
                Command::RecordMovement { body },
            )
            .await?;
            let created = answer["created"] == json!(true);
            if let Some(answer) = answer.as_object_mut() {
                answer.remove("created");
            }
            http::json(if created { 201 } else { 200 }, &answer)
        }
        (Method::Post, ["adjustments"]) => {
            principal.require(Permission::WriteStock)?;
            let body = http::read_object(req).await?;
            let command = Command::Adjust {
                id: crate::crypto::new_uuid().map_err(internal)?,
                body,
            };
            let answer = hub::call(env, &principal.tenant, principal.actor(), command).await?;
            http::json(201, &answer)
        }
        _ => Err(ApiError::not_found()),
    }
}

fn optional_id(query: &Query, name: &str) -> Result<Option<String>, ApiError> {
    match query.get(name) {
        None => Ok(None),
        Some(text) => parse_uuid(text)
            .map(Some)
            .ok_or_else(|| ApiError::invalid(name, "invalid_format")),
    }
}

/// `GET /v1/stock?outlet_id=&product_id=&low=true`: levels of products that track stock,
/// with `negative` (below zero, as when two offline terminals sold the last unit) and `low`
/// (at or under the product's `low_stock_threshold`). `low=true` lists only those flagged.
async fn levels(req: &Request, env: &Env, principal: &Principal) -> Result<Response, ApiError> {
    let query = Query::of(req);
    let outlet_id = optional_id(&query, "outlet_id")?;
    let product_id = optional_id(&query, "product_id")?;
    let only_flagged = match query.get("low") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::invalid("low", "invalid_format")),
    };

    // Every tracked product at every live outlet, so a product never stocked shows level 0.
    let mut sql = String::from(
        "SELECT p.id AS product_id, o.id AS outlet_id, p.name, p.low_stock_threshold, COALESCE(SUM(m.qty), 0) AS level \
         FROM products p \
         JOIN outlets o ON o.tenant_id = p.tenant_id AND o.deleted_at IS NULL \
         LEFT JOIN stock_movements m ON m.tenant_id = p.tenant_id AND m.product_id = p.id AND m.outlet_id = o.id \
         WHERE p.tenant_id = ? AND p.track_stock = 1 AND p.deleted_at IS NULL",
    );
    let mut args = vec![db::text(&principal.tenant.id)];
    if let Some(outlet_id) = &outlet_id {
        sql.push_str(" AND o.id = ?");
        args.push(db::text(outlet_id));
    }
    if let Some(product_id) = &product_id {
        sql.push_str(" AND p.id = ?");
        args.push(db::text(product_id));
    }
    sql.push_str(" GROUP BY p.id, o.id ORDER BY p.name, p.id, o.id");
    let rows = db::all(&principal.tenant.db(env)?, &sql, &args)
        .await
        .map_err(internal)?;

    let mut items = Vec::new();
    for row in rows {
        let level = db::get_i64(&row, "level").unwrap_or(0);
        let negative = level < 0;
        // Thresholds are whole units; levels are in thousandths.
        let low = db::get_i64(&row, "low_stock_threshold").is_some_and(|threshold| level <= threshold * 1000);
        if only_flagged && !negative && !low {
            continue;
        }
        items.push(json!({
            "product_id": row.get("product_id"),
            "outlet_id": row.get("outlet_id"),
            "name": row.get("name"),
            "qty": format_qty(level),
            "negative": negative,
            "low": low,
        }));
    }
    http::json(200, &json!({ "items": items, "next_cursor": null }))
}

/// Position after the last movement of a page, newest first.
#[derive(Serialize, Deserialize)]
struct MovementCursor {
    v: i64,
}

/// `GET /v1/stock/movements?outlet_id=&product_id=&kind=`: the ledger, newest first.
async fn movements(req: &Request, env: &Env, principal: &Principal) -> Result<Response, ApiError> {
    let query = Query::of(req);
    let limit = query.limit(50, 500)?;
    let mut sql = String::from("SELECT * FROM stock_movements WHERE tenant_id = ?");
    let mut args = vec![db::text(&principal.tenant.id)];
    for name in ["outlet_id", "product_id", "ref_id"] {
        if let Some(id) = optional_id(&query, name)? {
            sql.push_str(&format!(" AND {name} = ?"));
            args.push(db::text(id));
        }
    }
    if let Some(kind) = query.get("kind") {
        const KINDS: [&str; 7] = [
            "sale",
            "refund",
            "void",
            "purchase",
            "adjustment",
            "transfer_in",
            "transfer_out",
        ];
        if !KINDS.contains(&kind) {
            return Err(ApiError::invalid("kind", "invalid_format"));
        }
        sql.push_str(" AND kind = ?");
        args.push(db::text(kind));
    }
    if let Some(text) = query.get("cursor") {
        let cursor: MovementCursor = decode_cursor(text).map_err(|_| ApiError::invalid("cursor", "invalid_cursor"))?;
        sql.push_str(" AND version < ?");
        args.push(db::int(cursor.v));
    }
    // Versions are unique per tenant and follow the order movements were recorded.
    sql.push_str(" ORDER BY version DESC LIMIT ?");
    args.push(db::int(limit + 1));

    let mut rows = db::all(&principal.tenant.db(env)?, &sql, &args)
        .await
        .map_err(internal)?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = match (has_more, rows.last()) {
        (true, Some(last)) => Some(encode_cursor(&MovementCursor {
            v: db::get_i64(last, "version").unwrap_or(0),
        })),
        _ => None,
    };
    let items: Vec<Value> = rows.into_iter().map(movement_record).collect();
    http::json(200, &json!({ "items": items, "next_cursor": next_cursor }))
}
