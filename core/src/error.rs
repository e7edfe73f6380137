//! The API error type and its message catalogue in English and Indonesian.

use serde::{Deserialize, Serialize};

/// Language of user-facing messages, chosen from `Accept-Language` or the tenant's locale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    Id,
}

impl Lang {
    /// Picks the first supported language of an `Accept-Language` header value.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut ranked: Vec<(u32, Lang)> = Vec::new();
        for part in header.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let lang = match tag.split('-').next().unwrap_or("") {
                "id" | "in" => Lang::Id,
                "en" => Lang::En,
                _ => continue,
            };
            ranked.push(((quality * 1000.0) as u32, lang));
        }
        // A stable sort keeps header order among equal weights.
        ranked.sort_by_key(|entry| std::cmp::Reverse(entry.0));
        ranked.first().map(|(_, lang)| *lang)
    }

    pub fn parse(locale: &str) -> Lang {
        if locale.to_ascii_lowercase().starts_with("id") {
            Lang::Id
        } else {
            Lang::En
        }
    }
}

/// A stable machine code of an error response, with its HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Unauthorized,
    Forbidden,
    ModuleDisabled,
    NotFound,
    MethodNotAllowed,
    Conflict,
    DuplicateReceiptNo,
    CursorExpired,
    PayloadTooLarge,
    QuotaExceeded,
    UnsupportedMediaType,
    ValidationFailed,
    UnsupportedSchemaVersion,
    TenantSuspended,
    RateLimited,
    Internal,
    RestoreInProgress,
    Unavailable,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 18] = [
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::ModuleDisabled,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::DuplicateReceiptNo,
        ErrorCode::CursorExpired,
        ErrorCode::PayloadTooLarge,
        ErrorCode::QuotaExceeded,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::ValidationFailed,
        ErrorCode::UnsupportedSchemaVersion,
        ErrorCode::TenantSuspended,
        ErrorCode::RateLimited,
        ErrorCode::Internal,
        ErrorCode::RestoreInProgress,
        ErrorCode::Unavailable,
    ];

    pub fn status(self) -> u16 {
        match self {
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden | ErrorCode::ModuleDisabled => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Conflict | ErrorCode::DuplicateReceiptNo => 409,
            ErrorCode::CursorExpired => 410,
            ErrorCode::PayloadTooLarge | ErrorCode::QuotaExceeded => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::ValidationFailed | ErrorCode::UnsupportedSchemaVersion => 422,
            ErrorCode::TenantSuspended => 423,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal => 500,
            ErrorCode::RestoreInProgress | ErrorCode::Unavailable => 503,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::ModuleDisabled => "module_disabled",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::DuplicateReceiptNo => "duplicate_receipt_no",
            ErrorCode::CursorExpired => "cursor_expired",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::UnsupportedSchemaVersion => "unsupported_schema_version",
            ErrorCode::TenantSuspended => "tenant_suspended",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Internal => "internal",
            ErrorCode::RestoreInProgress => "restore_in_progress",
            ErrorCode::Unavailable => "unavailable",
        }
    }

    /// Returns the default message of this code in one language.
    pub fn message(self, lang: Lang) -> &'static str {
        message(self.as_str(), lang).unwrap_or("Error")
    }
}

/// One item of an error's `details`: which field failed and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detail {
    pub field: String,
    pub code: String,
    /// Extra figures for the message, such as the expected and received totals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<serde_json::Value>,
}

impl Detail {
    pub fn new(field: impl Into<String>, code: &str) -> Detail {
        Detail {
            field: field.into(),
            code: code.to_string(),
            expected: None,
            received: None,
        }
    }

    pub fn with_figures(mut self, expected: serde_json::Value, received: serde_json::Value) -> Detail {
        self.expected = Some(expected);
        self.received = Some(received);
        self
    }

    /// Renders the detail's message; figures, when present, are appended.
    pub fn message(&self, lang: Lang) -> String {
        let base = message(&self.code, lang).unwrap_or(match lang {
            Lang::En => "Invalid value.",
            Lang::Id => "Nilai tidak valid.",
        });
        match (&self.expected, &self.received) {
            (Some(expected), Some(received)) => match lang {
                Lang::En => format!("{base} Expected {expected}, received {received}."),
                Lang::Id => format!("{base} Seharusnya {expected}, diterima {received}."),
            },
            _ => base.to_string(),
        }
    }
}

