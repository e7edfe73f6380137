//! Background jobs: a status row per job in CONTROL_DB, messages on the `email` and `backup`
//! queues, and the queue consumer that runs them with retries and dead-lettering.

pub mod email;

use kasir_core::error::ApiError;
use kasir_core::permissions::Role;
use kasir_durable::db;
use kasir_durable::protocol::{Actor, Command};
use serde_json::{json, Value};
use worker::{console_error, console_log, Env, MessageBatch, MessageBuilder, MessageExt};

use crate::directory::{control_db, Tenant};

pub use kasir_durable::jobs::JobMessage;
use kasir_durable::jobs::{queues_of, NewJob};

fn internal(error: worker::Error) -> ApiError {
    ApiError::internal(error.to_string())
}

fn now() -> String {
    kasir_durable::now_rfc3339()
}

fn is_development(env: &Env) -> bool {
    env.var("ENVIRONMENT")
        .map(|var| var.to_string() == "development")
        .unwrap_or(false)
}

/// Seconds before a retry: 30 s, 2 min, 8 min, ... capped at an hour; 1 s in development so
/// tests need not wait.
fn backoff_seconds(env: &Env, attempt: u32) -> u32 {
    if is_development(env) {
        return 1;
    }
    (30u32.saturating_mul(4u32.saturating_pow(attempt.saturating_sub(1)))).min(3600)
}

/// Records a job and queues it. A job with a `slot` (such as one backup per tenant and day)
/// is created once: enqueueing the same slot again returns the first job's id.
///
/// # Errors
/// 503 when the queue refuses the message; the job row is removed so nothing waits forever.
pub async fn enqueue(
    env: &Env,
    tenant: Option<&Tenant>,
    kind: &str,
    slot: Option<&str>,
    payload: Value,
    created_by: Option<&str>,
) -> Result<String, ApiError> {
    // The control database must exist before the job row does.
    control_db(env).await?;
    let id = crate::crypto::new_uuid().map_err(internal)?;
    kasir_durable::jobs::enqueue(
        env,
        NewJob {
            id: &id,
            tenant_id: tenant.map(|t| t.id.as_str()),
            tenant_code: tenant.map(|t| t.code.as_str()),
            kind,
            slot,
            payload,
            created_by,
        },
    )
    .await
}

/// Renders a job as the API shows it.
pub fn job_json(row: &db::Row) -> Value {
    let parse = |column: &str| db::get_str(row, column).and_then(|text| serde_json::from_str::<Value>(text).ok());
    let mut job = json!({
        "id": row.get("id"),
        "kind": row.get("kind"),
        "status": row.get("status"),
        "attempts": row.get("attempts"),
        "tenant": row.get("tenant_code"),
        "created_at": row.get("created_at"),
        "updated_at": row.get("updated_at"),
        "dead_lettered": db::get_i64(row, "dead_lettered").unwrap_or(0) != 0,
    });
    if let Some(error) = row.get("error").filter(|error| !error.is_null()) {
        job["error"] = error.clone();
    }
    if let Some(result) = parse("result") {
        job["result"] = result;
    }
    job
}

/// Reads one job.
pub async fn find(env: &Env, id: &str) -> Result<Option<db::Row>, ApiError> {
    let control = control_db(env).await?;
    db::first(&control, "SELECT * FROM jobs WHERE id = ?", &[db::text(id)])
        .await
        .map_err(internal)
}

async fn set_status(
    env: &Env,
    id: &str,
    status: &str,
    error: Option<&str>,
    result: Option<&Value>,
) -> Result<(), ApiError> {
    let control = control_db(env).await?;
    db::run(
        &control,
        "UPDATE jobs SET status = ?, error = ?, result = COALESCE(?, result), updated_at = ? WHERE id = ?",
        &[
            db::text(status),
            db::opt_text(error),
            db::opt_text(result.map(|value| value.to_string())),
            db::text(now()),
            db::text(id),
        ],
    )
    .await
    .map_err(internal)
}

/// Runs one delivery of a job.
async fn run(env: &Env, job: &db::Row) -> Result<Value, String> {
    let payload: Value = db::get_str(job, "payload")
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null);
    match db::get_str(job, "kind") {
        Some("email") => email::deliver(env, &payload).await,
        Some(kind @ ("backup" | "restore")) => run_in_hub(env, job, kind, &payload).await,
        Some("daily_summary") => daily_summary(env, job, &payload).await,
        Some("offboard") => offboard(env, job).await,
        Some(kind) => Err(format!("no runner for job kind {kind}")),
        None => Err("job has no kind".to_string()),
    }
}

