//! Reports of a tenant in WITA (UTC+8): days and hours follow the tenant's zone, not WIB.

use chrono::Days;
use serde_json::json;

use crate::{
    hour_row, int_field, item, local_rfc3339, parse_csv, report_shop_with, trading_day, ROTI_PRICE, WIB, WITA,
};

#[test]
fn wita_tenant_reports_its_local_day() {
    let shop = report_shop_with(
        "zonewita",
        json!({"placement": "shared", "timezone": "Asia/Makassar"}),
        WITA,
        "Sari",
        "Budi",
    );
    let day = trading_day(WITA);
    let next_day = day + Days::new(1);
    // 23:30 WITA belongs to the day, but 23:30 WIB is 00:30 WITA of the next day.
    let late_wita = shop.sell(
        &shop.sari,
        &shop.pusat_id,
        &local_rfc3339(day, "23:30:00", WITA),
        vec![item(&shop.roti_id, json!(1), ROTI_PRICE, 0)],
        0,
        json!([{"method": "cash", "amount": 8000}]),
    );
    let late_wib = shop.sell(
        &shop.sari,
        &shop.pusat_id,
        &local_rfc3339(day, "23:30:00", WIB),
        vec![item(&shop.roti_id, json!(2), ROTI_PRICE, 0)],
        0,
        json!([{"method": "cash", "amount": 16000}]),
    );

    let day_report = shop.daily_report(day, &[]);
    let next_report = shop.daily_report(next_day, &[]);
    let csv = shop.daily(&shop.owner, &next_day.to_string(), &[("format", "csv")]);

    assert_eq!(int_field(&day_report, "count"), 1);
    assert_eq!(int_field(&day_report, "total"), int_field(&late_wita, "total"));
    assert_eq!(hour_row(&day_report, 23), (1, 8000));
    assert_eq!(int_field(&next_report, "count"), 1);
    assert_eq!(int_field(&next_report, "total"), int_field(&late_wib, "total"));
    assert_eq!(hour_row(&next_report, 0), (1, 16000));
    csv.expect_status(200);
    let records = parse_csv(csv.text.trim_start_matches('\u{feff}'));
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[1][1], format!("{next_day} 00:30:00"));
}
