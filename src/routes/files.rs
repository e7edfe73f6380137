//! A tenant's files: uploads to the object store with a metadata row in the tenant database,
//! downloads, deletion, product images and the storage quota of the tenant's plan.
//!
//! File rows are not a synced entity, so the Worker writes them directly. A product's
//! `image_file_id` is synced, so it changes only through the tenant's hub.

mod multipart;
mod serve;
pub mod vendor;

use std::collections::HashMap;

use kasir_core::cursor::{decode_cursor, encode_cursor};
use kasir_core::error::{ApiError, Detail, ErrorCode};
use kasir_core::files::{
    check_upload, checksum_hex, clean_file_name, content_disposition, entity_tag, storage_quota_bytes,
    tenant_object_key, FileKind, FileType, UploadError, MAX_DOC_BYTES, MAX_IMAGE_BYTES,
};
use kasir_durable::db::{self, Row};
use kasir_durable::protocol::{Command, SaveMode, Saved};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use worker::{D1Database, Env, Method, Request, Response};

use self::multipart::{file_too_large, read_upload, UploadedFile};
use self::serve::{Download, PRIVATE_CACHE};
use crate::auth::Principal;
use crate::directory::{self, control_db};
use crate::http::{self, Query};
use crate::router::path_id;
use crate::routes::catalog;
use crate::storage::{ObjectStore, R2Store};
use crate::{crypto, hub};

fn internal(error: worker::Error) -> ApiError {
    ApiError::internal(error.to_string())
}

/// Serves `/v1/files...`. The router has already checked the module and the permission.
pub async fn dispatch(
    req: &mut Request,
    env: &Env,
    principal: &Principal,
    method: &Method,
    segments: &[&str],
) -> Result<Response, ApiError> {
    let store = R2Store::from_env(env)?;
    match (method, segments) {
        (Method::Get, []) => list(req, env, principal).await,
        (Method::Post, []) => upload(req, env, &store, principal).await,
        (Method::Get, [id]) => download(req, env, &store, principal, &path_id(id)?).await,
        (Method::Delete, [id]) => delete(env, &store, principal, &path_id(id)?).await,
        _ => Err(ApiError::not_found()),
    }
}

/// Number and total size of a tenant's stored files.
pub struct FileUsage {
    pub files: i64,
    pub bytes: i64,
}

/// Counts a tenant's files and their bytes.
///
/// # Errors
/// 500 when the tenant database fails.
// NOTE: the `files` table comes with tenant migration 0005, which a tenant's hub applies on
// its first command after a deploy; until then every files route of that tenant fails with 500.
pub async fn usage(database: &D1Database, tenant_id: &str) -> Result<FileUsage, ApiError> {
    let row = db::first(
        database,
        "SELECT COUNT(*) AS files, COALESCE(SUM(size), 0) AS bytes FROM files WHERE tenant_id = ?",
        &[db::text(tenant_id)],
    )
    .await
    .map_err(internal)?;
    Ok(FileUsage {
        files: row.as_ref().and_then(|row| db::get_i64(row, "files")).unwrap_or(0),
        bytes: row.as_ref().and_then(|row| db::get_i64(row, "bytes")).unwrap_or(0),
    })
}

/// Parses the `kind` form field against the kinds a route accepts.
fn parse_kind(text: Option<&str>, accepted: &[FileKind]) -> Result<FileKind, ApiError> {
    let text = text.ok_or_else(|| ApiError::invalid("kind", "required"))?;
    FileKind::parse(text)
        .filter(|kind| accepted.contains(kind))
        .ok_or_else(|| ApiError::invalid("kind", "invalid_format"))
}

