//! The stock ledger: movements the server derives from sales, purchases, transfers, counts,
//! levels as sums of movements, low and negative flags, and who may write stock.

use std::thread;

use kasir_tests::new_id;
use serde_json::{json, Value};

use crate::{api, cash, detail_with_code, line, pos_shop, post_sale, string_field};

/// Sums the signed quantities of movements, in thousandths.
fn sum_milli(movements: &[Value]) -> i64 {
    movements
        .iter()
        .map(|movement| match movement["qty"].as_f64() {
            Some(qty) => (qty * 1000.0).round() as i64,
            None => panic!("movement without a numeric qty: {movement}"),
        })
        .sum()
}

#[test]
fn sale_moves_tracked_stock_only() {
    let shop = pos_shop("stksale");
    let noodles = shop.tracked_product("Mi Instan", 3_500, None);
    let bag = shop.product("Kantong Plastik", 500);
    shop.purchase(&noodles, shop.outlet_id(), json!(10));
    let body = shop.sale_body(
        &shop.kasir,
        json!([line(&noodles, json!(2), 3_500), line(&bag, json!(1), 500)]),
        cash(7_500),
    );

    let sale = shop.sell(&shop.kasir, &body);

    let sale_id = string_field(&sale, "id");
    let movements = shop.movements(&[("ref_id", &sale_id)]);
    assert_eq!(movements.len(), 1, "{movements:?}");
    assert_eq!(movements[0]["kind"], json!("sale"));
    assert_eq!(movements[0]["product_id"], json!(noodles));
    assert_eq!(movements[0]["outlet_id"], json!(shop.outlet_id()));
    assert_eq!(movements[0]["qty"], json!(-2));
    assert_eq!(shop.level(&noodles, shop.outlet_id()), Some(json!(8)));
    assert!(
        shop.movements(&[("product_id", &bag)]).is_empty(),
        "an untracked product got movements"
    );
    assert_eq!(
        shop.level(&bag, shop.outlet_id()),
        None,
        "an untracked product has a level"
    );
}

#[test]
fn purchase_adds_stock() {
    let shop = pos_shop("stkbuy");
    let rice = shop.tracked_product("Beras 5 kg", 70_000, None);
    let purchase_id = new_id();
    let body = json!({
        "id": purchase_id,
        "product_id": rice,
        "outlet_id": shop.outlet_id(),
        "qty": 24,
        "kind": "purchase",
        "note": "Faktur pemasok 0001",
    });

    let created = api()
        .post("/v1/stock/movements")
        .bearer(&shop.owner.access_token)
        .json(&body);
    let replay = api()
        .post("/v1/stock/movements")
        .bearer(&shop.owner.access_token)
        .json(&body);

    created.expect_status(201);
    let items = created.items();
    assert_eq!(items.len(), 1, "{}", created.text);
    assert_eq!(items[0]["id"], json!(purchase_id));
    assert_eq!(items[0]["kind"], json!("purchase"));
    assert_eq!(items[0]["qty"], json!(24));
    assert_eq!(items[0]["product_id"], json!(rice));
    replay.expect_status(200);
    assert_eq!(replay.json, created.json, "the replay returned another body");
    assert_eq!(shop.level(&rice, shop.outlet_id()), Some(json!(24)));
    assert_eq!(shop.movements(&[("product_id", &rice)]).len(), 1);
}

#[test]
fn transfer_writes_two_legs() {
    let shop = pos_shop("stkmove");
    let oil = shop.tracked_product("Minyak Goreng 1 L", 18_000, None);
    let warehouse = shop.outlet("GUDANG", "Gudang Belakang");
    shop.purchase(&oil, shop.outlet_id(), json!(10));
    let transfer_id = new_id();

    let response = api()
        .post("/v1/stock/movements")
        .bearer(&shop.owner.access_token)
        .json(&json!({
            "id": transfer_id,
            "product_id": oil,
            "outlet_id": shop.outlet_id(),
            "to_outlet_id": warehouse,
            "qty": 4,
            "kind": "transfer",
        }));

    let replay = api()
        .post("/v1/stock/movements")
        .bearer(&shop.owner.access_token)
        .json(&json!({
            "id": transfer_id,
            "product_id": oil,
            "outlet_id": shop.outlet_id(),
            "to_outlet_id": warehouse,
            "qty": 4,
            "kind": "transfer",
        }));

    response.expect_status(201);
    replay.expect_status(200);
    assert_eq!(replay.json, response.json, "the replay returned other legs");
    let legs = response.items();
    assert_eq!(legs.len(), 2, "{}", response.text);
    let leg = |kind: &str| match legs.iter().find(|leg| leg["kind"] == json!(kind)) {
        Some(leg) => leg.clone(),
        None => panic!("no {kind} leg in {}", response.text),
    };
    let out = leg("transfer_out");
    let into = leg("transfer_in");
    assert_eq!(out["outlet_id"], json!(shop.outlet_id()));
    assert_eq!(out["qty"], json!(-4));
    assert_eq!(into["outlet_id"], json!(warehouse));
    assert_eq!(into["qty"], json!(4));
    assert_eq!(out["ref_id"], json!(transfer_id), "{out}");
    assert_eq!(into["ref_id"], json!(transfer_id), "{into}");

    assert_eq!(shop.level(&oil, shop.outlet_id()), Some(json!(6)));
    assert_eq!(shop.level(&oil, &warehouse), Some(json!(4)));
    for outlet in [shop.outlet_id(), warehouse.as_str()] {
        let movements = shop.movements(&[("product_id", &oil), ("outlet_id", outlet)]);
        let level = shop
            .level(&oil, outlet)
            .and_then(|qty| qty.as_i64())
            .unwrap_or(i64::MIN);
        assert_eq!(sum_milli(&movements), level * 1000, "outlet {outlet}: {movements:?}");
    }
    let all_outlets = api()
        .get("/v1/stock")
        .bearer(&shop.owner.access_token)
        .query("product_id", &oil)
        .send();
    all_outlets.expect_status(200);
    assert_eq!(all_outlets.items().len(), 2, "{}", all_outlets.text);
}

