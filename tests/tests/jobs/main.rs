//! End-to-end tests of background jobs against one real `wrangler dev`: emails in the
//! development outbox, backups and restores, dead-lettered jobs, the hub alarm and the cron
//! trigger, and who may read a job.
//!
//! Every test provisions its own tenant on shared placement, so tests run in parallel and in
//! any order. Jobs run on the local queues; tests poll their status for a bounded time and
//! never sleep for a fixed time. The outbox is shared by every test of this binary, so tests
//! look up messages by recipient, and each recipient is unique to one test.

mod backups;
mod dead_letters;
mod emails;
mod offboard;
mod restore;
mod schedule;
mod visibility;

use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat};
use kasir_tests::{
    create_user_session, login_owner, new_id, provision_tenant, server, Api, ApiResponse, Session, TenantFixture,
    UserFixture,
};
use serde_json::{json, Value};

/// Maximum wait for a job that succeeds on its first delivery.
pub const JOB_TIMEOUT: Duration = Duration::from_secs(60);

/// Maximum wait for an outbox message after its job was queued.
pub const EMAIL_TIMEOUT: Duration = Duration::from_secs(60);

/// Pause between two reads while polling.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

pub fn api() -> Api {
    server().api()
}

/// A tenant with its owner (no device) and one kasir logged in on a device.
pub struct JobShop {
    pub tenant: TenantFixture,
    pub owner: Session,
    pub kasir_user: UserFixture,
    pub kasir: Session,
}

/// Provisions a [`JobShop`] whose tenant code starts with `code_prefix`.
#[track_caller]
pub fn job_shop(code_prefix: &str) -> JobShop {
    let api = api();
    let tenant = provision_tenant(&api, &server().admin_token, code_prefix);
    let owner = login_owner(&api, &tenant, None);
    let (kasir_user, kasir) = create_user_session(&api, &tenant, &owner, "kasir", "Tablet Kasir");
    JobShop {
        tenant,
        owner,
        kasir_user,
        kasir,
    }
}

static RECEIPT_SEQUENCE: AtomicU32 = AtomicU32::new(1);

impl JobShop {
    /// Creates a product as the owner and returns its id.
    #[track_caller]
    pub fn product(&self, name: &str, price: i64) -> String {
        let product = kasir_tests::create_product(&api(), &self.owner, name, price);
        string_field(&product, "id")
    }

    /// Creates a customer as the owner and returns its id.
    #[track_caller]
    pub fn customer(&self, name: &str) -> String {
        let response = api()
            .post("/v1/customers")
            .bearer(&self.owner.access_token)
            .json(&json!({"name": name}));
        response.expect_status(201);
        response.str_field("id")
    }

    /// Posts a sale by the kasir on its device, dated now, and returns the stored sale.
    /// `items` are built with [`line`] and `payments` is the whole payments array.
    #[track_caller]
    pub fn sell(&self, items: Vec<Value>, discount: i64, payments: Value) -> Value {
        let sequence = RECEIPT_SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let device_code = self.kasir.device_code.as_deref().unwrap_or("DEV");
        let body = json!({
            "id": new_id(),
            "outlet_id": self.tenant.default_outlet_id,
            "device_id": self.kasir.device(),
            "receipt_no": format!("{device_code}-{sequence:04}"),
            "created_at": now_rfc3339(),
            "items": items,
            "discount": discount,
            "payments": payments,
        });
        let response = api()
            .post("/v1/transactions")
            .bearer(&self.kasir.access_token)
            .json(&body);
        response.expect_status(201);
        response.json.clone()
    }

    /// Starts a backup as the owner and returns `(job_id, backup_id)`.
    #[track_caller]
    pub fn start_backup(&self) -> (String, String) {
        let response = api()
            .post("/v1/backups")
            .bearer(&self.owner.access_token)
            .json(&json!({}));
        response.expect_status(202);
        (response.str_field("job_id"), response.str_field("backup_id"))
    }

    /// Takes a backup, waits until its job is `done`, and returns the finished job and the
    /// backup id.
    #[track_caller]
    pub fn take_backup(&self) -> (Value, String) {
        let (job_id, backup_id) = self.start_backup();
        let job = wait_for_job_end(&self.owner, &job_id, JOB_TIMEOUT);
        assert_eq!(job["status"], "done", "backup job {job}");
        (job, backup_id)
    }

    /// Lists the tenant's backups as the owner.
    #[track_caller]
    pub fn backups(&self) -> Vec<Value> {
        let response = api().get("/v1/backups").bearer(&self.owner.access_token).send();
        response.expect_status(200);
        response.items()
    }
}

/// Builds one sale line without a line discount.
pub fn line(product_id: &str, qty: i64, unit_price: i64) -> Value {
    json!({"product_id": product_id, "qty": qty, "unit_price": unit_price, "discount": 0})
}

/// Returns the current time as RFC 3339 UTC text with whole seconds.
pub fn now_rfc3339() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("system clock is after 1970")
        .as_millis() as i64;
    DateTime::from_timestamp_millis(millis)
        .expect("current time is representable")
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Returns the current Unix time in milliseconds.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("system clock is after 1970")
        .as_millis() as i64
}

/// Sends `GET /v1/jobs/{job_id}` as `session`.
pub fn get_job(session: &Session, job_id: &str) -> ApiResponse {
    api()
        .get(&format!("/v1/jobs/{job_id}"))
        .bearer(&session.access_token)
        .send()
}

/// Sends `GET /v1/admin/jobs/{job_id}` with the platform admin token.
pub fn get_admin_job(job_id: &str) -> ApiResponse {
    api()
        .get(&format!("/v1/admin/jobs/{job_id}"))
        .bearer(&server().admin_token)
        .send()
}

