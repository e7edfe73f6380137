//! Email templates in Indonesian and English, with plain-text and HTML parts, and rupiah
//! formatting. Rendering is pure; sending is the Worker's.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Lang;

/// A rendered message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub template: String,
    pub locale: String,
    pub text: String,
    pub html: String,
}

/// Every template, for completeness checks.
pub const TEMPLATES: [&str; 5] = [
    "owner_welcome",
    "user_invited",
    "daily_summary",
    "low_stock",
    "backup_failed",
];

/// Formats whole rupiah the Indonesian way: `Rp 1.250.000`, `-Rp 5.000`.
pub fn format_rupiah(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(digit);
    }
    if amount < 0 {
        format!("-Rp {grouped}")
    } else {
        format!("Rp {grouped}")
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

fn text_of(data: &Value, key: &str) -> String {
    match &data[key] {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn money_of(data: &Value, key: &str) -> String {
    format_rupiah(data[key].as_i64().unwrap_or(0))
}

/// Lines of a message body: each is a paragraph in HTML and a line in text.
struct Body {
    subject: String,
    lines: Vec<String>,
}

fn body(template: &str, lang: Lang, data: &Value) -> Option<Body> {
    let shop = text_of(data, "tenant_name");
    let (subject, lines) = match (template, lang) {
        ("owner_welcome", Lang::Id) => (
            format!("Selamat datang di Kasir Edge, {shop}"),
            vec![
                format!("Halo {},", text_of(data, "name")),
                format!(
                    "Toko {shop} sudah siap. Kode toko Anda: {}.",
                    text_of(data, "tenant_code")
                ),
                "Masuk dengan email ini dan kata sandi yang Anda pilih, lalu tambahkan kasir dan produk.".to_string(),
            ],
        ),
        ("owner_welcome", Lang::En) => (
            format!("Welcome to Kasir Edge, {shop}"),
            vec![
                format!("Hello {},", text_of(data, "name")),
                format!(
                    "Your shop {shop} is ready. Your shop code is {}.",
                    text_of(data, "tenant_code")
                ),
                "Log in with this email and the password you chose, then add your cashiers and products.".to_string(),
            ],
        ),
        ("user_invited", Lang::Id) => (
            format!("Anda diundang ke {shop}"),
            vec![
                format!("Halo {},", text_of(data, "name")),
                format!(
                    "Anda ditambahkan sebagai {} di toko {shop} (kode toko {}).",
                    text_of(data, "role"),
                    text_of(data, "tenant_code")
                ),
                "Minta kata sandi awal kepada pemilik toko, lalu masuk dari aplikasi kasir.".to_string(),
            ],
        ),
        ("user_invited", Lang::En) => (
            format!("You are invited to {shop}"),
            vec![
                format!("Hello {},", text_of(data, "name")),
                format!(
                    "You were added as {} of {shop} (shop code {}).",
                    text_of(data, "role"),
                    text_of(data, "tenant_code")
                ),
                "Ask the shop owner for your first password, then log in from the POS app.".to_string(),
            ],
        ),
        ("daily_summary", Lang::Id) => (
            format!("Ringkasan penjualan {shop} {}", text_of(data, "date")),
            vec![
                format!("Penjualan tanggal {}:", text_of(data, "date")),
                format!("Jumlah transaksi: {}", text_of(data, "count")),
                format!("Penjualan kotor: {}", money_of(data, "gross")),
                format!("Diskon: {}", money_of(data, "discounts")),
                format!("Pajak: {}", money_of(data, "tax")),
                format!("Retur: {}", money_of(data, "refunds")),
                format!("Penjualan bersih: {}", money_of(data, "net")),
            ],
        ),
        ("daily_summary", Lang::En) => (
            format!("{shop} sales summary {}", text_of(data, "date")),
            vec![
                format!("Sales of {}:", text_of(data, "date")),
                format!("Sales: {}", text_of(data, "count")),
                format!("Gross: {}", money_of(data, "gross")),
                format!("Discounts: {}", money_of(data, "discounts")),
                format!("Tax: {}", money_of(data, "tax")),
                format!("Refunds: {}", money_of(data, "refunds")),
                format!("Net: {}", money_of(data, "net")),
            ],
        ),
        ("low_stock", Lang::Id) => (
            format!("Stok menipis di {shop}"),
            std::iter::once("Produk berikut sudah di bawah batas stok:".to_string())
                .chain(stock_lines(data))
                .collect(),
        ),
        ("low_stock", Lang::En) => (
            format!("Low stock at {shop}"),
            std::iter::once("These products are at or below their stock threshold:".to_string())
                .chain(stock_lines(data))
                .collect(),
        ),
        ("backup_failed", Lang::Id) => (
            format!("Cadangan data {shop} gagal"),
            vec![
                format!("Pencadangan data toko {shop} gagal: {}.", text_of(data, "error")),
                "Sistem akan mencoba lagi. Jika terus gagal, hubungi administrator platform.".to_string(),
            ],
        ),
        ("backup_failed", Lang::En) => (
            format!("Backup of {shop} failed"),
            vec![
                format!("The backup of {shop} failed: {}.", text_of(data, "error")),
                "It will be retried. If it keeps failing, contact the platform administrator.".to_string(),
            ],
        ),
        _ => return None,
    };
    Some(Body { subject, lines })
}

fn stock_lines(data: &Value) -> Vec<String> {
    data["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| format!("- {}: {}", text_of(item, "name"), text_of(item, "qty")))
                .collect()
        })
        .unwrap_or_default()
}

/// Renders a template for `to` in the tenant's language; `None` for an unknown template.
pub fn render(template: &str, lang: Lang, to: &str, data: &Value) -> Option<Email> {
    let body = body(template, lang, data)?;
    let text = body.lines.join("\n") + "\n\n-- Kasir Edge\n";
    let mut html = String::from("<!doctype html><html><body style=\"font-family:sans-serif\">");
    for line in &body.lines {
        html.push_str("<p>");
        html.push_str(&escape_html(line));
        html.push_str("</p>");
    }
    html.push_str("<p style=\"color:#666\">Kasir Edge</p></body></html>");
    Some(Email {
        to: to.to_string(),
        subject: body.subject,
        template: template.to_string(),
        locale: match lang {
            Lang::Id => "id".to_string(),
            Lang::En => "en".to_string(),
        },
        text,
        html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rupiah_uses_dots_between_thousands() {
        assert_eq!(format_rupiah(1_250_000), "Rp 1.250.000");
        assert_eq!(format_rupiah(500), "Rp 500");
        assert_eq!(format_rupiah(0), "Rp 0");
        assert_eq!(format_rupiah(-5_000), "-Rp 5.000");
        assert_eq!(format_rupiah(1_000), "Rp 1.000");
    }

    #[test]
    fn every_template_renders_in_both_languages() {
        let data = json!({"tenant_name": "Toko", "tenant_code": "toko", "name": "Ani", "role": "kasir", "date": "2026-12-04", "error": "x", "items": []});
        for template in TEMPLATES {
            for lang in [Lang::Id, Lang::En] {
                let email = render(template, lang, "a@b.id", &data);
                assert!(email.is_some(), "{template} {lang:?}");
            }
            let id = render(template, Lang::Id, "a@b.id", &data).unwrap();
            let en = render(template, Lang::En, "a@b.id", &data).unwrap();
            assert_ne!(id.subject, en.subject, "{template} is not translated");
        }
    }

    #[test]
    fn daily_summary_shows_rupiah() {
        let data = json!({"tenant_name": "Roti Senja", "date": "2026-12-04", "count": 139, "gross": 7_852_000, "discounts": 0, "tax": 0, "refunds": 0, "net": 7_852_000});
        let email = render("daily_summary", Lang::Id, "o@r.id", &data).unwrap();
        assert!(email.text.contains("Rp 7.852.000"));
        assert!(email.html.contains("Rp 7.852.000"));
        assert_eq!(email.subject, "Ringkasan penjualan Roti Senja 2026-12-04");
    }

    #[test]
    fn names_are_escaped_in_html() {
        let data = json!({"tenant_name": "<script>alert(1)</script>", "tenant_code": "x", "name": "A&B"});
        let email = render("owner_welcome", Lang::En, "a@b.id", &data).unwrap();
        assert!(!email.html.contains("<script>"));
        assert!(email.html.contains("A&amp;B"));
        assert!(email.text.contains("<script>"), "plain text keeps the name as typed");
    }

    #[test]
    fn unknown_template_renders_nothing() {
        assert_eq!(render("nope", Lang::En, "a@b.id", &json!({})), None);
    }
}
