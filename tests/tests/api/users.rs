//! Users and roles.

use kasir_tests::{create_user, create_user_session, login, new_id, try_login};
use serde_json::json;

use crate::{api, ids_of, list_all, new_shop};

#[test]
fn owner_creates_admin_and_kasir() {
    let shop = new_shop("users");
    let api = api();
    let email = format!("admin-{}@kasir.test", &new_id()[..8]);

    let created = api
        .post("/v1/users")
        .bearer(&shop.owner.access_token)
        .json(&json!({"email": email, "name": "Admin Toko", "password": "Sandi-admin-1", "role": "admin"}));

    created.expect_status(201);
    assert!(created.json["id"].is_string(), "{}", created.text);
    assert_eq!(created.json["email"], json!(email));
    assert_eq!(created.json["name"], "Admin Toko");
    assert_eq!(created.json["role"], "admin");
    assert!(
        created.json.get("password").is_none(),
        "password echoed: {}",
        created.text
    );
    assert!(
        created.json.get("password_hash").is_none(),
        "hash echoed: {}",
        created.text
    );

    let kasir = create_user(&api, &shop.owner, "kasir", "Kasir Pagi");
    let users = list_all(&api, "/v1/users", &shop.owner.access_token, 50);
    let user_ids = ids_of(&users);
    assert!(
        user_ids.contains(&created.str_field("id")),
        "admin not listed: {users:?}"
    );
    assert!(user_ids.contains(&kasir.id), "kasir not listed: {users:?}");
    assert!(user_ids.contains(&shop.tenant.owner_id), "owner not listed: {users:?}");

    let session = login(&api, &shop.tenant.code, &kasir.email, &kasir.password, None);
    assert_eq!(session.role, "kasir");
}

#[test]
fn user_get_patch_delete() {
    let shop = new_shop("usercrud");
    let api = api();
    let token = shop.owner.access_token.as_str();
    let kasir = create_user(&api, &shop.owner, "kasir", "Kasir Siang");
    let path = format!("/v1/users/{}", kasir.id);

    let fetched = api.get(&path).bearer(token).send();
    fetched.expect_status(200);
    assert_eq!(fetched.json["email"], json!(kasir.email));
    assert_eq!(fetched.json["role"], "kasir");

    let renamed = api.patch(&path).bearer(token).json(&json!({"name": "Kasir Malam"}));
    renamed.expect_status(200);
    assert_eq!(renamed.json["name"], "Kasir Malam");
    let refetched = api.get(&path).bearer(token).send();
    assert_eq!(refetched.json["name"], "Kasir Malam");

    api.delete(&path).bearer(token).send().expect_status(204);
    api.get(&path).bearer(token).send().expect_error(404, "not_found");
    let login = try_login(&api, &shop.tenant.code, &kasir.email, &kasir.password, None);
    login.expect_error(401, "unauthorized");
}

#[test]
fn kasir_cannot_create_users() {
    let shop = new_shop("kasirusr");
    let api = api();
    let (_, kasir) = create_user_session(&api, &shop.tenant, &shop.owner, "kasir", "Tablet 1");

    let response = api.post("/v1/users").bearer(&kasir.access_token).json(&json!({
        "email": format!("kasir-{}@kasir.test", &new_id()[..8]),
        "name": "Kasir Baru",
        "password": "Sandi-kasir-1",
        "role": "kasir",
    }));

    response.expect_error(403, "forbidden");
}

#[test]
fn admin_creates_kasir_but_not_owner() {
    let shop = new_shop("adminusr");
    let api = api();
    let (_, admin) = create_user_session(&api, &shop.tenant, &shop.owner, "admin", "Laptop Admin");

    let owner_attempt = api.post("/v1/users").bearer(&admin.access_token).json(&json!({
        "email": format!("owner-{}@kasir.test", &new_id()[..8]),
        "name": "Pemilik Kedua",
        "password": "Sandi-owner-1",
        "role": "owner",
    }));
    owner_attempt.expect_error(403, "forbidden");

    create_user(&api, &admin, "kasir", "Kasir dari Admin");
}

#[test]
fn user_with_unknown_role_is_rejected() {
    let shop = new_shop("badrole");

    let response = api().post("/v1/users").bearer(&shop.owner.access_token).json(&json!({
        "email": format!("manajer-{}@kasir.test", &new_id()[..8]),
        "name": "Manajer",
        "password": "Sandi-manajer-1",
        "role": "manajer",
    }));

    response.expect_error(422, "validation_failed");
}
