//! End-to-end tests of the sales reports against one real `wrangler dev`: daily and range
//! figures, the CSV export, time zones, reading in pages, and who may read reports.
//!
//! Every test provisions its own tenant, so tests run in parallel and in any order. Sales are
//! dated at fixed local times on a day ten days before today, so the figures do not depend on
//! when the tests run. Voids change the report of the sale's day. Refunds are issued now, so
//! they count on today's report.

mod access;
mod csv_export;
mod daily;
mod paging;
mod summary;
mod zones;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Days, NaiveDate, Timelike};
use kasir_tests::{
    create_product, create_user, login, login_owner, new_id, provision_tenant_with, server, Api, ApiResponse, Session,
    TenantFixture,
};
use serde_json::{json, Value};

pub fn api() -> Api {
    server().api()
}

pub const KOPI_PRICE: i64 = 15_000;
pub const ROTI_PRICE: i64 = 8_000;
/// Price of a kilogram of sugar, sold by weight.
pub const GULA_PRICE: i64 = 17_500;

/// Hours east of UTC of WIB (`Asia/Jakarta`), the zone of a tenant created without one.
pub const WIB: i64 = 7;
/// Hours east of UTC of WITA (`Asia/Makassar`).
pub const WITA: i64 = 8;

/// A tenant with two outlets, two kasir each logged in on a device of their own, and three
/// products.
pub struct ReportShop {
    pub tenant: TenantFixture,
    /// The owner, logged in without a device.
    pub owner: Session,
    /// Kasir Sari, who sells at the main outlet.
    pub sari: Session,
    /// Kasir Budi, who sells at the branch.
    pub budi: Session,
    pub pusat_id: String,
    pub pusat_code: String,
    pub cabang_id: String,
    pub cabang_code: String,
    pub kopi_id: String,
    pub roti_id: String,
    pub gula_id: String,
    /// Hours east of UTC of the tenant's zone.
    pub offset_hours: i64,
}

/// Creates a [`ReportShop`] in WIB.
#[track_caller]
pub fn report_shop(code_prefix: &str) -> ReportShop {
    report_shop_with(code_prefix, json!({"placement": "shared"}), WIB, "Sari", "Budi")
}

/// Creates a [`ReportShop`] from provisioning fields `extra` (such as `timezone`), whose zone
/// is `offset_hours` east of UTC, with kasir named `sari_name` and `budi_name`.
#[track_caller]
pub fn report_shop_with(
    code_prefix: &str,
    extra: Value,
    offset_hours: i64,
    sari_name: &str,
    budi_name: &str,
) -> ReportShop {
    let api = api();
    let tenant = provision_tenant_with(&api, &server().admin_token, code_prefix, extra);
    let owner = login_owner(&api, &tenant, None);

    let pusat = api
        .get(&format!("/v1/outlets/{}", tenant.default_outlet_id))
        .bearer(&owner.access_token)
        .send();
    pusat.expect_status(200);
    let cabang = api
        .post("/v1/outlets")
        .bearer(&owner.access_token)
        .json(&json!({"code": "CABANG", "name": "Cabang Pasar Baru"}));
    cabang.expect_status(201);

    let kopi = create_product(&api, &owner, "Kopi Tubruk", KOPI_PRICE);
    let roti = create_product(&api, &owner, "Roti Bakar", ROTI_PRICE);
    let gula = create_product(&api, &owner, "Gula Pasir", GULA_PRICE);

    let sari_user = create_user(&api, &owner, "kasir", sari_name);
    let sari = login(
        &api,
        &tenant.code,
        &sari_user.email,
        &sari_user.password,
        Some("Kasir Pusat"),
    );
    let budi_user = create_user(&api, &owner, "kasir", budi_name);
    let budi = login(
        &api,
        &tenant.code,
        &budi_user.email,
        &budi_user.password,
        Some("Kasir Cabang"),
    );

    ReportShop {
        pusat_id: tenant.default_outlet_id.clone(),
        pusat_code: pusat.str_field("code"),
        cabang_id: cabang.str_field("id"),
        cabang_code: cabang.str_field("code"),
        kopi_id: string_field(&kopi, "id"),
        roti_id: string_field(&roti, "id"),
        gula_id: string_field(&gula, "id"),
        tenant,
        owner,
        sari,
        budi,
        offset_hours,
    }
}

