//! Blocking HTTP client of one terminal, with bounded retries that resend the same body.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Read and write timeout of one request. Pushes queued behind others in a busy hub took up
/// to about 30 s in the bench runs on a 2-CPU machine, so this only catches a server that hangs.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Retry messages printed per process; later retries are only counted.
const PRINTED_RETRIES: u64 = 10;

static RETRIES: AtomicU64 = AtomicU64::new(0);
static KEEP_ALIVE: AtomicBool = AtomicBool::new(false);

/// Sets whether clients created afterwards keep connections open between requests. Off by
/// default: each request opens a new connection, as a terminal that syncs every few minutes
/// does.
pub fn set_keep_alive(keep_alive: bool) {
    KEEP_ALIVE.store(keep_alive, Ordering::Relaxed);
}

/// Status, JSON body and timing of one response. `body` is `Value::Null` when the body is
/// empty or not JSON.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    /// The start of a body that is not JSON, for error messages.
    pub raw_prefix: Option<String>,
    pub elapsed: Duration,
    retry_after: Option<Duration>,
}

impl Reply {
    /// Builds a reply without a `Retry-After` header, for tests of code that reads replies.
    #[cfg(test)]
    pub fn from_parts(status: u16, body: Value, elapsed: Duration) -> Reply {
        Reply {
            status,
            body,
            raw_prefix: None,
            elapsed,
            retry_after: None,
        }
    }

    /// Describes the reply for an error message: status and the start of the body.
    pub fn describe(&self) -> String {
        let text = match &self.raw_prefix {
            Some(raw) => raw.clone(),
            None => self.body.to_string(),
        };
        let prefix: String = text.chars().take(300).collect();
        format!("HTTP {} {prefix}", self.status)
    }
}

/// How often and how long to retry a request that failed in transit or got a status that
/// calls for a retry (429, 500, 502, 503, 504).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// A reply, the number of attempts it took, and the time from the first send to this
/// reply, waits between attempts included.
#[derive(Debug, Clone)]
pub struct Attempted {
    pub reply: Reply,
    pub attempts: u32,
    pub elapsed: Duration,
    /// Cause of each earlier failed attempt, in the short form of [`failure_cause`].
    pub retry_causes: Vec<String>,
}

/// Returns a failed attempt's cause without the parts that change from request to request
/// (ports, timings): the status and the first sentence of the body, or the last part of a
/// transport error such as `Connection reset by peer (os error 104)`.
pub fn failure_cause(outcome: &Result<Reply, String>) -> String {
    match outcome {
        Ok(reply) => {
            let text = match &reply.raw_prefix {
                Some(raw) => first_sentence(raw),
                None => reply.body["error"]["code"].as_str().unwrap_or_default().to_string(),
            };
            format!("HTTP {} {text}", reply.status).trim_end().to_string()
        }
        Err(message) => {
            let last = message.rsplit(": ").next().unwrap_or(message);
            format!("transport error: {last}")
        }
    }
}

/// Returns `text` up to the end of its first sentence, at most 80 characters.
pub fn first_sentence(text: &str) -> String {
    let end = text.find(". ").map_or(text.len(), |index| index + 1);
    text[..end].chars().take(80).collect()
}

/// HTTP client bound to one base URL, such as `http://127.0.0.1:8787`. With keep-alive on
/// (see [`set_keep_alive`]), each client keeps its own connections, as a separate terminal
/// would.
#[derive(Clone)]
pub struct Client {
    base_url: String,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(base_url: &str) -> Client {
        let agent = ureq::AgentBuilder::new()
            .timeout_read(REQUEST_TIMEOUT)
            .timeout_write(REQUEST_TIMEOUT)
            .max_idle_connections_per_host(if KEEP_ALIVE.load(Ordering::Relaxed) { 4 } else { 0 })
            .build();
        Client {
            base_url: base_url.trim_end_matches('/').to_string(),
            agent,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends one request and returns its reply whatever the status.
    ///
    /// # Errors
    /// Returns a message when no HTTP response arrived (connection refused, reset, timeout)
    /// or the body could not be read.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        query: &[(&str, &str)],
        body: Option<&str>,
    ) -> Result<Reply, String> {
        let mut request = self.agent.request(method, &format!("{}{path}", self.base_url));
        for (name, value) in query {
            request = request.query(name, value);
        }
        if let Some(token) = token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }

        let started = Instant::now();
        let outcome = match body {
            Some(text) => request.set("Content-Type", "application/json").send_string(text),
            None => request.call(),
        };
        let response = match outcome {
            Ok(response) => response,
            Err(ureq::Error::Status(_, response)) => response,
            Err(ureq::Error::Transport(error)) => return Err(format!("{method} {path} failed in transit: {error}")),
        };

        let status = response.status();
        let retry_after = response
            .header("retry-after")
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = response
            .into_string()
            .map_err(|error| format!("{method} {path}: failed to read the response body: {error}"))?;
        let elapsed = started.elapsed();
        let (body, raw_prefix) = match serde_json::from_str(&text) {
            Ok(body) => (body, None),
            Err(_) => (Value::Null, Some(text.chars().take(300).collect())),
        };
        Ok(Reply {
            status,
            body,
            raw_prefix,
            elapsed,
            retry_after,
        })
    }

