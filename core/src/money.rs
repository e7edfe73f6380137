//! Integer money for sales: whole rupiah in `i64`, quantities in thousandths.
//!
//! Every amount stays at or below [`MAX_SAFE_INTEGER`] (2^53 − 1), the largest integer a
//! JavaScript client reads exactly from a JSON number. Intermediate products run in `i128`,
//! each rounding is half up on exact rationals, and no float takes part in any figure.

use std::fmt;

use serde_json::Value;

/// Largest integer that an IEEE 754 double, and so a JavaScript number, represents exactly:
/// 2^53 − 1.
pub const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;

/// Largest quantity in thousandths that [`parse_qty`] accepts (about 9 billion units).
pub const MAX_QTY_MILLI: i64 = MAX_SAFE_INTEGER / 1000;

/// Largest tax rate in basis points (100 %).
pub const MAX_RATE_BPS: i64 = 10_000;

/// Largest DPP numerator or denominator. The bound keeps every tax product inside `i128`.
pub const MAX_DPP_TERM: i64 = 1_000_000;

/// Maximum length of the decimal text that [`parse_qty`] reads. A quantity within
/// [`MAX_QTY_MILLI`] needs at most 14 characters.
const MAX_QTY_TEXT_LEN: usize = 64;

/// Rejection of a set of sale figures. Each variant carries the offending index or figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoneyError {
    /// The sale has no lines.
    NoItems,
    /// The sale has a total above 0 but no payments.
    NoPayments,
    /// A quantity that is not a JSON number above 0 with at most 3 decimals and at most
    /// [`MAX_QTY_MILLI`] thousandths. `index` is the sale line, when known.
    InvalidQuantity { index: Option<usize> },
    /// An input amount below 0. `field` is its JSON path, such as `items[2].discount`.
    NegativeAmount { field: String, value: i64 },
    /// An input or computed amount above [`MAX_SAFE_INTEGER`]. `field` is its JSON path.
    TooLarge { field: String },
    /// A payment of 0.
    ZeroPayment { index: usize },
    /// A line discount larger than round(qty × unit_price) of its line.
    LineDiscountExceedsLine {
        index: usize,
        discount: i64,
        line_amount: i64,
    },
    /// A sale-level discount larger than the subtotal.
    DiscountExceedsSubtotal { discount: i64, subtotal: i64 },
    /// Payments that add up to less than the total.
    Underpaid { total: i64, paid: i64 },
    /// Payments above the total with no cash payment to give change from.
    OverpaidWithoutCash { total: i64, paid: i64 },
    /// Change (paid − total) larger than the cash paid.
    ChangeExceedsCash { change: i64, cash: i64 },
    /// Tax settings out of range. `reason` names the broken rule.
    InvalidTaxSettings { reason: &'static str },
}

impl MoneyError {
    /// Returns the JSON path of the offending request field, for the `field` of an error detail.
    pub fn field(&self) -> String {
        match self {
            MoneyError::NoItems => "items".to_string(),
            MoneyError::NoPayments => "payments".to_string(),
            MoneyError::InvalidQuantity { index: None } => "qty".to_string(),
            MoneyError::InvalidQuantity { index: Some(index) } => format!("items[{index}].qty"),
            MoneyError::NegativeAmount { field, .. } => field.clone(),
            MoneyError::TooLarge { field } => field.clone(),
            MoneyError::ZeroPayment { index } => format!("payments[{index}].amount"),
            MoneyError::LineDiscountExceedsLine { index, .. } => {
                format!("items[{index}].discount")
            }
            MoneyError::DiscountExceedsSubtotal { .. } => "discount".to_string(),
            MoneyError::Underpaid { .. }
            | MoneyError::OverpaidWithoutCash { .. }
            | MoneyError::ChangeExceedsCash { .. } => "payments".to_string(),
            MoneyError::InvalidTaxSettings { .. } => "tax".to_string(),
        }
    }

    /// Returns the stable snake_case code for the `code` of an error detail.
    pub fn code(&self) -> &'static str {
        match self {
            MoneyError::NoItems => "no_items",
            MoneyError::NoPayments => "no_payments",
            MoneyError::InvalidQuantity { .. } => "invalid_quantity",
            MoneyError::NegativeAmount { .. } => "negative_amount",
            MoneyError::TooLarge { .. } => "too_large",
            MoneyError::ZeroPayment { .. } => "zero_payment",
            MoneyError::LineDiscountExceedsLine { .. } => "line_discount_exceeds_line",
            MoneyError::DiscountExceedsSubtotal { .. } => "discount_exceeds_subtotal",
            MoneyError::Underpaid { .. } => "underpaid",
            MoneyError::OverpaidWithoutCash { .. } => "overpaid_without_cash",
            MoneyError::ChangeExceedsCash { .. } => "change_exceeds_cash",
            MoneyError::InvalidTaxSettings { .. } => "invalid_tax_settings",
        }
    }

    /// Ties a quantity error from [`parse_qty`] to sale line `index`, so that
    /// [`field`](Self::field) names `items[index].qty`. Other errors pass through unchanged.
    pub fn at_item(self, index: usize) -> Self {
        match self {
            MoneyError::InvalidQuantity { .. } => MoneyError::InvalidQuantity { index: Some(index) },
            other => other,
        }
    }
}

