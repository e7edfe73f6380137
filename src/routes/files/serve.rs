//! Sends a stored file: `ETag` with `If-None-Match` (304), `Range` with `If-Range` (206 or
//! 416), and the caching policy of the caller.

use kasir_core::error::ApiError;
use kasir_core::files::{none_match_hits, parse_range, range_allowed_by_if_range, RangeRequest};
use worker::{Headers, Request, Response, ResponseBuilder};

use crate::storage::ObjectStore;

/// Caching of a tenant's files: only the caller's own cache may keep them. A file id always
/// names the same bytes, so a day is safe, but a deleted file may still show from such a
/// cache until the day ends.
pub const PRIVATE_CACHE: &str = "private, max-age=86400";
/// Caching of the public vendor logo, which a new upload replaces under the same URL.
pub const PUBLIC_CACHE: &str = "public, max-age=300";

/// Stored facts about a file that a download needs before it reads the bytes.
pub struct Download<'a> {
    pub key: &'a str,
    pub content_type: &'a str,
    pub size: u64,
    /// Quoted entity tag.
    pub etag: &'a str,
    pub cache_control: &'static str,
    pub content_disposition: String,
}

fn internal(error: worker::Error) -> ApiError {
    ApiError::internal(error.to_string())
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// Builds the response to a `GET` of a file.
///
/// # Errors
/// 404 when the object is missing from the store although its metadata exists (the cause is
/// logged), 500 when the store fails.
pub async fn send(store: &impl ObjectStore, req: &Request, file: Download<'_>) -> Result<Response, ApiError> {
    let headers = Headers::new();
    headers.set("etag", file.etag).map_err(internal)?;
    headers.set("cache-control", file.cache_control).map_err(internal)?;
    headers.set("accept-ranges", "bytes").map_err(internal)?;

    if header(req, "if-none-match").is_some_and(|value| none_match_hits(&value, file.etag)) {
        return Ok(ResponseBuilder::new().with_status(304).with_headers(headers).empty());
    }

    let range = match header(req, "range") {
        Some(value) if range_allowed_by_if_range(header(req, "if-range").as_deref(), file.etag) => {
            parse_range(&value, file.size)
        }
        _ => RangeRequest::Whole,
    };
    let span = match range {
        RangeRequest::Whole => None,
        RangeRequest::Partial(span) => Some(span),
        RangeRequest::Unsatisfiable => {
            headers
                .set("content-range", &format!("bytes */{}", file.size))
                .map_err(internal)?;
            return Ok(ResponseBuilder::new().with_status(416).with_headers(headers).empty());
        }
    };

    let Some(body) = store.get(file.key, span).await? else {
        let mut error = ApiError::not_found();
        error.internal = Some(format!("object {} is missing from the store", file.key));
        return Err(error);
    };
    headers.set("content-type", file.content_type).map_err(internal)?;
    headers
        .set("content-disposition", &file.content_disposition)
        .map_err(internal)?;
    // Uploaded bytes are never run as a page, whatever a browser makes of them.
    headers
        .set("content-security-policy", "default-src 'none'; sandbox")
        .map_err(internal)?;
    let status = match span {
        Some(span) => {
            headers
                .set("content-range", &span.content_range(file.size))
                .map_err(internal)?;
            headers
                .set("content-length", &span.byte_count().to_string())
                .map_err(internal)?;
            206
        }
        None => {
            headers
                .set("content-length", &file.size.to_string())
                .map_err(internal)?;
            200
        }
    };
    Ok(ResponseBuilder::new()
        .with_status(status)
        .with_headers(headers)
        .body(body))
}
