//! Daily and range sales reports in the tenant's time zone, as JSON figures or as a CSV file
//! of the sales. The figures themselves are computed in `kasir_core::report`.

use std::collections::HashMap;

use kasir_core::entity::SqlValue;
use kasir_core::error::{ApiError, Detail};
use kasir_core::report::{DayRange, ReportBuilder, ReportRefund, ReportSale, SalesCsv};
use kasir_core::validate::parse_uuid;
use kasir_durable::db::{self, Row};
use worker::{D1Database, Env, Request, Response};

use crate::auth::Principal;
use crate::http::{self, Query};
use crate::routes::sales::utc_offset_hours;

/// Rows read per D1 query. A busy shop's day fits in one page, and a long range is read page
/// by page, so the Worker keeps one page of rows in memory at a time, not the whole range.
const PAGE_ROWS: i64 = 1000;

/// The sales of a period with their cashier's name and outlet's code, as
/// `ReportSale::from_row` reads them.
const SALES_SQL: &str = "SELECT t.id, t.receipt_no, t.created_at_ms, t.status, t.user_id, t.items, t.payments, \
     t.subtotal, t.line_discounts, t.discount, t.tax, t.total, t.change, \
     u.name AS cashier_name, o.code AS outlet_code \
     FROM transactions t \
     LEFT JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.user_id \
     LEFT JOIN outlets o ON o.tenant_id = t.tenant_id AND o.id = t.outlet_id \
     WHERE t.tenant_id = ? AND t.created_at_ms >= ? AND t.created_at_ms < ?";

/// The refunds issued in a period, each with the user who made the refunded sale, as
/// `ReportRefund::from_row` reads them. A refund whose sale row is missing falls back to the
/// user who issued it.
const REFUNDS_SQL: &str = "SELECT r.id, r.total, r.created_at_ms, \
     COALESCE(t.user_id, r.user_id) AS cashier_id, u.name AS cashier_name \
     FROM sale_returns r \
     LEFT JOIN transactions t ON t.tenant_id = r.tenant_id AND t.id = r.transaction_id \
     LEFT JOIN users u ON u.tenant_id = r.tenant_id AND u.id = COALESCE(t.user_id, r.user_id) \
     WHERE r.tenant_id = ? AND r.kind = 'refund' AND r.created_at_ms >= ? AND r.created_at_ms < ?";

fn internal(error: impl std::fmt::Display) -> ApiError {
    ApiError::internal(error.to_string())
}

/// Response format set by `?format=`: `json` (the default) for the figures, `csv` for the sales.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

/// The checked parameters that daily and summary reports share.
struct Scope {
    db: D1Database,
    tenant_id: String,
    range: DayRange,
    utc_offset_hours: i64,
    start_ms: i64,
    end_ms: i64,
    /// Only this outlet's sales, and refunds of its sales, when set.
    outlet_id: Option<String>,
    format: Format,
}

impl Scope {
    /// Checks `outlet_id` and `format` and adds their failures to those of the parsed `range`.
    ///
    /// # Errors
    /// 422 with every failing parameter.
    fn parse(
        env: &Env,
        principal: &Principal,
        query: &Query,
        range: Result<DayRange, Vec<Detail>>,
    ) -> Result<Scope, ApiError> {
        let mut details = Vec::new();
        let range = match range {
            Ok(range) => Some(range),
            Err(range_details) => {
                details.extend(range_details);
                None
            }
        };

        let outlet_id = match query.get("outlet_id") {
            None => None,
            Some(text) => {
                let id = parse_uuid(text);
                if id.is_none() {
                    details.push(Detail::new("outlet_id", "invalid_format"));
                }
                id
            }
        };
        let format = match query.get("format") {
            None | Some("json") => Format::Json,
            Some("csv") => Format::Csv,
            Some(_) => {
                details.push(Detail::new("format", "invalid_format"));
                Format::Json
            }
        };

        let range = match range {
            Some(range) if details.is_empty() => range,
            _ => return Err(ApiError::validation(details)),
        };
        let utc_offset_hours = utc_offset_hours(&principal.tenant.timezone);
        let (start_ms, end_ms) = range.bounds_ms(utc_offset_hours);
        Ok(Scope {
            db: principal.tenant.db(env)?,
            tenant_id: principal.tenant.id.clone(),
            range,
            utc_offset_hours,
            start_ms,
            end_ms,
            outlet_id,
            format,
        })
    }
}

/// `GET /v1/reports/daily?date=&outlet_id=&format=`.
pub async fn daily(req: &Request, env: &Env, principal: &Principal) -> Result<Response, ApiError> {
    let query = Query::of(req);
    let range = DayRange::day(query.get("date")).map_err(|detail| vec![detail]);
    let scope = Scope::parse(env, principal, &query, range)?;

    if scope.format == Format::Csv {
        let filename = format!("laporan-{}.csv", scope.range.first());
        return csv_response(&scope, &filename).await;
    }
    let builder = build_report(&scope).await?;
    let names = product_names(&scope, &builder.top_product_ids()).await?;
    let body = serde_json::to_value(builder.daily(&names)).map_err(internal)?;
    http::json(200, &body)
}

/// `GET /v1/reports/summary?from=&to=&outlet_id=&format=`: the daily figures over an inclusive
/// range of at most 366 days, with one row per day.
pub async fn summary(req: &Request, env: &Env, principal: &Principal) -> Result<Response, ApiError> {
    let query = Query::of(req);
    let range = DayRange::between(query.get("from"), query.get("to"));
    let scope = Scope::parse(env, principal, &query, range)?;

    if scope.format == Format::Csv {
        let filename = format!("laporan-{}_{}.csv", scope.range.first(), scope.range.last());
        return csv_response(&scope, &filename).await;
    }
    let builder = build_report(&scope).await?;
    let names = product_names(&scope, &builder.top_product_ids()).await?;
    let body = serde_json::to_value(builder.summary(&names)).map_err(internal)?;
    http::json(200, &body)
}

