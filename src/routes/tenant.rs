//! The caller's own tenant: `GET /v1/tenant`, and `PATCH /v1/tenant` for its owner.

use kasir_core::error::{ApiError, Detail};
use kasir_core::money::TaxSettings;
use kasir_core::validate::parse_uuid;
use kasir_durable::db;
use serde_json::{json, Map, Value};
use worker::{Env, Request, Response};

use crate::auth::Principal;
use crate::directory::{self, control_db, MODULES};
use crate::http;
use crate::routes::admin::check_name;

const STRATEGIES: [&str; 3] = ["lww", "field_merge", "manual"];
const SYNCED: [&str; 6] = [
    "products",
    "categories",
    "customers",
    "outlets",
    "transactions",
    "stock_movements",
];

pub fn show(principal: &Principal) -> Result<Response, ApiError> {
    http::json(200, &principal.tenant.to_json())
}

fn is_clock_time(text: &str) -> bool {
    let Some((hours, minutes)) = text.split_once(':') else {
        return false;
    };
    hours.len() == 2
        && minutes.len() == 2
        && hours.bytes().chain(minutes.bytes()).all(|b| b.is_ascii_digit())
        && hours.parse::<u8>().is_ok_and(|h| h < 24)
        && minutes.parse::<u8>().is_ok_and(|m| m < 60)
}

fn parse_tax(value: &Value, current: TaxSettings, details: &mut Vec<Detail>) -> TaxSettings {
    let Some(object) = value.as_object() else {
        details.push(Detail::new("tax", "invalid_type"));
        return current;
    };
    http::reject_unknown(
        object,
        &[
            "enabled",
            "rate_bps",
            "price_includes_tax",
            "dpp_numerator",
            "dpp_denominator",
        ],
        details,
    );
    let mut tax = current;
    if let Some(enabled) = object.get("enabled") {
        match enabled.as_bool() {
            Some(flag) => tax.enabled = flag,
            None => details.push(Detail::new("tax.enabled", "invalid_type")),
        }
    }
    if let Some(flag) = object.get("price_includes_tax") {
        match flag.as_bool() {
            Some(flag) => tax.price_includes_tax = flag,
            None => details.push(Detail::new("tax.price_includes_tax", "invalid_type")),
        }
    }
    for (key, slot) in [
        ("rate_bps", &mut tax.rate_bps),
        ("dpp_numerator", &mut tax.dpp_numerator),
        ("dpp_denominator", &mut tax.dpp_denominator),
    ] {
        if let Some(value) = object.get(key) {
            match value.as_i64() {
                Some(number) => *slot = number,
                None => details.push(Detail::new(format!("tax.{key}"), "invalid_type")),
            }
        }
    }
    // Turning tax on without a rate uses the 12% PPN rate on a DPP of 11/12.
    if tax.enabled && !object.contains_key("rate_bps") && tax.rate_bps == 0 {
        tax.rate_bps = 1200;
        tax.dpp_numerator = 11;
        tax.dpp_denominator = 12;
    }
    if tax.validate().is_err() {
        details.push(Detail::new("tax", "invalid_tax_settings"));
    }
    tax
}

fn parse_sync(value: &Value, details: &mut Vec<Detail>) -> Value {
    let Some(object) = value.as_object() else {
        details.push(Detail::new("sync", "invalid_type"));
        return json!({});
    };
    http::reject_unknown(object, &["strategies", "tombstone_retention_seconds"], details);
    let mut sync = Map::new();
    if let Some(strategies) = object.get("strategies") {
        match strategies.as_object() {
            Some(strategies) => {
                for (entity, strategy) in strategies {
                    let valid_entity = SYNCED.contains(&entity.as_str());
                    let valid_strategy = strategy.as_str().is_some_and(|s| STRATEGIES.contains(&s));
                    if !valid_entity || !valid_strategy {
                        details.push(Detail::new(format!("sync.strategies.{entity}"), "invalid_format"));
                    }
                }
                sync.insert("strategies".to_string(), Value::Object(strategies.clone()));
            }
            None => details.push(Detail::new("sync.strategies", "invalid_type")),
        }
    }
    if let Some(retention) = object.get("tombstone_retention_seconds") {
        match retention.as_i64() {
            // At most about 10 years; longer is a mistake, not a policy.
            Some(seconds) if (1..=315_360_000).contains(&seconds) => {
                sync.insert("tombstone_retention_seconds".to_string(), json!(seconds));
            }
            _ => details.push(Detail::new("sync.tombstone_retention_seconds", "out_of_range")),
        }
    }
    Value::Object(sync)
}

