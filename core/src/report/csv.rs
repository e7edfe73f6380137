//! The CSV export of a report's sales: one record per sale, voided sales included.

use chrono::DateTime;

use super::{ReportSale, HOUR_MS};

/// The header record. `discount` is line plus sale discounts, and `payments` lists each
/// payment as tendered, as `method:amount` joined by `;`.
pub const CSV_COLUMNS: [&str; 10] = [
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

/// First characters that make Excel, LibreOffice Calc or Google Sheets read a cell as a
/// formula. CWE-1236 names `=`, `+`, `-` and `@`. Some spreadsheets also read a cell that
/// starts with a tab or a carriage return as a formula, so those two get the prefix too.
const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A CSV document of sales, written one sale at a time.
///
/// The text starts with a UTF-8 byte order mark, because Excel otherwise reads a CSV file in
/// the system's legacy code page. Records end with CRLF, and fields that contain a comma, a
/// double quote or a line break are quoted as RFC 4180 specifies. A text field that starts with
/// a formula character gets a leading `'`, which spreadsheets show as text. Rupiah fields are
/// never changed.
#[derive(Clone, Debug)]
pub struct SalesCsv {
    text: String,
    utc_offset_hours: i64,
}

impl SalesCsv {
    /// Starts a document with the byte order mark and the header record, for a zone
    /// `utc_offset_hours` east of UTC.
    pub fn new(utc_offset_hours: i64) -> SalesCsv {
        let mut text = String::from('\u{feff}');
        text.push_str(&CSV_COLUMNS.join(","));
        text.push_str("\r\n");
        SalesCsv { text, utc_offset_hours }
    }

    /// Appends the record of `sale`.
    pub fn push_sale(&mut self, sale: &ReportSale) {
        let payments: Vec<String> = sale
            .payments
            .iter()
            .map(|payment| format!("{}:{}", payment.method, payment.amount))
            .collect();
        let fields = [
            text_field(&sale.receipt_no),
            text_field(&local_time(sale.created_at_ms, self.utc_offset_hours)),
            text_field(sale.cashier_name.as_deref().unwrap_or_default()),
            text_field(sale.outlet_code.as_deref().unwrap_or_default()),
            sale.subtotal.to_string(),
            sale.all_discounts().to_string(),
            sale.tax.to_string(),
            sale.total.to_string(),
            text_field(&payments.join(";")),
            text_field(&sale.status),
        ];
        self.text.push_str(&fields.join(","));
        self.text.push_str("\r\n");
    }

    /// Returns the document.
    pub fn finish(self) -> String {
        self.text
    }
}

/// Formats Unix milliseconds as `YYYY-MM-DD HH:MM:SS` in a zone `utc_offset_hours` east of
/// UTC. Returns an empty string for a time chrono cannot represent.
pub fn local_time(at_ms: i64, utc_offset_hours: i64) -> String {
    DateTime::from_timestamp_millis(at_ms + utc_offset_hours * HOUR_MS)
        .map(|time| time.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// Neutralizes a formula and then quotes the text when RFC 4180 requires it.
fn text_field(value: &str) -> String {
    let value = if value.starts_with(FORMULA_TRIGGERS) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ReportPayment;

    /// 2025-11-14 08:15:00 WIB.
    const MORNING_MS: i64 = 1_763_082_900_000;

    fn sale() -> ReportSale {
        ReportSale {
            id: "s-1".to_string(),
            receipt_no: "PUSAT-K1-251114-0001".to_string(),
            created_at_ms: MORNING_MS,
            status: "completed".to_string(),
            user_id: "u-1".to_string(),
            cashier_name: Some("Sari".to_string()),
            outlet_code: Some("PUSAT".to_string()),
            items: Vec::new(),
            payments: vec![
                ReportPayment {
                    method: "qris".to_string(),
                    amount: 10000,
                },
                ReportPayment {
                    method: "cash".to_string(),
                    amount: 20000,
                },
            ],
            subtotal: 26000,
            line_discounts: 250,
            discount: 1000,
            tax: 0,
            total: 25000,
            change: 5000,
        }
    }

    fn single_record(sale: &ReportSale) -> String {
        let mut csv = SalesCsv::new(7);
        csv.push_sale(sale);
        let text = csv.finish();
        let header_end = text.find("\r\n").unwrap() + 2;
        text[header_end..].to_string()
    }

    #[test]
    fn document_starts_with_bom_and_header() {
        let text = SalesCsv::new(7).finish();

        assert_eq!(
            text,
            "\u{feff}receipt_no,local_time,cashier,outlet,subtotal,discount,tax,total,payments,status\r\n"
        );
    }

    #[test]
    fn record_has_local_time_discounts_and_payments() {
        let record = single_record(&sale());

        assert_eq!(
            record,
            "PUSAT-K1-251114-0001,2025-11-14 08:15:00,Sari,PUSAT,26000,1250,0,25000,qris:10000;cash:20000,completed\r\n"
        );
    }

    #[test]
    fn local_time_uses_zone_offset() {
        // 2025-11-14 16:30:00 UTC is 23:30 in WIB, 00:30 the next day in WITA.
        let at_ms = 1_763_137_800_000;

        assert_eq!(local_time(at_ms, 7), "2025-11-14 23:30:00");
        assert_eq!(local_time(at_ms, 8), "2025-11-15 00:30:00");
        assert_eq!(local_time(at_ms, 9), "2025-11-15 01:30:00");
    }

    #[test]
    fn field_with_comma_or_quote_is_quoted() {
        let mut sale = sale();
        sale.cashier_name = Some("Ani \"Bu\" Sari, S.E.".to_string());

        let record = single_record(&sale);

        assert!(
            record.contains(",\"Ani \"\"Bu\"\" Sari, S.E.\","),
            "cashier is not quoted in {record:?}"
        );
    }

    #[test]
    fn field_with_line_break_is_quoted() {
        let mut sale = sale();
        sale.cashier_name = Some("Sari\r\nBaris dua".to_string());

        let record = single_record(&sale);

        assert!(
            record.contains(",\"Sari\r\nBaris dua\","),
            "cashier is not quoted in {record:?}"
        );
    }

    #[test]
    fn formula_text_gets_leading_apostrophe() {
        for (name, expected) in [
            ("=HYPERLINK(\"http://x\")", "\"'=HYPERLINK(\"\"http://x\"\")\""),
            ("+62 812", "'+62 812"),
            ("-Budi", "'-Budi"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tTab", "'\tTab"),
            ("Budi = kasir", "Budi = kasir"),
        ] {
            let mut sale = sale();
            sale.cashier_name = Some(name.to_string());

            let record = single_record(&sale);

            let cashier_field = format!("2025-11-14 08:15:00,{expected},PUSAT,");
            assert!(record.contains(&cashier_field), "{name:?} became {record:?}");
        }
    }

    #[test]
    fn receipt_number_formula_is_neutralized() {
        let mut sale = sale();
        sale.receipt_no = "=1+2".to_string();

        let record = single_record(&sale);

        assert!(record.starts_with("'=1+2,"), "{record:?}");
    }

    #[test]
    fn missing_names_are_empty_fields() {
        let mut sale = sale();
        sale.cashier_name = None;
        sale.outlet_code = None;

        let record = single_record(&sale);

        assert!(record.contains(",2025-11-14 08:15:00,,,26000,"), "{record:?}");
    }

    #[test]
    fn voided_sale_is_written_with_its_status() {
        let mut sale = sale();
        sale.status = "voided".to_string();

        let record = single_record(&sale);

        assert!(record.ends_with(",voided\r\n"), "{record:?}");
    }
}
