//! Backups and restores of one tenant's data, run inside its hub so no merge lands halfway
//! through. A backup is gzip-compressed NDJSON in R2 (`{"t": table, "r": row}` per line) with a
//! manifest; a restore writes the snapshot back as new versions so every terminal pulls it.

use std::io::{Read, Write};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use kasir_core::error::{ApiError, ErrorCode};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use worker::Bucket;

use crate::db::{self, Row};
use crate::migrate::TENANT_SCHEMA_VERSION;
use crate::{internal, now_rfc3339, Writer};

/// Tables a backup holds, in restore order.
const BACKUP_TABLES: [&str; 10] = [
    "outlets",
    "categories",
    "products",
    "customers",
    "transactions",
    "stock_movements",
    "shifts",
    "sale_returns",
    "users",
    "devices",
];
/// Synced tables a restore writes back as new versions.
const SYNCED: [&str; 6] = [
    "outlets",
    "categories",
    "products",
    "customers",
    "transactions",
    "stock_movements",
];
/// Tables a restore replaces whole; users, devices and sessions are kept as they are, so a
/// restore never locks anyone out.
const REPLACED: [&str; 2] = ["shifts", "sale_returns"];
/// Insert-only tables: a restore keeps their rows recorded after the backup, so no sale is lost.
const INSERT_ONLY: [&str; 2] = ["transactions", "stock_movements"];
/// Rows read per query while paging through a table.
const PAGE_ROWS: i64 = 1000;
/// R2 multipart parts must be at least 5 MiB, except the last.
const PART_BYTES: usize = 5 * 1024 * 1024;
/// Statements per D1 batch while restoring.
const RESTORE_BATCH: usize = 500;

fn storage_error(error: worker::Error) -> ApiError {
    ApiError::internal(format!("backup storage: {error}"))
}

fn bucket(writer: &Writer<'_>) -> Result<Bucket, ApiError> {
    writer.env.bucket("FILES").map_err(storage_error)
}

/// Writes compressed bytes to R2, as one object or in multipart parts once it outgrows one.
struct Upload {
    bucket: Bucket,
    key: String,
    multipart: Option<worker::MultipartUpload>,
    parts: Vec<worker::UploadedPart>,
    pending: Vec<u8>,
    size: u64,
    digest: Sha256,
}

impl Upload {
    async fn push(&mut self, bytes: Vec<u8>) -> Result<(), ApiError> {
        self.digest.update(&bytes);
        self.size += bytes.len() as u64;
        self.pending.extend(bytes);
        while self.pending.len() >= PART_BYTES {
            let part: Vec<u8> = self.pending.drain(..PART_BYTES).collect();
            self.upload_part(part).await?;
        }
        Ok(())
    }

    async fn upload_part(&mut self, part: Vec<u8>) -> Result<(), ApiError> {
        if self.multipart.is_none() {
            let upload = self
                .bucket
                .create_multipart_upload(self.key.clone())
                .execute()
                .await
                .map_err(storage_error)?;
            self.multipart = Some(upload);
        }
        let number = self.parts.len() as u16 + 1;
        if let Some(upload) = &self.multipart {
            let uploaded = upload.upload_part(number, part).await.map_err(storage_error)?;
            self.parts.push(uploaded);
        }
        Ok(())
    }

    /// Finishes the object and returns its size and SHA-256 (hex).
    async fn finish(mut self) -> Result<(u64, String), ApiError> {
        let checksum: String = self
            .digest
            .clone()
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let rest = std::mem::take(&mut self.pending);
        match self.multipart.take() {
            None => {
                self.bucket
                    .put(self.key.clone(), rest)
                    .execute()
                    .await
                    .map_err(storage_error)?;
            }
            Some(upload) => {
                if !rest.is_empty() {
                    let number = self.parts.len() as u16 + 1;
                    let uploaded = upload.upload_part(number, rest).await.map_err(storage_error)?;
                    self.parts.push(uploaded);
                }
                upload.complete(self.parts).await.map_err(storage_error)?;
            }
        }
        Ok((self.size, checksum))
    }
}

