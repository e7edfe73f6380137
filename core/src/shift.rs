//! Cash drawer arithmetic of a shift: the cash the drawer should hold, the difference from the
//! count at closing, and the takings per payment method.
//!
//! The figures cover the sales that carry the shift's id and are not voided, and the refunds of
//! those sales:
//!
//! - `expected_cash` = opening float + cash received − change given − cash refunded;
//! - `difference` = counted cash − expected cash (negative when the drawer is short);
//! - `totals_by_method` = each method's payments, with the change taken off cash.
//!
//! Pending payments (a QRIS payment taken offline and not yet confirmed) count under their
//! method like paid ones, because a sale's payments cover its total whatever their status. A
//! pending QRIS payment is money the provider still owes, so it never touches the cash figures.
//! Refunds reduce `expected_cash` only when paid back in cash; `totals_by_method` does not
//! subtract refunds of any method.

use serde_json::{Map, Value};

use crate::money::{PaymentMethod, MAX_SAFE_INTEGER};

/// A shift figure that does not fit the JSON-safe integer range, or a stored sale whose
/// payments cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShiftError {
    /// The named figure is above 2^53 − 1 or below −(2^53 − 1).
    TooLarge(&'static str),
    /// The stored `payments` JSON of a sale is not an array of `{method, amount}`.
    InvalidStoredPayments(String),
}

impl std::fmt::Display for ShiftError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShiftError::TooLarge(figure) => write!(f, "shift figure {figure} is outside ±(2^53 − 1)"),
            ShiftError::InvalidStoredPayments(cause) => write!(f, "stored sale payments are invalid: {cause}"),
        }
    }
}

impl std::error::Error for ShiftError {}

/// One payment of a sale in the shift. Its `paid` or `pending` status does not change how it
/// counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShiftPayment {
    pub method: PaymentMethod,
    pub amount: i64,
}

/// A sale of the shift that is not voided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShiftSale {
    pub payments: Vec<ShiftPayment>,
    /// Cash handed back to the customer: payments − total.
    pub change: i64,
}

/// A refund of one of the shift's sales, paid back with `method`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShiftRefund {
    pub method: PaymentMethod,
    pub amount: i64,
}

/// Amounts per payment method, every method present (zero when unused).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MethodTotals([i64; 5]);

impl MethodTotals {
    pub fn get(&self, method: PaymentMethod) -> i64 {
        self.0[method_index(method)]
    }

    /// Builds the API's `totals_by_method` object: `{"cash": …, "qris": …, …}`.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        for method in PaymentMethod::ALL {
            object.insert(method.as_str().to_string(), Value::from(self.get(method)));
        }
        Value::Object(object)
    }
}

fn method_index(method: PaymentMethod) -> usize {
    match method {
        PaymentMethod::Cash => 0,
        PaymentMethod::Qris => 1,
        PaymentMethod::Card => 2,
        PaymentMethod::Transfer => 3,
        PaymentMethod::Ewallet => 4,
    }
}

/// The running figures of a shift, before its cash is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShiftFigures {
    /// Cash the drawer should hold. Negative when cash refunds exceed the float and takings.
    pub expected_cash: i64,
    pub totals_by_method: MethodTotals,
}

/// The figures a shift is closed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClosingFigures {
    pub expected_cash: i64,
    pub counted_cash: i64,
    /// counted − expected: negative when cash is missing, positive when there is extra.
    pub difference: i64,
    pub totals_by_method: MethodTotals,
}

