//! A panic gives the client a 500 and the next request works on a reinitialised instance.
//! This binary holds only this test: a panic aborts the wasm instance and drops every request
//! in flight on it, which would fail other tests running at the same moment.

use kasir_tests::{login_owner, provision_tenant, server};
use serde_json::json;

#[test]
fn panic_answers_500_and_next_request_works() {
    let server = server();
    let api = server.api();
    let tenant = provision_tenant(&api, &server.admin_token, "faultpanic");
    let owner = login_owner(&api, &tenant, None);
    let panicked = api
        .post("/v1/admin/dev/panic")
        .bearer(&server.admin_token)
        .json(&json!({}));
    assert_eq!(panicked.status, 500);

    let health = api.get("/health").send();
    assert_eq!(health.status, 200);
    let me = api.get("/v1/me").bearer(&owner.access_token).send();
    assert_eq!(me.status, 200);
}