impl fmt::Display for MoneyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MoneyError::NoItems => write!(f, "a sale needs at least one item"),
            MoneyError::NoPayments => write!(f, "a sale with a total above 0 needs a payment"),
            MoneyError::InvalidQuantity { .. } => write!(
                f,
                "quantity must be a number above 0 with at most 3 decimals and at most {}.{:03}",
                MAX_QTY_MILLI / 1000,
                MAX_QTY_MILLI % 1000
            ),
            MoneyError::NegativeAmount { field, value } => {
                write!(f, "{field} must not be negative, got {value}")
            }
            MoneyError::TooLarge { field } => {
                write!(f, "{field} exceeds the maximum amount {MAX_SAFE_INTEGER}")
            }
            MoneyError::ZeroPayment { index } => {
                write!(f, "payments[{index}].amount must be above 0")
            }
            MoneyError::LineDiscountExceedsLine {
                index,
                discount,
                line_amount,
            } => write!(
                f,
                "items[{index}].discount {discount} exceeds the line amount {line_amount}"
            ),
            MoneyError::DiscountExceedsSubtotal { discount, subtotal } => {
                write!(f, "discount {discount} exceeds the subtotal {subtotal}")
            }
            MoneyError::Underpaid { total, paid } => {
                write!(f, "payments of {paid} do not cover the total {total}")
            }
            MoneyError::OverpaidWithoutCash { total, paid } => write!(
                f,
                "payments of {paid} exceed the total {total}, which only a cash payment allows"
            ),
            MoneyError::ChangeExceedsCash { change, cash } => {
                write!(f, "change {change} exceeds the cash paid {cash}")
            }
            MoneyError::InvalidTaxSettings { reason } => {
                write!(f, "invalid tax settings: {reason}")
            }
        }
    }
}

impl std::error::Error for MoneyError {}

/// Parses a sale quantity into thousandths (1.5 kg = 1500).
///
/// Only a JSON number is accepted, never a string. The value must be above 0, have at most 3
/// decimals and be at most [`MAX_QTY_MILLI`] thousandths. The number's decimal text is read
/// digit by digit, so `1.005` is exactly 1005 and `0.0001` is rejected, never rounded.
pub fn parse_qty(value: &Value) -> Result<i64, MoneyError> {
    let invalid = MoneyError::InvalidQuantity { index: None };
    let Value::Number(number) = value else {
        return Err(invalid);
    };

    // serde_json prints an integer as its digits and a float as the shortest text that reads
    // back to the same double. For a client number of at most 15 significant digits, that text
    // has exactly the client's value.
    let text = number.to_string();
    match parse_decimal_milli(&text) {
        Some(milli) if milli > 0 && milli <= MAX_QTY_MILLI => Ok(milli),
        _ => Err(invalid),
    }
}

/// Reads decimal text such as `1.5`, `-2`, `1e3` or `1.5E-2` as an exact count of thousandths.
/// Returns `None` for text that is not a number, has a nonzero digit past the third decimal,
/// or does not fit in `i64`.
fn parse_decimal_milli(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > MAX_QTY_TEXT_LEN {
        return None;
    }

    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(position) => {
            // i32::from_str accepts an optional leading `+` or `-`.
            let exponent_text = &unsigned[position + 1..];
            (&unsigned[..position], exponent_text.parse::<i32>().ok()?)
        }
        None => (unsigned, 0),
    };
    let (integer_part, fraction_part) = match mantissa.split_once('.') {
        Some((integer_part, fraction_part)) => (integer_part, fraction_part),
        None => (mantissa, ""),
    };
    if integer_part.is_empty()
        || !integer_part.bytes().all(|byte| byte.is_ascii_digit())
        || !fraction_part.bytes().all(|byte| byte.is_ascii_digit())
    {
        return None;
    }

    // The value is digits × 10^power. Trailing zeros move into the power, so `1.500` reads
    // like `1.5` and a power below 0 means a nonzero digit past the third decimal.
    let all_digits = format!("{integer_part}{fraction_part}");
    let significant = all_digits.trim_start_matches('0');
    let trimmed = significant.trim_end_matches('0');
    if trimmed.is_empty() {
        return Some(0);
    }
    let trailing_zeros = (significant.len() - trimmed.len()) as i64;
    let power = 3 - fraction_part.len() as i64 + i64::from(exponent) + trailing_zeros;
    if !(0..=38).contains(&power) || trimmed.len() > 38 {
        return None;
    }

    let digits: i128 = trimmed.parse().ok()?;
    let scale = 10_i128.checked_pow(u32::try_from(power).ok()?)?;
    let magnitude = digits.checked_mul(scale)?;
    let signed = if negative { -magnitude } else { magnitude };
    i64::try_from(signed).ok()
}

/// Formats a quantity in thousandths as a JSON number: 1500 becomes `1.5`, 2000 becomes `2`.
///
/// Whole quantities become JSON integers. A fractional one becomes the double nearest to it.
/// Below 2^43 units the spacing of doubles is under 0.001, so serde_json's shortest
/// round-trip text is exactly the 3-decimal value. Every quantity [`parse_qty`] accepts is far
/// below that. Negative values (signed stock movements) keep their sign.
pub fn format_qty(milli: i64) -> Value {
    if milli % 1000 == 0 {
        return Value::from(milli / 1000);
    }
    // NOTE: from 2^43 units (about 8.8 trillion) up, the printed number can differ from the
    // quantity in the last decimal.
    Value::from(milli as f64 / 1000.0)
}

/// A tenant's tax settings. Missing fields take the values of [`TaxSettings::off`] when
/// deserialized, so `{"enabled": true}` means PPN 12 % on a DPP of 11/12.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TaxSettings {
    pub enabled: bool,
    /// Tax rate in basis points: 1200 is 12 %.
    pub rate_bps: i64,
    /// Whether unit prices already contain the tax.
    pub price_includes_tax: bool,
    /// DPP (tax base) as a fraction of the price, such as 11/12.
    pub dpp_numerator: i64,
    pub dpp_denominator: i64,
}

impl TaxSettings {
    /// Returns the settings of a new tenant: tax off, with PPN 12 % on a DPP of 11/12 ready for
    /// when the tenant turns it on.
    pub fn off() -> Self {
        TaxSettings {
            enabled: false,
            rate_bps: 1200,
            price_includes_tax: false,
            dpp_numerator: 11,
            dpp_denominator: 12,
        }
    }

    /// Checks the ranges whether or not tax is enabled: `rate_bps` in 0..=10000 and
    /// 1 <= `dpp_numerator` <= `dpp_denominator` <= [`MAX_DPP_TERM`].
    pub fn validate(&self) -> Result<(), MoneyError> {
        let reason = if !(0..=MAX_RATE_BPS).contains(&self.rate_bps) {
            "rate_bps must be between 0 and 10000"
        } else if self.dpp_denominator < 1 || self.dpp_denominator > MAX_DPP_TERM {
            "dpp_denominator must be between 1 and 1000000"
        } else if self.dpp_numerator < 1 || self.dpp_numerator > self.dpp_denominator {
            "dpp_numerator must be between 1 and dpp_denominator"
        } else {
            return Ok(());
        };
        Err(MoneyError::InvalidTaxSettings { reason })
    }
}

