//! Storage quotas per plan, and the usage the platform admin reads.

use kasir_tests::server;
use serde_json::json;

use crate::{admin_usage, api, file_shop, int_field, pdf, upload, upload_ok};

/// The `free` plan's quota: 50 MiB.
const FREE_QUOTA_BYTES: i64 = 50 * 1024 * 1024;
/// Size of each document in the test: just under the 10 MiB document limit.
const DOC_BYTES: usize = 10 * 1024 * 1024 - 1024;

#[test]
fn free_quota_rejects_sixth_document() {
    let shop = file_shop("filequota");
    let token = &shop.owner.access_token;
    // Five documents of almost 10 MiB fit in 50 MiB; a sixth does not.
    let mut stored_bytes = 0;
    for index in 0..5 {
        let stored = upload_ok(token, "doc", &format!("arsip-{index}.pdf"), &pdf(DOC_BYTES - 9 + index));
        stored_bytes += int_field(&stored, "size");
    }

    let over = upload(token, "doc", "arsip-5.pdf", &pdf(DOC_BYTES));

    over.expect_error(413, "quota_exceeded");
    let detail = &over.error_details()[0];
    assert_eq!(detail["code"], "storage_quota");
    assert_eq!(detail["expected"], FREE_QUOTA_BYTES);
    assert_eq!(detail["received"], stored_bytes + DOC_BYTES as i64 + 9);
    let detail_message = detail["message"].as_str().unwrap_or_default();
    assert!(detail_message.contains(&FREE_QUOTA_BYTES.to_string()), "{}", over.text);
    let usage = admin_usage(&shop.tenant);
    assert_eq!(int_field(&usage, "files"), 5);
    assert_eq!(int_field(&usage, "bytes"), stored_bytes);
    assert_eq!(int_field(&usage, "quota_bytes"), FREE_QUOTA_BYTES);

    api()
        .patch(&format!("/v1/admin/tenants/{}", shop.tenant.code))
        .bearer(&server().admin_token)
        .json(&json!({"plan": "pro"}))
        .expect_status(200);
    let after_upgrade = upload(token, "doc", "arsip-5.pdf", &pdf(DOC_BYTES));

    after_upgrade.expect_status(201);
    assert_eq!(int_field(&admin_usage(&shop.tenant), "quota_bytes"), 1024 * 1024 * 1024);
}

#[test]
fn quota_message_in_indonesian() {
    let shop = file_shop("filequotaid");
    let token = &shop.owner.access_token;
    for index in 0..5 {
        upload_ok(token, "doc", &format!("arsip-{index}.pdf"), &pdf(DOC_BYTES));
    }

    let over = api().post("/v1/files").bearer(token).language("id");
    let (content_type, body) = crate::multipart(&[
        crate::Part::Text {
            name: "kind",
            value: "doc",
        },
        crate::Part::File {
            name: "file",
            file_name: "lagi.pdf",
            content_type: "application/pdf",
            bytes: &pdf(DOC_BYTES),
        },
    ]);
    let response = over.raw(&content_type, &body);

    response.expect_error(413, "quota_exceeded");
    assert_eq!(response.error_message(), Some("Kuota penyimpanan toko sudah habis."));
    let detail_message = response.error_details()[0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(detail_message.contains("kuota"), "{detail_message}");
}
