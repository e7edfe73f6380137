//! Users of a tenant: owners, admins and kasirs. Users do not sync, so the Worker writes them
//! directly; the unique email index keeps two writers from creating the same user.

use kasir_core::error::{ApiError, Detail};
use kasir_core::permissions::{may_manage_user, Role};
use kasir_core::validate::{is_email, normalize_email};
use kasir_durable::db;
use serde_json::{json, Map, Value};
use worker::{D1Database, Env, Method, Request, Response};

use crate::auth::Principal;
use crate::router::path_id;
use crate::routes::admin::{check_name, check_password};
use crate::{crypto, http};

const COLUMNS: &str = "id, email, name, role, created_at, updated_at";

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
    let database = principal.tenant.db(env)?;
    match (method, segments) {
        (Method::Get, []) => list(&database, principal).await,
        (Method::Post, []) => create(req, env, &database, principal).await,
        (Method::Get, [id]) => {
            let user = find(&database, principal, &path_id(id)?).await?;
            http::json(200, &Value::Object(user))
        }
        (Method::Patch, [id]) => update(req, env, &database, principal, &path_id(id)?).await,
        (Method::Delete, [id]) => remove(env, &database, principal, &path_id(id)?).await,
        _ => Err(ApiError::not_found()),
    }
}

async fn list(database: &D1Database, principal: &Principal) -> Result<Response, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE tenant_id = ? AND deleted_at IS NULL ORDER BY email");
    let users = db::all(database, &sql, &[db::text(&principal.tenant.id)])
        .await
        .map_err(internal)?;
    http::json(200, &json!({ "items": users, "next_cursor": null }))
}

async fn find(database: &D1Database, principal: &Principal, id: &str) -> Result<Map<String, Value>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE tenant_id = ? AND id = ? AND deleted_at IS NULL");
    db::first(database, &sql, &[db::text(&principal.tenant.id), db::text(id)])
        .await
        .map_err(internal)?
        .ok_or_else(ApiError::not_found)
}

fn parse_role(value: Option<&Value>, details: &mut Vec<Detail>) -> Option<Role> {
    match value {
        None => None,
        Some(Value::String(text)) => match Role::parse(text) {
            Some(role) => Some(role),
            None => {
                details.push(Detail::new("role", "invalid_format"));
                None
            }
        },
        Some(_) => {
            details.push(Detail::new("role", "invalid_type"));
            None
        }
    }
}

fn check_email(email: &str, details: &mut Vec<Detail>) {
    if !email.is_empty() && !is_email(email) {
        details.push(Detail::new("email", "invalid_format"));
    }
}

async fn create(
    req: &mut Request,
    env: &Env,
    database: &D1Database,
    principal: &Principal,
) -> Result<Response, ApiError> {
    let body = http::read_object(req).await?;
    let mut details = Vec::new();
    http::reject_unknown(&body, &["email", "name", "password", "role"], &mut details);
    let email = normalize_email(&http::string_field(&body, "email", &mut details).unwrap_or_default());
    check_email(&email, &mut details);
    let name = http::string_field(&body, "name", &mut details).unwrap_or_default();
    check_name(&name, "name", &mut details);
    let password = http::string_field(&body, "password", &mut details).unwrap_or_default();
    check_password(&password, "password", &mut details);
    let role = parse_role(body.get("role"), &mut details);
    if role.is_none() && !details.iter().any(|d| d.field == "role") {
        details.push(Detail::new("role", "required"));
    }
    if !details.is_empty() {
        return Err(ApiError::validation(details));
    }
    let role = role.unwrap_or(Role::Kasir);
    if !may_manage_user(principal.role, role) {
        return Err(ApiError::forbidden());
    }

    let id = crypto::new_uuid().map_err(internal)?;
    let hash = crypto::hash_password(&password).await.map_err(internal)?;
    let now = kasir_durable::now_rfc3339();
    let inserted = db::run(
        database,
        "INSERT INTO users (tenant_id, id, email, name, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            db::text(&principal.tenant.id),
            db::text(&id),
            db::text(&email),
            db::text(name.trim()),
            db::text(role.as_str()),
            db::text(hash),
            db::text(&now),
            db::text(&now),
        ],
    )
    .await;
    match inserted {
        Err(error) if db::is_unique_violation(&error) => return Err(ApiError::conflict("email_taken")),
        Err(error) => return Err(internal(error)),
        Ok(()) => {}
    }
    let user = find(database, principal, &id).await?;
    let detail = json!({ "user_id": id, "role": role.as_str() });
    crate::audit::record(env, &principal.tenant, Some(&principal.user_id), "user_created", detail).await;
    let invitation = json!({
        "template": "user_invited",
        "to": email,
        "locale": principal.tenant.locale,
        "data": {
            "tenant_name": principal.tenant.name,
            "tenant_code": principal.tenant.code,
            "name": name.trim(),
            "role": role.as_str(),
        },
    });
    if let Err(error) = crate::jobs::enqueue(
        env,
        Some(&principal.tenant),
        "email",
        None,
        invitation,
        Some(&principal.user_id),
    )
    .await
    {
        worker::console_error!(
            "{}",
            json!({ "event": "invitation_not_queued", "tenant": principal.tenant.code, "error": error.to_string() })
        );
    }
    http::json(201, &Value::Object(user))
}

