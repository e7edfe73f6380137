//! Login timing on Kasir Edge: whether a failed login for an email the tenant does not have
//! takes as long, and returns the same response, as one with the owner's email and a wrong
//! password. The Worker verifies unknown users against a dummy PBKDF2 hash and compares
//! hashes in constant time, so both failures should cost one hash check. This step measures
//! that from the client's side, with the right password as a reference.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::http::{Client, Reply};
use crate::stats::Latencies;
use crate::target::TenantAccount;

/// Untimed attempts of each case sent before the timed ones, so that the first requests to a
/// new tenant's database are not among the figures.
pub const WARM_UP_ATTEMPTS: usize = 5;

/// Critical value of the normal distribution for a two-sided 95 % confidence interval.
const Z_95: f64 = 1.96;

/// Kind of login attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Case {
    /// An email that does not exist in the tenant.
    UnknownUser,
    /// The owner's email with a wrong password.
    WrongPassword,
    /// The owner's email and password.
    RightPassword,
}

const CASES: [Case; 3] = [Case::UnknownUser, Case::WrongPassword, Case::RightPassword];

impl Case {
    fn label(self) -> &'static str {
        match self {
            Case::UnknownUser => "unknown email",
            Case::WrongPassword => "wrong password",
            Case::RightPassword => "right password",
        }
    }
}

/// Figures of one kind of login attempt.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LoginCaseFigures {
    /// Timed attempts.
    pub attempts: usize,
    /// Timed responses by HTTP status.
    pub statuses: BTreeMap<u16, usize>,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub mean_ms: f64,
    /// Latency of each timed attempt in the order sent, from the start of the request to the
    /// end of the response body, connection set-up included.
    pub latencies_ms: Vec<f64>,
}

impl LoginCaseFigures {
    fn from_latencies(latencies: &Latencies, statuses: BTreeMap<u16, usize>) -> LoginCaseFigures {
        LoginCaseFigures {
            attempts: latencies.samples_ms().len(),
            statuses,
            p50_ms: latencies.percentile(50.0),
            p95_ms: latencies.percentile(95.0),
            mean_ms: latencies.mean(),
            latencies_ms: latencies.samples_ms().to_vec(),
        }
    }
}

/// Figures of the login-timing step.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LoginTimingFigures {
    /// Timed attempts of each case, sent after [`WARM_UP_ATTEMPTS`] untimed ones of each.
    pub attempts_per_case: usize,
    pub warm_up_attempts: usize,
    pub unknown_user: LoginCaseFigures,
    pub wrong_password: LoginCaseFigures,
    pub right_password: LoginCaseFigures,
    /// Unknown-user p50 divided by wrong-password p50.
    pub p50_ratio: f64,
    /// Unknown-user mean divided by wrong-password mean.
    pub mean_ratio: f64,
    /// Unknown-user mean minus wrong-password mean, in milliseconds.
    pub mean_difference_ms: f64,
    /// Half-width of the 95 % confidence interval of `mean_difference_ms` (normal
    /// approximation with the two samples' variances).
    pub mean_difference_margin_ms: f64,
    /// Status of the first failed attempt, which every other failed attempt is compared with.
    pub failure_status: u16,
    /// Body of the first failed attempt without `error.request_id`.
    pub failure_body: Value,
    /// Failed attempts, warm-up included, whose status or body (without `error.request_id`)
    /// differed from the first one.
    pub differing_failures: usize,
    /// The first such difference, for the report.
    pub first_difference: Option<String>,
}

/// Status and body of a response with the parts that differ on every request removed: the
/// `error.request_id` of a JSON error envelope.
#[derive(Debug, Clone, PartialEq)]
struct Fingerprint {
    status: u16,
    body: Value,
    raw_prefix: Option<String>,
}

impl Fingerprint {
    fn of(reply: &Reply) -> Fingerprint {
        let mut body = reply.body.clone();
        if let Some(error) = body.get_mut("error").and_then(Value::as_object_mut) {
            error.remove("request_id");
        }
        Fingerprint {
            status: reply.status,
            body,
            raw_prefix: reply.raw_prefix.clone(),
        }
    }