static RECEIPT_SEQUENCE: AtomicU32 = AtomicU32::new(1);

impl ReportShop {
    /// Builds a `POST /v1/transactions` body of a sale by `cashier` on its device at
    /// `outlet_id`, with a new id and receipt number. `created_at` is RFC 3339 and `items` are
    /// built with [`item`].
    pub fn sale_body(
        &self,
        cashier: &Session,
        outlet_id: &str,
        created_at: &str,
        items: Vec<Value>,
        discount: i64,
        payments: Value,
    ) -> Value {
        let sequence = RECEIPT_SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let device_code = cashier.device_code.as_deref().unwrap_or("DEV");
        json!({
            "id": new_id(),
            "outlet_id": outlet_id,
            "device_id": cashier.device(),
            "receipt_no": format!("{device_code}-{sequence:04}"),
            "created_at": created_at,
            "items": items,
            "discount": discount,
            "payments": payments,
        })
    }

    /// Posts `body` as `cashier` and returns the stored sale. Panics unless the status is 201.
    #[track_caller]
    pub fn post_sale(&self, cashier: &Session, body: &Value) -> Value {
        let response = api().post("/v1/transactions").bearer(&cashier.access_token).json(body);
        response.expect_status(201);
        response.json.clone()
    }

    /// Posts a sale built by [`ReportShop::sale_body`] and returns the stored sale. Panics
    /// unless the status is 201.
    #[track_caller]
    pub fn sell(
        &self,
        cashier: &Session,
        outlet_id: &str,
        created_at: &str,
        items: Vec<Value>,
        discount: i64,
        payments: Value,
    ) -> Value {
        let body = self.sale_body(cashier, outlet_id, created_at, items, discount, payments);
        self.post_sale(cashier, &body)
    }

    /// Voids `sale` as the owner and returns the void record. Panics unless the status is 201.
    #[track_caller]
    pub fn void(&self, sale: &Value) -> Value {
        let response = api()
            .post(&format!("/v1/transactions/{}/void", string_field(sale, "id")))
            .bearer(&self.owner.access_token)
            .json(&json!({"reason": "salah input"}));
        response.expect_status(201);
        response.json.clone()
    }

    /// Refunds `qty` units of `product_id` of `sale` as the owner and returns the refund
    /// record. Panics unless the status is 201.
    #[track_caller]
    pub fn refund(&self, sale: &Value, product_id: &str, qty: Value) -> Value {
        let response = api()
            .post(&format!("/v1/transactions/{}/refunds", string_field(sale, "id")))
            .bearer(&self.owner.access_token)
            .json(&json!({
                "id": new_id(),
                "items": [{"product_id": product_id, "qty": qty}],
                "reason": "barang rusak",
            }));
        response.expect_status(201);
        response.json.clone()
    }

    /// Sends `GET /v1/reports/daily?date=` with `extra` query parameters as `session`.
    pub fn daily(&self, session: &Session, date: &str, extra: &[(&str, &str)]) -> ApiResponse {
        let mut request = api().get("/v1/reports/daily").bearer(&session.access_token);
        if !date.is_empty() {
            request = request.query("date", date);
        }
        for (name, value) in extra {
            request = request.query(name, value);
        }
        request.send()
    }

    /// Returns the owner's daily report of `date`. Panics unless the status is 200.
    #[track_caller]
    pub fn daily_report(&self, date: NaiveDate, extra: &[(&str, &str)]) -> Value {
        let response = self.daily(&self.owner, &date.to_string(), extra);
        response.expect_status(200);
        response.json.clone()
    }

    /// Sends `GET /v1/reports/summary?from=&to=` with `extra` query parameters as `session`.
    pub fn summary(&self, session: &Session, from: &str, to: &str, extra: &[(&str, &str)]) -> ApiResponse {
        let mut request = api().get("/v1/reports/summary").bearer(&session.access_token);
        for (name, value) in [("from", from), ("to", to)] {
            if !value.is_empty() {
                request = request.query(name, value);
            }
        }
        for (name, value) in extra {
            request = request.query(name, value);
        }
        request.send()
    }

