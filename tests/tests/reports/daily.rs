//! `GET /v1/reports/daily`: every figure against the sales posted, local day bounds, outlets,
//! voids, refunds and tax.

use std::collections::BTreeMap;

use chrono::Days;
use serde_json::{json, Value};

use crate::{
    api, cashier_row, hour_row, int_field, item, local_day_and_hour, local_rfc3339, local_today, payments_by_method,
    post_trading_day, read_payment_methods, report_shop, string_field, trading_day, wait_until_clear_of_midnight,
    Figures, GULA_PRICE, KOPI_PRICE, ROTI_PRICE, WIB,
};

#[test]
fn daily_figures_equal_posted_sales() {
    let shop = report_shop("repfig");
    let sales = post_trading_day(&shop, trading_day(WIB));

    let report = shop.daily_report(sales.day, &[]);

    assert_eq!(report["date"], json!(sales.day.to_string()));
    assert_eq!(Figures::read(&report), Figures::of(&sales.counted_sales(), 1, &[]));
    assert_eq!(
        Figures::read(&report),
        Figures {
            gross: 8000 + 38000 + 26250 + 31000,
            discounts: 250 + 1000,
            tax: 0,
            total: 8000 + 38000 + 25000 + 31000,
            refunds: 0,
            net: 102000,
            count: 4,
            voids: 1,
        }
    );
}

#[test]
fn daily_payment_methods_are_net_of_change() {
    let shop = report_shop("reppay");
    let sales = post_trading_day(&shop, trading_day(WIB));

    let report = shop.daily_report(sales.day, &[]);

    let methods = read_payment_methods(&report);
    assert_eq!(methods, payments_by_method(&sales.counted_sales()));
    let expected: BTreeMap<String, i64> = [
        ("cash", 50000 - 12000 + 20000 - 5000),
        ("ewallet", 8000),
        ("qris", 10000),
        ("transfer", 31000),
    ]
    .into_iter()
    .map(|(method, amount)| (method.to_string(), amount))
    .collect();
    assert_eq!(methods, expected, "the voided card sale must not count");
    assert_eq!(methods.values().sum::<i64>(), int_field(&report, "total"));
}

#[test]
fn daily_cashiers_are_sorted_by_net() {
    let shop = report_shop("repcash");
    let sales = post_trading_day(&shop, trading_day(WIB));

    let report = shop.daily_report(sales.day, &[]);

    assert_eq!(
        report["by_cashier"],
        json!([
            {"user_id": shop.budi.user_id, "name": "Budi", "count": 3, "net": 8000 + 25000 + 31000},
            {"user_id": shop.sari.user_id, "name": "Sari", "count": 1, "net": 38000},
        ])
    );
}

#[test]
fn daily_hours_are_local_hours() {
    let shop = report_shop("rephour");
    let sales = post_trading_day(&shop, trading_day(WIB));

    let report = shop.daily_report(sales.day, &[]);

    let rows = report["by_hour"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 24, "{report}");
    assert_eq!(hour_row(&report, 0), (1, 8000));
    assert_eq!(hour_row(&report, 8), (1, 38000));
    assert_eq!(hour_row(&report, 9), (1, 25000));
    assert_eq!(hour_row(&report, 12), (0, 0), "the voided sale must not count");
    assert_eq!(hour_row(&report, 23), (1, 31000));
    let count: i64 = rows.iter().map(|row| int_field(row, "count")).sum();
    let net: i64 = rows.iter().map(|row| int_field(row, "net")).sum();
    assert_eq!(count, int_field(&report, "count"));
    assert_eq!(net, int_field(&report, "net"));
}

#[test]
fn daily_top_products_rank_by_quantity() {
    let shop = report_shop("reptop");
    let sales = post_trading_day(&shop, trading_day(WIB));

    let report = shop.daily_report(sales.day, &[]);

    assert_eq!(
        report["top_products"],
        json!([
            {"product_id": shop.roti_id, "name": "Roti Bakar", "qty": 4, "net": 4 * ROTI_PRICE},
            {"product_id": shop.kopi_id, "name": "Kopi Tubruk", "qty": 3, "net": 3 * KOPI_PRICE},
            {"product_id": shop.gula_id, "name": "Gula Pasir", "qty": 1.5, "net": GULA_PRICE * 3 / 2 - 250},
        ])
    );
}

#[test]
fn sales_near_midnight_count_on_local_day() {
    let shop = report_shop("repmid");
    let sales = post_trading_day(&shop, trading_day(WIB));

    let previous = shop.daily_report(sales.day - Days::new(1), &[]);
    let next = shop.daily_report(sales.day + Days::new(1), &[]);

    assert_eq!(Figures::read(&previous), Figures::of(&[&sales.before], 0, &[]));
    assert_eq!(hour_row(&previous, 23), (1, 16000));
    assert_eq!(Figures::read(&next), Figures::of(&[&sales.after], 0, &[]));
    assert_eq!(hour_row(&next, 0), (1, 15000));
}

#[test]
fn refund_counts_on_day_it_is_issued() {
    let shop = report_shop("repref");
    let sales = post_trading_day(&shop, trading_day(WIB));
    let refund_total = int_field(&sales.late_refund, "total");
    let (refund_day, refund_hour) = local_day_and_hour(&string_field(&sales.late_refund, "created_at"), WIB);

    let sale_day = shop.daily_report(sales.day, &[]);
    let issue_day = shop.daily_report(refund_day, &[]);

    assert_eq!(refund_total, ROTI_PRICE, "one of two roti at 8,000");
    assert_eq!(int_field(&sale_day, "refunds"), 0);
    assert_eq!(Figures::read(&issue_day), Figures::of(&[], 0, &[&sales.late_refund]));
    assert_eq!(int_field(&issue_day, "net"), -refund_total);
    assert_eq!(
        cashier_row(&issue_day, &shop.budi.user_id),
        ("Budi".to_string(), 0, -refund_total),
        "the refund comes off the cashier of the refunded sale"
    );
    assert_eq!(hour_row(&issue_day, refund_hour), (0, -refund_total));
    assert_eq!(issue_day["top_products"], json!([]));
}

