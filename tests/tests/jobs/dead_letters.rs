//! A job that fails on every delivery ends `failed` and dead-lettered. In development the
//! outbox rejects recipients at `@fail.test`, so an invitation to one never goes through.

use std::time::Duration;

use kasir_tests::new_id;
use serde_json::json;

use crate::{
    admin_jobs_of, api, email_job_id, get_job, job_shop, outbox_messages, string_field, wait_for_admin_job_end,
};

/// Deliveries of an email job before the consumer sends it to the dead-letter queue.
const EMAIL_DELIVERIES: i64 = 5;

/// Maximum wait for all deliveries and the dead letter, an estimate with ample margin: each
/// retry waits 1 s in development, plus the local queue's batch wait.
const DEAD_LETTER_TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn failing_email_job_is_dead_lettered() {
    let shop = job_shop("deadmail");
    let email = format!("kasir-{}@fail.test", &new_id()[..8]);
    let created = api()
        .post("/v1/users")
        .bearer(&shop.owner.access_token)
        .json(&json!({"email": email, "name": "Kasir Gagal", "password": "Sandi-gagal-123", "role": "kasir"}));
    created.expect_status(201);
    let job_id = email_job_id(&shop.tenant.code, &email);

    let job = wait_for_admin_job_end(&job_id, DEAD_LETTER_TIMEOUT);

    assert_eq!(job["status"], "failed", "job {job}");
    assert_eq!(job["dead_lettered"], true, "job {job}");
    assert_eq!(job["attempts"], EMAIL_DELIVERIES, "job {job}");
    assert!(
        !string_field(&job, "error").is_empty(),
        "a failed job keeps its last error: {job}"
    );

    let failed = admin_jobs_of(&shop.tenant.code, Some("failed"));
    let listed = failed.iter().find(|listed| listed["id"] == job_id.as_str());
    let Some(listed) = listed else {
        panic!("job {job_id} missing from GET /v1/admin/jobs?status=failed: {failed:?}");
    };
    assert_eq!(listed["dead_lettered"], true, "listed job {listed}");

    let seen_by_owner = get_job(&shop.owner, &job_id);
    seen_by_owner.expect_status(200);
    assert_eq!(seen_by_owner.json["status"], "failed", "{}", seen_by_owner.text);
    assert_eq!(seen_by_owner.json["dead_lettered"], true, "{}", seen_by_owner.text);
    assert_eq!(
        outbox_messages(&email),
        Vec::<serde_json::Value>::new(),
        "nothing may reach the outbox for {email}"
    );
}
