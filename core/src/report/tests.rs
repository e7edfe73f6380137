//! Reports of a hand-worked trading day in WIB (UTC+7), with the day before and the day
//! after. Prices: kopi 15,000, roti 8,000, gula 17,500 a kilogram. Tax is off.
//!
//! - S0, 2025-11-13 23:59:59, Sari: 2 roti = 16,000. Cash 20,000, change 4,000.
//! - S1, 2025-11-14 08:15:00, Sari: 2 kopi + 1 roti = 38,000. Cash 50,000, change 12,000.
//! - S2, 2025-11-14 09:40:00, Budi: 1.5 kg gula = 26,250, less a line discount of 250 and a
//!   sale discount of 1,000, so the total is 25,000. QRIS 10,000 (pending) and cash 20,000,
//!   change 5,000.
//! - S3, 2025-11-14 12:05:00, Sari: 3 roti = 24,000 by card, voided.
//! - S4, 2025-11-14 23:30:00, Budi: 1 kopi + 2 roti = 31,000 by transfer, partially refunded.
//! - S5, 2025-11-15 00:10:00, Sari: 1 kopi = 15,000 in cash.
//! - R0, 2025-11-14 10:20:00: refund of 8,000, one roti of S0 (Sari's sale of the day before).
//! - R4, 2025-11-14 23:45:00: refund of 8,000, one roti of S4 (Budi's).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use serde_json::json;

use super::*;

const KOPI: &str = "p-kopi";
const ROTI: &str = "p-roti";
const GULA: &str = "p-gula";
const SARI: &str = "u-sari";
const BUDI: &str = "u-budi";
const WIB_OFFSET_HOURS: i64 = 7;

/// Converts a WIB wall-clock time `YYYY-MM-DD HH:MM:SS` to Unix milliseconds.
fn wib_ms(text: &str) -> i64 {
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap();
    local.and_utc().timestamp_millis() - WIB_OFFSET_HOURS * HOUR_MS
}

fn line(product_id: &str, qty_milli: i64, amount: i64) -> ReportLine {
    ReportLine {
        product_id: product_id.to_string(),
        qty_milli,
        amount,
    }
}

fn payment(method: &str, amount: i64) -> ReportPayment {
    ReportPayment {
        method: method.to_string(),
        amount,
    }
}

fn cashier_name(user_id: &str) -> Option<String> {
    match user_id {
        SARI => Some("Sari".to_string()),
        BUDI => Some("Budi".to_string()),
        _ => None,
    }
}

/// Builds a tax-free sale whose subtotal is the sum of its line amounts.
fn sale(id: &str, local_time: &str, user_id: &str, items: Vec<ReportLine>, payments: Vec<ReportPayment>) -> ReportSale {
    let subtotal = items.iter().map(|item| item.amount).sum();
    let paid: i64 = payments.iter().map(|payment| payment.amount).sum();
    ReportSale {
        id: id.to_string(),
        receipt_no: format!("PUSAT-K1-{id}"),
        created_at_ms: wib_ms(local_time),
        status: "completed".to_string(),
        user_id: user_id.to_string(),
        cashier_name: cashier_name(user_id),
        outlet_code: Some("PUSAT".to_string()),
        items,
        payments,
        subtotal,
        line_discounts: 0,
        discount: 0,
        tax: 0,
        total: subtotal,
        change: paid - subtotal,
    }
}

fn refund(id: &str, local_time: &str, cashier_id: &str, total: i64) -> ReportRefund {
    ReportRefund {
        id: id.to_string(),
        total,
        created_at_ms: wib_ms(local_time),
        cashier_id: cashier_id.to_string(),
        cashier_name: cashier_name(cashier_id),
    }
}

fn sales() -> Vec<ReportSale> {
    let s0 = sale(
        "S0",
        "2025-11-13 23:59:59",
        SARI,
        vec![line(ROTI, 2000, 16000)],
        vec![payment("cash", 20000)],
    );

    let s1 = sale(
        "S1",
        "2025-11-14 08:15:00",
        SARI,
        vec![line(KOPI, 2000, 30000), line(ROTI, 1000, 8000)],
        vec![payment("cash", 50000)],
    );

    // 1.5 kg × 17,500 = 26,250, less a line discount of 250, less a sale discount of 1,000.
    let mut s2 = sale(
        "S2",
        "2025-11-14 09:40:00",
        BUDI,
        vec![line(GULA, 1500, 26000)],
        vec![payment("qris", 10000), payment("cash", 20000)],
    );
    s2.line_discounts = 250;
    s2.discount = 1000;
    s2.total = 25000;
    s2.change = 5000;

    let mut s3 = sale(
        "S3",
        "2025-11-14 12:05:00",
        SARI,
        vec![line(ROTI, 3000, 24000)],
        vec![payment("card", 24000)],
    );
    s3.status = "voided".to_string();

    let mut s4 = sale(
        "S4",
        "2025-11-14 23:30:00",
        BUDI,
        vec![line(KOPI, 1000, 15000), line(ROTI, 2000, 16000)],
        vec![payment("transfer", 31000)],
    );
    s4.status = "partially_refunded".to_string();

    let s5 = sale(
        "S5",
        "2025-11-15 00:10:00",
        SARI,
        vec![line(KOPI, 1000, 15000)],
        vec![payment("cash", 15000)],
    );

    vec![s0, s1, s2, s3, s4, s5]
}

