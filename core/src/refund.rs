//! Refund arithmetic. A refund of q of a line's n units is worth q/n of the line's share of
//! the sale total. That share is `line amount × total / subtotal`: the line amount less its
//! pro-rata part of the sale discount, plus its part of the tax when prices exclude tax.

use crate::error::Detail;

/// One line of a stored sale, as the refund arithmetic reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SoldLine {
    pub product_id: String,
    /// Quantity sold, in thousandths.
    pub qty_milli: i64,
    /// The line amount after its line discount.
    pub amount: i64,
    /// Quantity already refunded, in thousandths.
    pub refunded_milli: i64,
}

/// The part of one sale line a refund returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundedLine {
    pub line: usize,
    pub product_id: String,
    pub qty_milli: i64,
    pub amount: i64,
}

fn round_half_up(numerator: i128, denominator: i128) -> i128 {
    if denominator == 0 {
        return 0;
    }
    (2 * numerator + denominator).div_euclid(2 * denominator)
}

/// Computes the money of `qty_milli` units of a line: its share of the sale total, rounded
/// half up.
fn worth(line: &SoldLine, qty_milli: i64, subtotal: i64, total: i64) -> i64 {
    let numerator = i128::from(qty_milli) * i128::from(line.amount) * i128::from(total);
    let denominator = i128::from(line.qty_milli) * i128::from(subtotal);
    round_half_up(numerator, denominator) as i64
}

