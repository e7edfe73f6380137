//! Login, token refresh with rotation, logout and `/v1/me`.

use kasir_core::error::{ApiError, Detail, ErrorCode, Lang};
use kasir_core::permissions::Role;
use kasir_core::token::{sign_access_token, AccessClaims};
use kasir_core::validate::{normalize_email, parse_uuid};
use kasir_durable::db;
use serde_json::{json, Map, Value};
use worker::{D1Database, Env, Request, Response};

use crate::auth::{jwt_secret, Principal};
use crate::context::RequestContext;
use crate::directory::{self, Tenant};
use crate::routes::devices;
use crate::{crypto, http, login_limit};

/// Access tokens live 15 minutes; clients refresh them.
const ACCESS_TTL_SECONDS: i64 = 15 * 60;
/// Refresh tokens live 30 days, long enough for a terminal that is offline over a holiday.
const REFRESH_TTL_SECONDS: i64 = 30 * 24 * 60 * 60;

fn internal(error: worker::Error) -> ApiError {
    ApiError::internal(error.to_string())
}

fn invalid_login() -> ApiError {
    ApiError::keyed(ErrorCode::Unauthorized, "invalid_login")
}

fn now_seconds() -> i64 {
    (worker::Date::now().as_millis() / 1000) as i64
}

/// `POST /v1/auth/login`.
pub async fn login(req: &mut Request, env: &Env, ctx: &mut RequestContext) -> Result<Response, ApiError> {
    let body = http::read_object(req).await?;
    let mut details = Vec::new();
    http::reject_unknown(&body, &["tenant", "email", "password", "device"], &mut details);
    let code = http::string_field(&body, "tenant", &mut details).unwrap_or_default();
    let email = normalize_email(&http::string_field(&body, "email", &mut details).unwrap_or_default());
    let password = http::string_field(&body, "password", &mut details).unwrap_or_default();
    let device = parse_device_request(body.get("device"), &mut details);
    if !details.is_empty() {
        return Err(ApiError::validation(details));
    }
    ctx.tenant_code = Some(code.clone());
    let client_address = req
        .headers()
        .get("cf-connecting-ip")
        .ok()
        .flatten()
        .unwrap_or_else(|| "unknown".to_string());
    let limits = login_limit::Limits::from_env(env);
    let keys = login_limit::keys(&code, &email, &client_address);
    login_limit::check(env, &limits, &keys).await?;

    let tenant = directory::by_code(env, &code).await?;
    let user = match &tenant {
        Some(tenant) => db::first(
            &tenant.db(env)?,
            "SELECT id, email, name, role, password_hash FROM users WHERE tenant_id = ? AND email = ? AND deleted_at IS NULL",
            &[db::text(&tenant.id), db::text(&email)],
        )
        .await
        .map_err(internal)?,
        None => None,
    };
    let stored_hash = user.as_ref().and_then(|user| db::get_str(user, "password_hash"));
    // Unknown tenants and emails verify against a dummy hash, so every failure looks alike.
    let valid = crypto::verify_password(&password, stored_hash)
        .await
        .map_err(internal)?;
    let (Some(tenant), Some(user), true) = (&tenant, &user, valid) else {
        ctx.security_event = Some("login_failed");
        login_limit::record_failure(env, &keys).await;
        if let Some(tenant) = &tenant {
            let user_id = user.as_ref().and_then(|user| db::get_str(user, "id"));
            let detail = json!({ "email": email, "client_address": client_address });
            crate::audit::record(env, tenant, user_id, "login_failed", detail).await;
        }
        return Err(invalid_login());
    };
    let (tenant, user) = (tenant.clone(), user.clone());
    // Only now, once the password matched, may the tenant's language show: a failure message
    // in it would tell that the shop code exists.
    ctx.tenant_locale = Some(Lang::parse(&tenant.locale));
    tenant.ensure_active()?;

    let user_id = db::get_str(&user, "id").unwrap_or_default().to_string();
    ctx.user_id = Some(user_id.clone());
    let database = tenant.db(env)?;
    let device = match device {
        Some(request) => Some(devices::register_for_login(env, &tenant, &user_id, request).await?),
        None => None,
    };
    let device_id = device.as_ref().and_then(|d| d["id"].as_str()).map(str::to_string);
    let role = db::get_str(&user, "role").and_then(Role::parse).unwrap_or(Role::Kasir);
    let family_id = crypto::new_uuid().map_err(internal)?;
    let tokens = issue_tokens(env, &database, &tenant, &user_id, role, device_id, &family_id).await?;

    let mut answer = tokens;
    answer["user"] = user_json(&user);
    answer["tenant"] = tenant.to_json();
    if let Some(device) = device {
        answer["device"] = device;
    }
    http::json(200, &answer)
}

