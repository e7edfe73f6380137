//! Turns a sale of the bakery POS log into a `POST /v1/transactions` body: the basket priced
//! from the terminal's local catalog with the server's own rules, and an invented payment mix
//! (cash with change, QRIS, card, transfer, e-wallet, split).

use kasir_core::money::{compute_sale, LineInput, PaymentInput, PaymentMethod, TaxSettings};
use kasir_tests::bakery_catalog;
use kasir_tests::pos_log::{self, LoggedSale};
use serde_json::{json, Value};

use crate::store::LocalStore;

/// Cash handed over is rounded up to this many rupiah, so most cash sales give change.
const CASH_ROUNDING: i64 = 5_000;
/// Split payments put this share of the total, in percent, on the e-wallet.
const SPLIT_EWALLET_PERCENT: i64 = 60;
/// Placeholder cash that covers any basket, used to learn the total before choosing payments.
const PLACEHOLDER_CASH: i64 = 1_000_000_000_000;

/// SKU the bakery catalog's item at `index` (0-based) gets when the simulator seeds it.
pub fn bakery_sku(index: usize) -> String {
    format!("RS-{:03}", index + 1)
}

/// A priced sale, ready to send or queue.
#[derive(Debug, Clone)]
pub struct SaleDraft {
    pub id: String,
    pub body: Value,
    pub total: i64,
    pub change: i64,
    /// Payment methods in order, such as `["ewallet", "cash"]`.
    pub methods: Vec<&'static str>,
    /// Log items the local catalog had no active product for; their lines were left out.
    pub skipped_items: Vec<String>,
}

/// Outlet, device and receipt number of the sale being rung up.
pub struct Till<'a> {
    pub outlet_id: &'a str,
    pub device_id: &'a str,
    pub receipt_no: &'a str,
}

/// Picks a payment mix for `total`: 55 % cash (rounded up, with change), 20 % QRIS, 10 %
/// card, 5 % transfer, 5 % e-wallet and 5 % e-wallet plus cash. The shares are invented.
pub fn choose_payments(total: i64, rng: &mut fastrand::Rng) -> Vec<PaymentInput> {
    let exact = |method| vec![PaymentInput { method, amount: total }];
    match rng.u32(0..100) {
        0..=54 => {
            let handed_over = (total + CASH_ROUNDING - 1) / CASH_ROUNDING * CASH_ROUNDING;
            vec![PaymentInput {
                method: PaymentMethod::Cash,
                amount: handed_over.max(total),
            }]
        }
        55..=74 => exact(PaymentMethod::Qris),
        75..=84 => exact(PaymentMethod::Card),
        85..=89 => exact(PaymentMethod::Transfer),
        90..=94 => exact(PaymentMethod::Ewallet),
        _ => {
            let ewallet = total * SPLIT_EWALLET_PERCENT / 100;
            if ewallet == 0 || ewallet == total {
                return exact(PaymentMethod::Cash);
            }
            let rest = total - ewallet;
            let cash = (rest + 999) / 1000 * 1000;
            vec![
                PaymentInput {
                    method: PaymentMethod::Ewallet,
                    amount: ewallet,
                },
                PaymentInput {
                    method: PaymentMethod::Cash,
                    amount: cash,
                },
            ]
        }
    }
}

