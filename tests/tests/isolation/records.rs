//! The two tenants of an isolation run. The victim has one record of every kind that has an
//! id route, and the attacker has what its own valid requests need. Snapshots of the victim
//! show whether anything the attacker sent changed it.

use std::collections::BTreeMap;
use std::time::Duration;

use kasir_tests::fixtures::set_sync_settings;
use kasir_tests::{hlc_now, login_owner, new_id, provision_tenant_with, Api, ApiResponse, Session, TenantFixture};
use serde_json::{json, Value};

use crate::{admin_token, api, multipart, now_rfc3339, poll_until, today_in_jakarta, FormPart};

/// Maximum wait for the victim's backup job to finish.
const BACKUP_TIMEOUT: Duration = Duration::from_secs(90);

/// Database placement of a tenant pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Both tenants in `TENANT_DB_SHARED`, distinguished only by `tenant_id`.
    Shared,
    /// Each tenant in its own database from the dedicated pool (the provisioning default).
    Dedicated,
}

impl Placement {
    pub fn as_str(self) -> &'static str {
        match self {
            Placement::Shared => "shared",
            Placement::Dedicated => "dedicated",
        }
    }
}

/// A provisioned tenant with two sessions of its owner.
pub struct Shop {
    pub tenant: TenantFixture,
    /// The owner without a device, for REST reads and settings.
    pub owner: Session,
    /// The owner on a registered device, for sales and sync pushes.
    pub till: Session,
}

impl Shop {
    pub fn code(&self) -> &str {
        &self.tenant.code
    }
}

/// Provisions a tenant on `placement` and logs its owner in twice.
#[track_caller]
pub fn open_shop(code_prefix: &str, placement: Placement) -> Shop {
    let api = api();
    let extra = match placement {
        Placement::Shared => json!({"placement": "shared"}),
        Placement::Dedicated => json!({}),
    };
    let tenant = provision_tenant_with(&api, admin_token(), code_prefix, extra);
    assert_eq!(
        tenant.body["tenant"]["placement"],
        placement.as_str(),
        "tenant {} was provisioned on another placement: {}",
        tenant.code,
        tenant.body
    );
    let owner = login_owner(&api, &tenant, None);
    let till = login_owner(&api, &tenant, Some(&format!("Kasir utama {}", tenant.code)));
    Shop { tenant, owner, till }
}

/// Sends `POST path` with `body` and returns the created record, panicking unless the
/// status is 201.
#[track_caller]
pub fn create(api: &Api, session: &Session, path: &str, body: &Value) -> Value {
    let response = api.post(path).bearer(&session.access_token).json(body);
    response.expect_status(201);
    response.json.clone()
}

/// Reads a string field of a record, panicking with the record when it is missing.
#[track_caller]
pub fn text_field(record: &Value, field: &str) -> String {
    match record[field].as_str() {
        Some(text) => text.to_string(),
        None => panic!("expected string field {field:?} in {record}"),
    }
}

#[track_caller]
fn version_of(record: &Value) -> i64 {
    record["version"]
        .as_i64()
        .unwrap_or_else(|| panic!("expected integer field \"version\" in {record}"))
}

/// Builds a `POST /v1/transactions` body of one line.
pub fn sale_body(
    device_id: &str,
    outlet_id: &str,
    product_id: &str,
    qty: i64,
    unit_price: i64,
    payments: Value,
) -> Value {
    json!({
        "id": new_id(),
        "outlet_id": outlet_id,
        "device_id": device_id,
        "receipt_no": format!("PUSAT-ISO-260101-{}", &new_id()[..8]),
        "created_at": now_rfc3339(),
        "items": [{"product_id": product_id, "qty": qty, "unit_price": unit_price, "discount": 0}],
        "discount": 0,
        "payments": payments,
    })
}

/// Builds a native sync upsert of `record_id` that the device made on `base_version`.
pub fn upsert_mutation(
    entity: &str,
    record_id: &str,
    base_version: Option<i64>,
    data: Value,
    device_id: &str,
) -> Value {
    let mut mutation = json!({
        "id": new_id(),
        "entity": entity,
        "op": "upsert",
        "record_id": record_id,
        "data": data,
        "hlc": hlc_now(device_id),
    });
    if let Some(base_version) = base_version {
        mutation["base_version"] = json!(base_version);
    }
    mutation
}

