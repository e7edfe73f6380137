//! The Worker's side of the TenantHub: sends one command to the tenant's hub and reads the
//! reply.

use kasir_core::error::{ApiError, Lang};
use kasir_durable::protocol::{Actor, Command, HubReply, HubRequest};
use serde_json::Value;
use worker::{Env, Headers, Method, Request, RequestInit};

use crate::directory::Tenant;

/// Runs a command in the tenant's hub, which serializes it with every other write.
///
/// # Errors
/// The hub's API error, or 500 when the hub cannot be reached.
pub async fn call(env: &Env, tenant: &Tenant, actor: Actor, command: Command) -> Result<Value, ApiError> {
    call_in(env, tenant, actor, Lang::parse(&tenant.locale), command).await
}

/// Runs a command in the tenant's hub, with push result messages in `lang`.
///
/// # Errors
/// The hub's API error, or 500 when the hub cannot be reached.
pub async fn call_in(
    env: &Env,
    tenant: &Tenant,
    actor: Actor,
    lang: Lang,
    command: Command,
) -> Result<Value, ApiError> {
    let request = HubRequest {
        tenant_id: tenant.id.clone(),
        db_binding: tenant.db_binding.clone(),
        actor,
        tax: tenant.tax(),
        sync: tenant.sync_settings(),
        lang,
        command,
    };
    let body = serde_json::to_string(&request).map_err(|error| ApiError::internal(error.to_string()))?;
    let unreachable = |error: worker::Error| ApiError::internal(format!("hub of {}: {error}", tenant.code));

    let namespace = env.durable_object("TENANT_HUB").map_err(unreachable)?;
    let stub = namespace
        .id_from_name(&tenant.id)
        .and_then(|id| id.get_stub())
        .map_err(unreachable)?;
    let headers = Headers::new();
    headers.set("content-type", "application/json").map_err(unreachable)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(body.into()));
    let hub_request = Request::new_with_init("https://tenant-hub/command", &init).map_err(unreachable)?;
    let mut response = stub.fetch_with_request(hub_request).await.map_err(unreachable)?;
    match response.json::<HubReply>().await.map_err(unreachable)? {
        HubReply::Ok(value) => Ok(value),
        HubReply::Error(error) => Err(error),
    }
}