fn refunds() -> Vec<ReportRefund> {
    vec![
        refund("R0", "2025-11-14 10:20:00", SARI, 8000),
        refund("R4", "2025-11-14 23:45:00", BUDI, 8000),
    ]
}

fn product_names() -> HashMap<String, String> {
    [(KOPI, "Kopi Tubruk"), (ROTI, "Roti Bakar"), (GULA, "Gula Pasir")]
        .into_iter()
        .map(|(id, name)| (id.to_string(), name.to_string()))
        .collect()
}

fn builder_for(range: DayRange) -> ReportBuilder {
    let mut builder = ReportBuilder::new(range, WIB_OFFSET_HOURS);
    for sale in sales() {
        builder.add_sale(&sale);
    }
    for refund in refunds() {
        builder.add_refund(&refund);
    }
    builder
}

fn daily(date: &str) -> DailyReport {
    let range = DayRange::day(Some(date)).unwrap();
    builder_for(range).daily(&product_names())
}

/// Returns `(count, net)` of local hour `hour`.
fn hour(by_hour: &[HourRow], hour: u32) -> (i64, i64) {
    let row = &by_hour[hour as usize];
    assert_eq!(row.hour, hour, "by_hour is out of order");
    (row.count, row.net)
}

#[test]
fn daily_headline_figures() {
    let report = daily("2025-11-14");

    assert_eq!(report.date, "2025-11-14");
    assert_eq!(
        report.figures,
        Figures {
            gross: 38000 + 26250 + 31000,
            discounts: 250 + 1000,
            tax: 0,
            total: 38000 + 25000 + 31000,
            refunds: 8000 + 8000,
            net: 94000 - 16000,
            count: 3,
            voids: 1,
        }
    );
}

#[test]
fn daily_payment_methods_are_net_of_change() {
    let report = daily("2025-11-14");

    let expected: BTreeMap<String, i64> = [
        // S1 50,000 − 12,000 change, S2 20,000 − 5,000 change.
        ("cash", 50000 - 12000 + 20000 - 5000),
        ("qris", 10000),
        ("transfer", 31000),
    ]
    .into_iter()
    .map(|(method, amount)| (method.to_string(), amount))
    .collect();
    assert_eq!(report.breakdowns.by_payment_method, expected);
    let sum: i64 = report.breakdowns.by_payment_method.values().sum();
    assert_eq!(sum, report.figures.total);
}

#[test]
fn daily_cashiers_carry_refunds_of_their_sales() {
    let report = daily("2025-11-14");

    assert_eq!(
        report.breakdowns.by_cashier,
        vec![
            CashierRow {
                user_id: BUDI.to_string(),
                name: Some("Budi".to_string()),
                count: 2,
                net: 25000 + 31000 - 8000,
            },
            // R0 refunds Sari's sale of the day before, so it comes off her net of this day.
            CashierRow {
                user_id: SARI.to_string(),
                name: Some("Sari".to_string()),
                count: 1,
                net: 38000 - 8000,
            },
        ]
    );
}

#[test]
fn daily_hours_are_local_and_add_up() {
    let report = daily("2025-11-14");
    let hours = &report.breakdowns.by_hour;

    assert_eq!(hours.len(), 24);
    assert!(hours.iter().enumerate().all(|(index, row)| row.hour as usize == index));
    assert_eq!(hour(hours, 8), (1, 38000));
    assert_eq!(hour(hours, 9), (1, 25000));
    assert_eq!(hour(hours, 10), (0, -8000));
    assert_eq!(hour(hours, 12), (0, 0));
    assert_eq!(hour(hours, 23), (1, 31000 - 8000));
    assert_eq!(hour(hours, 0), (0, 0));
    let count: i64 = hours.iter().map(|row| row.count).sum();
    let net: i64 = hours.iter().map(|row| row.net).sum();
    assert_eq!(count, report.figures.count);
    assert_eq!(net, report.figures.net);
}

