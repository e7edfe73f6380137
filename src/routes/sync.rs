//! Native sync: push hands mutations to the tenant's hub; pull reads changes after a cursor
//! straight from D1. Only the hub writes, one batch at a time, so no change can commit
//! behind a cursor a pull has handed out.

use kasir_core::cursor::{decode_cursor, encode_cursor};
use kasir_core::entity::{catalog_spec, row_to_record, SYNCED_ENTITIES};
use kasir_core::error::{ApiError, Detail, ErrorCode, Lang};
use kasir_core::sale::sale_record;
use kasir_core::stock::movement_record;
use kasir_core::validate::{format_rfc3339_millis, parse_uuid};
use kasir_durable::db;
use kasir_durable::protocol::Command;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use worker::{D1Database, Env, Request, Response};

use crate::auth::Principal;
use crate::http::{self, Query, MAX_PUSH_BYTES};
use crate::hub;

/// Most mutations one push may carry.
const MAX_MUTATIONS: usize = 500;
const SCHEMA_VERSION: i64 = 1;

/// A pull position: every change with a version at or below `v` has been handed out.
#[derive(Serialize, Deserialize)]
struct SyncCursor {
    v: i64,
    /// The newest purged version when the client's sync began or last caught up: a purge
    /// after that removed tombstones the client has not seen unless `v` is past them.
    #[serde(default)]
    p: i64,
}

fn internal(error: worker::Error) -> ApiError {
    ApiError::internal(error.to_string())
}

/// `POST /v1/sync/push`.
pub async fn push(req: &mut Request, env: &Env, principal: &Principal, lang: Lang) -> Result<Response, ApiError> {
    let body = http::read_json(req, MAX_PUSH_BYTES).await?;
    let Some(body) = body.as_object() else {
        return Err(ApiError::invalid("body", "invalid_type"));
    };
    let mut details = Vec::new();
    http::reject_unknown(body, &["device_id", "schema_version", "mutations"], &mut details);
    let device_id = match body.get("device_id").and_then(Value::as_str).map(parse_uuid) {
        Some(Some(id)) => Some(id),
        Some(None) => {
            details.push(Detail::new("device_id", "invalid_format"));
            None
        }
        None => {
            details.push(Detail::new("device_id", "required"));
            None
        }
    };
    match body.get("schema_version").and_then(Value::as_i64) {
        Some(SCHEMA_VERSION) => {}
        Some(_) => return Err(ApiError::new(ErrorCode::UnsupportedSchemaVersion)),
        None => details.push(Detail::new("schema_version", "required")),
    }
    let mutations = match body.get("mutations") {
        Some(Value::Array(list)) => list.clone(),
        Some(_) => {
            details.push(Detail::new("mutations", "invalid_type"));
            Vec::new()
        }
        None => {
            details.push(Detail::new("mutations", "required"));
            Vec::new()
        }
    };
    if !details.is_empty() {
        return Err(ApiError::validation(details));
    }
    if mutations.len() > MAX_MUTATIONS {
        return Err(ApiError::keyed(ErrorCode::PayloadTooLarge, "too_many_mutations"));
    }
    let device_id = device_id.unwrap_or_default();
    match &principal.device_id {
        None => return Err(ApiError::keyed(ErrorCode::Forbidden, "device_required")),
        Some(token_device) if *token_device != device_id => {
            return Err(ApiError::keyed(ErrorCode::Forbidden, "device_mismatch"))
        }
        Some(_) => {}
    }

    // Development only: `x-kasir-fault: d1_batch` makes the hub's batch fail, as a D1 outage
    // in the middle of a merge would.
    let development = env
        .var("ENVIRONMENT")
        .map(|var| var.to_string() == "development")
        .unwrap_or(false);
    let fault = req
        .headers()
        .get("x-kasir-fault")
        .ok()
        .flatten()
        .filter(|_| development);
    let answer = hub::push(
        env,
        &principal.tenant,
        principal.actor(),
        lang,
        &device_id,
        mutations,
        false,
        fault,
    )
    .await?;
    http::json(200, &answer)
}

