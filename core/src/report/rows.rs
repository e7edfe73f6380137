//! Reading report records out of D1 rows, whose numbers arrive as JSON numbers and whose
//! `items` and `payments` arrive as JSON text.

use std::fmt;

use serde_json::{Map, Value};

use crate::money::parse_qty;

use super::{ReportLine, ReportPayment, ReportRefund, ReportSale};

/// A stored row that lacks a column or contains a value the hub never writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidRow {
    pub table: &'static str,
    /// The row's `id`, empty when that is what is missing.
    pub id: String,
    pub column: String,
}

impl fmt::Display for InvalidRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} row {:?} has a missing or invalid {}",
            self.table, self.id, self.column
        )
    }
}

impl std::error::Error for InvalidRow {}

/// Column reader that names the row in its errors.
struct RowReader<'a> {
    table: &'static str,
    row: &'a Map<String, Value>,
    id: String,
}

impl<'a> RowReader<'a> {
    fn new(table: &'static str, row: &'a Map<String, Value>) -> RowReader<'a> {
        let id = row.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        RowReader { table, row, id }
    }

    fn invalid(&self, column: impl Into<String>) -> InvalidRow {
        InvalidRow {
            table: self.table,
            id: self.id.clone(),
            column: column.into(),
        }
    }

    fn text(&self, column: &str) -> Result<String, InvalidRow> {
        self.optional_text(column)?.ok_or_else(|| self.invalid(column))
    }

    fn optional_text(&self, column: &str) -> Result<Option<String>, InvalidRow> {
        match self.row.get(column) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(self.invalid(column)),
        }
    }

    fn int(&self, column: &str) -> Result<i64, InvalidRow> {
        self.row
            .get(column)
            .and_then(Value::as_i64)
            .ok_or_else(|| self.invalid(column))
    }

    /// Parses a column that stores a JSON array as text.
    fn json_array(&self, column: &str) -> Result<Vec<Value>, InvalidRow> {
        let text = self.text(column)?;
        match serde_json::from_str(&text) {
            Ok(Value::Array(values)) => Ok(values),
            _ => Err(self.invalid(column)),
        }
    }
}

impl ReportSale {
    /// Reads a sale from a row with the `transactions` columns `id`, `receipt_no`,
    /// `created_at_ms`, `status`, `user_id`, `items`, `payments`, `subtotal`,
    /// `line_discounts`, `discount`, `tax`, `total` and `change`, plus `cashier_name` (the
    /// user's name) and `outlet_code` (the outlet's code), which may be null.
    ///
    /// # Errors
    /// [`InvalidRow`] naming the first column that is missing or malformed.
    pub fn from_row(row: &Map<String, Value>) -> Result<ReportSale, InvalidRow> {
        let reader = RowReader::new("transactions", row);
        Ok(ReportSale {
            id: reader.text("id")?,
            receipt_no: reader.text("receipt_no")?,
            created_at_ms: reader.int("created_at_ms")?,
            status: reader.text("status")?,
            user_id: reader.text("user_id")?,
            cashier_name: reader.optional_text("cashier_name")?,
            outlet_code: reader.optional_text("outlet_code")?,
            items: read_items(&reader)?,
            payments: read_payments(&reader)?,
            subtotal: reader.int("subtotal")?,
            line_discounts: reader.int("line_discounts")?,
            discount: reader.int("discount")?,
            tax: reader.int("tax")?,
            total: reader.int("total")?,
            change: reader.int("change")?,
        })
    }
}

/// Reads `items`: `[{product_id, qty, unit_price, discount, amount}]` with `qty` a decimal
/// number.
fn read_items(reader: &RowReader) -> Result<Vec<ReportLine>, InvalidRow> {
    let mut lines = Vec::new();
    for (index, item) in reader.json_array("items")?.iter().enumerate() {
        let invalid = |field: &str| reader.invalid(format!("items[{index}].{field}"));
        let product_id = item["product_id"].as_str().ok_or_else(|| invalid("product_id"))?;
        let qty_milli = parse_qty(&item["qty"]).map_err(|_| invalid("qty"))?;
        let amount = item["amount"].as_i64().ok_or_else(|| invalid("amount"))?;
        lines.push(ReportLine {
            product_id: product_id.to_string(),
            qty_milli,
            amount,
        });
    }
    Ok(lines)
}

