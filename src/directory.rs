//! The tenant directory in CONTROL_DB: where each tenant's data lives, its status, plan and
//! settings. Entries are cached per isolate for a few seconds.

use std::cell::RefCell;
use std::collections::HashMap;

use kasir_core::error::{ApiError, ErrorCode};
use kasir_core::merge::Strategy;
use kasir_core::money::TaxSettings;
use kasir_durable::protocol::SyncSettings;
use kasir_durable::{db, migrate};
use serde_json::{json, Value};
use worker::{D1Database, Env};

/// How long an isolate trusts a cached directory entry; a change made on another isolate
/// (a suspension, new settings) applies everywhere within this time.
const CACHE_TTL_MS: f64 = 5_000.0;

/// Every module a tenant can switch off.
pub const MODULES: [&str; 8] = [
    "catalog",
    "customers",
    "sales",
    "shifts",
    "inventory",
    "reports",
    "files",
    "sync",
];

#[derive(Clone, Debug)]
pub struct Tenant {
    pub id: String,
    pub code: String,
    pub name: String,
    pub status: String,
    pub plan: String,
    pub placement: String,
    pub db_binding: String,
    pub timezone: String,
    pub currency: String,
    pub locale: String,
    pub modules: Vec<String>,
    pub settings: Value,
    pub schema_version: i64,
    pub default_outlet_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Tenant {
    fn from_row(row: &db::Row) -> Tenant {
        let text = |column: &str| db::get_str(row, column).unwrap_or_default().to_string();
        Tenant {
            id: text("id"),
            code: text("code"),
            name: text("name"),
            status: text("status"),
            plan: text("plan"),
            placement: text("placement"),
            db_binding: text("db_binding"),
            timezone: text("timezone"),
            currency: text("currency"),
            locale: text("locale"),
            modules: serde_json::from_str(&text("modules")).unwrap_or_default(),
            settings: serde_json::from_str(&text("settings")).unwrap_or_else(|_| json!({})),
            schema_version: db::get_i64(row, "schema_version").unwrap_or(0),
            default_outlet_id: db::get_str(row, "default_outlet_id").map(str::to_string),
            created_at: text("created_at"),
            updated_at: text("updated_at"),
        }
    }

    /// Returns the tenant's database binding.
    pub fn db(&self, env: &Env) -> Result<D1Database, ApiError> {
        env.d1(&self.db_binding)
            .map_err(|error| ApiError::internal(format!("binding {}: {error}", self.db_binding)))
    }

    pub fn tax(&self) -> TaxSettings {
        self.settings
            .get("tax")
            .and_then(|tax| serde_json::from_value(tax.clone()).ok())
            .unwrap_or_else(TaxSettings::off)
    }

    /// Returns the sync strategies the tenant chose. Entities it did not list keep their defaults.
    pub fn sync_settings(&self) -> SyncSettings {
        let strategies = self.settings["sync"]["strategies"]
            .as_object()
            .map(|strategies| {
                strategies
                    .iter()
                    .filter_map(|(entity, strategy)| {
                        strategy
                            .as_str()
                            .and_then(Strategy::parse)
                            .map(|strategy| (entity.clone(), strategy))
                    })
                    .collect()
            })
            .unwrap_or_default();
        SyncSettings { strategies }
    }

    /// Returns the daily job times the tenant's hub keeps its alarm for.
    pub fn schedule(&self) -> kasir_durable::schedule::Schedule {
        let minutes = |key: &str, default: i64| {
            self.settings["jobs"][key]
                .as_str()
                .and_then(kasir_core::schedule::parse_clock)
                .unwrap_or(default)
        };
        kasir_durable::schedule::Schedule {
            tenant_id: self.id.clone(),
            tenant_code: self.code.clone(),
            utc_offset_hours: crate::routes::sales::utc_offset_hours(&self.timezone),
            backup_minutes: minutes("backup_time", 2 * 60),
            report_minutes: minutes("report_time", 21 * 60),
            since_ms: 0,
        }
    }

    /// Seconds a tombstone is kept before it is purged.
    pub fn tombstone_retention_seconds(&self) -> i64 {
        self.settings["sync"]["tombstone_retention_seconds"]
            .as_i64()
            .filter(|seconds| *seconds >= 1)
            .unwrap_or(DEFAULT_RETENTION_SECONDS)
    }

    pub fn module_enabled(&self, module: &str) -> bool {
        self.modules.iter().any(|enabled| enabled == module)
    }

    /// Fails with 423 when the tenant is not active.
    pub fn ensure_active(&self) -> Result<(), ApiError> {
        if self.status == "active" {
            Ok(())
        } else {
            Err(ApiError::new(ErrorCode::TenantSuspended))
        }
    }

    /// Renders the tenant as the API shows it, settings (with defaults filled in) at the top level as
    /// `PATCH /v1/tenant` takes them.
    pub fn to_json(&self) -> Value {
        let mut tenant = json!({
            "id": self.id,
            "code": self.code,
            "name": self.name,
            "status": self.status,
            "plan": self.plan,
            "placement": self.placement,
            "timezone": self.timezone,
            "currency": self.currency,
            "locale": self.locale,
            "modules": self.modules,
            "default_outlet_id": self.default_outlet_id,
            "schema_version": self.schema_version,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        });
        if let (Value::Object(tenant), Value::Object(settings)) = (&mut tenant, settings_with_defaults(&self.settings))
        {
            tenant.extend(settings);
        }
        // Where the logo's bytes are read: `GET /v1/files/{logo_file_id}`.
        tenant["logo_url"] = match self.settings.get("logo_file_id").and_then(Value::as_str) {
            Some(file_id) => json!(format!("/v1/files/{file_id}")),
            None => Value::Null,
        };
        tenant
    }
}

/// Default tombstone retention: 30 days.
const DEFAULT_RETENTION_SECONDS: i64 = 30 * 24 * 60 * 60;

/// Fills the settings a tenant has not set with their defaults, so clients see every one.
fn settings_with_defaults(settings: &Value) -> Value {
    let settings = settings.as_object().cloned().unwrap_or_default();
    let mut full = json!({
        "receipt_header": null,
        "receipt_footer": null,
        "logo_file_id": null,
        "tax": TaxSettings::off(),
        "sync": {
            "strategies": {
                "products": "field_merge", "categories": "field_merge", "customers": "lww",
                "outlets": "lww", "transactions": "lww", "stock_movements": "lww",
            },
            "tombstone_retention_seconds": DEFAULT_RETENTION_SECONDS,
        },
        "jobs": { "backup_time": "02:00", "report_time": "21:00" },
    });
    merge(&mut full, &Value::Object(settings));
    full
}

/// Deep-merges `patch` into `target`: objects merge key by key, anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

thread_local! {
    static CACHE: RefCell<HashMap<String, (Tenant, f64)>> = RefCell::new(HashMap::new());
    static CONTROL_MIGRATED: RefCell<bool> = const { RefCell::new(false) };
}

fn now_ms() -> f64 {
    worker::Date::now().as_millis() as f64
}

/// Returns the control database, migrating it once per isolate.
pub async fn control_db(env: &Env) -> Result<D1Database, ApiError> {
    let database = env
        .d1("CONTROL_DB")
        .map_err(|error| ApiError::internal(format!("CONTROL_DB: {error}")))?;
    if !CONTROL_MIGRATED.with(|migrated| *migrated.borrow()) {
        migrate::apply(&database, migrate::CONTROL_MIGRATIONS)
            .await
            .map_err(|error| ApiError::internal(format!("control migration failed: {error}")))?;
        CONTROL_MIGRATED.with(|migrated| *migrated.borrow_mut() = true);
    }
    Ok(database)
}

fn cached(key: &str) -> Option<Tenant> {
    CACHE.with(|cache| {
        cache
            .borrow()
            .get(key)
            .filter(|(_, fetched)| now_ms() - fetched < CACHE_TTL_MS)
            .map(|(tenant, _)| tenant.clone())
    })
}

fn remember(tenant: &Tenant) {
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        let now = now_ms();
        cache.insert(format!("id:{}", tenant.id), (tenant.clone(), now));
        cache.insert(format!("code:{}", tenant.code), (tenant.clone(), now));
    });
}

