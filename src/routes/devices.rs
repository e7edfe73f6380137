//! Devices (POS terminals) of a tenant. The server issues each a short `code` used in receipt
//! numbers; deleting a device revokes it, and its tokens stop working at once.

use kasir_core::error::{ApiError, Detail};
use kasir_core::validate::parse_uuid;
use kasir_durable::db;
use serde_json::{json, Value};
use worker::{D1Database, Env, Method, Request, Response};

use crate::auth::Principal;
use crate::directory::Tenant;
use crate::router::path_id;
use crate::routes::admin::check_name;
use crate::routes::session::DeviceRequest;
use crate::{crypto, http};

const COLUMNS: &str = "id, code, name, outlet_id, user_id, created_at, last_seen_at, revoked_at";
/// Letters and digits of device codes, without 0/O and 1/I, which are misread on receipts.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const CODE_CHARS: usize = 6;

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
    let tenant = &principal.tenant;
    match (method, segments) {
        (Method::Get, []) => {
            let sql = format!("SELECT {COLUMNS} FROM devices WHERE tenant_id = ? ORDER BY created_at, id");
            let devices = db::all(&tenant.db(env)?, &sql, &[db::text(&tenant.id)])
                .await
                .map_err(internal)?;
            http::json(200, &json!({ "items": devices, "next_cursor": null }))
        }
        (Method::Post, []) => create(req, env, principal).await,
        (Method::Get, [id]) => http::json(200, &find(env, tenant, &path_id(id)?).await?),
        (Method::Delete, [id]) => {
            let id = path_id(id)?;
            let response = revoke(env, tenant, &id).await?;
            crate::audit::record(
                env,
                tenant,
                Some(&principal.user_id),
                "device_revoked",
                serde_json::json!({ "device_id": id }),
            )
            .await;
            Ok(response)
        }
        _ => Err(ApiError::not_found()),
    }
}

/// Reads one device of the tenant.
pub async fn find(env: &Env, tenant: &Tenant, id: &str) -> Result<Value, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM devices WHERE tenant_id = ? AND id = ?");
    db::first(&tenant.db(env)?, &sql, &[db::text(&tenant.id), db::text(id)])
        .await
        .map_err(internal)?
        .map(Value::Object)
        .ok_or_else(ApiError::not_found)
}

fn new_code() -> Result<String, ApiError> {
    let bytes = crypto::random_bytes::<CODE_CHARS>().map_err(internal)?;
    Ok(bytes
        .iter()
        .map(|byte| CODE_ALPHABET[usize::from(*byte) % CODE_ALPHABET.len()] as char)
        .collect())
}

/// Inserts a device with a fresh code, retrying on the rare code collision.
async fn insert(
    database: &D1Database,
    tenant: &Tenant,
    id: &str,
    name: &str,
    outlet_id: Option<String>,
    user_id: Option<&str>,
) -> Result<(), ApiError> {
    for _ in 0..5 {
        let result = db::run(
            database,
            "INSERT INTO devices (tenant_id, id, code, name, outlet_id, user_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            &[
                db::text(&tenant.id),
                db::text(id),
                db::text(new_code()?),
                db::text(name),
                db::opt_text(outlet_id.clone()),
                db::opt_text(user_id),
                db::text(kasir_durable::now_rfc3339()),
            ],
        )
        .await;
        match result {
            Ok(()) => return Ok(()),
            Err(error) if error.to_string().contains("devices.code") => continue,
            Err(error) if db::is_unique_violation(&error) => return Err(ApiError::conflict("id_taken")),
            Err(error) => return Err(internal(error)),
        }
    }
    Err(ApiError::internal("no free device code after 5 tries"))
}

