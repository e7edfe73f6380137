//! Reader for the bakery POS log: CSV with the header
//! `Date,Time,Transaction,Item`, one row per unit sold, dates as DD-MM-YYYY and
//! local times as HH:MM:SS. The same item twice in one sale means quantity 2.

use std::collections::HashMap;

use chrono::{FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};

const HEADER: [&str; 4] = ["Date", "Time", "Transaction", "Item"];

/// One row of the log: one unit of one item in one sale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRow {
    pub date: String,
    pub time: String,
    pub transaction: String,
    pub item: String,
}

/// One sale of the log, with its items counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedSale {
    pub transaction: String,
    pub date: String,
    pub time: String,
    /// Item names and quantities, in the order the items first appear.
    pub lines: Vec<(String, u32)>,
}

/// Parses the whole log. Lines may end in CRLF, and item names are trimmed.
pub fn parse_log(text: &str) -> Result<Vec<LogRow>, String> {
    let mut lines = text.lines().enumerate();
    let header = match lines.next() {
        Some((_, line)) => split_row(line),
        None => return Err("the POS log is empty".to_string()),
    };
    if header != HEADER {
        return Err(format!("the POS log header is {header:?}; expected {HEADER:?}"));
    }

    let mut rows = Vec::new();
    for (index, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields = split_row(line);
        let [date, time, transaction, item] = fields.as_slice() else {
            return Err(format!(
                "line {} of the POS log has {} fields; expected 4: {line:?}",
                index + 1,
                fields.len()
            ));
        };
        rows.push(LogRow {
            date: date.to_string(),
            time: time.to_string(),
            transaction: transaction.to_string(),
            item: item.to_string(),
        });
    }
    Ok(rows)
}

fn split_row(line: &str) -> Vec<&str> {
    line.trim_end_matches(['\r', '\n']).split(',').map(str::trim).collect()
}

/// Returns the date (DD-MM-YYYY) with the most sales. A tie goes to the
/// earliest date.
pub fn busiest_date(rows: &[LogRow]) -> Option<String> {
    let mut sales_per_date: HashMap<&str, std::collections::HashSet<&str>> = HashMap::new();
    for row in rows {
        sales_per_date
            .entry(row.date.as_str())
            .or_default()
            .insert(row.transaction.as_str());
    }

    sales_per_date
        .into_iter()
        .map(|(date, sales)| (sales.len(), date))
        .max_by(|(count_a, date_a), (count_b, date_b)| {
            count_a
                .cmp(count_b)
                .then_with(|| sortable_date(date_b).cmp(&sortable_date(date_a)))
        })
        .map(|(_, date)| date.to_string())
}

/// Turns DD-MM-YYYY into YYYY-MM-DD, which sorts as text in date order.
fn sortable_date(date: &str) -> String {
    let parts: Vec<&str> = date.split('-').collect();
    match parts.as_slice() {
        [day, month, year] => format!("{year}-{month}-{day}"),
        _ => date.to_string(),
    }
}

/// Groups the rows of `date` into sales, in the order they appear in the log.
pub fn sales_on(rows: &[LogRow], date: &str) -> Vec<LoggedSale> {
    let mut sales: Vec<LoggedSale> = Vec::new();
    let mut index_by_transaction: HashMap<&str, usize> = HashMap::new();

    for row in rows.iter().filter(|row| row.date == date) {
        let index = *index_by_transaction.entry(row.transaction.as_str()).or_insert_with(|| {
            sales.push(LoggedSale {
                transaction: row.transaction.clone(),
                date: row.date.clone(),
                time: row.time.clone(),
                lines: Vec::new(),
            });
            sales.len() - 1
        });
        let lines = &mut sales[index].lines;
        match lines.iter_mut().find(|(item, _)| *item == row.item) {
            Some((_, quantity)) => *quantity += 1,
            None => lines.push((row.item.clone(), 1)),
        }
    }
    sales
}

