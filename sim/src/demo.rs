//! One terminal through a trading day against Kasir Edge: log in, first sync, sell offline
//! to the rhythm of the POS log, edit products, then sync with a lost reply and a retry,
//! and check that the server stored what the terminal did.

use std::collections::HashMap;
use std::thread;
use std::time::{Duration, Instant};

use kasir_core::money::TaxSettings;
use kasir_tests::bakery_catalog;
use kasir_tests::pos_log::{self, LoggedSale};
use serde_json::{json, Value};

use crate::basket::{bakery_sku, build_sale, Till};
use crate::http::Client;
use crate::target::{provision_tenant, Target, TargetKind, TenantAccount};
use crate::terminal::{StatusCounts, Terminal};

/// Maximum wait between two sales, whatever the speed, so a long lull in the log does not
/// stall the demo.
const MAX_GAP: Duration = Duration::from_secs(3);
/// Rows per pull page of the terminal.
const PULL_LIMIT: usize = 500;
/// Log item the terminal raises the price of at midday, and by how much.
const PRICE_RISE_ITEM: &str = "Coffee";
const PRICE_RISE: i64 = 2_000;
/// Log item that sells out at midday.
const SOLD_OUT_ITEM: &str = "Medialuna";
/// The back office's new name for [`PRICE_RISE_ITEM`], made online while the terminal is
/// offline.
const OFFICE_NAME: &str = "Kopi Susu Gula Aren";

/// Settings of one demo run.
pub struct DemoOptions {
    pub base_url: String,
    pub admin_token: String,
    pub pos_log: std::path::PathBuf,
    /// Trading day to replay (DD-MM-YYYY); the busiest day of the log when `None`.
    pub date: Option<String>,
    /// Log seconds per real second; 0 sells without waiting.
    pub speed: f64,
    pub batch_size: usize,
    /// Whether the first push's reply is thrown away, as if the connection dropped.
    pub lose_first_reply: bool,
}

/// Record of the terminal's offline day, to compare with the server afterwards.
#[derive(Default)]
struct Day {
    totals: HashMap<String, i64>,
    methods: HashMap<&'static str, usize>,
    skipped_lines: usize,
    change_given: i64,
}

/// Runs the demo and returns whether every check passed.
///
/// # Errors
/// Fails when the server cannot be reached, a step gets an unexpected status, or the log
/// cannot be read.
pub fn run(options: &DemoOptions) -> Result<bool, String> {
    let client = Client::new(&options.base_url);
    let health = client.send("GET", "/health", None, &[], None)?;
    if health.status != 200 {
        return Err(format!(
            "GET {}/health returned {}",
            options.base_url,
            health.describe()
        ));
    }
    let (date, sales) = load_day(options)?;

    section("Back office");
    let target = Target {
        kind: TargetKind::Kasir,
        base_url: options.base_url.clone(),
        admin_token: options.admin_token.clone(),
        cpu_pids: Vec::new(),
    };
    let stamp = chrono::Utc::now().format("%m%d%H%M%S");
    let tenant = provision_tenant(
        &client,
        &target,
        &format!("roti-senja-{stamp}"),
        "Roti Senja Bakery & Kafe",
        "shared",
    )?;
    let mut office = Terminal::login(TargetKind::Kasir, &options.base_url, &tenant, "Kantor Pemilik")?;
    for (index, item) in bakery_catalog::ITEMS.iter().enumerate() {
        office.create_product(item.name, &bakery_sku(index), item.price);
    }
    let mut created = StatusCounts::default();
    while let Some(outcome) = office.push_next_batch(options.batch_size)? {
        created.add(&outcome.counts);
    }
    println!(
        "tenant {} provisioned; the owner's back office pushed {} products ({} applied)",
        tenant.code,
        bakery_catalog::ITEMS.len(),
        created.applied
    );

    section("Terminal: login and first sync");
    let mut terminal = Terminal::login(TargetKind::Kasir, &options.base_url, &tenant, "Kasir Depan")?;
    let tax = tenant_tax(&terminal)?;
    let first = terminal.pull("products", PULL_LIMIT, false)?;
    println!(
        "device {} (code {}) pulled {} products in {} page(s), {} ms; tax {}",
        terminal.session.device_id,
        terminal.session.device_code,
        terminal.store.product_count(),
        first.pages,
        first.elapsed.as_millis(),
        if tax.enabled { "on" } else { "off" }
    );

    section(&format!("Offline: {date}, {} sales from the POS log", sales.len()));
    let day = sell_offline(&mut terminal, &mut office, &tenant, &date, &sales, &tax, options)?;

    section("Back online: sync");
    let pushed = sync(&mut terminal, options)?;

    section("Check");
    let passed = check(&mut terminal, &office, &date, &day, &pushed)?;
    println!();
    println!("{}", if passed { "PASS" } else { "FAIL" });
    println!();
    println!("base URL {}  tenant {}", options.base_url, tenant.code);
    println!("owner login {} / {}", tenant.owner_email, tenant.owner_password);
    Ok(passed)
}