    /// Returns RFC 3339 text of `time` (`HH:MM:SS`) on local `day` in the tenant's zone.
    pub fn at(&self, day: NaiveDate, time: &str) -> String {
        local_rfc3339(day, time, self.offset_hours)
    }
}

/// Builds one sale line. `qty` is a JSON number such as `2` or `1.5`.
pub fn item(product_id: &str, qty: Value, unit_price: i64, discount: i64) -> Value {
    json!({"product_id": product_id, "qty": qty, "unit_price": unit_price, "discount": discount})
}

/// Returns RFC 3339 text of `time` (`HH:MM:SS`) on `day` in a zone `offset_hours` east of UTC.
pub fn local_rfc3339(day: NaiveDate, time: &str, offset_hours: i64) -> String {
    format!("{day}T{time}+{offset_hours:02}:00")
}

/// Returns today's date in a zone `offset_hours` east of UTC.
pub fn local_today(offset_hours: i64) -> NaiveDate {
    local_now(offset_hours).date()
}

fn local_now(offset_hours: i64) -> chrono::NaiveDateTime {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("system clock is after 1970")
        .as_millis() as i64;
    DateTime::from_timestamp_millis(millis + offset_hours * 3_600_000)
        .expect("current time is representable")
        .naive_utc()
}

/// Returns the day the tests date their sales on: ten days before today in the zone.
pub fn trading_day(offset_hours: i64) -> NaiveDate {
    local_today(offset_hours) - Days::new(10)
}

/// Sleeps past local midnight when it is less than two minutes away, so a test that issues
/// refunds now reads them on the day it computed.
pub fn wait_until_clear_of_midnight(offset_hours: i64) {
    let now = local_now(offset_hours);
    let seconds_left = 86_400 - i64::from(now.num_seconds_from_midnight());
    if seconds_left < 120 {
        thread::sleep(Duration::from_secs(seconds_left as u64 + 2));
    }
}

/// The sales of a trading day posted by [`post_trading_day`], with the void and the refund
/// made on them. Tax is off.
///
/// - `before`, the day before at 23:59:59, Sari at the main outlet: 2 roti = 16,000. Cash
///   20,000, change 4,000.
/// - `midnight`, the day at 00:00:00, Budi at the branch: 1 roti = 8,000 by e-wallet.
/// - `morning`, 08:15, Sari at the main outlet: 2 kopi + 1 roti = 38,000. Cash 50,000, change
///   12,000.
/// - `sugar`, 09:40, Budi at the branch: 1.5 kg gula = 26,250 less a line discount of 250 and
///   a sale discount of 1,000, so 25,000. QRIS 10,000 (pending) and cash 20,000, change 5,000.
/// - `voided`, 12:05, Sari at the main outlet: 3 roti = 24,000 by card, voided.
/// - `late`, 23:30, Budi at the branch: 1 kopi + 2 roti = 31,000 by transfer. One roti,
///   8,000, is refunded now.
/// - `after`, the next day at 00:10:00, Sari at the main outlet: 1 kopi = 15,000 in cash.
pub struct TradingDay {
    pub day: NaiveDate,
    pub before: Value,
    pub midnight: Value,
    pub morning: Value,
    pub sugar: Value,
    pub voided: Value,
    pub late: Value,
    pub after: Value,
    pub late_refund: Value,
}

impl TradingDay {
    /// Returns the sales of `day` that are not voided.
    pub fn counted_sales(&self) -> Vec<&Value> {
        vec![&self.midnight, &self.morning, &self.sugar, &self.late]
    }

    /// Returns every sale made on `day`, voided ones included, in time order.
    pub fn sales_of_day(&self) -> Vec<&Value> {
        vec![&self.midnight, &self.morning, &self.sugar, &self.voided, &self.late]
    }
}

