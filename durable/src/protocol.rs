//! Requests from the Worker to a tenant's hub and their replies, as JSON over the stub's fetch.

use kasir_core::error::ApiError;
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
    pub command: Command,
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
    /// Applies a sync push in order.
    Push {
        device_id: String,
        mutations: Vec<Value>,
    },
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