/// Drops a tenant from this isolate's cache after a change.
pub fn forget(tenant: &Tenant) {
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        cache.remove(&format!("id:{}", tenant.id));
        cache.remove(&format!("code:{}", tenant.code));
    });
}

async fn lookup(env: &Env, column: &str, value: &str) -> Result<Option<Tenant>, ApiError> {
    let key = format!("{column}:{value}");
    if let Some(tenant) = cached(&key) {
        return Ok(Some(tenant));
    }
    let control = control_db(env).await?;
    // `column` is one of two constants below.
    let sql = format!("SELECT * FROM tenants WHERE {column} = ?");
    let row = db::first(&control, &sql, &[db::text(value)])
        .await
        .map_err(|error| ApiError::internal(error.to_string()))?;
    let tenant = row.map(|row| Tenant::from_row(&row));
    if let Some(tenant) = &tenant {
        remember(tenant);
    }
    Ok(tenant)
}

pub async fn by_code(env: &Env, code: &str) -> Result<Option<Tenant>, ApiError> {
    lookup(env, "code", code).await
}

pub async fn by_id(env: &Env, id: &str) -> Result<Option<Tenant>, ApiError> {
    lookup(env, "id", id).await
}

/// Brings a tenant's database to the schema this Worker reads. Migrations run in the
/// tenant's hub on its first command after a deploy; a tenant whose hub has not run one yet
/// gets it woken here, before the Worker reads tables a new migration adds.
pub async fn ensure_schema(env: &Env, tenant: Tenant) -> Result<Tenant, ApiError> {
    if tenant.schema_version >= migrate::TENANT_SCHEMA_VERSION {
        return Ok(tenant);
    }
    crate::hub::arm(env, &tenant, false).await?;
    let control = control_db(env).await?;
    db::run(
        &control,
        "UPDATE tenants SET schema_version = ? WHERE id = ?",
        &[db::int(migrate::TENANT_SCHEMA_VERSION), db::text(&tenant.id)],
    )
    .await
    .map_err(|error| ApiError::internal(error.to_string()))?;
    forget(&tenant);
    Ok(Tenant {
        schema_version: migrate::TENANT_SCHEMA_VERSION,
        ..tenant
    })
}

/// Reads a tenant without the cache, for admin views.
pub async fn fresh_by_code(env: &Env, code: &str) -> Result<Option<Tenant>, ApiError> {
    let control = control_db(env).await?;
    let row = db::first(&control, "SELECT * FROM tenants WHERE code = ?", &[db::text(code)])
        .await
        .map_err(|error| ApiError::internal(error.to_string()))?;
    Ok(row.map(|row| Tenant::from_row(&row)))
}

pub async fn list(env: &Env) -> Result<Vec<Tenant>, ApiError> {
    let control = control_db(env).await?;
    let rows = db::all(&control, "SELECT * FROM tenants ORDER BY code", &[])
        .await
        .map_err(|error| ApiError::internal(error.to_string()))?;
    Ok(rows.iter().map(Tenant::from_row).collect())
}