/// Builds the sale of `logged` from the products in `store`, matched through the bakery
/// catalog's SKUs. Returns `Ok(None)` when no item of the basket is on sale locally.
///
/// # Errors
/// Fails when the log's date or time is malformed or the pricing rules reject the basket.
pub fn build_sale(
    store: &LocalStore,
    logged: &LoggedSale,
    till: &Till,
    tax: &TaxSettings,
    rng: &mut fastrand::Rng,
) -> Result<Option<SaleDraft>, String> {
    let mut items = Vec::new();
    let mut lines = Vec::new();
    let mut skipped_items = Vec::new();
    for (item_name, quantity) in &logged.lines {
        let product = bakery_catalog::ITEMS
            .iter()
            .position(|item| item.log_name == item_name.trim())
            .and_then(|index| store.product_by_sku(&bakery_sku(index)))
            .filter(|product| product.is_active);
        let Some(product) = product else {
            skipped_items.push(item_name.clone());
            continue;
        };
        items.push(json!({
            "product_id": product.id,
            "qty": quantity,
            "unit_price": product.price,
            "discount": 0,
        }));
        lines.push(LineInput {
            qty_milli: i64::from(*quantity) * 1000,
            unit_price: product.price,
            discount: 0,
        });
    }
    if lines.is_empty() {
        return Ok(None);
    }

    let placeholder = [PaymentInput {
        method: PaymentMethod::Cash,
        amount: PLACEHOLDER_CASH,
    }];
    let total = compute_sale(&lines, 0, &placeholder, tax)
        .map_err(|error| format!("log sale {}: {error}", logged.transaction))?
        .total;
    let payments = choose_payments(total, rng);
    let figures =
        compute_sale(&lines, 0, &payments, tax).map_err(|error| format!("log sale {}: {error}", logged.transaction))?;

    let id = uuid::Uuid::new_v4().to_string();
    let payments_json: Vec<Value> = payments
        .iter()
        .map(|payment| json!({"method": payment.method.as_str(), "amount": payment.amount, "status": "paid"}))
        .collect();
    let body = json!({
        "id": id,
        "outlet_id": till.outlet_id,
        "device_id": till.device_id,
        "receipt_no": till.receipt_no,
        "created_at": pos_log::jakarta_to_utc(&logged.date, &logged.time)?,
        "items": items,
        "discount": 0,
        "payments": payments_json,
        "subtotal": figures.subtotal,
        "tax": figures.tax,
        "total": figures.total,
        "note": format!("Nota asli #{}", logged.transaction),
    });
    Ok(Some(SaleDraft {
        id,
        body,
        total: figures.total,
        change: figures.change,
        methods: payments.iter().map(|payment| payment.method.as_str()).collect(),
        skipped_items,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalProduct;

    fn bakery_store() -> LocalStore {
        let mut store = LocalStore::default();
        for (index, item) in bakery_catalog::ITEMS.iter().enumerate() {
            store.put_product(LocalProduct {
                id: format!("id-{index}"),
                name: item.name.to_string(),
                sku: Some(bakery_sku(index)),
                price: item.price,
                is_active: true,
                version: Some(1),
            });
        }
        store
    }

    fn logged(lines: &[(&str, u32)]) -> LoggedSale {
        LoggedSale {
            transaction: "42".to_string(),
            date: "04-02-2017".to_string(),
            time: "09:15:00".to_string(),
            lines: lines.iter().map(|(item, qty)| (item.to_string(), *qty)).collect(),
        }
    }

    const TILL: Till<'static> = Till {
        outlet_id: "outlet",
        device_id: "device",
        receipt_no: "PUSAT-AB12-170204-0001",
    };

    #[test]
    fn build_sale_prices_basket_from_store() {
        let store = bakery_store();
        let mut rng = fastrand::Rng::with_seed(7);

        let draft = build_sale(
            &store,
            &logged(&[("Coffee", 2), ("Bread", 1)]),
            &TILL,
            &TaxSettings::off(),
            &mut rng,
        )
        .unwrap()
        .unwrap();

        assert_eq!(draft.total, 2 * 22_000 + 18_000);
        assert_eq!(draft.body["items"][0]["unit_price"], 22_000);
        assert_eq!(draft.body["created_at"], "2017-02-04T02:15:00Z");
        let paid: i64 = draft.body["payments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|payment| payment["amount"].as_i64().unwrap())
            .sum();
        assert_eq!(paid - draft.change, draft.total);
    }

    #[test]
    fn build_sale_skips_inactive_products() {
        let mut store = bakery_store();
        let bread = store.product_by_sku(&bakery_sku(1)).unwrap().id.clone();
        store.update_product(&bread, |product| product.is_active = false);
        let mut rng = fastrand::Rng::with_seed(7);

        let draft = build_sale(
            &store,
            &logged(&[("Coffee", 1), ("Bread", 1)]),
            &TILL,
            &TaxSettings::off(),
            &mut rng,
        )
        .unwrap()
        .unwrap();
        let only_bread = build_sale(&store, &logged(&[("Bread", 1)]), &TILL, &TaxSettings::off(), &mut rng).unwrap();

        assert_eq!(draft.total, 22_000);
        assert_eq!(draft.skipped_items, vec!["Bread".to_string()]);
        assert!(only_bread.is_none());
    }

    #[test]
    fn choose_payments_always_cover_total() {
        let mut rng = fastrand::Rng::with_seed(1);
        let mut methods = std::collections::HashSet::new();
        for total in (1..400).map(|step| step * 1_250) {
            let payments = choose_payments(total, &mut rng);
            let lines = [LineInput {
                qty_milli: 1000,
                unit_price: total,
                discount: 0,
            }];

            assert!(
                compute_sale(&lines, 0, &payments, &TaxSettings::off()).is_ok(),
                "{payments:?} for {total}"
            );
            methods.extend(payments.iter().map(|payment| payment.method.as_str()));
        }
        assert_eq!(methods.len(), 5, "every method appears: {methods:?}");
    }
}
