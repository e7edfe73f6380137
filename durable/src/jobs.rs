//! Job records and queue messages, shared by the Worker (jobs users start) and the hub (jobs
//! its alarm schedules).

use kasir_core::error::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::Env;

use crate::{db, internal, now_rfc3339};

/// Deliveries of an email job before it is dead-lettered.
const MAX_EMAIL_ATTEMPTS: u32 = 5;
/// Deliveries of a backup, restore or offboarding job before it is dead-lettered.
const MAX_BACKUP_ATTEMPTS: u32 = 3;

/// A queued job. The runtime does not tell a consumer how often a message was delivered, so
/// the message carries its attempt number and a retry is a new message.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobMessage {
    pub job_id: String,
    pub kind: String,
    pub attempt: u32,
}

/// A job to record and queue.
pub struct NewJob<'a> {
    pub id: &'a str,
    pub tenant_id: Option<&'a str>,
    pub tenant_code: Option<&'a str>,
    pub kind: &'a str,
    /// Makes the job once-only: a second job with the same slot is not created.
    pub slot: Option<&'a str>,
    pub payload: Value,
    pub created_by: Option<&'a str>,
}

/// The queue binding of a job kind, the binding of its dead letters, and its attempts.
pub fn queues_of(kind: &str) -> (&'static str, &'static str, u32) {
    match kind {
        "email" | "daily_summary" => ("EMAIL_QUEUE", "EMAIL_DLQ", MAX_EMAIL_ATTEMPTS),
        _ => ("BACKUP_QUEUE", "BACKUP_DLQ", MAX_BACKUP_ATTEMPTS),
    }
}

/// Records a job and queues it; returns its id, or the id of the job already in its slot.
///
/// # Errors
/// 503 when the queue refuses the message; the job row is removed so nothing waits forever.
pub async fn enqueue(env: &Env, job: NewJob<'_>) -> Result<String, ApiError> {
    let control = env
        .d1("CONTROL_DB")
        .map_err(|error| ApiError::internal(format!("CONTROL_DB: {error}")))?;
    let now = now_rfc3339();
    let inserted = db::first(
        &control,
        "INSERT INTO jobs (id, tenant_id, tenant_code, kind, status, payload, slot, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?) ON CONFLICT (slot) DO NOTHING RETURNING id",
        &[
            db::text(job.id),
            db::opt_text(job.tenant_id),
            db::opt_text(job.tenant_code),
            db::text(job.kind),
            db::text(job.payload.to_string()),
            db::opt_text(job.slot),
            db::opt_text(job.created_by),
            db::text(&now),
            db::text(&now),
        ],
    )
    .await
    .map_err(internal)?;
    if inserted.is_none() {
        let existing = db::first(
            &control,
            "SELECT id FROM jobs WHERE slot = ?",
            &[db::opt_text(job.slot)],
        )
        .await
        .map_err(internal)?;
        return existing
            .and_then(|row| db::get_str(&row, "id").map(str::to_string))
            .ok_or_else(|| ApiError::internal("job slot taken but no job found"));
    }

    let (queue, _, _) = queues_of(job.kind);
    let message = JobMessage {
        job_id: job.id.to_string(),
        kind: job.kind.to_string(),
        attempt: 1,
    };
    let sent = match env.queue(queue) {
        Ok(queue) => queue.send(message).await,
        Err(error) => Err(error),
    };
    if let Err(error) = sent {
        let _ = db::run(&control, "DELETE FROM jobs WHERE id = ?", &[db::text(job.id)]).await;
        worker::console_error!(
            "{}",
            json!({ "event": "job_not_queued", "job_id": job.id, "kind": job.kind, "error": error.to_string() })
        );
        return Err(ApiError::new(ErrorCode::Unavailable));
    }
    Ok(job.id.to_string())
}