    fn describe(&self) -> String {
        match &self.raw_prefix {
            Some(raw) => format!("HTTP {} {raw}", self.status),
            None => format!("HTTP {} {}", self.status, self.body),
        }
    }
}

/// Returns `attempts` of each case in a shuffled order, so that a slow stretch of a shared
/// machine falls on all cases alike.
fn shuffled_order(attempts: usize, seed: u64) -> Vec<Case> {
    let mut order: Vec<Case> = (0..attempts).flat_map(|_| CASES).collect();
    fastrand::Rng::with_seed(seed).shuffle(&mut order);
    order
}

/// Returns how many failed logins per account and per client address the step sends, so the
/// server's login limits must be above these for no attempt to get 429.
pub fn failed_logins_needed(attempts: usize) -> (usize, usize) {
    let per_account = attempts + WARM_UP_ATTEMPTS;
    (per_account, 2 * per_account)
}

/// Sends `attempts` timed logins of each case to `tenant`, one at a time in a shuffled order,
/// after [`WARM_UP_ATTEMPTS`] untimed ones of each. No request carries a `device`, so a
/// successful login registers none. No request is retried, because a retry would add its
/// wait to the latency.
///
/// # Errors
/// Fails when `attempts` is 0, on a transport error, on status 429 (the server's login
/// limits are below [`failed_logins_needed`]), and when the right password does not return
/// 200.
pub fn measure(
    client: &Client,
    tenant: &TenantAccount,
    attempts: usize,
    seed: u64,
) -> Result<LoginTimingFigures, String> {
    if attempts == 0 {
        return Err("the login-timing step needs at least 1 attempt of each case, got 0".to_string());
    }
    let bodies = request_bodies(tenant);
    let mut order = CASES.repeat(WARM_UP_ATTEMPTS);
    let warm_up = order.len();
    order.extend(shuffled_order(attempts, seed));

    let mut latencies: [Latencies; 3] = Default::default();
    let mut statuses: [BTreeMap<u16, usize>; 3] = Default::default();
    let mut reference: Option<Fingerprint> = None;
    let mut differing_failures = 0;
    let mut first_difference = None;
    let mut failures_sent = 0;

    for (index, case) in order.iter().enumerate() {
        let slot = *case as usize;
        let reply = client
            .send("POST", "/v1/auth/login", None, &[], Some(&bodies[slot]))
            .map_err(|error| format!("login attempt {} ({}): {error}", index + 1, case.label()))?;
        if reply.status == 429 {
            let (per_account, per_address) = failed_logins_needed(attempts);
            return Err(format!(
                "POST /v1/auth/login returned 429 after {failures_sent} failed logins, so the server's login limits \
                 are too low for this step. Serve Kasir Edge with LOGIN_LIMIT_PER_ACCOUNT of at least {per_account} \
                 and LOGIN_LIMIT_PER_ADDRESS of at least {per_address} in its .dev.vars, as bench/run.sh does"
            ));
        }

        if *case == Case::RightPassword {
            if reply.status != 200 {
                return Err(format!("login with the right password returned {}", reply.describe()));
            }
        } else {
            failures_sent += 1;
            let fingerprint = Fingerprint::of(&reply);
            match &reference {
                None => reference = Some(fingerprint),
                Some(first) if *first != fingerprint => {
                    differing_failures += 1;
                    first_difference.get_or_insert_with(|| {
                        format!(
                            "attempt {} ({}) returned {}, the first failed login returned {}",
                            index + 1,
                            case.label(),
                            fingerprint.describe(),
                            first.describe()
                        )
                    });
                }
                Some(_) => {}
            }
        }

        if index >= warm_up {
            latencies[slot].record(reply.elapsed);
            *statuses[slot].entry(reply.status).or_insert(0) += 1;
        }
    }

    let [unknown, wrong, right] = latencies;
    let [unknown_statuses, wrong_statuses, right_statuses] = statuses;
    let reference = reference.ok_or("no failed login was sent")?;
    let mean_difference_ms = unknown.mean() - wrong.mean();
    let margin = Z_95 * (unknown.variance() / attempts as f64 + wrong.variance() / attempts as f64).sqrt();
    Ok(LoginTimingFigures {
        attempts_per_case: attempts,
        warm_up_attempts: WARM_UP_ATTEMPTS,
        p50_ratio: ratio(unknown.percentile(50.0), wrong.percentile(50.0)),
        mean_ratio: ratio(unknown.mean(), wrong.mean()),
        mean_difference_ms,
        mean_difference_margin_ms: margin,
        unknown_user: LoginCaseFigures::from_latencies(&unknown, unknown_statuses),
        wrong_password: LoginCaseFigures::from_latencies(&wrong, wrong_statuses),
        right_password: LoginCaseFigures::from_latencies(&right, right_statuses),
        failure_status: reference.status,
        failure_body: reference.body,
        differing_failures,
        first_difference,
    })
}

