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
    call_with_fault(env, tenant, actor, lang, None, command).await
}

/// Runs a command in the tenant's hub with a fault to inject (development only).
///
/// # Errors
/// The hub's API error, or 500 when the hub cannot be reached.
pub async fn call_with_fault(
    env: &Env,
    tenant: &Tenant,
    actor: Actor,
    lang: Lang,
    fault: Option<String>,
    command: Command,
) -> Result<Value, ApiError> {
    let request = HubRequest {
        tenant_id: tenant.id.clone(),
        db_binding: tenant.db_binding.clone(),
        actor,
        tax: tenant.tax(),
        sync: tenant.sync_settings(),
        fault,
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

/// Has the tenant's hub keep its daily job times and arm its alarm when missing; with
/// `fire_now` (development only) it enqueues the day's jobs at once.
///
/// # Errors
/// The hub's error, or 500 when it cannot be reached.
pub async fn arm(env: &Env, tenant: &Tenant, fire_now: bool) -> Result<Value, ApiError> {
    let actor = Actor {
        user_id: "system".to_string(),
        role: kasir_core::permissions::Role::Owner,
        device_id: None,
    };
    let command = Command::Arm {
        schedule: tenant.schedule(),
        fire_now,
    };
    call(env, tenant, actor, command).await
}

/// The work one hub request may carry, in units of one catalog mutation. A sale or stock
/// movement costs several D1 round trips of its own, and a Workers invocation allows a limited
/// number of subrequests, so a push of hundreds of sales goes to the hub in several requests.
const PUSH_BUDGET: usize = 400;
/// The cost of a sale or stock movement in that budget: at most 20 sales per hub request.
// NOTE: under `wrangler dev` a push of 100 sales can still get HTTP 503 "Your worker restarted
// mid-request". The local workerd closes kept-alive connections after its one thread has been
// busy for over 5 s, and wrangler 4.86.0 reports that with this message. Terminals retry with
// the same ids.
const INSERT_ONLY_COST: usize = 20;

/// Sends a push to the tenant's hub in requests that fit [`PUSH_BUDGET`], in order, and
/// joins the answers into one `{results, version}`. Each mutation keeps its own idempotent
/// result, so a retry after a failure partway gets the committed ones from the record.
///
/// # Errors
/// The first hub error; mutations of earlier requests stay committed.
#[allow(clippy::too_many_arguments)]
pub async fn push(
    env: &Env,
    tenant: &Tenant,
    actor: Actor,
    lang: Lang,
    device_id: &str,
    mutations: Vec<Value>,
    server_clock: bool,
    fault: Option<String>,
) -> Result<Value, ApiError> {
    let mut results: Vec<Value> = Vec::with_capacity(mutations.len());
    let mut version = Value::Null;
    let mut chunk = Vec::new();
    let mut cost = 0;
    let mut remaining = mutations.into_iter().peekable();
    while let Some(mutation) = remaining.next() {
        let insert_only = matches!(mutation["entity"].as_str(), Some("transactions" | "stock_movements"));
        cost += if insert_only { INSERT_ONLY_COST } else { 1 };
        chunk.push(mutation);
        if cost < PUSH_BUDGET && remaining.peek().is_some() {
            continue;
        }
        let sent = chunk.len();
        let command = Command::Push {
            device_id: device_id.to_string(),
            mutations: std::mem::take(&mut chunk),
            server_clock,
        };
        let answer = call_with_fault(env, tenant, actor.clone(), lang, fault.clone(), command).await?;
        match answer["results"].as_array() {
            Some(list) if list.len() == sent => results.extend(list.iter().cloned()),
            _ => return Err(ApiError::internal("hub push reply lacks one result per mutation")),
        }
        version = answer["version"].clone();
        cost = 0;
    }
    if version.is_null() {
        // An empty push still reports the tenant's version.
        let answer = call_in(
            env,
            tenant,
            actor,
            lang,
            Command::Push {
                device_id: device_id.to_string(),
                mutations: Vec::new(),
                server_clock,
            },
        )
        .await?;
        version = answer["version"].clone();
    }
    Ok(serde_json::json!({ "results": results, "version": version }))
}