/// Posts the sales of [`TradingDay`] on `day`, voids one and refunds part of another.
#[track_caller]
pub fn post_trading_day(shop: &ReportShop, day: NaiveDate) -> TradingDay {
    let next_day = day + Days::new(1);
    let previous_day = day - Days::new(1);
    let (pusat, cabang) = (shop.pusat_id.as_str(), shop.cabang_id.as_str());

    let before = shop.sell(
        &shop.sari,
        pusat,
        &shop.at(previous_day, "23:59:59"),
        vec![item(&shop.roti_id, json!(2), ROTI_PRICE, 0)],
        0,
        json!([{"method": "cash", "amount": 20000}]),
    );
    let midnight = shop.sell(
        &shop.budi,
        cabang,
        &shop.at(day, "00:00:00"),
        vec![item(&shop.roti_id, json!(1), ROTI_PRICE, 0)],
        0,
        json!([{"method": "ewallet", "amount": 8000}]),
    );
    let morning = shop.sell(
        &shop.sari,
        pusat,
        &shop.at(day, "08:15:00"),
        vec![
            item(&shop.kopi_id, json!(2), KOPI_PRICE, 0),
            item(&shop.roti_id, json!(1), ROTI_PRICE, 0),
        ],
        0,
        json!([{"method": "cash", "amount": 50000}]),
    );
    let sugar = shop.sell(
        &shop.budi,
        cabang,
        &shop.at(day, "09:40:00"),
        vec![item(&shop.gula_id, json!(1.5), GULA_PRICE, 250)],
        1000,
        json!([
            {"method": "qris", "amount": 10000, "status": "pending"},
            {"method": "cash", "amount": 20000},
        ]),
    );
    let voided = shop.sell(
        &shop.sari,
        pusat,
        &shop.at(day, "12:05:00"),
        vec![item(&shop.roti_id, json!(3), ROTI_PRICE, 0)],
        0,
        json!([{"method": "card", "amount": 24000}]),
    );
    let late = shop.sell(
        &shop.budi,
        cabang,
        &shop.at(day, "23:30:00"),
        vec![
            item(&shop.kopi_id, json!(1), KOPI_PRICE, 0),
            item(&shop.roti_id, json!(2), ROTI_PRICE, 0),
        ],
        0,
        json!([{"method": "transfer", "amount": 31000}]),
    );
    let after = shop.sell(
        &shop.sari,
        pusat,
        &shop.at(next_day, "00:10:00"),
        vec![item(&shop.kopi_id, json!(1), KOPI_PRICE, 0)],
        0,
        json!([{"method": "cash", "amount": 15000}]),
    );

    shop.void(&voided);
    let late_refund = shop.refund(&late, &shop.roti_id, json!(1));

    TradingDay {
        day,
        before,
        midnight,
        morning,
        sugar,
        voided,
        late,
        after,
        late_refund,
    }
}

/// The headline figures of a report, computed here from stored sale and refund records.
#[derive(Debug, Default, PartialEq, Eq)]
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
    /// Adds up `sales` (counted, not voided), `voids` voided sales and `refunds` as the report
    /// contract defines the figures. Gross is Σ round(qty × unit_price), which is each stored
    /// line amount plus its line discount.
    pub fn of(sales: &[&Value], voids: i64, refunds: &[&Value]) -> Figures {
        let mut figures = Figures {
            voids,
            ..Figures::default()
        };
        for sale in sales {
            for line in sale["items"].as_array().into_iter().flatten() {
                figures.gross += int_field(line, "amount") + int_field(line, "discount");
                figures.discounts += int_field(line, "discount");
            }
            figures.discounts += int_field(sale, "discount");
            figures.tax += int_field(sale, "tax");
            figures.total += int_field(sale, "total");
            figures.count += 1;
        }
        figures.refunds = refunds.iter().map(|refund| int_field(refund, "total")).sum();
        figures.net = figures.total - figures.refunds;
        figures
    }

    /// Reads the headline figures of a report body or of one of its `days` rows.
    #[track_caller]
    pub fn read(report: &Value) -> Figures {
        Figures {
            gross: int_field(report, "gross"),
            discounts: int_field(report, "discounts"),
            tax: int_field(report, "tax"),
            total: int_field(report, "total"),
            refunds: int_field(report, "refunds"),
            net: int_field(report, "net"),
            count: int_field(report, "count"),
            voids: int_field(report, "voids"),
        }
    }
}

