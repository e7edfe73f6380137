//! Backups of the caller's tenant: list, take and restore, for the owner. Taking and
//! restoring are jobs; the tenant's hub runs them so no merge lands halfway through.

use kasir_core::error::ApiError;
use kasir_durable::db;
use serde_json::{json, Value};
use worker::{Env, Method, Request, Response};

use crate::auth::Principal;
use crate::router::path_id;
use crate::{http, jobs};

pub async fn dispatch(
    req: &mut Request,
    env: &Env,
    principal: &Principal,
    method: &Method,
    segments: &[&str],
) -> Result<Response, ApiError> {
    match (method, segments) {
        (Method::Get, []) => list(env, principal).await,
        (Method::Post, []) => {
            let body = http::read_object(req).await?;
            if let Some(key) = body.keys().next() {
                return Err(ApiError::invalid(key.clone(), "unknown_field"));
            }
            let backup_id = crate::crypto::new_uuid().map_err(|error| ApiError::internal(error.to_string()))?;
            let payload = json!({ "backup_id": backup_id, "kind": "manual" });
            let job_id = jobs::enqueue(
                env,
                Some(&principal.tenant),
                "backup",
                None,
                payload,
                Some(&principal.user_id),
            )
            .await?;
            let detail = json!({ "backup_id": backup_id, "job_id": job_id });
            crate::audit::record(
                env,
                &principal.tenant,
                Some(&principal.user_id),
                "backup_started",
                detail,
            )
            .await;
            http::json(202, &json!({ "job_id": job_id, "backup_id": backup_id }))
        }
        (Method::Post, [id, "restore"]) => {
            let id = path_id(id)?;
            let body = http::read_object(req).await?;
            if let Some(key) = body.keys().next() {
                return Err(ApiError::invalid(key.clone(), "unknown_field"));
            }
            find(env, principal, &id).await?;
            let payload = json!({ "backup_id": id });
            let job_id = jobs::enqueue(
                env,
                Some(&principal.tenant),
                "restore",
                None,
                payload,
                Some(&principal.user_id),
            )
            .await?;
            let detail = json!({ "backup_id": id, "job_id": job_id });
            crate::audit::record(
                env,
                &principal.tenant,
                Some(&principal.user_id),
                "restore_started",
                detail,
            )
            .await;
            http::json(202, &json!({ "job_id": job_id }))
        }
        _ => Err(ApiError::not_found()),
    }
}

fn backup_json(row: &db::Row) -> Value {
    json!({
        "id": row.get("id"),
        "kind": row.get("kind"),
        "created_at": row.get("created_at"),
        "size": row.get("size"),
        "row_counts": db::get_str(row, "row_counts").and_then(|text| serde_json::from_str::<Value>(text).ok()),
        "schema_version": row.get("schema_version"),
        "checksum": row.get("checksum"),
    })
}

async fn find(env: &Env, principal: &Principal, id: &str) -> Result<db::Row, ApiError> {
    db::first(
        &principal.tenant.db(env)?,
        "SELECT * FROM backups WHERE tenant_id = ? AND id = ?",
        &[db::text(&principal.tenant.id), db::text(id)],
    )
    .await
    .map_err(|error| ApiError::internal(error.to_string()))?
    .ok_or_else(ApiError::not_found)
}

/// `GET /v1/backups`, newest first.
async fn list(env: &Env, principal: &Principal) -> Result<Response, ApiError> {
    let rows = db::all(
        &principal.tenant.db(env)?,
        "SELECT * FROM backups WHERE tenant_id = ? ORDER BY created_at DESC, id DESC",
        &[db::text(&principal.tenant.id)],
    )
    .await
    .map_err(|error| ApiError::internal(error.to_string()))?;
    let items: Vec<Value> = rows.iter().map(backup_json).collect();
    http::json(200, &json!({ "items": items, "next_cursor": null }))
}
