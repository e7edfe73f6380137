//! Emails in the development outbox: the owner's welcome after provisioning, in the tenant's
//! language, the invitation of a created user, and looking messages up by recipient.

use kasir_tests::{create_user, login_owner, provision_tenant, provision_tenant_with, server};
use serde_json::json;

use crate::{
    api, email_job_id, job_shop, outbox_messages, outbox_page, string_field, wait_for_admin_job_end, wait_for_email,
    JOB_TIMEOUT,
};

/// Outbox messages made before the looked-up one, more than the default page of 50.
const MESSAGES_BEFORE: usize = 55;

#[test]
fn welcome_email_defaults_to_indonesian() {
    let tenant = provision_tenant(&api(), &server().admin_token, "mailid");

    let message = wait_for_email(&tenant.owner_email, "owner_welcome");

    assert_eq!(message["to"], tenant.owner_email.as_str());
    assert_eq!(message["locale"], "id");
    assert_eq!(
        message["subject"],
        format!("Selamat datang di Kasir Edge, {}", tenant.name).as_str()
    );
    let text = string_field(&message, "text");
    assert!(
        text.contains(&tenant.code),
        "the welcome text names the shop code: {text}"
    );
    assert!(
        text.contains("Pemilik Toko"),
        "the welcome text greets the owner: {text}"
    );
    let html = string_field(&message, "html");
    assert!(
        html.contains(&tenant.code),
        "the welcome HTML names the shop code: {html}"
    );
    for field in ["id", "created_at"] {
        assert!(message[field].is_string(), "outbox message without {field}: {message}");
    }
}

#[test]
fn welcome_email_follows_english_locale() {
    let extra = json!({"placement": "shared", "locale": "en"});
    let tenant = provision_tenant_with(&api(), &server().admin_token, "mailen", extra);

    let message = wait_for_email(&tenant.owner_email, "owner_welcome");

    assert_eq!(message["locale"], "en");
    assert_eq!(
        message["subject"],
        format!("Welcome to Kasir Edge, {}", tenant.name).as_str()
    );
    let text = string_field(&message, "text");
    assert!(
        text.contains(&tenant.code),
        "the welcome text names the shop code: {text}"
    );
}

#[test]
fn invitation_reaches_created_user() {
    let shop = job_shop("mailinv");

    let message = wait_for_email(&shop.kasir_user.email, "user_invited");

    assert_eq!(message["locale"], "id");
    assert_eq!(
        message["subject"],
        format!("Anda diundang ke {}", shop.tenant.name).as_str()
    );
    let text = string_field(&message, "text");
    assert!(
        text.contains(&shop.tenant.code),
        "the invitation names the shop code: {text}"
    );
    assert!(text.contains("kasir"), "the invitation names the role: {text}");
}

#[test]
fn invitation_follows_english_locale() {
    let extra = json!({"placement": "shared", "locale": "en"});
    let tenant = provision_tenant_with(&api(), &server().admin_token, "mailinven", extra);
    let owner = login_owner(&api(), &tenant, None);
    let user = create_user(&api(), &owner, "admin", "Rina");

    let message = wait_for_email(&user.email, "user_invited");

    assert_eq!(message["locale"], "en");
    assert_eq!(
        message["subject"],
        format!("You are invited to {}", tenant.name).as_str()
    );
}

/// The `to` filter must find a message however many others the outbox holds: either on the
/// first page or by following `next_cursor`.
#[test]
fn outbox_filter_reaches_past_first_page() {
    let api = api();
    let tenant = provision_tenant(&api, &server().admin_token, "mailpage");
    let owner = login_owner(&api, &tenant, None);
    let mut last_email = String::new();
    for index in 0..MESSAGES_BEFORE {
        last_email = create_user(&api, &owner, "kasir", &format!("Kasir {index}")).email;
    }
    let job = wait_for_admin_job_end(&email_job_id(&tenant.code, &last_email), JOB_TIMEOUT);
    assert_eq!(job["status"], "done", "invitation job {job}");
    let in_large_page = outbox_messages(&last_email);
    assert_eq!(
        in_large_page.len(),
        1,
        "with limit=500 the invitation is listed: {in_large_page:?}"
    );

    let mut found = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let mut query = vec![("to", last_email.as_str())];
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor.as_str()));
        }
        let response = outbox_page(&query);
        response.expect_status(200);
        found.extend(response.items());
        cursor = response.next_cursor();
        if cursor.is_none() {
            break;
        }
    }

    assert_eq!(
        found.len(),
        1,
        "GET /v1/admin/outbox?to={last_email} with the default page size, following next_cursor, \
         should return the one invitation sent after {MESSAGES_BEFORE} others: {found:?}"
    );
}