/// An error returned to an API client, serializable so the TenantHub can hand it to the Worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: ErrorCode,
    /// Catalogue key of a more specific message than the code's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_key: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Detail>,
    /// Seconds for a `Retry-After` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Internal cause, logged and never sent to the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode) -> ApiError {
        ApiError {
            code,
            message_key: None,
            details: Vec::new(),
            retry_after: None,
            internal: None,
        }
    }

    pub fn keyed(code: ErrorCode, message_key: &str) -> ApiError {
        let mut error = ApiError::new(code);
        error.message_key = Some(message_key.to_string());
        error
    }

    pub fn not_found() -> ApiError {
        ApiError::new(ErrorCode::NotFound)
    }

    pub fn forbidden() -> ApiError {
        ApiError::new(ErrorCode::Forbidden)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(ErrorCode::Unauthorized)
    }

    pub fn conflict(message_key: &str) -> ApiError {
        ApiError::keyed(ErrorCode::Conflict, message_key)
    }

    /// Builds a 422 with one detail.
    pub fn invalid(field: impl Into<String>, detail_code: &str) -> ApiError {
        ApiError::validation(vec![Detail::new(field, detail_code)])
    }

    pub fn validation(details: Vec<Detail>) -> ApiError {
        let mut error = ApiError::new(ErrorCode::ValidationFailed);
        error.details = details;
        error
    }

    /// Builds a 500 whose cause is logged, never shown.
    pub fn internal(cause: impl Into<String>) -> ApiError {
        let mut error = ApiError::new(ErrorCode::Internal);
        error.internal = Some(cause.into());
        error
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    pub fn message(&self, lang: Lang) -> String {
        self.message_key
            .as_deref()
            .and_then(|key| message(key, lang))
            .unwrap_or_else(|| self.code.message(lang))
            .to_string()
    }

    /// Builds the JSON envelope `{"error": {code, message, details, request_id}}`.
    pub fn envelope(&self, lang: Lang, request_id: &str) -> serde_json::Value {
        let details: Vec<serde_json::Value> = self
            .details
            .iter()
            .map(|detail| {
                let mut item = serde_json::json!({
                    "field": detail.field,
                    "code": detail.code,
                    "message": detail.message(lang),
                });
                if let (Some(expected), Some(received)) = (&detail.expected, &detail.received) {
                    item["expected"] = expected.clone();
                    item["received"] = received.clone();
                }
                item
            })
            .collect();
        serde_json::json!({
            "error": {
                "code": self.code.as_str(),
                "message": self.message(lang),
                "details": details,
                "request_id": request_id,
            }
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code.as_str())?;
        if let Some(internal) = &self.internal {
            write!(f, ": {internal}")?;
        }
        Ok(())
    }
}

/// Message catalogue: (key, English, Indonesian). Keys are error codes, detail codes or
/// specific message keys.
const MESSAGES: &[(&str, &str, &str)] = &[
    // Error codes.
    (
        "unauthorized",
        "Authentication is missing or invalid.",
        "Autentikasi tidak ada atau tidak valid.",
    ),
    (
        "forbidden",
        "Your role may not do this.",
        "Peran Anda tidak diizinkan melakukan ini.",
    ),
    (
        "module_disabled",
        "This module is turned off for the shop.",
        "Modul ini dinonaktifkan untuk toko ini.",
    ),
    ("not_found", "The record was not found.", "Data tidak ditemukan."),
    (
        "method_not_allowed",
        "This method is not allowed on this path.",
        "Metode ini tidak diizinkan pada path ini.",
    ),
    (
        "conflict",
        "The request conflicts with stored data.",
        "Permintaan bertentangan dengan data yang tersimpan.",
    ),
    (
        "duplicate_receipt_no",
        "This receipt number is already used by another sale.",
        "Nomor struk ini sudah dipakai transaksi lain.",
    ),
    (
        "cursor_expired",
        "The sync cursor is too old; pull again without a cursor.",
        "Kursor sinkronisasi sudah kedaluwarsa; tarik ulang tanpa kursor.",
    ),
    (
        "payload_too_large",
        "The request body is too large.",
        "Isi permintaan terlalu besar.",
    ),
    (
        "quota_exceeded",
        "The shop's storage quota is used up.",
        "Kuota penyimpanan toko sudah habis.",
    ),
    (
        "unsupported_media_type",
        "The body must be JSON (Content-Type: application/json).",
        "Isi permintaan harus JSON (Content-Type: application/json).",
    ),
    (
        "validation_failed",
        "Some fields are invalid; see details.",
        "Ada isian yang tidak valid; lihat details.",
    ),
    (
        "unsupported_schema_version",
        "This sync schema version is not supported.",
        "Versi skema sinkronisasi ini tidak didukung.",
    ),
    (
        "tenant_suspended",
        "This shop is suspended. Contact the platform administrator.",
        "Toko ini sedang dibekukan. Hubungi administrator platform.",
    ),
    (
        "rate_limited",
        "Too many attempts. Try again later.",
        "Terlalu banyak percobaan. Coba lagi nanti.",
    ),
    (
        "internal",
        "An internal error occurred. Try again; quote the request id if it persists.",
        "Terjadi kesalahan internal. Coba lagi; sebutkan request id jika terus terjadi.",
    ),
    (
        "restore_in_progress",
        "A restore is running; sync is paused. Try again shortly.",
        "Pemulihan data sedang berjalan; sinkronisasi dijeda. Coba lagi sebentar lagi.",
    ),
    (
        "unavailable",
        "The service is temporarily unavailable. Try again shortly.",
        "Layanan sedang tidak tersedia. Coba lagi sebentar lagi.",
    ),
    // Specific messages.
    (
        "invalid_login",
        "Wrong shop code, email or password.",
        "Kode toko, email, atau kata sandi salah.",
    ),
    (
        "invalid_token",
        "The access token is invalid or expired. Log in again or refresh it.",
        "Token akses tidak valid atau kedaluwarsa. Masuk lagi atau perbarui token.",
    ),
    (
        "invalid_refresh_token",
        "The refresh token is invalid, expired or already used. Log in again.",
        "Refresh token tidak valid, kedaluwarsa, atau sudah dipakai. Silakan masuk lagi.",
    ),
    (
        "invalid_admin_token",
        "The platform admin token is missing or wrong.",
        "Token admin platform tidak ada atau salah.",
    ),
    (
        "device_mismatch",
        "The device in the body is not the device of the token.",
        "Perangkat pada isi permintaan bukan perangkat milik token.",
    ),
    (
        "device_required",
        "This request needs a token issued to a device. Log in with a device.",
        "Permintaan ini memerlukan token perangkat. Masuk dengan perangkat.",
    ),
    (
        "tenant_code_taken",
        "This shop code is already taken.",
        "Kode toko ini sudah dipakai.",
    ),
    (
        "email_taken",
        "A user with this email already exists.",
        "Pengguna dengan email ini sudah ada.",
    ),
    (
        "outlet_code_taken",
        "An outlet with this code already exists.",
        "Outlet dengan kode ini sudah ada.",
    ),
    (
        "id_taken",
        "This id is already used by another record.",
        "Id ini sudah dipakai data lain.",
    ),
    (
        "sale_replay_mismatch",
        "A sale with this id exists with a different body.",
        "Transaksi dengan id ini sudah ada dengan isi yang berbeda.",
    ),
    (
        "last_owner",
        "The shop's last owner cannot be removed or demoted.",
        "Pemilik terakhir toko tidak dapat dihapus atau diturunkan perannya.",
    ),
    (
        "too_many_mutations",
        "A push carries at most 500 mutations; split it.",
        "Satu push berisi paling banyak 500 mutasi; pecah menjadi beberapa.",
    ),
    (
        "default_outlet",
        "The shop's default outlet cannot be deleted.",
        "Outlet utama toko tidak dapat dihapus.",
    ),
    (
        "pool_exhausted",
        "No tenant database is free.",
        "Tidak ada database tenant yang tersedia.",
    ),
    // Detail codes.
    ("required", "This field is required.", "Isian ini wajib diisi."),
    (
        "unknown_field",
        "This field is not allowed.",
        "Isian ini tidak dikenal.",
    ),
    (
        "invalid_type",
        "This field has the wrong type.",
        "Tipe isian ini salah.",
    ),
    (
        "invalid_format",
        "This field has an invalid format.",
        "Format isian ini tidak valid.",
    ),
    (
        "invalid_json",
        "The body is not valid JSON.",
        "Isi permintaan bukan JSON yang valid.",
    ),
    ("too_long", "This text is too long.", "Teks ini terlalu panjang."),
    ("too_short", "This text is too short.", "Teks ini terlalu pendek."),
    (
        "out_of_range",
        "This number is out of the allowed range.",
        "Angka ini di luar rentang yang diizinkan.",
    ),
    (
        "negative_amount",
        "Amounts may not be negative.",
        "Jumlah uang tidak boleh negatif.",
    ),
    ("too_large", "This number is too large.", "Angka ini terlalu besar."),
    (
        "invalid_quantity",
        "Quantity must be positive with at most 3 decimals.",
        "Kuantitas harus positif dengan paling banyak 3 desimal.",
    ),
    (
        "line_discount_exceeds_line",
        "The line discount is larger than the line amount.",
        "Diskon baris melebihi nilai baris.",
    ),
    (
        "discount_exceeds_subtotal",
        "The discount is larger than the subtotal.",
        "Diskon melebihi subtotal.",
    ),
    (
        "underpaid",
        "The payments do not cover the total.",
        "Pembayaran tidak menutupi total.",
    ),
    (
        "overpaid_without_cash",
        "Only a cash payment may exceed the total.",
        "Hanya pembayaran tunai yang boleh melebihi total.",
    ),
    (
        "zero_payment",
        "A payment amount must be above zero.",
        "Jumlah pembayaran harus lebih dari nol.",
    ),
    (
        "change_exceeds_cash",
        "The change is larger than the cash paid.",
        "Kembalian melebihi uang tunai yang dibayar.",
    ),
    (
        "no_items",
        "A sale needs at least one item.",
        "Transaksi memerlukan paling sedikit satu item.",
    ),
    (
        "no_payments",
        "A sale needs at least one payment.",
        "Transaksi memerlukan paling sedikit satu pembayaran.",
    ),
    (
        "invalid_tax_settings",
        "The shop's tax settings are invalid.",
        "Pengaturan pajak toko tidak valid.",
    ),
    (
        "subtotal_mismatch",
        "The subtotal differs from the server's calculation.",
        "Subtotal berbeda dengan perhitungan server.",
    ),
    (
        "tax_mismatch",
        "The tax differs from the server's calculation.",
        "Pajak berbeda dengan perhitungan server.",
    ),
    (
        "total_mismatch",
        "The total differs from the server's calculation.",
        "Total berbeda dengan perhitungan server.",
    ),
    ("invalid_cursor", "The cursor is invalid.", "Kursor tidak valid."),
    (
        "invalid_reference",
        "The referenced record does not exist.",
        "Data yang dirujuk tidak ada.",
    ),
    (
        "invalid_role",
        "This role cannot be assigned by you.",
        "Peran ini tidak dapat Anda berikan.",
    ),
    (
        "server_only",
        "Only the server writes movements of this kind.",
        "Hanya server yang mencatat pergerakan stok jenis ini.",
    ),
    (
        "exceeds_sold",
        "The quantity is more than is left to refund on this sale.",
        "Jumlah melebihi sisa yang dapat dikembalikan dari transaksi ini.",
    ),
    (
        "untracked_product",
        "This product does not track stock.",
        "Produk ini tidak melacak stok.",
    ),
    (
        "already_voided",
        "This sale is already voided.",
        "Transaksi ini sudah dibatalkan.",
    ),
    (
        "void_after_refund",
        "A sale with refunds cannot be voided; refund the rest instead.",
        "Transaksi yang sudah ada retur tidak dapat dibatalkan; retur sisanya saja.",
    ),
    (
        "payment_not_pending",
        "This payment is not pending.",
        "Pembayaran ini tidak berstatus menunggu.",
    ),
    (
        "refund_replay_mismatch",
        "A refund with this id exists with a different body.",
        "Retur dengan id ini sudah ada dengan isi yang berbeda.",
    ),
    (
        "shift_already_open",
        "This user already has an open shift. Close it before opening another.",
        "Pengguna ini masih punya shift yang terbuka. Tutup dulu sebelum membuka yang baru.",
    ),
    (
        "shift_closed",
        "This shift is already closed.",
        "Shift ini sudah ditutup.",
    ),
    (
        "backup_checksum_mismatch",
        "The backup does not match its checksum and was not restored.",
        "Cadangan data tidak cocok dengan checksum-nya sehingga tidak dipulihkan.",
    ),
    (
        "backup_schema_newer",
        "The backup comes from a newer schema than this server runs.",
        "Cadangan data berasal dari skema yang lebih baru dari server ini.",
    ),
    (
        "invalid_range",
        "The end date is before the start date.",
        "Tanggal akhir lebih awal dari tanggal mulai.",
    ),
    (
        "range_too_long",
        "The range may cover at most 366 days.",
        "Rentang paling panjang 366 hari.",
    ),
    (
        "tenant_deleting",
        "This shop is being removed and can no longer be changed.",
        "Toko ini sedang dihapus dan tidak dapat diubah lagi.",
    ),
    (
        "insert_only",
        "Records of this entity cannot be changed or deleted.",
        "Data entitas ini tidak dapat diubah atau dihapus.",
    ),
    (
        "unknown_entity",
        "This entity does not sync.",
        "Entitas ini tidak disinkronkan.",
    ),
    (
        "multipart_required",
        "The body must be multipart/form-data with a file in the `file` field.",
        "Isi permintaan harus multipart/form-data dengan berkas pada isian `file`.",
    ),
    (
        "unsupported_file_type",
        "The file's content is not an allowed type: PNG, JPEG or WebP for logo and product, PDF or CSV (UTF-8 text, .csv name) for doc.",
        "Isi berkas bukan tipe yang diizinkan: PNG, JPEG, atau WebP untuk logo dan produk; PDF atau CSV (teks UTF-8, nama .csv) untuk dokumen.",
    ),
    (
        "file_too_large",
        "The file is larger than its kind allows (sizes in bytes).",
        "Berkas lebih besar dari batas untuk jenisnya (ukuran dalam byte).",
    ),
    (
        "empty_file",
        "The file is empty.",
        "Berkas kosong.",
    ),
    (
        "storage_quota",
        "This upload would take the shop past the storage quota of its plan (sizes in bytes).",
        "Unggahan ini melebihi kuota penyimpanan paket toko (ukuran dalam byte).",
    ),
];

/// Looks up a catalogue message.
pub fn message(key: &str, lang: Lang) -> Option<&'static str> {
    MESSAGES
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, en, id)| match lang {
            Lang::En => *en,
            Lang::Id => *id,
        })
}