/// Reads `payments`: `[{method, amount, reference, status}]`.
fn read_payments(reader: &RowReader) -> Result<Vec<ReportPayment>, InvalidRow> {
    let mut payments = Vec::new();
    for (index, payment) in reader.json_array("payments")?.iter().enumerate() {
        let invalid = |field: &str| reader.invalid(format!("payments[{index}].{field}"));
        let method = payment["method"].as_str().ok_or_else(|| invalid("method"))?;
        let amount = payment["amount"].as_i64().ok_or_else(|| invalid("amount"))?;
        payments.push(ReportPayment {
            method: method.to_string(),
            amount,
        });
    }
    Ok(payments)
}

impl ReportRefund {
    /// Reads a refund from a row with the `sale_returns` columns `id`, `total` and
    /// `created_at_ms`, plus `cashier_id` (the user who made the refunded sale) and
    /// `cashier_name` (that user's name, which may be null).
    ///
    /// # Errors
    /// [`InvalidRow`] naming the first column that is missing or malformed.
    pub fn from_row(row: &Map<String, Value>) -> Result<ReportRefund, InvalidRow> {
        let reader = RowReader::new("sale_returns", row);
        Ok(ReportRefund {
            id: reader.text("id")?,
            total: reader.int("total")?,
            created_at_ms: reader.int("created_at_ms")?,
            cashier_id: reader.text("cashier_id")?,
            cashier_name: reader.optional_text("cashier_name")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("expected an object, got {other}"),
        }
    }

    fn sale_row() -> Map<String, Value> {
        object(json!({
            "id": "0190f5c4-7d3a-7b2e-9c1d-000000000010",
            "receipt_no": "PUSAT-K1-251114-0001",
            "created_at_ms": 1_763_082_900_000_i64,
            "status": "completed",
            "user_id": "0190f5c4-7d3a-7b2e-9c1d-000000000020",
            "cashier_name": "Sari",
            "outlet_code": null,
            "items": r#"[{"product_id":"p-gula","qty":1.5,"unit_price":17500,"discount":250,"amount":26000}]"#,
            "payments": r#"[{"method":"qris","amount":10000,"reference":null,"status":"pending"},{"method":"cash","amount":20000,"reference":null,"status":"paid"}]"#,
            "subtotal": 26000,
            "line_discounts": 250,
            "discount": 1000,
            "tax": 0,
            "total": 25000,
            "change": 5000,
        }))
    }

    #[test]
    fn sale_row_is_read_with_exact_quantity() {
        let sale = ReportSale::from_row(&sale_row()).unwrap();

        assert_eq!(sale.receipt_no, "PUSAT-K1-251114-0001");
        assert_eq!(sale.cashier_name.as_deref(), Some("Sari"));
        assert_eq!(sale.outlet_code, None);
        assert_eq!(
            sale.items,
            vec![ReportLine {
                product_id: "p-gula".to_string(),
                qty_milli: 1500,
                amount: 26000,
            }]
        );
        assert_eq!(sale.payments.len(), 2);
        assert_eq!(sale.payments[1].method, "cash");
        assert_eq!(sale.payments[1].amount, 20000);
        assert_eq!(sale.gross(), 26250);
        assert_eq!(sale.all_discounts(), 1250);
        assert_eq!(sale.change, 5000);
    }

    #[test]
    fn sale_row_with_malformed_items_is_rejected() {
        let mut row = sale_row();
        row.insert("items".to_string(), json!("not json"));

        let error = ReportSale::from_row(&row).unwrap_err();

        assert_eq!(error.table, "transactions");
        assert_eq!(error.id, "0190f5c4-7d3a-7b2e-9c1d-000000000010");
        assert_eq!(error.column, "items");
    }

    #[test]
    fn sale_row_with_text_quantity_names_the_line() {
        let mut row = sale_row();
        row.insert(
            "items".to_string(),
            json!(r#"[{"product_id":"p-gula","qty":"1.5","amount":26000}]"#),
        );

        let error = ReportSale::from_row(&row).unwrap_err();

        assert_eq!(error.column, "items[0].qty");
    }

    #[test]
    fn sale_row_without_total_is_rejected() {
        let mut row = sale_row();
        row.remove("total");

        let error = ReportSale::from_row(&row).unwrap_err();

        assert_eq!(error.column, "total");
    }

    #[test]
    fn refund_row_is_read() {
        let row = object(json!({
            "id": "r-1",
            "total": 8000,
            "created_at_ms": 1_763_100_000_000_i64,
            "cashier_id": "u-1",
            "cashier_name": null,
        }));

        let refund = ReportRefund::from_row(&row).unwrap();

        assert_eq!(
            refund,
            ReportRefund {
                id: "r-1".to_string(),
                total: 8000,
                created_at_ms: 1_763_100_000_000,
                cashier_id: "u-1".to_string(),
                cashier_name: None,
            }
        );
    }
}