/// Sends `read` until `finished` accepts its 200 body or `timeout` passes, and returns the
/// last body. Panics on any status other than 200, and on the timeout with the last body.
#[track_caller]
pub fn poll_job(read: impl Fn() -> ApiResponse, timeout: Duration, finished: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let response = read();
        response.expect_status(200);
        if finished(&response.json) {
            return response.json.clone();
        }
        if started.elapsed() >= timeout {
            panic!(
                "{} {}: timed out after {} s waiting for the job to finish, last body {}",
                response.method,
                response.path,
                timeout.as_secs(),
                response.text
            );
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// Polls `GET /v1/jobs/{job_id}` as `session` until the job is `done` or `failed`.
#[track_caller]
pub fn wait_for_job_end(session: &Session, job_id: &str, timeout: Duration) -> Value {
    poll_job(|| get_job(session, job_id), timeout, is_finished)
}

/// Polls `GET /v1/admin/jobs/{job_id}` until the job is `done` or `failed`.
#[track_caller]
pub fn wait_for_admin_job_end(job_id: &str, timeout: Duration) -> Value {
    poll_job(|| get_admin_job(job_id), timeout, is_finished)
}

fn is_finished(job: &Value) -> bool {
    job["status"] == "done" || job["status"] == "failed"
}

/// Lists jobs with `GET /v1/admin/jobs?limit=500` and `status` when given, keeping those of
/// tenant `tenant_code`.
#[track_caller]
pub fn admin_jobs_of(tenant_code: &str, status: Option<&str>) -> Vec<Value> {
    let mut request = api()
        .get("/v1/admin/jobs")
        .bearer(&server().admin_token)
        .query("limit", "500");
    if let Some(status) = status {
        request = request.query("status", status);
    }
    let response = request.send();
    response.expect_status(200);
    response
        .items()
        .into_iter()
        .filter(|job| job["tenant"] == tenant_code)
        .collect()
}

/// Returns the id of the email job of tenant `tenant_code` addressed to `to`, from the admin
/// job list with its payloads. Panics unless there is exactly one.
#[track_caller]
pub fn email_job_id(tenant_code: &str, to: &str) -> String {
    let jobs: Vec<Value> = admin_jobs_of(tenant_code, None)
        .into_iter()
        .filter(|job| job["kind"] == "email" && job["payload"]["to"] == to)
        .collect();
    assert_eq!(
        jobs.len(),
        1,
        "expected one email job of {tenant_code} to {to}: {jobs:?}"
    );
    string_field(&jobs[0], "id")
}

/// Sends one `GET /v1/admin/outbox` page with `query` parameters.
pub fn outbox_page(query: &[(&str, &str)]) -> ApiResponse {
    let mut request = api().get("/v1/admin/outbox").bearer(&server().admin_token);
    for (name, value) in query {
        request = request.query(name, value);
    }
    request.send()
}

/// Returns every outbox message to `to`, reading pages of 500 and following `next_cursor`.
// NOTE: pages of 500, because the server applies `to` within one page and returns no
// `next_cursor`, so a default page of 50 misses later messages. `outbox_filter_reaches_past_first_page`
// covers that case on its own.
#[track_caller]
pub fn outbox_messages(to: &str) -> Vec<Value> {
    let mut messages = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let mut query = vec![("to", to), ("limit", "500")];
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor.as_str()));
        }
        let response = outbox_page(&query);
        response.expect_status(200);
        messages.extend(response.items());
        cursor = response.next_cursor();
        if cursor.is_none() {
            return messages;
        }
    }
    panic!("GET /v1/admin/outbox?to={to}: still returns a next_cursor after 100 pages");
}

/// Polls the outbox until a message to `to` made from `template` appears, and returns it.
#[track_caller]
pub fn wait_for_email(to: &str, template: &str) -> Value {
    let started = Instant::now();
    loop {
        let messages = outbox_messages(to);
        if let Some(message) = messages.iter().find(|message| message["template"] == template) {
            return message.clone();
        }
        if started.elapsed() >= EMAIL_TIMEOUT {
            panic!(
                "no {template} message to {to} in the outbox within {} s; messages to {to}: {messages:?}",
                EMAIL_TIMEOUT.as_secs()
            );
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// Formats whole rupiah as Indonesian text does, with dots between thousands: `Rp 1.250.000`.
pub fn rupiah(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut groups: Vec<&str> = Vec::new();
    let mut end = digits.len();
    while end > 3 {
        groups.push(&digits[end - 3..end]);
        end -= 3;
    }
    groups.push(&digits[..end]);
    groups.reverse();
    let sign = if amount < 0 { "-" } else { "" };
    format!("{sign}Rp {}", groups.join("."))
}

/// Reads an integer field, panicking with the whole value when it is missing.
#[track_caller]
pub fn int_field(body: &Value, field: &str) -> i64 {
    match body[field].as_i64() {
        Some(value) => value,
        None => panic!("expected integer field {field:?} in {body}"),
    }
}

/// Reads a string field, panicking with the whole value when it is missing.
#[track_caller]
pub fn string_field(body: &Value, field: &str) -> String {
    match body[field].as_str() {
        Some(value) => value.to_string(),
        None => panic!("expected string field {field:?} in {body}"),
    }
}

#[test]
fn rupiah_groups_thousands_with_dots() {
    assert_eq!(rupiah(0), "Rp 0");
    assert_eq!(rupiah(500), "Rp 500");
    assert_eq!(rupiah(1_000), "Rp 1.000");
    assert_eq!(rupiah(1_250_000), "Rp 1.250.000");
    assert_eq!(rupiah(-5_000), "-Rp 5.000");
}
