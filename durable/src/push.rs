//! Sync push inside the hub: mutations applied in order, each committed with its recorded
//! result so a retried push returns exactly what the first one did.

use kasir_core::entity::{catalog_spec, validate_fields, EntitySpec, Mode, UnknownFields};
use kasir_core::error::{ApiError, Detail, ErrorCode, Lang};
use kasir_core::money::TaxSettings;
use kasir_core::permissions::{allows, Permission};
use kasir_core::validate::parse_uuid;
use serde_json::{json, Map, Value};
use worker::D1PreparedStatement;

use crate::catalog::{check_references, check_unique, delete, load, write_statement};
use crate::db;
use crate::protocol::Actor;
use crate::sale::insert_sale;
use crate::{internal, now_millis, now_rfc3339, Writer};

/// The parts of one mutation the hub reads.
struct Mutation<'a> {
    id: String,
    entity: &'a str,
    op: &'a str,
    record_id: String,
    fields: Option<Vec<String>>,
    data: Map<String, Value>,
    sync_source: String,
}

/// Applies a push and returns `{results, version}`.
///
/// # Errors
/// Only a D1 failure fails the whole push; mutations committed before it keep their
/// recorded results, so the client's retry gets them from the record.
pub(crate) async fn apply_push(
    writer: &mut Writer<'_>,
    actor: &Actor,
    tax: &TaxSettings,
    device_id: &str,
    mutations: Vec<Value>,
) -> Result<Value, ApiError> {
    let started = now_millis();
    let mut results = Vec::with_capacity(mutations.len());
    let mut counts: Map<String, Value> = ["applied", "merged", "duplicate", "conflict", "rejected"]
        .iter()
        .map(|status| (status.to_string(), json!(0)))
        .collect();

    for (index, raw) in mutations.iter().enumerate() {
        let result = match parse_mutation(raw) {
            Err(detail) => {
                let mutation_id = raw.get("id").cloned().unwrap_or(Value::Null);
                rejected(
                    mutation_id,
                    &ApiError::validation(vec![prefixed(detail, index)]),
                )
            }
            Ok(mutation) => match stored_result(writer, device_id, &mutation.id).await? {
                Some(result) => result,
                None => apply_one(writer, actor, tax, device_id, &mutation).await?,
            },
        };
        if let Some(status) = result.get("status").and_then(Value::as_str) {
            if let Some(count) = counts.get_mut(status) {
                *count = json!(count.as_i64().unwrap_or(0) + 1);
            }
        }
        results.push(result);
    }

    let version = writer.current_version().await?;
    let log = db::statement(
        &writer.db,
        "INSERT INTO sync_log (tenant_id, id, device_id, user_id, at, counts, duration_ms) VALUES (?, lower(hex(randomblob(16))), ?, ?, ?, ?, ?)",
        &[
            db::text(&writer.tenant_id),
            db::text(device_id),
            db::text(&actor.user_id),
            db::text(now_rfc3339()),
            db::text(Value::Object(counts).to_string()),
            db::int(now_millis() - started),
        ],
    )
    .map_err(internal)?;
    db::batch(&writer.db, vec![log]).await.map_err(internal)?;

    Ok(json!({ "results": results, "version": version }))
}

fn prefixed(mut detail: Detail, index: usize) -> Detail {
    detail.field = format!("mutations[{index}].{}", detail.field);
    detail
}

fn parse_mutation(raw: &Value) -> Result<Mutation<'_>, Detail> {
    let object = raw
        .as_object()
        .ok_or_else(|| Detail::new("", "invalid_type"))?;
    let uuid_of = |key: &str| -> Result<String, Detail> {
        let text = object
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| Detail::new(key, "required"))?;
        parse_uuid(text).ok_or_else(|| Detail::new(key, "invalid_format"))
    };
    let id = uuid_of("id")?;
    let record_id = uuid_of("record_id")?;
    let entity = object
        .get("entity")
        .and_then(Value::as_str)
        .ok_or_else(|| Detail::new("entity", "required"))?;
    let op = object
        .get("op")
        .and_then(Value::as_str)
        .filter(|op| *op == "upsert" || *op == "delete")
        .ok_or_else(|| Detail::new("op", "invalid_format"))?;
    let data = match object.get("data") {
        Some(Value::Object(data)) => data.clone(),
        None | Some(Value::Null) if op == "delete" => Map::new(),
        _ => return Err(Detail::new("data", "invalid_type")),
    };
    let fields = match object.get("fields") {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => Some(
            list.iter()
                .map(|field| field.as_str().map(str::to_string))
                .collect::<Option<Vec<String>>>()
                .ok_or_else(|| Detail::new("fields", "invalid_type"))?,
        ),
        Some(_) => return Err(Detail::new("fields", "invalid_type")),
    };
    let sync_source = match object.get("sync_source") {
        None | Some(Value::Null) => "mobile".to_string(),
        Some(Value::String(source)) if source == "mobile" || source == "web" => source.clone(),
        Some(_) => return Err(Detail::new("sync_source", "invalid_format")),
    };
    Ok(Mutation {
        id,
        entity,
        op,
        record_id,
        fields,
        data,
        sync_source,
    })
}

