//! Opening a shift: the stored record, one open shift per user, and body validation.

use std::thread;

use kasir_tests::new_id;
use serde_json::{json, Value};

use crate::{api, int_field, shift_shop, string_field};

#[test]
fn open_returns_stored_shift() {
    let shop = shift_shop("shiftopen");

    let shift = shop.open(&shop.kasir, 200_000);

    assert!(uuid::Uuid::parse_str(&string_field(&shift, "id")).is_ok(), "{shift}");
    assert_eq!(shift["outlet_id"], json!(shop.outlet_id()));
    assert_eq!(shift["user_id"], json!(shop.kasir.user_id));
    assert_eq!(shift["device_id"], json!(shop.kasir.device()));
    assert_eq!(int_field(&shift, "opening_float"), 200_000);
    assert_eq!(shift["status"], "open");
    assert!(
        shift["opened_at"].as_str().is_some_and(|at| at.ends_with('Z')),
        "{shift}"
    );
    for field in [
        "closed_at",
        "counted_cash",
        "expected_cash",
        "difference",
        "totals_by_method",
    ] {
        assert!(shift[field].is_null(), "{field} is set on a new shift: {shift}");
    }
    assert!(shift.get("tenant_id").is_none(), "{shift}");
}

#[test]
fn open_without_device_stores_null() {
    let shop = shift_shop("shiftnodev");

    let shift = shop.open(&shop.owner, 0);

    assert!(shift["device_id"].is_null(), "{shift}");
    assert_eq!(int_field(&shift, "opening_float"), 0);
}

#[test]
fn second_open_conflicts() {
    let shop = shift_shop("shifttwice");
    let first = shop.open(&shop.kasir, 100_000);

    let second = shop.try_open(&shop.kasir, 50_000);

    second.expect_error(409, "conflict");
    let listed = api()
        .get("/v1/shifts")
        .bearer(&shop.kasir.access_token)
        .query("status", "open")
        .send();
    listed.expect_status(200);
    let open_ids: Vec<Value> = listed.items().iter().map(|shift| shift["id"].clone()).collect();
    assert_eq!(open_ids, [first["id"].clone()]);
}

#[test]
fn each_user_opens_own_shift() {
    let shop = shift_shop("shiftmany");
    let other_kasir = shop.new_user("kasir", "Tablet Dua");

    shop.open(&shop.kasir, 100_000);
    shop.open(&other_kasir, 100_000);
    shop.open(&shop.owner, 100_000);
}

#[test]
fn open_after_close_succeeds() {
    let shop = shift_shop("shiftreopen");
    let first = shop.open(&shop.kasir, 100_000);
    shop.close(&shop.kasir, &string_field(&first, "id"), 100_000)
        .expect_status(200);

    let second = shop.open(&shop.kasir, 150_000);

    assert_ne!(second["id"], first["id"]);
    assert_eq!(int_field(&second, "opening_float"), 150_000);
}

#[test]
fn concurrent_opens_make_one_shift() {
    let shop = shift_shop("shiftrace");
    let body = json!({"outlet_id": shop.outlet_id(), "opening_float": 100_000});

    let statuses: Vec<u16> = thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    api()
                        .post("/v1/shifts")
                        .bearer(&shop.kasir.access_token)
                        .json(&body)
                        .status
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("thread ran"))
            .collect()
    });

    assert_eq!(
        statuses.iter().filter(|status| **status == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|status| **status == 409).count(),
        3,
        "{statuses:?}"
    );
}

#[test]
fn open_with_client_id_replays() {
    let shop = shift_shop("shiftreplay");
    let id = new_id();
    let body = json!({"id": id, "outlet_id": shop.outlet_id(), "opening_float": 75_000});

    let first = api().post("/v1/shifts").bearer(&shop.kasir.access_token).json(&body);
    let replay = api().post("/v1/shifts").bearer(&shop.kasir.access_token).json(&body);

    first.expect_status(201);
    assert_eq!(first.json["id"], json!(id));
    replay.expect_status(200);
    assert_eq!(replay.json, first.json);
}

#[test]
fn open_with_taken_id_conflicts() {
    let shop = shift_shop("shiftidtaken");
    let first = shop.open(&shop.kasir, 75_000);
    let other_kasir = shop.new_user("kasir", "Tablet Dua");

    let other_float = api()
        .post("/v1/shifts")
        .bearer(&shop.kasir.access_token)
        .json(&json!({"id": first["id"], "outlet_id": shop.outlet_id(), "opening_float": 80_000}));
    let other_user = api()
        .post("/v1/shifts")
        .bearer(&other_kasir.access_token)
        .json(&json!({"id": first["id"], "outlet_id": shop.outlet_id(), "opening_float": 75_000}));

    other_float.expect_error(409, "conflict");
    other_user.expect_error(409, "conflict");
}

