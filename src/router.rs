//! The route table: which handler serves each method and path, with the module and the
//! permission each tenant route needs.

use kasir_core::error::ApiError;
use kasir_core::permissions::Permission;
use kasir_core::validate::parse_uuid;
use worker::{Env, Method, Request, Response};

use crate::auth::{authenticate, authenticate_admin, Principal};
use crate::context::RequestContext;
use crate::http;
use crate::routes::{
    admin, backups, catalog, devices, jobs as jobs_route, reports, sales, session, shifts, stock, sync, tenant, users,
    watermelon,
};

const OPENAPI: &str = include_str!("../openapi.json");

/// Serves one request.
///
/// # Errors
/// The API error to render in the envelope.
pub async fn dispatch(mut req: Request, env: &Env, ctx: &mut RequestContext) -> Result<Response, ApiError> {
    let method = req.method();
    let path = req.path();
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();

    match (&method, segments.as_slice()) {
        (Method::Get, ["health"]) => http::json(200, &serde_json::json!({ "status": "ok" })),
        (Method::Get, ["v1", "openapi.json"]) => {
            let spec: serde_json::Value =
                serde_json::from_str(OPENAPI).map_err(|error| ApiError::internal(error.to_string()))?;
            http::json(200, &spec)
        }
        (_, ["v1", "admin", rest @ ..]) => {
            authenticate_admin(&req, env, ctx)?;
            admin::dispatch(&mut req, env, ctx, &method, rest).await
        }
        (Method::Post, ["v1", "auth", "login"]) => session::login(&mut req, env, ctx).await,
        (Method::Post, ["v1", "auth", "refresh"]) => session::refresh(&mut req, env, ctx).await,
        // The vendor logo needs no token, so sign-in pages can show it.
        (Method::Get, ["v1", "vendor", "logo"]) => crate::routes::files::vendor::public_logo(&req, env).await,
        (_, ["v1", ..]) => {
            let principal = authenticate(&req, env, ctx).await?;
            tenant_route(&mut req, env, ctx, &principal, &method, &segments[1..]).await
        }
        _ => Err(ApiError::not_found()),
    }
}

/// Parses a path id segment as a canonical UUID. A malformed id reads as a missing record.
pub fn path_id(segment: &str) -> Result<String, ApiError> {
    parse_uuid(segment).ok_or_else(ApiError::not_found)
}

fn require_module(principal: &Principal, module: &str) -> Result<(), ApiError> {
    if principal.tenant.module_enabled(module) {
        Ok(())
    } else {
        Err(ApiError::new(kasir_core::error::ErrorCode::ModuleDisabled))
    }
}

