//! The servers kasir-sim can drive, what each one needs that the others do not, and the
//! tenant and login calls that every scenario starts with.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::http::{Client, RetryPolicy};

/// Kind of server behind a base URL. All three speak the same subset of the Kasir Edge
/// HTTP contract: tenant provisioning, login, sync push and pull of products, and sales.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// Kasir Edge under `wrangler dev`.
    Kasir,
    /// The Node/Express/Sequelize/SQLite benchmark peer.
    Peer,
    /// The raw D1 floor Worker of `bench/floor`.
    Floor,
}

impl TargetKind {
    /// Name used in tables.
    pub fn label(self) -> &'static str {
        match self {
            TargetKind::Kasir => "Kasir Edge",
            TargetKind::Peer => "peer (Express + Sequelize + SQLite)",
            TargetKind::Floor => "floor (bare D1 batch)",
        }
    }

    /// Short name used in logs and JSON keys.
    pub fn short(self) -> &'static str {
        match self {
            TargetKind::Kasir => "kasir",
            TargetKind::Peer => "peer",
            TargetKind::Floor => "floor",
        }
    }

    /// Whether a push must carry `data.updated_at`. The peer's last-write-wins compares it,
    /// and it cannot read the wall time out of a Kasir Edge HLC string.
    pub fn needs_updated_at(self) -> bool {
        self == TargetKind::Peer
    }
}

/// One server under test.
#[derive(Debug, Clone)]
pub struct Target {
    pub kind: TargetKind,
    pub base_url: String,
    pub admin_token: String,
    /// Root process ids of the server; their CPU time and that of all their descendants is
    /// what the CPU figures count.
    pub cpu_pids: Vec<u32>,
}

/// A tenant the simulator created, with the owner login every terminal uses.
#[derive(Debug, Clone)]
pub struct TenantAccount {
    pub code: String,
    pub outlet_id: String,
    /// Outlet code used in receipt numbers.
    pub outlet_code: String,
    pub owner_email: String,
    pub owner_password: String,
}

/// Tokens and device of one login.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_token: String,
    pub device_id: String,
    /// Device code used in receipt numbers: the server's, or the first six hex digits of the
    /// device id where the server issues none (the peer).
    pub device_code: String,
}

/// Creates a tenant through `POST /v1/admin/tenants`. `placement` is `dedicated` or
/// `shared` (Kasir Edge; the others accept and ignore it).
///
/// # Errors
/// Fails when the server does not respond with 201.
pub fn provision_tenant(
    client: &Client,
    target: &Target,
    code: &str,
    shop_name: &str,
    placement: &str,
) -> Result<TenantAccount, String> {
    let owner_email = format!("pemilik@{code}.test");
    let owner_password = format!("Rahasia-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let body = json!({
        "code": code,
        "name": shop_name,
        "owner": {"email": owner_email, "name": "Pemilik Toko", "password": owner_password},
        "placement": placement,
        "timezone": "Asia/Jakarta",
        "currency": "IDR",
        "locale": "id",
    });
    let text = body.to_string();
    let attempted = client.send_retrying(
        "POST",
        "/v1/admin/tenants",
        Some(&target.admin_token),
        &[],
        Some(&text),
        &RetryPolicy::default(),
    )?;
    let reply = attempted.reply;
    if reply.status != 201 {
        return Err(format!(
            "POST /v1/admin/tenants for {code} returned {}",
            reply.describe()
        ));
    }

    // The peer has no outlets; any UUID passes its sale checks.
    let outlet_id = reply.body["tenant"]["default_outlet_id"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    Ok(TenantAccount {
        code: code.to_string(),
        outlet_id,
        outlet_code: "PUSAT".to_string(),
        owner_email,
        owner_password,
    })
}

/// Logs in as the tenant's owner on a new device named `device_name`.
///
/// Kasir Edge and the floor register the device from its name. The peer needs the device
/// id in the request, so the simulator proposes one there.
///
/// # Errors
/// Fails when the server does not respond with 200 and an access token.
pub fn login_device(
    client: &Client,
    kind: TargetKind,
    tenant: &TenantAccount,
    device_name: &str,
) -> Result<Session, String> {
    let proposed_id = uuid::Uuid::new_v4().to_string();
    let device = match kind {
        TargetKind::Peer => json!({"id": proposed_id, "name": device_name}),
        TargetKind::Kasir | TargetKind::Floor => json!({"name": device_name}),
    };
    let body = json!({
        "tenant": tenant.code,
        "email": tenant.owner_email,
        "password": tenant.owner_password,
        "device": device,
    })
    .to_string();
    let attempted = client.send_retrying(
        "POST",
        "/v1/auth/login",
        None,
        &[],
        Some(&body),
        &RetryPolicy::default(),
    )?;
    let reply = attempted.reply;
    if reply.status != 200 {
        return Err(format!(
            "login of {device_name} to {} returned {}",
            tenant.code,
            reply.describe()
        ));
    }

    let access_token = string_at(&reply.body, "access_token")
        .ok_or_else(|| format!("login of {device_name} returned no access_token: {}", reply.describe()))?;
    let device_id = string_at(&reply.body["device"], "id").unwrap_or(proposed_id);
    let device_code = string_at(&reply.body["device"], "code")
        .unwrap_or_else(|| device_id.replace('-', "")[..6].to_ascii_uppercase());
    Ok(Session {
        access_token,
        device_id,
        device_code,
    })
}

fn string_at(value: &Value, field: &str) -> Option<String> {
    value[field].as_str().map(str::to_string)
}