/// Adds up each payment method of `sales` net of change, from the stored records.
pub fn payments_by_method(sales: &[&Value]) -> BTreeMap<String, i64> {
    let mut methods = BTreeMap::new();
    for sale in sales {
        for payment in sale["payments"].as_array().into_iter().flatten() {
            *methods.entry(string_field(payment, "method")).or_insert(0) += int_field(payment, "amount");
        }
        let change = int_field(sale, "change");
        if change != 0 {
            *methods.entry("cash".to_string()).or_insert(0) -= change;
        }
    }
    methods
}

/// Reads `by_payment_method` of a report.
#[track_caller]
pub fn read_payment_methods(report: &Value) -> BTreeMap<String, i64> {
    let Some(methods) = report["by_payment_method"].as_object() else {
        panic!("expected an object by_payment_method in {report}");
    };
    methods
        .iter()
        .map(|(method, amount)| match amount.as_i64() {
            Some(amount) => (method.clone(), amount),
            None => panic!("by_payment_method.{method} is not an integer in {report}"),
        })
        .collect()
}

/// Returns `(count, net)` of local `hour` in a report's `by_hour`.
#[track_caller]
pub fn hour_row(report: &Value, hour: i64) -> (i64, i64) {
    let rows = report["by_hour"].as_array().cloned().unwrap_or_default();
    match rows.iter().find(|row| row["hour"].as_i64() == Some(hour)) {
        Some(row) => (int_field(row, "count"), int_field(row, "net")),
        None => panic!("no by_hour row for hour {hour} in {report}"),
    }
}

/// Returns `(name, count, net)` of the cashier `user_id` in a report's `by_cashier`.
#[track_caller]
pub fn cashier_row(report: &Value, user_id: &str) -> (String, i64, i64) {
    let rows = report["by_cashier"].as_array().cloned().unwrap_or_default();
    match rows.iter().find(|row| row["user_id"].as_str() == Some(user_id)) {
        Some(row) => (
            row["name"].as_str().unwrap_or_default().to_string(),
            int_field(row, "count"),
            int_field(row, "net"),
        ),
        None => panic!("no by_cashier row for {user_id} in {report}"),
    }
}

/// Reads an integer field, panicking with the whole body when it is missing.
#[track_caller]
pub fn int_field(body: &Value, field: &str) -> i64 {
    match body[field].as_i64() {
        Some(value) => value,
        None => panic!("expected integer field {field:?} in {body}"),
    }
}

/// Reads a string field, panicking with the whole body when it is missing.
#[track_caller]
pub fn string_field(body: &Value, field: &str) -> String {
    match body[field].as_str() {
        Some(value) => value.to_string(),
        None => panic!("expected string field {field:?} in {body}"),
    }
}

/// Checks that a response is a 422 whose details include `code` on `field`.
#[track_caller]
pub fn expect_invalid(response: &ApiResponse, field: &str, code: &str) {
    response.expect_error(422, "validation_failed");
    let found = response
        .error_details()
        .iter()
        .any(|detail| detail["field"] == field && detail["code"] == code);
    assert!(
        found,
        "{} {}: expected a {code:?} detail on {field:?} in {}",
        response.method, response.path, response.text
    );
}

/// Returns the local date and hour of an RFC 3339 time in a zone `offset_hours` east of UTC.
#[track_caller]
pub fn local_day_and_hour(rfc3339: &str, offset_hours: i64) -> (NaiveDate, i64) {
    let Ok(time) = DateTime::parse_from_rfc3339(rfc3339) else {
        panic!("{rfc3339:?} is not RFC 3339");
    };
    let local = time.naive_utc() + chrono::TimeDelta::hours(offset_hours);
    (local.date(), i64::from(local.hour()))
}

/// Splits CSV text into records of fields as RFC 4180 defines them: CRLF between records,
/// and fields in double quotes may contain commas, line breaks and doubled quotes. A CRLF at the
/// end of the text ends the last record. Panics on a bare LF outside quotes or an unclosed
/// quote, which a strict reader rejects.
#[track_caller]
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {
                chars.next();
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            '\n' => panic!("bare LF outside quotes after {} records", records.len()),
            _ => field.push(c),
        }
    }
    assert!(!quoted, "unclosed quote in the last field");
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}
