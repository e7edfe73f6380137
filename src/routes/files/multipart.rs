//! Reads a `multipart/form-data` upload without buffering far past the size limit.

use js_sys::{Function, Promise, Reflect, Uint8Array};
use kasir_core::error::{ApiError, Detail, ErrorCode};
use kasir_core::files::MULTIPART_OVERHEAD_BYTES;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{FormData, FormEntry, Headers, Method, Request, RequestInit};

/// The parts of an upload form: the `file` field and the other text fields the route reads.
pub struct UploadForm {
    form: FormData,
}

/// The `file` part of an upload, read into memory.
pub struct UploadedFile {
    /// The client's file name as sent, to be cleaned before it is stored.
    pub name: Option<String>,
    pub bytes: Vec<u8>,
}

impl UploadForm {
    /// Returns a text field, or `None` when it is absent.
    ///
    /// # Errors
    /// 422 `invalid_type` when the field is a file.
    pub fn text(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.form.get(name) {
            None => Ok(None),
            Some(FormEntry::Field(text)) => Ok(Some(text)),
            Some(FormEntry::File(_)) => Err(ApiError::invalid(name, "invalid_type")),
        }
    }

    /// Reads the `file` part, checking its size against `max_bytes` before copying it.
    // NOTE: by estimate an upload is held three times while it is stored: the parsed form,
    // this copy and the store's copy. A 10 MiB document so takes some 30 MiB of the isolate's
    // 128 MB, and several at once in one isolate may exhaust it.
    ///
    /// # Errors
    /// 422 when `file` is missing or is a text field, 413 `file_too_large` when it is larger
    /// than `max_bytes`.
    pub async fn file(&self, max_bytes: u64) -> Result<UploadedFile, ApiError> {
        let file = match self.form.get("file") {
            Some(FormEntry::File(file)) => file,
            Some(FormEntry::Field(_)) => return Err(ApiError::invalid("file", "invalid_type")),
            None => return Err(ApiError::invalid("file", "required")),
        };
        let size = file.size() as u64;
        if size > max_bytes {
            return Err(file_too_large(max_bytes, size));
        }
        let bytes = file
            .bytes()
            .await
            .map_err(|error| ApiError::internal(format!("reading the uploaded file: {error}")))?;
        let name = Some(file.name()).filter(|name| !name.is_empty());
        Ok(UploadedFile { name, bytes })
    }
}

/// Builds the 413 of a file over its limit, with the limit and the size in bytes.
pub fn file_too_large(max_bytes: u64, size: u64) -> ApiError {
    let mut error = ApiError::keyed(ErrorCode::PayloadTooLarge, "file_too_large");
    error
        .details
        .push(Detail::new("file", "file_too_large").with_figures(max_bytes.into(), size.into()));
    error
}

fn multipart_required() -> ApiError {
    ApiError::keyed(ErrorCode::UnsupportedMediaType, "multipart_required")
}

/// Reads a multipart body whose file may be up to `max_file_bytes`. A body declared larger
/// than that plus [`MULTIPART_OVERHEAD_BYTES`] is rejected from its `Content-Length` before
/// any of it is read. A body without `Content-Length` is kept until it passes the same cap, and
/// the rest of it is then read and discarded.
///
/// # Errors
/// 415 `multipart_required` when the body is not `multipart/form-data` or does not parse,
/// 413 `file_too_large` when it is larger than the cap.
pub async fn read_upload(req: &mut Request, max_file_bytes: u64) -> Result<UploadForm, ApiError> {
    let content_type = req.headers().get("content-type").ok().flatten().unwrap_or_default();
    if !content_type.to_ascii_lowercase().starts_with("multipart/form-data") {
        return Err(multipart_required());
    }
    let cap = max_file_bytes + MULTIPART_OVERHEAD_BYTES;
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|length| length.trim().parse::<u64>().ok());

    let form = match declared {
        Some(length) if length > cap => return Err(file_too_large(max_file_bytes, length)),
        // HTTP framing ends the body at the declared length, so the runtime reads no more.
        Some(_) => req.form_data().await.map_err(|_| multipart_required())?,
        None => {
            let body = read_capped(req, cap, max_file_bytes).await?;
            parse_form(&content_type, body).await?
        }
    };
    Ok(UploadForm { form })
}

/// Reads a body of unknown length chunk by chunk, stopping once it passes `cap` bytes.
async fn read_capped(req: &Request, cap: u64, max_file_bytes: u64) -> Result<Vec<u8>, ApiError> {
    let js_error = |error: JsValue| ApiError::internal(format!("reading the upload: {error:?}"));
    let stream = Reflect::get(req.inner(), &JsValue::from_str("body")).map_err(js_error)?;
    if stream.is_null() || stream.is_undefined() {
        return Ok(Vec::new());
    }
    let reader = call_method(&stream, "getReader").map_err(js_error)?;

    let mut body = Vec::new();
    loop {
        let chunk = JsFuture::from(Promise::from(call_method(&reader, "read").map_err(js_error)?))
            .await
            .map_err(js_error)?;
        if Reflect::get(&chunk, &JsValue::from_str("done"))
            .map_err(js_error)?
            .is_truthy()
        {
            return Ok(body);
        }
        let bytes = Uint8Array::new(&Reflect::get(&chunk, &JsValue::from_str("value")).map_err(js_error)?);
        let total = (body.len() + bytes.length() as usize) as u64;
        if total > cap {
            // Under wrangler dev 4.86.0 a response sent before a chunked body ends makes the
            // runtime throw "Can't read from request stream after response has been sent" and
            // restart the Worker. The rest is therefore read and discarded, never kept.
            // A client that goes away meanwhile gets the same 413, which it never reads.
            let _ = drain(&reader).await;
            return Err(file_too_large(max_file_bytes, total));
        }
        let start = body.len();
        body.resize(start + bytes.length() as usize, 0);
        bytes.copy_to(&mut body[start..]);
    }
}

/// Reads the rest of a body and discards it.
async fn drain(reader: &JsValue) -> Result<(), JsValue> {
    loop {
        let chunk = JsFuture::from(Promise::from(call_method(reader, "read")?)).await?;
        if Reflect::get(&chunk, &JsValue::from_str("done"))?.is_truthy() {
            return Ok(());
        }
    }
}

/// Calls a method without arguments on a JavaScript object.
fn call_method(target: &JsValue, name: &str) -> Result<JsValue, JsValue> {
    let method: Function = Reflect::get(target, &JsValue::from_str(name))?.dyn_into()?;
    method.call0(target)
}

/// Parses buffered multipart bytes with the runtime's form parser.
async fn parse_form(content_type: &str, body: Vec<u8>) -> Result<FormData, ApiError> {
    let internal = |error: worker::Error| ApiError::internal(format!("re-reading the upload: {error}"));
    let headers = Headers::new();
    headers.set("content-type", content_type).map_err(internal)?;
    let bytes = Uint8Array::from(body.as_slice());
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from(bytes)));
    // The URL is never fetched; a Request is only the runtime's way to parse a form.
    let mut copy = Request::new_with_init("https://upload.invalid/", &init).map_err(internal)?;
    copy.form_data().await.map_err(|_| multipart_required())
}
