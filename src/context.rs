//! Per-request state: the request id, the caller's language and what the log line reports.

use kasir_core::error::Lang;

pub struct RequestContext {
    pub request_id: String,
    /// The language from `Accept-Language`, when it names one the API speaks.
    pub accept_language: Option<Lang>,
    /// The tenant's locale, once the request is tied to a tenant.
    pub tenant_locale: Option<Lang>,
    pub tenant_code: Option<String>,
    pub user_id: Option<String>,
    /// A security event worth a log field, such as a rejected token.
    pub security_event: Option<&'static str>,
}

impl RequestContext {
    /// Picks the language of messages: the caller's choice, else the tenant's, else English.
    pub fn lang(&self) -> Lang {
        self.accept_language.or(self.tenant_locale).unwrap_or(Lang::En)
    }
}