/// A `device` object in a login: `{id?, name}`.
pub struct DeviceRequest {
    pub id: Option<String>,
    pub name: String,
    pub outlet_id: Option<String>,
}

fn parse_device_request(value: Option<&Value>, details: &mut Vec<Detail>) -> Option<DeviceRequest> {
    let object = match value {
        None | Some(Value::Null) => return None,
        Some(Value::Object(object)) => object,
        Some(_) => {
            details.push(Detail::new("device", "invalid_type"));
            return None;
        }
    };
    let mut device_details = Vec::new();
    http::reject_unknown(object, &["id", "name", "outlet_id"], &mut device_details);
    let id = match object.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => match parse_uuid(text) {
            Some(id) => Some(id),
            None => {
                device_details.push(Detail::new("id", "invalid_format"));
                None
            }
        },
        Some(_) => {
            device_details.push(Detail::new("id", "invalid_type"));
            None
        }
    };
    let name = http::string_field(object, "name", &mut device_details).unwrap_or_default();
    crate::routes::admin::check_name(&name, "name", &mut device_details);
    let outlet_id = match object.get("outlet_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => {
            let outlet_id = parse_uuid(text);
            if outlet_id.is_none() {
                device_details.push(Detail::new("outlet_id", "invalid_format"));
            }
            outlet_id
        }
        Some(_) => {
            device_details.push(Detail::new("outlet_id", "invalid_type"));
            None
        }
    };
    for mut detail in device_details {
        detail.field = format!("device.{}", detail.field);
        details.push(detail);
    }
    Some(DeviceRequest { id, name, outlet_id })
}

fn user_json(row: &Map<String, Value>) -> Value {
    json!({
        "id": row.get("id"),
        "email": row.get("email"),
        "name": row.get("name"),
        "role": row.get("role"),
    })
}

/// Signs an access token and stores a new refresh token of the session `family_id`.
async fn issue_tokens(
    env: &Env,
    database: &D1Database,
    tenant: &Tenant,
    user_id: &str,
    role: Role,
    device_id: Option<String>,
    family_id: &str,
) -> Result<Value, ApiError> {
    let now = now_seconds();
    let claims = AccessClaims {
        tenant_id: tenant.id.clone(),
        tenant_code: tenant.code.clone(),
        user_id: user_id.to_string(),
        role,
        device_id: device_id.clone(),
        session_id: family_id.to_string(),
    };
    let access_token = sign_access_token(&jwt_secret(env)?, &claims, now, ACCESS_TTL_SECONDS)
        .map_err(|error| ApiError::internal(error.to_string()))?;
    // The tenant id travels in the refresh token so a refresh finds the right database.
    let refresh_token = format!("{}.{}", tenant.id, crypto::random_token().map_err(internal)?);
    db::run(
        database,
        "INSERT INTO refresh_tokens (tenant_id, token_hash, family_id, user_id, device_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        &[
            db::text(&tenant.id),
            db::text(crypto::sha256_hex(&refresh_token)),
            db::text(family_id),
            db::text(user_id),
            db::opt_text(device_id),
            db::text(kasir_durable::now_rfc3339()),
            db::int(now + REFRESH_TTL_SECONDS),
        ],
    )
    .await
    .map_err(internal)?;
    Ok(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ACCESS_TTL_SECONDS,
        "refresh_token": refresh_token,
    }))
}

