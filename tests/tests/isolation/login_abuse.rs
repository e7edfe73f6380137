//! Login abuse: an unknown user and a wrong password must look alike, and past 10 failures per
//! tenant and email in one 15-minute window every attempt gets 429 with `Retry-After`.

use std::thread;
use std::time::Duration;

use kasir_tests::{create_user, login_owner, provision_tenant, try_login};

use crate::{admin_token, api, unix_now, ResponseSummary};

/// Failed logins per tenant and email that the server allows in one window (the
/// `LOGIN_LIMIT_PER_ACCOUNT` default).
const ACCOUNT_LIMIT: usize = 10;
/// Length of the server's fixed login-limit window, aligned to multiples of it in Unix time.
const WINDOW_SECONDS: i64 = 15 * 60;

/// Sleeps into the next window when fewer than `needed` seconds are left in this one, so a
/// run of failures is not split across two windows and counted twice from zero.
fn wait_for_time_left_in_window(needed: i64) {
    let left = WINDOW_SECONDS - unix_now().rem_euclid(WINDOW_SECONDS);
    if left < needed {
        thread::sleep(Duration::from_secs((left + 1) as u64));
    }
}

#[test]
fn unknown_user_matches_wrong_password() {
    let api = api();
    let tenant = provision_tenant(&api, admin_token(), "login-alike");

    for language in ["en", "id"] {
        let unknown_user = api.post("/v1/auth/login").language(language).json(&serde_json::json!({
            "tenant": tenant.code,
            "email": format!("tidak-ada@{}.test", tenant.code),
            "password": tenant.owner_password,
        }));
        let wrong_password = api.post("/v1/auth/login").language(language).json(&serde_json::json!({
            "tenant": tenant.code,
            "email": tenant.owner_email,
            "password": "salah-sandi-123",
        }));

        assert!(
            ResponseSummary::of(&wrong_password).is(401, "unauthorized"),
            "wrong password ({language}): {} {}",
            wrong_password.status,
            wrong_password.text
        );
        assert_eq!(
            ResponseSummary::of(&unknown_user),
            ResponseSummary::of(&wrong_password),
            "an unknown user and a wrong password get different responses ({language}):\n  unknown user {}\n  wrong password {}",
            unknown_user.text,
            wrong_password.text
        );
    }
}

/// Without `Accept-Language`, a failed login must not reveal whether the shop code exists.
#[test]
fn unknown_tenant_matches_wrong_password() {
    let api = api();
    let tenant = provision_tenant(&api, admin_token(), "login-shop");

    let unknown_tenant = try_login(
        &api,
        &format!("{}-x", tenant.code),
        &tenant.owner_email,
        "salah-sandi-123",
        None,
    );
    let wrong_password = try_login(&api, &tenant.code, &tenant.owner_email, "salah-sandi-123", None);

    assert_eq!(
        ResponseSummary::of(&unknown_tenant),
        ResponseSummary::of(&wrong_password),
        "an unknown tenant and a wrong password get different responses:\n  unknown tenant {}\n  wrong password {}",
        unknown_tenant.text,
        wrong_password.text
    );
}

#[test]
fn account_locked_after_ten_failures() {
    let api = api();
    let tenant = provision_tenant(&api, admin_token(), "login-lock");
    let owner = login_owner(&api, &tenant, None);
    let colleague = create_user(&api, &owner, "admin", "Rekan Kerja");
    wait_for_time_left_in_window(60);

    for attempt in 1..=ACCOUNT_LIMIT {
        let failed = try_login(&api, &tenant.code, &tenant.owner_email, "salah-sandi-123", None);
        assert!(
            ResponseSummary::of(&failed).is(401, "unauthorized"),
            "failed login {attempt} of {ACCOUNT_LIMIT} should still be 401: {} {}",
            failed.status,
            failed.text
        );
    }

    let right_password = try_login(&api, &tenant.code, &tenant.owner_email, &tenant.owner_password, None);
    assert!(
        ResponseSummary::of(&right_password).is(429, "rate_limited"),
        "the right password past the limit should get 429 rate_limited: {} {}",
        right_password.status,
        right_password.text
    );
    let retry_after = right_password.header("retry-after").unwrap_or_default();
    let seconds: i64 = retry_after
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After should be whole seconds, got {retry_after:?}"));
    assert!(
        (1..=WINDOW_SECONDS).contains(&seconds),
        "Retry-After {seconds} should be within the 15-minute window"
    );

    let wrong_password = try_login(&api, &tenant.code, &tenant.owner_email, "salah-sandi-123", None);
    assert!(
        ResponseSummary::of(&wrong_password).is(429, "rate_limited"),
        "a wrong password past the limit should get 429 rate_limited: {} {}",
        wrong_password.status,
        wrong_password.text
    );
    assert!(
        wrong_password.header("retry-after").is_some(),
        "429 without Retry-After: {:?}",
        wrong_password.headers
    );

    let other_account = try_login(&api, &tenant.code, &colleague.email, &colleague.password, None);
    assert_eq!(
        other_account.status, 200,
        "the limit is per tenant and email, so another user of the tenant still logs in: {}",
        other_account.text
    );
    let existing_session = api.get("/v1/me").bearer(&owner.access_token).send();
    assert_eq!(
        existing_session.status, 200,
        "the lockout stops logins, not sessions already open: {}",
        existing_session.text
    );
}
