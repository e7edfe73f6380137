//! Receipt numbers: `{outlet}-{device}-{YYMMDD}-{seq}`, per device and day, so terminals number
//! struk offline without asking the server. The sale's UUID stays its identity; the server
//! only checks that no other sale of the tenant already uses the number.

use crate::validate::is_outlet_code;

/// Sequence digits; a device that sells more than 9999 sales a day gets longer numbers.
const SEQUENCE_DIGITS: usize = 4;

/// The parts of a receipt number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptNo {
    pub outlet_code: String,
    pub device_code: String,
    /// Local date as `YYMMDD`.
    pub date: String,
    pub sequence: u32,
}

impl ReceiptNo {
    /// Formats the number, with the sequence zero-padded to 4 digits.
    pub fn format(&self) -> String {
        format!(
            "{}-{}-{}-{:0width$}",
            self.outlet_code,
            self.device_code,
            self.date,
            self.sequence,
            width = SEQUENCE_DIGITS
        )
    }

    /// Parses a number made by [`ReceiptNo::format`]; `None` for any other text.
    pub fn parse(text: &str) -> Option<ReceiptNo> {
        let mut parts = text.split('-');
        let (outlet, device, date, sequence) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || !is_outlet_code(outlet) || !is_device_code(device) {
            return None;
        }
        if date.len() != 6 || !date.bytes().all(|b| b.is_ascii_digit()) || !valid_yymmdd(date) {
            return None;
        }
        if sequence.len() < SEQUENCE_DIGITS || !sequence.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(ReceiptNo {
            outlet_code: outlet.to_string(),
            device_code: device.to_string(),
            date: date.to_string(),
            sequence: sequence.parse().ok()?,
        })
    }
}

/// Device codes the server issues: 1 to 8 uppercase letters and digits.
pub fn is_device_code(text: &str) -> bool {
    (1..=8).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn valid_yymmdd(date: &str) -> bool {
    let month: u32 = date[2..4].parse().unwrap_or(0);
    let day: u32 = date[4..6].parse().unwrap_or(0);
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_number_round_trips() {
        let receipt = ReceiptNo {
            outlet_code: "PUSAT".into(),
            device_code: "K7X2QM".into(),
            date: "261204".into(),
            sequence: 42,
        };
        assert_eq!(receipt.format(), "PUSAT-K7X2QM-261204-0042");
        assert_eq!(ReceiptNo::parse("PUSAT-K7X2QM-261204-0042"), Some(receipt));
    }

    #[test]
    fn long_sequence_is_kept() {
        let parsed = ReceiptNo::parse("C2-AB-270101-12345").unwrap();
        assert_eq!(parsed.sequence, 12345);
    }

    #[test]
    fn malformed_receipt_numbers_are_rejected() {
        for text in [
            "",
            "PUSAT-K7X2QM-261204",
            "pusat-K7X2QM-261204-0001",
            "PUSAT-k7x2qm-261204-0001",
            "PUSAT-K7X2QM-261304-0001",
            "PUSAT-K7X2QM-2612040-0001",
            "PUSAT-K7X2QM-261204-01",
            "PUSAT-K7X2QM-261204-0001-9",
        ] {
            assert_eq!(ReceiptNo::parse(text), None, "{text}");
        }
    }
}
