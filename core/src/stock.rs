//! Stock movements as clients push them. The stock level of a product at an outlet is the sum
//! of its movements; the server writes the movements of sales, refunds and voids itself, so
//! clients push only purchases, adjustments and transfer legs.

use serde_json::{json, Map, Value};

use crate::entity::UnknownFields;
use crate::error::Detail;
use crate::money::{format_qty, parse_qty};
use crate::sale::body_hash;
use crate::validate::{format_rfc3339_millis, parse_rfc3339_millis, parse_uuid};

/// Kinds a client may push.
pub const CLIENT_KINDS: [&str; 4] = ["purchase", "adjustment", "transfer_in", "transfer_out"];
/// Kinds only the server writes.
pub const SERVER_KINDS: [&str; 3] = ["sale", "refund", "void"];
const FIELDS: [&str; 8] = [
    "id",
    "product_id",
    "outlet_id",
    "qty",
    "kind",
    "ref_id",
    "note",
    "created_at",
];
const MAX_NOTE_CHARS: usize = 500;

#[derive(Clone, Debug, PartialEq)]
pub struct MovementInput {
    pub product_id: String,
    pub outlet_id: String,
    /// Signed quantity in thousandths.
    pub qty_milli: i64,
    pub kind: String,
    pub ref_id: Option<String>,
    pub note: Option<String>,
    /// RFC 3339 UTC; `None` means the time the server records it.
    pub created_at: Option<String>,
    pub ignored: Vec<String>,
}

/// Parses a pushed movement.
///
/// # Errors
/// Every failing field as a detail; a `sale`, `refund` or `void` kind is `server_only`.
pub fn parse_movement(data: &Map<String, Value>, unknown: UnknownFields) -> Result<MovementInput, Vec<Detail>> {
    let mut details = Vec::new();
    let mut ignored = Vec::new();
    for key in data.keys() {
        if !FIELDS.contains(&key.as_str()) {
            match unknown {
                UnknownFields::Reject => details.push(Detail::new(key.clone(), "unknown_field")),
                UnknownFields::Ignore => ignored.push(key.clone()),
            }
        }
    }
    let uuid = |key: &str, required: bool, details: &mut Vec<Detail>| -> Option<String> {
        match data.get(key) {
            None | Some(Value::Null) => {
                if required {
                    details.push(Detail::new(key, "required"));
                }
                None
            }
            Some(Value::String(text)) => {
                let id = parse_uuid(text);
                if id.is_none() {
                    details.push(Detail::new(key, "invalid_format"));
                }
                id
            }
            Some(_) => {
                details.push(Detail::new(key, "invalid_type"));
                None
            }
        }
    };
    let product_id = uuid("product_id", true, &mut details).unwrap_or_default();
    let outlet_id = uuid("outlet_id", true, &mut details).unwrap_or_default();
    let ref_id = uuid("ref_id", false, &mut details);

    let qty_milli = match data.get("qty") {
        None | Some(Value::Null) => {
            details.push(Detail::new("qty", "required"));
            0
        }
        Some(value) => signed_qty(value).unwrap_or_else(|| {
            details.push(Detail::new("qty", "invalid_quantity"));
            0
        }),
    };
    let kind = match data.get("kind").and_then(Value::as_str) {
        Some(kind) if CLIENT_KINDS.contains(&kind) => kind.to_string(),
        Some(kind) if SERVER_KINDS.contains(&kind) => {
            details.push(Detail::new("kind", "server_only"));
            String::new()
        }
        Some(_) => {
            details.push(Detail::new("kind", "invalid_format"));
            String::new()
        }
        None => {
            details.push(Detail::new("kind", "required"));
            String::new()
        }
    };
    let note = match data.get("note") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.chars().count() > MAX_NOTE_CHARS => {
            details.push(Detail::new("note", "too_long"));
            None
        }
        Some(Value::String(text)) if text.contains('\0') => {
            details.push(Detail::new("note", "invalid_format"));
            None
        }
        Some(Value::String(text)) => Some(text.clone()),
        Some(_) => {
            details.push(Detail::new("note", "invalid_type"));
            None
        }
    };
    let created_at = match data.get("created_at") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => match parse_rfc3339_millis(text) {
            Some(millis) => Some(format_rfc3339_millis(millis)),
            None => {
                details.push(Detail::new("created_at", "invalid_format"));
                None
            }
        },
        Some(_) => {
            details.push(Detail::new("created_at", "invalid_type"));
            None
        }
    };

    if !details.is_empty() {
        return Err(details);
    }
    Ok(MovementInput {
        product_id,
        outlet_id,
        qty_milli,
        kind,
        ref_id,
        note,
        created_at,
        ignored,
    })
}

