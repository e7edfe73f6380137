//! The one place that talks to D1: statements with bound values, rows as JSON maps.

use kasir_core::entity::{normalize_integers, SqlValue};
use serde_json::{Map, Value};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

pub type Row = Map<String, Value>;

fn to_js(value: &SqlValue) -> JsValue {
    match value {
        SqlValue::Null => JsValue::NULL,
        // D1 rejects BigInt binds, so integers go as doubles; callers keep them below 2^53.
        SqlValue::Int(number) => JsValue::from_f64(*number as f64),
        SqlValue::Text(text) => JsValue::from_str(text),
    }
}

/// Prepares `sql` with `args` bound in order.
///
/// # Errors
/// Fails when the binding count does not match the statement.
pub fn statement(db: &D1Database, sql: &str, args: &[SqlValue]) -> worker::Result<D1PreparedStatement> {
    let values: Vec<JsValue> = args.iter().map(to_js).collect();
    db.prepare(sql).bind(&values)
}

/// Runs a query and returns every row.
pub async fn all(db: &D1Database, sql: &str, args: &[SqlValue]) -> worker::Result<Vec<Row>> {
    let result = statement(db, sql, args)?.all().await?;
    rows_of(&result)
}

/// Runs a query and returns its first row.
pub async fn first(db: &D1Database, sql: &str, args: &[SqlValue]) -> worker::Result<Option<Row>> {
    Ok(all(db, sql, args).await?.into_iter().next())
}

/// Runs one write statement.
pub async fn run(db: &D1Database, sql: &str, args: &[SqlValue]) -> worker::Result<()> {
    statement(db, sql, args)?.run().await?;
    Ok(())
}

/// Maximum values this crate binds in one D1 statement, under D1's limit of 100.
pub const MAX_BOUND_VALUES: usize = 90;

/// Builds multi-row INSERTs of `rows` after `head`, which ends with `VALUES`, in as few
/// statements as the limit on bound values allows. Every row has the same length.
///
/// # Errors
/// Fails when a statement cannot be prepared.
pub fn insert_rows(db: &D1Database, head: &str, rows: &[Vec<SqlValue>]) -> worker::Result<Vec<D1PreparedStatement>> {
    let Some(width) = rows.first().map(Vec::len).filter(|width| *width > 0) else {
        return Ok(Vec::new());
    };
    let tuple = format!("({})", vec!["?"; width].join(", "));
    let mut statements = Vec::new();
    for chunk in rows.chunks((MAX_BOUND_VALUES / width).max(1)) {
        let sql = format!("{head} {}", vec![tuple.as_str(); chunk.len()].join(", "));
        let args: Vec<SqlValue> = chunk.iter().flatten().cloned().collect();
        statements.push(statement(db, &sql, &args)?);
    }
    Ok(statements)
}

/// Runs statements as one D1 batch, which is all-or-nothing: the only transaction D1 has.
pub async fn batch(db: &D1Database, statements: Vec<D1PreparedStatement>) -> worker::Result<Vec<worker::D1Result>> {
    if statements.is_empty() {
        return Ok(Vec::new());
    }
    db.batch(statements).await
}

/// Reads the rows of one result, with whole numbers restored to JSON integers.
pub fn rows_of(result: &worker::D1Result) -> worker::Result<Vec<Row>> {
    let mut rows: Vec<Row> = result.results()?;
    for row in rows.iter_mut() {
        normalize_integers(row);
    }
    Ok(rows)
}

pub fn text(value: impl Into<String>) -> SqlValue {
    SqlValue::Text(value.into())
}

pub fn opt_text(value: Option<impl Into<String>>) -> SqlValue {
    match value {
        Some(value) => SqlValue::Text(value.into()),
        None => SqlValue::Null,
    }
}

pub fn int(value: i64) -> SqlValue {
    SqlValue::Int(value)
}

/// Reads a text column of a row.
pub fn get_str<'a>(row: &'a Row, column: &str) -> Option<&'a str> {
    row.get(column).and_then(Value::as_str)
}

/// Reads an integer column of a row.
pub fn get_i64(row: &Row, column: &str) -> Option<i64> {
    let value = row.get(column)?;
    value.as_i64().or_else(|| value.as_f64().map(|f| f as i64))
}

/// True when a D1 error is a UNIQUE constraint failure.
pub fn is_unique_violation(error: &worker::Error) -> bool {
    error.to_string().contains("UNIQUE constraint failed")
}
