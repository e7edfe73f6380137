//! Platform admin routes: provisioning and managing tenants.

use kasir_core::error::{ApiError, Detail};
use kasir_core::permissions::Role;
use kasir_core::validate::{is_email, is_tenant_code, normalize_email};
use kasir_durable::db;
use kasir_durable::migrate::TENANT_SCHEMA_VERSION;
use kasir_durable::protocol::{Actor, Command, NewOutlet, NewUser};
use serde_json::{json, Map, Value};
use worker::{Env, Method, Request, Response};

use crate::context::RequestContext;
use crate::directory::{self, control_db, Tenant, MODULES};
use crate::{crypto, http, hub};

const TIMEZONES: [&str; 3] = ["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"];
const PLANS: [&str; 3] = ["free", "pro", "enterprise"];
const LOCALES: [&str; 2] = ["id", "en"];
/// Shortest owner and user password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;

pub async fn dispatch(
    req: &mut Request,
    env: &Env,
    ctx: &mut RequestContext,
    method: &Method,
    segments: &[&str],
) -> Result<Response, ApiError> {
    match (method, segments) {
        (Method::Post, ["tenants"]) => provision(req, env, ctx).await,
        (Method::Get, ["tenants"]) => {
            let tenants: Vec<Value> = directory::list(env).await?.iter().map(Tenant::to_json).collect();
            http::json(200, &json!({ "items": tenants, "next_cursor": null }))
        }
        (Method::Get, ["tenants", code]) => {
            let tenant = find(env, code).await?;
            let mut body = tenant.to_json();
            body["usage"] = usage(env, &tenant).await?;
            http::json(200, &body)
        }
        (Method::Patch, ["tenants", code]) => update(req, env, code).await,
        (Method::Post, ["tenants", code, "alarm"]) => fire_alarm(env, code).await,
        (Method::Post, ["dev", "panic"]) => {
            let development = env
                .var("ENVIRONMENT")
                .map(|var| var.to_string() == "development")
                .unwrap_or(false);
            if !development {
                return Err(ApiError::not_found());
            }
            // Development only: shows that a panic gives the client a 500 and the next
            // request works on a reinitialised instance.
            panic!("deliberate panic from POST /v1/admin/dev/panic");
        }
        (Method::Delete, ["tenants", code]) => offboard(env, code).await,
        (Method::Get, ["jobs"]) => crate::routes::jobs::admin_list(req, env).await,
        (Method::Get, ["jobs", id]) => crate::routes::jobs::admin_show(env, &crate::router::path_id(id)?).await,
        (Method::Get, ["outbox"]) => crate::routes::jobs::outbox(req, env).await,
        (_, ["vendor", "files", rest @ ..]) => {
            crate::routes::files::vendor::admin_dispatch(req, env, method, rest).await
        }
        _ => Err(ApiError::not_found()),
    }
}

async fn find(env: &Env, code: &str) -> Result<Tenant, ApiError> {
    directory::fresh_by_code(env, code)
        .await?
        .ok_or_else(ApiError::not_found)
}

fn internal(error: worker::Error) -> ApiError {
    ApiError::internal(error.to_string())
}

/// Row counts of the tenant's main tables, and its stored files and their bytes.
async fn usage(env: &Env, tenant: &Tenant) -> Result<Value, ApiError> {
    let database = tenant.db(env)?;
    let mut rows = Map::new();
    let mut total = 0;
    for table in [
        "users",
        "devices",
        "outlets",
        "categories",
        "products",
        "customers",
        "transactions",
    ] {
        let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE tenant_id = ?");
        let count = db::first(&database, &sql, &[db::text(&tenant.id)])
            .await
            .map_err(internal)?
            .and_then(|row| db::get_i64(&row, "n"))
            .unwrap_or(0);
        total += count;
        rows.insert(table.to_string(), json!(count));
    }
    let files = crate::routes::files::usage(&database, &tenant.id).await?;
    Ok(json!({
        "rows": total,
        "rows_by_table": rows,
        "files": files.files,
        "bytes": files.bytes,
        "quota_bytes": kasir_core::files::storage_quota_bytes(&tenant.plan),
    }))
}

/// A validated provisioning request.
struct Provisioning {
    code: String,
    name: String,
    owner_email: String,
    owner_name: String,
    owner_password: String,
    placement: Option<String>,
    timezone: String,
    currency: String,
    locale: String,
    plan: String,
    modules: Vec<String>,
}