/// Lists every catalogue key, for completeness checks.
pub fn message_keys() -> impl Iterator<Item = &'static str> {
    MESSAGES.iter().map(|(key, _, _)| *key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_has_both_languages() {
        for code in ErrorCode::ALL {
            let en = message(code.as_str(), Lang::En);
            let id = message(code.as_str(), Lang::Id);
            assert!(en.is_some_and(|m| !m.is_empty()), "{} lacks English", code.as_str());
            assert!(id.is_some_and(|m| !m.is_empty()), "{} lacks Indonesian", code.as_str());
            assert_ne!(en, id, "{} is not translated", code.as_str());
        }
    }

    #[test]
    fn every_detail_code_has_both_languages() {
        let detail_codes = [
            "required",
            "unknown_field",
            "invalid_type",
            "invalid_format",
            "invalid_json",
            "too_long",
            "too_short",
            "out_of_range",
            "negative_amount",
            "too_large",
            "invalid_quantity",
            "zero_payment",
            "change_exceeds_cash",
            "line_discount_exceeds_line",
            "discount_exceeds_subtotal",
            "underpaid",
            "overpaid_without_cash",
            "no_items",
            "no_payments",
            "invalid_tax_settings",
            "subtotal_mismatch",
            "tax_mismatch",
            "total_mismatch",
            "invalid_cursor",
            "invalid_reference",
            "insert_only",
            "unknown_entity",
        ];
        for code in detail_codes {
            assert!(message(code, Lang::En).is_some(), "{code} lacks English");
            assert!(message(code, Lang::Id).is_some(), "{code} lacks Indonesian");
        }
    }

    #[test]
    fn catalogue_keys_are_unique() {
        let mut keys: Vec<&str> = message_keys().collect();
        let count = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), count);
    }

    #[test]
    fn accept_language_picks_highest_weight() {
        assert_eq!(Lang::from_accept_language("id"), Some(Lang::Id));
        assert_eq!(Lang::from_accept_language("id-ID,id;q=0.9"), Some(Lang::Id));
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.9"), Some(Lang::En));
        assert_eq!(Lang::from_accept_language("en;q=0.5, id"), Some(Lang::Id));
        assert_eq!(Lang::from_accept_language("fr"), None);
        assert_eq!(Lang::from_accept_language(""), None);
    }

    #[test]
    fn envelope_carries_code_message_and_request_id() {
        let error = ApiError::validation(vec![
            Detail::new("total", "total_mismatch").with_figures(serde_json::json!(38000), serde_json::json!(39000))
        ]);
        let body = error.envelope(Lang::En, "req-1");
        assert_eq!(body["error"]["code"], "validation_failed");
        assert_eq!(body["error"]["request_id"], "req-1");
        assert_eq!(body["error"]["details"][0]["code"], "total_mismatch");
        assert_eq!(body["error"]["details"][0]["expected"], 38000);
        let indonesian = error.envelope(Lang::Id, "req-1");
        assert_ne!(indonesian["error"]["message"], body["error"]["message"]);
    }

    #[test]
    fn internal_cause_is_not_in_envelope() {
        let error = ApiError::internal("D1_ERROR: no such table: products");
        let text = error.envelope(Lang::En, "r").to_string();
        assert!(!text.contains("no such table"));
    }
}