#[test]
fn same_day_refund_reduces_net() {
    wait_until_clear_of_midnight(WIB);
    let shop = report_shop("repsame");
    let today = local_today(WIB);
    let sale = shop.sell(
        &shop.budi,
        &shop.cabang_id,
        &shop.at(today, "00:00:01"),
        vec![
            item(&shop.kopi_id, json!(2), KOPI_PRICE, 0),
            item(&shop.roti_id, json!(2), ROTI_PRICE, 0),
        ],
        2000,
        json!([{"method": "qris", "amount": 44000}]),
    );
    let first = shop.refund(&sale, &shop.kopi_id, json!(1));
    let second = shop.refund(&sale, &shop.kopi_id, json!(1));

    let report = shop.daily_report(today, &[]);

    // A kopi line is 30,000 of a 46,000 subtotal, so each kopi carries 2,000 × 15/46 of the
    // sale discount: 15,000 − 652.17, rounded half up.
    assert_eq!(int_field(&first, "total"), 14348);
    assert_eq!(int_field(&first, "total") + int_field(&second, "total"), 30000 - 1304);
    assert_eq!(Figures::read(&report), Figures::of(&[&sale], 0, &[&first, &second]));
    assert_eq!(int_field(&report, "count"), 1, "a refunded sale still counts");
    assert_eq!(read_payment_methods(&report).get("qris"), Some(&44000));
    let net = int_field(&report, "net");
    assert_eq!(net, 44000 - 30000 + 1304);
    assert_eq!(cashier_row(&report, &shop.budi.user_id), ("Budi".to_string(), 1, net));
}

#[test]
fn outlet_filter_limits_sales_and_refunds() {
    let shop = report_shop("repout");
    let sales = post_trading_day(&shop, trading_day(WIB));
    let (refund_day, _) = local_day_and_hour(&string_field(&sales.late_refund, "created_at"), WIB);

    let cabang = shop.daily_report(sales.day, &[("outlet_id", &shop.cabang_id)]);
    let pusat = shop.daily_report(sales.day, &[("outlet_id", &shop.pusat_id)]);
    let cabang_refunds = shop.daily_report(refund_day, &[("outlet_id", &shop.cabang_id)]);
    let pusat_refunds = shop.daily_report(refund_day, &[("outlet_id", &shop.pusat_id)]);

    assert_eq!(
        Figures::read(&cabang),
        Figures::of(&[&sales.midnight, &sales.sugar, &sales.late], 0, &[])
    );
    assert_eq!(Figures::read(&pusat), Figures::of(&[&sales.morning], 1, &[]));
    assert_eq!(
        int_field(&cabang_refunds, "refunds"),
        int_field(&sales.late_refund, "total")
    );
    assert_eq!(int_field(&pusat_refunds, "refunds"), 0);
}

#[test]
fn unknown_outlet_reports_nothing() {
    let shop = report_shop("repnoout");
    let sales = post_trading_day(&shop, trading_day(WIB));

    let report = shop.daily_report(sales.day, &[("outlet_id", "0190f5c4-7d3a-7b2e-9c1d-000000000999")]);

    assert_eq!(Figures::read(&report), Figures::default());
}

#[test]
fn empty_day_reports_zeros() {
    let shop = report_shop("repempty");

    let report = shop.daily_report(trading_day(WIB), &[]);

    assert_eq!(Figures::read(&report), Figures::default());
    assert_eq!(report["by_payment_method"], json!({}));
    assert_eq!(report["by_cashier"], json!([]));
    assert_eq!(report["top_products"], json!([]));
    let rows = report["by_hour"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 24);
    assert!(rows.iter().all(|row| row["count"] == 0 && row["net"] == 0), "{report}");
}

#[test]
fn daily_adds_up_tax() {
    let shop = report_shop("reptax");
    api()
        .patch("/v1/tenant")
        .bearer(&shop.owner.access_token)
        .json(&json!({"tax": {"enabled": true}}))
        .expect_status(200);
    let day = trading_day(WIB);
    // PPN 12 % on a DPP of 11/12 is 11 % of the price after discounts.
    let coffee: Value = shop.sell(
        &shop.sari,
        &shop.pusat_id,
        &local_rfc3339(day, "10:00:00", WIB),
        vec![item(&shop.kopi_id, json!(2), KOPI_PRICE, 0)],
        0,
        json!([{"method": "cash", "amount": 40000}]),
    );
    let sugar = shop.sell(
        &shop.budi,
        &shop.cabang_id,
        &local_rfc3339(day, "11:00:00", WIB),
        vec![item(&shop.gula_id, json!(1.5), GULA_PRICE, 250)],
        1000,
        json!([{"method": "card", "amount": 27750}]),
    );

    let report = shop.daily_report(day, &[]);

    assert_eq!(int_field(&coffee, "tax"), 3300, "{coffee}");
    assert_eq!(int_field(&sugar, "tax"), 2750, "{sugar}");
    assert_eq!(Figures::read(&report), Figures::of(&[&coffee, &sugar], 0, &[]));
    assert_eq!(int_field(&report, "tax"), 3300 + 2750);
    assert_eq!(int_field(&report, "total"), 33300 + 27750);
    assert_eq!(read_payment_methods(&report), payments_by_method(&[&coffee, &sugar]));
}