/// Takes a backup and records it; returns its manifest. Runs inside the hub lock.
pub(crate) async fn take_backup(
    writer: &mut Writer<'_>,
    tenant_code: &str,
    backup_id: &str,
    kind: &str,
) -> Result<Value, ApiError> {
    if let Some(existing) = find(writer, backup_id).await? {
        // A redelivered job finds its backup already written.
        return Ok(manifest_of(&existing));
    }
    let created_at = now_rfc3339();
    let data_key = format!("backups/{tenant_code}/{backup_id}.ndjson.gz");
    let manifest_key = format!("backups/{tenant_code}/{backup_id}.manifest.json");
    let mut upload = Upload {
        bucket: bucket(writer)?,
        key: data_key.clone(),
        multipart: None,
        parts: Vec::new(),
        pending: Vec::new(),
        size: 0,
        digest: Sha256::new(),
    };
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    let mut row_counts = Map::new();
    let version = writer.current_version().await?;

    for table in BACKUP_TABLES {
        let mut count = 0;
        let mut after_rowid = 0;
        loop {
            // `table` is one of the constants above; paging by rowid reads each row once.
            let sql = format!(
                "SELECT rowid AS _rowid, * FROM {table} WHERE tenant_id = ? AND rowid > ? ORDER BY rowid LIMIT ?"
            );
            let rows = db::all(
                &writer.db,
                &sql,
                &[db::text(&writer.tenant_id), db::int(after_rowid), db::int(PAGE_ROWS)],
            )
            .await
            .map_err(internal)?;
            let fetched = rows.len() as i64;
            for mut row in rows {
                after_rowid = db::get_i64(&row, "_rowid").unwrap_or(after_rowid);
                row.remove("_rowid");
                row.remove("tenant_id");
                let line = json!({ "t": table, "r": row }).to_string();
                encoder
                    .write_all(line.as_bytes())
                    .and_then(|_| encoder.write_all(b"\n"))
                    .map_err(|error| ApiError::internal(format!("compressing backup: {error}")))?;
                count += 1;
            }
            let compressed = std::mem::take(encoder.get_mut());
            upload.push(compressed).await?;
            if fetched < PAGE_ROWS {
                break;
            }
        }
        row_counts.insert(table.to_string(), json!(count));
    }
    let tail = encoder
        .finish()
        .map_err(|error| ApiError::internal(format!("compressing backup: {error}")))?;
    upload.push(tail).await?;
    let (size, checksum) = upload.finish().await?;

    let manifest = json!({
        "id": backup_id,
        "kind": kind,
        "created_at": created_at,
        "schema_version": TENANT_SCHEMA_VERSION,
        "version": version,
        "row_counts": row_counts,
        "size": size,
        "checksum": checksum,
        "format": "ndjson+gzip",
        "data_key": data_key,
    });
    bucket(writer)?
        .put(manifest_key.clone(), manifest.to_string().into_bytes())
        .execute()
        .await
        .map_err(storage_error)?;
    db::run(
        &writer.db,
        "INSERT INTO backups (tenant_id, id, kind, created_at, size, row_counts, schema_version, checksum, data_key, manifest_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            db::text(&writer.tenant_id),
            db::text(backup_id),
            db::text(kind),
            db::text(&created_at),
            db::int(size as i64),
            db::text(Value::Object(row_counts).to_string()),
            db::int(TENANT_SCHEMA_VERSION),
            db::text(&checksum),
            db::text(&data_key),
            db::text(&manifest_key),
        ],
    )
    .await
    .map_err(internal)?;
    Ok(manifest)
}

async fn find(writer: &Writer<'_>, backup_id: &str) -> Result<Option<Row>, ApiError> {
    db::first(
        &writer.db,
        "SELECT * FROM backups WHERE tenant_id = ? AND id = ?",
        &[db::text(&writer.tenant_id), db::text(backup_id)],
    )
    .await
    .map_err(internal)
}

/// Renders a stored backup as the API shows it.
pub fn manifest_of(row: &Row) -> Value {
    json!({
        "id": row.get("id"),
        "kind": row.get("kind"),
        "created_at": row.get("created_at"),
        "size": row.get("size"),
        "row_counts": db::get_str(row, "row_counts").and_then(|text| serde_json::from_str::<Value>(text).ok()),
        "schema_version": row.get("schema_version"),
        "checksum": row.get("checksum"),
    })
}