/// Checks an upload's bytes against its kind and returns their type.
///
/// # Errors
/// 422 `empty_file`, 413 `file_too_large`, or 415 `unsupported_file_type` with the allowed
/// content types and the detected one (`unknown` when unrecognised).
fn check_upload_or_reject(kind: FileKind, bytes: &[u8], file_name: Option<&str>) -> Result<FileType, ApiError> {
    match check_upload(kind, bytes, file_name) {
        Ok(file_type) => Ok(file_type),
        Err(UploadError::Empty) => Err(ApiError::invalid("file", "empty_file")),
        Err(UploadError::TooLarge { max_bytes, size }) => Err(file_too_large(max_bytes, size)),
        Err(UploadError::UnsupportedType { detected }) => {
            let allowed: Vec<&str> = kind.allowed_types().iter().map(|t| t.content_type()).collect();
            let received = detected.map_or("unknown", FileType::content_type);
            let mut error = ApiError::keyed(ErrorCode::UnsupportedMediaType, "unsupported_file_type");
            error
                .details
                .push(Detail::new("file", "unsupported_file_type").with_figures(json!(allowed), json!(received)));
            Err(error)
        }
    }
}

/// Builds the 413 `quota_exceeded` with the plan's quota and the total the upload would reach.
fn quota_exceeded(quota: u64, total: u64) -> ApiError {
    let mut error = ApiError::new(ErrorCode::QuotaExceeded);
    error
        .details
        .push(Detail::new("file", "storage_quota").with_figures(json!(quota), json!(total)));
    error
}

/// Renders a file row as the API shows it.
fn file_json(row: &Row) -> Value {
    let id = db::get_str(row, "id").unwrap_or_default();
    json!({
        "id": id,
        "kind": db::get_str(row, "kind"),
        "content_type": db::get_str(row, "content_type"),
        "size": db::get_i64(row, "size"),
        "checksum": db::get_str(row, "checksum"),
        "name": db::get_str(row, "original_name"),
        "uploaded_by": db::get_str(row, "uploaded_by"),
        "created_at": db::get_str(row, "created_at"),
        "url": format!("/v1/files/{id}"),
    })
}

async fn find_row(database: &D1Database, tenant_id: &str, id: &str) -> Result<Row, ApiError> {
    db::first(
        database,
        "SELECT * FROM files WHERE tenant_id = ? AND id = ?",
        &[db::text(tenant_id), db::text(id)],
    )
    .await
    .map_err(internal)?
    .ok_or_else(ApiError::not_found)
}

/// Position after the last file of a page, in newest-first order.
#[derive(Serialize, Deserialize)]
struct ListCursor {
    created_at: String,
    id: String,
}

/// `GET /v1/files?kind=&limit=&cursor=`: newest first.
async fn list(req: &Request, env: &Env, principal: &Principal) -> Result<Response, ApiError> {
    let query = Query::of(req);
    let limit = query.limit(50, 500)?;
    let mut sql = "SELECT * FROM files WHERE tenant_id = ?".to_string();
    let mut args = vec![db::text(&principal.tenant.id)];
    if let Some(kind) = query.get("kind") {
        let kind = FileKind::parse(kind).ok_or_else(|| ApiError::invalid("kind", "invalid_format"))?;
        sql.push_str(" AND kind = ?");
        args.push(db::text(kind.as_str()));
    }
    if let Some(text) = query.get("cursor") {
        let cursor: ListCursor = decode_cursor(text).map_err(|_| ApiError::invalid("cursor", "invalid_cursor"))?;
        sql.push_str(" AND (created_at < ? OR (created_at = ? AND id < ?))");
        args.extend([
            db::text(&cursor.created_at),
            db::text(&cursor.created_at),
            db::text(&cursor.id),
        ]);
    }
    sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT ?");
    args.push(db::int(limit + 1));

    let mut rows = db::all(&principal.tenant.db(env)?, &sql, &args)
        .await
        .map_err(internal)?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = match (has_more, rows.last()) {
        (true, Some(last)) => Some(encode_cursor(&ListCursor {
            created_at: db::get_str(last, "created_at").unwrap_or_default().to_string(),
            id: db::get_str(last, "id").unwrap_or_default().to_string(),
        })),
        _ => None,
    };
    let items: Vec<Value> = rows.iter().map(file_json).collect();
    http::json(200, &json!({ "items": items, "next_cursor": next_cursor }))
}

