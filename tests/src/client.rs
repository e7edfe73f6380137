//! Blocking HTTP client for the Kasir Edge API.
//!
//! Every call returns an [`ApiResponse`], whatever the status, so tests assert
//! on 4xx and 5xx responses the same way as on 2xx ones. Only transport failures
//! (connection refused, timeout) panic.

use std::time::Duration;

use serde_json::Value;

/// Client bound to one base URL, such as `http://127.0.0.1:8787`.
#[derive(Clone)]
pub struct Api {
    base_url: String,
    agent: ureq::Agent,
}

impl Api {
    /// Creates a client whose requests time out after 60 seconds.
    pub fn new(base_url: &str) -> Api {
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
        Api {
            base_url: base_url.trim_end_matches('/').to_string(),
            agent,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn get(&self, path: &str) -> ApiRequest {
        self.request("GET", path)
    }

    pub fn post(&self, path: &str) -> ApiRequest {
        self.request("POST", path)
    }

    pub fn patch(&self, path: &str) -> ApiRequest {
        self.request("PATCH", path)
    }

    pub fn put(&self, path: &str) -> ApiRequest {
        self.request("PUT", path)
    }

    pub fn delete(&self, path: &str) -> ApiRequest {
        self.request("DELETE", path)
    }

    /// Starts a request with any method; `path` starts with `/`.
    pub fn request(&self, method: &str, path: &str) -> ApiRequest {
        ApiRequest {
            agent: self.agent.clone(),
            method: method.to_string(),
            url: format!("{}{}", self.base_url, path),
            path: path.to_string(),
            bearer_token: None,
            accept_language: None,
            query: Vec::new(),
            headers: Vec::new(),
        }
    }
}

/// Request builder. Add a bearer token, a language or query parameters, then
/// send it.
pub struct ApiRequest {
    agent: ureq::Agent,
    method: String,
    url: String,
    path: String,
    bearer_token: Option<String>,
    accept_language: Option<String>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
}

impl ApiRequest {
    /// Sets any other request header, such as `Origin` or `If-None-Match`.
    pub fn header(mut self, name: &str, value: &str) -> ApiRequest {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Appends a query parameter; the value is percent-encoded.
    pub fn query(mut self, name: &str, value: &str) -> ApiRequest {
        self.query.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets `Authorization: Bearer <token>`.
    pub fn bearer(mut self, token: &str) -> ApiRequest {
        self.bearer_token = Some(token.to_string());
        self
    }

    /// Sets `Accept-Language`, such as `id` or `en`.
    pub fn language(mut self, language: &str) -> ApiRequest {
        self.accept_language = Some(language.to_string());
        self
    }

    /// Sends the request without a body.
    pub fn send(self) -> ApiResponse {
        let (method, path, request) = self.into_parts();
        ApiResponse::from_result(method, path, request.call())
    }

    /// Sends `body` as `application/json`.
    pub fn json(self, body: &Value) -> ApiResponse {
        let (method, path, request) = self.into_parts();
        ApiResponse::from_result(method, path, request.send_json(body))
    }

    /// Sends raw bytes with the given `Content-Type`.
    pub fn raw(self, content_type: &str, body: &[u8]) -> ApiResponse {
        let (method, path, request) = self.into_parts();
        let request = request.set("Content-Type", content_type);
        ApiResponse::from_result(method, path, request.send_bytes(body))
    }

    fn into_parts(self) -> (String, String, ureq::Request) {
        let mut request = self.agent.request(&self.method, &self.url);
        for (name, value) in &self.query {
            request = request.query(name, value);
        }
        if let Some(token) = &self.bearer_token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        if let Some(language) = &self.accept_language {
            request = request.set("Accept-Language", language);
        }
        for (name, value) in &self.headers {
            request = request.set(name, value);
        }
        let mut path = self.path;
        for (index, (name, value)) in self.query.iter().enumerate() {
            let separator = if index == 0 { '?' } else { '&' };
            path.push_str(&format!("{separator}{name}={value}"));
        }
        (self.method, path, request)
    }
}

/// Status, headers and body of one response. `json` is `Value::Null` when the
/// body is empty or not JSON; `text` keeps the raw body either way.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
    pub json: Value,
}

impl ApiResponse {
    fn from_result(method: String, path: String, result: Result<ureq::Response, ureq::Error>) -> ApiResponse {
        let response = match result {
            Ok(response) => response,
            Err(ureq::Error::Status(_, response)) => response,
            Err(ureq::Error::Transport(error)) => {
                panic!("{method} {path} failed before any HTTP response: {error}")
            }
        };

        let status = response.status();
        let headers = response
            .headers_names()
            .into_iter()
            .filter_map(|name| {
                let value = response.header(&name)?.to_string();
                Some((name.to_ascii_lowercase(), value))
            })
            .collect();
        let text = response
            .into_string()
            .unwrap_or_else(|error| panic!("{method} {path}: failed to read the body: {error}"));
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);

        ApiResponse {
            method,
            path,
            status,
            headers,
            text,
            json,
        }
    }

    /// Returns the first header with this name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Panics with the method, path and body unless the status is `expected`.
    #[track_caller]
    pub fn expect_status(&self, expected: u16) -> &ApiResponse {
        assert_eq!(
            self.status, expected,
            "{} {}: expected HTTP {expected}, got {} with body {}",
            self.method, self.path, self.status, self.text
        );
        self
    }

    /// Panics unless the status is `expected` and `error.code` is `code`.
    #[track_caller]
    pub fn expect_error(&self, expected: u16, code: &str) -> &ApiResponse {
        self.expect_status(expected);
        assert_eq!(
            self.error_code(),
            Some(code),
            "{} {}: expected error code {code:?} in body {}",
            self.method,
            self.path,
            self.text
        );
        self
    }

    /// `error.code` of an error envelope.
    pub fn error_code(&self) -> Option<&str> {
        self.json["error"]["code"].as_str()
    }

    /// `error.message` of an error envelope.
    pub fn error_message(&self) -> Option<&str> {
        self.json["error"]["message"].as_str()
    }

    /// `code` of every item in `error.details`.
    pub fn detail_codes(&self) -> Vec<String> {
        self.error_details()
            .iter()
            .filter_map(|detail| detail["code"].as_str().map(str::to_string))
            .collect()
    }

    /// Items of `error.details`, empty when there are none.
    pub fn error_details(&self) -> Vec<Value> {
        self.json["error"]["details"].as_array().cloned().unwrap_or_default()
    }

    /// Items of a list response (`{"items": [...], "next_cursor": ...}`).
    #[track_caller]
    pub fn items(&self) -> Vec<Value> {
        match self.json["items"].as_array() {
            Some(items) => items.clone(),
            None => panic!(
                "{} {}: expected a list response with `items`, got {}",
                self.method, self.path, self.text
            ),
        }
    }

    /// `next_cursor` of a list response, or `None` when it is null or absent.
    pub fn next_cursor(&self) -> Option<String> {
        self.json["next_cursor"].as_str().map(str::to_string)
    }

    /// Reads a string field of the JSON body, panicking when it is missing.
    #[track_caller]
    pub fn str_field(&self, field: &str) -> String {
        match self.json[field].as_str() {
            Some(value) => value.to_string(),
            None => panic!(
                "{} {}: expected string field {field:?} in body {}",
                self.method, self.path, self.text
            ),
        }
    }
}
