//! Job status for tenants (`GET /v1/jobs/{id}`) and the platform admin.

use kasir_core::error::ApiError;
use kasir_core::permissions::Role;
use kasir_durable::db;
use serde_json::{json, Value};
use worker::{Env, Request, Response};

use crate::auth::Principal;
use crate::directory::control_db;
use crate::http::{self, Query};
use crate::jobs::{self, job_json};

/// `GET /v1/jobs/{id}`: visible to the user who started it and to the owner; any other job,
/// another tenant's included, reads as missing.
pub async fn show(env: &Env, principal: &Principal, id: &str) -> Result<Response, ApiError> {
    let job = jobs::find(env, id).await?.ok_or_else(ApiError::not_found)?;
    let same_tenant = db::get_str(&job, "tenant_id") == Some(principal.tenant.id.as_str());
    let visible = principal.role == Role::Owner || db::get_str(&job, "created_by") == Some(principal.user_id.as_str());
    if !same_tenant || !visible {
        return Err(ApiError::not_found());
    }
    http::json(200, &job_json(&job))
}

/// `GET /v1/admin/jobs?status=`: jobs of every tenant, newest first; `failed` includes the
/// dead-lettered ones.
pub async fn admin_list(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let query = Query::of(req);
    let limit = query.limit(50, 500)?;
    let mut sql = String::from("SELECT * FROM jobs");
    let mut args = Vec::new();
    if let Some(status) = query.get("status") {
        if !["queued", "running", "done", "failed"].contains(&status) {
            return Err(ApiError::invalid("status", "invalid_format"));
        }
        sql.push_str(" WHERE status = ?");
        args.push(db::text(status));
    }
    sql.push_str(" ORDER BY updated_at DESC, id DESC LIMIT ?");
    args.push(db::int(limit));
    let control = control_db(env).await?;
    let rows = db::all(&control, &sql, &args)
        .await
        .map_err(|error| ApiError::internal(error.to_string()))?;
    let items: Vec<Value> = rows
        .iter()
        .map(|row| {
            let mut job = job_json(row);
            job["payload"] = db::get_str(row, "payload")
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or(Value::Null);
            job
        })
        .collect();
    http::json(200, &json!({ "items": items, "next_cursor": null }))
}

/// `GET /v1/admin/jobs/{id}`.
pub async fn admin_show(env: &Env, id: &str) -> Result<Response, ApiError> {
    let job = jobs::find(env, id).await?.ok_or_else(ApiError::not_found)?;
    http::json(200, &job_json(&job))
}

/// `GET /v1/admin/outbox`: the development outbox, oldest first. Absent outside development.
pub async fn outbox(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let development = env
        .var("ENVIRONMENT")
        .map(|var| var.to_string() == "development")
        .unwrap_or(false);
    if !development {
        return Err(ApiError::not_found());
    }
    let query = Query::of(req);
    let limit = query.limit(50, 500)? as u32;
    let bucket = env
        .bucket("FILES")
        .map_err(|error| ApiError::internal(error.to_string()))?;
    // The outbox is a development aid: read it whole, filter, then cut the page.
    let mut keys = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut listing = bucket.list().prefix(jobs::email::OUTBOX_PREFIX).limit(1000);
        if let Some(cursor) = &cursor {
            listing = listing.cursor(cursor.clone());
        }
        let listed = listing
            .execute()
            .await
            .map_err(|error| ApiError::internal(error.to_string()))?;
        keys.extend(listed.objects().iter().map(|object| object.key()));
        cursor = listed.cursor();
        if !listed.truncated() || cursor.is_none() {
            break;
        }
    }
    let mut items = Vec::new();
    for key in keys {
        let Some(stored) = bucket.get(key).execute().await.ok().flatten() else {
            continue;
        };
        let Some(body) = stored.body() else {
            continue;
        };
        if let Ok(text) = body.text().await {
            if let Ok(message) = serde_json::from_str::<Value>(&text) {
                items.push(message);
            }
        }
    }
    if let Some(to) = query.get("to") {
        items.retain(|message| message["to"].as_str() == Some(to));
    }
    items.truncate(limit as usize);
    http::json(200, &json!({ "items": items, "next_cursor": null }))
}
