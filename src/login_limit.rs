//! Login rate limiting: failed attempts counted per tenant and email, and per client address,
//! in fixed 15-minute windows in CONTROL_DB. Past a limit every attempt gets 429 until the
//! window ends, whether its password is right or not; successful logins are not counted.

use kasir_core::error::{ApiError, ErrorCode};
use kasir_durable::db;
use serde_json::json;
use worker::Env;

use crate::directory::control_db;

const WINDOW_SECONDS: i64 = 15 * 60;

pub struct Limits {
    pub per_account: i64,
    pub per_address: i64,
}

impl Limits {
    /// Reads `LOGIN_LIMIT_PER_ACCOUNT` and `LOGIN_LIMIT_PER_ADDRESS`, defaulting to 10 and 50.
    pub fn from_env(env: &Env) -> Limits {
        let read = |name: &str, default: i64| {
            env.var(name)
                .ok()
                .and_then(|var| var.to_string().parse::<i64>().ok())
                .filter(|limit| *limit > 0)
                .unwrap_or(default)
        };
        Limits {
            per_account: read("LOGIN_LIMIT_PER_ACCOUNT", 10),
            per_address: read("LOGIN_LIMIT_PER_ADDRESS", 50),
        }
    }
}

/// The counter keys of one attempt: the account and the client address.
pub struct Keys {
    account: String,
    address: String,
}

pub fn keys(tenant_code: &str, email: &str, client_address: &str) -> Keys {
    Keys {
        account: format!("account:{tenant_code}:{email}"),
        address: format!("address:{client_address}"),
    }
}

fn window(now_seconds: i64) -> (i64, i64) {
    let start = now_seconds - now_seconds.rem_euclid(WINDOW_SECONDS);
    (start, start + WINDOW_SECONDS)
}

fn now_seconds() -> i64 {
    (worker::Date::now().as_millis() / 1000) as i64
}

/// Fails with 429 and `Retry-After` when either counter has reached its limit.
pub async fn check(env: &Env, limits: &Limits, keys: &Keys) -> Result<(), ApiError> {
    let now = now_seconds();
    let (start, end) = window(now);
    let control = control_db(env).await?;
    let rows = db::all(
        &control,
        "SELECT key, count FROM login_failures WHERE window_start = ? AND key IN (?, ?)",
        &[db::int(start), db::text(&keys.account), db::text(&keys.address)],
    )
    .await
    .map_err(|error| ApiError::internal(error.to_string()))?;
    for row in rows {
        let count = db::get_i64(&row, "count").unwrap_or(0);
        let limit = if db::get_str(&row, "key") == Some(keys.account.as_str()) {
            limits.per_account
        } else {
            limits.per_address
        };
        if count >= limit {
            let mut error = ApiError::new(ErrorCode::RateLimited);
            error.retry_after = Some((end - now).max(1) as u64);
            return Err(error);
        }
    }
    Ok(())
}

/// Counts one failed attempt against both keys. A failure to count is logged, not fatal,
/// so a control database hiccup cannot lock everyone out.
pub async fn record_failure(env: &Env, keys: &Keys) {
    let (start, _) = window(now_seconds());
    let Ok(control) = control_db(env).await else {
        return;
    };
    let sql = "INSERT INTO login_failures (key, window_start, count) VALUES (?, ?, 1) ON CONFLICT (key, window_start) DO UPDATE SET count = count + 1";
    let statements: Result<Vec<_>, _> = [&keys.account, &keys.address]
        .into_iter()
        .map(|key| db::statement(&control, sql, &[db::text(key), db::int(start)]))
        .collect();
    // Windows that ended are dropped on the way, so the table stays small.
    let cleanup = db::statement(
        &control,
        "DELETE FROM login_failures WHERE window_start < ?",
        &[db::int(start)],
    );
    let result = match (statements, cleanup) {
        (Ok(mut statements), Ok(cleanup)) => {
            statements.push(cleanup);
            db::batch(&control, statements).await.map(|_| ())
        }
        (Err(error), _) | (_, Err(error)) => Err(error),
    };
    if let Err(error) = result {
        worker::console_error!(
            "{}",
            json!({ "event": "login_failure_not_counted", "error": error.to_string() })
        );
    }
}