/// Converts a log date (DD-MM-YYYY) and time (HH:MM:SS) in Asia/Jakarta
/// (UTC+7, no daylight saving time) to RFC 3339 UTC, such as
/// `2017-02-04T00:56:19Z`.
pub fn jakarta_to_utc(date: &str, time: &str) -> Result<String, String> {
    let day = NaiveDate::parse_from_str(date, "%d-%m-%Y")
        .map_err(|e| format!("invalid log date {date:?} (expected DD-MM-YYYY): {e}"))?;
    let clock = NaiveTime::parse_from_str(time, "%H:%M:%S")
        .map_err(|e| format!("invalid log time {time:?} (expected HH:MM:SS): {e}"))?;
    let jakarta = FixedOffset::east_opt(7 * 3600).expect("UTC+7 is a valid offset");
    let local = NaiveDateTime::new(day, clock)
        .and_local_timezone(jakarta)
        .single()
        .ok_or_else(|| format!("{date} {time} has no single time in UTC+7"))?;
    Ok(local.with_timezone(&Utc).to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// Converts DD-MM-YYYY to YYMMDD, the date part of receipt numbers.
pub fn receipt_date(date: &str) -> Result<String, String> {
    let day = NaiveDate::parse_from_str(date, "%d-%m-%Y")
        .map_err(|e| format!("invalid log date {date:?} (expected DD-MM-YYYY): {e}"))?;
    Ok(day.format("%y%m%d").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Date,Time,Transaction,Item\r\n\
        30-10-2016,09:58:11,1,Bread\r\n\
        30-10-2016,10:05:34,2,Scandinavian\r\n\
        30-10-2016,10:05:34,2,Coffee granules \r\n\
        30-10-2016,10:05:34,2,Scandinavian\r\n\
        31-10-2016,08:00:00,3,Tea\r\n\
        31-10-2016,08:10:00,4,Tea\r\n";

    #[test]
    fn parse_log_trims_crlf_and_item_spaces() {
        let rows = parse_log(SAMPLE).unwrap();

        assert_eq!(rows.len(), 6);
        assert_eq!(rows[2].item, "Coffee granules");
        assert_eq!(rows[5].transaction, "4");
    }

    #[test]
    fn parse_log_rejects_wrong_header() {
        let error = parse_log("Tanggal,Jam,Nota,Barang\n").unwrap_err();

        assert!(error.contains("header"), "{error}");
    }

    #[test]
    fn parse_log_rejects_short_rows() {
        let error = parse_log("Date,Time,Transaction,Item\n30-10-2016,09:58:11,1\n").unwrap_err();

        assert!(error.contains("line 2"), "{error}");
    }

    #[test]
    fn sales_on_counts_repeated_items() {
        let rows = parse_log(SAMPLE).unwrap();
        let sales = sales_on(&rows, "30-10-2016");

        assert_eq!(sales.len(), 2);
        assert_eq!(sales[0].lines, vec![("Bread".to_string(), 1)]);
        assert_eq!(
            sales[1].lines,
            vec![("Scandinavian".to_string(), 2), ("Coffee granules".to_string(), 1)]
        );
        assert_eq!(sales[1].time, "10:05:34");
    }

    #[test]
    fn busiest_date_breaks_ties_by_earliest() {
        let rows = parse_log(SAMPLE).unwrap();

        assert_eq!(busiest_date(&rows).as_deref(), Some("30-10-2016"));
    }

    #[test]
    fn jakarta_to_utc_subtracts_seven_hours() {
        assert_eq!(
            jakarta_to_utc("04-02-2017", "07:56:19").unwrap(),
            "2017-02-04T00:56:19Z"
        );
        assert_eq!(
            jakarta_to_utc("04-02-2017", "03:00:00").unwrap(),
            "2017-02-03T20:00:00Z"
        );
        assert!(jakarta_to_utc("2017-02-04", "07:56:19").is_err());
    }

    #[test]
    fn receipt_date_is_yymmdd() {
        assert_eq!(receipt_date("04-02-2017").unwrap(), "170204");
    }
}