/// Plans a refund of `requested` (product id, quantity in thousandths) against a sale's lines.
/// A product sold on several lines is taken from them in order. Each line's amount is the
/// difference of its cumulative worth before and after, so refunding a line in parts returns
/// the same money as refunding it at once; and a refund that completes the whole sale returns
/// exactly what is left of its total.
///
/// # Errors
/// `exceeds_sold` on the item whose quantity is more than is left to refund, and
/// `invalid_reference` on a product the sale does not contain.
pub fn plan_refund(
    lines: &[SoldLine],
    requested: &[(String, i64)],
    subtotal: i64,
    total: i64,
    refunded_total: i64,
) -> Result<Vec<RefundedLine>, Detail> {
    let mut left_on_line: Vec<i64> = lines.iter().map(|line| line.qty_milli - line.refunded_milli).collect();
    let mut taken: Vec<i64> = vec![0; lines.len()];

    for (index, (product_id, qty_milli)) in requested.iter().enumerate() {
        if !lines.iter().any(|line| &line.product_id == product_id) {
            return Err(Detail::new(format!("items[{index}].product_id"), "invalid_reference"));
        }
        let mut wanted = *qty_milli;
        for (line_index, line) in lines.iter().enumerate() {
            if &line.product_id != product_id || wanted == 0 {
                continue;
            }
            let take = wanted.min(left_on_line[line_index]);
            left_on_line[line_index] -= take;
            taken[line_index] += take;
            wanted -= take;
        }
        if wanted > 0 {
            return Err(Detail::new(format!("items[{index}].qty"), "exceeds_sold"));
        }
    }

    let mut refunded = Vec::new();
    for (line_index, line) in lines.iter().enumerate() {
        let qty = taken[line_index];
        if qty == 0 {
            continue;
        }
        let before = worth(line, line.refunded_milli, subtotal, total);
        let after = worth(line, line.refunded_milli + qty, subtotal, total);
        refunded.push(RefundedLine {
            line: line_index,
            product_id: line.product_id.clone(),
            qty_milli: qty,
            amount: after - before,
        });
    }

    // Per-line rounding may leave the sum a rupiah off the total; the refund that completes
    // the sale settles it on its last line.
    let completes_sale = left_on_line.iter().all(|left| *left == 0);
    if completes_sale {
        let planned: i64 = refunded.iter().map(|line| line.amount).sum();
        if let Some(last) = refunded.last_mut() {
            last.amount += total - refunded_total - planned;
        }
    }
    Ok(refunded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(product: &str, qty: i64, amount: i64) -> SoldLine {
        SoldLine {
            product_id: product.to_string(),
            qty_milli: qty * 1000,
            amount,
            refunded_milli: 0,
        }
    }

    #[test]
    fn refund_without_discount_or_tax_returns_line_price() {
        // 2 × 15000 and 1 × 8000; refund one of the two.
        let lines = [line("kopi", 2, 30_000), line("roti", 1, 8_000)];
        let plan = plan_refund(&lines, &[("kopi".into(), 1000)], 38_000, 38_000, 0).unwrap();
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].amount, 15_000);
    }

    #[test]
    fn sale_discount_is_shared_pro_rata() {
        // Subtotal 40000, sale discount 4000, total 36000: each line keeps 90 %.
        let lines = [line("a", 1, 30_000), line("b", 1, 10_000)];
        let plan = plan_refund(&lines, &[("b".into(), 1000)], 40_000, 36_000, 0).unwrap();
        assert_eq!(plan[0].amount, 9_000);
    }

    #[test]
    fn tax_on_top_is_refunded_with_the_line() {
        // PPN 11 % effective on top: subtotal 100000, tax 11000, total 111000.
        let lines = [line("a", 4, 100_000)];
        let plan = plan_refund(&lines, &[("a".into(), 1000)], 100_000, 111_000, 0).unwrap();
        assert_eq!(plan[0].amount, 27_750);
    }

    #[test]
    fn refund_in_parts_adds_up_to_whole_line() {
        // 3 units of 10000 with a total of 29999 after a 1-rupiah discount.
        let mut lines = vec![line("a", 3, 30_000)];
        let first = plan_refund(&lines, &[("a".into(), 1000)], 30_000, 29_999, 0).unwrap();
        lines[0].refunded_milli = 1000;
        let second = plan_refund(&lines, &[("a".into(), 1000)], 30_000, 29_999, first[0].amount).unwrap();
        lines[0].refunded_milli = 2000;
        let refunded = first[0].amount + second[0].amount;
        let third = plan_refund(&lines, &[("a".into(), 1000)], 30_000, 29_999, refunded).unwrap();
        assert_eq!(first[0].amount, 10_000);
        assert_eq!(second[0].amount, 9_999);
        assert_eq!(first[0].amount + second[0].amount + third[0].amount, 29_999);
    }

    #[test]
    fn refund_beyond_sold_is_rejected() {
        let mut lines = vec![line("a", 2, 20_000)];
        lines[0].refunded_milli = 1500;
        let error = plan_refund(&lines, &[("a".into(), 1000)], 20_000, 20_000, 15_000).unwrap_err();
        assert_eq!(error.code, "exceeds_sold");
        assert_eq!(error.field, "items[0].qty");
    }

    #[test]
    fn product_on_two_lines_is_taken_in_order() {
        let lines = [line("a", 1, 10_000), line("a", 2, 18_000)];
        let plan = plan_refund(&lines, &[("a".into(), 2000)], 28_000, 28_000, 0).unwrap();
        assert_eq!(plan.len(), 2);
        assert_eq!((plan[0].line, plan[0].qty_milli, plan[0].amount), (0, 1000, 10_000));
        assert_eq!((plan[1].line, plan[1].qty_milli, plan[1].amount), (1, 1000, 9_000));
    }

    #[test]
    fn unknown_product_is_rejected() {
        let lines = [line("a", 1, 10_000)];
        let error = plan_refund(&lines, &[("b".into(), 1000)], 10_000, 10_000, 0).unwrap_err();
        assert_eq!(error.code, "invalid_reference");
    }

    #[test]
    fn weighed_goods_refund_exactly() {
        // 1.5 kg at 18000 per kg = 27000; refund 0.5 kg.
        let lines = [SoldLine {
            product_id: "gula".into(),
            qty_milli: 1500,
            amount: 27_000,
            refunded_milli: 0,
        }];
        let plan = plan_refund(&lines, &[("gula".into(), 500)], 27_000, 27_000, 0).unwrap();
        assert_eq!(plan[0].amount, 9_000);
    }
}