/// `PATCH /v1/tenant`: the owner changes the shop's name, zone, locale, receipt texts, tax,
/// sync strategies, modules, job times or logo.
pub async fn update(req: &mut Request, env: &Env, principal: &Principal) -> Result<Response, ApiError> {
    let body = http::read_object(req).await?;
    let tenant = &principal.tenant;
    let mut details = Vec::new();
    http::reject_unknown(
        &body,
        &[
            "name",
            "timezone",
            "locale",
            "receipt_header",
            "receipt_footer",
            "tax",
            "sync",
            "modules",
            "jobs",
            "logo_file_id",
        ],
        &mut details,
    );

    let mut name = tenant.name.clone();
    if let Some(value) = body.get("name") {
        match value.as_str() {
            Some(text) => {
                check_name(text, "name", &mut details);
                name = text.trim().to_string();
            }
            None => details.push(Detail::new("name", "invalid_type")),
        }
    }
    let mut choose = |key: &str, allowed: &[&str], current: &str| -> String {
        match body.get(key) {
            None => current.to_string(),
            Some(Value::String(text)) if allowed.contains(&text.as_str()) => text.clone(),
            Some(_) => {
                details.push(Detail::new(key, "invalid_format"));
                current.to_string()
            }
        }
    };
    let timezone = choose(
        "timezone",
        &["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"],
        &tenant.timezone,
    );
    let locale = choose("locale", &["id", "en"], &tenant.locale);

    let mut settings = tenant.settings.as_object().cloned().unwrap_or_default();
    for key in ["receipt_header", "receipt_footer"] {
        match body.get(key) {
            None => {}
            Some(Value::Null) => {
                settings.insert(key.to_string(), Value::Null);
            }
            Some(Value::String(text)) if text.contains('\0') => details.push(Detail::new(key, "invalid_format")),
            Some(Value::String(text)) if text.chars().count() <= 500 => {
                settings.insert(key.to_string(), json!(text));
            }
            Some(Value::String(_)) => details.push(Detail::new(key, "too_long")),
            Some(_) => details.push(Detail::new(key, "invalid_type")),
        }
    }
    match body.get("logo_file_id") {
        None => {}
        Some(Value::Null) => {
            settings.insert("logo_file_id".to_string(), Value::Null);
        }
        Some(Value::String(text)) if parse_uuid(text).is_some() => {
            settings.insert("logo_file_id".to_string(), json!(parse_uuid(text)));
        }
        Some(_) => details.push(Detail::new("logo_file_id", "invalid_format")),
    }
    if let Some(value) = body.get("tax") {
        let tax = parse_tax(value, tenant.tax(), &mut details);
        settings.insert("tax".to_string(), json!(tax));
    }
    if let Some(value) = body.get("sync") {
        let patch = parse_sync(value, &mut details);
        let mut sync = settings.get("sync").cloned().unwrap_or_else(|| json!({}));
        directory::merge(&mut sync, &patch);
        settings.insert("sync".to_string(), sync);
    }
    if let Some(value) = body.get("jobs") {
        match value.as_object() {
            Some(jobs) => {
                http::reject_unknown(jobs, &["backup_time", "report_time"], &mut details);
                let mut stored = settings.get("jobs").cloned().unwrap_or_else(|| json!({}));
                for (key, time) in jobs {
                    match time.as_str() {
                        Some(text) if is_clock_time(text) => stored[key] = json!(text),
                        _ => details.push(Detail::new(format!("jobs.{key}"), "invalid_format")),
                    }
                }
                settings.insert("jobs".to_string(), stored);
            }
            None => details.push(Detail::new("jobs", "invalid_type")),
        }
    }
    let mut modules = tenant.modules.clone();
    if let Some(value) = body.get("modules") {
        match value.as_array() {
            Some(list) => {
                modules.clear();
                for item in list {
                    match item.as_str() {
                        Some(module) if MODULES.contains(&module) => {
                            if !modules.iter().any(|m| m == module) {
                                modules.push(module.to_string());
                            }
                        }
                        _ => details.push(Detail::new("modules", "invalid_format")),
                    }
                }
            }
            None => details.push(Detail::new("modules", "invalid_type")),
        }
    }
    if !details.is_empty() {
        return Err(ApiError::validation(details));
    }

    let control = control_db(env).await?;
    db::run(
        &control,
        "UPDATE tenants SET name = ?, timezone = ?, locale = ?, settings = ?, modules = ?, updated_at = ? WHERE id = ?",
        &[
            db::text(&name),
            db::text(&timezone),
            db::text(&locale),
            db::text(Value::Object(settings).to_string()),
            db::text(json!(modules).to_string()),
            db::text(kasir_durable::now_rfc3339()),
            db::text(&tenant.id),
        ],
    )
    .await
    .map_err(|error| ApiError::internal(error.to_string()))?;
    directory::forget(tenant);
    let updated = directory::by_id(env, &tenant.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let changed: Vec<&String> = body.keys().collect();
    crate::audit::record(
        env,
        &updated,
        Some(&principal.user_id),
        "tenant_settings_changed",
        json!({ "changed": changed }),
    )
    .await;
    // New job times or zone move the hub's alarm.
    if let Err(error) = crate::hub::arm(env, &updated, false).await {
        worker::console_error!(
            "{}",
            json!({ "event": "hub_not_armed", "tenant": updated.code, "error": error.to_string() })
        );
    }
    http::json(200, &updated.to_json())
}
