//! Authentication of tenant requests: the bearer token is checked, then the user, device and
//! session are checked against the tenant database so deletions and revocations apply at once.

use kasir_core::error::{ApiError, Lang};
use kasir_core::permissions::{allows, Permission, Role};
use kasir_core::token::verify_access_token;
use kasir_durable::db;
use kasir_durable::protocol::Actor;
use worker::{Env, Request};

use crate::context::RequestContext;
use crate::directory::{self, Tenant};

/// The authenticated caller of a tenant route.
pub struct Principal {
    pub tenant: Tenant,
    pub user_id: String,
    pub role: Role,
    pub device_id: Option<String>,
    pub session_id: String,
}

impl Principal {
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: self.user_id.clone(),
            role: self.role,
            device_id: self.device_id.clone(),
        }
    }

    /// Fails with 403 unless the caller's role has `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if allows(self.role, permission) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }

    pub fn can(&self, permission: Permission) -> bool {
        allows(self.role, permission)
    }
}

/// Reads the bearer token of a request.
pub fn bearer_token(req: &Request) -> Option<String> {
    let header = req.headers().get("authorization").ok().flatten()?;
    let (scheme, token) = header.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
        Some(token.trim().to_string())
    } else {
        None
    }
}

pub fn jwt_secret(env: &Env) -> Result<Vec<u8>, ApiError> {
    let secret = env
        .secret("JWT_SECRET")
        .map(|secret| secret.to_string())
        .or_else(|_| env.var("JWT_SECRET").map(|var| var.to_string()))
        .map_err(|_| ApiError::internal("JWT_SECRET is not set"))?;
    if secret.len() < 32 {
        return Err(ApiError::internal("JWT_SECRET is shorter than 32 bytes"));
    }
    Ok(secret.into_bytes())
}

/// Authenticates a tenant request.
///
/// # Errors
/// 401 for a missing, invalid or expired token, a deleted user, a revoked device or a
/// logged-out session; 423 when the tenant is suspended.
pub async fn authenticate(req: &Request, env: &Env, ctx: &mut RequestContext) -> Result<Principal, ApiError> {
    let rejected = |ctx: &mut RequestContext, event: &'static str| {
        ctx.security_event = Some(event);
        ApiError::keyed(kasir_core::error::ErrorCode::Unauthorized, "invalid_token")
    };
    let Some(token) = bearer_token(req) else {
        return Err(rejected(ctx, "token_missing"));
    };
    let now = (worker::Date::now().as_millis() / 1000) as i64;
    let claims = match verify_access_token(&jwt_secret(env)?, &token, now) {
        Ok(claims) => claims,
        Err(_) => return Err(rejected(ctx, "token_invalid")),
    };
    let Some(tenant) = directory::by_id(env, &claims.tenant_id).await? else {
        return Err(rejected(ctx, "token_tenant_unknown"));
    };
    ctx.tenant_code = Some(tenant.code.clone());
    ctx.tenant_locale = Some(Lang::parse(&tenant.locale));
    ctx.user_id = Some(claims.user_id.clone());
    tenant.ensure_active()?;
    let tenant = crate::directory::ensure_schema(env, tenant).await?;

    let device_id = claims.device_id.clone().unwrap_or_default();
    let row = db::first(
        &tenant.db(env)?,
        "SELECT u.role, u.deleted_at, \
           (SELECT COUNT(*) FROM devices d WHERE d.tenant_id = u.tenant_id AND d.id = ? AND d.revoked_at IS NULL) AS live_devices, \
           (SELECT COUNT(*) FROM refresh_tokens r WHERE r.tenant_id = u.tenant_id AND r.family_id = ? AND r.revoked_at IS NOT NULL) AS revoked_sessions \
         FROM users u WHERE u.tenant_id = ? AND u.id = ?",
        &[
            db::text(&device_id),
            db::text(&claims.session_id),
            db::text(&tenant.id),
            db::text(&claims.user_id),
        ],
    )
    .await
    .map_err(|error| ApiError::internal(error.to_string()))?;
    let Some(row) = row else {
        return Err(rejected(ctx, "token_user_unknown"));
    };
    if !row.get("deleted_at").is_none_or(serde_json::Value::is_null) {
        return Err(rejected(ctx, "token_user_deleted"));
    }
    if claims.device_id.is_some() && db::get_i64(&row, "live_devices") != Some(1) {
        return Err(rejected(ctx, "token_device_revoked"));
    }
    if db::get_i64(&row, "revoked_sessions").unwrap_or(0) > 0 {
        return Err(rejected(ctx, "token_session_revoked"));
    }
    // The stored role wins over the token's, so a role change applies at once.
    let role = db::get_str(&row, "role").and_then(Role::parse).unwrap_or(claims.role);

    Ok(Principal {
        tenant,
        user_id: claims.user_id,
        role,
        device_id: claims.device_id,
        session_id: claims.session_id,
    })
}

/// Checks the platform admin token.
///
/// # Errors
/// 401 when it is missing or wrong; a tenant's access token is wrong here too.
pub fn authenticate_admin(req: &Request, env: &Env, ctx: &mut RequestContext) -> Result<(), ApiError> {
    let expected = env
        .secret("ADMIN_TOKEN")
        .map(|secret| secret.to_string())
        .or_else(|_| env.var("ADMIN_TOKEN").map(|var| var.to_string()))
        .map_err(|_| ApiError::internal("ADMIN_TOKEN is not set"))?;
    let given = bearer_token(req).unwrap_or_default();
    let matches = !expected.is_empty()
        && crate::crypto::constant_time_eq(
            crate::crypto::sha256_hex(&given).as_bytes(),
            crate::crypto::sha256_hex(&expected).as_bytes(),
        );
    if matches {
        Ok(())
    } else {
        ctx.security_event = Some("admin_token_rejected");
        Err(ApiError::keyed(
            kasir_core::error::ErrorCode::Unauthorized,
            "invalid_admin_token",
        ))
    }
}