impl Default for TaxSettings {
    fn default() -> Self {
        TaxSettings::off()
    }
}

/// One sale line as sent by the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineInput {
    /// Quantity in thousandths, as returned by [`parse_qty`].
    pub qty_milli: i64,
    pub unit_price: i64,
    /// Amount off the whole line, not per unit.
    pub discount: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentMethod {
    Cash,
    Qris,
    Card,
    Transfer,
    Ewallet,
}

impl PaymentMethod {
    /// Every method, in the order the API lists them.
    pub const ALL: [PaymentMethod; 5] = [
        PaymentMethod::Cash,
        PaymentMethod::Qris,
        PaymentMethod::Card,
        PaymentMethod::Transfer,
        PaymentMethod::Ewallet,
    ];

    /// Parses the lowercase API name (`cash`, `qris`, `card`, `transfer`, `ewallet`).
    pub fn parse(text: &str) -> Option<Self> {
        PaymentMethod::ALL.into_iter().find(|method| method.as_str() == text)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            PaymentMethod::Cash => "cash",
            PaymentMethod::Qris => "qris",
            PaymentMethod::Card => "card",
            PaymentMethod::Transfer => "transfer",
            PaymentMethod::Ewallet => "ewallet",
        }
    }
}

/// One payment of a sale. Paid and pending payments count alike towards the total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaymentInput {
    pub method: PaymentMethod,
    pub amount: i64,
}

/// The server's figures for a sale.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SaleTotals {
    /// Each line's round(qty × unit_price) − line discount, in input order.
    pub line_amounts: Vec<i64>,
    /// Sum of `line_amounts`.
    pub subtotal: i64,
    /// Sum of the line discounts, already taken off `line_amounts`.
    pub line_discounts: i64,
    /// Sale-level discount taken off the subtotal.
    pub discount: i64,
    pub tax: i64,
    pub total: i64,
    /// Sum of all payments.
    pub paid: i64,
    /// paid − total, given back from the cash payments.
    pub change: i64,
}

/// Computes a sale's lines, subtotal, tax, total and change, and checks the payments.
///
/// A line is round_half_up(qty × unit_price) − discount. The sale discount comes off the
/// subtotal. With tax on and prices excluding tax, tax = round_half_up((subtotal − discount) × r)
/// and is added to the total. With prices including tax, the total is subtotal − discount and
/// tax = round_half_up(total × r / (1 + r)). Here r = rate_bps / 10000 × DPP fraction.
/// Payments must cover the total, and only cash may exceed it, by at most the cash paid.
/// Tax settings are checked only when tax is enabled.
pub fn compute_sale(
    lines: &[LineInput],
    sale_discount: i64,
    payments: &[PaymentInput],
    tax: &TaxSettings,
) -> Result<SaleTotals, MoneyError> {
    if lines.is_empty() {
        return Err(MoneyError::NoItems);
    }
    if tax.enabled {
        tax.validate()?;
    }

    let mut line_amounts = Vec::with_capacity(lines.len());
    let mut gross: i128 = 0;
    let mut subtotal: i128 = 0;
    let mut line_discounts: i128 = 0;
    for (index, line) in lines.iter().enumerate() {
        let line_amount = compute_line(index, line)?;
        line_amounts.push(line_amount);
        gross += i128::from(line_amount) + i128::from(line.discount);
        subtotal += i128::from(line_amount);
        line_discounts += i128::from(line.discount);
    }
    // The gross (before line discounts) bounds both subtotal and line discounts, and daily
    // reports add it up, so it has to fit too.
    let _ = to_safe_amount(gross, "items")?;
    let subtotal = to_safe_amount(subtotal, "subtotal")?;
    let line_discounts = to_safe_amount(line_discounts, "items")?;

    check_input_amount(sale_discount, "discount")?;
    if sale_discount > subtotal {
        return Err(MoneyError::DiscountExceedsSubtotal {
            discount: sale_discount,
            subtotal,
        });
    }

    let (tax_amount, total) = compute_tax(subtotal - sale_discount, tax)?;
    let (paid, change) = check_payments(total, payments)?;

    Ok(SaleTotals {
        line_amounts,
        subtotal,
        line_discounts,
        discount: sale_discount,
        tax: tax_amount,
        total,
        paid,
        change,
    })
}

/// Returns round_half_up(qty × unit_price) − discount for line `index`.
fn compute_line(index: usize, line: &LineInput) -> Result<i64, MoneyError> {
    if line.qty_milli <= 0 || line.qty_milli > MAX_QTY_MILLI {
        return Err(MoneyError::InvalidQuantity { index: Some(index) });
    }
    check_input_amount(line.unit_price, &format!("items[{index}].unit_price"))?;
    check_input_amount(line.discount, &format!("items[{index}].discount"))?;

    let exact = i128::from(line.qty_milli) * i128::from(line.unit_price);
    let line_amount = to_safe_amount(round_half_up(exact, 1000), &format!("items[{index}]"))?;
    if line.discount > line_amount {
        return Err(MoneyError::LineDiscountExceedsLine {
            index,
            discount: line.discount,
            line_amount,
        });
    }
    Ok(line_amount - line.discount)
}

/// Returns `(tax, total)` for the amount left after all discounts.
fn compute_tax(taxable: i64, tax: &TaxSettings) -> Result<(i64, i64), MoneyError> {
    if !tax.enabled {
        return Ok((0, taxable));
    }

    // r = rate_bps × dpp_numerator / (10000 × dpp_denominator). validate() bounds both
    // terms, so taxable × rate_numerator stays below 2^53 × 2^34 and fits in i128.
    let rate_numerator = i128::from(tax.rate_bps) * i128::from(tax.dpp_numerator);
    let rate_denominator = 10_000 * i128::from(tax.dpp_denominator);
    let taxable_exact = i128::from(taxable);

    if tax.price_includes_tax {
        // total × r / (1 + r) = total × rate_numerator / (rate_denominator + rate_numerator)
        let tax_exact = round_half_up(taxable_exact * rate_numerator, rate_denominator + rate_numerator);
        Ok((to_safe_amount(tax_exact, "tax")?, taxable))
    } else {
        let tax_exact = round_half_up(taxable_exact * rate_numerator, rate_denominator);
        let tax_amount = to_safe_amount(tax_exact, "tax")?;
        let total = to_safe_amount(taxable_exact + tax_exact, "total")?;
        Ok((tax_amount, total))
    }
}

