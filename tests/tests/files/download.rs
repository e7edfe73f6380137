//! Downloads: byte ranges, conditional requests, other tenants' files and deletion.

use crate::{admin_usage, api, file_shop, get_bytes, int_field, png, string_field, upload_ok};

#[test]
fn range_returns_partial_content() {
    let shop = file_shop("filerange");
    let bytes = png(1_000);
    let size = bytes.len();
    let stored = upload_ok(&shop.owner.access_token, "product", "kopi.png", &bytes);
    let path = format!("/v1/files/{}", string_field(&stored, "id"));
    let token = Some(shop.owner.access_token.as_str());

    let head = get_bytes(&path, token, &[("Range", "bytes=0-9")]);
    let tail = get_bytes(&path, token, &[("Range", "bytes=-5")]);
    let from = get_bytes(&path, token, &[("Range", "bytes=1000-")]);
    let past_end = get_bytes(&path, token, &[("Range", "bytes=1010-99999")]);

    assert_eq!(head.status, 206);
    assert_eq!(head.body, bytes[..10]);
    assert_eq!(head.header("content-range"), Some(format!("bytes 0-9/{size}").as_str()));
    assert_eq!(head.header("content-type"), Some("image/png"));
    assert_eq!(tail.status, 206);
    assert_eq!(tail.body, bytes[size - 5..]);
    assert_eq!(
        tail.header("content-range"),
        Some(format!("bytes {}-{}/{size}", size - 5, size - 1).as_str())
    );
    assert_eq!(from.status, 206);
    assert_eq!(from.body, bytes[1000..]);
    assert_eq!(past_end.status, 206);
    assert_eq!(past_end.body, bytes[1010..]);
}

#[test]
fn unsatisfiable_range_is_416() {
    let shop = file_shop("file416");
    let bytes = png(100);
    let stored = upload_ok(&shop.owner.access_token, "product", "kopi.png", &bytes);
    let path = format!("/v1/files/{}", string_field(&stored, "id"));

    let response = get_bytes(
        &path,
        Some(&shop.owner.access_token),
        &[("Range", &format!("bytes={}-", bytes.len()))],
    );

    assert_eq!(response.status, 416);
    assert_eq!(
        response.header("content-range"),
        Some(format!("bytes */{}", bytes.len()).as_str())
    );
    assert!(response.body.is_empty());
}

#[test]
fn malformed_or_multiple_ranges_get_whole_file() {
    let shop = file_shop("filemulti");
    let bytes = png(100);
    let stored = upload_ok(&shop.owner.access_token, "product", "kopi.png", &bytes);
    let path = format!("/v1/files/{}", string_field(&stored, "id"));
    let token = Some(shop.owner.access_token.as_str());

    let several = get_bytes(&path, token, &[("Range", "bytes=0-1,5-6")]);
    let other_unit = get_bytes(&path, token, &[("Range", "items=0-1")]);

    assert_eq!(several.status, 200);
    assert_eq!(several.body, bytes);
    assert_eq!(other_unit.status, 200);
    assert_eq!(other_unit.body, bytes);
}

#[test]
fn if_range_with_old_etag_gets_whole_file() {
    let shop = file_shop("fileifrange");
    let bytes = png(100);
    let stored = upload_ok(&shop.owner.access_token, "product", "kopi.png", &bytes);
    let path = format!("/v1/files/{}", string_field(&stored, "id"));
    let etag = format!("\"{}\"", string_field(&stored, "checksum"));
    let token = Some(shop.owner.access_token.as_str());

    let current = get_bytes(&path, token, &[("Range", "bytes=0-3"), ("If-Range", &etag)]);
    let stale = get_bytes(&path, token, &[("Range", "bytes=0-3"), ("If-Range", "\"lama\"")]);

    assert_eq!(current.status, 206);
    assert_eq!(current.body, bytes[..4]);
    assert_eq!(stale.status, 200);
    assert_eq!(stale.body, bytes);
}

