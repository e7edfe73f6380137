//! Requests from the Worker to a tenant's hub and their replies, as JSON over the stub's fetch.

use std::collections::BTreeMap;

use kasir_core::error::{ApiError, Lang};
use kasir_core::merge::Strategy;
use kasir_core::money::TaxSettings;
use kasir_core::permissions::Role;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One command for a tenant's hub with the context the hub needs to run it.
#[derive(Debug, Serialize, Deserialize)]
pub struct HubRequest {
    pub tenant_id: String,
    /// Name of the D1 binding that contains the tenant's data.
    pub db_binding: String,
    pub actor: Actor,
    pub tax: TaxSettings,
    #[serde(default)]
    pub sync: SyncSettings,
    /// A fault to inject, set by the Worker only in development: `d1_batch` makes the next
    /// commit's D1 batch fail, as a D1 outage in the middle of a merge would.
    #[serde(default)]
    pub fault: Option<String>,
    /// Language of error messages inside push results.
    #[serde(default = "default_lang")]
    pub lang: Lang,
    pub command: Command,
}

fn default_lang() -> Lang {
    Lang::En
}

/// The tenant's sync settings the hub merges by.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SyncSettings {
    /// Strategy per entity; entities not listed use [`Strategy::default_for`].
    #[serde(default)]
    pub strategies: BTreeMap<String, Strategy>,
}

impl SyncSettings {
    pub fn strategy(&self, entity: &str) -> Strategy {
        self.strategies
            .get(entity)
            .copied()
            .unwrap_or_else(|| Strategy::default_for(entity))
    }
}

/// The authenticated caller on whose behalf the hub writes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Actor {
    pub user_id: String,
    pub role: Role,
    pub device_id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaveMode {
    Create,
    Update,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Command {
    /// Migrates the tenant database and creates the owner and the first outlet.
    Provision { owner: NewUser, outlet: NewOutlet },
    /// Creates or updates one catalog record; `fields` are already validated by the Worker.
    Save {
        entity: String,
        id: String,
        fields: Map<String, Value>,
        mode: SaveMode,
        sync_source: String,
    },
    /// Soft-deletes one catalog record.
    Delete {
        entity: String,
        id: String,
        sync_source: String,
    },
    /// Records a sale from its API body.
    Sale { body: Value, sync_source: String },
    /// Applies a sync push in order. With `server_clock`, mutations carry no `hlc` and the
    /// hub stamps them with its own clock (WatermelonDB clients keep none).
    Push {
        device_id: String,
        mutations: Vec<Value>,
        #[serde(default)]
        server_clock: bool,
    },
    /// Settles a conflict held for manual review.
    ResolveConflict {
        conflict_id: String,
        resolution: String,
        data: Option<Map<String, Value>>,
    },
    /// Voids a whole sale; the Worker has checked who may.
    Void {
        transaction_id: String,
        void_id: String,
        body: Map<String, Value>,
        /// The voiding user's open shift, recorded with the void.
        shift_id: Option<String>,
    },
    /// Refunds lines of a sale.
    Refund {
        transaction_id: String,
        body: Map<String, Value>,
        shift_id: Option<String>,
    },
    /// Marks a pending payment of a sale paid.
    ConfirmPayment {
        transaction_id: String,
        index: usize,
        body: Map<String, Value>,
    },
    /// Records a purchase or a transfer from the REST API; `body` carries its `id`.
    RecordMovement { body: Map<String, Value> },
    /// Records a stock count as adjustment movements.
    Adjust { id: String, body: Map<String, Value> },
    /// Writes a backup of the tenant's data to R2 and prunes old ones past the plan's
    /// retention.
    Backup {
        backup_id: String,
        /// `manual`, `daily` or `final` (before offboarding).
        backup_kind: String,
        tenant_code: String,
        keep_daily: usize,
        keep_weekly: usize,
    },
    /// Keeps the tenant's daily job times and arms the alarm when it is missing; `fire_now`
    /// (development only) enqueues the day's jobs at once.
    Arm {
        schedule: crate::schedule::Schedule,
        fire_now: bool,
    },
    /// Deletes every row of the tenant from its database and deletes the hub's schedule;
    /// the last step of offboarding, after the final backup.
    Offboard,
    /// Restores a backup. Pushes get 503 while it runs.
    Restore { backup_id: String },
    /// Hard-deletes tombstones deleted more than `retention_seconds` ago and records the
    /// newest purged version, below which pull cursors expire.
    Purge { retention_seconds: i64 },
}

#[derive(Debug, Serialize, Deserialize)]
pub struct NewUser {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct NewOutlet {
    pub id: String,
    pub code: String,
    pub name: String,
}

/// The hub's reply: a value or an API error.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HubReply {
    Ok(Value),
    Error(ApiError),
}

/// A stored record and whether this call created it (201) or found it stored (200).
#[derive(Debug, Serialize, Deserialize)]
pub struct Saved {
    pub record: Value,
    pub created: bool,
}