/// Backups kept per plan: the newest daily ones, and one a week for some weeks.
fn retention(plan: &str) -> (usize, usize) {
    match plan {
        "enterprise" => (30, 12),
        "pro" => (14, 8),
        _ => (7, 4),
    }
}

/// Runs a backup or restore in the tenant's hub, on behalf of the platform.
async fn run_in_hub(env: &Env, job: &db::Row, kind: &str, payload: &Value) -> Result<Value, String> {
    let tenant_id = db::get_str(job, "tenant_id").ok_or("job has no tenant")?;
    let tenant = crate::directory::by_id(env, tenant_id)
        .await
        .map_err(|error| error.to_string())?
        .ok_or("tenant not found")?;
    let backup_id = payload["backup_id"].as_str().ok_or("job has no backup_id")?.to_string();
    let command = if kind == "backup" {
        let (keep_daily, keep_weekly) = retention(&tenant.plan);
        Command::Backup {
            backup_id,
            backup_kind: payload["kind"].as_str().unwrap_or("manual").to_string(),
            tenant_code: tenant.code.clone(),
            keep_daily,
            keep_weekly,
        }
    } else {
        Command::Restore { backup_id }
    };
    let actor = Actor {
        user_id: db::get_str(job, "created_by").unwrap_or("system").to_string(),
        role: Role::Owner,
        device_id: None,
    };
    crate::hub::call(env, &tenant, actor, command)
        .await
        .map_err(|error| error.to_string())
}

/// Offboards a tenant: a final backup, then its rows, its files in R2 and its directory
/// entry go. The final backup stays in R2 under `backups/{code}/`.
async fn offboard(env: &Env, job: &db::Row) -> Result<Value, String> {
    let tenant_id = db::get_str(job, "tenant_id").ok_or("job has no tenant")?;
    let Some(tenant) = crate::directory::by_id(env, tenant_id)
        .await
        .map_err(|error| error.to_string())?
    else {
        // A redelivery after the last step finds nothing left to do.
        return Ok(json!({ "offboarded": tenant_id }));
    };
    let actor = Actor {
        user_id: "system".to_string(),
        role: Role::Owner,
        device_id: None,
    };
    let (keep_daily, keep_weekly) = retention(&tenant.plan);
    let final_id = kasir_core::sale::derived_id(&["final", &tenant.id]);
    let store = crate::storage::R2Store::from_env(env).map_err(|error| error.to_string())?;
    // A retry after the erase must not take the final backup again from emptied tables.
    let manifest_key = format!("backups/{}/{final_id}.manifest.json", tenant.code);
    let already_backed_up = crate::storage::ObjectStore::head(&store, &manifest_key)
        .await
        .map_err(|error| error.to_string())?
        .is_some();
    let final_backup = Command::Backup {
        backup_id: final_id.clone(),
        backup_kind: "final".to_string(),
        tenant_code: tenant.code.clone(),
        keep_daily,
        keep_weekly,
    };
    if !already_backed_up {
        crate::hub::call(env, &tenant, actor.clone(), final_backup)
            .await
            .map_err(|error| error.to_string())?;
    }
    let erased = crate::hub::call(env, &tenant, actor, Command::Offboard)
        .await
        .map_err(|error| error.to_string())?;
    let files = crate::storage::ObjectStore::delete_prefix(&store, &format!("tenants/{}/", tenant.code))
        .await
        .map_err(|error| error.to_string())?;
    let control = control_db(env).await.map_err(|error| error.to_string())?;
    db::run(&control, "DELETE FROM tenants WHERE id = ?", &[db::text(&tenant.id)])
        .await
        .map_err(|error| error.to_string())?;
    crate::directory::forget(&tenant);
    Ok(json!({ "final_backup": final_id, "erased": erased["deleted"], "files_deleted": files }))
}

