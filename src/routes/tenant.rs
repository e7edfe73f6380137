//! The caller's own tenant: `GET /v1/tenant`.

use kasir_core::error::ApiError;
use worker::Response;

use crate::auth::Principal;
use crate::http;

pub fn show(principal: &Principal) -> Result<Response, ApiError> {
    http::json(200, &principal.tenant.to_json())
}
