//! Sales reports over days in the tenant's time zone: the figures of one day or of a range of
//! days, computed from its sales and refunds, and the CSV export of its sales.
//!
//! Sales count on the local day and hour of their `created_at`, refunds on those of their own
//! `created_at`. The figures follow these rules:
//! - Every figure except `voids` and `refunds` covers only the sales that are not voided. A
//!   sale with refunds still counts in full, and its refunds are taken off separately.
//! - `gross` is Σ round(qty × unit_price), which is each line amount plus its line discount.
//!   `discounts` is line discounts plus sale discounts. `tax` and `total` add up the sales' own
//!   figures.
//! - `refunds` is the money returned by refunds issued in the period, whatever day the refunded
//!   sale was made on. `net` is `total − refunds`.
//! - `voids` counts the period's sales that are voided. A void therefore changes the report of
//!   the day the sale was made, not the day it was voided.
//! - `by_payment_method` maps each method to its payments net of change, so cash is cash taken
//!   less change given. Pending payments count as paid. Refunds are not taken off, so the
//!   methods add up to `total`.
//! - `by_cashier` has one row per user who made a counted sale, or whose sale from any day was
//!   refunded in the period. `net` is the user's sale totals less those refunds, so the rows
//!   add up to `count` and `net`. Rows are sorted by `net`, highest first, then by user id.
//! - `by_hour` has 24 rows for the local hours 0 to 23, each with the sales made in that hour
//!   and their totals less the refunds issued in that hour. Over a range, a row adds up that
//!   hour of every day.
//! - `top_products` lists the 10 products with the largest quantity sold, then the largest
//!   `net`, then the smallest id. A product's `net` is the sum of its line amounts, which are
//!   after line discounts but before the sale discount and tax. Refunds are not taken off.

mod csv;
mod rows;

use std::collections::{BTreeMap, HashMap};

use chrono::{Days, NaiveDate};
use serde::{Serialize, Serializer};

use crate::error::Detail;
use crate::money::format_qty;

pub use csv::{local_time, SalesCsv, CSV_COLUMNS};
pub use rows::InvalidRow;

/// Maximum length of a summary's range in days. A leap year has 366, so any calendar year fits.
pub const MAX_RANGE_DAYS: i64 = 366;
/// Number of products in `top_products`.
pub const TOP_PRODUCT_COUNT: usize = 10;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// A stored sale as a report reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportSale {
    pub id: String,
    pub receipt_no: String,
    pub created_at_ms: i64,
    /// `completed`, `voided`, `refunded` or `partially_refunded`.
    pub status: String,
    pub user_id: String,
    /// The cashier's name, `None` when the user row is missing.
    pub cashier_name: Option<String>,
    /// The outlet's code, `None` when the outlet row is missing.
    pub outlet_code: Option<String>,
    pub items: Vec<ReportLine>,
    pub payments: Vec<ReportPayment>,
    /// Σ line amounts, after line discounts.
    pub subtotal: i64,
    pub line_discounts: i64,
    /// The sale-level discount.
    pub discount: i64,
    pub tax: i64,
    pub total: i64,
    /// Cash given back.
    pub change: i64,
}

impl ReportSale {
    pub fn is_voided(&self) -> bool {
        self.status == "voided"
    }

    /// Returns Σ round(qty × unit_price) over the lines: the subtotal before line discounts.
    pub fn gross(&self) -> i64 {
        self.subtotal + self.line_discounts
    }

    /// Returns the line discounts plus the sale discount.
    pub fn all_discounts(&self) -> i64 {
        self.line_discounts + self.discount
    }
}

/// One line of a stored sale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportLine {
    pub product_id: String,
    /// Quantity in thousandths.
    pub qty_milli: i64,
    /// round(qty × unit_price) − line discount.
    pub amount: i64,
}

/// One payment of a stored sale, as tendered (cash before change).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportPayment {
    pub method: String,
    pub amount: i64,
}

/// A refund as a report reads it, attributed to the cashier of the refunded sale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRefund {
    pub id: String,
    /// Money returned.
    pub total: i64,
    pub created_at_ms: i64,
    /// The user who made the refunded sale.
    pub cashier_id: String,
    pub cashier_name: Option<String>,
}

