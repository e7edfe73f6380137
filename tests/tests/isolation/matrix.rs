//! The isolation matrix: the attacker tenant's owner sends every route that names a record,
//! with the victim's ids and with random ids, and the two responses must be identical. Then the
//! attacker's device pushes sync changes naming the victim's ids, and creates its own records
//! under them over REST. The victim's data, its sync feed and the attacker's reads are checked
//! afterwards.
//!
//! Placeholders such as `{product}` in the tables below are the victim's ids in one request and
//! fresh random ids in the other. Placeholders starting `a_` are the attacker's own values, the
//! same in both. `{new}` and `{receipt}` are fresh on every request.

use std::collections::BTreeMap;

use kasir_tests::{new_id, Api, ApiResponse, Session};
use serde_json::{json, Value};

use crate::records::{
    build_attacker, build_victim, push, sale_body, snapshot, snapshot_differences, upsert_mutation, Attacker,
    Placement, Victim,
};
use crate::{
    api, multipart, now_rfc3339, png_bytes, pull_to_end, pulled_changes, today_in_jakarta, FormPart, ResponseSummary,
};

/// Body of a probe request.
#[derive(Clone, Copy)]
enum Payload {
    Empty,
    /// JSON text with placeholders.
    Json(&'static str),
    /// Multipart `file` holding a PNG, as `PUT /v1/products/{id}/image` takes it.
    Png,
}

/// One request of the matrix.
struct Probe {
    method: &'static str,
    path: &'static str,
    payload: Payload,
}

const fn probe(method: &'static str, path: &'static str, payload: Payload) -> Probe {
    Probe { method, path, payload }
}

/// Every method and path of the router that names a record in the path. Each body is valid,
/// so a random id must get 404 `not_found`.
const ID_ROUTES: &[Probe] = &[
    probe("GET", "/v1/products/{product}", Payload::Empty),
    probe(
        "PATCH",
        "/v1/products/{product}",
        Payload::Json(r#"{"name": "Diambil alih", "price": 1}"#),
    ),
    probe("PUT", "/v1/products/{product}/image", Payload::Png),
    probe("DELETE", "/v1/products/{product}", Payload::Empty),
    probe("GET", "/v1/categories/{category}", Payload::Empty),
    probe(
        "PATCH",
        "/v1/categories/{category}",
        Payload::Json(r#"{"name": "Diambil alih"}"#),
    ),
    probe("DELETE", "/v1/categories/{category}", Payload::Empty),
    probe("GET", "/v1/customers/{customer}", Payload::Empty),
    probe(
        "PATCH",
        "/v1/customers/{customer}",
        Payload::Json(r#"{"name": "Diambil alih"}"#),
    ),
    probe("DELETE", "/v1/customers/{customer}", Payload::Empty),
    probe("GET", "/v1/customers/{customer}/transactions", Payload::Empty),
    probe("GET", "/v1/outlets/{outlet}", Payload::Empty),
    probe(
        "PATCH",
        "/v1/outlets/{outlet}",
        Payload::Json(r#"{"name": "Diambil alih"}"#),
    ),
    probe("DELETE", "/v1/outlets/{outlet}", Payload::Empty),
    probe("GET", "/v1/users/{user}", Payload::Empty),
    probe(
        "PATCH",
        "/v1/users/{user}",
        Payload::Json(r#"{"name": "Diambil alih", "password": "Sandi-baru-12345", "role": "owner"}"#),
    ),
    probe("DELETE", "/v1/users/{user}", Payload::Empty),
    probe("GET", "/v1/users/{owner}", Payload::Empty),
    probe("DELETE", "/v1/users/{owner}", Payload::Empty),
    probe("GET", "/v1/devices/{device}", Payload::Empty),
    probe("DELETE", "/v1/devices/{device}", Payload::Empty),
    probe("DELETE", "/v1/devices/{till_device}", Payload::Empty),
    probe("GET", "/v1/transactions/{sale}", Payload::Empty),
    probe("GET", "/v1/transactions/{sale}/refunds", Payload::Empty),
    probe(
        "POST",
        "/v1/transactions/{sale}/refunds",
        Payload::Json(r#"{"id": "{new}", "items": [{"product_id": "{product}", "qty": 1}], "reason": "uji"}"#),
    ),
    probe(
        "POST",
        "/v1/transactions/{pending_sale}/void",
        Payload::Json(r#"{"reason": "uji"}"#),
    ),
    probe(
        "POST",
        "/v1/transactions/{pending_sale}/payments/0/confirm",
        Payload::Json(r#"{"reference": "QR-UJI"}"#),
    ),
    probe("GET", "/v1/transactions/{voided_sale}", Payload::Empty),
    probe(
        "POST",
        "/v1/transactions/{voided_sale}/void",
        Payload::Json(r#"{"reason": "uji"}"#),
    ),
    probe("GET", "/v1/shifts/{shift}", Payload::Empty),
    probe(
        "POST",
        "/v1/shifts/{shift}/close",
        Payload::Json(r#"{"counted_cash": 0}"#),
    ),
    probe(
        "POST",
        "/v1/sync/conflicts/{conflict}/resolve",
        Payload::Json(r#"{"resolution": "take_client"}"#),
    ),
    probe(
        "POST",
        "/v1/sync/conflicts/{conflict}/resolve",
        Payload::Json(r#"{"resolution": "custom", "data": {"price": 1}}"#),
    ),
    probe("POST", "/v1/backups/{backup}/restore", Payload::Json("{}")),
    probe("GET", "/v1/jobs/{job}", Payload::Empty),
    probe("GET", "/v1/files/{file}", Payload::Empty),
    probe("DELETE", "/v1/files/{file}", Payload::Empty),
];

/// Reads whose query names a record: the response for the victim's id must have the same body as
/// for a random one.
const QUERY_ROUTES: &[Probe] = &[
    probe("GET", "/v1/transactions?outlet_id={outlet}", Payload::Empty),
    probe("GET", "/v1/transactions?user_id={owner}", Payload::Empty),
    probe("GET", "/v1/stock?outlet_id={outlet}", Payload::Empty),
    probe("GET", "/v1/stock?product_id={product}", Payload::Empty),
    probe("GET", "/v1/stock/movements?product_id={product}", Payload::Empty),
    probe("GET", "/v1/stock/movements?outlet_id={outlet}", Payload::Empty),
    probe("GET", "/v1/stock/movements?ref_id={refund}", Payload::Empty),
    probe("GET", "/v1/stock/movements?ref_id={void}", Payload::Empty),
    probe(
        "GET",
        "/v1/reports/daily?date={today}&outlet_id={outlet}",
        Payload::Empty,
    ),
    probe(
        "GET",
        "/v1/reports/daily?date={today}&outlet_id={outlet}&format=csv",
        Payload::Empty,
    ),
    probe(
        "GET",
        "/v1/reports/summary?from={today}&to={today}&outlet_id={outlet}",
        Payload::Empty,
    ),
];

/// The attacker's own writes with one field naming a victim's record: the victim's id must be
/// rejected exactly as a random id is.
const REFERENCE_ROUTES: &[Probe] = &[
    probe(
        "POST",
        "/v1/products",
        Payload::Json(r#"{"name": "Rujukan", "price": 1000, "category_id": "{category}"}"#),
    ),
    probe(
        "PATCH",
        "/v1/products/{a_product}",
        Payload::Json(r#"{"category_id": "{category}"}"#),
    ),
    probe(
        "POST",
        "/v1/transactions",
        Payload::Json(
            r#"{"id": "{new}", "outlet_id": "{a_outlet}", "device_id": "{a_device}", "receipt_no": "{receipt}",
                "created_at": "{now}", "customer_id": "{customer}",
                "items": [{"product_id": "{a_product}", "qty": 1, "unit_price": 10000, "discount": 0}],
                "discount": 0, "payments": [{"method": "cash", "amount": 10000}]}"#,
        ),
    ),
    probe(
        "POST",
        "/v1/transactions",
        Payload::Json(
            r#"{"id": "{new}", "outlet_id": "{outlet}", "device_id": "{a_device}", "receipt_no": "{receipt}",
                "created_at": "{now}",
                "items": [{"product_id": "{a_product}", "qty": 1, "unit_price": 10000, "discount": 0}],
                "discount": 0, "payments": [{"method": "cash", "amount": 10000}]}"#,
        ),
    ),
    probe(
        "POST",
        "/v1/transactions",
        Payload::Json(
            r#"{"id": "{new}", "outlet_id": "{a_outlet}", "device_id": "{a_device}", "receipt_no": "{receipt}",
                "created_at": "{now}",
                "items": [{"product_id": "{product}", "qty": 1, "unit_price": 10000, "discount": 0}],
                "discount": 0, "payments": [{"method": "cash", "amount": 10000}]}"#,
        ),
    ),
    probe(
        "POST",
        "/v1/transactions/{a_sale}/refunds",
        Payload::Json(r#"{"id": "{new}", "items": [{"product_id": "{product}", "qty": 1}], "reason": "uji"}"#),
    ),
    probe(
        "POST",
        "/v1/devices",
        Payload::Json(r#"{"name": "Tablet rujukan", "outlet_id": "{outlet}"}"#),
    ),
    probe(
        "POST",
        "/v1/shifts",
        Payload::Json(r#"{"outlet_id": "{outlet}", "opening_float": 0}"#),
    ),
    probe(
        "POST",
        "/v1/stock/movements",
        Payload::Json(r#"{"product_id": "{product}", "outlet_id": "{a_outlet}", "qty": 1, "kind": "purchase"}"#),
    ),
    probe(
        "POST",
        "/v1/stock/movements",
        Payload::Json(
            r#"{"product_id": "{a_product}", "outlet_id": "{a_outlet}", "qty": 1, "kind": "transfer",
                "to_outlet_id": "{outlet}"}"#,
        ),
    ),
    probe(
        "POST",
        "/v1/stock/adjustments",
        Payload::Json(
            r#"{"outlet_id": "{a_outlet}", "reason": "opname", "items": [{"product_id": "{product}", "counted_qty": 5}]}"#,
        ),
    ),
    probe(
        "POST",
        "/v1/stock/adjustments",
        Payload::Json(
            r#"{"outlet_id": "{outlet}", "reason": "opname", "items": [{"product_id": "{a_product}", "counted_qty": 5}]}"#,
        ),
    ),
    probe(
        "POST",
        "/v1/auth/login",
        Payload::Json(
            r#"{"tenant": "{a_code}", "email": "{a_email}", "password": "{a_password}",
                "device": {"name": "Tablet rujukan", "outlet_id": "{outlet}"}}"#,
        ),
    ),
];

/// The attacker's own writes naming a victim's record in a field the server stores without
/// checking: a sale's `shift_id` is accepted whatever it names. The victim's id must get the
/// same response as a random one, and the snapshot shows the victim's shift does not count it.
const UNCHECKED_REFERENCE_ROUTES: &[Probe] = &[probe(
    "POST",
    "/v1/transactions",
    Payload::Json(
        r#"{"id": "{new}", "outlet_id": "{a_outlet}", "device_id": "{a_device}", "receipt_no": "{receipt}",
            "created_at": "{now}", "shift_id": "{shift}",
            "items": [{"product_id": "{a_product}", "qty": 1, "unit_price": 10000, "discount": 0}],
            "discount": 0, "payments": [{"method": "cash", "amount": 10000}]}"#,
    ),
)];

/// Replaces every `{name}` placeholder of `template`. Panics on a placeholder without a value,
/// so a typo in a table cannot turn a probe into a request for a literal `{name}` path.
#[track_caller]
fn fill(template: &str, values: &BTreeMap<String, String>) -> String {
    let mut filled = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        filled.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let name_length = after
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..name_length];
        if name_length > 0 && after[name_length..].starts_with('}') {
            let value = match name {
                "new" => new_id(),
                "receipt" => format!("PUSAT-ISO-260101-{}", &new_id()[..8]),
                "now" => now_rfc3339(),
                "today" => today_in_jakarta(),
                _ => values
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| panic!("placeholder {{{name}}} in {template} has no value")),
            };
            filled.push_str(&value);
            rest = &after[name_length + 1..];
        } else {
            filled.push('{');
            rest = after;
        }
    }
    filled.push_str(rest);
    filled
}

/// Sends one probe with `values` filled in.
fn send(api: &Api, session: &Session, probe: &Probe, values: &BTreeMap<String, String>) -> ApiResponse {
    let request = api
        .request(probe.method, &fill(probe.path, values))
        .bearer(&session.access_token);
    match probe.payload {
        Payload::Empty => request.send(),
        Payload::Json(template) => {
            let text = fill(template, values);
            let body: Value = serde_json::from_str(&text).unwrap_or_else(|error| panic!("probe body {text}: {error}"));
            request.json(&body)
        }
        Payload::Png => {
            let png = png_bytes();
            let (content_type, body) = multipart(&[FormPart {
                name: "file",
                file_name: Some("foto.png"),
                content_type: Some("image/png"),
                bytes: &png,
            }]);
            request.raw(&content_type, &body)
        }
    }
}

/// What a probe's two responses must share.
#[derive(Clone, Copy, PartialEq)]
enum Expectation {
    /// Both 404 `not_found`, identical.
    NotFound,
    /// Same status and the same body.
    SameBody,
    /// Identical 4xx responses.
    SameRejection,
    /// Identical responses, whatever the status.
    SameResponse,
}

/// One line of the matrix report.
struct Row {
    route: String,
    victim: String,
    random: String,
    failure: Option<String>,
}

fn body_of(response: &ApiResponse) -> Value {
    if response.json.is_null() {
        Value::String(response.text.clone())
    } else {
        response.json.clone()
    }
}

/// Sends `probe` with random ids, then with the victim's, and judges the pair.
fn run_probe(
    api: &Api,
    attacker: &Session,
    probe: &Probe,
    expectation: Expectation,
    victim_values: &BTreeMap<String, String>,
    random_values: &BTreeMap<String, String>,
) -> Row {
    let random = send(api, attacker, probe, random_values);
    let victim = send(api, attacker, probe, victim_values);
    let (random_summary, victim_summary) = (ResponseSummary::of(&random), ResponseSummary::of(&victim));

    let failure = match expectation {
        Expectation::NotFound if !random_summary.is(404, "not_found") => Some(format!(
            "a random id should get 404 not_found, so the probe is not testing the id: {}",
            random.text
        )),
        Expectation::SameRejection if !(400..500).contains(&random_summary.status) => Some(format!(
            "a random id should be rejected with a 4xx, so the probe is not testing the id: {}",
            random.text
        )),
        Expectation::SameBody if random.status != victim.status || body_of(&random) != body_of(&victim) => {
            Some(format!(
                "the victim's id changed the response:\n    victim {} {}\n    random {} {}",
                victim.status, victim.text, random.status, random.text
            ))
        }
        Expectation::NotFound | Expectation::SameRejection | Expectation::SameResponse
            if victim_summary != random_summary =>
        {
            Some(format!(
                "the victim's id changed the response:\n    victim {} {}\n    random {} {}",
                victim.status, victim.text, random.status, random.text
            ))
        }
        _ => None,
    };
    Row {
        route: format!("{} {}", probe.method, probe.path),
        victim: victim_summary.to_string(),
        random: random_summary.to_string(),
        failure,
    }
}

fn render(rows: &[Row]) -> String {
    let mut table = String::from("route | victim's id | random id | result\n");
    for row in rows {
        let verdict = if row.failure.is_some() { "FAIL" } else { "ok" };
        table.push_str(&format!(
            "{} | {} | {} | {verdict}\n",
            row.route, row.victim, row.random
        ));
    }
    table
}

/// Placeholder values of the victim's ids plus the attacker's own values, and the same with
/// each victim id replaced by a random one.
fn placeholder_values(victim: &Victim, attacker: &Attacker) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut victim_values = BTreeMap::new();
    let mut random_values = BTreeMap::new();
    for (name, id) in &victim.ids {
        victim_values.insert(name.to_string(), id.clone());
        random_values.insert(name.to_string(), new_id());
    }
    for (name, value) in &attacker.values {
        victim_values.insert(name.to_string(), value.clone());
        random_values.insert(name.to_string(), value.clone());
    }
    (victim_values, random_values)
}

/// Pushes, from the attacker's device, sync changes that name the victim's records. On the
/// attacker's side each is a record of its own, so each must apply there. Returns the problems.
fn push_with_victim_ids(api: &Api, victim: &Victim, attacker: &Attacker) -> Vec<String> {
    let ids = &victim.ids;
    let till = &attacker.shop.till;
    let device = till.device();
    let a_code = attacker.shop.code();
    let a_outlet = &attacker.values["a_outlet"];
    let a_product = &attacker.values["a_product"];
    let mut problems = Vec::new();

    let mut sale = sale_body(
        device,
        a_outlet,
        a_product,
        1,
        10000,
        json!([{"method": "cash", "amount": 10000}]),
    );
    sale["id"] = json!(ids["sale"]);
    // The reference check comes first, while the attacker has no category under that id.
    let cases: Vec<(&str, &str, Value)> = vec![
        (
            "product referencing the victim's category",
            "rejected",
            upsert_mutation(
                "products",
                &new_id(),
                None,
                json!({"name": format!("Rujukan {a_code}"), "price": 1000, "category_id": ids["category"]}),
                device,
            ),
        ),
        (
            "upsert of the victim's product id on the victim's version",
            "applied",
            {
                let mut mutation = upsert_mutation(
                    "products",
                    &ids["product"],
                    Some(victim.product_version),
                    json!({"name": format!("Salinan {a_code}"), "price": 1111}),
                    device,
                );
                mutation["fields"] = json!(["name", "price"]);
                mutation
            },
        ),
        (
            "delete of the victim's contested product id",
            "applied",
            json!({
                "id": new_id(),
                "entity": "products",
                "op": "delete",
                "record_id": ids["contested_product"],
                "base_version": victim.contested_version,
                "hlc": kasir_tests::hlc_now(device),
            }),
        ),
        (
            "upsert of the victim's category id",
            "applied",
            upsert_mutation(
                "categories",
                &ids["category"],
                None,
                json!({"name": format!("Kategori {a_code}")}),
                device,
            ),
        ),
        (
            "upsert of the victim's customer id",
            "applied",
            upsert_mutation(
                "customers",
                &ids["customer"],
                None,
                json!({"name": format!("Pelanggan {a_code}")}),
                device,
            ),
        ),
        (
            "upsert of the victim's outlet id",
            "applied",
            upsert_mutation(
                "outlets",
                &ids["outlet"],
                None,
                json!({"code": "SALIN", "name": format!("Outlet {a_code}")}),
                device,
            ),
        ),
        (
            "sale under the victim's sale id",
            "applied",
            upsert_mutation("transactions", &ids["sale"], None, sale, device),
        ),
        (
            "purchase under the victim's movement id",
            "applied",
            upsert_mutation(
                "stock_movements",
                &ids["movement"],
                None,
                json!({"product_id": a_product, "outlet_id": a_outlet, "qty": 1, "kind": "purchase"}),
                device,
            ),
        ),
    ];
    let mutations: Vec<Value> = cases.iter().map(|(_, _, mutation)| mutation.clone()).collect();
    let results = push(api, till, &mutations);
    for ((label, expected, _), result) in cases.iter().zip(&results) {
        let status = result["status"].as_str().unwrap_or("?");
        eprintln!("sync push | {label} | {status}");
        if status != *expected {
            problems.push(format!("sync push, {label}: expected {expected}, got {result}"));
        }
    }
    if results[0]["error"]["details"][0]["code"] != "invalid_reference" {
        problems.push(format!(
            "sync push, product referencing the victim's category: expected invalid_reference, got {}",
            results[0]
        ));
    }

    let copy = api
        .get(&format!("/v1/products/{}", ids["product"]))
        .bearer(&till.access_token)
        .send();
    if copy.status != 200 || copy.json["name"] != json!(format!("Salinan {a_code}")) {
        problems.push(format!(
            "the attacker's pushed product under the victim's id should read back as its own: {} {}",
            copy.status, copy.text
        ));
    }
    let copied_sale = api
        .get(&format!("/v1/transactions/{}", ids["sale"]))
        .bearer(&till.access_token)
        .send();
    if copied_sale.status != 200 || copied_sale.json["total"] != json!(10000) {
        problems.push(format!(
            "the attacker's pushed sale under the victim's id should read back as its own: {} {}",
            copied_sale.status, copied_sale.text
        ));
    }
    problems
}

/// Logs the attacker in on a device with the victim's till id, then pushes a mutation under
/// the id of a mutation the victim's till pushed. The stored result of the victim's mutation
/// must not come back: the attacker's product must be created. Returns the problems.
fn reuse_victim_device_and_mutation_ids(api: &Api, victim: &Victim, attacker: &Attacker) -> Vec<String> {
    let mut problems = Vec::new();
    let tenant = &attacker.shop.tenant;
    let response = api.post("/v1/auth/login").json(&json!({
        "tenant": tenant.code,
        "email": tenant.owner_email,
        "password": tenant.owner_password,
        "device": {"id": victim.ids["till_device"], "name": "Tablet tiruan"},
    }));
    if response.status != 200 || response.json["device"]["id"] != json!(victim.ids["till_device"]) {
        problems.push(format!(
            "login on a device with the victim's device id should register it for the attacker: {} {}",
            response.status, response.text
        ));
        return problems;
    }
    let impostor = kasir_tests::session_from(&response);

    let product_id = new_id();
    let mut mutation = upsert_mutation(
        "products",
        &product_id,
        None,
        json!({"name": format!("Tiruan {}", attacker.shop.code()), "price": 4000}),
        impostor.device(),
    );
    mutation["id"] = json!(victim.till_mutation_id);
    let results = push(api, &impostor, &[mutation]);
    let created = api
        .get(&format!("/v1/products/{product_id}"))
        .bearer(&impostor.access_token)
        .send();
    eprintln!(
        "sync push | reused victim device and mutation ids | {} | product {}",
        results[0]["status"], created.status
    );
    if results[0]["status"] != "applied" || created.status != 200 {
        problems.push(format!(
            "a mutation id the victim used must not replay the victim's result for the attacker: result {}, GET product {} {}",
            results[0], created.status, created.text
        ));
    }
    problems
}

/// Creates the attacker's own records over REST under the victim's ids, then edits and deletes
/// some of them. Each create must be a new record (201), never a replay or a conflict with the
/// victim's. Returns the problems.
fn create_with_victim_ids(api: &Api, victim: &Victim, attacker: &Attacker) -> Vec<String> {
    let ids = &victim.ids;
    let shop = &attacker.shop;
    let a_code = shop.code();
    let a_outlet = &attacker.values["a_outlet"];
    let a_product = &attacker.values["a_product"];
    let mut problems = Vec::new();

    let mut sale = sale_body(
        shop.till.device(),
        a_outlet,
        a_product,
        1,
        10000,
        json!([{"method": "cash", "amount": 10000}]),
    );
    sale["id"] = json!(ids["pending_sale"]);
    sale["receipt_no"] = json!(victim.pending_receipt_no);
    let creates: Vec<(&str, &Session, String, Value, &str)> = vec![
        (
            "product",
            &shop.owner,
            "/v1/products".to_string(),
            json!({"id": ids["spare_product"], "name": format!("Cadangan {a_code}"), "price": 500}),
            "spare_product",
        ),
        (
            "device",
            &shop.owner,
            "/v1/devices".to_string(),
            json!({"id": ids["device"], "name": format!("Tablet {a_code}")}),
            "device",
        ),
        (
            "shift",
            &shop.owner,
            "/v1/shifts".to_string(),
            json!({"id": ids["shift"], "outlet_id": a_outlet, "opening_float": 0}),
            "shift",
        ),
        (
            "sale with the victim's receipt number",
            &shop.till,
            "/v1/transactions".to_string(),
            sale,
            "pending_sale",
        ),
        (
            "refund",
            &shop.owner,
            format!("/v1/transactions/{}/refunds", attacker.values["a_sale"]),
            json!({"id": ids["refund"], "items": [{"product_id": a_product, "qty": 1}], "reason": "uji"}),
            "refund",
        ),
    ];
    for (label, session, path, body, id_name) in creates {
        let response = api.post(&path).bearer(&session.access_token).json(&body);
        eprintln!(
            "REST create | {label} under the victim's id | {}",
            ResponseSummary::of(&response)
        );
        if response.status != 201 || response.json["id"] != json!(ids[id_name]) {
            problems.push(format!(
                "POST {path} of a {label} under the victim's {id_name} id: expected 201 with that id, got {} {}",
                response.status, response.text
            ));
        }
    }

    // The attacker's own records under the victim's ids are the attacker's to change.
    let edits: Vec<(&str, String, Option<Value>, u16)> = vec![
        (
            "PATCH",
            format!("/v1/products/{}", ids["product"]),
            Some(json!({"price": 2222})),
            200,
        ),
        ("DELETE", format!("/v1/products/{}", ids["product"]), None, 204),
        (
            "PATCH",
            format!("/v1/customers/{}", ids["customer"]),
            Some(json!({"name": "Ganti"})),
            200,
        ),
        ("DELETE", format!("/v1/categories/{}", ids["category"]), None, 204),
        ("DELETE", format!("/v1/devices/{}", ids["device"]), None, 204),
        (
            "POST",
            format!("/v1/shifts/{}/close", ids["shift"]),
            Some(json!({"counted_cash": 0})),
            200,
        ),
        (
            "POST",
            format!("/v1/transactions/{}/void", ids["pending_sale"]),
            Some(json!({"reason": "uji"})),
            201,
        ),
    ];
    for (method, path, body, expected) in edits {
        let request = api.request(method, &path).bearer(&shop.owner.access_token);
        let response = match &body {
            Some(body) => request.json(body),
            None => request.send(),
        };
        eprintln!(
            "REST edit | {method} {path} of its own copy | {}",
            ResponseSummary::of(&response)
        );
        if response.status != expected {
            problems.push(format!(
                "{method} {path} of the attacker's own copy: expected {expected}, got {} {}",
                response.status, response.text
            ));
        }
    }
    problems
}

/// Pushes over the WatermelonDB protocol from the attacker's device: an update of the victim's
/// contested product id and a delete of the victim's customer id. Returns the problems.
fn watermelon_push_with_victim_ids(api: &Api, victim: &Victim, attacker: &Attacker) -> Vec<String> {
    let till = &attacker.shop.till;
    let pulled = api
        .get("/v1/sync/watermelon")
        .bearer(&till.access_token)
        .query("last_pulled_at", "null")
        .send();
    let Some(timestamp) = pulled.json["timestamp"].as_i64() else {
        return vec![format!(
            "GET /v1/sync/watermelon returned no integer timestamp: {} {}",
            pulled.status, pulled.text
        )];
    };
    let body = json!({"changes": {
        "products": {
            "created": [],
            "updated": [{
                "id": victim.ids["contested_product"],
                "name": format!("Semangka {}", attacker.shop.code()),
                "price": 500,
                "unit": "pcs",
                "track_stock": false,
                "is_active": true,
                "_status": "updated",
                "_changed": "name,price",
            }],
            "deleted": [],
        },
        "customers": {"created": [], "updated": [], "deleted": [victim.ids["customer"]]},
    }});
    let response = api
        .post("/v1/sync/watermelon")
        .bearer(&till.access_token)
        .query("last_pulled_at", &timestamp.to_string())
        .json(&body);
    eprintln!("watermelon push | victim ids | {} {}", response.status, response.text);
    if response.status != 200 {
        return vec![format!(
            "POST /v1/sync/watermelon with the victim's ids: expected 200, got {} {}",
            response.status, response.text
        )];
    }
    Vec::new()
}

/// Reads every list and feed of the attacker and returns those whose body contains the
/// victim's tenant code, which every victim record carries in a name, email or note.
fn attacker_reads_mentioning(api: &Api, attacker: &Attacker, marker: &str) -> Vec<String> {
    let token = &attacker.shop.till.access_token;
    let today = today_in_jakarta();
    let paths = [
        "/v1/products?limit=500".to_string(),
        "/v1/categories?limit=500".to_string(),
        "/v1/customers?limit=500".to_string(),
        "/v1/outlets?limit=500".to_string(),
        "/v1/users".to_string(),
        "/v1/devices".to_string(),
        "/v1/transactions?limit=500".to_string(),
        "/v1/shifts?limit=500".to_string(),
        "/v1/stock".to_string(),
        "/v1/stock/movements?limit=500".to_string(),
        "/v1/sync/conflicts?limit=500".to_string(),
        "/v1/sync/log?limit=500".to_string(),
        "/v1/backups".to_string(),
        "/v1/files".to_string(),
        "/v1/audit?limit=500".to_string(),
        format!("/v1/reports/daily?date={today}"),
        format!("/v1/reports/daily?date={today}&format=csv"),
        "/v1/sync/watermelon?last_pulled_at=null".to_string(),
    ];
    let mut leaks = Vec::new();
    for path in paths {
        let response = api.get(&path).bearer(token).send();
        if response.status != 200 {
            leaks.push(format!(
                "GET {path} failed for the attacker: {} {}",
                response.status, response.text
            ));
        } else if response.text.contains(marker) {
            leaks.push(format!(
                "GET {path} shows the victim's data to the attacker: {}",
                response.text
            ));
        }
    }
    let (pages, _) = pull_to_end(api, token, None);
    let pulled = serde_json::to_string(&pages).unwrap_or_default();
    if pulled.contains(marker) {
        leaks.push(format!(
            "GET /v1/sync/pull shows the victim's data to the attacker: {pulled}"
        ));
    }
    leaks
}

/// Runs the whole matrix for one tenant pair and checks the victim is untouched.
fn run_isolation(placement: Placement) {
    let api = api();
    let tag = placement.as_str();
    let victim = build_victim(&format!("victim-{tag}"), placement);
    let attacker = build_attacker(&format!("attacker-{tag}"), placement);
    let before = snapshot(&victim);
    let unreadable: Vec<&String> = before
        .iter()
        .filter(|(_, status, _)| *status != 200)
        .map(|(path, ..)| path)
        .collect();
    assert!(
        unreadable.is_empty(),
        "the victim cannot read its own records: {unreadable:?}"
    );
    // The leak scan looks for the victim's code and the pull check reads pulled changes, so
    // both must find the victim's data before the attack.
    let marker = victim.shop.code();
    let snapshot_text = serde_json::to_string(&before).unwrap_or_default();
    assert!(
        snapshot_text.contains(marker),
        "the victim's records should carry its code {marker}"
    );
    let (initial_pages, victim_cursor) = pull_to_end(&api, &victim.shop.owner.access_token, None);
    let product_pulled =
        pulled_changes(&initial_pages).contains(&("products".to_string(), victim.ids["product"].clone()));
    assert!(
        product_pulled,
        "the victim's first pull should carry its product: {initial_pages:?}"
    );
    let (victim_values, random_values) = placeholder_values(&victim, &attacker);
    let attacker_session = &attacker.shop.till;

    let mut rows = Vec::new();
    for (table, expectation) in [
        (ID_ROUTES, Expectation::NotFound),
        (QUERY_ROUTES, Expectation::SameBody),
        (REFERENCE_ROUTES, Expectation::SameRejection),
        (UNCHECKED_REFERENCE_ROUTES, Expectation::SameResponse),
    ] {
        for probe in table {
            rows.push(run_probe(
                &api,
                attacker_session,
                probe,
                expectation,
                &victim_values,
                &random_values,
            ));
        }
    }
    eprintln!("isolation matrix, {tag} placement:\n{}", render(&rows));

    let mut writes = push_with_victim_ids(&api, &victim, &attacker);
    writes.extend(reuse_victim_device_and_mutation_ids(&api, &victim, &attacker));
    writes.extend(create_with_victim_ids(&api, &victim, &attacker));
    writes.extend(watermelon_push_with_victim_ids(&api, &victim, &attacker));

    let after = snapshot(&victim);
    let changed = snapshot_differences(&before, &after);
    let (pages, _) = pull_to_end(&api, &victim.shop.owner.access_token, Some(&victim_cursor));
    let new_changes = pulled_changes(&pages);
    let leaks = attacker_reads_mentioning(&api, &attacker, marker);

    eprintln!("writes under the victim's ids, problems: {writes:#?}");
    eprintln!("victim snapshot differences: {changed:#?}");
    eprintln!("victim pull after the attack: {new_changes:?}");
    eprintln!("attacker reads mentioning the victim: {leaks:#?}");

    let failures: Vec<String> = rows
        .iter()
        .filter_map(|row| row.failure.as_ref().map(|failure| format!("{}: {failure}", row.route)))
        .collect();
    assert!(
        failures.is_empty(),
        "{tag} pair: {} of {} probes failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
    assert!(
        writes.is_empty(),
        "{tag} pair: the attacker's writes under the victim's ids went wrong:\n{}",
        writes.join("\n")
    );
    assert!(
        changed.is_empty(),
        "{tag} pair: the attacker changed the victim's data:\n{}",
        changed.join("\n")
    );
    assert!(
        new_changes.is_empty(),
        "{tag} pair: the victim's sync pull shows changes after the attack: {new_changes:?}"
    );
    assert!(leaks.is_empty(), "{tag} pair: {}", leaks.join("\n"));
}

#[test]
fn shared_database_pair_stays_isolated() {
    run_isolation(Placement::Shared);
}

#[test]
fn dedicated_database_pair_stays_isolated() {
    run_isolation(Placement::Dedicated);
}
