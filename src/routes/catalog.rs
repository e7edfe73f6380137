//! Catalog CRUD over REST for products, categories, customers and outlets. Reads go straight
//! to D1; writes go through the tenant's hub, which assigns versions.

use kasir_core::cursor::{decode_cursor, encode_cursor};
use kasir_core::entity::{row_to_record, validate_fields, EntitySpec, Mode, SqlValue, UnknownFields};
use kasir_core::error::{ApiError, Detail};
use kasir_core::validate::parse_uuid;
use kasir_durable::db;
use kasir_durable::protocol::{Command, SaveMode, Saved};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{Env, Method, Request, Response};

use crate::auth::Principal;
use crate::context::RequestContext;
use crate::http::{self, Query};
use crate::hub;
use crate::router::path_id;

/// Position after the last record of a page, in (name, id) order.
#[derive(Serialize, Deserialize)]
struct ListCursor {
    name: String,
    id: String,
}

fn internal(error: worker::Error) -> ApiError {
    ApiError::internal(error.to_string())
}

pub async fn dispatch(
    req: &mut Request,
    env: &Env,
    _ctx: &mut RequestContext,
    principal: &Principal,
    spec: &'static EntitySpec,
    method: &Method,
    segments: &[&str],
) -> Result<Response, ApiError> {
    match (method, segments) {
        (Method::Get, []) => list(req, env, principal, spec).await,
        (Method::Post, []) => create(req, env, principal, spec).await,
        (Method::Get, [id]) => http::json(200, &find(env, principal, spec, &path_id(id)?).await?),
        (Method::Patch, [id]) => update(req, env, principal, spec, &path_id(id)?).await,
        (Method::Delete, [id]) => {
            let id = path_id(id)?;
            // Devices and new terminals fall back to the default outlet, so it stays.
            if spec.name == "outlets" && principal.tenant.default_outlet_id.as_deref() == Some(id.as_str()) {
                find(env, principal, spec, &id).await?;
                return Err(ApiError::conflict("default_outlet"));
            }
            let command = Command::Delete {
                entity: spec.name.to_string(),
                id,
                sync_source: "web".to_string(),
            };
            hub::call(env, &principal.tenant, principal.actor(), command).await?;
            http::no_content()
        }
        _ => Err(ApiError::not_found()),
    }
}

/// Reads one live record.
pub async fn find(env: &Env, principal: &Principal, spec: &EntitySpec, id: &str) -> Result<Value, ApiError> {
    // `spec.name` is a constant table name.
    let sql = format!(
        "SELECT * FROM {} WHERE tenant_id = ? AND id = ? AND deleted_at IS NULL",
        spec.name
    );
    let row = db::first(
        &principal.tenant.db(env)?,
        &sql,
        &[db::text(&principal.tenant.id), db::text(id)],
    )
    .await
    .map_err(internal)?
    .ok_or_else(ApiError::not_found)?;
    Ok(row_to_record(spec, row))
}

/// Builds the search condition of `?q=` per entity, with its arguments.
fn search(spec: &EntitySpec, q: &str) -> (String, Vec<SqlValue>) {
    let escaped: String = q
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            _ => vec![c],
        })
        .collect();
    let substring = SqlValue::Text(q.to_lowercase());
    let prefix = SqlValue::Text(format!("{escaped}%"));
    match spec.name {
        "products" => (
            " AND (instr(lower(name), ?) > 0 OR sku LIKE ? ESCAPE '\\' OR barcode = ?)".to_string(),
            vec![substring, prefix, SqlValue::Text(q.to_string())],
        ),
        "customers" => (
            " AND (instr(lower(name), ?) > 0 OR phone LIKE ? ESCAPE '\\' OR lower(email) = ?)".to_string(),
            vec![substring.clone(), prefix, substring],
        ),
        "outlets" => (
            " AND (instr(lower(name), ?) > 0 OR code = ?)".to_string(),
            vec![substring, SqlValue::Text(q.to_uppercase())],
        ),
        _ => (" AND instr(lower(name), ?) > 0".to_string(), vec![substring]),
    }
}

