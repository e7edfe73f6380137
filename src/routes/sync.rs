//! Native sync: push hands mutations to the tenant's hub; pull reads changes after a cursor
//! straight from D1. Only the hub writes, one batch at a time, so no change can commit
//! behind a cursor a pull has handed out.

use kasir_core::cursor::{decode_cursor, encode_cursor};
use kasir_core::entity::{catalog_spec, normalize_integers, row_to_record, SYNCED_ENTITIES};
use kasir_core::error::{ApiError, Detail, ErrorCode};
use kasir_core::sale::sale_record;
use kasir_core::validate::parse_uuid;
use kasir_durable::db;
use kasir_durable::protocol::Command;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use worker::{Env, Request, Response};

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
}

fn internal(error: worker::Error) -> ApiError {
    ApiError::internal(error.to_string())
}

/// `POST /v1/sync/push`.
pub async fn push(
    req: &mut Request,
    env: &Env,
    principal: &Principal,
) -> Result<Response, ApiError> {
    let body = http::read_json(req, MAX_PUSH_BYTES).await?;
    let Some(body) = body.as_object() else {
        return Err(ApiError::invalid("body", "invalid_type"));
    };
    let mut details = Vec::new();
    http::reject_unknown(
        body,
        &["device_id", "schema_version", "mutations"],
        &mut details,
    );
    let device_id = match body
        .get("device_id")
        .and_then(Value::as_str)
        .map(parse_uuid)
    {
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
        return Err(ApiError::keyed(
            ErrorCode::PayloadTooLarge,
            "too_many_mutations",
        ));
    }
    let device_id = device_id.unwrap_or_default();
    match &principal.device_id {
        None => return Err(ApiError::keyed(ErrorCode::Forbidden, "device_required")),
        Some(token_device) if *token_device != device_id => {
            return Err(ApiError::keyed(ErrorCode::Forbidden, "device_mismatch"))
        }
        Some(_) => {}
    }

    let command = Command::Push {
        device_id,
        mutations,
    };
    let answer = hub::call(env, &principal.tenant, principal.actor(), command).await?;
    http::json(200, &answer)
}

/// `GET /v1/sync/pull`.
pub async fn pull(req: &Request, env: &Env, principal: &Principal) -> Result<Response, ApiError> {
    let query = Query::of(req);
    let limit = query.limit(500, 2000)?;
    let after = match query.get("cursor") {
        Some(text) => {
            let cursor: SyncCursor =
                decode_cursor(text).map_err(|_| ApiError::invalid("cursor", "invalid_cursor"))?;
            if cursor.v < 0 {
                return Err(ApiError::invalid("cursor", "invalid_cursor"));
            }
            cursor.v
        }
        None => 0,
    };
    let entities: Vec<&str> = match query.get("entities") {
        None => SYNCED_ENTITIES.to_vec(),
        Some(list) => {
            let mut chosen = Vec::new();
            for name in list
                .split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
            {
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

    // One D1 round trip: the next `limit + 1` changes of each entity, merged by version below.
    let database = principal.tenant.db(env)?;
    let mut statements = Vec::new();
    for entity in &entities {
        let sql = format!(
            "SELECT * FROM {entity} WHERE tenant_id = ? AND version > ? ORDER BY version LIMIT ?"
        );
        statements.push(
            db::statement(
                &database,
                &sql,
                &[
                    db::text(&principal.tenant.id),
                    db::int(after),
                    db::int(limit + 1),
                ],
            )
            .map_err(internal)?,
        );
    }
    let results = db::batch(&database, statements).await.map_err(internal)?;
    let mut changes: Vec<(i64, &str, db::Row)> = Vec::new();
    for (entity, result) in entities.iter().zip(results.iter()) {
        for row in db::rows_of(result).map_err(internal)? {
            changes.push((db::get_i64(&row, "version").unwrap_or(0), entity, row));
        }
    }
    changes.sort_by_key(|(version, _, _)| *version);
    let has_more = changes.len() as i64 > limit;
    changes.truncate(limit as usize);
    let cursor = changes
        .last()
        .map(|(version, _, _)| *version)
        .unwrap_or(after);

    let mut by_entity: Map<String, Value> = entities
        .iter()
        .map(|entity| (entity.to_string(), json!({ "upserted": [], "deleted": [] })))
        .collect();
    for (_, entity, row) in changes {
        let deleted = !row.get("deleted_at").is_none_or(Value::is_null);
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
            "cursor": encode_cursor(&SyncCursor { v: cursor }),
            "has_more": has_more,
        }),
    )
}

fn record_of(entity: &str, mut row: db::Row) -> Value {
    match entity {
        "transactions" => sale_record(row),
        _ => match catalog_spec(entity) {
            Some(spec) => row_to_record(spec, row),
            None => {
                row.remove("tenant_id");
                normalize_integers(&mut row);
                Value::Object(row)
            }
        },
    }
}