async fn create(req: &mut Request, env: &Env, principal: &Principal) -> Result<Response, ApiError> {
    let tenant = &principal.tenant;
    let body = http::read_object(req).await?;
    let mut details = Vec::new();
    http::reject_unknown(&body, &["id", "name", "outlet_id"], &mut details);
    let id = optional_uuid(body.get("id"), "id", &mut details);
    let outlet_id = optional_uuid(body.get("outlet_id"), "outlet_id", &mut details);
    let name = http::string_field(&body, "name", &mut details).unwrap_or_default();
    check_name(&name, "name", &mut details);
    if !details.is_empty() {
        return Err(ApiError::validation(details));
    }
    let database = tenant.db(env)?;
    if let Some(outlet_id) = &outlet_id {
        check_outlet(&database, tenant, outlet_id, "outlet_id").await?;
    }
    let id = match id {
        Some(id) => id,
        None => crypto::new_uuid().map_err(internal)?,
    };
    insert(&database, tenant, &id, name.trim(), outlet_id, None).await?;
    http::json(201, &find(env, tenant, &id).await?)
}

/// Fails with 422 unless `outlet_id` names a live outlet of the tenant.
async fn check_outlet(database: &D1Database, tenant: &Tenant, outlet_id: &str, field: &str) -> Result<(), ApiError> {
    let outlet = db::first(
        database,
        "SELECT id FROM outlets WHERE tenant_id = ? AND id = ? AND deleted_at IS NULL",
        &[db::text(&tenant.id), db::text(outlet_id)],
    )
    .await
    .map_err(internal)?;
    match outlet {
        Some(_) => Ok(()),
        None => Err(ApiError::invalid(field, "invalid_reference")),
    }
}

fn optional_uuid(value: Option<&Value>, field: &str, details: &mut Vec<Detail>) -> Option<String> {
    match value {
        None | Some(Value::Null) => None,
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

/// Revokes a device and ends its sessions.
async fn revoke(env: &Env, tenant: &Tenant, id: &str) -> Result<Response, ApiError> {
    find(env, tenant, id).await?;
    let database = tenant.db(env)?;
    let now = kasir_durable::now_rfc3339();
    let statements = vec![
        db::statement(
            &database,
            "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?) WHERE tenant_id = ? AND id = ?",
            &[db::text(&now), db::text(&tenant.id), db::text(id)],
        )
        .map_err(internal)?,
        db::statement(
            &database,
            "UPDATE refresh_tokens SET revoked_at = ? WHERE tenant_id = ? AND device_id = ? AND revoked_at IS NULL",
            &[db::text(&now), db::text(&tenant.id), db::text(id)],
        )
        .map_err(internal)?,
    ];
    db::batch(&database, statements).await.map_err(internal)?;
    http::no_content()
}

/// Finds or registers the device of a login. A known id must not be revoked; an unknown
/// id, or none, registers a new device.
pub async fn register_for_login(
    env: &Env,
    tenant: &Tenant,
    user_id: &str,
    request: DeviceRequest,
) -> Result<Value, ApiError> {
    let database = tenant.db(env)?;
    if let Some(id) = &request.id {
        if let Ok(device) = find(env, tenant, id).await {
            if !device["revoked_at"].is_null() {
                return Err(ApiError::keyed(
                    kasir_core::error::ErrorCode::Unauthorized,
                    "invalid_token",
                ));
            }
            db::run(
                &database,
                "UPDATE devices SET last_seen_at = ?, user_id = ? WHERE tenant_id = ? AND id = ?",
                &[
                    db::text(kasir_durable::now_rfc3339()),
                    db::text(user_id),
                    db::text(&tenant.id),
                    db::text(id),
                ],
            )
            .await
            .map_err(internal)?;
            return find(env, tenant, id).await;
        }
    }
    let id = match request.id {
        Some(id) => id,
        None => crypto::new_uuid().map_err(internal)?,
    };
    let outlet_id = match request.outlet_id {
        Some(outlet_id) => {
            check_outlet(&database, tenant, &outlet_id, "device.outlet_id").await?;
            Some(outlet_id)
        }
        None => tenant.default_outlet_id.clone(),
    };
    insert(&database, tenant, &id, request.name.trim(), outlet_id, Some(user_id)).await?;
    find(env, tenant, &id).await
}