/// Deletes backups beyond the plan's retention: the newest `keep_daily`, plus the newest of
/// each of the last `keep_weekly` weeks, stay. Returns how many were deleted.
pub(crate) async fn prune(writer: &mut Writer<'_>, keep_daily: usize, keep_weekly: usize) -> Result<usize, ApiError> {
    let rows = db::all(
        &writer.db,
        "SELECT id, created_at, data_key, manifest_key FROM backups WHERE tenant_id = ? ORDER BY created_at DESC",
        &[db::text(&writer.tenant_id)],
    )
    .await
    .map_err(internal)?;
    let mut weeks_kept: Vec<String> = Vec::new();
    let mut deleted = 0;
    for (index, row) in rows.iter().enumerate() {
        let created_at = db::get_str(row, "created_at").unwrap_or_default();
        let week = kasir_core::validate::parse_rfc3339_millis(created_at)
            .map(|millis| (millis / (7 * 86_400_000)).to_string())
            .unwrap_or_default();
        let daily = index < keep_daily;
        let weekly = !weeks_kept.contains(&week) && weeks_kept.len() < keep_weekly;
        if weekly {
            weeks_kept.push(week);
        }
        if daily || weekly {
            continue;
        }
        let bucket = bucket(writer)?;
        for column in ["data_key", "manifest_key"] {
            if let Some(key) = db::get_str(row, column) {
                bucket.delete(key).await.map_err(storage_error)?;
            }
        }
        db::run(
            &writer.db,
            "DELETE FROM backups WHERE tenant_id = ? AND id = ?",
            &[db::text(&writer.tenant_id), db::opt_text(db::get_str(row, "id"))],
        )
        .await
        .map_err(internal)?;
        deleted += 1;
    }
    Ok(deleted)
}

/// Column names of a table, so a restore writes only real columns.
async fn columns_of(writer: &Writer<'_>, table: &str) -> Result<Vec<String>, ApiError> {
    let rows = db::all(&writer.db, &format!("PRAGMA table_info({table})"), &[])
        .await
        .map_err(internal)?;
    Ok(rows
        .iter()
        .filter_map(|row| db::get_str(row, "name").map(str::to_string))
        .collect())
}

/// Restores a backup. Checks the checksum first; then, per table, writes the snapshot's rows
/// back (synced rows at new versions with `sync_source = 'restore'`), turns synced records
/// made after the backup into tombstones, and keeps sales and stock movements made after it.
///
/// # Errors
/// 404 for an unknown backup; 409 when its checksum does not match or its schema is newer.
// NOTE: the writes go in batches of 500 statements, so a restore that fails halfway leaves a
// mix; the restore job's retry runs it again to the same end state.
pub(crate) async fn restore(writer: &mut Writer<'_>, backup_id: &str) -> Result<Value, ApiError> {
    let backup = find(writer, backup_id).await?.ok_or_else(ApiError::not_found)?;
    if db::get_i64(&backup, "schema_version").unwrap_or(0) > TENANT_SCHEMA_VERSION {
        return Err(ApiError::conflict("backup_schema_newer"));
    }
    let data_key = db::get_str(&backup, "data_key").unwrap_or_default().to_string();
    let object = bucket(writer)?
        .get(data_key)
        .execute()
        .await
        .map_err(storage_error)?
        .ok_or_else(|| ApiError::internal("backup object missing"))?;
    let bytes = object
        .body()
        .ok_or_else(|| ApiError::internal("backup object empty"))?
        .bytes()
        .await
        .map_err(storage_error)?;
    let checksum: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    if Some(checksum.as_str()) != db::get_str(&backup, "checksum") {
        return Err(ApiError::conflict("backup_checksum_mismatch"));
    }
    let mut text = String::new();
    GzDecoder::new(bytes.as_slice())
        .read_to_string(&mut text)
        .map_err(|error| ApiError::internal(format!("decompressing backup: {error}")))?;

    let mut by_table: Map<String, Value> = Map::new();
    for line in text.lines().filter(|line| !line.is_empty()) {
        let entry: Value =
            serde_json::from_str(line).map_err(|error| ApiError::internal(format!("backup line: {error}")))?;
        let (Some(table), Some(row)) = (entry["t"].as_str(), entry.get("r")) else {
            continue;
        };
        if let Value::Array(rows) = by_table.entry(table.to_string()).or_insert_with(|| json!([])) {
            rows.push(row.clone());
        }
    }

    let now = now_rfc3339();
    let mut version = writer.current_version().await?;
    let mut restored = Map::new();
    let mut statements = Vec::new();
    for table in SYNCED.iter().chain(REPLACED.iter()) {
        let columns = columns_of(writer, table).await?;
        let rows: Vec<Value> = by_table
            .get(*table)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let ids: Vec<String> = rows
            .iter()
            .filter_map(|row| row["id"].as_str().map(str::to_string))
            .collect();

        if REPLACED.contains(table) {
            statements.push(
                db::statement(
                    &writer.db,
                    &format!("DELETE FROM {table} WHERE tenant_id = ?"),
                    &[db::text(&writer.tenant_id)],
                )
                .map_err(internal)?,
            );
        } else if !INSERT_ONLY.contains(table) {
            // Records made after the backup become tombstones, so terminals drop them too.
            let live = db::all(
                &writer.db,
                &format!("SELECT id FROM {table} WHERE tenant_id = ? AND deleted_at IS NULL"),
                &[db::text(&writer.tenant_id)],
            )
            .await
            .map_err(internal)?;
            for row in live {
                let Some(id) = db::get_str(&row, "id") else {
                    continue;
                };
                if ids.iter().any(|kept| kept == id) {
                    continue;
                }
                version += 1;
                statements.push(
                    db::statement(
                        &writer.db,
                        &format!("UPDATE {table} SET deleted_at = ?, updated_at = ?, version = ?, sync_source = 'restore' WHERE tenant_id = ? AND id = ?"),
                        &[db::text(&now), db::text(&now), db::int(version), db::text(&writer.tenant_id), db::text(id)],
                    )
                    .map_err(internal)?,
                );
            }
        }

        for row in &rows {
            let Some(object) = row.as_object() else {
                continue;
            };
            let mut names = vec!["tenant_id".to_string()];
            let mut args = vec![db::text(&writer.tenant_id)];
            for (column, value) in object {
                if column == "tenant_id" || !columns.contains(column) {
                    continue;
                }
                let value = match (SYNCED.contains(table), column.as_str()) {
                    (true, "version") => {
                        version += 1;
                        db::int(version)
                    }
                    (true, "sync_source") => db::text("restore"),
                    (true, "updated_at") => db::text(&now),
                    _ => crate::catalog::to_sql(value),
                };
                names.push(column.clone());
                args.push(value);
            }
            let placeholders = vec!["?"; names.len()].join(", ");
            // Column names come from the table's own schema, never from the backup's text.
            let sql = format!(
                "INSERT OR REPLACE INTO {table} ({}) VALUES ({placeholders})",
                names.join(", ")
            );
            statements.push(db::statement(&writer.db, &sql, &args).map_err(internal)?);
            if statements.len() >= RESTORE_BATCH {
                writer.commit(std::mem::take(&mut statements), version).await?;
            }
        }
        restored.insert(table.to_string(), json!(rows.len()));
    }
    writer.commit(statements, version).await?;
    Ok(json!({ "backup_id": backup_id, "restored": restored, "version": version }))
}