/// `POST /v1/files` (multipart `file` and `kind`) → 201 with the stored file.
async fn upload(
    req: &mut Request,
    env: &Env,
    store: &impl ObjectStore,
    principal: &Principal,
) -> Result<Response, ApiError> {
    // The kind is inside the body, so the body is capped at the largest kind's limit.
    let form = read_upload(req, MAX_DOC_BYTES).await?;
    let kind = parse_kind(
        form.text("kind")?.as_deref(),
        &[FileKind::Logo, FileKind::Product, FileKind::Doc],
    )?;
    let file = form.file(kind.max_bytes()).await?;
    let row = store_file(env, store, principal, kind, file).await?;
    http::json(201, &file_json(&row))
}

/// Checks an upload, stores its bytes and records its row, within the plan's quota.
///
/// # Errors
/// The upload's 413, 415 or 422; 413 `quota_exceeded`; 500 when the store or the database
/// fails, in which case no object is left behind.
async fn store_file(
    env: &Env,
    store: &impl ObjectStore,
    principal: &Principal,
    kind: FileKind,
    file: UploadedFile,
) -> Result<Row, ApiError> {
    let tenant = &principal.tenant;
    let file_type = check_upload_or_reject(kind, &file.bytes, file.name.as_deref())?;
    let size = file.bytes.len() as u64;
    let database = tenant.db(env)?;

    // A cheap first check, before the bytes travel to the store.
    let quota = storage_quota_bytes(&tenant.plan);
    let used = usage(&database, &tenant.id).await?.bytes.max(0) as u64;
    if used + size > quota {
        return Err(quota_exceeded(quota, used + size));
    }

    let id = crypto::new_uuid().map_err(internal)?;
    let key = tenant_object_key(&tenant.code, kind, &id, file_type)
        .ok_or_else(|| ApiError::internal(format!("no object key for tenant {} and id {id}", tenant.code)))?;
    let checksum = checksum_hex(&file.bytes);
    let metadata = HashMap::from([
        ("tenant_id".to_string(), tenant.id.clone()),
        ("file_id".to_string(), id.clone()),
        ("checksum".to_string(), checksum.clone()),
    ]);
    store.put(&key, file.bytes, file_type.content_type(), metadata).await?;

    // The quota is checked again in the insert itself, so concurrent uploads cannot pass it
    // together: D1 runs one statement at a time.
    let inserted = db::all(
        &database,
        "INSERT INTO files (tenant_id, id, kind, object_key, content_type, size, checksum, original_name, uploaded_by, created_at) \
         SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? \
         WHERE (SELECT COALESCE(SUM(size), 0) FROM files WHERE tenant_id = ?) + ? <= ? \
         RETURNING *",
        &[
            db::text(&tenant.id),
            db::text(&id),
            db::text(kind.as_str()),
            db::text(&key),
            db::text(file_type.content_type()),
            db::int(size as i64),
            db::text(&checksum),
            db::opt_text(file.name.as_deref().and_then(clean_file_name)),
            db::text(&principal.user_id),
            db::text(kasir_durable::now_rfc3339()),
            db::text(&tenant.id),
            db::int(size as i64),
            db::int(quota as i64),
        ],
    )
    .await;
    match inserted.map(|rows| rows.into_iter().next()) {
        Ok(Some(row)) => Ok(row),
        Ok(None) => {
            discard_object(store, &key).await;
            let used = usage(&database, &tenant.id).await?.bytes.max(0) as u64;
            Err(quota_exceeded(quota, used + size))
        }
        Err(error) => {
            discard_object(store, &key).await;
            Err(internal(error))
        }
    }
}

