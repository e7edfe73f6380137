//! The platform's own files under `vendor/`: a logo anyone may read, and documents only the
//! platform admin reads. The object store is their only record, so their metadata travels
//! as the objects' custom metadata.

use std::collections::HashMap;

use kasir_core::error::ApiError;
use kasir_core::files::{
    checksum_hex, clean_file_name, content_disposition, entity_tag, vendor_object_key, FileKind, FileType,
    MAX_DOC_BYTES,
};
use serde_json::{json, Value};
use worker::{Env, Method, Request, Response};

use super::multipart::read_upload;
use super::serve::{self, Download, PRIVATE_CACHE, PUBLIC_CACHE};
use super::{check_upload_or_reject, parse_kind};
use crate::router::path_id;
use crate::storage::{ObjectInfo, ObjectStore, R2Store};
use crate::{crypto, http};

const LOGO_PREFIX: &str = "vendor/logo/";
const VENDOR_PREFIX: &str = "vendor/";
/// Recorded as the uploader of vendor files.
const PLATFORM_ADMIN: &str = "platform-admin";

/// `/v1/admin/vendor/files...`: upload, list, read and delete vendor files. The caller has
/// already presented the admin token.
pub async fn admin_dispatch(
    req: &mut Request,
    env: &Env,
    method: &Method,
    segments: &[&str],
) -> Result<Response, ApiError> {
    let store = R2Store::from_env(env)?;
    match (method, segments) {
        (Method::Post, []) => upload(req, &store).await,
        (Method::Get, []) => {
            let mut objects = store.list(VENDOR_PREFIX).await?;
            objects.sort_by(|a, b| b.uploaded_ms.cmp(&a.uploaded_ms).then_with(|| a.key.cmp(&b.key)));
            let items: Vec<Value> = objects.iter().filter_map(vendor_json).collect();
            http::json(200, &json!({ "items": items, "next_cursor": null }))
        }
        (Method::Get, [id]) => {
            let object = find(&store, &path_id(id)?).await?;
            send(&store, req, &object, PRIVATE_CACHE).await
        }
        (Method::Delete, [id]) => {
            let object = find(&store, &path_id(id)?).await?;
            store.delete(&object.key).await?;
            http::no_content()
        }
        _ => Err(ApiError::not_found()),
    }
}

/// `GET /v1/vendor/logo`, with no authentication: the newest vendor logo.
pub async fn public_logo(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let store = R2Store::from_env(env)?;
    let logo = store
        .list(LOGO_PREFIX)
        .await?
        .into_iter()
        .max_by(|a, b| a.uploaded_ms.cmp(&b.uploaded_ms).then_with(|| a.key.cmp(&b.key)))
        .ok_or_else(ApiError::not_found)?;
    send(&store, req, &logo, PUBLIC_CACHE).await
}

async fn upload(req: &mut Request, store: &impl ObjectStore) -> Result<Response, ApiError> {
    let form = read_upload(req, MAX_DOC_BYTES).await?;
    let kind = parse_kind(form.text("kind")?.as_deref(), &[FileKind::Logo, FileKind::Doc])?;
    let file = form.file(kind.max_bytes()).await?;
    let file_type = check_upload_or_reject(kind, &file.bytes, file.name.as_deref())?;

    let id = crypto::new_uuid().map_err(|error| ApiError::internal(error.to_string()))?;
    let key = vendor_object_key(kind, &id, file_type)
        .ok_or_else(|| ApiError::internal(format!("no vendor key for id {id}")))?;
    let mut metadata = HashMap::from([
        ("file_id".to_string(), id.clone()),
        ("kind".to_string(), kind.as_str().to_string()),
        ("checksum".to_string(), checksum_hex(&file.bytes)),
        ("uploaded_by".to_string(), PLATFORM_ADMIN.to_string()),
        ("created_at".to_string(), kasir_durable::now_rfc3339()),
    ]);
    if let Some(name) = file.name.as_deref().and_then(clean_file_name) {
        metadata.insert("original_name".to_string(), name);
    }
    store.put(&key, file.bytes, file_type.content_type(), metadata).await?;

    // The newest logo is the one served; older ones are removed so the prefix stays small.
    if kind == FileKind::Logo {
        for old in store.list(LOGO_PREFIX).await? {
            if old.key != key {
                store.delete(&old.key).await?;
            }
        }
    }

    let stored = store
        .head(&key)
        .await?
        .ok_or_else(|| ApiError::internal(format!("{key} is missing right after its upload")))?;
    let body = vendor_json(&stored).ok_or_else(|| ApiError::internal(format!("{key} has no id")))?;
    http::json(201, &body)
}

/// Finds a vendor file by id in either folder.
async fn find(store: &impl ObjectStore, id: &str) -> Result<ObjectInfo, ApiError> {
    for kind in [FileKind::Logo, FileKind::Doc] {
        let prefix = format!("{VENDOR_PREFIX}{}/{id}.", kind.folder());
        if let Some(object) = store.list(&prefix).await?.into_iter().next() {
            return Ok(object);
        }
    }
    Err(ApiError::not_found())
}

/// Returns the id of a vendor object: its key's file name without the extension.
fn id_of(key: &str) -> Option<&str> {
    let file_name = key.rsplit('/').next()?;
    file_name.split('.').next()
}

fn file_type_of(object: &ObjectInfo) -> Option<FileType> {
    object.content_type.as_deref().and_then(FileType::from_content_type)
}

fn vendor_json(object: &ObjectInfo) -> Option<Value> {
    let id = id_of(&object.key)?;
    let kind = if object.key.starts_with(LOGO_PREFIX) {
        "logo"
    } else {
        "doc"
    };
    let url = if kind == "logo" {
        "/v1/vendor/logo".to_string()
    } else {
        format!("/v1/admin/vendor/files/{id}")
    };
    let created_at = object
        .metadata
        .get("created_at")
        .cloned()
        .unwrap_or_else(|| kasir_core::validate::format_rfc3339_millis(object.uploaded_ms as i64));
    Some(json!({
        "id": id,
        "kind": kind,
        "content_type": object.content_type,
        "size": object.size,
        "checksum": object.metadata.get("checksum"),
        "name": object.metadata.get("original_name"),
        "uploaded_by": object.metadata.get("uploaded_by"),
        "created_at": created_at,
        "url": url,
    }))
}

async fn send(
    store: &impl ObjectStore,
    req: &Request,
    object: &ObjectInfo,
    cache_control: &'static str,
) -> Result<Response, ApiError> {
    let id = id_of(&object.key).unwrap_or_default();
    let content_type = object.content_type.as_deref().unwrap_or("application/octet-stream");
    let disposition = match file_type_of(object) {
        Some(file_type) => content_disposition(file_type, object.metadata.get("original_name").map(String::as_str), id),
        None => "attachment".to_string(),
    };
    // Objects stored by this API carry their SHA-256. Any other object gets a tag of its key
    // and size.
    let etag = match object.metadata.get("checksum") {
        Some(checksum) => entity_tag(checksum),
        None => entity_tag(&checksum_hex(format!("{}:{}", object.key, object.size).as_bytes())),
    };
    let download = Download {
        key: &object.key,
        content_type,
        size: object.size,
        etag: &etag,
        cache_control,
        content_disposition: disposition,
    };
    serve::send(store, req, download).await
}