/// Checks the payments against `total` and returns `(paid, change)`.
fn check_payments(total: i64, payments: &[PaymentInput]) -> Result<(i64, i64), MoneyError> {
    if payments.is_empty() && total > 0 {
        return Err(MoneyError::NoPayments);
    }

    let mut paid: i128 = 0;
    let mut cash: i128 = 0;
    for (index, payment) in payments.iter().enumerate() {
        check_input_amount(payment.amount, &format!("payments[{index}].amount"))?;
        if payment.amount == 0 {
            return Err(MoneyError::ZeroPayment { index });
        }
        paid += i128::from(payment.amount);
        if payment.method == PaymentMethod::Cash {
            cash += i128::from(payment.amount);
        }
    }
    let paid = to_safe_amount(paid, "payments")?;
    // Cash is part of paid, so it fits whenever paid does.
    let cash = to_safe_amount(cash, "payments")?;

    if paid < total {
        return Err(MoneyError::Underpaid { total, paid });
    }
    let change = paid - total;
    if change > 0 && cash == 0 {
        return Err(MoneyError::OverpaidWithoutCash { total, paid });
    }
    if change > cash {
        return Err(MoneyError::ChangeExceedsCash { change, cash });
    }
    Ok((paid, change))
}

/// Rejects a client-sent amount below 0 or above [`MAX_SAFE_INTEGER`].
fn check_input_amount(value: i64, field: &str) -> Result<(), MoneyError> {
    if value < 0 {
        return Err(MoneyError::NegativeAmount {
            field: field.to_string(),
            value,
        });
    }
    if value > MAX_SAFE_INTEGER {
        return Err(MoneyError::TooLarge {
            field: field.to_string(),
        });
    }
    Ok(())
}

/// Narrows a computed, non-negative amount to `i64`, rejecting it above [`MAX_SAFE_INTEGER`].
fn to_safe_amount(value: i128, field: &str) -> Result<i64, MoneyError> {
    if value > i128::from(MAX_SAFE_INTEGER) {
        return Err(MoneyError::TooLarge {
            field: field.to_string(),
        });
    }
    i64::try_from(value).map_err(|_| MoneyError::TooLarge {
        field: field.to_string(),
    })
}

