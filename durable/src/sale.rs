//! Recording a sale inside the hub. Sales are insert-only: the same id and body again is a
//! replay that returns the stored sale; the same id with another body is a conflict.

use kasir_core::entity::SqlValue;
use kasir_core::entity::UnknownFields;
use kasir_core::error::{ApiError, ErrorCode};
use kasir_core::money::TaxSettings;
use kasir_core::sale::{
    derived_id, items_json, parse_sale, payments_json, price_sale, sale_hash, sale_record, SaleInput,
};
use serde_json::Value;
use worker::D1PreparedStatement;

use crate::db::{self, Row};
use crate::protocol::{Actor, Saved};
use crate::{internal, now_rfc3339, Writer};

/// The outcome of recording a sale, with the fields a sync push ignored.
pub(crate) struct RecordedSale {
    pub saved: Saved,
    pub version: i64,
    pub ignored: Vec<String>,
}

/// Records a sale from the REST API.
pub(crate) async fn record_sale(
    writer: &mut Writer<'_>,
    actor: &Actor,
    tax: &TaxSettings,
    body: &Value,
    sync_source: &str,
) -> Result<Saved, ApiError> {
    let recorded = insert_sale(writer, actor, tax, body, UnknownFields::Reject, sync_source, Vec::new()).await?;
    Ok(recorded.saved)
}

/// Validates, prices and inserts a sale; `extra` statements commit in the same batch.
///
/// # Errors
/// 422 for invalid bodies, references or figures; 403 when the sale's device is not the
/// token's; 409 for a different body under a stored id or a receipt number already used.
pub(crate) async fn insert_sale(
    writer: &mut Writer<'_>,
    actor: &Actor,
    tax: &TaxSettings,
    body: &Value,
    unknown: UnknownFields,
    sync_source: &str,
    extra: Vec<D1PreparedStatement>,
) -> Result<RecordedSale, ApiError> {
    let sale = parse_sale(body, unknown).map_err(ApiError::validation)?;
    if let Some(device_id) = &actor.device_id {
        if *device_id != sale.device_id {
            return Err(ApiError::keyed(ErrorCode::Forbidden, "device_mismatch"));
        }
    }

    let hash = sale_hash(&sale);
    let lookups = SaleLookups::read(writer, &sale).await?;
    if let Some(stored) = lookups.stored {
        if db::get_str(&stored, "body_hash") != Some(hash.as_str()) {
            return Err(ApiError::conflict("sale_replay_mismatch"));
        }
        let version = db::get_i64(&stored, "version").unwrap_or(0);
        return Ok(RecordedSale {
            saved: Saved {
                record: sale_record(stored),
                created: false,
            },
            version,
            ignored: sale.ignored,
        });
    }

    // Deleted outlets, customers and products still count: a terminal that sold offline
    // before the deletion reached it must not lose the sale.
    if !lookups.outlet_found {
        return Err(ApiError::invalid("outlet_id", "invalid_reference"));
    }
    if !lookups.customer_found {
        return Err(ApiError::invalid("customer_id", "invalid_reference"));
    }
    if !lookups.device_found {
        return Err(ApiError::invalid("device_id", "invalid_reference"));
    }
    let known = lookups.products;
    if let Some(index) = sale
        .items
        .iter()
        .position(|item| !known.iter().any(|(id, _)| *id == item.product_id))
    {
        return Err(ApiError::invalid(
            format!("items[{index}].product_id"),
            "invalid_reference",
        ));
    }
    let totals = price_sale(&sale, tax).map_err(ApiError::validation)?;
    if lookups.receipt_taken {
        return Err(ApiError::new(ErrorCode::DuplicateReceiptNo));
    }

    let version = writer.current_version().await? + 1;
    let now = now_rfc3339();
    // The INSERT writes this list and the response is built from it, so nothing is read
    // back after the commit.
    let columns: Vec<(&str, SqlValue)> = vec![
        ("tenant_id", db::text(&writer.tenant_id)),
        ("id", db::text(&sale.id)),
        ("outlet_id", db::text(&sale.outlet_id)),
        ("device_id", db::text(&sale.device_id)),
        ("user_id", db::text(&actor.user_id)),
        ("shift_id", db::opt_text(sale.shift_id.clone())),
        ("customer_id", db::opt_text(sale.customer_id.clone())),
        ("receipt_no", db::text(&sale.receipt_no)),
        ("created_at", db::text(&sale.created_at)),
        ("created_at_ms", db::int(sale.created_at_ms)),
        ("items", db::text(items_json(&sale, &totals).to_string())),
        ("payments", db::text(payments_json(&sale).to_string())),
        ("subtotal", db::int(totals.subtotal)),
        ("line_discounts", db::int(totals.line_discounts)),
        ("discount", db::int(totals.discount)),
        ("tax", db::int(totals.tax)),
        ("total", db::int(totals.total)),
        ("paid", db::int(totals.paid)),
        ("change", db::int(totals.change)),
        ("status", db::text("completed")),
        ("note", db::opt_text(sale.note.clone())),
        ("body_hash", db::text(&hash)),
        ("version", db::int(version)),
        ("recorded_at", db::text(&now)),
        ("updated_at", db::text(&now)),
        ("deleted_at", SqlValue::Null),
        ("sync_source", db::text(sync_source)),
    ];
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let values: Vec<SqlValue> = columns.iter().map(|(_, value)| value.clone()).collect();
    let sql = format!(
        "INSERT INTO transactions ({}) VALUES ({})",
        names.join(", "),
        vec!["?"; names.len()].join(", ")
    );
    let mut statements = vec![db::statement(&writer.db, &sql, &values).map_err(internal)?];
    let stored: Row = columns
        .into_iter()
        .map(|(name, value)| (name.to_string(), value.to_json()))
        .collect();

    // Each line of a product that tracks stock moves it out, under an id derived from the
    // sale and the line, so the sale's replay can never move stock twice.
    let mut last_version = version;
    for (index, item) in sale.items.iter().enumerate() {
        let tracked = known
            .iter()
            .any(|(id, track_stock)| *id == item.product_id && *track_stock);
        if !tracked {
            continue;
        }
        last_version += 1;
        statements.push(crate::stock::movement_statement(
            writer,
            &crate::stock::NewMovement {
                id: &derived_id(&[&sale.id, "sale", &index.to_string()]),
                product_id: &item.product_id,
                outlet_id: &sale.outlet_id,
                qty_milli: -item.qty_milli,
                kind: "sale",
                ref_id: Some(&sale.id),
                note: None,
                created_at: &sale.created_at,
                version: last_version,
                sync_source,
                device_id: Some(&sale.device_id),
                user_id: &actor.user_id,
                body_hash: "",
            },
        )?);
    }
    statements.extend(extra);
    writer.commit(statements, last_version).await?;

    Ok(RecordedSale {
        saved: Saved {
            record: sale_record(stored),
            created: true,
        },
        version,
        ignored: sale.ignored,
    })
}

