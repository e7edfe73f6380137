//! Product images through `PUT /v1/products/{id}/image`, and the tenant logo.

use kasir_tests::{create_product, create_user_session, new_id};
use serde_json::{json, Value};

use crate::{api, file_shop, get_bytes, int_field, jpeg, multipart, pdf, png, string_field, upload_ok, Part};

/// Sends `PUT /v1/products/{id}/image` with one file.
fn put_image(token: &str, product_id: &str, file_name: &str, bytes: &[u8]) -> kasir_tests::ApiResponse {
    let (content_type, body) = multipart(&[Part::File {
        name: "file",
        file_name,
        content_type: "application/octet-stream",
        bytes,
    }]);
    api()
        .put(&format!("/v1/products/{product_id}/image"))
        .bearer(token)
        .raw(&content_type, &body)
}

/// Pulls every change after `cursor` and returns the pulled product with `id`, if any.
fn pulled_product(token: &str, cursor: Option<&str>, id: &str) -> (Option<Value>, String) {
    let mut request = api().get("/v1/sync/pull").bearer(token).query("entities", "products");
    if let Some(cursor) = cursor {
        request = request.query("cursor", cursor);
    }
    let response = request.send();
    response.expect_status(200);
    let product = response.json["changes"]["products"]["upserted"]
        .as_array()
        .and_then(|items| items.iter().find(|item| item["id"] == id).cloned());
    (product, response.str_field("cursor"))
}

#[test]
fn image_sets_product_and_syncs() {
    let shop = file_shop("imgset");
    let token = &shop.owner.access_token;
    let product = create_product(&api(), &shop.owner, "Kopi Susu", 18_000);
    let product_id = string_field(&product, "id");
    let (_, cursor) = pulled_product(token, None, &product_id);
    let bytes = jpeg(2_000);

    let response = put_image(token, &product_id, "kopi-susu.jpg", &bytes);

    response.expect_status(200);
    let image_file_id = response.str_field("image_file_id");
    assert!(int_field(&response.json, "version") > int_field(&product, "version"));
    assert_eq!(response.json["name"], "Kopi Susu");
    let download = get_bytes(&format!("/v1/files/{image_file_id}"), Some(token), &[]);
    assert_eq!(download.body, bytes);
    assert_eq!(download.header("content-type"), Some("image/jpeg"));
    let (pulled, _) = pulled_product(token, Some(&cursor), &product_id);
    let pulled = pulled.unwrap_or_else(|| panic!("the image change did not reach the pull"));
    assert_eq!(pulled["image_file_id"], image_file_id.as_str());
    assert_eq!(pulled["version"], response.json["version"]);
    let listed = api().get("/v1/files").bearer(token).query("kind", "product").send();
    assert_eq!(listed.items().len(), 1);
}

#[test]
fn replacing_image_deletes_old_file() {
    let shop = file_shop("imgswap");
    let token = &shop.owner.access_token;
    let product = create_product(&api(), &shop.owner, "Roti Sobek", 12_000);
    let product_id = string_field(&product, "id");
    let first = put_image(token, &product_id, "roti-1.png", &png(1_000));
    first.expect_status(200);
    let old_file_id = first.str_field("image_file_id");
    let (_, cursor) = pulled_product(token, None, &product_id);
    let new_bytes = png(2_000);

    let second = put_image(token, &product_id, "roti-2.png", &new_bytes);

    second.expect_status(200);
    let new_file_id = second.str_field("image_file_id");
    assert_ne!(new_file_id, old_file_id);
    assert!(int_field(&second.json, "version") > int_field(&first.json, "version"));
    let old_read = get_bytes(&format!("/v1/files/{old_file_id}"), Some(token), &[]);
    assert_eq!(old_read.status, 404, "the replaced image is still stored");
    let new_read = get_bytes(&format!("/v1/files/{new_file_id}"), Some(token), &[]);
    assert_eq!(new_read.body, new_bytes);
    let listed = api().get("/v1/files").bearer(token).send();
    let ids: Vec<String> = listed.items().iter().map(|item| string_field(item, "id")).collect();
    assert_eq!(ids, std::slice::from_ref(&new_file_id));
    let (pulled, _) = pulled_product(token, Some(&cursor), &product_id);
    let pulled = pulled.unwrap_or_else(|| panic!("the replacement did not reach the pull"));
    assert_eq!(pulled["image_file_id"], new_file_id.as_str());
    assert_eq!(pulled["version"], second.json["version"]);
}