#[test]
fn daily_top_products_rank_by_qty_then_net() {
    let report = daily("2025-11-14");

    assert_eq!(
        report.breakdowns.top_products,
        vec![
            // Kopi and roti both sold 3, and kopi's net is higher. S3's voided roti is left out.
            ProductRow {
                product_id: KOPI.to_string(),
                name: Some("Kopi Tubruk".to_string()),
                qty_milli: 3000,
                net: 30000 + 15000,
            },
            ProductRow {
                product_id: ROTI.to_string(),
                name: Some("Roti Bakar".to_string()),
                qty_milli: 3000,
                net: 8000 + 16000,
            },
            ProductRow {
                product_id: GULA.to_string(),
                name: Some("Gula Pasir".to_string()),
                qty_milli: 1500,
                net: 26000,
            },
        ]
    );
}

#[test]
fn sale_after_local_midnight_counts_next_day() {
    let report = daily("2025-11-15");

    assert_eq!(report.figures.count, 1);
    assert_eq!(report.figures.total, 15000);
    assert_eq!(report.figures.refunds, 0);
    assert_eq!(hour(&report.breakdowns.by_hour, 0), (1, 15000));
}

#[test]
fn sale_one_second_before_midnight_counts_that_day() {
    let report = daily("2025-11-13");

    assert_eq!(report.figures.count, 1);
    assert_eq!(report.figures.total, 16000);
    assert_eq!(hour(&report.breakdowns.by_hour, 23), (1, 16000));
}

#[test]
fn zone_offset_moves_late_sale_to_next_day() {
    // S4 at 23:30 WIB is 00:30 on 2025-11-15 in WITA (UTC+8).
    let range = DayRange::day(Some("2025-11-15")).unwrap();
    let mut builder = ReportBuilder::new(range, 8);
    for sale in sales() {
        builder.add_sale(&sale);
    }

    let report = builder.daily(&HashMap::new());

    assert_eq!(report.figures.count, 2);
    assert_eq!(report.figures.total, 31000 + 15000);
    assert_eq!(hour(&report.breakdowns.by_hour, 0), (1, 31000));
    assert_eq!(hour(&report.breakdowns.by_hour, 1), (1, 15000));
}

#[test]
fn empty_day_has_zero_figures_and_24_hours() {
    let report = daily("2025-11-20");

    assert_eq!(report.figures, Figures::default());
    assert!(report.breakdowns.by_payment_method.is_empty());
    assert!(report.breakdowns.by_cashier.is_empty());
    assert!(report.breakdowns.top_products.is_empty());
    assert_eq!(report.breakdowns.by_hour.len(), 24);
}

#[test]
fn summary_adds_up_days_and_lists_each() {
    let range = DayRange::between(Some("2025-11-13"), Some("2025-11-15")).unwrap();

    let report = builder_for(range).summary(&product_names());

    assert_eq!(report.from, "2025-11-13");
    assert_eq!(report.to, "2025-11-15");
    assert_eq!(
        report.figures,
        Figures {
            gross: 16000 + 95250 + 15000,
            discounts: 1250,
            tax: 0,
            total: 16000 + 94000 + 15000,
            refunds: 16000,
            net: 125000 - 16000,
            count: 5,
            voids: 1,
        }
    );
    let dates: Vec<&str> = report.days.iter().map(|day| day.date.as_str()).collect();
    assert_eq!(dates, ["2025-11-13", "2025-11-14", "2025-11-15"]);
    assert_eq!(report.days[1].figures, daily("2025-11-14").figures);
    assert_eq!(report.days[0].by_payment_method.get("cash"), Some(&16000));
    assert_eq!(report.days[2].figures.net, 15000);
}

#[test]
fn summary_breakdowns_cover_whole_range() {
    let range = DayRange::between(Some("2025-11-13"), Some("2025-11-15")).unwrap();

    let report = builder_for(range).summary(&product_names());

    let breakdowns = &report.breakdowns;
    assert_eq!(breakdowns.by_payment_method.get("cash"), Some(&(53000 + 16000 + 15000)));
    let sari = breakdowns.by_cashier.iter().find(|row| row.user_id == SARI).unwrap();
    assert_eq!(sari.count, 3);
    assert_eq!(sari.net, 38000 + 16000 + 15000 - 8000);
    assert_eq!(hour(&breakdowns.by_hour, 23), (2, 16000 + 31000 - 8000));
    let ranked: Vec<(&str, i64)> = breakdowns
        .top_products
        .iter()
        .map(|row| (row.product_id.as_str(), row.qty_milli))
        .collect();
    assert_eq!(ranked, [(ROTI, 5000), (KOPI, 4000), (GULA, 1500)]);
}

#[test]
fn top_products_stop_at_ten() {
    let range = DayRange::day(Some("2025-11-14")).unwrap();
    let mut builder = ReportBuilder::new(range, WIB_OFFSET_HOURS);
    let items = (1..=12)
        .map(|n| line(&format!("p-{n:02}"), n * 1000, n * 1000))
        .collect();
    builder.add_sale(&sale(
        "S",
        "2025-11-14 10:00:00",
        SARI,
        items,
        vec![payment("cash", 78000)],
    ));

    let ids = builder.top_product_ids();

    let expected: Vec<String> = (3..=12).rev().map(|n| format!("p-{n:02}")).collect();
    assert_eq!(ids, expected);
}