/// The daily report figures of a tenant, as `GET /v1/reports/daily` returns them, for the
/// daily sales email.
///
/// # Errors
/// 422 for an invalid date; D1 failures.
pub async fn daily_figures(
    env: &Env,
    tenant: &crate::directory::Tenant,
    date: &str,
) -> Result<serde_json::Value, ApiError> {
    let range = DayRange::day(Some(date)).map_err(|detail| ApiError::validation(vec![detail]))?;
    let utc_offset_hours = utc_offset_hours(&tenant.timezone);
    let (start_ms, end_ms) = range.bounds_ms(utc_offset_hours);
    let scope = Scope {
        db: tenant.db(env)?,
        tenant_id: tenant.id.clone(),
        range,
        utc_offset_hours,
        start_ms,
        end_ms,
        outlet_id: None,
        format: Format::Json,
    };
    let builder = build_report(&scope).await?;
    let names = product_names(&scope, &builder.top_product_ids()).await?;
    serde_json::to_value(builder.daily(&names)).map_err(internal)
}

/// Reads the period's sales and refunds into a report.
async fn build_report(scope: &Scope) -> Result<ReportBuilder, ApiError> {
    let mut builder = ReportBuilder::new(scope.range, scope.utc_offset_hours);
    for_each_row(scope, SALES_SQL, "t", |row| {
        builder.add_sale(&ReportSale::from_row(row).map_err(internal)?);
        Ok(())
    })
    .await?;
    for_each_row(scope, REFUNDS_SQL, "r", |row| {
        builder.add_refund(&ReportRefund::from_row(row).map_err(internal)?);
        Ok(())
    })
    .await?;
    Ok(builder)
}

/// Builds a response with the period's sales as a CSV attachment named `filename`.
async fn csv_response(scope: &Scope, filename: &str) -> Result<Response, ApiError> {
    let mut csv = SalesCsv::new(scope.utc_offset_hours);
    for_each_row(scope, SALES_SQL, "t", |row| {
        csv.push_sale(&ReportSale::from_row(row).map_err(internal)?);
        Ok(())
    })
    .await?;

    let mut response = Response::from_bytes(csv.finish().into_bytes()).map_err(internal)?;
    let headers = response.headers_mut();
    headers
        .set("content-type", "text/csv; charset=utf-8")
        .map_err(internal)?;
    headers
        .set("content-disposition", &format!("attachment; filename=\"{filename}\""))
        .map_err(internal)?;
    Ok(response)
}

/// Runs `base_sql` page by page in `(created_at_ms, id)` order and hands each row to `visit`.
///
/// `base_sql` ends in a WHERE clause that takes the tenant id and the period's bounds, over a
/// table aliased `alias` whose rows carry `created_at_ms`, `id` and, through the `transactions`
/// alias `t`, the sale's `outlet_id`.
async fn for_each_row(
    scope: &Scope,
    base_sql: &str,
    alias: &str,
    mut visit: impl FnMut(&Row) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let mut after: Option<(i64, String)> = None;
    loop {
        let mut sql = base_sql.to_string();
        let mut args: Vec<SqlValue> = vec![
            db::text(&scope.tenant_id),
            db::int(scope.start_ms),
            db::int(scope.end_ms),
        ];
        if let Some(outlet_id) = &scope.outlet_id {
            sql.push_str(" AND t.outlet_id = ?");
            args.push(db::text(outlet_id));
        }
        if let Some((at_ms, id)) = &after {
            sql.push_str(&format!(
                " AND ({alias}.created_at_ms > ? OR ({alias}.created_at_ms = ? AND {alias}.id > ?))"
            ));
            args.extend([db::int(*at_ms), db::int(*at_ms), db::text(id)]);
        }
        sql.push_str(&format!(" ORDER BY {alias}.created_at_ms, {alias}.id LIMIT ?"));
        args.push(db::int(PAGE_ROWS));

        let rows = db::all(&scope.db, &sql, &args).await.map_err(internal)?;
        for row in &rows {
            visit(row)?;
        }
        let last = rows.last().and_then(|row| {
            let at_ms = db::get_i64(row, "created_at_ms")?;
            let id = db::get_str(row, "id")?;
            Some((at_ms, id.to_string()))
        });
        match last {
            Some(position) if rows.len() as i64 == PAGE_ROWS => after = Some(position),
            _ => return Ok(()),
        }
    }
}

/// Looks up the names of `product_ids`, deleted products included, in one query.
async fn product_names(scope: &Scope, product_ids: &[String]) -> Result<HashMap<String, String>, ApiError> {
    if product_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let placeholders = vec!["?"; product_ids.len()].join(", ");
    let sql = format!("SELECT id, name FROM products WHERE tenant_id = ? AND id IN ({placeholders})");
    let mut args = vec![db::text(&scope.tenant_id)];
    args.extend(product_ids.iter().map(db::text));

    let rows = db::all(&scope.db, &sql, &args).await.map_err(internal)?;
    let names = rows
        .iter()
        .filter_map(|row| {
            let id = db::get_str(row, "id")?;
            let name = db::get_str(row, "name")?;
            Some((id.to_string(), name.to_string()))
        })
        .collect();
    Ok(names)
}
