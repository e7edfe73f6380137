//! End-to-end tests of selling against one real `wrangler dev`: tax figures, payments,
//! receipt numbers, pending QRIS payments, voids, refunds, the stock ledger and a customer's
//! purchase history.
//!
//! Every test provisions its own tenant on shared placement, so tests run in parallel and in
//! any order. Money figures in the assertions are worked out by hand in the comments above
//! them, never by calling the server's own arithmetic.

mod customers;
mod refunds;
mod sales;
mod stock;
mod tax;
mod voids;

use std::time::{SystemTime, UNIX_EPOCH};

use kasir_tests::fixtures::create_product_with;
use kasir_tests::{
    create_user_session, login_owner, new_id, provision_tenant, server, Api, ApiResponse, Session, TenantFixture,
};
use serde_json::{json, Value};

pub fn api() -> Api {
    server().api()
}

/// A tenant with its owner (no device) and one kasir logged in on a device.
pub struct PosShop {
    pub tenant: TenantFixture,
    pub owner: Session,
    pub kasir: Session,
}

#[track_caller]
pub fn pos_shop(code_prefix: &str) -> PosShop {
    let api = api();
    let tenant = provision_tenant(&api, &server().admin_token, code_prefix);
    let owner = login_owner(&api, &tenant, None);
    let (_, kasir) = create_user_session(&api, &tenant, &owner, "kasir", "Tablet Kasir");
    PosShop { tenant, owner, kasir }
}

impl PosShop {
    pub fn outlet_id(&self) -> &str {
        &self.tenant.default_outlet_id
    }

    /// Creates a product that does not track stock and returns its id.
    #[track_caller]
    pub fn product(&self, name: &str, price: i64) -> String {
        let product = create_product_with(&api(), &self.owner, &json!({"name": name, "price": price}));
        string_field(&product, "id")
    }

    /// Creates a product with `track_stock: true` and an optional `low_stock_threshold`, and
    /// returns its id.
    #[track_caller]
    pub fn tracked_product(&self, name: &str, price: i64, low_stock_threshold: Option<i64>) -> String {
        let mut body = json!({"name": name, "price": price, "track_stock": true});
        if let Some(threshold) = low_stock_threshold {
            body["low_stock_threshold"] = json!(threshold);
        }
        let product = create_product_with(&api(), &self.owner, &body);
        assert_eq!(product["track_stock"], json!(true), "product not tracked: {product}");
        string_field(&product, "id")
    }

    /// Creates another user with `role`, logged in on a new device.
    #[track_caller]
    pub fn new_user(&self, role: &str, device_name: &str) -> Session {
        let (_, session) = create_user_session(&api(), &self.tenant, &self.owner, role, device_name);
        session
    }

    /// Creates an outlet with `code` and returns its id.
    #[track_caller]
    pub fn outlet(&self, code: &str, name: &str) -> String {
        let response = api()
            .post("/v1/outlets")
            .bearer(&self.owner.access_token)
            .json(&json!({"code": code, "name": name}));
        response.expect_status(201);
        response.str_field("id")
    }

    /// Builds a sale body by `session` on its device at the default outlet, with a new id and
    /// receipt number and no discount.
    pub fn sale_body(&self, session: &Session, items: Value, payments: Value) -> Value {
        json!({
            "id": new_id(),
            "outlet_id": self.outlet_id(),
            "device_id": session.device(),
            "receipt_no": format!("PUSAT-{}-260101-{}", session.device_code.as_deref().unwrap_or("DEV"), &new_id()[..8]),
            "created_at": now_rfc3339(),
            "items": items,
            "discount": 0,
            "payments": payments,
        })
    }

    /// Records a sale body as `session` and returns the stored sale. Panics unless the
    /// server responds with 201.
    #[track_caller]
    pub fn sell(&self, session: &Session, body: &Value) -> Value {
        let response = post_sale(session, body);
        response.expect_status(201);
        response.json.clone()
    }

