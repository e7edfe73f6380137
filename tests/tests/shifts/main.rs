//! End-to-end tests of cash drawer shifts against one real `wrangler dev`: opening, the closing
//! arithmetic over sales, voids and refunds, and who may see and close which shift.
//!
//! Every test provisions its own tenant, so tests run in parallel and in any order.

mod access;
mod close;
mod open;
mod returns;

use std::time::{SystemTime, UNIX_EPOCH};

use kasir_tests::{
    create_product, create_user_session, login_owner, new_id, provision_tenant, server, Api, ApiResponse, Session,
    TenantFixture,
};
use serde_json::{json, Value};

pub fn api() -> Api {
    server().api()
}

/// Price of a coffee in rupiah.
pub const COFFEE_PRICE: i64 = 15_000;
/// Price of a bread in rupiah.
pub const BREAD_PRICE: i64 = 8_000;

/// A tenant with its owner (no device), one kasir on a device, and two products.
pub struct ShiftShop {
    pub tenant: TenantFixture,
    pub owner: Session,
    pub kasir: Session,
    pub coffee_id: String,
    pub bread_id: String,
}

#[track_caller]
pub fn shift_shop(code_prefix: &str) -> ShiftShop {
    let api = api();
    let tenant = provision_tenant(&api, &server().admin_token, code_prefix);
    let owner = login_owner(&api, &tenant, None);
    let coffee = create_product(&api, &owner, "Kopi Tubruk", COFFEE_PRICE);
    let bread = create_product(&api, &owner, "Roti Bakar", BREAD_PRICE);
    let (_, kasir) = create_user_session(&api, &tenant, &owner, "kasir", "Tablet Kasir");
    ShiftShop {
        tenant,
        owner,
        kasir,
        coffee_id: string_field(&coffee, "id"),
        bread_id: string_field(&bread, "id"),
    }
}

impl ShiftShop {
    pub fn outlet_id(&self) -> &str {
        &self.tenant.default_outlet_id
    }

    /// Creates another user with `role`, logged in on a new device.
    #[track_caller]
    pub fn new_user(&self, role: &str, device_name: &str) -> Session {
        let (_, session) = create_user_session(&api(), &self.tenant, &self.owner, role, device_name);
        session
    }

    /// Sends `POST /v1/shifts` at the default outlet.
    pub fn try_open(&self, session: &Session, opening_float: i64) -> ApiResponse {
        api()
            .post("/v1/shifts")
            .bearer(&session.access_token)
            .json(&json!({"outlet_id": self.outlet_id(), "opening_float": opening_float}))
    }

    /// Opens a shift at the default outlet and returns it. Panics unless the status is 201.
    #[track_caller]
    pub fn open(&self, session: &Session, opening_float: i64) -> Value {
        let response = self.try_open(session, opening_float);
        response.expect_status(201);
        response.json.clone()
    }

    pub fn close(&self, session: &Session, shift_id: &str, counted_cash: i64) -> ApiResponse {
        api()
            .post(&format!("/v1/shifts/{shift_id}/close"))
            .bearer(&session.access_token)
            .json(&json!({"counted_cash": counted_cash}))
    }

    pub fn show(&self, session: &Session, shift_id: &str) -> ApiResponse {
        api()
            .get(&format!("/v1/shifts/{shift_id}"))
            .bearer(&session.access_token)
            .send()
    }

    /// Records a sale by `session` on its device, in `shift_id` when given, and returns the
    /// stored sale. `lines` are (product id, quantity, unit price). Panics unless the status
    /// is 201.
    #[track_caller]
    pub fn sell(
        &self,
        session: &Session,
        shift_id: Option<&str>,
        lines: &[(&str, i64, i64)],
        payments: Value,
    ) -> Value {
        let items: Vec<Value> = lines
            .iter()
            .map(|(product_id, qty, unit_price)| {
                json!({"product_id": product_id, "qty": qty, "unit_price": unit_price, "discount": 0})
            })
            .collect();
        let mut body = json!({
            "id": new_id(),
            "outlet_id": self.outlet_id(),
            "device_id": session.device(),
            "receipt_no": format!("PUSAT-TEST-260101-{}", &new_id()[..8]),
            "created_at": now_rfc3339(),
            "items": items,
            "discount": 0,
            "payments": payments,
        });
        if let Some(shift_id) = shift_id {
            body["shift_id"] = json!(shift_id);
        }
        let response = api().post("/v1/transactions").bearer(&session.access_token).json(&body);
        response.expect_status(201);
        response.json.clone()
    }
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

/// Returns the `id` of each item, in order.
pub fn ids_of(items: &[Value]) -> Vec<String> {
    items.iter().map(|item| string_field(item, "id")).collect()
}
