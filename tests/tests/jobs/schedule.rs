//! The hub alarm and the cron trigger. The development hook `POST
//! /v1/admin/tenants/{code}/alarm` fires a tenant's alarm now, which enqueues the day's backup
//! and daily sales summary once per tenant and local day. The cron trigger, sent by `wrangler
//! dev` on `GET /__scheduled` (wrangler dev --test-scheduled), only re-arms the hubs.

use std::collections::BTreeSet;
use std::thread;
use std::time::Duration;

use kasir_tests::{provision_tenant, server, ApiResponse};
use serde_json::{json, Value};

use crate::{
    admin_jobs_of, api, get_admin_job, int_field, job_shop, line, now_millis, rupiah, string_field, wait_for_email,
    wait_for_job_end, JobShop, JOB_TIMEOUT,
};

/// Hours east of UTC of WIB (`Asia/Jakarta`), the zone of a tenant provisioned without one.
const WIB_OFFSET_HOURS: i64 = 7;

const DAY_MS: i64 = 86_400_000;

/// Sends `POST /v1/admin/tenants/{code}/alarm` with the platform admin token.
fn fire_alarm(tenant_code: &str) -> ApiResponse {
    api()
        .post(&format!("/v1/admin/tenants/{tenant_code}/alarm"))
        .bearer(&server().admin_token)
        .json(&json!({}))
}

/// Fires the alarm and returns the enqueued job ids. Panics unless the status is 200.
#[track_caller]
fn fire_alarm_ids(tenant_code: &str) -> Vec<String> {
    let response = fire_alarm(tenant_code);
    response.expect_status(200);
    let Some(ids) = response.json["enqueued"].as_array() else {
        panic!("expected an `enqueued` array: {}", response.text);
    };
    ids.iter()
        .map(|id| match id.as_str() {
            Some(id) => id.to_string(),
            None => panic!("enqueued job id is not a string: {}", response.text),
        })
        .collect()
}

/// Returns the id of the job of `kind` among `job_ids`, read through the admin job route.
#[track_caller]
fn job_of_kind(job_ids: &[String], kind: &str) -> String {
    let mut kinds = Vec::new();
    for id in job_ids {
        let response = get_admin_job(id);
        response.expect_status(200);
        if response.json["kind"] == kind {
            return id.clone();
        }
        kinds.push(response.json["kind"].clone());
    }
    panic!("no {kind} job among {job_ids:?}, whose kinds are {kinds:?}");
}

/// Sleeps past midnight in WIB when it is less than two minutes away, so sales posted now fall
/// on the day the alarm then picks.
fn wait_until_clear_of_wib_midnight() {
    let local_ms = now_millis() + WIB_OFFSET_HOURS * 3_600_000;
    let ms_left = DAY_MS - local_ms.rem_euclid(DAY_MS);
    if ms_left < 120_000 {
        thread::sleep(Duration::from_millis(ms_left as u64 + 2_000));
    }
}

#[test]
fn alarm_enqueues_one_backup_per_day() {
    let shop = job_shop("alarmonce");

    let first = fire_alarm_ids(&shop.tenant.code);
    let second = fire_alarm_ids(&shop.tenant.code);

    assert_eq!(first.len(), 2, "one backup and one daily summary: {first:?}");
    assert_eq!(second, first, "firing again the same day enqueues the same jobs");
    let backup_job = job_of_kind(&first, "backup");
    let summary_job = job_of_kind(&first, "daily_summary");
    let backup = wait_for_job_end(&shop.owner, &backup_job, JOB_TIMEOUT);
    assert_eq!(backup["status"], "done", "backup job {backup}");
    let summary = wait_for_job_end(&shop.owner, &summary_job, JOB_TIMEOUT);
    assert_eq!(summary["status"], "done", "daily summary job {summary}");

    let third = fire_alarm_ids(&shop.tenant.code);
    assert_eq!(third, first, "firing after the jobs ran enqueues nothing new");
    let backups = shop.backups();
    assert_eq!(backups.len(), 1, "exactly one backup for the day: {backups:?}");
    assert_eq!(backups[0]["kind"], "daily", "backup {}", backups[0]);
    let scheduled_kinds: Vec<Value> = admin_jobs_of(&shop.tenant.code, None)
        .into_iter()
        .map(|job| job["kind"].clone())
        .filter(|kind| kind == "backup" || kind == "daily_summary")
        .collect();
    assert_eq!(scheduled_kinds.len(), 2, "jobs of the tenant: {scheduled_kinds:?}");
}