    /// Records a purchase of `qty` units at `outlet_id` as the owner. Panics unless the
    /// server responds with 201.
    #[track_caller]
    pub fn purchase(&self, product_id: &str, outlet_id: &str, qty: Value) -> Value {
        let response = api()
            .post("/v1/stock/movements")
            .bearer(&self.owner.access_token)
            .json(&json!({"product_id": product_id, "outlet_id": outlet_id, "qty": qty, "kind": "purchase"}));
        response.expect_status(201);
        response.json.clone()
    }

    /// Returns the stock level of a product at an outlet as the API prints it, or `None` when
    /// `GET /v1/stock` lists no level for the pair.
    #[track_caller]
    pub fn level(&self, product_id: &str, outlet_id: &str) -> Option<Value> {
        self.level_item(product_id, outlet_id).map(|item| item["qty"].clone())
    }

    /// Returns the `GET /v1/stock` item of a product at an outlet, if any.
    #[track_caller]
    pub fn level_item(&self, product_id: &str, outlet_id: &str) -> Option<Value> {
        let response = api()
            .get("/v1/stock")
            .bearer(&self.owner.access_token)
            .query("product_id", product_id)
            .query("outlet_id", outlet_id)
            .send();
        response.expect_status(200);
        let items = response.items();
        assert!(
            items.len() <= 1,
            "one product at one outlet has several levels: {items:?}"
        );
        items.into_iter().next()
    }

    /// Returns every stock movement matching the query pairs, newest first.
    #[track_caller]
    pub fn movements(&self, query: &[(&str, &str)]) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..50 {
            let mut request = api().get("/v1/stock/movements").bearer(&self.owner.access_token);
            for (name, value) in query {
                request = request.query(name, value);
            }
            if let Some(cursor) = &cursor {
                request = request.query("cursor", cursor);
            }
            let page = request.send();
            page.expect_status(200);
            items.extend(page.items());
            cursor = page.next_cursor();
            if cursor.is_none() {
                return items;
            }
        }
        panic!("GET /v1/stock/movements still had a next_cursor after 50 pages");
    }

    /// Reads a sale as the owner. Panics unless the server responds with 200.
    #[track_caller]
    pub fn stored_sale(&self, sale_id: &str) -> Value {
        let response = api()
            .get(&format!("/v1/transactions/{sale_id}"))
            .bearer(&self.owner.access_token)
            .send();
        response.expect_status(200);
        response.json.clone()
    }
}

/// Builds one sale line with no line discount.
pub fn line(product_id: &str, qty: Value, unit_price: i64) -> Value {
    json!({"product_id": product_id, "qty": qty, "unit_price": unit_price, "discount": 0})
}

pub fn cash(amount: i64) -> Value {
    json!([{"method": "cash", "amount": amount}])
}

/// Sends `POST /v1/transactions` as `session`.
pub fn post_sale(session: &Session, body: &Value) -> ApiResponse {
    api().post("/v1/transactions").bearer(&session.access_token).json(body)
}

/// Current time as RFC 3339 UTC with whole seconds.
pub fn now_rfc3339() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("system clock is after 1970")
        .as_secs();
    let time = chrono::DateTime::from_timestamp(seconds as i64, 0).expect("current time is representable");
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Reads an integer field, panicking with the whole body when it is missing.
#[track_caller]
pub fn int_field(body: &Value, field: &str) -> i64 {
    match body[field].as_i64() {
        Some(value) => value,
        None => panic!("expected integer field {field:?} in {body}"),
    }
}

/// Reads a string field, panicking with the whole body when it is missing.
#[track_caller]
pub fn string_field(body: &Value, field: &str) -> String {
    match body[field].as_str() {
        Some(value) => value.to_string(),
        None => panic!("expected string field {field:?} in {body}"),
    }
}

/// Returns the error detail with `code`, panicking with the body when there is none.
#[track_caller]
pub fn detail_with_code(response: &ApiResponse, code: &str) -> Value {
    match response
        .error_details()
        .into_iter()
        .find(|detail| detail["code"] == json!(code))
    {
        Some(detail) => detail,
        None => panic!(
            "{} {}: expected an error detail with code {code:?}, got HTTP {} {}",
            response.method, response.path, response.status, response.text
        ),
    }
}