/// Deletes an object whose row was never written. A failure is logged and leaves an orphan
/// object, which counts against no quota.
async fn discard_object(store: &impl ObjectStore, key: &str) {
    if let Err(error) = store.delete(key).await {
        worker::console_error!(
            "{}",
            json!({ "event": "orphan_object", "key": key, "error": error.to_string() })
        );
    }
}

/// `GET /v1/files/{id}`: the bytes, with `ETag`, caching, `If-None-Match` and `Range`.
async fn download(
    req: &Request,
    env: &Env,
    store: &impl ObjectStore,
    principal: &Principal,
    id: &str,
) -> Result<Response, ApiError> {
    let row = find_row(&principal.tenant.db(env)?, &principal.tenant.id, id).await?;
    let content_type = db::get_str(&row, "content_type").unwrap_or("application/octet-stream");
    let etag = entity_tag(db::get_str(&row, "checksum").unwrap_or_default());
    let disposition = match FileType::from_content_type(content_type) {
        Some(file_type) => content_disposition(file_type, db::get_str(&row, "original_name"), id),
        None => "attachment".to_string(),
    };
    let file = Download {
        key: db::get_str(&row, "object_key").unwrap_or_default(),
        content_type,
        size: db::get_i64(&row, "size").unwrap_or(0).max(0) as u64,
        etag: &etag,
        cache_control: PRIVATE_CACHE,
        content_disposition: disposition,
    };
    serve::send(store, req, file).await
}

/// `DELETE /v1/files/{id}`: clears the references to the file, then deletes its row and its
/// object. Products that show it as their image lose it through the hub, so terminals sync
/// the change. A tenant logo that is this file is cleared too.
async fn delete(env: &Env, store: &impl ObjectStore, principal: &Principal, id: &str) -> Result<Response, ApiError> {
    let tenant = &principal.tenant;
    let database = tenant.db(env)?;
    let row = find_row(&database, &tenant.id, id).await?;

    let products = db::all(
        &database,
        "SELECT id FROM products WHERE tenant_id = ? AND image_file_id = ? AND deleted_at IS NULL",
        &[db::text(&tenant.id), db::text(id)],
    )
    .await
    .map_err(internal)?;
    for product in &products {
        let product_id = db::get_str(product, "id").unwrap_or_default().to_string();
        set_image_file_id(env, principal, &product_id, Value::Null).await?;
    }
    clear_logo(env, principal, id).await?;

    db::run(
        &database,
        "DELETE FROM files WHERE tenant_id = ? AND id = ?",
        &[db::text(&tenant.id), db::text(id)],
    )
    .await
    .map_err(internal)?;
    let key = db::get_str(&row, "object_key").unwrap_or_default();
    store.delete(key).await?;
    http::no_content()
}

/// Clears the tenant's `logo_file_id` when it is `file_id`. The condition sits in the update,
/// so a logo changed meanwhile is kept.
async fn clear_logo(env: &Env, principal: &Principal, file_id: &str) -> Result<(), ApiError> {
    let tenant = &principal.tenant;
    if tenant.settings.get("logo_file_id").and_then(Value::as_str) != Some(file_id) {
        return Ok(());
    }
    let control = control_db(env).await?;
    db::run(
        &control,
        "UPDATE tenants SET settings = json_set(settings, '$.logo_file_id', NULL), updated_at = ? \
         WHERE id = ? AND json_extract(settings, '$.logo_file_id') = ?",
        &[
            db::text(kasir_durable::now_rfc3339()),
            db::text(&tenant.id),
            db::text(file_id),
        ],
    )
    .await
    .map_err(internal)?;
    directory::forget(tenant);
    Ok(())
}