fn parse_provisioning(body: &Map<String, Value>) -> Result<Provisioning, ApiError> {
    let mut details = Vec::new();
    http::reject_unknown(
        body,
        &[
            "code",
            "name",
            "owner",
            "placement",
            "timezone",
            "currency",
            "locale",
            "modules",
            "plan",
        ],
        &mut details,
    );

    let code = http::string_field(body, "code", &mut details).unwrap_or_default();
    if !code.is_empty() && !is_tenant_code(&code) {
        details.push(Detail::new("code", "invalid_format"));
    }
    let name = http::string_field(body, "name", &mut details).unwrap_or_default();
    check_name(&name, "name", &mut details);

    let owner = match body.get("owner") {
        Some(Value::Object(owner)) => owner.clone(),
        Some(_) => {
            details.push(Detail::new("owner", "invalid_type"));
            Map::new()
        }
        None => {
            details.push(Detail::new("owner", "required"));
            Map::new()
        }
    };
    let mut owner_details = Vec::new();
    http::reject_unknown(&owner, &["email", "name", "password"], &mut owner_details);
    let owner_email = http::string_field(&owner, "email", &mut owner_details).unwrap_or_default();
    if !owner_email.is_empty() && !is_email(owner_email.trim()) {
        owner_details.push(Detail::new("email", "invalid_format"));
    }
    let owner_name = http::string_field(&owner, "name", &mut owner_details).unwrap_or_default();
    check_name(&owner_name, "name", &mut owner_details);
    let owner_password = http::string_field(&owner, "password", &mut owner_details).unwrap_or_default();
    check_password(&owner_password, "password", &mut owner_details);
    if body.get("owner").is_some_and(Value::is_object) {
        details.extend(owner_details.into_iter().map(|mut detail| {
            detail.field = format!("owner.{}", detail.field);
            detail
        }));
    }

    let choice = |key: &str, allowed: &[&str], default: &str, details: &mut Vec<Detail>| -> String {
        match body.get(key) {
            None | Some(Value::Null) => default.to_string(),
            Some(Value::String(text)) if allowed.contains(&text.as_str()) => text.clone(),
            Some(_) => {
                details.push(Detail::new(key, "invalid_format"));
                default.to_string()
            }
        }
    };
    let placement = match body.get("placement") {
        None | Some(Value::Null) => None,
        Some(_) => Some(choice("placement", &["dedicated", "shared"], "dedicated", &mut details)),
    };
    let timezone = choice("timezone", &TIMEZONES, "Asia/Jakarta", &mut details);
    let currency = choice("currency", &["IDR"], "IDR", &mut details);
    let locale = choice("locale", &LOCALES, "id", &mut details);
    let plan = choice("plan", &PLANS, "free", &mut details);
    let modules = match body.get("modules") {
        None | Some(Value::Null) => MODULES.iter().map(|m| m.to_string()).collect(),
        Some(value) => parse_modules(value, &mut details),
    };

    if !details.is_empty() {
        return Err(ApiError::validation(details));
    }
    Ok(Provisioning {
        code,
        name: name.trim().to_string(),
        owner_email: normalize_email(&owner_email),
        owner_name: owner_name.trim().to_string(),
        owner_password,
        placement,
        timezone,
        currency,
        locale,
        plan,
        modules,
    })
}

pub fn check_name(name: &str, field: &str, details: &mut Vec<Detail>) {
    if name.chars().count() > 200 {
        details.push(Detail::new(field, "too_long"));
    } else if name.contains('\0') {
        details.push(Detail::new(field, "invalid_format"));
    } else if name.trim().is_empty() && !details.iter().any(|d| d.field == field) {
        details.push(Detail::new(field, "required"));
    }
}

pub fn check_password(password: &str, field: &str, details: &mut Vec<Detail>) {
    let length = password.chars().count();
    if details.iter().any(|d| d.field == field) {
        return;
    }
    if password.contains('\0') {
        details.push(Detail::new(field, "invalid_format"));
    } else if length < MIN_PASSWORD_CHARS {
        details.push(Detail::new(field, "too_short"));
    } else if length > MAX_PASSWORD_CHARS {
        details.push(Detail::new(field, "too_long"));
    }
}

fn parse_modules(value: &Value, details: &mut Vec<Detail>) -> Vec<String> {
    let Some(list) = value.as_array() else {
        details.push(Detail::new("modules", "invalid_type"));
        return Vec::new();
    };
    let mut modules = Vec::new();
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
    modules
}

/// Lists the dedicated pool's bindings, in claim order.
fn pool(env: &Env) -> Vec<String> {
    env.var("TENANT_DB_POOL")
        .map(|var| var.to_string())
        .unwrap_or_default()
        .split(',')
        .map(|binding| binding.trim().to_string())
        .filter(|binding| !binding.is_empty())
        .collect()
}

const SHARED_BINDING: &str = "TENANT_DB_SHARED";

