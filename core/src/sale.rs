//! A sale as a client sends it: parsing, pricing against the server's figures, and the body
//! hash that distinguishes a replay from a different sale under the same id.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::entity::{whole_number, UnknownFields};
use crate::error::Detail;
use crate::money::{
    compute_sale, format_qty, parse_qty, LineInput, PaymentInput, PaymentMethod, SaleTotals, TaxSettings,
};
use crate::validate::{format_rfc3339_millis, parse_rfc3339_millis, parse_uuid};

/// Maximum receipt number length in characters; `{outlet}-{device}-{YYMMDD}-{seq}` fits well within it.
pub const MAX_RECEIPT_NO_CHARS: usize = 64;
/// A sale carries at most this many lines, far above any real basket.
pub const MAX_ITEMS: usize = 1000;
const MAX_PAYMENTS: usize = 20;
const MAX_NOTE_CHARS: usize = 1000;
const MAX_REFERENCE_CHARS: usize = 128;

const SALE_FIELDS: [&str; 14] = [
    "id",
    "outlet_id",
    "device_id",
    "receipt_no",
    "created_at",
    "shift_id",
    "customer_id",
    "items",
    "discount",
    "payments",
    "subtotal",
    "tax",
    "total",
    "note",
];
const ITEM_FIELDS: [&str; 4] = ["product_id", "qty", "unit_price", "discount"];
const PAYMENT_FIELDS: [&str; 4] = ["method", "amount", "reference", "status"];

