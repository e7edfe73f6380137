//! `GET /v1/jobs/{id}`: a job is visible to the user who started it and to the owner. To
//! everyone else, other tenants included, it reads as missing.

use kasir_tests::{create_user, create_user_session, login_owner, new_id, provision_tenant, server, Session};

use crate::{api, email_job_id, get_job, job_shop};

#[track_caller]
fn assert_visible(session: &Session, job_id: &str, reader: &str) {
    let response = get_job(session, job_id);
    assert_eq!(
        response.status, 200,
        "{reader} should see job {job_id}: {}",
        response.text
    );
    assert_eq!(response.json["id"], job_id, "{reader}: {}", response.text);
    for field in ["kind", "status"] {
        assert!(
            response.json[field].is_string(),
            "{reader}: job without {field}: {}",
            response.text
        );
    }
    assert!(
        response.json["attempts"].is_i64(),
        "{reader}: job without attempts: {}",
        response.text
    );
}

#[track_caller]
fn assert_hidden(session: &Session, job_id: &str, reader: &str) {
    let response = get_job(session, job_id);
    assert_eq!(
        response.status, 404,
        "{reader} should get 404 for job {job_id}: {}",
        response.text
    );
    assert_eq!(response.error_code(), Some("not_found"), "{reader}: {}", response.text);
}

#[test]
fn job_visible_to_starter_and_owner() {
    let shop = job_shop("jobseen");
    let (_, starter) = create_user_session(&api(), &shop.tenant, &shop.owner, "admin", "Tablet Admin");
    let (_, other_admin) = create_user_session(&api(), &shop.tenant, &shop.owner, "admin", "Tablet Gudang");
    let other_tenant = provision_tenant(&api(), &server().admin_token, "jobother");
    let other_owner = login_owner(&api(), &other_tenant, None);

    // Creating a user queues the invitation as a job started by the creator.
    let invited = create_user(&api(), &starter, "kasir", "Dewi");
    let job_id = email_job_id(&shop.tenant.code, &invited.email);

    assert_visible(&starter, &job_id, "the admin who started it");
    assert_visible(&shop.owner, &job_id, "the owner");
    assert_hidden(&other_admin, &job_id, "another admin");
    assert_hidden(&shop.kasir, &job_id, "a kasir");
    assert_hidden(&other_owner, &job_id, "another tenant's owner");
}

#[test]
fn owner_backup_job_hidden_from_admin() {
    let shop = job_shop("jobback");
    let (_, admin) = create_user_session(&api(), &shop.tenant, &shop.owner, "admin", "Tablet Admin");
    let other_tenant = provision_tenant(&api(), &server().admin_token, "jobbackx");
    let other_owner = login_owner(&api(), &other_tenant, None);

    let (job_id, _) = shop.start_backup();

    assert_visible(&shop.owner, &job_id, "the owner who started it");
    assert_hidden(&admin, &job_id, "an admin");
    assert_hidden(&shop.kasir, &job_id, "a kasir");
    assert_hidden(&other_owner, &job_id, "another tenant's owner");
}

#[test]
fn unknown_job_not_found() {
    let shop = job_shop("jobnone");

    assert_hidden(&shop.owner, &new_id(), "the owner, for an unknown id");
    let malformed = get_job(&shop.owner, "not-a-uuid");
    assert_eq!(malformed.status, 404, "a malformed id: {}", malformed.text);
}