/// Divides `numerator` by `denominator`, rounding an exact half up. Both must be non-negative
/// and `denominator` above 0, which every caller in this module ensures.
fn round_half_up(numerator: i128, denominator: i128) -> i128 {
    (2 * numerator + denominator) / (2 * denominator)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// PPN 12 % on a DPP of 11/12 (11 % effective), prices excluding tax.
    fn ppn_excluding() -> TaxSettings {
        TaxSettings {
            enabled: true,
            ..TaxSettings::off()
        }
    }

    fn ppn_including() -> TaxSettings {
        TaxSettings {
            enabled: true,
            price_includes_tax: true,
            ..TaxSettings::off()
        }
    }

    fn line(qty_milli: i64, unit_price: i64, discount: i64) -> LineInput {
        LineInput {
            qty_milli,
            unit_price,
            discount,
        }
    }

    fn cash(amount: i64) -> PaymentInput {
        PaymentInput {
            method: PaymentMethod::Cash,
            amount,
        }
    }

    fn card(amount: i64) -> PaymentInput {
        PaymentInput {
            method: PaymentMethod::Card,
            amount,
        }
    }

    /// Computes a sale paid exactly by card. Panics when the figures are invalid.
    fn totals(lines: &[LineInput], discount: i64, tax: &TaxSettings) -> SaleTotals {
        let overpaid =
            compute_sale(lines, discount, &[cash(MAX_SAFE_INTEGER)], tax).expect("sale figures should be valid");
        let exact_payment = if overpaid.total == 0 {
            Vec::new()
        } else {
            vec![card(overpaid.total)]
        };
        let sale = compute_sale(lines, discount, &exact_payment, tax).expect("exact payment");
        assert_eq!(sale.change, 0);
        sale
    }

    fn parse_qty_json(text: &str) -> Result<i64, MoneyError> {
        let value: Value = serde_json::from_str(text).expect("test input is JSON");
        parse_qty(&value)
    }

    // --- parse_qty ---

    #[test]
    fn parse_qty_accepts_whole_and_decimal_numbers() {
        let cases = [
            ("2", 2000),
            ("1.5", 1500),
            ("0.25", 250),
            ("1.333", 1333),
            ("0.001", 1),
            ("2.0", 2000),
            ("1.500", 1500),
            ("1e3", 1_000_000),
            ("15e-1", 1500),
            ("1.5E+1", 15_000),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_qty_json(text), Ok(expected), "input {text}");
        }
    }

    #[test]
    fn parse_qty_reads_decimal_text_exactly() {
        // 1.005 has no exact double, so float arithmetic (1.005 × 1000.0) gives 1004.999…
        assert_eq!(parse_qty_json("1.005"), Ok(1005));
        assert_eq!(parse_qty_json("0.1"), Ok(100));
        assert_eq!(parse_qty_json("2.675"), Ok(2675));
    }

    #[test]
    fn parse_qty_rejects_more_than_three_decimals() {
        for text in ["0.0001", "1.0005", "1.2345", "1e-4"] {
            assert_eq!(
                parse_qty_json(text),
                Err(MoneyError::InvalidQuantity { index: None }),
                "input {text}"
            );
        }
    }

    #[test]
    fn parse_qty_rejects_zero_and_negative() {
        for text in ["0", "0.0", "-0.0", "-1", "-0.5", "0e10"] {
            assert!(parse_qty_json(text).is_err(), "input {text}");
        }
    }

    #[test]
    fn parse_qty_rejects_non_numbers() {
        for text in [r#""1.5""#, r#""2""#, "null", "true", "[1]", r#"{"qty": 1}"#] {
            assert!(parse_qty_json(text).is_err(), "input {text}");
        }
    }

    #[test]
    fn parse_qty_enforces_upper_bound() {
        assert_eq!(parse_qty_json("9007199254.74"), Ok(MAX_QTY_MILLI));
        assert!(parse_qty_json("9007199254.741").is_err());
        assert!(parse_qty_json("9007199255").is_err());
        assert!(parse_qty_json("18446744073709551615").is_err());
        assert!(parse_qty_json("1e21").is_err());
        assert!(parse_qty_json("1e300").is_err());
    }

    #[test]
    fn parse_decimal_milli_handles_raw_text() {
        // serde_json with `arbitrary_precision` passes the client's text through unchanged.
        assert_eq!(parse_decimal_milli("1.5e-2"), Some(15));
        assert_eq!(parse_decimal_milli("0.00100"), Some(1));
        assert_eq!(parse_decimal_milli("-2.5"), Some(-2500));
        assert_eq!(parse_decimal_milli("000012"), Some(12_000));
        assert_eq!(parse_decimal_milli("1.5e-7"), None);
        assert_eq!(parse_decimal_milli(""), None);
        assert_eq!(parse_decimal_milli("."), None);
        assert_eq!(parse_decimal_milli(".5"), None);
        assert_eq!(parse_decimal_milli("1."), Some(1000));
        assert_eq!(parse_decimal_milli("1e"), None);
        assert_eq!(parse_decimal_milli("1e99999999999"), None);
        assert_eq!(parse_decimal_milli("abc"), None);
        assert_eq!(parse_decimal_milli("1.2.3"), None);
        assert_eq!(parse_decimal_milli("--1"), None);
        assert_eq!(parse_decimal_milli(&"9".repeat(65)), None);
        assert_eq!(parse_decimal_milli(&"9".repeat(40)), None);
    }

    // --- format_qty ---

    #[test]
    fn format_qty_writes_whole_as_integer() {
        assert_eq!(format_qty(2000), json!(2));
        assert_eq!(format_qty(0), json!(0));
        assert_eq!(format_qty(-3000), json!(-3));
        assert!(format_qty(2000).is_i64());
    }

    #[test]
    fn format_qty_writes_fraction_as_decimal() {
        assert_eq!(format_qty(1500).to_string(), "1.5");
        assert_eq!(format_qty(1333).to_string(), "1.333");
        assert_eq!(format_qty(1).to_string(), "0.001");
        assert_eq!(format_qty(1005).to_string(), "1.005");
        assert_eq!(format_qty(-1500).to_string(), "-1.5");
        assert_eq!(format_qty(MAX_QTY_MILLI).to_string(), "9007199254.74");
        assert_eq!(format_qty(MAX_QTY_MILLI - 1).to_string(), "9007199254.739");
        // Just below 2^43 units (8796093022208), still exact.
        assert_eq!(format_qty(8_796_093_022_207_999).to_string(), "8796093022207.999");
        assert_eq!(format_qty(8_796_093_022_207_001).to_string(), "8796093022207.001");
    }

    #[test]
    fn format_qty_round_trips_through_parse_qty() {
        for milli in [
            1,
            7,
            250,
            999,
            1001,
            1333,
            123_456_789,
            MAX_QTY_MILLI - 1,
            MAX_QTY_MILLI,
        ] {
            assert_eq!(parse_qty(&format_qty(milli)), Ok(milli), "milli {milli}");
        }
    }

    // --- lines ---

    #[test]
    fn line_multiplies_fractional_qty() {
        let sale = totals(&[line(250, 18_000, 0), line(1333, 1000, 0)], 0, &TaxSettings::off());
        assert_eq!(sale.line_amounts, vec![4500, 1333]);
        assert_eq!(sale.subtotal, 5833);
    }

    #[test]
    fn line_rounds_half_up() {
        let cases = [
            (500, 3, 2),        // 1.5
            (333, 5, 2),        // 1.665
            (1, 499, 0),        // 0.499
            (1, 500, 1),        // 0.5
            (1, 1500, 2),       // 1.5
            (2500, 1, 3),       // 2.5
            (1999, 1001, 2001), // 2000.999
        ];
        for (qty_milli, unit_price, expected) in cases {
            let sale = totals(&[line(qty_milli, unit_price, 0)], 0, &TaxSettings::off());
            assert_eq!(
                sale.line_amounts,
                vec![expected],
                "qty_milli {qty_milli} × {unit_price}"
            );
        }
    }

    #[test]
    fn line_discount_comes_off_whole_line() {
        let sale = totals(&[line(3000, 10_000, 2500), line(1000, 5000, 0)], 0, &TaxSettings::off());
        assert_eq!(sale.line_amounts, vec![27_500, 5000]);
        assert_eq!(sale.line_discounts, 2500);
        assert_eq!(sale.subtotal, 32_500);
    }

    #[test]
    fn line_discount_may_equal_line() {
        let sale = totals(&[line(1000, 5000, 5000), line(1000, 100, 0)], 0, &TaxSettings::off());
        assert_eq!(sale.line_amounts, vec![0, 100]);
    }

    #[test]
    fn line_discount_above_line_is_rejected() {
        let result = compute_sale(
            &[line(1000, 100, 0), line(500, 3, 3)],
            0,
            &[cash(1000)],
            &TaxSettings::off(),
        );
        assert_eq!(
            result,
            Err(MoneyError::LineDiscountExceedsLine {
                index: 1,
                discount: 3,
                line_amount: 2
            })
        );
    }

    #[test]
    fn zero_price_line_is_allowed() {
        let sale = totals(&[line(1000, 0, 0), line(1000, 700, 0)], 0, &TaxSettings::off());
        assert_eq!(sale.line_amounts, vec![0, 700]);
    }

    // --- sale discount and tax ---

    #[test]
    fn tax_off_gives_zero_tax() {
        let sale = totals(&[line(1000, 100_000, 0)], 0, &TaxSettings::off());
        assert_eq!(sale.tax, 0);
        assert_eq!(sale.total, 100_000);
    }

    #[test]
    fn tax_off_ignores_broken_settings() {
        let broken = TaxSettings {
            dpp_denominator: 0,
            ..TaxSettings::off()
        };
        let sale = totals(&[line(1000, 100_000, 0)], 0, &broken);
        assert_eq!(sale.tax, 0);
        assert_eq!(sale.total, 100_000);
    }

    #[test]
    fn ppn_excluding_tax_adds_eleven_percent() {
        let sale = totals(&[line(1000, 100_000, 0)], 0, &ppn_excluding());
        assert_eq!(sale.subtotal, 100_000);
        assert_eq!(sale.tax, 11_000);
        assert_eq!(sale.total, 111_000);
    }

    #[test]
    fn ppn_including_tax_extracts_tax() {
        let sale = totals(&[line(1000, 111_000, 0)], 0, &ppn_including());
        assert_eq!(sale.subtotal, 111_000);
        assert_eq!(sale.tax, 11_000);
        assert_eq!(sale.total, 111_000);
    }

    #[test]
    fn tax_applies_after_sale_discount() {
        let sale = totals(&[line(1000, 100_000, 0)], 10_000, &ppn_excluding());
        assert_eq!(sale.discount, 10_000);
        assert_eq!(sale.tax, 9900);
        assert_eq!(sale.total, 99_900);

        let sale = totals(&[line(1000, 121_000, 0)], 10_000, &ppn_including());
        assert_eq!(sale.tax, 11_000);
        assert_eq!(sale.total, 111_000);
    }

    #[test]
    fn excluding_tax_rounds_half_up() {
        // taxable × 11 %: 5.5 → 6, 4.95 → 5, 0.44 → 0, 0.55 → 1
        for (taxable, expected_tax) in [(50, 6), (45, 5), (4, 0), (5, 1), (100, 11)] {
            let sale = totals(&[line(1000, taxable, 0)], 0, &ppn_excluding());
            assert_eq!(sale.tax, expected_tax, "taxable {taxable}");
            assert_eq!(sale.total, taxable + expected_tax, "taxable {taxable}");
        }
    }

    #[test]
    fn including_tax_rounds_half_up() {
        // total × 11/111: 6 → 0.59 → 1, 5 → 0.495 → 0
        for (total, expected_tax) in [(6, 1), (5, 0), (111, 11)] {
            let sale = totals(&[line(1000, total, 0)], 0, &ppn_including());
            assert_eq!(sale.tax, expected_tax, "total {total}");
            assert_eq!(sale.total, total, "total {total}");
        }

        // At 100 % the tax inside a price is exactly half of it: 2.5 → 3.
        let full_rate = TaxSettings {
            rate_bps: 10_000,
            dpp_numerator: 1,
            dpp_denominator: 1,
            ..ppn_including()
        };
        let sale = totals(&[line(1000, 5, 0)], 0, &full_rate);
        assert_eq!(sale.tax, 3);
    }

    #[test]
    fn plain_rate_without_dpp_factor() {
        let eleven_percent = TaxSettings {
            rate_bps: 1100,
            dpp_numerator: 1,
            dpp_denominator: 1,
            ..ppn_excluding()
        };
        let sale = totals(&[line(1000, 100_000, 0)], 0, &eleven_percent);
        assert_eq!(sale.tax, 11_000);
    }

    #[test]
    fn zero_rate_gives_zero_tax() {
        let zero_rated = TaxSettings {
            rate_bps: 0,
            ..ppn_including()
        };
        let sale = totals(&[line(1000, 100_000, 0)], 0, &zero_rated);
        assert_eq!(sale.tax, 0);
    }

    #[test]
    fn sale_discount_may_equal_subtotal() {
        let sale = compute_sale(&[line(1000, 5000, 0)], 5000, &[], &ppn_excluding())
            .expect("a fully discounted sale is valid");
        assert_eq!(sale.total, 0);
        assert_eq!(sale.tax, 0);
        assert_eq!(sale.paid, 0);
        assert_eq!(sale.change, 0);
    }

    #[test]
    fn sale_discount_above_subtotal_is_rejected() {
        let result = compute_sale(&[line(1000, 5000, 0)], 5001, &[cash(1)], &TaxSettings::off());
        assert_eq!(
            result,
            Err(MoneyError::DiscountExceedsSubtotal {
                discount: 5001,
                subtotal: 5000
            })
        );
    }

    #[test]
    fn invalid_tax_settings_are_rejected_when_enabled() {
        let broken = [
            TaxSettings {
                dpp_denominator: 0,
                ..ppn_excluding()
            },
            TaxSettings {
                dpp_numerator: 0,
                ..ppn_excluding()
            },
            TaxSettings {
                dpp_numerator: 13,
                ..ppn_excluding()
            },
            TaxSettings {
                rate_bps: -1,
                ..ppn_excluding()
            },
            TaxSettings {
                rate_bps: 10_001,
                ..ppn_excluding()
            },
            TaxSettings {
                dpp_numerator: i64::MAX,
                dpp_denominator: i64::MAX,
                ..ppn_including()
            },
            TaxSettings {
                dpp_denominator: i64::MIN,
                ..ppn_including()
            },
        ];
        for settings in broken {
            let result = compute_sale(&[line(1000, 100, 0)], 0, &[cash(200)], &settings);
            let error = result.expect_err("settings should be rejected");
            assert_eq!(error.code(), "invalid_tax_settings", "{settings:?}");
            assert_eq!(error.field(), "tax", "{settings:?}");
        }
    }

    #[test]
    fn tax_settings_default_is_off() {
        let settings = TaxSettings::default();
        assert_eq!(settings, TaxSettings::off());
        assert!(!settings.enabled);
        assert_eq!(settings.rate_bps, 1200);
        assert!(!settings.price_includes_tax);
        assert_eq!(settings.dpp_numerator, 11);
        assert_eq!(settings.dpp_denominator, 12);
        assert_eq!(settings.validate(), Ok(()));
    }

    #[test]
    fn tax_settings_fill_missing_fields() {
        let settings: TaxSettings = serde_json::from_value(json!({"enabled": true})).expect("valid settings");
        assert_eq!(settings, ppn_excluding());

        let round_trip: TaxSettings =
            serde_json::from_value(serde_json::to_value(ppn_including()).expect("serializes")).expect("deserializes");
        assert_eq!(round_trip, ppn_including());
    }

    // --- payments ---

    #[test]
    fn exact_card_payment_has_no_change() {
        let sale = compute_sale(&[line(1000, 25_000, 0)], 0, &[card(25_000)], &TaxSettings::off()).expect("valid sale");
        assert_eq!(sale.paid, 25_000);
        assert_eq!(sale.change, 0);
    }

    #[test]
    fn cash_overpayment_becomes_change() {
        let sale = compute_sale(&[line(1000, 23_500, 0)], 0, &[cash(50_000)], &TaxSettings::off()).expect("valid sale");
        assert_eq!(sale.paid, 50_000);
        assert_eq!(sale.change, 26_500);
    }

    #[test]
    fn mixed_payment_gives_change_from_cash() {
        let payments = [card(20_000), cash(10_000)];
        let sale = compute_sale(&[line(1000, 25_000, 0)], 0, &payments, &TaxSettings::off()).expect("valid sale");
        assert_eq!(sale.paid, 30_000);
        assert_eq!(sale.change, 5000);
    }

    #[test]
    fn change_above_cash_is_rejected() {
        let payments = [card(30_000), cash(1000)];
        let result = compute_sale(&[line(1000, 25_000, 0)], 0, &payments, &TaxSettings::off());
        assert_eq!(
            result,
            Err(MoneyError::ChangeExceedsCash {
                change: 6000,
                cash: 1000
            })
        );
    }

    #[test]
    fn overpayment_without_cash_is_rejected() {
        let payments = [
            card(20_000),
            PaymentInput {
                method: PaymentMethod::Qris,
                amount: 10_000,
            },
        ];
        let result = compute_sale(&[line(1000, 25_000, 0)], 0, &payments, &TaxSettings::off());
        assert_eq!(
            result,
            Err(MoneyError::OverpaidWithoutCash {
                total: 25_000,
                paid: 30_000
            })
        );
    }

    #[test]
    fn underpayment_is_rejected() {
        let result = compute_sale(
            &[line(1000, 100_000, 0)],
            0,
            &[cash(50_000), card(50_000)],
            &ppn_excluding(),
        );
        assert_eq!(
            result,
            Err(MoneyError::Underpaid {
                total: 111_000,
                paid: 100_000
            })
        );
    }

    #[test]
    fn zero_payment_is_rejected() {
        let result = compute_sale(&[line(1000, 100, 0)], 0, &[cash(100), card(0)], &TaxSettings::off());
        assert_eq!(result, Err(MoneyError::ZeroPayment { index: 1 }));
    }

    #[test]
    fn negative_payment_is_rejected() {
        let result = compute_sale(&[line(1000, 100, 0)], 0, &[cash(200), card(-100)], &TaxSettings::off());
        assert_eq!(
            result,
            Err(MoneyError::NegativeAmount {
                field: "payments[1].amount".to_string(),
                value: -100
            })
        );
    }

    #[test]
    fn missing_payments_are_rejected() {
        let result = compute_sale(&[line(1000, 100, 0)], 0, &[], &TaxSettings::off());
        assert_eq!(result, Err(MoneyError::NoPayments));
    }

    // --- input checks ---

    #[test]
    fn empty_sale_is_rejected() {
        let result = compute_sale(&[], 0, &[cash(100)], &TaxSettings::off());
        assert_eq!(result, Err(MoneyError::NoItems));
    }

    #[test]
    fn invalid_line_quantity_is_rejected() {
        for qty_milli in [0, -1000, MAX_QTY_MILLI + 1, i64::MIN, i64::MAX] {
            let result = compute_sale(
                &[line(1000, 100, 0), line(qty_milli, 100, 0)],
                0,
                &[cash(1000)],
                &TaxSettings::off(),
            );
            assert_eq!(
                result,
                Err(MoneyError::InvalidQuantity { index: Some(1) }),
                "qty_milli {qty_milli}"
            );
        }
    }

    #[test]
    fn negative_amounts_are_rejected() {
        let off = TaxSettings::off();
        let cases = [
            (line(1000, -1, 0), 0, "items[0].unit_price", -1),
            (line(1000, i64::MIN, 0), 0, "items[0].unit_price", i64::MIN),
            (line(1000, 100, -5), 0, "items[0].discount", -5),
            (line(1000, 100, 0), -7, "discount", -7),
        ];
        for (sale_line, discount, field, value) in cases {
            let result = compute_sale(&[sale_line], discount, &[cash(1000)], &off);
            assert_eq!(
                result,
                Err(MoneyError::NegativeAmount {
                    field: field.to_string(),
                    value
                }),
                "field {field}"
            );
        }
    }

    #[test]
    fn amounts_above_max_safe_integer_are_rejected() {
        let off = TaxSettings::off();
        let too_large = MAX_SAFE_INTEGER + 1;
        let cases: [(&[LineInput], i64, &[PaymentInput], &str); 8] = [
            (&[line(1000, too_large, 0)], 0, &[cash(1)], "items[0].unit_price"),
            (&[line(1000, i64::MAX, 0)], 0, &[cash(1)], "items[0].unit_price"),
            (&[line(1000, 100, too_large)], 0, &[cash(1)], "items[0].discount"),
            (&[line(1000, 100, 0)], too_large, &[cash(1)], "discount"),
            (&[line(1000, 100, 0)], 0, &[cash(too_large)], "payments[0].amount"),
            // Line amount: 2 × MAX_SAFE_INTEGER.
            (&[line(2000, MAX_SAFE_INTEGER, 0)], 0, &[cash(1)], "items[0]"),
            // Gross of two lines above the maximum, even though discounts bring it back under.
            (
                &[line(1000, MAX_SAFE_INTEGER, MAX_SAFE_INTEGER), line(1000, 10, 0)],
                0,
                &[cash(10)],
                "items",
            ),
            (
                &[line(1000, MAX_SAFE_INTEGER - 5, 0), line(1000, 10, 0)],
                0,
                &[cash(1)],
                "items",
            ),
        ];
        for (lines, discount, payments, field) in cases {
            let result = compute_sale(lines, discount, payments, &off);
            assert_eq!(
                result,
                Err(MoneyError::TooLarge {
                    field: field.to_string()
                }),
                "field {field}"
            );
        }
    }

    #[test]
    fn total_with_tax_above_max_is_rejected() {
        let result = compute_sale(
            &[line(1000, MAX_SAFE_INTEGER, 0)],
            0,
            &[cash(MAX_SAFE_INTEGER)],
            &ppn_excluding(),
        );
        assert_eq!(
            result,
            Err(MoneyError::TooLarge {
                field: "total".to_string()
            })
        );
    }

    #[test]
    fn sum_of_payments_above_max_is_rejected() {
        let result = compute_sale(
            &[line(1000, 100, 0)],
            0,
            &[cash(MAX_SAFE_INTEGER), cash(MAX_SAFE_INTEGER)],
            &TaxSettings::off(),
        );
        assert_eq!(
            result,
            Err(MoneyError::TooLarge {
                field: "payments".to_string()
            })
        );
    }

    #[test]
    fn largest_valid_figures_are_accepted() {
        let sale = compute_sale(
            &[line(1000, MAX_SAFE_INTEGER, 0)],
            0,
            &[cash(MAX_SAFE_INTEGER)],
            &ppn_including(),
        )
        .expect("the maximum amount is valid");
        assert_eq!(sale.total, MAX_SAFE_INTEGER);
        assert_eq!(sale.change, 0);
        // 9007199254740991 × 11/111, rounded half up.
        assert_eq!(sale.tax, 892_605_331_550_909);

        let sale = totals(&[line(MAX_QTY_MILLI, 1000, 0)], 0, &TaxSettings::off());
        assert_eq!(sale.total, MAX_QTY_MILLI);
    }

    #[test]
    fn extreme_inputs_return_errors() {
        let settings = [
            TaxSettings::off(),
            ppn_excluding(),
            ppn_including(),
            TaxSettings {
                enabled: true,
                rate_bps: i64::MAX,
                price_includes_tax: true,
                dpp_numerator: i64::MIN,
                dpp_denominator: -1,
            },
        ];
        let extremes = [i64::MIN, -1, 0, 1, MAX_SAFE_INTEGER, i64::MAX];
        for tax in &settings {
            for &value in &extremes {
                let lines = [line(value, value, value)];
                let payments = [cash(value), card(value)];
                // Only the absence of a panic matters here.
                let _ = compute_sale(&lines, value, &payments, tax);
            }
        }
    }

    // --- PaymentMethod and MoneyError ---

    #[test]
    fn payment_method_names_round_trip() {
        let names = ["cash", "qris", "card", "transfer", "ewallet"];
        for (method, name) in PaymentMethod::ALL.into_iter().zip(names) {
            assert_eq!(method.as_str(), name);
            assert_eq!(PaymentMethod::parse(name), Some(method));
            assert_eq!(serde_json::to_value(method).expect("serializes"), json!(name));
        }
    }

    #[test]
    fn payment_method_rejects_unknown_names() {
        for name in ["", "CASH", "Cash", "debit", "e-wallet", " cash"] {
            assert_eq!(PaymentMethod::parse(name), None, "name {name:?}");
        }
    }

    #[test]
    fn error_fields_and_codes() {
        let cases = [
            (MoneyError::NoItems, "items", "no_items"),
            (MoneyError::NoPayments, "payments", "no_payments"),
            (MoneyError::InvalidQuantity { index: None }, "qty", "invalid_quantity"),
            (
                MoneyError::InvalidQuantity { index: Some(2) },
                "items[2].qty",
                "invalid_quantity",
            ),
            (
                MoneyError::NegativeAmount {
                    field: "items[2].discount".to_string(),
                    value: -1,
                },
                "items[2].discount",
                "negative_amount",
            ),
            (
                MoneyError::TooLarge {
                    field: "total".to_string(),
                },
                "total",
                "too_large",
            ),
            (
                MoneyError::ZeroPayment { index: 3 },
                "payments[3].amount",
                "zero_payment",
            ),
            (
                MoneyError::LineDiscountExceedsLine {
                    index: 1,
                    discount: 5,
                    line_amount: 4,
                },
                "items[1].discount",
                "line_discount_exceeds_line",
            ),
            (
                MoneyError::DiscountExceedsSubtotal {
                    discount: 5,
                    subtotal: 4,
                },
                "discount",
                "discount_exceeds_subtotal",
            ),
            (MoneyError::Underpaid { total: 5, paid: 4 }, "payments", "underpaid"),
            (
                MoneyError::OverpaidWithoutCash { total: 4, paid: 5 },
                "payments",
                "overpaid_without_cash",
            ),
            (
                MoneyError::ChangeExceedsCash { change: 5, cash: 4 },
                "payments",
                "change_exceeds_cash",
            ),
            (
                MoneyError::InvalidTaxSettings { reason: "test" },
                "tax",
                "invalid_tax_settings",
            ),
        ];
        for (error, field, code) in cases {
            assert_eq!(error.field(), field, "{error:?}");
            assert_eq!(error.code(), code, "{error:?}");
            assert!(!error.to_string().is_empty(), "{error:?}");
        }
    }

    #[test]
    fn error_messages_carry_figures() {
        let message = MoneyError::Underpaid {
            total: 111_000,
            paid: 100_000,
        }
        .to_string();
        assert!(message.contains("111000"), "{message}");
        assert!(message.contains("100000"), "{message}");
    }

    #[test]
    fn at_item_names_the_line() {
        let error = parse_qty(&json!(0)).expect_err("0 is invalid").at_item(4);
        assert_eq!(error.field(), "items[4].qty");

        let other = MoneyError::NoItems.at_item(4);
        assert_eq!(other, MoneyError::NoItems);
    }
}
