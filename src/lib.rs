//! Kasir Edge: the Worker that authenticates, validates and routes the POS API. Reads go to
//! each tenant's D1 database; writes go through the tenant's `TenantHub` Durable Object.

mod audit;
mod auth;
mod context;
mod cors;
mod crypto;
mod directory;
mod http;
mod hub;
mod jobs;
mod login_limit;
mod router;
mod routes;
mod storage;

// The Durable Object class lives in its own crate; re-exporting it links its export in.
pub use kasir_durable::TenantHub;

use context::RequestContext;
use kasir_core::error::{ApiError, Lang};
use serde_json::json;
use worker::{console_error, console_log, event, Context, Env, Headers, Request, Response};

thread_local! {
    /// The id of the request this isolate started last, for the panic hook's log line.
    // NOTE: an isolate serves requests concurrently, so a panic's line may name a request
    // that started while the panicking one was waiting on I/O.
    static CURRENT_REQUEST_ID: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Logs a panic with the request it happened in. The runtime then responds with 500 and starts a
/// fresh instance; the hook only makes the failure findable.
fn install_panic_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let request_id = CURRENT_REQUEST_ID.with(|id| id.borrow().clone());
            console_error!(
                "{}",
                json!({ "event": "panic", "request_id": request_id, "message": info.to_string() })
            );
        }));
    });
}

/// Accepts a client's `x-request-id` when it is short and plain; otherwise makes one.
fn request_id(req: &Request) -> String {
    let given = req.headers().get("x-request-id").ok().flatten();
    match given {
        Some(id)
            if !id.is_empty()
                && id.len() <= 64
                && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
        {
            id
        }
        _ => crypto::new_uuid().unwrap_or_else(|_| format!("req-{}", worker::Date::now().as_millis())),
    }
}

fn error_response(error: &ApiError, ctx: &RequestContext) -> Response {
    let body = error.envelope(ctx.lang(), &ctx.request_id);
    let mut response = Response::from_json(&body)
        .unwrap_or_else(|_| {
            Response::error("internal", 500)
                .unwrap_or_else(|_| Response::empty().unwrap_or_else(|_| unreachable_response()))
        })
        .with_status(error.status());
    if let Some(seconds) = error.retry_after {
        let _ = response.headers_mut().set("retry-after", &seconds.to_string());
    }
    response
}

/// Building an empty response cannot fail in practice; this keeps the entry point panic-free.
fn unreachable_response() -> Response {
    Response::builder().with_status(500).empty()
}

/// Sets the headers every response carries.
fn finish_headers(response: &mut Response, request_id: &str) {
    let headers: &mut Headers = response.headers_mut();
    let _ = headers.set("x-request-id", request_id);
    // File downloads set their own caching policy, and every other response gets `no-store`.
    if !headers.has("cache-control").unwrap_or(false) {
        let _ = headers.set("cache-control", "no-store");
    }
    let _ = headers.set("x-content-type-options", "nosniff");
    let _ = headers.set("referrer-policy", "no-referrer");
    let _ = headers.set("x-frame-options", "DENY");
}

#[event(queue)]
async fn queue(batch: worker::MessageBatch<jobs::JobMessage>, env: Env, _ctx: Context) -> worker::Result<()> {
    jobs::consume(batch, env).await;
    Ok(())
}

/// The cron trigger only makes sure every active tenant's hub has its alarm armed, as after a
/// deploy or for a tenant made before its hub ever ran; the hubs do the tenants' work.
#[event(scheduled)]
async fn scheduled(_event: worker::ScheduledEvent, env: Env, _ctx: worker::ScheduleContext) {
    let tenants = match directory::list(&env).await {
        Ok(tenants) => tenants,
        Err(error) => {
            console_error!("{}", json!({ "event": "cron_failed", "error": error.to_string() }));
            return;
        }
    };
    let mut armed = 0;
    for tenant in tenants.iter().filter(|tenant| tenant.status == "active") {
        match hub::arm(&env, tenant, false).await {
            Ok(_) => armed += 1,
            Err(error) => {
                console_error!(
                    "{}",
                    json!({ "event": "hub_not_armed", "tenant": tenant.code, "error": error.to_string() })
                )
            }
        }
    }
    console_log!("{}", json!({ "event": "cron_rearmed", "tenants": armed }));
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let started = worker::Date::now().as_millis();
    let method = req.method().to_string();
    let path = req.path();
    let mut ctx = RequestContext {
        request_id: request_id(&req),
        accept_language: req
            .headers()
            .get("accept-language")
            .ok()
            .flatten()
            .and_then(|header| Lang::from_accept_language(&header)),
        tenant_locale: None,
        tenant_code: None,
        user_id: None,
        security_event: None,
    };

    install_panic_hook();
    CURRENT_REQUEST_ID.with(|id| *id.borrow_mut() = ctx.request_id.clone());
    let origin = cors::allowed_origin(&req, &env);
    let outcome = if cors::is_preflight(&req) {
        Ok(cors::preflight(origin.as_deref()))
    } else {
        router::dispatch(req, &env, &mut ctx).await
    };
    let (mut response, error) = match outcome {
        Ok(response) => (response, None),
        Err(error) => (error_response(&error, &ctx), Some(error)),
    };
    finish_headers(&mut response, &ctx.request_id);
    if let Some(origin) = &origin {
        cors::add_headers(response.headers_mut(), origin);
    }

    let line = json!({
        "request_id": ctx.request_id,
        "method": method,
        "path": path,
        "status": response.status_code(),
        "duration_ms": worker::Date::now().as_millis().saturating_sub(started),
        "tenant": ctx.tenant_code,
        "user_id": ctx.user_id,
        "error": error.as_ref().map(|e| e.code.as_str()),
        "cause": error.as_ref().and_then(|e| e.internal.clone()),
        "security_event": ctx.security_event,
    });
    if response.status_code() >= 500 {
        console_error!("{line}");
    } else {
        console_log!("{line}");
    }
    Ok(response)
}