/// Lookups that recording a sale makes before it writes, fetched in one D1 batch.
struct SaleLookups {
    /// The sale already stored under the same id, if any.
    stored: Option<Row>,
    outlet_found: bool,
    /// True as well when the sale names no customer.
    customer_found: bool,
    device_found: bool,
    receipt_taken: bool,
    /// Each product of the sale that exists, deleted or not, with whether it tracks stock.
    products: Vec<(String, bool)>,
}

impl SaleLookups {
    async fn read(writer: &Writer<'_>, sale: &SaleInput) -> Result<SaleLookups, ApiError> {
        let tenant = || db::text(&writer.tenant_id);
        let by_id = |table: &str, id: &str| {
            // `table` is a constant of this function.
            let sql = format!("SELECT * FROM {table} WHERE tenant_id = ? AND id = ?");
            db::statement(&writer.db, &sql, &[tenant(), db::text(id)]).map_err(internal)
        };
        let mut statements = vec![
            by_id("transactions", &sale.id)?,
            by_id("outlets", &sale.outlet_id)?,
            by_id("devices", &sale.device_id)?,
            db::statement(
                &writer.db,
                "SELECT id FROM transactions WHERE tenant_id = ? AND receipt_no = ?",
                &[tenant(), db::text(&sale.receipt_no)],
            )
            .map_err(internal)?,
        ];
        if let Some(customer_id) = &sale.customer_id {
            statements.push(by_id("customers", customer_id)?);
        }
        let mut product_ids: Vec<&str> = sale.items.iter().map(|item| item.product_id.as_str()).collect();
        product_ids.sort_unstable();
        product_ids.dedup();
        for chunk in product_ids.chunks(db::MAX_BOUND_VALUES) {
            let placeholders = vec!["?"; chunk.len()].join(", ");
            let sql = format!("SELECT id, track_stock FROM products WHERE tenant_id = ? AND id IN ({placeholders})");
            let mut args = vec![tenant()];
            args.extend(chunk.iter().map(|id| db::text(*id)));
            statements.push(db::statement(&writer.db, &sql, &args).map_err(internal)?);
        }

        let results = db::batch(&writer.db, statements).await.map_err(internal)?;
        let mut rows = Vec::with_capacity(results.len());
        for result in &results {
            rows.push(db::rows_of(result).map_err(internal)?);
        }
        let mut rows = rows.into_iter();
        let mut next = || rows.next().unwrap_or_default();
        let stored = next().into_iter().next();
        let outlet_found = !next().is_empty();
        let device_found = !next().is_empty();
        let receipt_taken = !next().is_empty();
        let customer_found = sale.customer_id.is_none() || !next().is_empty();
        let products = rows
            .flatten()
            .filter_map(|row| {
                let id = db::get_str(&row, "id")?.to_string();
                Some((id, db::get_i64(&row, "track_stock").unwrap_or(0) != 0))
            })
            .collect();
        Ok(SaleLookups {
            stored,
            outlet_found,
            customer_found,
            device_found,
            receipt_taken,
            products,
        })
    }
}