async fn stored_result(
    writer: &Writer<'_>,
    device_id: &str,
    mutation_id: &str,
) -> Result<Option<Value>, ApiError> {
    let row = db::first(
        &writer.db,
        "SELECT result FROM sync_mutations WHERE tenant_id = ? AND device_id = ? AND mutation_id = ?",
        &[db::text(&writer.tenant_id), db::text(device_id), db::text(mutation_id)],
    )
    .await
    .map_err(internal)?;
    Ok(row
        .and_then(|row| db::get_str(&row, "result").map(str::to_string))
        .and_then(|text| serde_json::from_str(&text).ok()))
}

fn record_statement(
    writer: &Writer<'_>,
    device_id: &str,
    mutation_id: &str,
    result: &Value,
) -> Result<D1PreparedStatement, ApiError> {
    db::statement(
        &writer.db,
        "INSERT OR IGNORE INTO sync_mutations (tenant_id, device_id, mutation_id, result, applied_at) VALUES (?, ?, ?, ?, ?)",
        &[
            db::text(&writer.tenant_id),
            db::text(device_id),
            db::text(mutation_id),
            db::text(result.to_string()),
            db::text(now_rfc3339()),
        ],
    )
    .map_err(internal)
}

fn rejected(mutation_id: Value, error: &ApiError) -> Value {
    let envelope = error.envelope(Lang::En, "");
    let mut error_object = envelope["error"].clone();
    if let Some(object) = error_object.as_object_mut() {
        object.remove("request_id");
    }
    json!({ "mutation_id": mutation_id, "status": "rejected", "error": error_object })
}

fn outcome(mutation_id: &str, status: &str, version: i64, ignored: &[String]) -> Value {
    let mut result = json!({ "mutation_id": mutation_id, "status": status, "version": version });
    if !ignored.is_empty() {
        result["ignored_fields"] = json!(ignored);
    }
    result
}

/// Applies one mutation, committing its result with it; a permanent rejection is recorded
/// on its own so it never blocks the mutations after it.
async fn apply_one(
    writer: &mut Writer<'_>,
    actor: &Actor,
    tax: &TaxSettings,
    device_id: &str,
    mutation: &Mutation<'_>,
) -> Result<Value, ApiError> {
    let applied = match mutation.entity {
        "transactions" => apply_sale(writer, actor, tax, device_id, mutation).await,
        entity => match catalog_spec(entity) {
            Some(spec) => apply_catalog(writer, actor, spec, device_id, mutation).await,
            None => Err(ApiError::invalid("entity", "unknown_entity")),
        },
    };
    match applied {
        Ok(result) => Ok(result),
        Err(error) if error.code == ErrorCode::Internal => Err(error),
        Err(error) => {
            let result = rejected(json!(mutation.id), &error);
            let statement = record_statement(writer, device_id, &mutation.id, &result)?;
            db::batch(&writer.db, vec![statement])
                .await
                .map_err(internal)?;
            Ok(result)
        }
    }
}