/// Pushes `mutations` from the session's device and returns the results, panicking unless
/// the push returns 200 with one result per mutation.
#[track_caller]
pub fn push(api: &Api, session: &Session, mutations: &[Value]) -> Vec<Value> {
    let response = api
        .post("/v1/sync/push")
        .bearer(&session.access_token)
        .json(&json!({"device_id": session.device(), "schema_version": 1, "mutations": mutations}));
    response.expect_status(200);
    let results = response.json["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        results.len(),
        mutations.len(),
        "POST /v1/sync/push returned {} results for {} mutations: {}",
        results.len(),
        mutations.len(),
        response.text
    );
    results
}

/// A tenant holding one record of every kind that has an id route, each named after the
/// tenant code so that a leak into another tenant's responses can be found by that code.
pub struct Victim {
    pub shop: Shop,
    /// Record ids by placeholder name, such as `product` or `conflict`.
    pub ids: BTreeMap<&'static str, String>,
    /// Receipt number of the pending sale, which the attacker reuses for its own sale.
    pub pending_receipt_no: String,
    /// Version of `product` and of `contested_product` after the setup.
    pub product_version: i64,
    pub contested_version: i64,
    /// Id of a mutation the victim's till pushed, which the attacker's device reuses.
    pub till_mutation_id: String,
}