/// `POST /v1/auth/refresh`: rotates the refresh token. Presenting a token that was already
/// rotated means it leaked or was replayed, so its whole session is revoked.
pub async fn refresh(req: &mut Request, env: &Env, ctx: &mut RequestContext) -> Result<Response, ApiError> {
    let body = http::read_object(req).await?;
    let mut details = Vec::new();
    http::reject_unknown(&body, &["refresh_token"], &mut details);
    let token = http::string_field(&body, "refresh_token", &mut details).unwrap_or_default();
    if !details.is_empty() {
        return Err(ApiError::validation(details));
    }
    let rejected = |ctx: &mut RequestContext, event: &'static str| {
        ctx.security_event = Some(event);
        ApiError::keyed(ErrorCode::Unauthorized, "invalid_refresh_token")
    };

    let Some(tenant_id) = token.split_once('.').map(|(id, _)| id).and_then(parse_uuid) else {
        return Err(rejected(ctx, "refresh_malformed"));
    };
    let Some(tenant) = directory::by_id(env, &tenant_id).await? else {
        return Err(rejected(ctx, "refresh_unknown"));
    };
    ctx.tenant_code = Some(tenant.code.clone());
    ctx.tenant_locale = Some(Lang::parse(&tenant.locale));
    tenant.ensure_active()?;
    let database = tenant.db(env)?;
    let hash = crypto::sha256_hex(&token);

    // Only one refresh can turn the token from fresh to rotated.
    let claimed = db::first(
        &database,
        "UPDATE refresh_tokens SET rotated_at = ? WHERE tenant_id = ? AND token_hash = ? AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > ? RETURNING family_id, user_id, device_id",
        &[
            db::text(kasir_durable::now_rfc3339()),
            db::text(&tenant.id),
            db::text(&hash),
            db::int(now_seconds()),
        ],
    )
    .await
    .map_err(internal)?;
    let Some(claimed) = claimed else {
        let known = db::first(
            &database,
            "SELECT family_id FROM refresh_tokens WHERE tenant_id = ? AND token_hash = ?",
            &[db::text(&tenant.id), db::text(&hash)],
        )
        .await
        .map_err(internal)?;
        if let Some(family_id) = known.as_ref().and_then(|row| db::get_str(row, "family_id")) {
            revoke_family(&database, &tenant.id, family_id).await?;
            let detail = json!({ "session_id": family_id });
            crate::audit::record(env, &tenant, None, "refresh_token_reused", detail).await;
            return Err(rejected(ctx, "refresh_reused"));
        }
        return Err(rejected(ctx, "refresh_unknown"));
    };

    let family_id = db::get_str(&claimed, "family_id").unwrap_or_default().to_string();
    let user_id = db::get_str(&claimed, "user_id").unwrap_or_default().to_string();
    let device_id = db::get_str(&claimed, "device_id").map(str::to_string);
    ctx.user_id = Some(user_id.clone());
    let user = db::first(
        &database,
        "SELECT u.id, u.email, u.name, u.role, \
           (SELECT COUNT(*) FROM devices d WHERE d.tenant_id = u.tenant_id AND d.id = ? AND d.revoked_at IS NULL) AS live_devices \
         FROM users u WHERE u.tenant_id = ? AND u.id = ? AND u.deleted_at IS NULL",
        &[
            db::text(device_id.clone().unwrap_or_default()),
            db::text(&tenant.id),
            db::text(&user_id),
        ],
    )
    .await
    .map_err(internal)?;
    let Some(user) = user else {
        return Err(rejected(ctx, "refresh_user_deleted"));
    };
    if device_id.is_some() && db::get_i64(&user, "live_devices") != Some(1) {
        return Err(rejected(ctx, "refresh_device_revoked"));
    }
    let role = db::get_str(&user, "role").and_then(Role::parse).unwrap_or(Role::Kasir);
    let mut answer = issue_tokens(env, &database, &tenant, &user_id, role, device_id, &family_id).await?;
    answer["user"] = user_json(&user);
    http::json(200, &answer)
}

pub async fn revoke_family(database: &D1Database, tenant_id: &str, family_id: &str) -> Result<(), ApiError> {
    db::run(
        database,
        "UPDATE refresh_tokens SET revoked_at = ? WHERE tenant_id = ? AND family_id = ? AND revoked_at IS NULL",
        &[
            db::text(kasir_durable::now_rfc3339()),
            db::text(tenant_id),
            db::text(family_id),
        ],
    )
    .await
    .map_err(internal)
}

/// `POST /v1/auth/logout`: ends the session; its access and refresh tokens stop working.
pub async fn logout(env: &Env, principal: &Principal) -> Result<Response, ApiError> {
    revoke_family(&principal.tenant.db(env)?, &principal.tenant.id, &principal.session_id).await?;
    let detail = json!({ "session_id": principal.session_id, "device_id": principal.device_id });
    crate::audit::record(env, &principal.tenant, Some(&principal.user_id), "logout", detail).await;
    http::no_content()
}

/// `GET /v1/me`.
pub async fn me(env: &Env, principal: &Principal) -> Result<Response, ApiError> {
    let database = principal.tenant.db(env)?;
    let user = db::first(
        &database,
        "SELECT id, email, name, role FROM users WHERE tenant_id = ? AND id = ?",
        &[db::text(&principal.tenant.id), db::text(&principal.user_id)],
    )
    .await
    .map_err(internal)?
    .ok_or_else(ApiError::unauthorized)?;
    let mut answer = json!({ "user": user_json(&user), "tenant": principal.tenant.to_json() });
    if let Some(device_id) = &principal.device_id {
        answer["device"] = devices::find(env, &principal.tenant, device_id).await?;
    }
    http::json(200, &answer)
}