#[test]
fn matching_if_none_match_is_304() {
    let shop = file_shop("file304");
    let bytes = png(100);
    let stored = upload_ok(&shop.owner.access_token, "logo", "logo.png", &bytes);
    let path = format!("/v1/files/{}", string_field(&stored, "id"));
    let token = Some(shop.owner.access_token.as_str());
    let first = get_bytes(&path, token, &[]);
    let etag = first.header("etag").unwrap_or_default().to_string();

    let revalidated = get_bytes(&path, token, &[("If-None-Match", &etag)]);
    let weak = get_bytes(&path, token, &[("If-None-Match", &format!("W/{etag}"))]);
    let listed = get_bytes(&path, token, &[("If-None-Match", &format!("\"lain\", {etag}"))]);
    let changed = get_bytes(&path, token, &[("If-None-Match", "\"lain\"")]);

    assert_eq!(first.status, 200);
    assert!(!etag.is_empty());
    assert_eq!(revalidated.status, 304);
    assert!(revalidated.body.is_empty());
    assert_eq!(revalidated.header("etag"), Some(etag.as_str()));
    assert_eq!(weak.status, 304);
    assert_eq!(listed.status, 304);
    assert_eq!(changed.status, 200);
    assert_eq!(changed.body, bytes);
}

#[test]
fn other_tenants_file_is_404() {
    let owner_shop = file_shop("fileowner");
    let other_shop = file_shop("fileother");
    let stored = upload_ok(&owner_shop.owner.access_token, "doc", "nota.csv", crate::CSV);
    let id = string_field(&stored, "id");

    let read = get_bytes(&format!("/v1/files/{id}"), Some(&other_shop.owner.access_token), &[]);
    let delete = api()
        .delete(&format!("/v1/files/{id}"))
        .bearer(&other_shop.owner.access_token)
        .send();
    let listed = api().get("/v1/files").bearer(&other_shop.owner.access_token).send();

    assert_eq!(read.status, 404);
    delete.expect_error(404, "not_found");
    assert!(listed.items().is_empty(), "{}", listed.text);
    let still_there = get_bytes(&format!("/v1/files/{id}"), Some(&owner_shop.owner.access_token), &[]);
    assert_eq!(still_there.status, 200);
}

#[test]
fn unknown_or_malformed_id_is_404() {
    let shop = file_shop("file404");
    let token = Some(shop.owner.access_token.as_str());

    let unknown = get_bytes("/v1/files/0190f3a2-7b1c-7d2e-8f30-1a2b3c4d5e6f", token, &[]);
    let malformed = get_bytes("/v1/files/..%2F..%2Fx", token, &[]);

    assert_eq!(unknown.status, 404);
    assert_eq!(malformed.status, 404);
}

#[test]
fn delete_removes_bytes_row_and_usage() {
    let shop = file_shop("filedel");
    let bytes = png(4_000);
    let kept = upload_ok(&shop.owner.access_token, "product", "teh.png", &png(1_000));
    let stored = upload_ok(&shop.owner.access_token, "product", "kopi.png", &bytes);
    let id = string_field(&stored, "id");
    let before = admin_usage(&shop.tenant);

    let deleted = api()
        .delete(&format!("/v1/files/{id}"))
        .bearer(&shop.owner.access_token)
        .send();
    let again = api()
        .delete(&format!("/v1/files/{id}"))
        .bearer(&shop.owner.access_token)
        .send();

    deleted.expect_status(204);
    again.expect_error(404, "not_found");
    let read = get_bytes(&format!("/v1/files/{id}"), Some(&shop.owner.access_token), &[]);
    assert_eq!(read.status, 404);
    let listed = api().get("/v1/files").bearer(&shop.owner.access_token).send();
    assert_eq!(listed.items(), std::slice::from_ref(&kept));
    let after = admin_usage(&shop.tenant);
    assert_eq!(int_field(&before, "files"), 2);
    assert_eq!(int_field(&after, "files"), 1);
    assert_eq!(
        int_field(&before, "bytes") - int_field(&after, "bytes"),
        bytes.len() as i64
    );
    assert_eq!(int_field(&after, "bytes"), int_field(&kept, "size"));
}
