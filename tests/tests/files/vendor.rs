//! The platform's vendor files: a public logo and admin-only documents.

use kasir_tests::server;

use crate::{api, file_shop, get_bytes, multipart, pdf, png, string_field, Part};

/// Sends `POST /v1/admin/vendor/files` with `kind` and one file, as `token`.
fn vendor_upload(token: &str, kind: &str, file_name: &str, bytes: &[u8]) -> kasir_tests::ApiResponse {
    let (content_type, body) = multipart(&[
        Part::Text {
            name: "kind",
            value: kind,
        },
        Part::File {
            name: "file",
            file_name,
            content_type: "application/octet-stream",
            bytes,
        },
    ]);
    api()
        .post("/v1/admin/vendor/files")
        .bearer(token)
        .raw(&content_type, &body)
}

// Vendor files are global to the server, so every vendor check lives in this one test.
#[test]
fn vendor_logo_is_public_and_documents_are_not() {
    let admin_token = &server().admin_token;
    let shop = file_shop("vendor");
    let first_logo = png(700);
    let second_logo = png(800);
    let document = pdf(400);

    let logo = vendor_upload(admin_token, "logo", "kasir-edge.png", &first_logo);
    logo.expect_status(201);
    assert_eq!(logo.json["kind"], "logo");
    assert_eq!(logo.json["url"], "/v1/vendor/logo");
    let public = get_bytes("/v1/vendor/logo", None, &[]);
    assert_eq!(public.status, 200);
    assert_eq!(public.body, first_logo);
    assert_eq!(public.header("content-type"), Some("image/png"));
    assert_eq!(public.header("cache-control"), Some("public, max-age=300"));
    let etag = public.header("etag").unwrap_or_default().to_string();
    let revalidated = get_bytes("/v1/vendor/logo", None, &[("If-None-Match", &etag)]);
    assert_eq!(revalidated.status, 304);

    // A new logo replaces the old one under the same URL.
    let replacement = vendor_upload(admin_token, "logo", "kasir-edge-2.png", &second_logo);
    replacement.expect_status(201);
    let public = get_bytes("/v1/vendor/logo", None, &[]);
    assert_eq!(public.body, second_logo);
    let old_logo = get_bytes(
        &format!("/v1/admin/vendor/files/{}", logo.str_field("id")),
        Some(admin_token),
        &[],
    );
    assert_eq!(old_logo.status, 404);

    let doc = vendor_upload(admin_token, "doc", "syarat-layanan.pdf", &document);
    doc.expect_status(201);
    let doc_path = format!("/v1/admin/vendor/files/{}", doc.str_field("id"));
    assert_eq!(doc.json["url"], doc_path.as_str());
    assert_eq!(doc.json["name"], "syarat-layanan.pdf");
    let anonymous = get_bytes(&doc_path, None, &[]);
    let as_tenant = get_bytes(&doc_path, Some(&shop.owner.access_token), &[]);
    let as_admin = get_bytes(&doc_path, Some(admin_token), &[]);
    assert_eq!(anonymous.status, 401);
    assert_eq!(as_tenant.status, 401);
    assert_eq!(as_admin.status, 200);
    assert_eq!(as_admin.body, document);
    assert_eq!(as_admin.header("cache-control"), Some("private, max-age=86400"));

    let listed = api().get("/v1/admin/vendor/files").bearer(admin_token).send();
    listed.expect_status(200);
    let ids: Vec<String> = listed.items().iter().map(|item| string_field(item, "id")).collect();
    assert!(ids.contains(&doc.str_field("id")), "{}", listed.text);
    assert!(ids.contains(&replacement.str_field("id")), "{}", listed.text);

    api().delete(&doc_path).bearer(admin_token).send().expect_status(204);
    assert_eq!(get_bytes(&doc_path, Some(admin_token), &[]).status, 404);

    // Tenants cannot upload vendor files, and vendors have no product images.
    vendor_upload(&shop.owner.access_token, "logo", "x.png", &png(10)).expect_error(401, "unauthorized");
    vendor_upload(admin_token, "product", "x.png", &png(10)).expect_error(422, "validation_failed");
    vendor_upload(admin_token, "doc", "x.pdf", &png(10)).expect_error(415, "unsupported_media_type");
}