#[test]
fn transfer_needs_another_outlet() {
    let shop = pos_shop("stkmovex");
    let oil = shop.tracked_product("Minyak Goreng 1 L", 18_000, None);
    let token = shop.owner.access_token.as_str();
    let base = json!({"product_id": oil, "outlet_id": shop.outlet_id(), "qty": 1, "kind": "transfer"});

    let mut same_outlet = base.clone();
    same_outlet["to_outlet_id"] = json!(shop.outlet_id());
    let mut unknown_outlet = base.clone();
    unknown_outlet["to_outlet_id"] = json!(new_id());

    for body in [base, same_outlet, unknown_outlet] {
        api()
            .post("/v1/stock/movements")
            .bearer(token)
            .json(&body)
            .expect_error(422, "validation_failed");
    }
    assert!(shop.movements(&[("product_id", &oil)]).is_empty());
}

#[test]
fn count_sets_level_to_counted() {
    let shop = pos_shop("stkcount");
    let eggs = shop.tracked_product("Telur (butir)", 2_000, None);
    let flour = shop.tracked_product("Tepung Terigu", 12_000, None);
    shop.purchase(&eggs, shop.outlet_id(), json!(10));
    let body = shop.sale_body(&shop.kasir, json!([line(&eggs, json!(3), 2_000)]), cash(6_000));
    shop.sell(&shop.kasir, &body);
    assert_eq!(shop.level(&eggs, shop.outlet_id()), Some(json!(7)));
    let count = |items: Value| {
        api()
            .post("/v1/stock/adjustments")
            .bearer(&shop.owner.access_token)
            .json(&json!({"outlet_id": shop.outlet_id(), "reason": "Stok opname", "items": items}))
    };

    // 7 on the books, 5 counted: −2. Flour was never stocked, 4 counted: +4.
    let first = count(json!([
        {"product_id": eggs, "counted_qty": 5},
        {"product_id": flour, "counted_qty": 4},
    ]));

    first.expect_status(201);
    let adjustments = first.items();
    assert_eq!(adjustments.len(), 2, "{}", first.text);
    for (product, qty) in [(&eggs, json!(-2)), (&flour, json!(4))] {
        let movement = adjustments.iter().find(|item| item["product_id"] == json!(product));
        match movement {
            Some(movement) => {
                assert_eq!(movement["kind"], json!("adjustment"), "{movement}");
                assert_eq!(movement["qty"], qty, "{movement}");
            }
            None => panic!("no adjustment for {product} in {}", first.text),
        }
    }
    assert_eq!(shop.level(&eggs, shop.outlet_id()), Some(json!(5)));
    assert_eq!(shop.level(&flour, shop.outlet_id()), Some(json!(4)));

    let to_zero = count(json!([{"product_id": eggs, "counted_qty": 0}]));
    to_zero.expect_status(201);
    assert_eq!(to_zero.items()[0]["qty"], json!(-5), "{}", to_zero.text);
    assert_eq!(shop.level(&eggs, shop.outlet_id()), Some(json!(0)));

    let unchanged = count(json!([{"product_id": flour, "counted_qty": 4}]));
    unchanged.expect_status(201);
    assert!(
        unchanged.items().is_empty(),
        "a matching count wrote movements: {}",
        unchanged.text
    );
    assert_eq!(shop.level(&flour, shop.outlet_id()), Some(json!(4)));
}