/// `GET /v1/sync/pull`.
pub async fn pull(req: &Request, env: &Env, principal: &Principal) -> Result<Response, ApiError> {
    let query = Query::of(req);
    let limit = query.limit(500, 2000)?;
    // A client names the schema it reads; one the server does not know gets a clear error
    // instead of records with columns it would drop.
    if let Some(version) = query.get("schema_version") {
        if version.parse::<i64>().ok() != Some(SCHEMA_VERSION) {
            return Err(ApiError::new(ErrorCode::UnsupportedSchemaVersion));
        }
    }
    let given: Option<SyncCursor> = match query.get("cursor") {
        Some(text) => {
            let cursor: SyncCursor = decode_cursor(text).map_err(|_| ApiError::invalid("cursor", "invalid_cursor"))?;
            if cursor.v < 0 || cursor.p < 0 {
                return Err(ApiError::invalid("cursor", "invalid_cursor"));
            }
            Some(cursor)
        }
        None => None,
    };
    let after = given.as_ref().map(|cursor| cursor.v).unwrap_or(0);
    let entities: Vec<&'static str> = match query.get("entities") {
        None => SYNCED_ENTITIES.to_vec(),
        Some(list) => {
            let mut chosen = Vec::new();
            for name in list.split(',').map(str::trim).filter(|name| !name.is_empty()) {
                let entity = SYNCED_ENTITIES
                    .iter()
                    .find(|entity| **entity == name)
                    .ok_or_else(|| ApiError::invalid("entities", "unknown_entity"))?;
                if !chosen.contains(entity) {
                    chosen.push(*entity);
                }
            }
            chosen
        }
    };

    let database = principal.tenant.db(env)?;
    // A cursor has expired when tombstones were purged after its sync began and it has not
    // yet passed them; a resync that began after the purge pages on undisturbed.
    let purged_version = purge_expired(env, principal).await?;
    if given.is_some_and(|cursor| cursor.p < purged_version && cursor.v < purged_version) {
        return Err(ApiError::new(ErrorCode::CursorExpired));
    }
    let (changes, has_more) = read_changes(&database, &principal.tenant.id, after, Some(limit), &entities).await?;
    let cursor = changes.last().map(|change| change.version).unwrap_or(after);

    let mut by_entity: Map<String, Value> = entities
        .iter()
        .map(|entity| (entity.to_string(), json!({ "upserted": [], "deleted": [] })))
        .collect();
    for change in changes {
        let deleted = change.deleted();
        let Change { entity, row, .. } = change;
        let slot = by_entity
            .get_mut(entity)
            .and_then(Value::as_object_mut)
            .ok_or_else(|| ApiError::internal("pull slot missing"))?;
        if deleted {
            if let Some(Value::Array(ids)) = slot.get_mut("deleted") {
                ids.push(row.get("id").cloned().unwrap_or(Value::Null));
            }
        } else if let Some(Value::Array(records)) = slot.get_mut("upserted") {
            records.push(record_of(entity, row));
        }
    }
    http::json(
        200,
        &json!({
            "changes": by_entity,
            "cursor": encode_cursor(&SyncCursor { v: cursor, p: purged_version }),
            "has_more": has_more,
        }),
    )
}

/// One changed row, at its version.
pub struct Change {
    pub version: i64,
    pub entity: &'static str,
    pub row: db::Row,
}

impl Change {
    pub fn deleted(&self) -> bool {
        !self.row.get("deleted_at").is_none_or(Value::is_null)
    }
}