/// An inclusive range of local calendar days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayRange {
    first: NaiveDate,
    last: NaiveDate,
}

impl DayRange {
    /// Parses the `date` parameter of a daily report as a one-day range.
    ///
    /// # Errors
    /// A `required` or `invalid_format` detail on `date`.
    pub fn day(date: Option<&str>) -> Result<DayRange, Detail> {
        let day = required_date(date, "date")?;
        Ok(DayRange { first: day, last: day })
    }

    /// Parses the inclusive `from` and `to` parameters of a summary.
    ///
    /// # Errors
    /// A `required` or `invalid_format` detail for each bad parameter, `invalid_range` on `to`
    /// when it is before `from`, and `range_too_long` on `to` when the range is longer than
    /// [`MAX_RANGE_DAYS`].
    pub fn between(from: Option<&str>, to: Option<&str>) -> Result<DayRange, Vec<Detail>> {
        let (first, last) = match (required_date(from, "from"), required_date(to, "to")) {
            (Ok(first), Ok(last)) => (first, last),
            (first, last) => return Err([first.err(), last.err()].into_iter().flatten().collect()),
        };
        if last < first {
            return Err(vec![Detail::new("to", "invalid_range")]);
        }
        let range = DayRange { first, last };
        if range.day_count() > MAX_RANGE_DAYS {
            return Err(vec![Detail::new("to", "range_too_long")]);
        }
        Ok(range)
    }

    pub fn first(&self) -> NaiveDate {
        self.first
    }

    pub fn last(&self) -> NaiveDate {
        self.last
    }

    /// Returns the number of days in the range, both ends included.
    pub fn day_count(&self) -> i64 {
        (self.last - self.first).num_days() + 1
    }

    /// Returns the Unix milliseconds of the start of the first day and of the end of the last
    /// day, in a zone `utc_offset_hours` east of UTC. The end is exclusive.
    pub fn bounds_ms(&self, utc_offset_hours: i64) -> (i64, i64) {
        let midnight = self.first.and_time(chrono::NaiveTime::MIN).and_utc().timestamp_millis();
        let start = midnight - utc_offset_hours * HOUR_MS;
        (start, start + self.day_count() * DAY_MS)
    }
}

/// Parses a date written exactly as `YYYY-MM-DD`.
///
/// chrono alone also accepts one-digit months and days and signed years, which a report
/// parameter should not.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            4 | 7 => *byte == b'-',
            _ => byte.is_ascii_digit(),
        });
    if !shaped {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

fn required_date(text: Option<&str>, field: &str) -> Result<NaiveDate, Detail> {
    let text = text.ok_or_else(|| Detail::new(field, "required"))?;
    parse_date(text).ok_or_else(|| Detail::new(field, "invalid_format"))
}

/// The headline figures of a day or a range.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    pub gross: i64,
    pub discounts: i64,
    pub tax: i64,
    pub total: i64,
    pub refunds: i64,
    pub net: i64,
    pub count: i64,
    pub voids: i64,
}

impl Figures {
    fn add(&mut self, other: &Figures) {
        self.gross += other.gross;
        self.discounts += other.discounts;
        self.tax += other.tax;
        self.total += other.total;
        self.refunds += other.refunds;
        self.net += other.net;
        self.count += other.count;
        self.voids += other.voids;
    }
}

/// A cashier's row of `by_cashier`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CashierRow {
    pub user_id: String,
    pub name: Option<String>,
    pub count: i64,
    pub net: i64,
}

/// An hour's row of `by_hour`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HourRow {
    /// Local hour, 0 to 23.
    pub hour: u32,
    pub count: i64,
    pub net: i64,
}

/// A product's row of `top_products`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProductRow {
    pub product_id: String,
    /// The product's name, `None` when the product row is missing.
    pub name: Option<String>,
    /// Quantity sold in thousandths, written as a decimal number (1500 as `1.5`).
    #[serde(rename = "qty", serialize_with = "serialize_qty")]
    pub qty_milli: i64,
    pub net: i64,
}