#[test]
fn count_lifts_negative_level() {
    let shop = pos_shop("stkcntneg");
    let eggs = shop.tracked_product("Telur (butir)", 2_000, None);
    let body = shop.sale_body(&shop.kasir, json!([line(&eggs, json!(2.5), 2_000)]), cash(5_000));
    shop.sell(&shop.kasir, &body);
    assert_eq!(shop.level(&eggs, shop.outlet_id()), Some(json!(-2.5)));

    let response = api()
        .post("/v1/stock/adjustments")
        .bearer(&shop.owner.access_token)
        .json(&json!({
            "outlet_id": shop.outlet_id(),
            "reason": "Stok opname",
            "items": [{"product_id": eggs, "counted_qty": 1.25}],
        }));

    response.expect_status(201);
    assert_eq!(response.items()[0]["qty"], json!(3.75), "{}", response.text);
    assert_eq!(shop.level(&eggs, shop.outlet_id()), Some(json!(1.25)));
}

#[test]
fn low_stock_lists_low_and_negative() {
    let shop = pos_shop("stklow");
    let at_threshold = shop.tracked_product("Air Mineral", 4_000, Some(5));
    let above_threshold = shop.tracked_product("Biskuit", 9_000, Some(5));
    let under_threshold = shop.tracked_product("Cokelat", 12_000, Some(5));
    let negative = shop.tracked_product("Dodol", 20_000, None);
    shop.purchase(&at_threshold, shop.outlet_id(), json!(5));
    shop.purchase(&above_threshold, shop.outlet_id(), json!(6));
    shop.purchase(&under_threshold, shop.outlet_id(), json!(3));
    let body = shop.sale_body(&shop.kasir, json!([line(&negative, json!(1), 20_000)]), cash(20_000));
    shop.sell(&shop.kasir, &body);

    let response = api()
        .get("/v1/stock")
        .bearer(&shop.owner.access_token)
        .query("low", "true")
        .send();

    response.expect_status(200);
    let items = response.items();
    let flagged: Vec<String> = items.iter().map(|item| string_field(item, "product_id")).collect();
    for product in [&at_threshold, &under_threshold, &negative] {
        assert!(flagged.contains(product), "{product} missing from {}", response.text);
    }
    assert!(
        !flagged.contains(&above_threshold),
        "a product above its threshold is listed: {}",
        response.text
    );
    assert_eq!(items.len(), 3, "{}", response.text);
    for item in &items {
        let product = string_field(item, "product_id");
        let expect_negative = product == negative;
        assert_eq!(item["negative"], json!(expect_negative), "{item}");
        assert_eq!(item["low"], json!(!expect_negative), "{item}");
    }
    let above = shop.level_item(&above_threshold, shop.outlet_id());
    assert_eq!(above.map(|item| item["low"].clone()), Some(json!(false)));
}

#[test]
fn never_stocked_product_is_low() {
    let shop = pos_shop("stklownew");
    let fresh = shop.tracked_product("Susu Segar", 8_000, Some(2));

    let response = api()
        .get("/v1/stock")
        .bearer(&shop.owner.access_token)
        .query("outlet_id", shop.outlet_id())
        .query("low", "true")
        .send();

    // Its level is the sum of no movements, 0, which is under its threshold of 2.
    response.expect_status(200);
    let items = response.items();
    let listed = items.iter().find(|item| item["product_id"] == json!(fresh));
    match listed {
        Some(item) => {
            assert_eq!(item["qty"], json!(0), "{item}");
            assert_eq!(item["low"], json!(true), "{item}");
            assert_eq!(item["negative"], json!(false), "{item}");
        }
        None => panic!(
            "a tracked product with no stock is missing from the low list: {}",
            response.text
        ),
    }
}

#[test]
fn two_terminals_sell_last_unit() {
    let shop = pos_shop("stklast");
    let cake = shop.tracked_product("Kue Lapis", 25_000, None);
    shop.purchase(&cake, shop.outlet_id(), json!(1));
    let second_kasir = shop.new_user("kasir", "Tablet Dua");
    assert_ne!(shop.kasir.device(), second_kasir.device());
    let bodies = [&shop.kasir, &second_kasir].map(|session| {
        (
            session.clone(),
            shop.sale_body(session, json!([line(&cake, json!(1), 25_000)]), cash(25_000)),
        )
    });

    let responses: Vec<_> = thread::scope(|scope| {
        let handles: Vec<_> = bodies
            .iter()
            .map(|(session, body)| scope.spawn(move || post_sale(session, body)))
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("sale thread panicked"))
            .collect()
    });

    for response in &responses {
        response.expect_status(201);
    }
    let Some(item) = shop.level_item(&cake, shop.outlet_id()) else {
        panic!("GET /v1/stock lists no level for the product");
    };
    assert_eq!(item["qty"], json!(-1), "{item}");
    assert_eq!(item["negative"], json!(true), "{item}");
    let flagged = api()
        .get("/v1/stock")
        .bearer(&shop.owner.access_token)
        .query("low", "true")
        .send();
    flagged.expect_status(200);
    assert_eq!(flagged.items().len(), 1, "{}", flagged.text);
    assert_eq!(shop.movements(&[("product_id", &cake), ("kind", "sale")]).len(), 2);
}