/// Saves a product's `image_file_id` through the hub and returns the saved product.
async fn set_image_file_id(
    env: &Env,
    principal: &Principal,
    product_id: &str,
    image_file_id: Value,
) -> Result<Value, ApiError> {
    let mut fields = Map::new();
    fields.insert("image_file_id".to_string(), image_file_id);
    let command = Command::Save {
        entity: "products".to_string(),
        id: product_id.to_string(),
        fields,
        mode: SaveMode::Update,
        sync_source: "web".to_string(),
    };
    let saved = hub::call(env, &principal.tenant, principal.actor(), command).await?;
    let saved: Saved = serde_json::from_value(saved).map_err(|error| ApiError::internal(error.to_string()))?;
    Ok(saved.record)
}

/// `PUT /v1/products/{id}/image` (multipart `file`) → 200 with the product. The previous
/// image's file is deleted once nothing else uses it.
pub async fn set_product_image(
    req: &mut Request,
    env: &Env,
    principal: &Principal,
    product_id: &str,
) -> Result<Response, ApiError> {
    let spec = kasir_core::entity::catalog_spec("products")
        .ok_or_else(|| ApiError::internal("products have no catalog spec"))?;
    // A missing product returns 404 before the upload is read.
    let product = catalog::find(env, principal, spec, product_id).await?;
    let previous = product.get("image_file_id").and_then(Value::as_str).map(str::to_string);

    let store = R2Store::from_env(env)?;
    let form = read_upload(req, MAX_IMAGE_BYTES).await?;
    let file = form.file(FileKind::Product.max_bytes()).await?;
    let row = store_file(env, &store, principal, FileKind::Product, file).await?;
    let file_id = db::get_str(&row, "id").unwrap_or_default().to_string();

    let saved = match set_image_file_id(env, principal, product_id, json!(file_id)).await {
        Ok(saved) => saved,
        Err(error) => {
            remove_unused_file(env, &store, principal, &file_id).await;
            return Err(error);
        }
    };
    if let Some(previous) = previous.filter(|previous| *previous != file_id) {
        remove_unused_file(env, &store, principal, &previous).await;
    }
    http::json(200, &saved)
}

/// Deletes a product image's row and object unless a live product or the tenant logo still
/// uses it, or it is not a product image. Failures are logged, and the caller's change is kept.
// NOTE: two concurrent image replacements of one product read the same previous image, so
// the image set by the first of them is never deleted and stays as an unused file.
async fn remove_unused_file(env: &Env, store: &impl ObjectStore, principal: &Principal, file_id: &str) {
    let tenant = &principal.tenant;
    let outcome: Result<(), ApiError> = async {
        let database = tenant.db(env)?;
        let Some(row) = db::first(
            &database,
            "SELECT * FROM files WHERE tenant_id = ? AND id = ? AND kind = 'product'",
            &[db::text(&tenant.id), db::text(file_id)],
        )
        .await
        .map_err(internal)?
        else {
            return Ok(());
        };
        let users = db::first(
            &database,
            "SELECT COUNT(*) AS n FROM products WHERE tenant_id = ? AND image_file_id = ? AND deleted_at IS NULL",
            &[db::text(&tenant.id), db::text(file_id)],
        )
        .await
        .map_err(internal)?
        .and_then(|row| db::get_i64(&row, "n"))
        .unwrap_or(0);
        let is_logo = tenant.settings.get("logo_file_id").and_then(Value::as_str) == Some(file_id);
        if users > 0 || is_logo {
            return Ok(());
        }
        db::run(
            &database,
            "DELETE FROM files WHERE tenant_id = ? AND id = ?",
            &[db::text(&tenant.id), db::text(file_id)],
        )
        .await
        .map_err(internal)?;
        store
            .delete(db::get_str(&row, "object_key").unwrap_or_default())
            .await?;
        Ok(())
    }
    .await;
    if let Err(error) = outcome {
        worker::console_error!(
            "{}",
            json!({
                "event": "unused_file_not_removed",
                "tenant": tenant.code,
                "file_id": file_id,
                "error": error.to_string(),
            })
        );
    }
}
