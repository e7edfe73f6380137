//! Uploads: what is stored, which bytes and kinds are accepted, size limits and who may upload.

use kasir_tests::{create_user_session, server};
use serde_json::json;

use crate::{
    api, file_shop, get_bytes, int_field, jpeg, multipart, pdf, png, string_field, upload, upload_ok, Part, CSV,
};

/// 2 MiB, the image limit.
const MAX_IMAGE_BYTES: usize = 2 * 1024 * 1024;
/// 10 MiB, the document limit.
const MAX_DOC_BYTES: usize = 10 * 1024 * 1024;

#[test]
fn upload_stores_record_and_bytes() {
    let shop = file_shop("fileup");
    let bytes = png(5_000);

    let stored = upload_ok(&shop.owner.access_token, "product", "kopi.png", &bytes);

    let id = string_field(&stored, "id");
    assert_eq!(stored["kind"], "product");
    assert_eq!(stored["content_type"], "image/png");
    assert_eq!(int_field(&stored, "size"), bytes.len() as i64);
    assert_eq!(stored["name"], "kopi.png");
    assert_eq!(stored["uploaded_by"], shop.owner.user_id.as_str());
    assert_eq!(stored["url"], format!("/v1/files/{id}"));
    let checksum = string_field(&stored, "checksum");
    assert_eq!(checksum.len(), 64, "{stored}");
    assert!(checksum.bytes().all(|b| b.is_ascii_hexdigit()), "{stored}");

    let download = get_bytes(&format!("/v1/files/{id}"), Some(&shop.owner.access_token), &[]);
    assert_eq!(download.status, 200);
    assert_eq!(download.body, bytes);
    assert_eq!(download.header("content-type"), Some("image/png"));
    assert_eq!(download.header("etag"), Some(format!("\"{checksum}\"").as_str()));
    assert_eq!(download.header("cache-control"), Some("private, max-age=86400"));
    assert_eq!(download.header("accept-ranges"), Some("bytes"));
    assert_eq!(download.header("content-disposition"), Some("inline"));

    let listed = api().get("/v1/files").bearer(&shop.owner.access_token).send();
    listed.expect_status(200);
    let items = listed.items();
    assert_eq!(items.len(), 1, "{}", listed.text);
    assert_eq!(items[0], stored);
}

#[test]
fn same_bytes_give_same_checksum() {
    let shop = file_shop("filesum");
    let first = upload_ok(&shop.owner.access_token, "logo", "a.png", &png(100));
    let again = upload_ok(&shop.owner.access_token, "logo", "b.png", &png(100));
    let other = upload_ok(&shop.owner.access_token, "logo", "c.png", &png(101));

    assert_ne!(first["id"], again["id"]);
    assert_eq!(first["checksum"], again["checksum"]);
    assert_ne!(first["checksum"], other["checksum"]);
}