/// Number of live owners, so the last one is never removed or demoted.
async fn owner_count(database: &D1Database, principal: &Principal) -> Result<i64, ApiError> {
    let row = db::first(
        database,
        "SELECT COUNT(*) AS n FROM users WHERE tenant_id = ? AND role = 'owner' AND deleted_at IS NULL",
        &[db::text(&principal.tenant.id)],
    )
    .await
    .map_err(internal)?;
    Ok(row.and_then(|row| db::get_i64(&row, "n")).unwrap_or(0))
}

fn role_of(user: &Map<String, Value>) -> Role {
    user.get("role")
        .and_then(Value::as_str)
        .and_then(Role::parse)
        .unwrap_or(Role::Kasir)
}

async fn update(
    req: &mut Request,
    env: &Env,
    database: &D1Database,
    principal: &Principal,
    id: &str,
) -> Result<Response, ApiError> {
    let body = http::read_object(req).await?;
    let user = find(database, principal, id).await?;
    let current_role = role_of(&user);
    if !may_manage_user(principal.role, current_role) {
        return Err(ApiError::forbidden());
    }

    let mut details = Vec::new();
    http::reject_unknown(&body, &["email", "name", "password", "role"], &mut details);
    let mut columns: Vec<&str> = Vec::new();
    let mut values = Vec::new();
    if body.contains_key("email") {
        let email = normalize_email(&http::string_field(&body, "email", &mut details).unwrap_or_default());
        check_email(&email, &mut details);
        columns.push("email");
        values.push(db::text(email));
    }
    if body.contains_key("name") {
        let name = http::string_field(&body, "name", &mut details).unwrap_or_default();
        check_name(&name, "name", &mut details);
        columns.push("name");
        values.push(db::text(name.trim()));
    }
    if body.contains_key("password") {
        let password = http::string_field(&body, "password", &mut details).unwrap_or_default();
        check_password(&password, "password", &mut details);
        if details.is_empty() {
            columns.push("password_hash");
            values.push(db::text(crypto::hash_password(&password).await.map_err(internal)?));
        }
    }
    let new_role = parse_role(body.get("role"), &mut details);
    if !details.is_empty() {
        return Err(ApiError::validation(details));
    }
    if let Some(role) = new_role {
        if !may_manage_user(principal.role, role) {
            return Err(ApiError::forbidden());
        }
        if current_role == Role::Owner && role != Role::Owner && owner_count(database, principal).await? <= 1 {
            return Err(ApiError::conflict("last_owner"));
        }
        columns.push("role");
        values.push(db::text(role.as_str()));
    }

    if !columns.is_empty() {
        let mut sql = String::from("UPDATE users SET ");
        for column in &columns {
            sql.push_str(column);
            sql.push_str(" = ?, ");
        }
        sql.push_str("updated_at = ? WHERE tenant_id = ? AND id = ?");
        values.extend([
            db::text(kasir_durable::now_rfc3339()),
            db::text(&principal.tenant.id),
            db::text(id),
        ]);
        match db::run(database, &sql, &values).await {
            Err(error) if db::is_unique_violation(&error) => return Err(ApiError::conflict("email_taken")),
            Err(error) => return Err(internal(error)),
            Ok(()) => {}
        }
    }
    if !columns.is_empty() {
        let changed: Vec<&str> = columns.iter().map(|column| column.trim_end_matches("_hash")).collect();
        let detail = json!({ "user_id": id, "changed": changed, "role_from": current_role.as_str(), "role_to": new_role.map(|role| role.as_str()) });
        crate::audit::record(env, &principal.tenant, Some(&principal.user_id), "user_changed", detail).await;
    }
    let user = find(database, principal, id).await?;
    http::json(200, &Value::Object(user))
}

async fn remove(env: &Env, database: &D1Database, principal: &Principal, id: &str) -> Result<Response, ApiError> {
    let user = find(database, principal, id).await?;
    let role = role_of(&user);
    if !may_manage_user(principal.role, role) {
        return Err(ApiError::forbidden());
    }
    if role == Role::Owner && owner_count(database, principal).await? <= 1 {
        return Err(ApiError::conflict("last_owner"));
    }
    let now = kasir_durable::now_rfc3339();
    db::run(
        database,
        "UPDATE users SET deleted_at = ?, updated_at = ? WHERE tenant_id = ? AND id = ?",
        &[
            db::text(&now),
            db::text(&now),
            db::text(&principal.tenant.id),
            db::text(id),
        ],
    )
    .await
    .map_err(internal)?;
    // Every session of the user ends; access tokens already fail on the deleted user.
    db::run(
        database,
        "UPDATE refresh_tokens SET revoked_at = ? WHERE tenant_id = ? AND user_id = ? AND revoked_at IS NULL",
        &[db::text(&now), db::text(&principal.tenant.id), db::text(id)],
    )
    .await
    .map_err(internal)?;
    let detail = json!({ "user_id": id, "role": role.as_str() });
    crate::audit::record(env, &principal.tenant, Some(&principal.user_id), "user_deleted", detail).await;
    http::no_content()
}