#[test]
fn image_shared_by_another_product_is_kept() {
    let shop = file_shop("imgshare");
    let token = &shop.owner.access_token;
    let first = create_product(&api(), &shop.owner, "Teh Manis", 5_000);
    let second = create_product(&api(), &shop.owner, "Teh Tawar", 4_000);
    let first_id = string_field(&first, "id");
    let second_id = string_field(&second, "id");
    let shared = put_image(token, &first_id, "teh.png", &png(100));
    let shared_file_id = shared.str_field("image_file_id");
    api()
        .patch(&format!("/v1/products/{second_id}"))
        .bearer(token)
        .json(&json!({"image_file_id": shared_file_id}))
        .expect_status(200);

    put_image(token, &first_id, "teh-baru.png", &png(200)).expect_status(200);

    let read = get_bytes(&format!("/v1/files/{shared_file_id}"), Some(token), &[]);
    assert_eq!(read.status, 200, "an image another product shows was deleted");
}

#[test]
fn image_of_missing_product_is_404() {
    let shop = file_shop("imgmissing");

    let response = put_image(&shop.owner.access_token, &new_id(), "x.png", &png(10));

    response.expect_error(404, "not_found");
    let listed = api().get("/v1/files").bearer(&shop.owner.access_token).send();
    assert!(listed.items().is_empty(), "{}", listed.text);
}

#[test]
fn non_image_is_415_and_product_unchanged() {
    let shop = file_shop("imgtype");
    let token = &shop.owner.access_token;
    let product = create_product(&api(), &shop.owner, "Kue Lapis", 7_000);
    let product_id = string_field(&product, "id");

    let response = put_image(token, &product_id, "kue.png", &pdf(100));

    response.expect_error(415, "unsupported_media_type");
    let stored = api().get(&format!("/v1/products/{product_id}")).bearer(token).send();
    assert_eq!(stored.json["image_file_id"], Value::Null);
    assert_eq!(stored.json["version"], product["version"]);
}

#[test]
fn kasir_cannot_set_image() {
    let shop = file_shop("imgkasir");
    let (_, kasir) = create_user_session(&api(), &shop.tenant, &shop.owner, "kasir", "Tablet Kasir");
    let product = create_product(&api(), &shop.owner, "Es Jeruk", 6_000);

    let response = put_image(&kasir.access_token, &string_field(&product, "id"), "es.png", &png(10));

    response.expect_error(403, "forbidden");
}

#[test]
fn deleting_image_file_clears_product() {
    let shop = file_shop("imgdelete");
    let token = &shop.owner.access_token;
    let product = create_product(&api(), &shop.owner, "Martabak", 25_000);
    let product_id = string_field(&product, "id");
    let with_image = put_image(token, &product_id, "martabak.png", &png(100));
    with_image.expect_status(200);
    let file_id = with_image.str_field("image_file_id");

    api()
        .delete(&format!("/v1/files/{file_id}"))
        .bearer(token)
        .send()
        .expect_status(204);

    let stored = api().get(&format!("/v1/products/{product_id}")).bearer(token).send();
    assert_eq!(stored.json["image_file_id"], Value::Null);
    assert!(int_field(&stored.json, "version") > int_field(&with_image.json, "version"));
}

#[test]
fn tenant_logo_url_points_at_file() {
    let shop = file_shop("logo");
    let token = &shop.owner.access_token;
    let bytes = png(500);
    let logo = upload_ok(token, "logo", "logo-toko.png", &bytes);
    let logo_id = string_field(&logo, "id");

    let before = api().get("/v1/tenant").bearer(token).send();
    let patched = api()
        .patch("/v1/tenant")
        .bearer(token)
        .json(&json!({"logo_file_id": logo_id}));
    let after = api().get("/v1/tenant").bearer(token).send();

    assert_eq!(before.json["logo_url"], Value::Null, "{}", before.text);
    patched.expect_status(200);
    let logo_url = after.str_field("logo_url");
    assert_eq!(logo_url, format!("/v1/files/{logo_id}"));
    let download = get_bytes(&logo_url, Some(token), &[]);
    assert_eq!(download.body, bytes);

    api().delete(&logo_url).bearer(token).send().expect_status(204);
    let cleared = api().get("/v1/tenant").bearer(token).send();
    assert_eq!(cleared.json["logo_file_id"], Value::Null, "{}", cleared.text);
    assert_eq!(cleared.json["logo_url"], Value::Null);
}