async fn tenant_route(
    req: &mut Request,
    env: &Env,
    ctx: &mut RequestContext,
    principal: &Principal,
    method: &Method,
    segments: &[&str],
) -> Result<Response, ApiError> {
    match (method, segments) {
        (Method::Get, ["me"]) => session::me(env, principal).await,
        (Method::Get, ["audit"]) => {
            principal.require(Permission::ReadAudit)?;
            crate::audit::list(req, env, principal).await
        }
        (Method::Get, ["jobs", id]) => jobs_route::show(env, principal, &path_id(id)?).await,
        (Method::Post, ["auth", "logout"]) => session::logout(env, principal).await,

        (Method::Get, ["tenant"]) => {
            principal.require(Permission::ReadTenant)?;
            tenant::show(principal)
        }
        (Method::Patch, ["tenant"]) => {
            principal.require(Permission::ManageTenantSettings)?;
            tenant::update(req, env, principal).await
        }

        (_, ["backups", rest @ ..]) => {
            principal.require(Permission::ManageBackups)?;
            backups::dispatch(req, env, principal, method, rest).await
        }
        (_, ["users", rest @ ..]) => {
            principal.require(Permission::ManageUsers)?;
            users::dispatch(req, env, principal, method, rest).await
        }
        (_, ["devices", rest @ ..]) => {
            principal.require(Permission::ManageDevices)?;
            devices::dispatch(req, env, principal, method, rest).await
        }

        (Method::Get, ["customers", id, "transactions"]) => {
            require_module(principal, "customers")?;
            principal.require(Permission::ReadCustomers)?;
            sales::of_customer(req, env, principal, &path_id(id)?).await
        }
        // Before the catalog arm, which would read `image` as a product id.
        (Method::Put, ["products", id, "image"]) => {
            require_module(principal, "catalog")?;
            require_module(principal, "files")?;
            principal.require(Permission::WriteCatalog)?;
            principal.require(Permission::WriteFiles)?;
            crate::routes::files::set_product_image(req, env, principal, &path_id(id)?).await
        }
        (_, ["files", rest @ ..]) => {
            require_module(principal, "files")?;
            principal.require(if *method == Method::Get {
                Permission::ReadFiles
            } else {
                Permission::WriteFiles
            })?;
            crate::routes::files::dispatch(req, env, principal, method, rest).await
        }
        (_, [entity @ ("products" | "categories" | "customers" | "outlets"), rest @ ..]) => {
            let spec = kasir_core::entity::catalog_spec(entity).ok_or_else(ApiError::not_found)?;
            let (module, permission) = catalog_access(entity, method);
            if let Some(module) = module {
                require_module(principal, module)?;
            }
            principal.require(permission)?;
            catalog::dispatch(req, env, ctx, principal, spec, method, rest).await
        }

        (_, ["shifts", rest @ ..]) => {
            require_module(principal, "shifts")?;
            shifts::dispatch(req, env, principal, method, rest).await
        }
        (Method::Get, ["reports", "daily"]) => {
            require_module(principal, "reports")?;
            principal.require(Permission::ReadReports)?;
            reports::daily(req, env, principal).await
        }
        (Method::Get, ["reports", "summary"]) => {
            require_module(principal, "reports")?;
            principal.require(Permission::ReadReports)?;
            reports::summary(req, env, principal).await
        }
        (_, ["stock", rest @ ..]) => {
            require_module(principal, "inventory")?;
            stock::dispatch(req, env, principal, method, rest).await
        }
        (_, ["transactions", rest @ ..]) => {
            require_module(principal, "sales")?;
            sales::dispatch(req, env, principal, method, rest).await
        }

        (Method::Post, ["sync", "push"]) => {
            require_module(principal, "sync")?;
            principal.require(Permission::Sync)?;
            sync::push(req, env, principal, ctx.lang()).await
        }
        (Method::Get, ["sync", "conflicts"]) => {
            require_module(principal, "sync")?;
            principal.require(Permission::ResolveConflicts)?;
            sync::conflicts(req, env, principal).await
        }
        (Method::Post, ["sync", "conflicts", id, "resolve"]) => {
            require_module(principal, "sync")?;
            principal.require(Permission::ResolveConflicts)?;
            sync::resolve(req, env, principal, &path_id(id)?).await
        }
        (Method::Get, ["sync", "log"]) => {
            require_module(principal, "sync")?;
            principal.require(Permission::ReadSyncLog)?;
            sync::log(req, env, principal).await
        }
        (Method::Get, ["sync", "watermelon"]) => {
            require_module(principal, "sync")?;
            principal.require(Permission::Sync)?;
            watermelon::pull(req, env, principal).await
        }
        (Method::Post, ["sync", "watermelon"]) => {
            require_module(principal, "sync")?;
            principal.require(Permission::Sync)?;
            watermelon::push(req, env, principal, ctx.lang()).await
        }
        (Method::Get, ["sync", "pull"]) => {
            require_module(principal, "sync")?;
            principal.require(Permission::Sync)?;
            sync::pull(req, env, principal).await
        }

        _ => Err(ApiError::not_found()),
    }
}

/// Returns the module and permission of a catalog route.
fn catalog_access(entity: &str, method: &Method) -> (Option<&'static str>, Permission) {
    let reading = *method == Method::Get;
    match entity {
        "customers" => (
            Some("customers"),
            match method {
                Method::Get => Permission::ReadCustomers,
                Method::Post => Permission::CreateCustomers,
                _ => Permission::WriteCustomers,
            },
        ),
        "outlets" if reading => (None, Permission::ReadCatalog),
        "outlets" => (None, Permission::ManageOutlets),
        _ if reading => (Some("catalog"), Permission::ReadCatalog),
        _ => (Some("catalog"), Permission::WriteCatalog),
    }
}