/// Builds the login body of each case, indexed by `Case as usize`. For the owner emails that
/// [`crate::target::provision_tenant`] creates, the unknown email and the wrong password have
/// the same length as the owner's, so every request is the same size.
fn request_bodies(tenant: &TenantAccount) -> [String; 3] {
    let unknown_email = match tenant.owner_email.strip_prefix("pemilik@") {
        Some(domain) => format!("pembeli@{domain}"),
        None => format!("tidak-ada.{}", tenant.owner_email),
    };
    let wrong_password: String = format!("Salah-{}", uuid::Uuid::new_v4().simple())
        .chars()
        .take(tenant.owner_password.chars().count().max(8))
        .collect();
    let body =
        |email: &str, password: &str| json!({"tenant": tenant.code, "email": email, "password": password}).to_string();
    [
        body(&unknown_email, &wrong_password),
        body(&tenant.owner_email, &wrong_password),
        body(&tenant.owner_email, &tenant.owner_password),
    ]
}

fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator / denominator
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn tenant() -> TenantAccount {
        TenantAccount {
            code: "bx-login".to_string(),
            outlet_id: String::new(),
            outlet_code: "PUSAT".to_string(),
            owner_email: "pemilik@bx-login.test".to_string(),
            owner_password: "Rahasia-0123456789".to_string(),
        }
    }

    fn reply(status: u16, body: Value) -> Reply {
        Reply::from_parts(status, body, Duration::ZERO)
    }

    #[test]
    fn order_holds_each_case_equally() {
        let order = shuffled_order(200, 3);

        for case in CASES {
            assert_eq!(order.iter().filter(|sent| **sent == case).count(), 200, "{case:?}");
        }
        assert_ne!(&order[..3], &CASES, "the order is not shuffled");
    }

    #[test]
    fn order_interleaves_cases() {
        let order = shuffled_order(200, 3);
        let first_half = &order[..order.len() / 2];

        for case in CASES {
            let count = first_half.iter().filter(|sent| **sent == case).count();
            assert!(
                (70..=130).contains(&count),
                "{case:?} has {count} of 300 in the first half"
            );
        }
    }

    #[test]
    fn fingerprint_ignores_request_id() {
        let first = reply(401, json!({"error": {"code": "unauthorized", "request_id": "a"}}));
        let second = reply(401, json!({"error": {"code": "unauthorized", "request_id": "b"}}));
        let other_code = reply(401, json!({"error": {"code": "forbidden", "request_id": "a"}}));
        let other_status = reply(403, json!({"error": {"code": "unauthorized", "request_id": "a"}}));

        assert_eq!(Fingerprint::of(&first), Fingerprint::of(&second));
        assert_ne!(Fingerprint::of(&first), Fingerprint::of(&other_code));
        assert_ne!(Fingerprint::of(&first), Fingerprint::of(&other_status));
    }

    #[test]
    fn bodies_have_equal_sizes() {
        let bodies = request_bodies(&tenant());

        assert_eq!(bodies[0].len(), bodies[1].len());
        assert_eq!(bodies[1].len(), bodies[2].len());
        assert!(bodies[0].contains("pembeli@bx-login.test"));
        assert!(!bodies[1].contains("Rahasia-0123456789"));
        assert!(bodies[2].contains("Rahasia-0123456789"));
    }

    #[test]
    fn limits_needed_count_warm_up() {
        assert_eq!(failed_logins_needed(200), (205, 410));
    }
}