/// Creates a tenant: claims a database, records it in the directory, then has the tenant's
/// hub migrate the database and create the owner and the `PUSAT` outlet.
async fn provision(req: &mut Request, env: &Env, ctx: &mut RequestContext) -> Result<Response, ApiError> {
    let body = http::read_object(req).await?;
    let request = parse_provisioning(&body)?;
    ctx.tenant_code = Some(request.code.clone());
    let control = control_db(env).await?;

    if directory::fresh_by_code(env, &request.code).await?.is_some() {
        return Err(ApiError::conflict("tenant_code_taken"));
    }

    let tenant_id = crypto::new_uuid().map_err(internal)?;
    let outlet_id = crypto::new_uuid().map_err(internal)?;
    let now = kasir_durable::now_rfc3339();
    let used = db::all(
        &control,
        "SELECT db_binding FROM tenants WHERE placement = 'dedicated'",
        &[],
    )
    .await
    .map_err(internal)?;
    let used: Vec<&str> = used.iter().filter_map(|row| db::get_str(row, "db_binding")).collect();
    let mut candidates: Vec<(String, &str)> = Vec::new();
    if request.placement.as_deref() != Some("shared") {
        for binding in pool(env) {
            if !used.contains(&binding.as_str()) && env.d1(&binding).is_ok() {
                candidates.push((binding, "dedicated"));
            }
        }
    }
    candidates.push((SHARED_BINDING.to_string(), "shared"));

    // A concurrent provisioning may claim the same free database: the unique index on
    // dedicated bindings rejects the second claim, which then tries the next one.
    let mut claimed = None;
    for (binding, placement) in candidates {
        let inserted = db::run(
            &control,
            "INSERT INTO tenants (id, code, name, status, plan, placement, db_binding, timezone, currency, locale, modules, settings, schema_version, created_at, updated_at) VALUES (?, ?, ?, 'provisioning', ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
            &[
                db::text(&tenant_id),
                db::text(&request.code),
                db::text(&request.name),
                db::text(&request.plan),
                db::text(placement),
                db::text(&binding),
                db::text(&request.timezone),
                db::text(&request.currency),
                db::text(&request.locale),
                db::text(json!(request.modules).to_string()),
                db::text(json!({ "tax": kasir_core::money::TaxSettings::off() }).to_string()),
                db::text(&now),
                db::text(&now),
            ],
        )
        .await;
        match inserted {
            Ok(()) => {
                claimed = Some(binding);
                break;
            }
            Err(error) if db::is_unique_violation(&error) && error.to_string().contains("tenants.code") => {
                return Err(ApiError::conflict("tenant_code_taken"));
            }
            Err(error) if db::is_unique_violation(&error) => continue,
            Err(error) => return Err(internal(error)),
        }
    }
    let Some(binding) = claimed else {
        return Err(ApiError::internal("no tenant database could be claimed"));
    };
    let tenant = directory::fresh_by_code(env, &request.code)
        .await?
        .ok_or_else(|| ApiError::internal("tenant missing after insert"))?;

    let owner = NewUser {
        id: crypto::new_uuid().map_err(internal)?,
        email: request.owner_email.clone(),
        name: request.owner_name.clone(),
        role: Role::Owner,
        password_hash: crypto::hash_password(&request.owner_password).await.map_err(internal)?,
    };
    let owner_id = owner.id.clone();
    let command = Command::Provision {
        owner,
        outlet: NewOutlet {
            id: outlet_id.clone(),
            code: "PUSAT".to_string(),
            name: "Pusat".to_string(),
        },
    };
    let actor = Actor {
        user_id: owner_id.clone(),
        role: Role::Owner,
        device_id: None,
    };
    if let Err(error) = hub::call(env, &tenant, actor, command).await {
        // Release the claim so the code and the database can be used again.
        let _ = db::run(&control, "DELETE FROM tenants WHERE id = ?", &[db::text(&tenant_id)]).await;
        return Err(error);
    }

    db::run(
        &control,
        "UPDATE tenants SET status = 'active', default_outlet_id = ?, schema_version = ?, updated_at = ? WHERE id = ?",
        &[
            db::text(&outlet_id),
            db::int(TENANT_SCHEMA_VERSION),
            db::text(&now),
            db::text(&tenant_id),
        ],
    )
    .await
    .map_err(internal)?;
    audit(
        env,
        "tenant_provisioned",
        &request.code,
        json!({ "placement": tenant.placement, "db_binding": binding }),
    )
    .await;

    let tenant = find(env, &request.code).await?;
    directory::forget(&tenant);
    if let Err(error) = hub::arm(env, &tenant, false).await {
        worker::console_error!(
            "{}",
            json!({ "event": "hub_not_armed", "tenant": tenant.code, "error": error.to_string() })
        );
    }
    let welcome = json!({
        "template": "owner_welcome",
        "to": request.owner_email,
        "locale": tenant.locale,
        "data": { "tenant_name": tenant.name, "tenant_code": tenant.code, "name": request.owner_name },
    });
    // The shop exists whether or not the email could be queued; a failure is logged.
    if let Err(error) = crate::jobs::enqueue(env, Some(&tenant), "email", None, welcome, Some(&owner_id)).await {
        worker::console_error!(
            "{}",
            json!({ "event": "welcome_email_not_queued", "tenant": tenant.code, "error": error.to_string() })
        );
    }
    http::json(
        201,
        &json!({
            "tenant": tenant.to_json(),
            "owner": { "id": owner_id, "email": request.owner_email, "name": request.owner_name, "role": "owner" },
        }),
    )
}

