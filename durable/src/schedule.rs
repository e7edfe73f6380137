//! The hub's alarm: each tenant's daily backup and daily sales email at the tenant-local
//! times of its settings. The alarm enqueues jobs whose slot is the tenant and local date,
//! so however often it fires, each job runs once a day.

use kasir_core::error::ApiError;
use kasir_core::sale::derived_id;
use kasir_core::schedule::{latest_due, local_date, next_slot};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{Env, State};

use crate::jobs::{enqueue, NewJob};
use crate::now_millis;

const SCHEDULE_KEY: &str = "schedule";

/// What the alarm needs to know about its tenant, kept in the hub's own storage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub tenant_id: String,
    pub tenant_code: String,
    pub utc_offset_hours: i64,
    /// Minutes after local midnight.
    pub backup_minutes: i64,
    pub report_minutes: i64,
    /// Slots before this time are not due: a new tenant gets no backup for the day it was
    /// made before its backup time.
    #[serde(default)]
    pub since_ms: i64,
}

/// Stores the schedule and sets the alarm when it is missing or the schedule changed.
/// With `fire_now` (development only) the day's jobs are enqueued at once.
pub(crate) async fn arm(state: &State, env: &Env, mut schedule: Schedule, fire_now: bool) -> Result<Value, ApiError> {
    let storage = state.storage();
    let stored: Option<Schedule> = storage.get(SCHEDULE_KEY).await.map_err(storage_error)?;
    schedule.since_ms = stored.as_ref().map(|stored| stored.since_ms).unwrap_or_else(now_millis);
    let alarm = storage.get_alarm().await.map_err(storage_error)?;
    let changed = stored.as_ref().map(|stored| stored != &schedule).unwrap_or(true);
    if changed {
        storage.put(SCHEDULE_KEY, &schedule).await.map_err(storage_error)?;
    }
    if changed || alarm.is_none() {
        set_next_alarm(state, &schedule).await?;
    }
    let mut enqueued = Vec::new();
    if fire_now {
        let today = local_date(now_millis(), schedule.utc_offset_hours);
        enqueued = enqueue_day(env, &schedule, "backup", &today).await?;
        enqueued.extend(enqueue_day(env, &schedule, "daily_summary", &today).await?);
    }
    let alarm = storage.get_alarm().await.map_err(storage_error)?;
    Ok(json!({ "armed": changed || alarm.is_some(), "alarm_at": alarm, "enqueued": enqueued }))
}

/// Runs when the alarm fires: enqueues the jobs whose latest slot is due, then sets the next.
pub(crate) async fn fire(state: &State, env: &Env) -> Result<(), ApiError> {
    let storage = state.storage();
    let Some(schedule) = storage.get::<Schedule>(SCHEDULE_KEY).await.map_err(storage_error)? else {
        return Ok(());
    };
    let now = now_millis();
    for (kind, minutes) in [
        ("backup", schedule.backup_minutes),
        ("daily_summary", schedule.report_minutes),
    ] {
        if let Some((date, at)) = latest_due(now, schedule.utc_offset_hours, minutes) {
            if at >= schedule.since_ms {
                enqueue_day(env, &schedule, kind, &date).await?;
            }
        }
    }
    set_next_alarm(state, &schedule).await
}

async fn set_next_alarm(state: &State, schedule: &Schedule) -> Result<(), ApiError> {
    let now = now_millis();
    let next = [schedule.backup_minutes, schedule.report_minutes]
        .iter()
        .filter_map(|minutes| next_slot(now, schedule.utc_offset_hours, *minutes))
        .min()
        .unwrap_or(now + 86_400_000);
    state
        .storage()
        .set_alarm((next - now).max(1))
        .await
        .map_err(storage_error)
}

/// Enqueues one tenant's job for one local date; the slot makes it once-only.
async fn enqueue_day(env: &Env, schedule: &Schedule, kind: &str, date: &str) -> Result<Vec<String>, ApiError> {
    let slot = format!("{kind}:{}:{date}", schedule.tenant_id);
    let payload = match kind {
        "backup" => json!({ "backup_id": derived_id(&["backup", &slot]), "kind": "daily" }),
        _ => json!({ "date": date }),
    };
    let id = enqueue(
        env,
        NewJob {
            id: &derived_id(&["job", &slot]),
            tenant_id: Some(&schedule.tenant_id),
            tenant_code: Some(&schedule.tenant_code),
            kind,
            slot: Some(&slot),
            payload,
            created_by: None,
        },
    )
    .await?;
    Ok(vec![id])
}

/// Forgets the schedule and cancels the alarm of an offboarded tenant.
pub(crate) async fn disarm(state: &State) -> Result<(), ApiError> {
    let storage = state.storage();
    storage.delete(SCHEDULE_KEY).await.map_err(storage_error)?;
    storage.delete_alarm().await.map_err(storage_error)
}

fn storage_error(error: worker::Error) -> ApiError {
    ApiError::internal(format!("hub storage: {error}"))
}