/// Emails the day's sales summary, from the same figures as the daily report, to every owner.
async fn daily_summary(env: &Env, job: &db::Row, payload: &Value) -> Result<Value, String> {
    let tenant_id = db::get_str(job, "tenant_id").ok_or("job has no tenant")?;
    let tenant = crate::directory::by_id(env, tenant_id)
        .await
        .map_err(|error| error.to_string())?
        .ok_or("tenant not found")?;
    let date = payload["date"].as_str().ok_or("job has no date")?;
    let mut figures = crate::routes::reports::daily_figures(env, &tenant, date)
        .await
        .map_err(|error| error.to_string())?;
    figures["tenant_name"] = json!(tenant.name);

    let mut sent = Vec::new();
    for to in owner_emails(env, &tenant).await.map_err(|error| error.to_string())? {
        let message = json!({ "template": "daily_summary", "to": to, "locale": tenant.locale, "data": figures });
        sent.push(email::deliver(env, &message).await?);
    }

    // Products at or under their low-stock threshold, or below zero, go out in the same run.
    let low = low_stock(env, &tenant).await.map_err(|error| error.to_string())?;
    if !low.is_empty() {
        for owner in owner_emails(env, &tenant).await.map_err(|error| error.to_string())? {
            let data = json!({ "tenant_name": tenant.name, "items": low });
            let message = json!({ "template": "low_stock", "to": owner, "locale": tenant.locale, "data": data });
            sent.push(email::deliver(env, &message).await?);
        }
    }
    Ok(json!({ "date": date, "sent": sent, "low_stock": low.len() }))
}

async fn owner_emails(env: &Env, tenant: &crate::directory::Tenant) -> Result<Vec<String>, ApiError> {
    let rows = db::all(
        &tenant.db(env)?,
        "SELECT email FROM users WHERE tenant_id = ? AND role = 'owner' AND deleted_at IS NULL ORDER BY email",
        &[db::text(&tenant.id)],
    )
    .await
    .map_err(internal)?;
    Ok(rows
        .iter()
        .filter_map(|row| db::get_str(row, "email").map(str::to_string))
        .collect())
}

/// Tracked products at or under their threshold, or below zero, per outlet: `{name, qty}`.
async fn low_stock(env: &Env, tenant: &crate::directory::Tenant) -> Result<Vec<Value>, ApiError> {
    let rows = db::all(
        &tenant.db(env)?,
        "SELECT p.name, o.code AS outlet, COALESCE(SUM(m.qty), 0) AS level, p.low_stock_threshold AS threshold \
         FROM products p \
         JOIN outlets o ON o.tenant_id = p.tenant_id AND o.deleted_at IS NULL \
         LEFT JOIN stock_movements m ON m.tenant_id = p.tenant_id AND m.product_id = p.id AND m.outlet_id = o.id \
         WHERE p.tenant_id = ? AND p.track_stock = 1 AND p.deleted_at IS NULL \
         GROUP BY p.id, o.id ORDER BY p.name, o.code",
        &[db::text(&tenant.id)],
    )
    .await
    .map_err(internal)?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            let level = db::get_i64(row, "level").unwrap_or(0);
            let low = db::get_i64(row, "threshold").is_some_and(|threshold| level <= threshold * 1000);
            (low || level < 0).then(|| {
                let name = format!(
                    "{} ({})",
                    db::get_str(row, "name").unwrap_or_default(),
                    db::get_str(row, "outlet").unwrap_or_default()
                );
                json!({ "name": name, "qty": kasir_core::money::format_qty(level) })
            })
        })
        .collect())
}

/// Consumes a batch of job messages, from a work queue or a dead-letter queue.
pub async fn consume(batch: MessageBatch<JobMessage>, env: Env) {
    let dead_letters = batch.queue().ends_with("-dlq");
    let messages = match batch.messages() {
        Ok(messages) => messages,
        Err(error) => {
            console_error!(
                "{}",
                json!({ "event": "queue_batch_unreadable", "queue": batch.queue(), "error": error.to_string() })
            );
            batch.ack_all();
            return;
        }
    };
    for message in messages {
        let job_message = message.body().clone();
        if dead_letters {
            mark_dead(&env, &job_message).await;
        } else {
            handle(&env, &job_message).await;
        }
        // Every delivery is settled here: a retry is a new message carrying its attempt.
        message.ack();
    }
}

async fn mark_dead(env: &Env, message: &JobMessage) {
    let result = async {
        let control = control_db(env).await?;
        db::run(
            &control,
            "UPDATE jobs SET status = 'failed', dead_lettered = 1, updated_at = ? WHERE id = ?",
            &[db::text(now()), db::text(&message.job_id)],
        )
        .await
        .map_err(internal)
    }
    .await;
    console_error!(
        "{}",
        json!({ "event": "job_dead_lettered", "job_id": message.job_id, "kind": message.kind, "attempt": message.attempt, "recorded": result.is_ok() })
    );
    if message.kind == "backup" {
        notify_backup_failed(env, &message.job_id).await;
    }
}

