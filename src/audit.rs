//! The tenant's audit trail: security events and administrative actions an owner can list at
//! `GET /v1/audit` (failed logins, refresh-token reuse, user and role changes, device
//! revocations, settings changes, backups and restores).

use kasir_core::cursor::{decode_cursor, encode_cursor};
use kasir_core::error::ApiError;
use kasir_durable::db;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{console_error, Env, Request, Response};

use crate::auth::Principal;
use crate::directory::Tenant;
use crate::http::{self, Query};

/// Records one event; a failure to record is logged, never fatal to the request.
pub async fn record(env: &Env, tenant: &Tenant, user_id: Option<&str>, action: &str, detail: Value) {
    let result = async {
        let id = crate::crypto::new_uuid()?;
        db::run(
            &tenant
                .db(env)
                .map_err(|error| worker::Error::RustError(error.to_string()))?,
            "INSERT INTO audit_log (tenant_id, id, at, user_id, action, detail) VALUES (?, ?, ?, ?, ?, ?)",
            &[
                db::text(&tenant.id),
                db::text(id),
                db::text(kasir_durable::now_rfc3339()),
                db::opt_text(user_id),
                db::text(action),
                db::text(detail.to_string()),
            ],
        )
        .await
    }
    .await;
    if let Err(error) = result {
        console_error!(
            "{}",
            json!({ "event": "audit_not_recorded", "tenant": tenant.code, "action": action, "error": error.to_string() })
        );
    }
}

/// Position after the last event of a page, newest first.
#[derive(Serialize, Deserialize)]
struct AuditCursor {
    at: String,
    id: String,
}

/// `GET /v1/audit?action=`: the tenant's events, newest first.
pub async fn list(req: &Request, env: &Env, principal: &Principal) -> Result<Response, ApiError> {
    let query = Query::of(req);
    let limit = query.limit(50, 500)?;
    let mut sql = String::from("SELECT * FROM audit_log WHERE tenant_id = ?");
    let mut args = vec![db::text(&principal.tenant.id)];
    if let Some(action) = query.get("action") {
        if action.len() > 64 {
            return Err(ApiError::invalid("action", "too_long"));
        }
        sql.push_str(" AND action = ?");
        args.push(db::text(action));
    }
    if let Some(text) = query.get("cursor") {
        let cursor: AuditCursor = decode_cursor(text).map_err(|_| ApiError::invalid("cursor", "invalid_cursor"))?;
        sql.push_str(" AND (at < ? OR (at = ? AND id < ?))");
        args.extend([db::text(&cursor.at), db::text(&cursor.at), db::text(&cursor.id)]);
    }
    sql.push_str(" ORDER BY at DESC, id DESC LIMIT ?");
    args.push(db::int(limit + 1));
    let mut rows = db::all(&principal.tenant.db(env)?, &sql, &args)
        .await
        .map_err(|error| ApiError::internal(error.to_string()))?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = match (has_more, rows.last()) {
        (true, Some(last)) => Some(encode_cursor(&AuditCursor {
            at: db::get_str(last, "at").unwrap_or_default().to_string(),
            id: db::get_str(last, "id").unwrap_or_default().to_string(),
        })),
        _ => None,
    };
    let items: Vec<Value> = rows
        .iter()
        .map(|row| {
            json!({
                "id": row.get("id"),
                "at": row.get("at"),
                "user_id": row.get("user_id"),
                "action": row.get("action"),
                "detail": db::get_str(row, "detail").and_then(|text| serde_json::from_str::<Value>(text).ok()),
            })
        })
        .collect();
    http::json(200, &json!({ "items": items, "next_cursor": next_cursor }))
}