async fn apply_sale(
    writer: &mut Writer<'_>,
    actor: &Actor,
    tax: &TaxSettings,
    device_id: &str,
    mutation: &Mutation<'_>,
) -> Result<Value, ApiError> {
    if !allows(actor.role, Permission::CreateSales) {
        return Err(ApiError::forbidden());
    }
    if mutation.op == "delete" {
        return Err(ApiError::invalid("op", "insert_only"));
    }
    let mut body = mutation.data.clone();
    match body.get("id").and_then(Value::as_str).map(parse_uuid) {
        None => {
            body.insert("id".to_string(), json!(mutation.record_id));
        }
        Some(Some(id)) if id == mutation.record_id => {}
        Some(_) => return Err(ApiError::invalid("data.id", "invalid_format")),
    }
    let body = Value::Object(body);

    // The result is recorded in the sale's own batch, so it must be known before the insert:
    // an insert always gets the next version.
    let next_version = writer.current_version().await? + 1;
    let provisional = outcome(&mutation.id, "applied", next_version, &[]);
    let record = record_statement(writer, device_id, &mutation.id, &provisional)?;
    let recorded = insert_sale(
        writer,
        actor,
        tax,
        &body,
        UnknownFields::Ignore,
        &mutation.sync_source,
        vec![record],
    )
    .await?;

    if recorded.saved.created {
        return Ok(outcome(
            &mutation.id,
            "applied",
            recorded.version,
            &recorded.ignored,
        ));
    }
    // A replay of a stored sale: nothing was written, so record the duplicate now.
    let result = outcome(
        &mutation.id,
        "duplicate",
        recorded.version,
        &recorded.ignored,
    );
    let statement = record_statement(writer, device_id, &mutation.id, &result)?;
    db::batch(&writer.db, vec![statement])
        .await
        .map_err(internal)?;
    Ok(result)
}

fn catalog_permission(spec: &EntitySpec, creating: bool) -> Permission {
    match spec.name {
        "outlets" => Permission::ManageOutlets,
        "customers" if creating => Permission::CreateCustomers,
        "customers" => Permission::WriteCustomers,
        _ => Permission::WriteCatalog,
    }
}

async fn apply_catalog(
    writer: &mut Writer<'_>,
    actor: &Actor,
    spec: &'static EntitySpec,
    device_id: &str,
    mutation: &Mutation<'_>,
) -> Result<Value, ApiError> {
    let existing = load(writer, spec.name, &mutation.record_id).await?;
    let deleted = existing
        .as_ref()
        .is_some_and(|row| !row.get("deleted_at").is_none_or(Value::is_null));
    let stored_version = existing
        .as_ref()
        .and_then(|row| db::get_i64(row, "version"))
        .unwrap_or(0);
    if !allows(actor.role, catalog_permission(spec, existing.is_none())) {
        return Err(ApiError::forbidden());
    }

    if mutation.op == "delete" {
        if existing.is_none() {
            return Err(ApiError::not_found());
        }
        if deleted {
            let result = outcome(&mutation.id, "applied", stored_version, &[]);
            let statement = record_statement(writer, device_id, &mutation.id, &result)?;
            db::batch(&writer.db, vec![statement])
                .await
                .map_err(internal)?;
            return Ok(result);
        }
        let next_version = writer.current_version().await? + 1;
        let result = outcome(&mutation.id, "applied", next_version, &[]);
        let record = record_statement(writer, device_id, &mutation.id, &result)?;
        delete(
            writer,
            spec.name,
            &mutation.record_id,
            &mutation.sync_source,
            Some(record),
        )
        .await?;
        return Ok(result);
    }

    // A deleted record stays deleted: an edit made before the delete reached the device
    // does not bring it back.
    if deleted {
        let result = outcome(&mutation.id, "merged", stored_version, &[]);
        let statement = record_statement(writer, device_id, &mutation.id, &result)?;
        db::batch(&writer.db, vec![statement])
            .await
            .map_err(internal)?;
        return Ok(result);
    }

    let mut data = mutation.data.clone();
    if existing.is_some() {
        if let Some(fields) = &mutation.fields {
            data.retain(|key, _| fields.contains(key));
        }
    }
    let mode = if existing.is_some() {
        Mode::Update
    } else {
        Mode::Create
    };
    let validated =
        validate_fields(spec, &data, mode, UnknownFields::Ignore).map_err(ApiError::validation)?;
    // `id` travels as `record_id`; it is not an ignored column.
    let ignored: Vec<String> = validated
        .ignored
        .into_iter()
        .filter(|field| field != "id")
        .collect();

    check_references(writer, spec, &validated.values).await?;
    check_unique(writer, spec, &mutation.record_id, &validated.values).await?;
    let version = writer.current_version().await? + 1;
    let result = outcome(&mutation.id, "applied", version, &ignored);
    let statements = vec![
        write_statement(
            writer,
            spec,
            &mutation.record_id,
            &validated.values,
            existing.is_some(),
            version,
            &mutation.sync_source,
        )?,
        record_statement(writer, device_id, &mutation.id, &result)?,
    ];
    writer.commit(statements, version).await?;
    Ok(result)
}