#[derive(Clone, Debug, PartialEq)]
pub struct SaleItem {
    pub product_id: String,
    pub qty_milli: i64,
    pub unit_price: i64,
    pub discount: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SalePayment {
    pub method: PaymentMethod,
    pub amount: i64,
    pub reference: Option<String>,
    /// `paid`, or `pending` for a QRIS payment taken offline.
    pub status: String,
}

/// A parsed, well-formed sale; references to other records are not checked here.
#[derive(Clone, Debug, PartialEq)]
pub struct SaleInput {
    pub id: String,
    pub outlet_id: String,
    pub device_id: String,
    pub receipt_no: String,
    /// `created_at` normalized to RFC 3339 UTC.
    pub created_at: String,
    pub created_at_ms: i64,
    pub shift_id: Option<String>,
    pub customer_id: Option<String>,
    pub items: Vec<SaleItem>,
    pub discount: i64,
    pub payments: Vec<SalePayment>,
    pub client_subtotal: Option<i64>,
    pub client_tax: Option<i64>,
    pub client_total: Option<i64>,
    pub note: Option<String>,
    /// Unknown fields dropped in sync mode.
    pub ignored: Vec<String>,
}

/// Parses a sale body.
///
/// # Errors
/// Returns every failing field as a detail; in `Reject` mode an unknown field is one.
pub fn parse_sale(body: &Value, unknown: UnknownFields) -> Result<SaleInput, Vec<Detail>> {
    let Some(object) = body.as_object() else {
        return Err(vec![Detail::new("", "invalid_type")]);
    };
    let mut details = Vec::new();
    let mut ignored = Vec::new();
    check_unknown(object, &SALE_FIELDS, "", unknown, &mut details, &mut ignored);

    let id = required_uuid(object, "id", "id", &mut details);
    let outlet_id = required_uuid(object, "outlet_id", "outlet_id", &mut details);
    let device_id = required_uuid(object, "device_id", "device_id", &mut details);
    let shift_id = optional_uuid(object, "shift_id", &mut details);
    let customer_id = optional_uuid(object, "customer_id", &mut details);
    let receipt_no = required_text(object, "receipt_no", MAX_RECEIPT_NO_CHARS, &mut details);
    let note = optional_text(object, "note", MAX_NOTE_CHARS, "note", &mut details);

    let created_at_ms = match object.get("created_at") {
        Some(Value::String(text)) => match parse_rfc3339_millis(text) {
            Some(millis) => millis,
            None => {
                details.push(Detail::new("created_at", "invalid_format"));
                0
            }
        },
        Some(_) => {
            details.push(Detail::new("created_at", "invalid_type"));
            0
        }
        None => {
            details.push(Detail::new("created_at", "required"));
            0
        }
    };

    let discount = match object.get("discount") {
        None | Some(Value::Null) => 0,
        Some(value) => amount(value, "discount", &mut details),
    };
    let client_subtotal = optional_amount(object, "subtotal", &mut details);
    let client_tax = optional_amount(object, "tax", &mut details);
    let client_total = optional_amount(object, "total", &mut details);

    let items = parse_items(object.get("items"), unknown, &mut details, &mut ignored);
    let payments = parse_payments(object.get("payments"), unknown, &mut details, &mut ignored);

    if !details.is_empty() {
        return Err(details);
    }
    Ok(SaleInput {
        id,
        outlet_id,
        device_id,
        receipt_no,
        created_at: format_rfc3339_millis(created_at_ms),
        created_at_ms,
        shift_id,
        customer_id,
        items,
        discount,
        payments,
        client_subtotal,
        client_tax,
        client_total,
        note,
        ignored,
    })
}

fn parse_items(
    value: Option<&Value>,
    unknown: UnknownFields,
    details: &mut Vec<Detail>,
    ignored: &mut Vec<String>,
) -> Vec<SaleItem> {
    let Some(list) = value.and_then(Value::as_array) else {
        let code = if value.is_none() { "required" } else { "invalid_type" };
        details.push(Detail::new("items", code));
        return Vec::new();
    };
    if list.is_empty() {
        details.push(Detail::new("items", "no_items"));
    }
    if list.len() > MAX_ITEMS {
        details.push(Detail::new("items", "too_long"));
        return Vec::new();
    }
    let mut items = Vec::new();
    for (index, item) in list.iter().enumerate() {
        let prefix = format!("items[{index}]");
        let Some(object) = item.as_object() else {
            details.push(Detail::new(prefix, "invalid_type"));
            continue;
        };
        check_unknown(object, &ITEM_FIELDS, &prefix, unknown, details, ignored);
        let product_id = required_uuid(object, "product_id", &format!("{prefix}.product_id"), details);
        let qty_milli = match object.get("qty") {
            None => {
                details.push(Detail::new(format!("{prefix}.qty"), "required"));
                0
            }
            Some(value) => match parse_qty(value) {
                Ok(milli) => milli,
                Err(_) => {
                    details.push(Detail::new(format!("{prefix}.qty"), "invalid_quantity"));
                    0
                }
            },
        };
        let unit_price = match object.get("unit_price") {
            None => {
                details.push(Detail::new(format!("{prefix}.unit_price"), "required"));
                0
            }
            Some(value) => amount(value, &format!("{prefix}.unit_price"), details),
        };
        let discount = match object.get("discount") {
            None | Some(Value::Null) => 0,
            Some(value) => amount(value, &format!("{prefix}.discount"), details),
        };
        items.push(SaleItem {
            product_id,
            qty_milli,
            unit_price,
            discount,
        });
    }
    items
}

fn parse_payments(
    value: Option<&Value>,
    unknown: UnknownFields,
    details: &mut Vec<Detail>,
    ignored: &mut Vec<String>,
) -> Vec<SalePayment> {
    let Some(list) = value.and_then(Value::as_array) else {
        let code = if value.is_none() { "required" } else { "invalid_type" };
        details.push(Detail::new("payments", code));
        return Vec::new();
    };
    if list.is_empty() {
        details.push(Detail::new("payments", "no_payments"));
    }
    if list.len() > MAX_PAYMENTS {
        details.push(Detail::new("payments", "too_long"));
        return Vec::new();
    }
    let mut payments = Vec::new();
    for (index, payment) in list.iter().enumerate() {
        let prefix = format!("payments[{index}]");
        let Some(object) = payment.as_object() else {
            details.push(Detail::new(prefix, "invalid_type"));
            continue;
        };
        check_unknown(object, &PAYMENT_FIELDS, &prefix, unknown, details, ignored);
        let method = match object.get("method").and_then(Value::as_str) {
            Some(text) => match PaymentMethod::parse(text) {
                Some(method) => method,
                None => {
                    details.push(Detail::new(format!("{prefix}.method"), "invalid_format"));
                    PaymentMethod::Cash
                }
            },
            None => {
                details.push(Detail::new(format!("{prefix}.method"), "required"));
                PaymentMethod::Cash
            }
        };
        let amount = match object.get("amount") {
            None => {
                details.push(Detail::new(format!("{prefix}.amount"), "required"));
                0
            }
            Some(value) => amount(value, &format!("{prefix}.amount"), details),
        };
        let reference = optional_text(
            object,
            "reference",
            MAX_REFERENCE_CHARS,
            &format!("{prefix}.reference"),
            details,
        );
        let status = match object.get("status") {
            None | Some(Value::Null) => "paid".to_string(),
            Some(Value::String(text)) if text == "paid" || text == "pending" => text.clone(),
            Some(_) => {
                details.push(Detail::new(format!("{prefix}.status"), "invalid_format"));
                "paid".to_string()
            }
        };
        payments.push(SalePayment {
            method,
            amount,
            reference,
            status,
        });
    }
    payments
}

/// Computes the server's figures and compares them with any the client sent.
///
/// # Errors
/// Returns details such as `underpaid` or `total_mismatch` (with both figures).
pub fn price_sale(sale: &SaleInput, tax: &TaxSettings) -> Result<SaleTotals, Vec<Detail>> {
    let lines: Vec<LineInput> = sale
        .items
        .iter()
        .map(|item| LineInput {
            qty_milli: item.qty_milli,
            unit_price: item.unit_price,
            discount: item.discount,
        })
        .collect();
    let payments: Vec<PaymentInput> = sale
        .payments
        .iter()
        .map(|payment| PaymentInput {
            method: payment.method,
            amount: payment.amount,
        })
        .collect();
    let totals = compute_sale(&lines, sale.discount, &payments, tax)
        .map_err(|error| vec![Detail::new(error.field(), error.code())])?;

    let mut details = Vec::new();
    for (field, code, client, server) in [
        ("subtotal", "subtotal_mismatch", sale.client_subtotal, totals.subtotal),
        ("tax", "tax_mismatch", sale.client_tax, totals.tax),
        ("total", "total_mismatch", sale.client_total, totals.total),
    ] {
        if let Some(client) = client {
            if client != server {
                details.push(Detail::new(field, code).with_figures(json!(server), json!(client)));
            }
        }
    }
    if details.is_empty() {
        Ok(totals)
    } else {
        Err(details)
    }
}

/// Items as stored and returned: the client's line plus the server's line amount.
pub fn items_json(sale: &SaleInput, totals: &SaleTotals) -> Value {
    let items: Vec<Value> = sale
        .items
        .iter()
        .zip(totals.line_amounts.iter())
        .map(|(item, line_amount)| {
            json!({
                "product_id": item.product_id,
                "qty": format_qty(item.qty_milli),
                "unit_price": item.unit_price,
                "discount": item.discount,
                "amount": line_amount,
            })
        })
        .collect();
    Value::Array(items)
}

pub fn payments_json(sale: &SaleInput) -> Value {
    let payments: Vec<Value> = sale
        .payments
        .iter()
        .map(|payment| {
            json!({
                "method": payment.method.as_str(),
                "amount": payment.amount,
                "reference": payment.reference,
                "status": payment.status,
            })
        })
        .collect();
    Value::Array(payments)
}

/// Hashes what makes a sale the same sale: the parsed fields, without the client's own
/// figures (they are checked against the server's) or ignored fields. So a replay that spells
/// an id in upper case or adds a correct `total` is still the same sale.
pub fn sale_hash(sale: &SaleInput) -> String {
    let items: Vec<Value> = sale
        .items
        .iter()
        .map(|item| json!([item.product_id, item.qty_milli, item.unit_price, item.discount]))
        .collect();
    let payments: Vec<Value> = sale
        .payments
        .iter()
        .map(|payment| {
            json!([
                payment.method.as_str(),
                payment.amount,
                payment.reference,
                payment.status
            ])
        })
        .collect();
    body_hash(&json!({
        "id": sale.id,
        "outlet_id": sale.outlet_id,
        "device_id": sale.device_id,
        "receipt_no": sale.receipt_no,
        "created_at_ms": sale.created_at_ms,
        "shift_id": sale.shift_id,
        "customer_id": sale.customer_id,
        "items": items,
        "discount": sale.discount,
        "payments": payments,
        "note": sale.note,
    }))
}

/// Derives a stable UUID-shaped id from parts, for records the server writes on behalf of
/// another (the stock movements of a sale line), so a replay derives the same id.
pub fn derived_id(parts: &[&str]) -> String {
    let digest = Sha256::digest(parts.join("\u{1f}").as_bytes());
    let hex: String = digest.iter().take(16).map(|byte| format!("{byte:02x}")).collect();
    // Version nibble 8 marks a custom (RFC 9562) UUID, variant bits 10.
    let variant = ["8", "9", "a", "b"][usize::from(digest[8] & 0x03)];
    format!(
        "{}-{}-8{}-{}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        variant,
        &hex[17..20],
        &hex[20..32]
    )
}

/// Hashes a body in canonical form (object keys sorted, no spaces) as lowercase hex.
pub fn body_hash(body: &Value) -> String {
    // serde_json's default map keeps keys sorted, so `to_string` is canonical.
    let canonical = body.to_string();
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Turns a stored `transactions` row into the API's sale record.
pub fn sale_record(mut row: Map<String, Value>) -> Value {
    crate::entity::normalize_integers(&mut row);
    for column in ["tenant_id", "body_hash", "created_at_ms", "deleted_at"] {
        row.remove(column);
    }
    for column in ["items", "payments"] {
        if let Some(Value::String(text)) = row.get(column) {
            let parsed = serde_json::from_str(text).unwrap_or(Value::Array(Vec::new()));
            row.insert(column.to_string(), parsed);
        }
    }
    Value::Object(row)
}

fn check_unknown(
    object: &Map<String, Value>,
    allowed: &[&str],
    prefix: &str,
    unknown: UnknownFields,
    details: &mut Vec<Detail>,
    ignored: &mut Vec<String>,
) {
    for key in object.keys() {
        if allowed.contains(&key.as_str()) {
            continue;
        }
        let field = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match unknown {
            UnknownFields::Reject => details.push(Detail::new(field, "unknown_field")),
            UnknownFields::Ignore => ignored.push(field),
        }
    }
}

fn required_uuid(object: &Map<String, Value>, key: &str, field: &str, details: &mut Vec<Detail>) -> String {
    match object.get(key) {
        Some(Value::String(text)) => match parse_uuid(text) {
            Some(id) => id,
            None => {
                details.push(Detail::new(field, "invalid_format"));
                String::new()
            }
        },
        Some(Value::Null) | None => {
            details.push(Detail::new(field, "required"));
            String::new()
        }
        Some(_) => {
            details.push(Detail::new(field, "invalid_type"));
            String::new()
        }
    }
}

fn optional_uuid(object: &Map<String, Value>, key: &str, details: &mut Vec<Detail>) -> Option<String> {
    match object.get(key) {
        None | Some(Value::Null) => None,
        Some(_) => Some(required_uuid(object, key, key, details)),
    }
}

fn required_text(object: &Map<String, Value>, key: &str, max_chars: usize, details: &mut Vec<Detail>) -> String {
    match object.get(key) {
        Some(Value::String(text)) if text.trim().is_empty() => {
            details.push(Detail::new(key, "required"));
            String::new()
        }
        Some(Value::String(text)) if text.chars().count() > max_chars => {
            details.push(Detail::new(key, "too_long"));
            String::new()
        }
        Some(Value::String(text)) if text.contains('\0') => {
            details.push(Detail::new(key, "invalid_format"));
            String::new()
        }
        Some(Value::String(text)) => text.clone(),
        Some(Value::Null) | None => {
            details.push(Detail::new(key, "required"));
            String::new()
        }
        Some(_) => {
            details.push(Detail::new(key, "invalid_type"));
            String::new()
        }
    }
}

fn optional_text(
    object: &Map<String, Value>,
    key: &str,
    max_chars: usize,
    field: &str,
    details: &mut Vec<Detail>,
) -> Option<String> {
    match object.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.chars().count() > max_chars => {
            details.push(Detail::new(field, "too_long"));
            None
        }
        Some(Value::String(text)) if text.contains('\0') => {
            details.push(Detail::new(field, "invalid_format"));
            None
        }
        Some(Value::String(text)) => Some(text.clone()),
        Some(_) => {
            details.push(Detail::new(field, "invalid_type"));
            None
        }
    }
}

fn amount(value: &Value, field: &str, details: &mut Vec<Detail>) -> i64 {
    match whole_number(value) {
        Ok(number) if number < 0 => {
            details.push(Detail::new(field, "negative_amount"));
            0
        }
        Ok(number) => number,
        Err(code) => {
            details.push(Detail::new(field, code));
            0
        }
    }
}

fn optional_amount(object: &Map<String, Value>, key: &str, details: &mut Vec<Detail>) -> Option<i64> {
    match object.get(key) {
        None | Some(Value::Null) => None,
        Some(value) => Some(amount(value, key, details)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sale_body() -> Value {
        json!({
            "id": "0190f5c4-7d3a-7b2e-9c1d-1234567890ab",
            "outlet_id": "0190f5c4-7d3a-7b2e-9c1d-000000000001",
            "device_id": "0190f5c4-7d3a-7b2e-9c1d-000000000002",
            "receipt_no": "PUSAT-K1-261204-0001",
            "created_at": "2026-12-04T09:30:00+07:00",
            "items": [
                {"product_id": "0190f5c4-7d3a-7b2e-9c1d-000000000003", "qty": 2, "unit_price": 15000, "discount": 0},
                {"product_id": "0190f5c4-7d3a-7b2e-9c1d-000000000004", "qty": 1, "unit_price": 8000, "discount": 0}
            ],
            "discount": 0,
            "payments": [{"method": "cash", "amount": 50000}]
        })
    }

    #[test]
    fn sale_is_priced_with_change() {
        let sale = parse_sale(&sale_body(), UnknownFields::Reject).unwrap();
        let totals = price_sale(&sale, &TaxSettings::off()).unwrap();
        assert_eq!(totals.subtotal, 38000);
        assert_eq!(totals.total, 38000);
        assert_eq!(totals.change, 12000);
        assert_eq!(sale.created_at, "2026-12-04T02:30:00.000Z");
    }

    #[test]
    fn client_total_mismatch_carries_both_figures() {
        let mut body = sale_body();
        body["total"] = json!(39000);
        let sale = parse_sale(&body, UnknownFields::Reject).unwrap();
        let details = price_sale(&sale, &TaxSettings::off()).unwrap_err();
        assert_eq!(details[0].code, "total_mismatch");
        assert_eq!(details[0].expected, Some(json!(38000)));
        assert_eq!(details[0].received, Some(json!(39000)));
    }

    #[test]
    fn unknown_item_field_is_rejected_in_rest() {
        let mut body = sale_body();
        body["items"][0]["colour"] = json!("red");
        let details = parse_sale(&body, UnknownFields::Reject).unwrap_err();
        assert_eq!(details[0].field, "items[0].colour");
        assert_eq!(details[0].code, "unknown_field");
    }

    #[test]
    fn unknown_field_is_listed_in_sync() {
        let mut body = sale_body();
        body["colour"] = json!("red");
        let sale = parse_sale(&body, UnknownFields::Ignore).unwrap();
        assert_eq!(sale.ignored, vec!["colour".to_string()]);
    }

    #[test]
    fn missing_fields_are_all_reported() {
        let details = parse_sale(&json!({}), UnknownFields::Reject).unwrap_err();
        let fields: Vec<&str> = details.iter().map(|d| d.field.as_str()).collect();
        for field in [
            "id",
            "outlet_id",
            "device_id",
            "receipt_no",
            "created_at",
            "items",
            "payments",
        ] {
            assert!(fields.contains(&field), "{field} missing from {fields:?}");
        }
    }

    #[test]
    fn underpaid_sale_is_rejected() {
        let mut body = sale_body();
        body["payments"] = json!([{"method": "qris", "amount": 30000, "status": "pending"}]);
        let sale = parse_sale(&body, UnknownFields::Reject).unwrap();
        let details = price_sale(&sale, &TaxSettings::off()).unwrap_err();
        assert_eq!(details[0].code, "underpaid");
    }

    #[test]
    fn sale_hash_ignores_spelling_of_same_sale() {
        let first = parse_sale(&sale_body(), UnknownFields::Reject).unwrap();
        let mut body = sale_body();
        body["id"] = json!("0190F5C4-7D3A-7B2E-9C1D-1234567890AB");
        body["total"] = json!(38000);
        body["payments"][0]["status"] = json!("paid");
        let replay = parse_sale(&body, UnknownFields::Reject).unwrap();
        assert_eq!(sale_hash(&first), sale_hash(&replay));
    }

    #[test]
    fn sale_hash_differs_for_other_items() {
        let first = parse_sale(&sale_body(), UnknownFields::Reject).unwrap();
        let mut body = sale_body();
        body["items"][0]["qty"] = json!(3);
        let other = parse_sale(&body, UnknownFields::Reject).unwrap();
        assert_ne!(sale_hash(&first), sale_hash(&other));
    }

    #[test]
    fn nul_in_receipt_number_is_rejected() {
        let mut body = sale_body();
        body["receipt_no"] = json!("A\u{0}B");
        let details = parse_sale(&body, UnknownFields::Reject).unwrap_err();
        assert_eq!(details[0].field, "receipt_no");
        assert_eq!(details[0].code, "invalid_format");
    }

    #[test]
    fn derived_id_is_stable_uuid() {
        let id = derived_id(&["sale-1", "0"]);
        assert_eq!(id, derived_id(&["sale-1", "0"]));
        assert_ne!(id, derived_id(&["sale-1", "1"]));
        assert_eq!(crate::validate::parse_uuid(&id).as_deref(), Some(id.as_str()));
    }

    #[test]
    fn body_hash_ignores_key_order() {
        let a: Value = serde_json::from_str(r#"{"a":1,"b":[1,2]}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"b":[1,2],"a":1}"#).unwrap();
        assert_eq!(body_hash(&a), body_hash(&b));
        assert_ne!(body_hash(&a), body_hash(&json!({"a": 2, "b": [1, 2]})));
    }
}
