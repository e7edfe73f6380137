//! `?format=csv`: a UTF-8 file with a byte order mark, CRLF records, RFC 4180 quoting, one
//! record per sale with voided ones included, and text cells that cannot run as formulas.

use chrono::Days;
use serde_json::{json, Value};

use crate::{
    int_field, item, parse_csv, post_trading_day, report_shop, report_shop_with, string_field, trading_day,
    ApiResponse, ReportShop, KOPI_PRICE, ROTI_PRICE, WIB,
};

const HEADER: [&str; 10] = [
    "receipt_no",
    "local_time",
    "cashier",
    "outlet",
    "subtotal",
    "discount",
    "tax",
    "total",
    "payments",
    "status",
];

/// Checks the status, content type and BOM of a CSV response, and returns its records after
/// the header.
#[track_caller]
fn csv_records(response: &ApiResponse) -> Vec<Vec<String>> {
    response.expect_status(200);
    assert_eq!(response.header("content-type"), Some("text/csv; charset=utf-8"));
    let Some(text) = response.text.strip_prefix('\u{feff}') else {
        panic!(
            "the CSV does not start with a UTF-8 BOM: {:?}",
            &response.text[..20.min(response.text.len())]
        );
    };
    let mut records = parse_csv(text);
    assert!(!records.is_empty(), "the CSV has no header");
    let header = records.remove(0);
    assert_eq!(header, HEADER);
    for record in &records {
        assert_eq!(
            record.len(),
            HEADER.len(),
            "record {record:?} has the wrong field count"
        );
    }
    records
}

fn daily_csv(shop: &ReportShop, date: &str, extra: &[(&str, &str)]) -> ApiResponse {
    let mut query = vec![("format", "csv")];
    query.extend_from_slice(extra);
    shop.daily(&shop.owner, date, &query)
}

