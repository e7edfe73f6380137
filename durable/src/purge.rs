//! Tombstone purge: deleted catalog records older than the tenant's retention are removed for
//! good, and pull cursors older than the newest purged tombstone expire.

use kasir_core::entity::CATALOG;
use kasir_core::error::ApiError;
use kasir_core::validate::format_rfc3339_millis;
use serde_json::{json, Value};

use crate::db;
use crate::{internal, now_millis, Writer};

/// Purges tombstones deleted more than `retention_seconds` ago and returns
/// `{purged, purged_version}`.
pub(crate) async fn purge_tombstones(writer: &mut Writer<'_>, retention_seconds: i64) -> Result<Value, ApiError> {
    let cutoff = format_rfc3339_millis(now_millis() - retention_seconds.max(1) * 1000);
    let tenant = db::text(&writer.tenant_id);
    let mut newest = 0;
    let mut statements = Vec::new();
    let mut purged = 0;

    for spec in CATALOG {
        // `spec.name` is a constant table name; RFC 3339 UTC times compare as text.
        let sql = format!(
            "SELECT COUNT(*) AS n, MAX(version) AS newest FROM {} WHERE tenant_id = ? AND deleted_at IS NOT NULL AND deleted_at < ?",
            spec.name
        );
        let row = db::first(&writer.db, &sql, &[tenant.clone(), db::text(&cutoff)])
            .await
            .map_err(internal)?;
        let count = row.as_ref().and_then(|row| db::get_i64(row, "n")).unwrap_or(0);
        if count == 0 {
            continue;
        }
        purged += count;
        newest = newest.max(row.as_ref().and_then(|row| db::get_i64(row, "newest")).unwrap_or(0));
        let history = format!(
            "DELETE FROM record_history WHERE tenant_id = ? AND entity = ? AND record_id IN (SELECT id FROM {} WHERE tenant_id = ? AND deleted_at IS NOT NULL AND deleted_at < ?)",
            spec.name
        );
        statements.push(
            db::statement(
                &writer.db,
                &history,
                &[tenant.clone(), db::text(spec.name), tenant.clone(), db::text(&cutoff)],
            )
            .map_err(internal)?,
        );
        let rows = format!(
            "DELETE FROM {} WHERE tenant_id = ? AND deleted_at IS NOT NULL AND deleted_at < ?",
            spec.name
        );
        statements.push(db::statement(&writer.db, &rows, &[tenant.clone(), db::text(&cutoff)]).map_err(internal)?);
    }

    if !statements.is_empty() {
        statements.push(
            db::statement(
                &writer.db,
                "UPDATE tenant_state SET purged_version = MAX(purged_version, ?) WHERE tenant_id = ?",
                &[db::int(newest), tenant.clone()],
            )
            .map_err(internal)?,
        );
        db::batch(&writer.db, statements).await.map_err(internal)?;
    }
    let state = db::first(
        &writer.db,
        "SELECT purged_version FROM tenant_state WHERE tenant_id = ?",
        &[tenant],
    )
    .await
    .map_err(internal)?;
    let purged_version = state.and_then(|row| db::get_i64(&row, "purged_version")).unwrap_or(0);
    Ok(json!({ "purged": purged, "purged_version": purged_version }))
}