#[test]
fn open_rejects_invalid_bodies() {
    let shop = shift_shop("shiftinvalid");
    let outlet = shop.outlet_id();
    // (body, field, detail code)
    let cases = [
        (
            json!({"outlet_id": outlet, "opening_float": 1000, "note": "x"}),
            "note",
            "unknown_field",
        ),
        (json!({"outlet_id": outlet}), "opening_float", "required"),
        (
            json!({"outlet_id": outlet, "opening_float": -1}),
            "opening_float",
            "negative_amount",
        ),
        (
            json!({"outlet_id": outlet, "opening_float": 10.5}),
            "opening_float",
            "invalid_type",
        ),
        (
            json!({"outlet_id": outlet, "opening_float": "1000"}),
            "opening_float",
            "invalid_type",
        ),
        (
            json!({"outlet_id": outlet, "opening_float": 9_007_199_254_740_992_u64}),
            "opening_float",
            "too_large",
        ),
        (json!({"opening_float": 1000}), "outlet_id", "required"),
        (
            json!({"outlet_id": "PUSAT", "opening_float": 1000}),
            "outlet_id",
            "invalid_format",
        ),
        (
            json!({"outlet_id": new_id(), "opening_float": 1000}),
            "outlet_id",
            "invalid_reference",
        ),
        (
            json!({"id": "bukan-uuid", "outlet_id": outlet, "opening_float": 1000}),
            "id",
            "invalid_format",
        ),
    ];

    for (body, field, code) in cases {
        let response = api().post("/v1/shifts").bearer(&shop.kasir.access_token).json(&body);

        response.expect_error(422, "validation_failed");
        let details = response.error_details();
        assert!(
            details
                .iter()
                .any(|detail| detail["field"] == field && detail["code"] == code),
            "body {body}: expected {field}/{code} in {details:?}"
        );
    }
    let listed = api().get("/v1/shifts").bearer(&shop.kasir.access_token).send();
    assert!(
        listed.items().is_empty(),
        "an invalid body opened a shift: {}",
        listed.text
    );
}

#[test]
fn open_accepts_largest_safe_float() {
    let shop = shift_shop("shiftmaxfloat");

    let shift = shop.open(&shop.kasir, 9_007_199_254_740_991);

    assert_eq!(int_field(&shift, "opening_float"), 9_007_199_254_740_991);
}

#[test]
fn open_at_deleted_outlet_is_rejected() {
    let shop = shift_shop("shiftdeadoutlet");
    let outlet = api()
        .post("/v1/outlets")
        .bearer(&shop.owner.access_token)
        .json(&json!({"code": "CABANG", "name": "Cabang Dua"}));
    outlet.expect_status(201);
    let outlet_id = outlet.str_field("id");
    api()
        .delete(&format!("/v1/outlets/{outlet_id}"))
        .bearer(&shop.owner.access_token)
        .send()
        .expect_status(204);

    let response = api()
        .post("/v1/shifts")
        .bearer(&shop.kasir.access_token)
        .json(&json!({"outlet_id": outlet_id, "opening_float": 1000}));

    response.expect_error(422, "validation_failed");
    assert_eq!(response.detail_codes(), ["invalid_reference"]);
}

#[test]
fn open_at_second_outlet() {
    let shop = shift_shop("shiftoutlet");
    let outlet = api()
        .post("/v1/outlets")
        .bearer(&shop.owner.access_token)
        .json(&json!({"code": "CABANG", "name": "Cabang Dua"}));
    outlet.expect_status(201);

    let response = api()
        .post("/v1/shifts")
        .bearer(&shop.kasir.access_token)
        .json(&json!({"outlet_id": outlet.json["id"], "opening_float": 1000}));

    response.expect_status(201);
    assert_eq!(response.json["outlet_id"], outlet.json["id"]);
}

#[test]
fn open_body_must_be_json() {
    let shop = shift_shop("shiftnotjson");

    let response = api()
        .post("/v1/shifts")
        .bearer(&shop.kasir.access_token)
        .raw("text/plain", b"outlet_id=1");

    response.expect_error(415, "unsupported_media_type");
}