/// Returns the discount of a stored sale as the CSV writes it: line discounts plus the sale discount.
fn all_discounts(sale: &Value) -> i64 {
    let line_discounts: i64 = sale["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|line| int_field(line, "discount"))
        .sum();
    line_discounts + int_field(sale, "discount")
}

#[test]
fn csv_is_an_attachment_named_by_date() {
    let shop = report_shop("csvname");
    let day = trading_day(WIB);

    let response = daily_csv(&shop, &day.to_string(), &[]);

    response.expect_status(200);
    assert_eq!(
        response.header("content-disposition"),
        Some(format!("attachment; filename=\"laporan-{day}.csv\"").as_str())
    );
}

#[test]
fn csv_has_one_record_per_sale_of_day() {
    let shop = report_shop("csvrows");
    let sales = post_trading_day(&shop, trading_day(WIB));
    let day = sales.day.to_string();

    let records = csv_records(&daily_csv(&shop, &day, &[]));

    let expected = [
        (
            &sales.midnight,
            "00:00:00",
            "Budi",
            &shop.cabang_code,
            "ewallet:8000",
            "completed",
        ),
        (
            &sales.morning,
            "08:15:00",
            "Sari",
            &shop.pusat_code,
            "cash:50000",
            "completed",
        ),
        (
            &sales.sugar,
            "09:40:00",
            "Budi",
            &shop.cabang_code,
            "qris:10000;cash:20000",
            "completed",
        ),
        (
            &sales.voided,
            "12:05:00",
            "Sari",
            &shop.pusat_code,
            "card:24000",
            "voided",
        ),
        (
            &sales.late,
            "23:30:00",
            "Budi",
            &shop.cabang_code,
            "transfer:31000",
            "partially_refunded",
        ),
    ];
    assert_eq!(records.len(), expected.len(), "{records:?}");
    for (record, (sale, time, cashier, outlet, payments, status)) in records.iter().zip(expected) {
        let expected_record = vec![
            string_field(sale, "receipt_no"),
            format!("{day} {time}"),
            cashier.to_string(),
            outlet.to_string(),
            int_field(sale, "subtotal").to_string(),
            all_discounts(sale).to_string(),
            int_field(sale, "tax").to_string(),
            int_field(sale, "total").to_string(),
            payments.to_string(),
            status.to_string(),
        ];
        assert_eq!(*record, expected_record);
    }
}

#[test]
fn csv_totals_match_daily_report() {
    let shop = report_shop("csvsum");
    let sales = post_trading_day(&shop, trading_day(WIB));

    let records = csv_records(&daily_csv(&shop, &sales.day.to_string(), &[]));
    let report = shop.daily_report(sales.day, &[]);

    let counted: Vec<&Vec<String>> = records.iter().filter(|record| record[9] != "voided").collect();
    let column_sum = |index: usize| -> i64 {
        counted
            .iter()
            .map(|record| record[index].parse::<i64>().unwrap_or_else(|_| panic!("{record:?}")))
            .sum()
    };
    assert_eq!(counted.len() as i64, int_field(&report, "count"));
    assert_eq!(column_sum(5), int_field(&report, "discounts"));
    assert_eq!(column_sum(6), int_field(&report, "tax"));
    assert_eq!(column_sum(7), int_field(&report, "total"));
    let voided = records.len() - counted.len();
    assert_eq!(voided as i64, int_field(&report, "voids"));
}

#[test]
fn csv_records_end_with_crlf() {
    let shop = report_shop("csvcrlf");
    let sales = post_trading_day(&shop, trading_day(WIB));

    let response = daily_csv(&shop, &sales.day.to_string(), &[]);

    response.expect_status(200);
    let text = &response.text;
    assert!(text.ends_with("\r\n"), "{text:?}");
    assert_eq!(
        text.matches('\n').count(),
        text.matches("\r\n").count(),
        "a line ends without CR: {text:?}"
    );
    assert_eq!(text.matches("\r\n").count(), 1 + sales.sales_of_day().len());
}

#[test]
fn csv_quotes_and_neutralizes_formulas() {
    let shop = report_shop_with(
        "csvformula",
        json!({"placement": "shared"}),
        WIB,
        "=HYPERLINK(\"http://contoh.test\")",
        "Budi, \"Cabang\"",
    );
    let day = trading_day(WIB);
    let mut body = shop.sale_body(
        &shop.sari,
        &shop.pusat_id,
        &shop.at(day, "10:00:00"),
        vec![item(&shop.kopi_id, json!(1), KOPI_PRICE, 0)],
        0,
        json!([{"method": "cash", "amount": 15000}]),
    );
    body["receipt_no"] = json!("-2+3");
    let formula_sale = shop.post_sale(&shop.sari, &body);
    shop.sell(
        &shop.budi,
        &shop.cabang_id,
        &shop.at(day, "11:00:00"),
        vec![item(&shop.roti_id, json!(1), ROTI_PRICE, 0)],
        0,
        json!([{"method": "cash", "amount": 8000}]),
    );

    let response = daily_csv(&shop, &day.to_string(), &[]);
    let records = csv_records(&response);

    assert_eq!(records.len(), 2);
    assert_eq!(records[0][0], "'-2+3", "receipt of {formula_sale}");
    assert_eq!(records[0][2], "'=HYPERLINK(\"http://contoh.test\")");
    assert_eq!(records[1][2], "Budi, \"Cabang\"");
    assert!(
        response.text.contains(",\"Budi, \"\"Cabang\"\"\","),
        "the name is not quoted as RFC 4180 requires: {:?}",
        response.text
    );
    assert_eq!(records[0][7], "15000", "rupiah fields are never prefixed");
}

#[test]
fn csv_follows_outlet_filter() {
    let shop = report_shop("csvout");
    let sales = post_trading_day(&shop, trading_day(WIB));

    let records = csv_records(&daily_csv(
        &shop,
        &sales.day.to_string(),
        &[("outlet_id", &shop.pusat_id)],
    ));

    let receipts: Vec<&str> = records.iter().map(|record| record[0].as_str()).collect();
    assert_eq!(
        receipts,
        [
            string_field(&sales.morning, "receipt_no"),
            string_field(&sales.voided, "receipt_no"),
        ]
    );
}

#[test]
fn summary_csv_covers_range() {
    let shop = report_shop("csvrange");
    let sales = post_trading_day(&shop, trading_day(WIB));
    let from = (sales.day - Days::new(1)).to_string();
    let to = (sales.day + Days::new(1)).to_string();

    let response = shop.summary(&shop.owner, &from, &to, &[("format", "csv")]);

    let records = csv_records(&response);
    assert_eq!(
        response.header("content-disposition"),
        Some(format!("attachment; filename=\"laporan-{from}_{to}.csv\"").as_str())
    );
    let receipts: Vec<String> = records.iter().map(|record| record[0].clone()).collect();
    let expected: Vec<String> = [
        &sales.before,
        &sales.midnight,
        &sales.morning,
        &sales.sugar,
        &sales.voided,
        &sales.late,
        &sales.after,
    ]
    .iter()
    .map(|sale| string_field(sale, "receipt_no"))
    .collect();
    assert_eq!(receipts, expected);
    assert_eq!(records[0][1], format!("{from} 23:59:59"));
    assert_eq!(records[6][1], format!("{to} 00:10:00"));
}