/// Provisions the victim tenant and creates its records. They are the catalog, a kasir, a
/// device, an open shift with three sales (one refunded, one with a pending QRIS payment, one
/// voided) and a purchase. They also include an open sync conflict under the manual strategy,
/// a CSV file and a finished backup.
#[track_caller]
pub fn build_victim(code_prefix: &str, placement: Placement) -> Victim {
    let api = api();
    let shop = open_shop(code_prefix, placement);
    let code = shop.code().to_string();
    let outlet_id = shop.tenant.default_outlet_id.clone();
    let till_device = shop.till.device().to_string();
    let second_till = login_owner(&api, &shop.tenant, Some(&format!("Kasir kedua {code}")));
    let mut ids: BTreeMap<&'static str, String> = BTreeMap::new();
    ids.insert("owner", shop.tenant.owner_id.clone());
    ids.insert("till_device", till_device.clone());

    set_sync_settings(&api, &shop.owner, json!({"strategies": {"products": "manual"}}));

    let category = create(
        &api,
        &shop.owner,
        "/v1/categories",
        &json!({"name": format!("Kategori {code}")}),
    );
    ids.insert("category", text_field(&category, "id"));
    let product = create(
        &api,
        &shop.owner,
        "/v1/products",
        &json!({
            "name": format!("Produk {code}"),
            "price": 15000,
            "category_id": ids["category"],
            "track_stock": true,
            "sku": format!("SKU-{}", &code[code.len() - 8..]),
        }),
    );
    ids.insert("product", text_field(&product, "id"));
    let spare = create(
        &api,
        &shop.owner,
        "/v1/products",
        &json!({"name": format!("Cadangan {code}"), "price": 9000}),
    );
    ids.insert("spare_product", text_field(&spare, "id"));
    let contested = create(
        &api,
        &shop.owner,
        "/v1/products",
        &json!({"name": format!("Rebutan {code}"), "price": 20000}),
    );
    ids.insert("contested_product", text_field(&contested, "id"));
    let contested_base = version_of(&contested);

    let customer = create(
        &api,
        &shop.owner,
        "/v1/customers",
        &json!({"name": format!("Pelanggan {code}"), "phone": "081234567890"}),
    );
    ids.insert("customer", text_field(&customer, "id"));
    let outlet = create(
        &api,
        &shop.owner,
        "/v1/outlets",
        &json!({"code": "CABANG", "name": format!("Cabang {code}")}),
    );
    ids.insert("outlet", text_field(&outlet, "id"));
    let user = create(
        &api,
        &shop.owner,
        "/v1/users",
        &json!({
            "email": format!("kasir@{code}.test"),
            "name": format!("Kasir {code}"),
            "password": "Sandi-kasir-123",
            "role": "kasir",
        }),
    );
    ids.insert("user", text_field(&user, "id"));
    let device = create(
        &api,
        &shop.owner,
        "/v1/devices",
        &json!({"name": format!("Tablet {code}")}),
    );
    ids.insert("device", text_field(&device, "id"));

    let shift = create(
        &api,
        &shop.till,
        "/v1/shifts",
        &json!({"outlet_id": outlet_id, "opening_float": 100000}),
    );
    ids.insert("shift", text_field(&shift, "id"));
    let movement_id = new_id();
    create(
        &api,
        &shop.owner,
        "/v1/stock/movements",
        &json!({
            "id": movement_id,
            "product_id": ids["product"],
            "outlet_id": outlet_id,
            "qty": 20,
            "kind": "purchase",
            "note": format!("Kiriman {code}"),
        }),
    );
    ids.insert("movement", movement_id);

    let mut paid = sale_body(
        &till_device,
        &outlet_id,
        &ids["product"],
        2,
        15000,
        json!([{"method": "cash", "amount": 30000}]),
    );
    paid["shift_id"] = json!(ids["shift"]);
    paid["customer_id"] = json!(ids["customer"]);
    paid["note"] = json!(format!("Catatan {code}"));
    let paid = create(&api, &shop.till, "/v1/transactions", &paid);
    ids.insert("sale", text_field(&paid, "id"));

    let mut pending = sale_body(
        &till_device,
        &outlet_id,
        &ids["product"],
        1,
        15000,
        json!([{"method": "qris", "amount": 15000, "status": "pending"}]),
    );
    pending["shift_id"] = json!(ids["shift"]);
    let pending = create(&api, &shop.till, "/v1/transactions", &pending);
    ids.insert("pending_sale", text_field(&pending, "id"));
    let pending_receipt_no = text_field(&pending, "receipt_no");

    let voided = sale_body(
        &till_device,
        &outlet_id,
        &ids["product"],
        1,
        15000,
        json!([{"method": "cash", "amount": 15000}]),
    );
    let voided = create(&api, &shop.till, "/v1/transactions", &voided);
    ids.insert("voided_sale", text_field(&voided, "id"));
    let void = create(
        &api,
        &shop.owner,
        &format!("/v1/transactions/{}/void", ids["voided_sale"]),
        &json!({"reason": "salah input"}),
    );
    ids.insert("void", text_field(&void, "id"));

    let refund_id = new_id();
    create(
        &api,
        &shop.owner,
        &format!("/v1/transactions/{}/refunds", ids["sale"]),
        &json!({"id": refund_id, "items": [{"product_id": ids["product"], "qty": 1}], "reason": "kemasan rusak"}),
    );
    ids.insert("refund", refund_id);

    // Two devices edit the same field from the same version: the second is held for review.
    let first_edit = upsert_mutation(
        "products",
        &ids["contested_product"],
        Some(contested_base),
        json!({"price": 21000}),
        &till_device,
    );
    let till_mutation_id = text_field(&first_edit, "id");
    let first = push(&api, &shop.till, &[first_edit]);
    assert_eq!(
        first[0]["status"], "applied",
        "first edit of the contested product: {}",
        first[0]
    );
    let second = push(
        &api,
        &second_till,
        &[upsert_mutation(
            "products",
            &ids["contested_product"],
            Some(contested_base),
            json!({"price": 22000}),
            second_till.device(),
        )],
    );
    assert_eq!(
        second[0]["status"], "conflict",
        "second edit of the contested product: {}",
        second[0]
    );
    ids.insert("conflict", text_field(&second[0], "conflict_id"));

    let (content_type, body) = multipart(&[
        FormPart {
            name: "kind",
            file_name: None,
            content_type: None,
            bytes: b"doc",
        },
        FormPart {
            name: "file",
            file_name: Some("x.csv"),
            content_type: Some("text/csv"),
            bytes: b"a,b\n1,2\n",
        },
    ]);
    let file = api
        .post("/v1/files")
        .bearer(&shop.owner.access_token)
        .raw(&content_type, &body);
    file.expect_status(201);
    ids.insert("file", file.str_field("id"));

    let started = api
        .post("/v1/backups")
        .bearer(&shop.owner.access_token)
        .json(&json!({}));
    started.expect_status(202);
    ids.insert("job", started.str_field("job_id"));
    ids.insert("backup", started.str_field("backup_id"));
    let job_path = format!("/v1/jobs/{}", ids["job"]);
    let job = poll_until(
        BACKUP_TIMEOUT,
        || api.get(&job_path).bearer(&shop.owner.access_token).send(),
        |response| matches!(response.json["status"].as_str(), Some("done" | "failed")),
    );
    assert_eq!(job.json["status"], "done", "backup job of {code}: {}", job.text);

    let product_version = version_of(&read(&api, &shop.owner, &format!("/v1/products/{}", ids["product"])).json);
    let contested_version =
        version_of(&read(&api, &shop.owner, &format!("/v1/products/{}", ids["contested_product"])).json);
    Victim {
        shop,
        ids,
        pending_receipt_no,
        product_version,
        contested_version,
        till_mutation_id,
    }
}

