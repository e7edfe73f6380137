//! Offboarding: `DELETE /v1/admin/tenants/{code}` marks the tenant `deleting`, takes a final
//! backup, erases its data, and then the tenant is gone.

use kasir_tests::{create_product, server, try_login};

use crate::{api, job_shop, wait_for_admin_job_end, JOB_TIMEOUT};

#[test]
fn offboarded_tenant_is_gone_after_final_backup() {
    let shop = job_shop("offboard");
    let api = api();
    create_product(&api, &shop.owner, "Roti Sobek", 15000);

    let started = api
        .delete(&format!("/v1/admin/tenants/{}", shop.tenant.code))
        .bearer(&server().admin_token)
        .send();
    assert_eq!(started.status, 202);
    let job_id = started.json["job_id"].as_str().unwrap_or_default().to_string();

    let job = wait_for_admin_job_end(&job_id, JOB_TIMEOUT);
    assert_eq!(job["status"], "done", "offboarding job: {job}");
    assert!(job["result"]["final_backup"].is_string(), "no final backup in {job}");
    assert_eq!(job["result"]["erased"]["products"], 1);

    let directory = api
        .get(&format!("/v1/admin/tenants/{}", shop.tenant.code))
        .bearer(&server().admin_token)
        .send();
    assert_eq!(directory.status, 404);
    let old_token = api.get("/v1/me").bearer(&shop.owner.access_token).send();
    assert_eq!(old_token.status, 401);
    let login = try_login(
        &api,
        &shop.tenant.code,
        &shop.tenant.owner_email,
        &shop.tenant.owner_password,
        None,
    );
    assert_eq!(login.status, 401);
}

#[test]
fn deleting_tenant_answers_423() {
    let shop = job_shop("offboard423");
    let api = api();
    let started = api
        .delete(&format!("/v1/admin/tenants/{}", shop.tenant.code))
        .bearer(&server().admin_token)
        .send();
    assert_eq!(started.status, 202);

    // Until the job ends the tenant is `deleting`; afterwards its token is unknown.
    let me = api.get("/v1/me").bearer(&shop.owner.access_token).send();
    assert!(me.status == 423 || me.status == 401, "status {}", me.status);
    let job_id = started.json["job_id"].as_str().unwrap_or_default().to_string();
    wait_for_admin_job_end(&job_id, JOB_TIMEOUT);
}