/// Lists live records in (name, id) order, a page at a time.
async fn list(req: &Request, env: &Env, principal: &Principal, spec: &EntitySpec) -> Result<Response, ApiError> {
    let query = Query::of(req);
    let limit = query.limit(50, 500)?;
    let mut sql = format!("SELECT * FROM {} WHERE tenant_id = ? AND deleted_at IS NULL", spec.name);
    let mut args = vec![db::text(&principal.tenant.id)];
    if let Some(q) = query.get("q") {
        if q.chars().count() > 200 {
            return Err(ApiError::invalid("q", "too_long"));
        }
        let (condition, search_args) = search(spec, q);
        sql.push_str(&condition);
        args.extend(search_args);
    }
    if let Some(text) = query.get("cursor") {
        let cursor: ListCursor = decode_cursor(text).map_err(|_| ApiError::invalid("cursor", "invalid_cursor"))?;
        sql.push_str(" AND (name > ? OR (name = ? AND id > ?))");
        args.extend([db::text(&cursor.name), db::text(&cursor.name), db::text(&cursor.id)]);
    }
    sql.push_str(" ORDER BY name, id LIMIT ?");
    args.push(db::int(limit + 1));

    let mut rows = db::all(&principal.tenant.db(env)?, &sql, &args)
        .await
        .map_err(internal)?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = match (has_more, rows.last()) {
        (true, Some(last)) => Some(encode_cursor(&ListCursor {
            name: db::get_str(last, "name").unwrap_or_default().to_string(),
            id: db::get_str(last, "id").unwrap_or_default().to_string(),
        })),
        _ => None,
    };
    let items: Vec<Value> = rows.into_iter().map(|row| row_to_record(spec, row)).collect();
    http::json(200, &json!({ "items": items, "next_cursor": next_cursor }))
}

fn saved_response(saved: Value) -> Result<Response, ApiError> {
    let saved: Saved = serde_json::from_value(saved).map_err(|error| ApiError::internal(error.to_string()))?;
    http::json(if saved.created { 201 } else { 200 }, &saved.record)
}

async fn create(req: &mut Request, env: &Env, principal: &Principal, spec: &EntitySpec) -> Result<Response, ApiError> {
    let body = http::read_object(req).await?;
    let id = match body.get("id") {
        None | Some(Value::Null) => crate::crypto::new_uuid().map_err(internal)?,
        Some(Value::String(text)) => {
            parse_uuid(text).ok_or_else(|| ApiError::validation(vec![Detail::new("id", "invalid_format")]))?
        }
        Some(_) => return Err(ApiError::invalid("id", "invalid_type")),
    };
    let validated = validate_fields(spec, &body, Mode::Create, UnknownFields::Reject).map_err(ApiError::validation)?;
    let fields = validated
        .values
        .iter()
        .map(|(column, value)| (column.to_string(), value.to_json()))
        .collect();
    let command = Command::Save {
        entity: spec.name.to_string(),
        id,
        fields,
        mode: SaveMode::Create,
        sync_source: "web".to_string(),
    };
    saved_response(hub::call(env, &principal.tenant, principal.actor(), command).await?)
}

async fn update(
    req: &mut Request,
    env: &Env,
    principal: &Principal,
    spec: &EntitySpec,
    id: &str,
) -> Result<Response, ApiError> {
    let mut body = http::read_object(req).await?;
    // An `id` equal to the path's is allowed; another is an attempt to move the record.
    match body.remove("id") {
        None => {}
        Some(Value::String(text)) if parse_uuid(&text).as_deref() == Some(id) => {}
        Some(_) => return Err(ApiError::invalid("id", "invalid_format")),
    }
    let validated = validate_fields(spec, &body, Mode::Update, UnknownFields::Reject).map_err(ApiError::validation)?;
    let fields = validated
        .values
        .iter()
        .map(|(column, value)| (column.to_string(), value.to_json()))
        .collect();
    let command = Command::Save {
        entity: spec.name.to_string(),
        id: id.to_string(),
        fields,
        mode: SaveMode::Update,
        sync_source: "web".to_string(),
    };
    saved_response(hub::call(env, &principal.tenant, principal.actor(), command).await?)
}