/// Posts two sales dated now: 2 × Rp 625.000 in cash, and 1 × Rp 15.000 with a line discount
/// of Rp 500 and a sale discount of Rp 1.000 by QRIS.
fn post_two_sales(shop: &JobShop) -> Vec<Value> {
    let tumpeng = shop.product("Nasi Tumpeng", 625_000);
    let es_teh = shop.product("Es Teh", 15_000);
    let discounted = json!({"product_id": es_teh, "qty": 1, "unit_price": 15_000, "discount": 500});
    vec![
        shop.sell(
            vec![line(&tumpeng, 2, 625_000)],
            0,
            json!([{"method": "cash", "amount": 1_250_000}]),
        ),
        shop.sell(vec![discounted], 1_000, json!([{"method": "qris", "amount": 13_500}])),
    ]
}

#[test]
fn daily_summary_email_matches_report() {
    wait_until_clear_of_wib_midnight();
    let shop = job_shop("alarmsum");
    let sales = post_two_sales(&shop);
    let sales_total: i64 = sales.iter().map(|sale| int_field(sale, "total")).sum();
    // 1,250,000 + (15,000 - 500 - 1,000) with tax off.
    assert_eq!(sales_total, 1_263_500, "stored sales {sales:?}");

    let enqueued = fire_alarm_ids(&shop.tenant.code);
    let summary_job = job_of_kind(&enqueued, "daily_summary");
    let job = wait_for_job_end(&shop.owner, &summary_job, JOB_TIMEOUT);
    assert_eq!(job["status"], "done", "daily summary job {job}");
    let date = string_field(&job["result"], "date");
    let report = api()
        .get("/v1/reports/daily")
        .bearer(&shop.owner.access_token)
        .query("date", &date)
        .send();
    report.expect_status(200);
    let report = report.json.clone();
    let message = wait_for_email(&shop.tenant.owner_email, "daily_summary");

    assert_eq!(int_field(&report, "count"), 2, "report of {date}: {report}");
    assert_eq!(int_field(&report, "net"), 1_263_500, "report of {date}: {report}");
    assert_eq!(message["locale"], "id");
    assert_eq!(
        message["subject"],
        format!("Ringkasan penjualan {} {date}", shop.tenant.name).as_str()
    );
    let text = string_field(&message, "text");
    let lines: BTreeSet<&str> = text.lines().collect();
    let expected = [
        format!("Jumlah transaksi: {}", int_field(&report, "count")),
        format!("Penjualan kotor: {}", rupiah(int_field(&report, "gross"))),
        format!("Diskon: {}", rupiah(int_field(&report, "discounts"))),
        format!("Pajak: {}", rupiah(int_field(&report, "tax"))),
        format!("Retur: {}", rupiah(int_field(&report, "refunds"))),
        format!("Penjualan bersih: {}", rupiah(int_field(&report, "net"))),
    ];
    for line in &expected {
        assert!(lines.contains(line.as_str()), "summary text lacks {line:?}:\n{text}");
    }
    assert!(text.contains("Rp 1.263.500"), "net in rupiah:\n{text}");
    let html = string_field(&message, "html");
    assert!(html.contains("Rp 1.263.500"), "net in rupiah in the HTML part:\n{html}");
}

#[test]
fn scheduled_handler_enqueues_nothing() {
    let tenant = provision_tenant(&api(), &server().admin_token, "cron");
    let jobs_before = admin_jobs_of(&tenant.code, None);

    let response = api().get("/__scheduled").send();

    response.expect_status(200);
    assert!(
        response.text.contains("Ran scheduled event"),
        "scheduled handler outcome: {}",
        response.text
    );
    let jobs_after = admin_jobs_of(&tenant.code, None);
    assert_eq!(
        jobs_after.len(),
        jobs_before.len(),
        "the cron trigger must not enqueue work: before {jobs_before:?}, after {jobs_after:?}"
    );
    let alarm = fire_alarm(&tenant.code);
    alarm.expect_status(200);
    let Some(alarm_at) = alarm.json["alarm_at"].as_i64() else {
        panic!("the hub should have an alarm set: {}", alarm.text);
    };
    let now = now_millis();
    assert!(
        alarm_at > now - 60_000 && alarm_at <= now + DAY_MS,
        "the next alarm should be within a day: alarm_at {alarm_at}, now {now}"
    );
}

#[test]
fn low_stock_email_follows_daily_summary() {
    let shop = crate::job_shop("lowstock");
    let api = api();
    let product = api
        .post("/v1/products")
        .bearer(&shop.owner.access_token)
        .json(&json!({"name": "Gula Pasir", "price": 18000, "track_stock": true, "low_stock_threshold": 3}));
    product.expect_status(201);

    let ids = fire_alarm_ids(&shop.tenant.code);
    assert_eq!(ids.len(), 2);
    let email = crate::wait_for_email(&shop.tenant.owner_email, "low_stock");
    let text = email["text"].as_str().unwrap_or_default();
    assert!(text.contains("Gula Pasir (PUSAT): 0"), "low-stock email text: {text}");
}