#[test]
fn top_products_tie_sorts_by_id() {
    let range = DayRange::day(Some("2025-11-14")).unwrap();
    let mut builder = ReportBuilder::new(range, WIB_OFFSET_HOURS);
    let items = vec![line("p-b", 1000, 5000), line("p-a", 1000, 5000)];
    builder.add_sale(&sale(
        "S",
        "2025-11-14 10:00:00",
        SARI,
        items,
        vec![payment("cash", 10000)],
    ));

    assert_eq!(builder.top_product_ids(), ["p-a", "p-b"]);
}

#[test]
fn unknown_product_name_is_null() {
    let range = DayRange::day(Some("2025-11-14")).unwrap();

    let report = builder_for(range).daily(&HashMap::new());

    assert!(report.breakdowns.top_products.iter().all(|row| row.name.is_none()));
}

#[test]
fn daily_report_serializes_as_documented() {
    let body = serde_json::to_value(daily("2025-11-14")).unwrap();

    for field in [
        "date",
        "gross",
        "discounts",
        "tax",
        "total",
        "refunds",
        "net",
        "count",
        "voids",
        "by_payment_method",
        "by_cashier",
        "by_hour",
        "top_products",
    ] {
        assert!(body.get(field).is_some(), "{field} missing from {body}");
    }
    assert_eq!(body["net"], json!(78000));
    assert_eq!(body["by_payment_method"]["cash"], json!(53000));
    assert_eq!(body["by_cashier"][0]["name"], json!("Budi"));
    assert_eq!(body["top_products"][2]["qty"], json!(1.5));
    assert_eq!(body["top_products"][0]["qty"], json!(3));
}

#[test]
fn summary_serializes_days() {
    let range = DayRange::between(Some("2025-11-13"), Some("2025-11-14")).unwrap();

    let body = serde_json::to_value(builder_for(range).summary(&product_names())).unwrap();

    assert_eq!(body["from"], json!("2025-11-13"));
    assert_eq!(body["to"], json!("2025-11-14"));
    assert_eq!(body["days"][1]["date"], json!("2025-11-14"));
    assert_eq!(body["days"][1]["net"], json!(78000));
    assert_eq!(body["days"][1]["by_payment_method"]["qris"], json!(10000));
}

#[test]
fn day_bounds_follow_zone() {
    let range = DayRange::day(Some("2025-11-14")).unwrap();

    assert_eq!(
        range.bounds_ms(7),
        (wib_ms("2025-11-14 00:00:00"), wib_ms("2025-11-15 00:00:00"))
    );
    let (wit_start, _) = range.bounds_ms(9);
    assert_eq!(wit_start, wib_ms("2025-11-14 00:00:00") - 2 * HOUR_MS);
}

#[test]
fn date_parameter_must_be_exact() {
    assert_eq!(DayRange::day(None), Err(Detail::new("date", "required")));
    for text in [
        "2025-1-14",
        "2025-11-4",
        "25-11-14",
        "+2025-11-14",
        "2025-11-31",
        "2025-02-29",
        "2025/11/14",
        "2025-11-14T00:00:00Z",
        "",
    ] {
        assert_eq!(
            DayRange::day(Some(text)),
            Err(Detail::new("date", "invalid_format")),
            "{text:?}"
        );
    }
    assert!(DayRange::day(Some("2024-02-29")).is_ok());
}

#[test]
fn range_of_366_days_is_accepted() {
    let range = DayRange::between(Some("2024-01-01"), Some("2024-12-31")).unwrap();

    assert_eq!(range.day_count(), 366);
}

#[test]
fn range_of_367_days_is_rejected() {
    let result = DayRange::between(Some("2024-01-01"), Some("2025-01-01"));

    assert_eq!(result, Err(vec![Detail::new("to", "range_too_long")]));
}

#[test]
fn range_ending_before_start_is_rejected() {
    let result = DayRange::between(Some("2025-11-14"), Some("2025-11-13"));

    assert_eq!(result, Err(vec![Detail::new("to", "invalid_range")]));
}

#[test]
fn range_reports_every_bad_parameter() {
    let result = DayRange::between(None, Some("14-11-2025"));

    assert_eq!(
        result,
        Err(vec![
            Detail::new("from", "required"),
            Detail::new("to", "invalid_format"),
        ])
    );
}

#[test]
fn one_day_range_covers_one_day() {
    let range = DayRange::between(Some("2025-11-14"), Some("2025-11-14")).unwrap();

    assert_eq!(range.day_count(), 1);
    assert_eq!(range, DayRange::day(Some("2025-11-14")).unwrap());
}