/// `DELETE /v1/admin/tenants/{code}`: marks the tenant `deleting` (its requests answer 423)
/// and queues the offboarding job: a final backup, then its data and files go, and the
/// tenant answers 404.
async fn offboard(env: &Env, code: &str) -> Result<Response, ApiError> {
    let tenant = find(env, code).await?;
    let control = control_db(env).await?;
    db::run(
        &control,
        "UPDATE tenants SET status = 'deleting', updated_at = ? WHERE id = ?",
        &[db::text(kasir_durable::now_rfc3339()), db::text(&tenant.id)],
    )
    .await
    .map_err(internal)?;
    directory::forget(&tenant);
    let slot = format!("offboard:{}", tenant.id);
    let job_id = crate::jobs::enqueue(env, Some(&tenant), "offboard", Some(&slot), json!({}), None).await?;
    audit(env, "tenant_offboarding", code, json!({ "job_id": job_id })).await;
    http::json(202, &json!({ "job_id": job_id }))
}

/// `POST /v1/admin/tenants/{code}/alarm`, development only: fires the tenant's hub alarm now,
/// enqueueing the day's backup and sales email, so tests need not wait for the clock.
async fn fire_alarm(env: &Env, code: &str) -> Result<Response, ApiError> {
    let development = env
        .var("ENVIRONMENT")
        .map(|var| var.to_string() == "development")
        .unwrap_or(false);
    if !development {
        return Err(ApiError::not_found());
    }
    let tenant = find(env, code).await?;
    let armed = hub::arm(env, &tenant, true).await?;
    http::json(200, &armed)
}

/// Changes a tenant's status, modules or plan.
async fn update(req: &mut Request, env: &Env, code: &str) -> Result<Response, ApiError> {
    let body = http::read_object(req).await?;
    let tenant = find(env, code).await?;
    if tenant.status == "deleting" {
        return Err(ApiError::conflict("tenant_deleting"));
    }
    let mut details = Vec::new();
    http::reject_unknown(&body, &["status", "modules", "plan", "name"], &mut details);

    let mut status = tenant.status.clone();
    match body.get("status") {
        None => {}
        Some(Value::String(text)) if text == "active" || text == "suspended" => status = text.clone(),
        Some(_) => details.push(Detail::new("status", "invalid_format")),
    }
    let mut plan = tenant.plan.clone();
    match body.get("plan") {
        None => {}
        Some(Value::String(text)) if PLANS.contains(&text.as_str()) => plan = text.clone(),
        Some(_) => details.push(Detail::new("plan", "invalid_format")),
    }
    let modules = match body.get("modules") {
        None => tenant.modules.clone(),
        Some(value) => parse_modules(value, &mut details),
    };
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
    if !details.is_empty() {
        return Err(ApiError::validation(details));
    }

    let control = control_db(env).await?;
    db::run(
        &control,
        "UPDATE tenants SET status = ?, plan = ?, modules = ?, name = ?, updated_at = ? WHERE id = ?",
        &[
            db::text(&status),
            db::text(&plan),
            db::text(json!(modules).to_string()),
            db::text(&name),
            db::text(kasir_durable::now_rfc3339()),
            db::text(&tenant.id),
        ],
    )
    .await
    .map_err(internal)?;
    directory::forget(&tenant);
    audit(env, "tenant_updated", code, Value::Object(body)).await;

    let updated = find(env, code).await?;
    http::json(200, &updated.to_json())
}

/// Records a platform admin action; a failure to record is logged, not fatal.
async fn audit(env: &Env, action: &str, tenant_code: &str, detail: Value) {
    let Ok(control) = control_db(env).await else {
        return;
    };
    let id = crypto::new_uuid().unwrap_or_default();
    let result = db::run(
        &control,
        "INSERT INTO admin_audit (id, at, action, tenant_code, detail) VALUES (?, ?, ?, ?, ?)",
        &[
            db::text(id),
            db::text(kasir_durable::now_rfc3339()),
            db::text(action),
            db::text(tenant_code),
            db::text(detail.to_string()),
        ],
    )
    .await;
    if let Err(error) = result {
        worker::console_error!(
            "{}",
            json!({ "event": "audit_failed", "action": action, "error": error.to_string() })
        );
    }
}