fn serialize_qty<S: Serializer>(qty_milli: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    format_qty(*qty_milli).serialize(serializer)
}

/// The breakdowns that daily and summary reports share.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Breakdowns {
    pub by_payment_method: BTreeMap<String, i64>,
    pub by_cashier: Vec<CashierRow>,
    pub by_hour: Vec<HourRow>,
    pub top_products: Vec<ProductRow>,
}

/// The body of `GET /v1/reports/daily`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DailyReport {
    /// `YYYY-MM-DD` in the tenant's zone.
    pub date: String,
    #[serde(flatten)]
    pub figures: Figures,
    #[serde(flatten)]
    pub breakdowns: Breakdowns,
}

/// One day's row of a summary: its headline figures and payment methods.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DayRow {
    pub date: String,
    #[serde(flatten)]
    pub figures: Figures,
    pub by_payment_method: BTreeMap<String, i64>,
}

/// The body of `GET /v1/reports/summary`: the figures of the whole range and one row per day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SummaryReport {
    pub from: String,
    pub to: String,
    #[serde(flatten)]
    pub figures: Figures,
    #[serde(flatten)]
    pub breakdowns: Breakdowns,
    pub days: Vec<DayRow>,
}

#[derive(Clone, Debug, Default)]
struct DayTotals {
    figures: Figures,
    by_payment_method: BTreeMap<String, i64>,
}

#[derive(Clone, Debug, Default)]
struct ProductTotals {
    qty_milli: i64,
    net: i64,
}

/// Adds up the sales and refunds of a [`DayRange`], one record at a time, so a caller can
/// read them page by page. Records outside the range are ignored.
#[derive(Clone, Debug)]
pub struct ReportBuilder {
    range: DayRange,
    start_ms: i64,
    end_ms: i64,
    days: Vec<DayTotals>,
    cashiers: BTreeMap<String, CashierRow>,
    hours: Vec<HourRow>,
    products: BTreeMap<String, ProductTotals>,
}

impl ReportBuilder {
    /// Starts an empty report of `range` in a zone `utc_offset_hours` east of UTC.
    pub fn new(range: DayRange, utc_offset_hours: i64) -> ReportBuilder {
        let (start_ms, end_ms) = range.bounds_ms(utc_offset_hours);
        let hours = (0..24)
            .map(|hour| HourRow {
                hour,
                ..HourRow::default()
            })
            .collect();
        ReportBuilder {
            range,
            start_ms,
            end_ms,
            days: vec![DayTotals::default(); range.day_count() as usize],
            cashiers: BTreeMap::new(),
            hours,
            products: BTreeMap::new(),
        }
    }

    /// Returns the index of the local day and the local hour of `at_ms`, or `None` outside
    /// the range. Indonesian zones have whole-hour offsets and no daylight saving time, so a
    /// local day is always 24 hours long.
    fn locate(&self, at_ms: i64) -> Option<(usize, usize)> {
        if at_ms < self.start_ms || at_ms >= self.end_ms {
            return None;
        }
        let since_start = at_ms - self.start_ms;
        let day = (since_start / DAY_MS) as usize;
        let hour = ((since_start % DAY_MS) / HOUR_MS) as usize;
        Some((day, hour))
    }

    /// Adds a sale: a voided one only to `voids`, any other to every figure.
    pub fn add_sale(&mut self, sale: &ReportSale) {
        let Some((day_index, hour)) = self.locate(sale.created_at_ms) else {
            return;
        };
        let day = &mut self.days[day_index];
        if sale.is_voided() {
            day.figures.voids += 1;
            return;
        }

        day.figures.gross += sale.gross();
        day.figures.discounts += sale.all_discounts();
        day.figures.tax += sale.tax;
        day.figures.total += sale.total;
        day.figures.net += sale.total;
        day.figures.count += 1;

        for payment in &sale.payments {
            *day.by_payment_method.entry(payment.method.clone()).or_insert(0) += payment.amount;
        }
        // Only cash can be overpaid, so all change comes out of the cash taken.
        if sale.change != 0 {
            *day.by_payment_method.entry("cash".to_string()).or_insert(0) -= sale.change;
        }

        let cashier = self.cashier(&sale.user_id, &sale.cashier_name);
        cashier.count += 1;
        cashier.net += sale.total;

        self.hours[hour].count += 1;
        self.hours[hour].net += sale.total;

        for line in &sale.items {
            let product = self.products.entry(line.product_id.clone()).or_default();
            product.qty_milli += line.qty_milli;
            product.net += line.amount;
        }
    }

