//! `GET|POST /v1/backups` and `POST /v1/backups/{id}/restore`: a backup job's manifest, who may
//! take and restore backups, and backups of other tenants.

use kasir_tests::{create_user_session, login_owner, new_id, provision_tenant, server};
use serde_json::{json, Value};

use crate::{api, int_field, job_shop, line};

#[test]
fn backup_lists_row_counts_of_data() {
    let shop = job_shop("bakcount");
    let kopi = shop.product("Kopi Susu", 18_000);
    let roti = shop.product("Roti Sobek", 12_000);
    shop.product("Teh Manis", 5_000);
    shop.customer("Bu Ani");
    shop.customer("Pak Joko");
    shop.sell(
        vec![line(&kopi, 2, 18_000)],
        0,
        json!([{"method": "cash", "amount": 36_000}]),
    );
    shop.sell(
        vec![line(&roti, 1, 12_000)],
        0,
        json!([{"method": "qris", "amount": 12_000}]),
    );

    let (job, backup_id) = shop.take_backup();
    let backups = shop.backups();

    assert_eq!(job["kind"], "backup");
    assert_eq!(backups.len(), 1, "one backup was taken: {backups:?}");
    let backup = &backups[0];
    assert_eq!(backup["id"], backup_id.as_str());
    let row_counts = &backup["row_counts"];
    assert_eq!(row_counts["products"], 3, "row_counts {row_counts}");
    assert_eq!(row_counts["customers"], 2, "row_counts {row_counts}");
    assert_eq!(row_counts["transactions"], 2, "row_counts {row_counts}");
    assert_eq!(row_counts["outlets"], 1, "provisioning makes one outlet: {row_counts}");
    assert_eq!(row_counts["users"], 2, "the owner and the kasir: {row_counts}");
    assert!(int_field(backup, "schema_version") >= 1, "backup {backup}");
    assert!(int_field(backup, "size") > 0, "backup {backup}");
    assert!(backup["created_at"].is_string(), "backup {backup}");
    assert_eq!(
        job["result"]["row_counts"], *row_counts,
        "the job's manifest and the list differ"
    );
    assert_eq!(job["result"]["id"], backup_id.as_str(), "job result {}", job["result"]);
}

#[test]
fn backups_forbidden_to_admin_and_kasir() {
    let shop = job_shop("bakrole");
    let (_, admin) = create_user_session(&api(), &shop.tenant, &shop.owner, "admin", "Tablet Admin");
    let (_, backup_id) = shop.take_backup();
    let restore_path = format!("/v1/backups/{backup_id}/restore");

    for session in [&admin, &shop.kasir] {
        let listed = api().get("/v1/backups").bearer(&session.access_token).send();
        listed.expect_error(403, "forbidden");
        let started = api().post("/v1/backups").bearer(&session.access_token).json(&json!({}));
        started.expect_error(403, "forbidden");
        let restored = api().post(&restore_path).bearer(&session.access_token).json(&json!({}));
        restored.expect_error(403, "forbidden");
    }
    assert_eq!(shop.backups().len(), 1, "no refused request may start a backup");
}

#[test]
fn restore_of_other_tenant_backup_not_found() {
    let shop = job_shop("bakown");
    let (_, backup_id) = shop.take_backup();
    let other = provision_tenant(&api(), &server().admin_token, "bakother");
    let other_owner = login_owner(&api(), &other, None);

    let response = api()
        .post(&format!("/v1/backups/{backup_id}/restore"))
        .bearer(&other_owner.access_token)
        .json(&json!({}));

    response.expect_error(404, "not_found");
    let listed = api().get("/v1/backups").bearer(&other_owner.access_token).send();
    listed.expect_status(200);
    assert_eq!(listed.items(), Vec::<Value>::new(), "the other tenant has no backups");
}

#[test]
fn restore_of_unknown_backup_not_found() {
    let shop = job_shop("bakmiss");

    let unknown = api()
        .post(&format!("/v1/backups/{}/restore", new_id()))
        .bearer(&shop.owner.access_token)
        .json(&json!({}));
    let malformed = api()
        .post("/v1/backups/not-a-uuid/restore")
        .bearer(&shop.owner.access_token)
        .json(&json!({}));

    unknown.expect_error(404, "not_found");
    malformed.expect_error(404, "not_found");
}

#[test]
fn backup_body_rejects_unknown_field() {
    let shop = job_shop("bakfield");

    let response = api()
        .post("/v1/backups")
        .bearer(&shop.owner.access_token)
        .json(&json!({"note": "sebelum tutup buku"}));

    response.expect_error(422, "validation_failed");
    assert_eq!(
        response.detail_codes(),
        vec!["unknown_field".to_string()],
        "{}",
        response.text
    );
    assert_eq!(shop.backups().len(), 0, "a rejected request must not start a backup");
}