#[test]
fn csv_and_pdf_documents_download_as_attachments() {
    let shop = file_shop("filedoc");
    let csv = upload_ok(&shop.owner.access_token, "doc", "Daftar Harga.csv", CSV);
    let pdf_bytes = pdf(300);
    let pdf_file = upload_ok(&shop.owner.access_token, "doc", "nota.pdf", &pdf_bytes);

    assert_eq!(csv["content_type"], "text/csv; charset=utf-8");
    assert_eq!(pdf_file["content_type"], "application/pdf");
    let csv_download = get_bytes(
        &format!("/v1/files/{}", csv["id"].as_str().unwrap_or_default()),
        Some(&shop.owner.access_token),
        &[],
    );
    assert_eq!(csv_download.status, 200);
    assert_eq!(csv_download.body, CSV);
    assert_eq!(csv_download.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(
        csv_download.header("content-disposition"),
        Some("attachment; filename=\"Daftar Harga.csv\"; filename*=UTF-8''Daftar%20Harga.csv")
    );
    let pdf_download = get_bytes(
        &format!("/v1/files/{}", pdf_file["id"].as_str().unwrap_or_default()),
        Some(&shop.owner.access_token),
        &[],
    );
    assert_eq!(pdf_download.body, pdf_bytes);
    assert_eq!(pdf_download.header("content-type"), Some("application/pdf"));
}

#[test]
fn hostile_file_name_is_only_metadata() {
    let shop = file_shop("filename");
    let long_name = format!("{}.png", "n".repeat(1_000));

    let traversal = upload_ok(
        &shop.owner.access_token,
        "product",
        "../../tenants/lain/x.png",
        &png(10),
    );
    let nested = upload_ok(&shop.owner.access_token, "product", "a/b.png", &png(11));
    let long = upload_ok(&shop.owner.access_token, "product", &long_name, &png(12));
    // A PNG named like a JPEG keeps its own type.
    let renamed = upload_ok(&shop.owner.access_token, "product", "foto.jpg", &png(13));

    assert_eq!(traversal["name"], "x.png");
    assert_eq!(nested["name"], "b.png");
    assert_eq!(long["name"].as_str().map(|name| name.chars().count()), Some(255));
    assert_eq!(renamed["content_type"], "image/png");
    assert_eq!(renamed["name"], "foto.jpg");
    let download = get_bytes(
        &format!("/v1/files/{}", traversal["id"].as_str().unwrap_or_default()),
        Some(&shop.owner.access_token),
        &[],
    );
    assert_eq!(download.status, 200);
    assert_eq!(download.body, png(10));
}

#[test]
fn file_name_with_nul_is_rejected() {
    let shop = file_shop("filenul");
    let (content_type, mut body) = multipart(&[
        Part::Text {
            name: "kind",
            value: "doc",
        },
        Part::File {
            name: "file",
            file_name: "nota.pdf",
            content_type: "application/pdf",
            bytes: &pdf(50),
        },
    ]);
    // Put a NUL inside the file name as a raw byte: `nota.pdf` becomes `no\0ta.pdf`.
    let at = body
        .windows(8)
        .position(|window| window == b"nota.pdf")
        .unwrap_or_else(|| panic!("file name not found in the body"));
    body.insert(at + 2, 0);

    let response = api()
        .post("/v1/files")
        .bearer(&shop.owner.access_token)
        .raw(&content_type, &body);

    // The runtime's form parser refuses a part header with a NUL, so nothing is stored.
    response.expect_error(415, "unsupported_media_type");
    let listed = api().get("/v1/files").bearer(&shop.owner.access_token).send();
    assert!(listed.items().is_empty(), "{}", listed.text);
}

#[test]
fn wrong_type_for_kind_is_415() {
    let shop = file_shop("filetype");
    let token = &shop.owner.access_token;

    let pdf_as_logo = upload(token, "logo", "logo.png", &pdf(100));
    let jpeg_as_doc = upload(token, "doc", "scan.pdf", &jpeg(100));
    let csv_without_csv_name = upload(token, "doc", "harga.txt", CSV);
    let csv_as_product = upload(token, "product", "harga.csv", CSV);
    let svg = upload(
        token,
        "logo",
        "logo.svg",
        b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    );
    let truncated_png = upload(token, "product", "kecil.png", b"\x89PNG\r\n");

    for response in [
        &pdf_as_logo,
        &jpeg_as_doc,
        &csv_without_csv_name,
        &csv_as_product,
        &svg,
        &truncated_png,
    ] {
        response.expect_error(415, "unsupported_media_type");
    }
    assert_eq!(pdf_as_logo.detail_codes(), ["unsupported_file_type"]);
    assert_eq!(pdf_as_logo.error_details()[0]["received"], "application/pdf");
    assert_eq!(svg.error_details()[0]["received"], "unknown");
    let listed = api().get("/v1/files").bearer(token).send();
    assert!(
        listed.items().is_empty(),
        "a rejected upload was stored: {}",
        listed.text
    );
}

#[test]
fn body_that_is_not_multipart_is_415() {
    let shop = file_shop("filejson");

    let json_body = api()
        .post("/v1/files")
        .bearer(&shop.owner.access_token)
        .json(&json!({"kind": "logo"}));
    let garbage = api()
        .post("/v1/files")
        .bearer(&shop.owner.access_token)
        .raw("multipart/form-data; boundary=x", b"bukan multipart");

    json_body.expect_error(415, "unsupported_media_type");
    garbage.expect_error(415, "unsupported_media_type");
}

#[test]
fn missing_or_bad_fields_are_422() {
    let shop = file_shop("filefield");
    let token = &shop.owner.access_token;
    let bytes = png(10);
    let (no_kind_type, no_kind) = multipart(&[Part::File {
        name: "file",
        file_name: "a.png",
        content_type: "image/png",
        bytes: &bytes,
    }]);
    let (no_file_type, no_file) = multipart(&[Part::Text {
        name: "kind",
        value: "logo",
    }]);
    let (text_file_type, text_file) = multipart(&[
        Part::Text {
            name: "kind",
            value: "logo",
        },
        Part::Text {
            name: "file",
            value: "bukan berkas",
        },
    ]);

    let missing_kind = api().post("/v1/files").bearer(token).raw(&no_kind_type, &no_kind);
    let bad_kind = upload(token, "gambar", "a.png", &bytes);
    let missing_file = api().post("/v1/files").bearer(token).raw(&no_file_type, &no_file);
    let file_as_text = api().post("/v1/files").bearer(token).raw(&text_file_type, &text_file);
    let empty = upload(token, "doc", "kosong.csv", b"");

    missing_kind.expect_error(422, "validation_failed");
    assert_eq!(missing_kind.detail_codes(), ["required"]);
    bad_kind.expect_error(422, "validation_failed");
    assert_eq!(bad_kind.detail_codes(), ["invalid_format"]);
    missing_file.expect_error(422, "validation_failed");
    assert_eq!(missing_file.detail_codes(), ["required"]);
    file_as_text.expect_error(422, "validation_failed");
    assert_eq!(file_as_text.detail_codes(), ["invalid_type"]);
    empty.expect_error(422, "validation_failed");
    assert_eq!(empty.detail_codes(), ["empty_file"]);
}

#[test]
fn image_over_two_mib_is_413() {
    let shop = file_shop("filebig");
    let at_limit = png(MAX_IMAGE_BYTES - 16);
    let over = png(MAX_IMAGE_BYTES - 15);

    let accepted = upload(&shop.owner.access_token, "product", "pas.png", &at_limit);
    let rejected = upload(&shop.owner.access_token, "product", "besar.png", &over);

    accepted.expect_status(201);
    rejected.expect_error(413, "payload_too_large");
    let detail = &rejected.error_details()[0];
    assert_eq!(detail["code"], "file_too_large");
    assert_eq!(detail["expected"], MAX_IMAGE_BYTES as u64);
    assert_eq!(detail["received"], (MAX_IMAGE_BYTES + 1) as u64);
}

#[test]
fn declared_oversize_document_is_413() {
    let shop = file_shop("filehuge");
    // The declared body is past 10 MiB plus the multipart allowance, so it is refused unread.
    let over = pdf(MAX_DOC_BYTES + 100 * 1024);

    let rejected = upload(&shop.owner.access_token, "doc", "besar.pdf", &over);

    rejected.expect_error(413, "payload_too_large");
    assert_eq!(rejected.error_details()[0]["expected"], MAX_DOC_BYTES as u64);
}

#[test]
fn chunked_body_over_limit_is_413() {
    let shop = file_shop("filechunk");
    let (content_type, body) = multipart(&[
        Part::Text {
            name: "kind",
            value: "doc",
        },
        Part::File {
            name: "file",
            file_name: "besar.pdf",
            content_type: "application/pdf",
            bytes: &pdf(MAX_DOC_BYTES + 100 * 1024),
        },
    ]);
    let agent = ureq::AgentBuilder::new().build();

    // A reader without a known length goes out with chunked transfer encoding.
    let result = agent
        .post(&format!("{}/v1/files", api().base_url()))
        .set("Authorization", &format!("Bearer {}", shop.owner.access_token))
        .set("Content-Type", &content_type)
        .send(std::io::Cursor::new(body));

    let status = match result {
        Ok(response) => response.status(),
        Err(ureq::Error::Status(status, _)) => status,
        Err(ureq::Error::Transport(error)) => panic!("upload failed before a response: {error}"),
    };
    assert_eq!(status, 413);
}

#[test]
fn chunked_body_within_limit_is_stored() {
    let shop = file_shop("filechunkok");
    let bytes = png(3_000);
    let (content_type, body) = multipart(&[
        Part::Text {
            name: "kind",
            value: "logo",
        },
        Part::File {
            name: "file",
            file_name: "logo.png",
            content_type: "image/png",
            bytes: &bytes,
        },
    ]);
    let agent = ureq::AgentBuilder::new().build();

    let response = agent
        .post(&format!("{}/v1/files", api().base_url()))
        .set("Authorization", &format!("Bearer {}", shop.owner.access_token))
        .set("Content-Type", &content_type)
        .send(std::io::Cursor::new(body));

    let status = match response {
        Ok(response) => response.status(),
        Err(ureq::Error::Status(status, _)) => status,
        Err(ureq::Error::Transport(error)) => panic!("upload failed before a response: {error}"),
    };
    assert_eq!(status, 201);
    let listed = api().get("/v1/files").bearer(&shop.owner.access_token).send();
    assert_eq!(listed.items().len(), 1, "{}", listed.text);
}

#[test]
fn kasir_reads_but_cannot_upload_or_delete() {
    let shop = file_shop("filerole");
    let (_, kasir) = create_user_session(&api(), &shop.tenant, &shop.owner, "kasir", "Tablet Kasir");
    let stored = upload_ok(&shop.owner.access_token, "product", "kopi.png", &png(50));
    let id = string_field(&stored, "id");

    let upload_attempt = upload(&kasir.access_token, "product", "teh.png", &png(60));
    let delete_attempt = api()
        .delete(&format!("/v1/files/{id}"))
        .bearer(&kasir.access_token)
        .send();
    let listed = api().get("/v1/files").bearer(&kasir.access_token).send();
    let download = get_bytes(&format!("/v1/files/{id}"), Some(&kasir.access_token), &[]);

    upload_attempt.expect_error(403, "forbidden");
    delete_attempt.expect_error(403, "forbidden");
    listed.expect_status(200);
    assert_eq!(listed.items().len(), 1);
    assert_eq!(download.status, 200);
}

#[test]
fn disabled_files_module_is_403() {
    let shop = file_shop("filemod");
    let modules = [
        "catalog",
        "customers",
        "sales",
        "shifts",
        "inventory",
        "reports",
        "sync",
    ];
    api()
        .patch(&format!("/v1/admin/tenants/{}", shop.tenant.code))
        .bearer(&server().admin_token)
        .json(&json!({"modules": modules}))
        .expect_status(200);

    let response = upload(&shop.owner.access_token, "logo", "logo.png", &png(10));
    let listed = api().get("/v1/files").bearer(&shop.owner.access_token).send();

    response.expect_error(403, "module_disabled");
    listed.expect_error(403, "module_disabled");
}

#[test]
fn unauthenticated_upload_is_401() {
    let (content_type, body) = multipart(&[Part::Text {
        name: "kind",
        value: "logo",
    }]);

    let response = api().post("/v1/files").raw(&content_type, &body);

    response.expect_error(401, "unauthorized");
}

#[test]
fn list_filters_by_kind_and_pages() {
    let shop = file_shop("filelist");
    let token = &shop.owner.access_token;
    for index in 0..3 {
        upload_ok(token, "product", &format!("p{index}.png"), &png(20 + index));
    }
    let doc = upload_ok(token, "doc", "harga.csv", CSV);

    let docs = api().get("/v1/files").bearer(token).query("kind", "doc").send();
    let first_page = api().get("/v1/files").bearer(token).query("limit", "3").send();
    let cursor = first_page
        .next_cursor()
        .unwrap_or_else(|| panic!("no cursor: {}", first_page.text));
    let second_page = api()
        .get("/v1/files")
        .bearer(token)
        .query("limit", "3")
        .query("cursor", &cursor)
        .send();
    let bad_kind = api().get("/v1/files").bearer(token).query("kind", "video").send();

    assert_eq!(docs.items(), std::slice::from_ref(&doc));
    assert_eq!(first_page.items().len(), 3);
    assert_eq!(second_page.items().len(), 1);
    assert!(second_page.next_cursor().is_none());
    let mut ids: Vec<String> = first_page
        .items()
        .iter()
        .chain(second_page.items().iter())
        .map(|item| string_field(item, "id"))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "pages overlap");
    bad_kind.expect_error(422, "validation_failed");
}
