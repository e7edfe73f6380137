//! The WatermelonDB sync protocol, served by the same engine as native sync.

use kasir_core::error::{ApiError, Lang};
use worker::{Env, Request, Response};

use crate::auth::Principal;

/// `GET /v1/sync/watermelon`.
pub async fn pull(_req: &Request, _env: &Env, _principal: &Principal) -> Result<Response, ApiError> {
    Err(ApiError::not_found())
}

/// `POST /v1/sync/watermelon`.
pub async fn push(_req: &mut Request, _env: &Env, _principal: &Principal, _lang: Lang) -> Result<Response, ApiError> {
    Err(ApiError::not_found())
}