fn section(title: &str) {
    println!();
    println!("== {title} ==");
}

fn load_day(options: &DemoOptions) -> Result<(String, Vec<LoggedSale>), String> {
    let path = &options.pos_log;
    let text = std::fs::read_to_string(path).map_err(|e| format!("failed to read POS_LOG {}: {e}", path.display()))?;
    let rows = pos_log::parse_log(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let date = match &options.date {
        Some(date) => date.clone(),
        None => pos_log::busiest_date(&rows).ok_or_else(|| format!("{} has no sales", path.display()))?,
    };
    pos_log::receipt_date(&date)?;
    let sales = pos_log::sales_on(&rows, &date);
    if sales.is_empty() {
        return Err(format!("{} has no sales on {date}", path.display()));
    }
    Ok((date, sales))
}

/// Reads the tenant's tax settings, so the terminal prices sales as the server will.
fn tenant_tax(terminal: &Terminal) -> Result<TaxSettings, String> {
    let reply = terminal
        .client
        .send("GET", "/v1/tenant", Some(&terminal.session.access_token), &[], None)?;
    if reply.status != 200 {
        return Err(format!("GET /v1/tenant returned {}", reply.describe()));
    }
    serde_json::from_value(reply.body["tax"].clone())
        .map_err(|e| format!("GET /v1/tenant: unreadable tax settings: {e}"))
}

fn seconds_of_day(time: &str) -> Option<u32> {
    let mut parts = time.split(':').map(|part| part.parse::<u32>().ok());
    Some(parts.next()?? * 3600 + parts.next()?? * 60 + parts.next()??)
}

/// Rings up the day's sales into the outbox, waiting between them as the log did (scaled
/// by the speed). At midday the terminal raises a price and marks an item sold out, and
/// the back office renames the same product online.
fn sell_offline(
    terminal: &mut Terminal,
    office: &mut Terminal,
    tenant: &TenantAccount,
    date: &str,
    sales: &[LoggedSale],
    tax: &TaxSettings,
    options: &DemoOptions,
) -> Result<Day, String> {
    let yymmdd = pos_log::receipt_date(date)?;
    let mut rng = fastrand::Rng::with_seed(2017);
    let mut day = Day::default();
    let mut previous_second: Option<u32> = None;
    let mut hour_printed: Option<u32> = None;
    let mut midday_done = false;
    let started = Instant::now();

    for logged in sales {
        let second = seconds_of_day(&logged.time).ok_or_else(|| format!("invalid log time {:?}", logged.time))?;
        if let (Some(previous), true) = (previous_second, options.speed > 0.0) {
            let gap = f64::from(second.saturating_sub(previous)) / options.speed;
            thread::sleep(Duration::from_secs_f64(gap).min(MAX_GAP));
        }
        previous_second = Some(second);

        if !midday_done && second >= 12 * 3600 {
            midday_done = true;
            midday_edits(terminal, office)?;
        }

        let receipt_no = terminal.next_receipt_no(&yymmdd);
        let till = Till {
            outlet_id: &tenant.outlet_id,
            device_id: &terminal.session.device_id,
            receipt_no: &receipt_no,
        };
        let Some(draft) = build_sale(&terminal.store, logged, &till, tax, &mut rng)? else {
            day.skipped_lines += logged.lines.len();
            continue;
        };
        day.skipped_lines += draft.skipped_items.len();
        day.change_given += draft.change;
        for method in &draft.methods {
            *day.methods.entry(method).or_default() += 1;
        }
        terminal.queue_sale(&draft.body);
        day.totals.insert(draft.id.clone(), draft.total);

        let hour = second / 3600;
        if hour_printed != Some(hour) {
            hour_printed = Some(hour);
            println!(
                "{:02}:00  {:>4} sales queued, {} in the outbox",
                hour,
                day.totals.len(),
                terminal.store.outbox.len()
            );
        }
    }

    let takings: i64 = day.totals.values().sum();
    let mut methods: Vec<_> = day.methods.iter().collect();
    methods.sort();
    let methods: Vec<String> = methods
        .iter()
        .map(|(method, count)| format!("{method} {count}"))
        .collect();
    println!(
        "{} sales, {} taken ({} change given) in {:.1} s; payments: {}; {} line(s) left out as sold out",
        day.totals.len(),
        rupiah(takings),
        rupiah(day.change_given),
        started.elapsed().as_secs_f64(),
        methods.join(", "),
        day.skipped_lines
    );
    Ok(day)
}

fn product_id_of(terminal: &Terminal, log_name: &str) -> Result<String, String> {
    let index = bakery_catalog::ITEMS
        .iter()
        .position(|item| item.log_name == log_name)
        .ok_or_else(|| format!("{log_name} is not in the bakery catalog"))?;
    terminal
        .store
        .product_by_sku(&bakery_sku(index))
        .map(|product| product.id.clone())
        .ok_or_else(|| format!("{log_name} is not in the local store"))
}

fn midday_edits(terminal: &mut Terminal, office: &mut Terminal) -> Result<(), String> {
    let coffee = product_id_of(terminal, PRICE_RISE_ITEM)?;
    let old_price = terminal
        .store
        .product(&coffee)
        .map(|product| product.price)
        .unwrap_or_default();
    terminal.edit_product(&coffee, json!({"price": old_price + PRICE_RISE}))?;
    let sold_out = product_id_of(terminal, SOLD_OUT_ITEM)?;
    terminal.edit_product(&sold_out, json!({"is_active": false}))?;
    println!(
        "12:00  offline edits: {PRICE_RISE_ITEM} price {} -> {}, {SOLD_OUT_ITEM} marked sold out",
        rupiah(old_price),
        rupiah(old_price + PRICE_RISE)
    );

    // The back office is online and renames the same product while the terminal is not.
    office.edit_product(&coffee, json!({"name": OFFICE_NAME}))?;
    let outcome = office
        .push_next_batch(1)?
        .ok_or("the back office had nothing to push")?;
    println!(
        "12:00  back office (online) renames it {OFFICE_NAME:?}: {}",
        outcome
            .results
            .first()
            .map(|result| result["status"].to_string())
            .unwrap_or_default()
    );
    Ok(())
}

/// Pushes the outbox. With `lose_first_reply`, the first batch is sent, its reply thrown
/// away, and the same body sent again: the server must return the same results.
fn sync(terminal: &mut Terminal, options: &DemoOptions) -> Result<StatusCounts, String> {
    let mut counts = StatusCounts::default();
    let mut pushes = 0;
    let started = Instant::now();

    if options.lose_first_reply {
        if let Some((count, body)) = terminal.next_batch_body(options.batch_size) {
            let lost = terminal.send_push(&body)?;
            println!("push 1: {count} mutations sent; the reply is lost (the terminal never reads it)");
            let retried = terminal.send_push(&body)?;
            let same = lost.results == retried.results;
            println!(
                "push 1 again with the same {count} mutation ids: {} results, {}",
                retried.results.len(),
                if same {
                    "identical to the lost reply"
                } else {
                    "DIFFERENT from the lost reply"
                }
            );
            if !same {
                return Err("a retried push answered differently from the first attempt".to_string());
            }
            terminal.complete_batch(count, &retried.results);
            counts.add(&retried.counts);
            pushes += 1;
        }
    }

    while let Some(outcome) = terminal.push_next_batch(options.batch_size)? {
        counts.add(&outcome.counts);
        pushes += 1;
        if let Some(rejection) = &outcome.first_rejection {
            println!("rejected: {rejection}");
        }
    }
    println!(
        "{pushes} pushes in {} ms: applied {}, merged {}, duplicate {}, conflict {}, rejected {}",
        started.elapsed().as_millis(),
        counts.applied,
        counts.merged,
        counts.duplicate,
        counts.conflict,
        counts.rejected
    );
    Ok(counts)
}

/// Pulls everything back and compares it with what the terminal did.
fn check(
    terminal: &mut Terminal,
    office: &Terminal,
    date: &str,
    day: &Day,
    pushed: &StatusCounts,
) -> Result<bool, String> {
    let mut passed = true;
    let mut verdict = |ok: bool, text: String| {
        println!("[{}] {text}", if ok { "ok" } else { "FAIL" });
        passed &= ok;
    };

    verdict(
        pushed.rejected == 0 && pushed.conflict == 0,
        format!(
            "no push result rejected or held as a conflict ({} rejected, {} conflict)",
            pushed.rejected, pushed.conflict
        ),
    );

    // The terminal's own sales come back on a pull of sales from the start.
    let mut sales_reader = Terminal::login(
        TargetKind::Kasir,
        terminal.client.base_url(),
        &terminal.tenant,
        "Laptop Pemilik",
    )?;
    let pulled = pull_sales(&mut sales_reader)?;
    let sent_total: i64 = day.totals.values().sum();
    let matching = day
        .totals
        .iter()
        .filter(|(id, total)| pulled.get(*id) == Some(*total))
        .count();
    verdict(
        matching == day.totals.len() && pulled.len() == day.totals.len(),
        format!(
            "{} of {} sales pulled back by another device with the same totals",
            matching,
            day.totals.len()
        ),
    );

    terminal.pull("products", PULL_LIMIT, false)?;
    let coffee_id = product_id_of(terminal, PRICE_RISE_ITEM)?;
    let coffee = terminal
        .store
        .product(&coffee_id)
        .cloned()
        .ok_or("the price-rise product is gone")?;
    let original_price = bakery_catalog::ITEMS
        .iter()
        .find(|item| item.log_name == PRICE_RISE_ITEM)
        .map_or(0, |item| item.price);
    verdict(
        coffee.name == OFFICE_NAME && coffee.price == original_price + PRICE_RISE,
        format!(
            "field merge kept both edits: name {:?} from the back office, price {} from the terminal",
            coffee.name,
            rupiah(coffee.price)
        ),
    );
    let sold_out_id = product_id_of(terminal, SOLD_OUT_ITEM)?;
    let sold_out = terminal.store.product(&sold_out_id).map(|product| product.is_active);
    verdict(
        sold_out == Some(false),
        format!("{SOLD_OUT_ITEM} is inactive on the server"),
    );

    let report_date = chrono::NaiveDate::parse_from_str(date, "%d-%m-%Y")
        .map_err(|e| format!("invalid date {date}: {e}"))?
        .format("%Y-%m-%d")
        .to_string();
    let report = office.client.send(
        "GET",
        "/v1/reports/daily",
        Some(&office.session.access_token),
        &[("date", &report_date)],
        None,
    )?;
    if report.status == 200 {
        let total = report.body["total"].as_i64().unwrap_or(-1);
        let count = report.body["count"].as_u64().unwrap_or(0) as usize;
        verdict(
            total == sent_total && count == day.totals.len(),
            format!(
                "daily report of {report_date}: {count} sales, {} (terminal: {})",
                rupiah(total),
                rupiah(sent_total)
            ),
        );
    } else {
        verdict(false, format!("GET /v1/reports/daily returned {}", report.describe()));
    }
    Ok(passed)
}

/// Pulls every `transactions` change from the start and returns the totals by sale id.
fn pull_sales(reader: &mut Terminal) -> Result<HashMap<String, i64>, String> {
    let mut totals = HashMap::new();
    let limit = PULL_LIMIT.to_string();
    let mut cursor: Option<String> = None;
    for _ in 0..1_000 {
        let mut query = vec![("entities", "transactions"), ("limit", limit.as_str())];
        if let Some(cursor) = cursor.as_deref() {
            query.push(("cursor", cursor));
        }
        let reply = reader
            .client
            .send("GET", "/v1/sync/pull", Some(&reader.session.access_token), &query, None)?;
        if reply.status != 200 {
            return Err(format!("pull of sales returned {}", reply.describe()));
        }
        let upserted = reply.body["changes"]["transactions"]["upserted"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for sale in upserted {
            if let (Some(id), Some(total)) = (sale["id"].as_str(), sale["total"].as_i64()) {
                totals.insert(id.to_string(), total);
            }
        }
        cursor = reply.body["cursor"].as_str().map(str::to_string);
        if reply.body["has_more"] != Value::Bool(true) {
            return Ok(totals);
        }
    }
    Err("the pull of sales still had more after 1,000 pages".to_string())
}

/// Formats whole rupiah with dots between thousands, as in `Rp 1.234.500`.
fn rupiah(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(digit);
    }
    let sign = if amount < 0 { "-" } else { "" };
    format!("Rp {sign}{grouped}")
}

#[cfg(test)]
mod tests {
    use super::{rupiah, seconds_of_day};

    #[test]
    fn seconds_of_day_reads_log_times() {
        assert_eq!(seconds_of_day("00:00:00"), Some(0));
        assert_eq!(seconds_of_day("12:30:15"), Some(45_015));
        assert_eq!(seconds_of_day("noon"), None);
    }

    #[test]
    fn rupiah_groups_with_dots() {
        assert_eq!(rupiah(22_000), "Rp 22.000");
        assert_eq!(rupiah(1_234_500), "Rp 1.234.500");
    }
}