    /// Sends the same request until it gets a reply that is not worth retrying, or the
    /// policy's attempts run out. The body is sent unchanged each time, so a retried push
    /// carries the same mutation ids and a retried sale the same sale id.
    ///
    /// # Errors
    /// Returns the last transport error when every attempt failed in transit.
    pub fn send_retrying(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        query: &[(&str, &str)],
        body: Option<&str>,
        policy: &RetryPolicy,
    ) -> Result<Attempted, String> {
        let started = Instant::now();
        let mut backoff = policy.first_backoff;
        let mut attempts = 0;
        let mut retry_causes = Vec::new();
        loop {
            attempts += 1;
            let attempt_started = Instant::now();
            let outcome = self.send(method, path, token, query, body);
            let retryable = match &outcome {
                Ok(reply) => matches!(reply.status, 429 | 500 | 502 | 503 | 504),
                Err(_) => true,
            };
            if !retryable || attempts >= policy.max_attempts {
                return outcome.map(|reply| Attempted {
                    reply,
                    attempts,
                    elapsed: started.elapsed(),
                    retry_causes,
                });
            }

            let wait = match &outcome {
                // `Retry-After: 0` would make the retry a busy loop; the backoff still applies.
                Ok(reply) => reply
                    .retry_after
                    .unwrap_or(backoff)
                    .max(backoff)
                    .min(policy.max_backoff),
                Err(_) => backoff,
            };
            note_retry(method, path, attempts, attempt_started.elapsed(), &outcome, wait);
            retry_causes.push(failure_cause(&outcome));
            thread::sleep(wait);
            backoff = (backoff * 2).min(policy.max_backoff);
        }
    }
}

fn note_retry(
    method: &str,
    path: &str,
    attempt: u32,
    attempt_time: Duration,
    outcome: &Result<Reply, String>,
    wait: Duration,
) {
    let count = RETRIES.fetch_add(1, Ordering::Relaxed) + 1;
    if count > PRINTED_RETRIES {
        return;
    }
    let cause = match outcome {
        Ok(reply) => reply.describe(),
        Err(error) => error.clone(),
    };
    eprintln!(
        "kasir-sim: retrying {method} {path} in {} ms; attempt {attempt} failed after {} ms: {cause}",
        wait.as_millis(),
        attempt_time.as_millis()
    );
    if count == PRINTED_RETRIES {
        eprintln!("kasir-sim: further retries are counted, not printed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: Value, raw_prefix: Option<&str>) -> Reply {
        Reply {
            status,
            body,
            raw_prefix: raw_prefix.map(str::to_string),
            elapsed: Duration::ZERO,
            retry_after: None,
        }
    }

    #[test]
    fn failure_cause_drops_changing_parts() {
        let transport: Result<Reply, String> = Err(
            "POST /v1/sync/push failed in transit: http://127.0.0.1:36955/v1/sync/push: Network Error: \
             Connection reset by peer (os error 104)"
                .to_string(),
        );
        let restarted = Ok(reply(
            503,
            Value::Null,
            Some("Your worker restarted mid-request. Please try sending the request again."),
        ));
        let envelope = Ok(reply(429, serde_json::json!({"error": {"code": "rate_limited"}}), None));

        assert_eq!(
            failure_cause(&transport),
            "transport error: Connection reset by peer (os error 104)"
        );
        assert_eq!(failure_cause(&restarted), "HTTP 503 Your worker restarted mid-request.");
        assert_eq!(failure_cause(&envelope), "HTTP 429 rate_limited");
    }
}