/// Computes the expected cash and the totals per method of a shift.
///
/// `sales` are the shift's sales that are not voided, and `refunds` are the refunds of those
/// sales.
///
/// # Errors
/// [`ShiftError::TooLarge`] when a figure leaves the JSON-safe integer range.
pub fn shift_figures(
    opening_float: i64,
    sales: &[ShiftSale],
    refunds: &[ShiftRefund],
) -> Result<ShiftFigures, ShiftError> {
    // Sums run in i128 so that no number of sales can overflow before the range check.
    let mut by_method = [0_i128; 5];
    for sale in sales {
        for payment in &sale.payments {
            by_method[method_index(payment.method)] += i128::from(payment.amount);
        }
        by_method[method_index(PaymentMethod::Cash)] -= i128::from(sale.change);
    }
    let cash_refunded: i128 = refunds
        .iter()
        .filter(|refund| refund.method == PaymentMethod::Cash)
        .map(|refund| i128::from(refund.amount))
        .sum();
    let expected_cash = i128::from(opening_float) + by_method[method_index(PaymentMethod::Cash)] - cash_refunded;

    let mut totals = [0_i64; 5];
    for (total, sum) in totals.iter_mut().zip(by_method) {
        *total = to_safe(sum, "totals_by_method")?;
    }
    Ok(ShiftFigures {
        expected_cash: to_safe(expected_cash, "expected_cash")?,
        totals_by_method: MethodTotals(totals),
    })
}

/// Adds the cash counted at closing to a shift's figures.
///
/// # Errors
/// [`ShiftError::TooLarge`] when the difference leaves the JSON-safe integer range.
pub fn close_figures(figures: ShiftFigures, counted_cash: i64) -> Result<ClosingFigures, ShiftError> {
    let difference = i128::from(counted_cash) - i128::from(figures.expected_cash);
    Ok(ClosingFigures {
        expected_cash: figures.expected_cash,
        counted_cash,
        difference: to_safe(difference, "difference")?,
        totals_by_method: figures.totals_by_method,
    })
}

/// Parses the `payments` column of a stored sale: a JSON array of `{method, amount, ...}`.
///
/// # Errors
/// [`ShiftError::InvalidStoredPayments`] when the text is not such an array.
pub fn parse_stored_payments(text: &str) -> Result<Vec<ShiftPayment>, ShiftError> {
    let invalid = |cause: &str| ShiftError::InvalidStoredPayments(cause.to_string());
    let value: Value = serde_json::from_str(text).map_err(|error| invalid(&error.to_string()))?;
    let list = value.as_array().ok_or_else(|| invalid("not an array"))?;
    list.iter()
        .map(|payment| {
            let method = payment["method"]
                .as_str()
                .and_then(PaymentMethod::parse)
                .ok_or_else(|| invalid(&format!("unknown method in {payment}")))?;
            let amount = payment["amount"]
                .as_i64()
                .ok_or_else(|| invalid(&format!("amount is not an integer in {payment}")))?;
            Ok(ShiftPayment { method, amount })
        })
        .collect()
}