    /// Takes a refund off the day and hour it was issued in and off its sale's cashier.
    pub fn add_refund(&mut self, refund: &ReportRefund) {
        let Some((day_index, hour)) = self.locate(refund.created_at_ms) else {
            return;
        };
        let day = &mut self.days[day_index];
        day.figures.refunds += refund.total;
        day.figures.net -= refund.total;

        self.cashier(&refund.cashier_id, &refund.cashier_name).net -= refund.total;
        self.hours[hour].net -= refund.total;
    }

    fn cashier(&mut self, user_id: &str, name: &Option<String>) -> &mut CashierRow {
        let row = self.cashiers.entry(user_id.to_string()).or_insert_with(|| CashierRow {
            user_id: user_id.to_string(),
            name: None,
            count: 0,
            net: 0,
        });
        if row.name.is_none() {
            row.name.clone_from(name);
        }
        row
    }

    /// Returns the ids of the products that `top_products` will list, best first, so the
    /// caller can look up only their names.
    pub fn top_product_ids(&self) -> Vec<String> {
        let mut ranked: Vec<(&String, &ProductTotals)> = self.products.iter().collect();
        ranked.sort_by(|(a_id, a), (b_id, b)| {
            b.qty_milli
                .cmp(&a.qty_milli)
                .then(b.net.cmp(&a.net))
                .then(a_id.cmp(b_id))
        });
        ranked
            .into_iter()
            .take(TOP_PRODUCT_COUNT)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Finishes the report of a one-day range. `product_names` maps product ids to names.
    pub fn daily(self, product_names: &HashMap<String, String>) -> DailyReport {
        let date = self.range.first.to_string();
        let (figures, breakdowns, _) = self.finish(product_names);
        DailyReport {
            date,
            figures,
            breakdowns,
        }
    }

    /// Finishes the report of a range, with one row per day. `product_names` maps product ids
    /// to names.
    pub fn summary(self, product_names: &HashMap<String, String>) -> SummaryReport {
        let range = self.range;
        let (figures, breakdowns, days) = self.finish(product_names);
        SummaryReport {
            from: range.first.to_string(),
            to: range.last.to_string(),
            figures,
            breakdowns,
            days,
        }
    }

    fn finish(self, product_names: &HashMap<String, String>) -> (Figures, Breakdowns, Vec<DayRow>) {
        let top_products = self
            .top_product_ids()
            .into_iter()
            .map(|product_id| {
                let totals = &self.products[&product_id];
                ProductRow {
                    name: product_names.get(&product_id).cloned(),
                    qty_milli: totals.qty_milli,
                    net: totals.net,
                    product_id,
                }
            })
            .collect();

        let mut figures = Figures::default();
        let mut by_payment_method = BTreeMap::new();
        let mut days = Vec::with_capacity(self.days.len());
        for (offset, day) in self.days.into_iter().enumerate() {
            figures.add(&day.figures);
            for (method, amount) in &day.by_payment_method {
                *by_payment_method.entry(method.clone()).or_insert(0) += amount;
            }
            let date = self
                .range
                .first
                .checked_add_days(Days::new(offset as u64))
                .unwrap_or(self.range.last);
            days.push(DayRow {
                date: date.to_string(),
                figures: day.figures,
                by_payment_method: day.by_payment_method,
            });
        }

        let mut by_cashier: Vec<CashierRow> = self.cashiers.into_values().collect();
        by_cashier.sort_by(|a, b| b.net.cmp(&a.net).then_with(|| a.user_id.cmp(&b.user_id)));

        let breakdowns = Breakdowns {
            by_payment_method,
            by_cashier,
            by_hour: self.hours,
            top_products,
        };
        (figures, breakdowns, days)
    }
}

#[cfg(test)]
mod tests;