#[track_caller]
fn read(api: &Api, session: &Session, path: &str) -> ApiResponse {
    let response = api.get(path).bearer(&session.access_token).send();
    response.expect_status(200);
    response
}

/// A tenant whose owner attacks the victim, with its own product and sale so that every
/// request it sends is valid except for the victim's id in it.
pub struct Attacker {
    pub shop: Shop,
    /// Ids and credentials by placeholder name, each prefixed `a_`.
    pub values: BTreeMap<&'static str, String>,
}

#[track_caller]
pub fn build_attacker(code_prefix: &str, placement: Placement) -> Attacker {
    let api = api();
    let shop = open_shop(code_prefix, placement);
    let code = shop.code().to_string();
    let product = create(
        &api,
        &shop.owner,
        "/v1/products",
        &json!({"name": format!("Barang {code}"), "price": 10000, "track_stock": true}),
    );
    let product_id = text_field(&product, "id");
    let sale = create(
        &api,
        &shop.till,
        "/v1/transactions",
        &sale_body(
            shop.till.device(),
            &shop.tenant.default_outlet_id,
            &product_id,
            2,
            10000,
            json!([{"method": "cash", "amount": 20000}]),
        ),
    );

    let mut values = BTreeMap::new();
    values.insert("a_code", code);
    values.insert("a_email", shop.tenant.owner_email.clone());
    values.insert("a_password", shop.tenant.owner_password.clone());
    values.insert("a_outlet", shop.tenant.default_outlet_id.clone());
    values.insert("a_device", shop.till.device().to_string());
    values.insert("a_product", product_id);
    values.insert("a_sale", text_field(&sale, "id"));
    Attacker { shop, values }
}

/// Reads everything of the victim that an attack could change, as `(path, status, body)`. A
/// body that is not JSON is kept as a string.
pub fn snapshot(victim: &Victim) -> Vec<(String, u16, Value)> {
    let api = api();
    let ids = &victim.ids;
    let mut paths = vec![
        "/v1/tenant".to_string(),
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
        format!("/v1/reports/daily?date={}", today_in_jakarta()),
    ];
    for entity_path in [
        format!("/v1/products/{}", ids["product"]),
        format!("/v1/products/{}", ids["spare_product"]),
        format!("/v1/products/{}", ids["contested_product"]),
        format!("/v1/categories/{}", ids["category"]),
        format!("/v1/customers/{}", ids["customer"]),
        format!("/v1/customers/{}/transactions", ids["customer"]),
        format!("/v1/outlets/{}", ids["outlet"]),
        format!("/v1/users/{}", ids["user"]),
        format!("/v1/devices/{}", ids["device"]),
        format!("/v1/devices/{}", ids["till_device"]),
        format!("/v1/transactions/{}", ids["sale"]),
        format!("/v1/transactions/{}/refunds", ids["sale"]),
        format!("/v1/transactions/{}", ids["pending_sale"]),
        format!("/v1/transactions/{}", ids["voided_sale"]),
        format!("/v1/transactions/{}/refunds", ids["voided_sale"]),
        format!("/v1/shifts/{}", ids["shift"]),
        format!("/v1/jobs/{}", ids["job"]),
        format!("/v1/files/{}", ids["file"]),
    ] {
        paths.push(entity_path);
    }

    paths
        .into_iter()
        .map(|path| {
            let response = api.get(&path).bearer(&victim.shop.owner.access_token).send();
            let body = if response.json.is_null() {
                Value::String(response.text.clone())
            } else {
                response.json.clone()
            };
            (path, response.status, body)
        })
        .collect()
}

/// Lists each snapshot entry that differs between `before` and `after`, with both values.
pub fn snapshot_differences(before: &[(String, u16, Value)], after: &[(String, u16, Value)]) -> Vec<String> {
    before
        .iter()
        .zip(after)
        .filter(|(old, new)| old != new)
        .map(|((path, old_status, old_body), (_, new_status, new_body))| {
            format!("GET {path}: was {old_status} {old_body}\n    now {new_status} {new_body}")
        })
        .collect()
}
