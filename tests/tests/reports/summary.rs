//! `GET /v1/reports/summary`: the daily figures over an inclusive range of days, one row per
//! day, and the limits on the range.

use chrono::Days;
use serde_json::Value;

use crate::{
    cashier_row, expect_invalid, hour_row, int_field, local_day_and_hour, post_trading_day, read_payment_methods,
    report_shop, string_field, trading_day, Figures, WIB,
};

#[track_caller]
fn summary_report(shop: &crate::ReportShop, from: &str, to: &str) -> Value {
    let response = shop.summary(&shop.owner, from, to, &[]);
    response.expect_status(200);
    response.json.clone()
}

#[test]
fn summary_days_match_daily_reports() {
    let shop = report_shop("sumdays");
    let sales = post_trading_day(&shop, trading_day(WIB));
    let first = sales.day - Days::new(1);
    let last = sales.day + Days::new(1);

    let summary = summary_report(&shop, &first.to_string(), &last.to_string());

    assert_eq!(summary["from"], first.to_string());
    assert_eq!(summary["to"], last.to_string());
    let days = summary["days"].as_array().cloned().unwrap_or_default();
    assert_eq!(days.len(), 3, "{summary}");
    for (offset, row) in days.iter().enumerate() {
        let date = first + Days::new(offset as u64);
        let daily = shop.daily_report(date, &[]);
        assert_eq!(row["date"], date.to_string());
        assert_eq!(Figures::read(row), Figures::read(&daily), "day {date}");
        assert_eq!(row["by_payment_method"], daily["by_payment_method"], "day {date}");
    }
}

#[test]
fn summary_adds_up_range() {
    let shop = report_shop("sumtotal");
    let sales = post_trading_day(&shop, trading_day(WIB));
    let first = sales.day - Days::new(1);
    let last = sales.day + Days::new(1);

    let summary = summary_report(&shop, &first.to_string(), &last.to_string());

    let mut counted = vec![&sales.before];
    counted.extend(sales.counted_sales());
    counted.push(&sales.after);
    assert_eq!(Figures::read(&summary), Figures::of(&counted, 1, &[]));
    assert_eq!(int_field(&summary, "total"), 16000 + 102000 + 15000);
    assert_eq!(
        read_payment_methods(&summary).get("cash"),
        Some(&(16000 + 53000 + 15000))
    );
    assert_eq!(hour_row(&summary, 23), (2, 16000 + 31000));
    assert_eq!(hour_row(&summary, 0), (2, 8000 + 15000));
    assert_eq!(
        cashier_row(&summary, &shop.sari.user_id),
        ("Sari".to_string(), 3, 16000 + 38000 + 15000)
    );
    let top = summary["top_products"].as_array().cloned().unwrap_or_default();
    assert_eq!(top[0]["product_id"], shop.roti_id.as_str());
    assert_eq!(top[0]["qty"], 6);
    assert_eq!(top[1]["product_id"], shop.kopi_id.as_str());
    assert_eq!(top[1]["qty"], 4);
}

#[test]
fn summary_through_today_takes_off_refunds() {
    let shop = report_shop("sumref");
    let sales = post_trading_day(&shop, trading_day(WIB));
    let (refund_day, _) = local_day_and_hour(&string_field(&sales.late_refund, "created_at"), WIB);

    let summary = summary_report(&shop, &sales.day.to_string(), &refund_day.to_string());

    let days = summary["days"].as_array().cloned().unwrap_or_default();
    assert_eq!(days.len() as i64, (refund_day - sales.day).num_days() + 1);
    let mut counted = sales.counted_sales();
    counted.push(&sales.after);
    assert_eq!(Figures::read(&summary), Figures::of(&counted, 1, &[&sales.late_refund]));
    let last_day = days.last().cloned().unwrap_or_default();
    assert_eq!(int_field(&last_day, "refunds"), int_field(&sales.late_refund, "total"));
    let budi = cashier_row(&summary, &shop.budi.user_id);
    assert_eq!(budi.2, 8000 + 25000 + 31000 - int_field(&sales.late_refund, "total"));
}

#[test]
fn summary_of_366_days_is_accepted() {
    let shop = report_shop("sum366");
    let last = trading_day(WIB);
    let first = last - Days::new(365);

    let summary = summary_report(&shop, &first.to_string(), &last.to_string());

    let days = summary["days"].as_array().cloned().unwrap_or_default();
    assert_eq!(days.len(), 366);
    assert_eq!(days[0]["date"], first.to_string());
    assert_eq!(days[365]["date"], last.to_string());
}

#[test]
fn summary_of_367_days_is_rejected() {
    let shop = report_shop("sum367");
    let last = trading_day(WIB);
    let first = last - Days::new(366);

    let response = shop.summary(&shop.owner, &first.to_string(), &last.to_string(), &[]);

    expect_invalid(&response, "to", "range_too_long");
}

#[test]
fn summary_ending_before_start_is_rejected() {
    let shop = report_shop("sumrev");
    let day = trading_day(WIB);

    let response = shop.summary(&shop.owner, &day.to_string(), &(day - Days::new(1)).to_string(), &[]);

    expect_invalid(&response, "to", "invalid_range");
}

#[test]
fn summary_needs_both_dates() {
    let shop = report_shop("sumneed");
    let day = trading_day(WIB).to_string();

    let without_from = shop.summary(&shop.owner, "", &day, &[]);
    let without_to = shop.summary(&shop.owner, &day, "", &[]);
    let malformed = shop.summary(&shop.owner, "2025/11/14", &day, &[]);

    expect_invalid(&without_from, "from", "required");
    expect_invalid(&without_to, "to", "required");
    expect_invalid(&malformed, "from", "invalid_format");
}
