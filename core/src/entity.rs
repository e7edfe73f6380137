//! Synced catalog entities: their columns, how client fields are validated, and how stored
//! rows become API records.

use serde_json::{Map, Value};

use crate::error::Detail;
use crate::validate::{is_email, is_outlet_code, parse_uuid, MAX_SAFE_INTEGER};

/// A value bound to a SQL statement. Integers travel to D1 as doubles, so they stay below 2^53.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Text(String),
}

impl SqlValue {
    pub fn to_json(&self) -> Value {
        match self {
            SqlValue::Null => Value::Null,
            SqlValue::Int(number) => Value::from(*number),
            SqlValue::Text(text) => Value::from(text.as_str()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ColumnKind {
    Text {
        max_chars: usize,
    },
    Email,
    OutletCode,
    Uuid,
    /// Whole rupiah, 0 ..= 2^53 − 1.
    Money,
    /// A non-negative integer count.
    Count,
    Int,
    Bool,
}

#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub kind: ColumnKind,
    pub required: bool,
    /// Stored when a create omits the column.
    pub default: Option<DefaultValue>,
}

#[derive(Clone, Copy, Debug)]
pub enum DefaultValue {
    Text(&'static str),
    Int(i64),
}

impl DefaultValue {
    fn to_sql(self) -> SqlValue {
        match self {
            DefaultValue::Text(text) => SqlValue::Text(text.to_string()),
            DefaultValue::Int(number) => SqlValue::Int(number),
        }
    }
}

const fn column(name: &'static str, kind: ColumnKind) -> Column {
    Column {
        name,
        kind,
        required: false,
        default: None,
    }
}

const fn required(name: &'static str, kind: ColumnKind) -> Column {
    Column {
        name,
        kind,
        required: true,
        default: None,
    }
}

const fn defaulted(name: &'static str, kind: ColumnKind, default: DefaultValue) -> Column {
    Column {
        name,
        kind,
        required: false,
        default: Some(default),
    }
}

const NAME: ColumnKind = ColumnKind::Text { max_chars: 200 };
const SHORT: ColumnKind = ColumnKind::Text { max_chars: 64 };
const LONG: ColumnKind = ColumnKind::Text { max_chars: 1000 };

/// A catalog entity whose rows sync: the client-writable columns besides the server's `id`,
/// `version`, `created_at`, `updated_at`, `deleted_at` and `sync_source`.
#[derive(Debug)]
pub struct EntitySpec {
    pub name: &'static str,
    pub columns: &'static [Column],
    /// Columns whose values must name a live record of another entity.
    pub references: &'static [(&'static str, &'static str)],
    /// Unique column and the message key of its conflict.
    pub unique: Option<(&'static str, &'static str)>,
}

pub const PRODUCTS: EntitySpec = EntitySpec {
    name: "products",
    columns: &[
        column("sku", SHORT),
        column("barcode", SHORT),
        required("name", NAME),
        column("category_id", ColumnKind::Uuid),
        required("price", ColumnKind::Money),
        column("cost", ColumnKind::Money),
        defaulted("unit", ColumnKind::Text { max_chars: 16 }, DefaultValue::Text("pcs")),
        defaulted("track_stock", ColumnKind::Bool, DefaultValue::Int(0)),
        defaulted("is_active", ColumnKind::Bool, DefaultValue::Int(1)),
        column("image_file_id", ColumnKind::Uuid),
        column("low_stock_threshold", ColumnKind::Count),
    ],
    references: &[("category_id", "categories")],
    unique: None,
};

pub const CATEGORIES: EntitySpec = EntitySpec {
    name: "categories",
    columns: &[
        required("name", ColumnKind::Text { max_chars: 100 }),
        defaulted("sort_order", ColumnKind::Int, DefaultValue::Int(0)),
    ],
    references: &[],
    unique: None,
};

pub const CUSTOMERS: EntitySpec = EntitySpec {
    name: "customers",
    columns: &[
        required("name", NAME),
        column("phone", ColumnKind::Text { max_chars: 32 }),
        column("email", ColumnKind::Email),
        column("address", ColumnKind::Text { max_chars: 500 }),
        column("note", LONG),
    ],
    references: &[],
    unique: None,
};

pub const OUTLETS: EntitySpec = EntitySpec {
    name: "outlets",
    columns: &[
        required("code", ColumnKind::OutletCode),
        required("name", NAME),
        column("address", ColumnKind::Text { max_chars: 500 }),
        column("phone", ColumnKind::Text { max_chars: 32 }),
    ],
    references: &[],
    unique: Some(("code", "outlet_code_taken")),
};

/// Entities written through the generic upsert path, by API name.
pub const CATALOG: [&EntitySpec; 4] = [&PRODUCTS, &CATEGORIES, &CUSTOMERS, &OUTLETS];

/// Every entity a pull can carry, in pull order.
pub const SYNCED_ENTITIES: [&str; 6] = [
    "products",
    "categories",
    "customers",
    "outlets",
    "transactions",
    "stock_movements",
];

pub fn catalog_spec(name: &str) -> Option<&'static EntitySpec> {
    CATALOG.into_iter().find(|spec| spec.name == name)
}

/// Columns every synced row has, set by the server.
pub const SERVER_COLUMNS: [&str; 6] = ["id", "version", "created_at", "updated_at", "deleted_at", "sync_source"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownFields {
    /// REST bodies: an unknown field is a 422.
    Reject,
    /// Sync `data`: unknown columns are dropped and listed in `ignored_fields`.
    Ignore,
}

/// Validated client fields, ready to bind.
#[derive(Debug, Default, PartialEq)]
pub struct Validated {
    pub values: Vec<(&'static str, SqlValue)>,
    pub ignored: Vec<String>,
}

impl Validated {
    pub fn get(&self, name: &str) -> Option<&SqlValue> {
        self.values
            .iter()
            .find(|(column, _)| *column == name)
            .map(|(_, value)| value)
    }
}

/// Validates client fields of one record. On create, required columns must be present and
/// defaults fill the rest; on update only the given columns are returned.
///
/// # Errors
/// Returns every failing field as a detail (`required`, `unknown_field`, `invalid_type`,
/// `too_long`, `negative_amount`, `too_large`, `invalid_format`).
pub fn validate_fields(
    spec: &EntitySpec,
    fields: &Map<String, Value>,
    mode: Mode,
    unknown: UnknownFields,
) -> Result<Validated, Vec<Detail>> {
    let mut details = Vec::new();
    let mut validated = Validated::default();

    for key in fields.keys() {
        let known = spec.columns.iter().any(|column| column.name == key);
        let server_owned = SERVER_COLUMNS.contains(&key.as_str());
        if known {
            continue;
        }
        match unknown {
            UnknownFields::Reject if !server_owned || key != "id" => {
                details.push(Detail::new(key.clone(), "unknown_field"))
            }
            _ => validated.ignored.push(key.clone()),
        }
    }

    for column in spec.columns {
        match fields.get(column.name) {
            Some(value) => match validate_value(column, value) {
                Ok(sql) => validated.values.push((column.name, sql)),
                Err(code) => details.push(Detail::new(column.name, code)),
            },
            None if mode == Mode::Create => {
                if column.required {
                    details.push(Detail::new(column.name, "required"));
                } else if let Some(default) = column.default {
                    validated.values.push((column.name, default.to_sql()));
                } else {
                    validated.values.push((column.name, SqlValue::Null));
                }
            }
            None => {}
        }
    }

    if details.is_empty() {
        Ok(validated)
    } else {
        Err(details)
    }
}

fn validate_value(column: &Column, value: &Value) -> Result<SqlValue, &'static str> {
    if value.is_null() {
        return if column.required || column.default.is_some() {
            Err("required")
        } else {
            Ok(SqlValue::Null)
        };
    }
    match column.kind {
        ColumnKind::Text { max_chars } => {
            let text = value.as_str().ok_or("invalid_type")?;
            check_text(text, max_chars, column.required)
        }
        ColumnKind::Email => {
            let text = value.as_str().ok_or("invalid_type")?;
            if is_email(text.trim()) {
                Ok(SqlValue::Text(text.trim().to_string()))
            } else {
                Err("invalid_format")
            }
        }
        ColumnKind::OutletCode => {
            let text = value.as_str().ok_or("invalid_type")?;
            if is_outlet_code(text) {
                Ok(SqlValue::Text(text.to_string()))
            } else {
                Err("invalid_format")
            }
        }
        ColumnKind::Uuid => {
            let text = value.as_str().ok_or("invalid_type")?;
            parse_uuid(text).map(SqlValue::Text).ok_or("invalid_format")
        }
        ColumnKind::Money => {
            let number = whole_number(value)?;
            if number < 0 {
                Err("negative_amount")
            } else {
                Ok(SqlValue::Int(number))
            }
        }
        ColumnKind::Count => {
            let number = whole_number(value)?;
            if number < 0 {
                Err("out_of_range")
            } else {
                Ok(SqlValue::Int(number))
            }
        }
        ColumnKind::Int => whole_number(value).map(SqlValue::Int),
        ColumnKind::Bool => value
            .as_bool()
            .map(|flag| SqlValue::Int(i64::from(flag)))
            .ok_or("invalid_type"),
    }
}

fn check_text(text: &str, max_chars: usize, required: bool) -> Result<SqlValue, &'static str> {
    if text.chars().count() > max_chars {
        return Err("too_long");
    }
    if required && text.trim().is_empty() {
        return Err("required");
    }
    if text.contains('\0') {
        return Err("invalid_format");
    }
    Ok(SqlValue::Text(text.to_string()))
}

/// Reads an integer JSON number in the safe range; fractions and huge values are rejected.
pub fn whole_number(value: &Value) -> Result<i64, &'static str> {
    let number = value.as_number().ok_or("invalid_type")?;
    if let Some(integer) = number.as_i64() {
        return if integer.abs() > MAX_SAFE_INTEGER {
            Err("too_large")
        } else {
            Ok(integer)
        };
    }
    if number.as_u64().is_some() {
        return Err("too_large");
    }
    match number.as_f64() {
        Some(float) if float.fract() == 0.0 && float.abs() <= MAX_SAFE_INTEGER as f64 => Ok(float as i64),
        Some(float) if float.abs() > MAX_SAFE_INTEGER as f64 => Err("too_large"),
        _ => Err("invalid_type"),
    }
}

/// Takes the client-writable columns of a stored row, booleans as JSON booleans: the part of
/// a record that merges compare and snapshots keep.
pub fn client_fields(spec: &EntitySpec, row: &Map<String, Value>) -> Map<String, Value> {
    let mut fields = Map::new();
    for column in spec.columns {
        let mut value = row.get(column.name).cloned().unwrap_or(Value::Null);
        if column.kind == ColumnKind::Bool {
            if let Some(number) = value.as_f64() {
                value = Value::Bool(number != 0.0);
            }
        }
        fields.insert(column.name.to_string(), value);
    }
    normalize_integers(&mut fields);
    fields
}

/// Turns a stored row into an API record: drops `tenant_id` and internal columns, and turns
/// the 0/1 that D1 returns for boolean columns into JSON booleans.
pub fn row_to_record(spec: &EntitySpec, mut row: Map<String, Value>) -> Value {
    for internal in [
        "tenant_id",
        "hlc",
        "created_version",
        "created_device_id",
        "updated_device_id",
        "updated_device_caught_up",
    ] {
        row.remove(internal);
    }
    for column in spec.columns {
        if column.kind == ColumnKind::Bool {
            if let Some(value) = row.get_mut(column.name) {
                let flag = value.as_f64().map(|n| n != 0.0).or_else(|| value.as_bool());
                if let Some(flag) = flag {
                    *value = Value::Bool(flag);
                }
            }
        }
    }
    normalize_integers(&mut row);
    Value::Object(row)
}

/// D1 hands numbers over as doubles: turn whole ones back into JSON integers.
pub fn normalize_integers(row: &mut Map<String, Value>) {
    for value in row.values_mut() {
        if let Some(float) = value.as_f64() {
            if value.is_f64() && float.fract() == 0.0 && float.abs() <= MAX_SAFE_INTEGER as f64 {
                *value = Value::from(float as i64);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn product_create_fills_defaults() {
        let fields = object(json!({"name": "Roti Tawar", "price": 18000}));
        let validated = validate_fields(&PRODUCTS, &fields, Mode::Create, UnknownFields::Reject).unwrap();
        assert_eq!(validated.get("unit"), Some(&SqlValue::Text("pcs".into())));
        assert_eq!(validated.get("track_stock"), Some(&SqlValue::Int(0)));
        assert_eq!(validated.get("is_active"), Some(&SqlValue::Int(1)));
        assert_eq!(validated.get("sku"), Some(&SqlValue::Null));
    }

    #[test]
    fn product_create_requires_name_and_price() {
        let details = validate_fields(&PRODUCTS, &Map::new(), Mode::Create, UnknownFields::Reject).unwrap_err();
        let fields: Vec<&str> = details.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, vec!["name", "price"]);
        assert!(details.iter().all(|d| d.code == "required"));
    }

    #[test]
    fn unknown_field_is_rejected_in_rest() {
        let fields = object(json!({"name": "Kopi", "price": 1, "colour": "red"}));
        let details = validate_fields(&PRODUCTS, &fields, Mode::Create, UnknownFields::Reject).unwrap_err();
        assert_eq!(details[0].field, "colour");
        assert_eq!(details[0].code, "unknown_field");
    }

    #[test]
    fn unknown_field_is_ignored_in_sync() {
        let fields = object(json!({"name": "Kopi", "price": 1, "colour": "red"}));
        let validated = validate_fields(&PRODUCTS, &fields, Mode::Create, UnknownFields::Ignore).unwrap();
        assert_eq!(validated.ignored, vec!["colour".to_string()]);
    }

    #[test]
    fn money_rejects_negative_fraction_and_huge() {
        for (price, code) in [
            (json!(-1), "negative_amount"),
            (json!(1.5), "invalid_type"),
            (json!(9_007_199_254_740_992_i64), "too_large"),
            (json!(1e300), "too_large"),
            (json!("1000"), "invalid_type"),
        ] {
            let fields = object(json!({"name": "Kopi", "price": price}));
            let details = validate_fields(&PRODUCTS, &fields, Mode::Create, UnknownFields::Reject).unwrap_err();
            assert_eq!(details[0].code, code, "{price}");
        }
    }

    #[test]
    fn update_returns_only_given_columns() {
        let fields = object(json!({"price": 20000}));
        let validated = validate_fields(&PRODUCTS, &fields, Mode::Update, UnknownFields::Reject).unwrap();
        assert_eq!(validated.values, vec![("price", SqlValue::Int(20000))]);
    }

    #[test]
    fn hostile_text_is_kept_verbatim() {
        let name = "Kopi'; DROP TABLE products; -- \u{202e}😀";
        let fields = object(json!({"name": name, "price": 1}));
        let validated = validate_fields(&PRODUCTS, &fields, Mode::Create, UnknownFields::Reject).unwrap();
        assert_eq!(validated.get("name"), Some(&SqlValue::Text(name.into())));
    }

    #[test]
    fn text_over_limit_is_rejected() {
        let fields = object(json!({"name": "x".repeat(201), "price": 1}));
        let details = validate_fields(&PRODUCTS, &fields, Mode::Create, UnknownFields::Reject).unwrap_err();
        assert_eq!(details[0].code, "too_long");
    }

    #[test]
    fn row_booleans_and_integers_are_restored() {
        let row = object(
            json!({"tenant_id": "t", "id": "p", "updated_device_caught_up": 1, "track_stock": 1.0, "is_active": 0, "price": 18000.0}),
        );
        let record = row_to_record(&PRODUCTS, row);
        assert!(record.get("updated_device_caught_up").is_none());
        assert_eq!(record["track_stock"], json!(true));
        assert_eq!(record["is_active"], json!(false));
        assert_eq!(record["price"], json!(18000));
        assert!(record.get("tenant_id").is_none());
    }
}
