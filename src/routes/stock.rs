//! Stock levels and the movement ledger.

use kasir_core::error::ApiError;
use worker::{Env, Method, Request, Response};

use crate::auth::Principal;

pub async fn dispatch(
    _req: &mut Request,
    _env: &Env,
    _principal: &Principal,
    _method: &Method,
    _segments: &[&str],
) -> Result<Response, ApiError> {
    Err(ApiError::not_found())
}