/// Every table that contains tenant rows, for offboarding.
const TENANT_TABLES: [&str; 19] = [
    "tenant_state",
    "users",
    "devices",
    "refresh_tokens",
    "outlets",
    "categories",
    "products",
    "customers",
    "transactions",
    "stock_movements",
    "sync_mutations",
    "sync_log",
    "audit_log",
    "record_history",
    "sync_conflicts",
    "sync_rejections",
    "shifts",
    "sale_returns",
    "backups",
];

/// Deletes every row of the tenant from its database in one batch; rows of other tenants
/// sharing the database stay. Returns the rows deleted per table.
pub(crate) async fn erase_tenant(writer: &mut Writer<'_>) -> Result<Value, ApiError> {
    let mut statements = Vec::new();
    for table in TENANT_TABLES {
        // `table` is one of the constants above.
        statements.push(
            db::statement(
                &writer.db,
                &format!("DELETE FROM {table} WHERE tenant_id = ?"),
                &[db::text(&writer.tenant_id)],
            )
            .map_err(internal)?,
        );
    }
    // The files table exists once its migration ran, and it contains tenant rows too.
    statements.push(
        db::statement(
            &writer.db,
            "DELETE FROM files WHERE tenant_id = ?",
            &[db::text(&writer.tenant_id)],
        )
        .map_err(internal)?,
    );
    let results = db::batch(&writer.db, statements).await.map_err(internal)?;
    let mut deleted = Map::new();
    for (table, result) in TENANT_TABLES.iter().chain(["files"].iter()).zip(results.iter()) {
        let changes = result.meta().ok().flatten().and_then(|meta| meta.changes).unwrap_or(0);
        deleted.insert(table.to_string(), json!(changes));
    }
    writer.memory.version = None;
    Ok(json!({ "deleted": deleted }))
}

/// Builds the error pushes get while a restore runs.
pub fn restore_in_progress() -> ApiError {
    let mut error = ApiError::new(ErrorCode::RestoreInProgress);
    error.retry_after = Some(5);
    error
}
