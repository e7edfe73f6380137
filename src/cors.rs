//! CORS for browser clients: origins listed in the `CORS_ALLOWED_ORIGINS` variable
//! (comma-separated; `*` allows any) may call the API. No list means no cross-origin access.

use worker::{Env, Headers, Request, Response};

const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
const ALLOWED_HEADERS: &str = "authorization, content-type, accept-language, x-request-id, if-none-match, range";
const EXPOSED_HEADERS: &str = "x-request-id, retry-after, etag, content-range";
/// Seconds a browser may cache a preflight response.
const PREFLIGHT_MAX_AGE: &str = "600";

/// Returns the request's `Origin` when the allowlist admits it.
pub fn allowed_origin(req: &Request, env: &Env) -> Option<String> {
    let origin = req.headers().get("origin").ok().flatten()?;
    let list = env
        .var("CORS_ALLOWED_ORIGINS")
        .map(|var| var.to_string())
        .unwrap_or_default();
    let allowed = list
        .split(',')
        .map(str::trim)
        .any(|entry| entry == "*" || entry.eq_ignore_ascii_case(&origin));
    allowed.then_some(origin)
}

/// True for a CORS preflight request.
pub fn is_preflight(req: &Request) -> bool {
    req.method() == worker::Method::Options
        && req
            .headers()
            .get("access-control-request-method")
            .ok()
            .flatten()
            .is_some()
}

/// Responds to a preflight: 204, with the CORS headers only when the origin is allowed.
pub fn preflight(origin: Option<&str>) -> Response {
    let mut response = Response::builder().with_status(204).empty();
    if let Some(origin) = origin {
        let headers = response.headers_mut();
        add_headers(headers, origin);
        let _ = headers.set("access-control-allow-methods", ALLOWED_METHODS);
        let _ = headers.set("access-control-allow-headers", ALLOWED_HEADERS);
        let _ = headers.set("access-control-max-age", PREFLIGHT_MAX_AGE);
    }
    response
}

/// Adds the CORS headers of an allowed origin to a response.
pub fn add_headers(headers: &mut Headers, origin: &str) {
    let _ = headers.set("access-control-allow-origin", origin);
    let _ = headers.set("access-control-expose-headers", EXPOSED_HEADERS);
    let _ = headers.append("vary", "Origin");
}