#[test]
fn replayed_sale_moves_stock_once() {
    let shop = pos_shop("stkreplay");
    let cake = shop.tracked_product("Kue Lapis", 25_000, None);
    shop.purchase(&cake, shop.outlet_id(), json!(5));
    let body = shop.sale_body(&shop.kasir, json!([line(&cake, json!(2), 25_000)]), cash(50_000));

    let first = post_sale(&shop.kasir, &body);
    let replay = post_sale(&shop.kasir, &body);

    first.expect_status(201);
    replay.expect_status(200);
    let movements = shop.movements(&[("ref_id", &string_field(&body, "id"))]);
    assert_eq!(movements.len(), 1, "{movements:?}");
    assert_eq!(shop.level(&cake, shop.outlet_id()), Some(json!(3)));
}

#[test]
fn untracked_product_cannot_be_stocked() {
    let shop = pos_shop("stkuntr");
    let service = shop.product("Jasa Antar", 10_000);
    let token = shop.owner.access_token.as_str();

    let purchase = api().post("/v1/stock/movements").bearer(token).json(&json!({
        "product_id": service,
        "outlet_id": shop.outlet_id(),
        "qty": 3,
        "kind": "purchase",
    }));
    let count = api().post("/v1/stock/adjustments").bearer(token).json(&json!({
        "outlet_id": shop.outlet_id(),
        "reason": "Stok opname",
        "items": [{"product_id": service, "counted_qty": 3}],
    }));

    purchase.expect_error(422, "validation_failed");
    assert_eq!(
        detail_with_code(&purchase, "untracked_product")["field"],
        json!("product_id")
    );
    count.expect_error(422, "validation_failed");
    detail_with_code(&count, "untracked_product");
    assert!(shop.movements(&[("product_id", &service)]).is_empty());
}

#[test]
fn invalid_stock_movement_is_rejected() {
    let shop = pos_shop("stkbad");
    let rice = shop.tracked_product("Beras 5 kg", 70_000, None);
    let valid = json!({"product_id": rice, "outlet_id": shop.outlet_id(), "qty": 3, "kind": "purchase"});
    let cases = [
        ("qty", json!(-3)),
        ("qty", json!(0)),
        ("qty", json!(1.0005)),
        ("kind", json!("sale")),
        ("kind", json!("adjustment")),
        ("product_id", json!(new_id())),
        ("outlet_id", json!(new_id())),
        ("harga", json!(70_000)),
    ];

    for (field, value) in cases {
        let mut body = valid.clone();
        body[field] = value.clone();
        let response = api()
            .post("/v1/stock/movements")
            .bearer(&shop.owner.access_token)
            .json(&body);

        assert_eq!(response.status, 422, "{field} = {value}: {}", response.text);
        assert_eq!(
            response.error_code(),
            Some("validation_failed"),
            "{field} = {value}: {}",
            response.text
        );
    }
    assert!(shop.movements(&[("product_id", &rice)]).is_empty());
}

#[test]
fn kasir_reads_stock_but_cannot_write() {
    let shop = pos_shop("stkkasir");
    let rice = shop.tracked_product("Beras 5 kg", 70_000, None);
    shop.purchase(&rice, shop.outlet_id(), json!(2));
    let token = shop.kasir.access_token.as_str();

    let levels = api().get("/v1/stock").bearer(token).send();
    let movements = api().get("/v1/stock/movements").bearer(token).send();
    let purchase = api().post("/v1/stock/movements").bearer(token).json(&json!({
        "product_id": rice,
        "outlet_id": shop.outlet_id(),
        "qty": 3,
        "kind": "purchase",
    }));
    let count = api().post("/v1/stock/adjustments").bearer(token).json(&json!({
        "outlet_id": shop.outlet_id(),
        "reason": "Stok opname",
        "items": [{"product_id": rice, "counted_qty": 0}],
    }));

    levels.expect_status(200);
    assert_eq!(levels.items().len(), 1, "{}", levels.text);
    assert_eq!(levels.items()[0]["qty"], json!(2));
    movements.expect_status(200);
    assert_eq!(movements.items().len(), 1, "{}", movements.text);
    purchase.expect_error(403, "forbidden");
    count.expect_error(403, "forbidden");
    assert_eq!(shop.level(&rice, shop.outlet_id()), Some(json!(2)));
}
