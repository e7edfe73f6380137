//! Daily and range sales reports in the tenant's time zone.

use kasir_core::error::ApiError;
use worker::{Env, Request, Response};

use crate::auth::Principal;

/// `GET /v1/reports/daily`.
pub async fn daily(_req: &Request, _env: &Env, _principal: &Principal) -> Result<Response, ApiError> {
    Err(ApiError::not_found())
}

/// `GET /v1/reports/summary`.
pub async fn summary(_req: &Request, _env: &Env, _principal: &Principal) -> Result<Response, ApiError> {
    Err(ApiError::not_found())
}