/// Tells the owners that a backup failed for good; a failure to tell them is logged.
async fn notify_backup_failed(env: &Env, job_id: &str) {
    let outcome = async {
        let job = find(env, job_id).await?.ok_or_else(ApiError::not_found)?;
        let tenant_id = db::get_str(&job, "tenant_id").unwrap_or_default().to_string();
        let tenant = crate::directory::by_id(env, &tenant_id)
            .await?
            .ok_or_else(ApiError::not_found)?;
        let error = db::get_str(&job, "error").unwrap_or("unknown error").to_string();
        for owner in owner_emails(env, &tenant).await? {
            let data = json!({ "tenant_name": tenant.name, "error": error });
            let payload = json!({ "template": "backup_failed", "to": owner, "locale": tenant.locale, "data": data });
            enqueue(env, Some(&tenant), "email", None, payload, None).await?;
        }
        Ok::<(), ApiError>(())
    }
    .await;
    if let Err(error) = outcome {
        console_error!(
            "{}",
            json!({ "event": "backup_failure_not_notified", "job_id": job_id, "error": error.to_string() })
        );
    }
}

async fn handle(env: &Env, message: &JobMessage) {
    let started = worker::Date::now().as_millis();
    let job = match find(env, &message.job_id).await {
        Ok(Some(job)) => job,
        Ok(None) => {
            console_error!("{}", json!({ "event": "job_missing", "job_id": message.job_id }));
            return;
        }
        Err(error) => {
            console_error!(
                "{}",
                json!({ "event": "job_unreadable", "job_id": message.job_id, "error": error.to_string() })
            );
            requeue(env, message).await;
            return;
        }
    };
    // A duplicate delivery of a finished job does nothing.
    if db::get_str(&job, "status") == Some("done") {
        return;
    }
    let control = match control_db(env).await {
        Ok(control) => control,
        Err(_) => {
            requeue(env, message).await;
            return;
        }
    };
    let _ = db::run(
        &control,
        "UPDATE jobs SET status = 'running', attempts = ?, updated_at = ? WHERE id = ?",
        &[
            db::int(i64::from(message.attempt)),
            db::text(now()),
            db::text(&message.job_id),
        ],
    )
    .await;

    let outcome = run(env, &job).await;
    let duration_ms = worker::Date::now().as_millis().saturating_sub(started);
    match outcome {
        Ok(result) => {
            let _ = set_status(env, &message.job_id, "done", None, Some(&result)).await;
            console_log!(
                "{}",
                json!({ "event": "job_done", "job_id": message.job_id, "kind": message.kind, "attempt": message.attempt, "duration_ms": duration_ms })
            );
        }
        Err(error) => {
            console_error!(
                "{}",
                json!({ "event": "job_failed", "job_id": message.job_id, "kind": message.kind, "attempt": message.attempt, "error": error, "duration_ms": duration_ms })
            );
            let _ = set_status(env, &message.job_id, "queued", Some(&error), None).await;
            requeue(env, message).await;
        }
    }
}

/// Queues the next attempt after a backoff, or the dead-letter queue after the last one.
async fn requeue(env: &Env, message: &JobMessage) {
    let (queue, dead_letter_queue, max_attempts) = queues_of(&message.kind);
    let next = JobMessage {
        attempt: message.attempt + 1,
        ..message.clone()
    };
    let sent = if message.attempt >= max_attempts {
        match env.queue(dead_letter_queue) {
            Ok(queue) => queue.send(next).await,
            Err(error) => Err(error),
        }
    } else {
        let delay = backoff_seconds(env, message.attempt);
        match env.queue(queue) {
            Ok(queue) => queue.send(MessageBuilder::new(next).delay_seconds(delay).build()).await,
            Err(error) => Err(error),
        }
    };
    if let Err(error) = sent {
        console_error!(
            "{}",
            json!({ "event": "job_not_requeued", "job_id": message.job_id, "error": error.to_string() })
        );
        let _ = set_status(env, &message.job_id, "failed", Some("could not be queued again"), None).await;
    }
}