/// Reads a non-zero signed quantity with at most 3 decimals, in thousandths.
fn signed_qty(value: &Value) -> Option<i64> {
    let number = value.as_number()?;
    let text = number.to_string();
    let (negative, magnitude) = match text.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, text),
    };
    let milli = parse_qty(&serde_json::from_str::<Value>(&magnitude).ok()?).ok()?;
    Some(if negative { -milli } else { milli })
}

/// Hashes what makes a movement the same movement, to tell a replay from another body.
pub fn movement_hash(id: &str, movement: &MovementInput) -> String {
    body_hash(&json!([
        id,
        movement.product_id,
        movement.outlet_id,
        movement.qty_milli,
        movement.kind,
        movement.ref_id,
        movement.note,
        movement.created_at,
    ]))
}

/// Turns a stored `stock_movements` row into the API's record.
pub fn movement_record(mut row: Map<String, Value>) -> Value {
    crate::entity::normalize_integers(&mut row);
    for column in ["tenant_id", "body_hash", "deleted_at", "user_id"] {
        row.remove(column);
    }
    if let Some(milli) = row.get("qty").and_then(Value::as_i64) {
        row.insert("qty".to_string(), format_qty(milli));
    }
    Value::Object(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn purchase() -> Map<String, Value> {
        data(json!({
            "product_id": "0190f5c4-7d3a-7b2e-9c1d-000000000003",
            "outlet_id": "0190f5c4-7d3a-7b2e-9c1d-000000000001",
            "qty": 2.5,
            "kind": "purchase",
        }))
    }

    #[test]
    fn purchase_is_parsed_in_thousandths() {
        let movement = parse_movement(&purchase(), UnknownFields::Reject).unwrap();
        assert_eq!(movement.qty_milli, 2500);
        assert_eq!(movement.kind, "purchase");
    }

    #[test]
    fn negative_adjustment_keeps_its_sign() {
        let mut body = purchase();
        body.insert("qty".into(), json!(-3));
        body.insert("kind".into(), json!("adjustment"));
        let movement = parse_movement(&body, UnknownFields::Reject).unwrap();
        assert_eq!(movement.qty_milli, -3000);
    }

    #[test]
    fn sale_movement_from_client_is_rejected() {
        let mut body = purchase();
        body.insert("kind".into(), json!("sale"));
        let details = parse_movement(&body, UnknownFields::Reject).unwrap_err();
        assert_eq!(details[0].code, "server_only");
    }

    #[test]
    fn zero_and_fine_quantities_are_rejected() {
        for qty in [json!(0), json!(0.0001), json!("1")] {
            let mut body = purchase();
            body.insert("qty".into(), qty.clone());
            let details = parse_movement(&body, UnknownFields::Reject).unwrap_err();
            assert_eq!(details[0].code, "invalid_quantity", "{qty}");
        }
    }

    #[test]
    fn record_shows_quantity_as_number() {
        let row = data(json!({"tenant_id": "t", "id": "m", "qty": -1500.0, "body_hash": "h"}));
        let record = movement_record(row);
        assert_eq!(record["qty"], json!(-1.5));
        assert!(record.get("tenant_id").is_none());
    }
}