/// Reads the changes after version `after`, oldest first: at most `limit` of them, and
/// whether more follow. One D1 round trip: each entity's next `limit + 1` rows, merged here.
///
/// Each change has its own version, so a page cut at `limit` rows never splits a version and
/// the last row's version is a safe cursor.
pub async fn read_changes(
    database: &D1Database,
    tenant_id: &str,
    after: i64,
    limit: Option<i64>,
    entities: &[&'static str],
) -> Result<(Vec<Change>, bool), ApiError> {
    let mut statements = Vec::new();
    for entity in entities {
        // `entity` is one of the constant synced entity names.
        let mut sql = format!("SELECT * FROM {entity} WHERE tenant_id = ? AND version > ? ORDER BY version");
        let mut args = vec![db::text(tenant_id), db::int(after)];
        if let Some(limit) = limit {
            sql.push_str(" LIMIT ?");
            args.push(db::int(limit + 1));
        }
        statements.push(db::statement(database, &sql, &args).map_err(internal)?);
    }
    let results = db::batch(database, statements).await.map_err(internal)?;
    let mut changes = Vec::new();
    for (entity, result) in entities.iter().zip(results.iter()) {
        for row in db::rows_of(result).map_err(internal)? {
            let version = db::get_i64(&row, "version").unwrap_or(0);
            changes.push(Change { version, entity, row });
        }
    }
    changes.sort_by_key(|change| change.version);
    let has_more = limit.is_some_and(|limit| changes.len() as i64 > limit);
    if let Some(limit) = limit {
        changes.truncate(limit as usize);
    }
    Ok((changes, has_more))
}

/// Has the hub purge tombstones past the tenant's retention when any are waiting, and
/// returns the newest purged version: pull cursors below it have missed a purged delete.
pub async fn purge_expired(env: &Env, principal: &Principal) -> Result<i64, ApiError> {
    let tenant = &principal.tenant;
    let database = tenant.db(env)?;
    let retention = tenant.tombstone_retention_seconds();
    let cutoff = format_rfc3339_millis(worker::Date::now().as_millis() as i64 - retention * 1000);
    let mut sql =
        String::from("SELECT (SELECT purged_version FROM tenant_state WHERE tenant_id = ?1) AS purged_version");
    for entity in ["products", "categories", "customers", "outlets"] {
        sql.push_str(&format!(
            ", (SELECT COUNT(*) FROM (SELECT 1 FROM {entity} WHERE tenant_id = ?1 AND deleted_at IS NOT NULL AND deleted_at < ?2 LIMIT 1)) AS expired_{entity}"
        ));
    }
    let row = db::first(&database, &sql, &[db::text(&tenant.id), db::text(&cutoff)])
        .await
        .map_err(internal)?
        .unwrap_or_default();
    let expired = ["products", "categories", "customers", "outlets"]
        .iter()
        .any(|entity| db::get_i64(&row, &format!("expired_{entity}")).unwrap_or(0) > 0);
    if !expired {
        return Ok(db::get_i64(&row, "purged_version").unwrap_or(0));
    }
    let command = Command::Purge {
        retention_seconds: retention,
    };
    let purged = hub::call(env, tenant, principal.actor(), command).await?;
    Ok(purged["purged_version"].as_i64().unwrap_or(0))
}

pub fn record_of(entity: &str, row: db::Row) -> Value {
    match entity {
        "transactions" => sale_record(row),
        "stock_movements" => movement_record(row),
        _ => match catalog_spec(entity) {
            Some(spec) => row_to_record(spec, row),
            None => Value::Object(row),
        },
    }
}

/// `GET /v1/sync/conflicts?status=`.
pub async fn conflicts(req: &Request, env: &Env, principal: &Principal) -> Result<Response, ApiError> {
    let query = Query::of(req);
    let limit = query.limit(50, 500)?;
    let mut sql = String::from("SELECT * FROM sync_conflicts WHERE tenant_id = ?");
    let mut args = vec![db::text(&principal.tenant.id)];
    if let Some(status) = query.get("status") {
        if status != "open" && status != "resolved" {
            return Err(ApiError::invalid("status", "invalid_format"));
        }
        sql.push_str(" AND status = ?");
        args.push(db::text(status));
    }
    if let Some(text) = query.get("cursor") {
        let cursor: PageCursor = decode_cursor(text).map_err(|_| ApiError::invalid("cursor", "invalid_cursor"))?;
        sql.push_str(" AND (created_at > ? OR (created_at = ? AND id > ?))");
        args.extend([db::text(&cursor.at), db::text(&cursor.at), db::text(&cursor.id)]);
    }
    sql.push_str(" ORDER BY created_at, id LIMIT ?");
    args.push(db::int(limit + 1));
    let rows = db::all(&principal.tenant.db(env)?, &sql, &args)
        .await
        .map_err(internal)?;
    page(rows, limit, "created_at", kasir_durable::conflicts::conflict_json)
}

/// `POST /v1/sync/conflicts/{id}/resolve`.
pub async fn resolve(req: &mut Request, env: &Env, principal: &Principal, id: &str) -> Result<Response, ApiError> {
    let body = http::read_object(req).await?;
    let mut details = Vec::new();
    http::reject_unknown(&body, &["resolution", "data"], &mut details);
    let resolution = http::string_field(&body, "resolution", &mut details).unwrap_or_default();
    let data = match body.get("data") {
        None | Some(Value::Null) => None,
        Some(Value::Object(data)) => Some(data.clone()),
        Some(_) => {
            details.push(Detail::new("data", "invalid_type"));
            None
        }
    };
    if !details.is_empty() {
        return Err(ApiError::validation(details));
    }
    let command = Command::ResolveConflict {
        conflict_id: id.to_string(),
        resolution,
        data,
    };
    let answer = hub::call(env, &principal.tenant, principal.actor(), command).await?;
    http::json(200, &answer)
}

/// `GET /v1/sync/log`: the tenant's pushes, newest first.
pub async fn log(req: &Request, env: &Env, principal: &Principal) -> Result<Response, ApiError> {
    let query = Query::of(req);
    let limit = query.limit(50, 500)?;
    let mut sql = String::from("SELECT * FROM sync_log WHERE tenant_id = ?");
    let mut args = vec![db::text(&principal.tenant.id)];
    if let Some(text) = query.get("cursor") {
        let cursor: PageCursor = decode_cursor(text).map_err(|_| ApiError::invalid("cursor", "invalid_cursor"))?;
        sql.push_str(" AND (at < ? OR (at = ? AND id < ?))");
        args.extend([db::text(&cursor.at), db::text(&cursor.at), db::text(&cursor.id)]);
    }
    sql.push_str(" ORDER BY at DESC, id DESC LIMIT ?");
    args.push(db::int(limit + 1));
    let rows = db::all(&principal.tenant.db(env)?, &sql, &args)
        .await
        .map_err(internal)?;
    page(rows, limit, "at", |row| {
        json!({
            "id": row.get("id"),
            "device_id": row.get("device_id"),
            "user_id": row.get("user_id"),
            "at": row.get("at"),
            "counts": db::get_str(row, "counts").and_then(|text| serde_json::from_str::<Value>(text).ok()),
            "duration_ms": row.get("duration_ms"),
        })
    })
}

/// Position after the last item of a page ordered by a time column and id.
#[derive(Serialize, Deserialize)]
struct PageCursor {
    at: String,
    id: String,
}

fn page(
    mut rows: Vec<db::Row>,
    limit: i64,
    time_column: &str,
    render: impl Fn(&db::Row) -> Value,
) -> Result<Response, ApiError> {
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = match (has_more, rows.last()) {
        (true, Some(last)) => Some(encode_cursor(&PageCursor {
            at: db::get_str(last, time_column).unwrap_or_default().to_string(),
            id: db::get_str(last, "id").unwrap_or_default().to_string(),
        })),
        _ => None,
    };
    let items: Vec<Value> = rows.iter().map(render).collect();
    http::json(200, &json!({ "items": items, "next_cursor": next_cursor }))
}