fn to_safe(value: i128, figure: &'static str) -> Result<i64, ShiftError> {
    if value.abs() > i128::from(MAX_SAFE_INTEGER) {
        return Err(ShiftError::TooLarge(figure));
    }
    // The range check above makes the narrowing exact.
    Ok(value as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use PaymentMethod::{Card, Cash, Ewallet, Qris, Transfer};

    fn pay(method: PaymentMethod, amount: i64) -> ShiftPayment {
        ShiftPayment { method, amount }
    }

    fn sale(payments: &[ShiftPayment], change: i64) -> ShiftSale {
        ShiftSale {
            payments: payments.to_vec(),
            change,
        }
    }

    fn refund(method: PaymentMethod, amount: i64) -> ShiftRefund {
        ShiftRefund { method, amount }
    }

    #[test]
    fn empty_shift_expects_its_float() {
        let figures = shift_figures(150_000, &[], &[]).expect("fits");

        assert_eq!(figures.expected_cash, 150_000);
        for method in PaymentMethod::ALL {
            assert_eq!(figures.totals_by_method.get(method), 0, "{method:?}");
        }
    }

    #[test]
    fn mixed_payments_net_change_from_cash() {
        // Sale 1: total 38,000 paid with 50,000 cash, change 12,000.
        // Sale 2: total 15,000 by QRIS.
        // Sale 3: total 8,000 by card.
        // Sale 4: total 46,000 paid 20,000 QRIS + 30,000 cash, change 4,000.
        let sales = [
            sale(&[pay(Cash, 50_000)], 12_000),
            sale(&[pay(Qris, 15_000)], 0),
            sale(&[pay(Card, 8_000)], 0),
            sale(&[pay(Qris, 20_000), pay(Cash, 30_000)], 4_000),
        ];

        let figures = shift_figures(200_000, &sales, &[]).expect("fits");

        // 200,000 + (50,000 + 30,000) − (12,000 + 4,000) = 264,000.
        assert_eq!(figures.expected_cash, 264_000);
        let totals = figures.totals_by_method;
        assert_eq!(totals.get(Cash), 64_000);
        assert_eq!(totals.get(Qris), 35_000);
        assert_eq!(totals.get(Card), 8_000);
        assert_eq!(totals.get(Transfer), 0);
        assert_eq!(totals.get(Ewallet), 0);
    }

    #[test]
    fn totals_by_method_sum_to_sale_totals() {
        // Totals 38,000 + 46,000 + 12,500 = 96,500.
        let sales = [
            sale(&[pay(Cash, 50_000)], 12_000),
            sale(&[pay(Transfer, 26_000), pay(Cash, 20_000)], 0),
            sale(&[pay(Ewallet, 10_000), pay(Cash, 5_000)], 2_500),
        ];

        let figures = shift_figures(0, &sales, &[]).expect("fits");

        let totals = figures.totals_by_method;
        let sum: i64 = PaymentMethod::ALL.iter().map(|method| totals.get(*method)).sum();
        assert_eq!(sum, 96_500);
        assert_eq!(totals.get(Cash), 60_500);
        assert_eq!(totals.get(Transfer), 26_000);
        assert_eq!(totals.get(Ewallet), 10_000);
        assert_eq!(figures.expected_cash, 60_500);
    }

    #[test]
    fn pending_qris_counts_as_qris_not_cash() {
        // A 15,000 sale paid by QRIS taken offline, still pending, beside a 10,000 cash sale.
        let sales = [sale(&[pay(Qris, 15_000)], 0), sale(&[pay(Cash, 10_000)], 0)];

        let figures = shift_figures(50_000, &sales, &[]).expect("fits");

        assert_eq!(figures.expected_cash, 60_000);
        assert_eq!(figures.totals_by_method.get(Qris), 15_000);
        assert_eq!(figures.totals_by_method.get(Cash), 10_000);
    }

    #[test]
    fn cash_refund_reduces_expected_cash_only() {
        // A 38,000 cash sale, then 8,000 of it refunded in cash.
        let sales = [sale(&[pay(Cash, 38_000)], 0)];
        let refunds = [refund(Cash, 8_000)];

        let figures = shift_figures(100_000, &sales, &refunds).expect("fits");

        // 100,000 + 38,000 − 8,000 = 130,000.
        assert_eq!(figures.expected_cash, 130_000);
        assert_eq!(figures.totals_by_method.get(Cash), 38_000);
    }

    #[test]
    fn non_cash_refund_leaves_cash_alone() {
        let sales = [sale(&[pay(Qris, 20_000)], 0), sale(&[pay(Cash, 5_000)], 0)];
        let refunds = [refund(Qris, 20_000)];

        let figures = shift_figures(10_000, &sales, &refunds).expect("fits");

        assert_eq!(figures.expected_cash, 15_000);
        assert_eq!(figures.totals_by_method.get(Qris), 20_000);
    }

    #[test]
    fn several_cash_refunds_add_up() {
        let sales = [sale(&[pay(Cash, 60_000)], 0)];
        let refunds = [refund(Cash, 8_000), refund(Cash, 15_000), refund(Card, 7_000)];

        let figures = shift_figures(0, &sales, &refunds).expect("fits");

        // 60,000 − 8,000 − 15,000 = 37,000. The card refund does not count.
        assert_eq!(figures.expected_cash, 37_000);
    }

    #[test]
    fn cash_refund_of_card_sale_can_go_negative() {
        // A 50,000 card sale refunded in cash from a drawer that opened with 20,000.
        let sales = [sale(&[pay(Card, 50_000)], 0)];
        let refunds = [refund(Cash, 50_000)];

        let figures = shift_figures(20_000, &sales, &refunds).expect("fits");

        assert_eq!(figures.expected_cash, -30_000);
    }

    #[test]
    fn closing_difference_is_counted_minus_expected() {
        let sales = [sale(&[pay(Cash, 50_000)], 12_000)];
        let figures = shift_figures(100_000, &sales, &[]).expect("fits");
        assert_eq!(figures.expected_cash, 138_000);

        let short = close_figures(figures, 137_500).expect("fits");
        assert_eq!(short.counted_cash, 137_500);
        assert_eq!(short.expected_cash, 138_000);
        assert_eq!(short.difference, -500);
        assert_eq!(short.totals_by_method, figures.totals_by_method);

        let exact = close_figures(figures, 138_000).expect("fits");
        assert_eq!(exact.difference, 0);

        let over = close_figures(figures, 140_000).expect("fits");
        assert_eq!(over.difference, 2_000);
    }

    #[test]
    fn figures_past_safe_range_are_errors() {
        let sales = [
            sale(&[pay(Cash, MAX_SAFE_INTEGER)], 0),
            sale(&[pay(Cash, MAX_SAFE_INTEGER)], 0),
        ];
        assert_eq!(
            shift_figures(0, &sales, &[]),
            Err(ShiftError::TooLarge("totals_by_method"))
        );

        let one_sale = [sale(&[pay(Cash, MAX_SAFE_INTEGER)], 0)];
        assert_eq!(
            shift_figures(1, &one_sale, &[]),
            Err(ShiftError::TooLarge("expected_cash"))
        );

        let figures = shift_figures(0, &[], &[refund(Cash, MAX_SAFE_INTEGER)]).expect("fits");
        assert_eq!(figures.expected_cash, -MAX_SAFE_INTEGER);
        assert_eq!(close_figures(figures, 1), Err(ShiftError::TooLarge("difference")));
    }

    #[test]
    fn totals_json_lists_every_method() {
        let sales = [sale(&[pay(Cash, 10_000), pay(Qris, 5_000)], 1_000)];
        let figures = shift_figures(0, &sales, &[]).expect("fits");

        assert_eq!(
            figures.totals_by_method.to_json(),
            json!({"cash": 9_000, "qris": 5_000, "card": 0, "transfer": 0, "ewallet": 0})
        );
    }

    #[test]
    fn stored_payments_parse() {
        let text = r#"[{"method":"cash","amount":50000,"reference":null,"status":"paid"},
                       {"method":"qris","amount":15000,"reference":"QR-1","status":"pending"}]"#;

        let payments = parse_stored_payments(text).expect("valid");

        assert_eq!(payments, vec![pay(Cash, 50_000), pay(Qris, 15_000)]);
    }

    #[test]
    fn malformed_stored_payments_are_errors() {
        for text in [
            "",
            "{}",
            "not json",
            r#"[{"method":"cheque","amount":1}]"#,
            r#"[{"method":"cash"}]"#,
            r#"[{"method":"cash","amount":1.5}]"#,
            r#"[{"amount":1}]"#,
        ] {
            assert!(
                matches!(parse_stored_payments(text), Err(ShiftError::InvalidStoredPayments(_))),
                "payments {text:?}"
            );
        }
        assert_eq!(parse_stored_payments("[]"), Ok(Vec::new()));
    }
}
