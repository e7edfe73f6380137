//! Sending email: a provider trait with an HTTP provider for production and an outbox in R2
//! for development and tests, which `GET /v1/admin/outbox` lists.

use kasir_core::email::{render, Email};
use kasir_core::error::Lang;
use serde_json::{json, Value};
use worker::{Env, Fetch, Headers, Method, Request, RequestInit};

/// R2 prefix of the development outbox.
pub const OUTBOX_PREFIX: &str = "outbox/";

/// Delivers a rendered message somewhere.
pub trait EmailProvider {
    /// Sends one message and returns the provider's id for it.
    async fn send(&self, email: &Email) -> Result<String, String>;
}

/// Stores messages in R2 instead of sending them.
pub struct Outbox<'a> {
    env: &'a Env,
    /// Recipients at `@fail.test` fail, so tests can drive a job to the dead-letter queue.
    fail_test_domain: bool,
}

impl EmailProvider for Outbox<'_> {
    async fn send(&self, email: &Email) -> Result<String, String> {
        if self.fail_test_domain && email.to.ends_with("@fail.test") {
            return Err(format!("the development outbox rejects {}", email.to));
        }
        let id = crate::crypto::new_uuid().map_err(|error| error.to_string())?;
        let created_at = kasir_durable::now_rfc3339();
        // Keys sort by time, so the newest messages list last.
        let key = format!("{OUTBOX_PREFIX}{created_at}-{id}.json");
        let mut stored = serde_json::to_value(email).map_err(|error| error.to_string())?;
        stored["id"] = json!(id);
        stored["created_at"] = json!(created_at);
        let bucket = self.env.bucket("FILES").map_err(|error| error.to_string())?;
        bucket
            .put(key, stored.to_string().into_bytes())
            .execute()
            .await
            .map_err(|error| error.to_string())?;
        Ok(id)
    }
}

/// Posts messages to a transactional email API: `EMAIL_API_URL` takes
/// `{from, to, subject, text, html}` with `Authorization: Bearer EMAIL_API_TOKEN`.
pub struct HttpProvider {
    url: String,
    token: String,
    from: String,
}

impl EmailProvider for HttpProvider {
    async fn send(&self, email: &Email) -> Result<String, String> {
        let headers = Headers::new();
        headers
            .set("content-type", "application/json")
            .map_err(|error| error.to_string())?;
        headers
            .set("authorization", &format!("Bearer {}", self.token))
            .map_err(|error| error.to_string())?;
        let body = json!({
            "from": self.from,
            "to": email.to,
            "subject": email.subject,
            "text": email.text,
            "html": email.html,
        });
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(body.to_string().into()));
        let request = Request::new_with_init(&self.url, &init).map_err(|error| error.to_string())?;
        let mut response = Fetch::Request(request)
            .send()
            .await
            .map_err(|error| error.to_string())?;
        if !(200..300).contains(&response.status_code()) {
            return Err(format!("email API answered {}", response.status_code()));
        }
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        Ok(answer["id"].as_str().unwrap_or_default().to_string())
    }
}

fn secret(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|secret| secret.to_string())
        .or_else(|_| env.var(name).map(|var| var.to_string()))
        .ok()
        .filter(|value| !value.is_empty())
}

async fn send_with(provider: &impl EmailProvider, email: &Email) -> Result<Value, String> {
    let id = provider.send(email).await?;
    Ok(json!({ "message_id": id, "to": email.to, "template": email.template }))
}

/// Runs an email job: `{template, to, locale, data}`. Development, and any deployment without
/// `EMAIL_API_URL`, writes to the outbox.
pub async fn deliver(env: &Env, payload: &Value) -> Result<Value, String> {
    let template = payload["template"].as_str().unwrap_or_default();
    let to = payload["to"].as_str().unwrap_or_default();
    let lang = Lang::parse(payload["locale"].as_str().unwrap_or("id"));
    let email = render(template, lang, to, &payload["data"]).ok_or_else(|| format!("unknown template {template}"))?;

    let development = env
        .var("ENVIRONMENT")
        .map(|var| var.to_string() == "development")
        .unwrap_or(false);
    match (
        development,
        secret(env, "EMAIL_API_URL"),
        secret(env, "EMAIL_API_TOKEN"),
    ) {
        (false, Some(url), Some(token)) => {
            let from = secret(env, "EMAIL_FROM").unwrap_or_else(|| "Kasir Edge <no-reply@example.invalid>".to_string());
            send_with(&HttpProvider { url, token, from }, &email).await
        }
        _ => {
            let outbox = Outbox {
                env,
                fail_test_domain: development,
            };
            send_with(&outbox, &email).await
        }
    }
}
