//! Replays one trading day of a real bakery POS log against a running
//! Kasir Edge server, then checks that a third device pulls every sale back.
//!
//! ```text
//! POS_LOG=/path/to/bakery_pos_transactions.csv \
//!     cargo run -p kasir-tests --bin kasir-demo -- --base-url http://127.0.0.1:8787
//! ```
//!
//! The demo provisions a new bakery-café tenant, creates its catalog and two
//! kasir users on two devices, and sends the day's sales alternately over
//! `POST /v1/transactions` (kasir 1) and `POST /v1/sync/push` (kasir 2).
//! The owner then pulls `transactions` on a third device. The exit code is 0
//! when the pulled sales match the sent ones, 1 when they do not, and 2 when
//! the demo could not run.

use std::collections::{BTreeMap, HashMap};
use std::env;
use std::fs;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use kasir_tests::bakery_catalog::{self, CATEGORIES};
use kasir_tests::dev_vars::{read_admin_token, workspace_root};
use kasir_tests::pos_log::{self, LoggedSale};
use kasir_tests::{hlc_now, new_id, session_from, try_login, Api, ApiResponse, Session};
use serde_json::{json, Value};

const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8787";
/// Rows per sync pull page.
const PULL_LIMIT: u32 = 50;
/// Every fifth sale is paid by QRIS and the others in cash.
const QRIS_EVERY: usize = 5;
/// Cash is handed over rounded up to this many rupiah, so change appears.
const CASH_ROUNDING: i64 = 5_000;

const USAGE: &str = "\
Usage: kasir-demo [--base-url URL] [--date DD-MM-YYYY]

Replays one day of the bakery POS log named by the POS_LOG environment variable.

Options:
  --base-url URL     server to drive (default http://127.0.0.1:8787)
  --date DD-MM-YYYY  trading day to replay (default: the day with the most sales)
  --help             print this help

ADMIN_TOKEN comes from the environment, else from .dev.vars in the workspace root.";

struct Options {
    base_url: String,
    date: Option<String>,
}

/// One login the demo created, printed at the end for use with curl.
struct Login {
    label: String,
    email: String,
    password: String,
    session: Session,
}

/// Catalog product as the replay needs it.
struct Product {
    id: String,
    price: i64,
}

/// Sales that the server accepted, keyed by sale id, with their totals.
#[derive(Default)]
struct SentSales {
    totals: BTreeMap<String, i64>,
    failures: Vec<String>,
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("kasir-demo: {message}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<bool, String> {
    let Some(options) = parse_args(env::args().skip(1).collect())? else {
        println!("{USAGE}");
        return Ok(true);
    };
    let (date, sales) = load_day(options.date.as_deref())?;
    let api = Api::new(&options.base_url);
    check_health(&api)?;
    let admin_token = admin_token()?;

    section("Tenant");
    let (tenant, owner) = provision_bakery(&api, &admin_token)?;

    section("Catalog");
    let catalog = create_catalog(&api, &owner.session)?;

    section("Cashiers");
    let kasir_1 = create_kasir(&api, &tenant, &owner.session, 1)?;
    let kasir_2 = create_kasir(&api, &tenant, &owner.session, 2)?;

    section(&format!("Replay of {date}"));
    let sent = replay_day(&api, &tenant, &date, &sales, &catalog, [&kasir_1, &kasir_2])?;

    section("Pull on a third device");
    let owner_laptop = login(&api, &tenant, &owner.email, &owner.password, "Laptop Pemilik")?;
    let pulled = pull_transactions(&api, &owner_laptop)?;

    section("Result");
    let passed = report(&sent, &pulled);

    section("Logins");
    print_logins(&api, &tenant, &[&owner, &kasir_1, &kasir_2]);
    Ok(passed)
}

fn section(title: &str) {
    println!();
    println!("== {title} ==");
}

// ---------------------------------------------------------------- inputs

/// Parses the command line. `Ok(None)` means that `--help` was given.
fn parse_args(args: Vec<String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        base_url: DEFAULT_BASE_URL.to_string(),
        date: None,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--base-url" => options.base_url = option_value(&mut args, "--base-url")?,
            "--date" => options.date = Some(option_value(&mut args, "--date")?),
            "--help" | "-h" => return Ok(None),
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    Ok(Some(options))
}

fn option_value(args: &mut impl Iterator<Item = String>, name: &str) -> Result<String, String> {
    args.next().ok_or_else(|| format!("{name} needs a value\n\n{USAGE}"))
}

/// Reads the POS log and returns the chosen date with its sales.
fn load_day(date: Option<&str>) -> Result<(String, Vec<LoggedSale>), String> {
    let path = env::var("POS_LOG").map_err(|_| "set POS_LOG to the path of the bakery POS log (CSV)".to_string())?;
    let text = fs::read_to_string(&path).map_err(|e| format!("failed to read POS_LOG {path}: {e}"))?;
    let rows = pos_log::parse_log(&text).map_err(|e| format!("{path}: {e}"))?;

    let date = match date {
        Some(date) => {
            pos_log::receipt_date(date)?;
            date.to_string()
        }
        None => pos_log::busiest_date(&rows).ok_or_else(|| format!("{path} has no sales"))?,
    };
    let sales = pos_log::sales_on(&rows, &date);
    if sales.is_empty() {
        return Err(format!("{path} has no sales on {date}"));
    }
    println!(
        "POS log {path}: {} rows; replaying {date} with {} sales",
        rows.len(),
        sales.len()
    );
    Ok((date, sales))
}

fn admin_token() -> Result<String, String> {
    match env::var("ADMIN_TOKEN") {
        Ok(token) if !token.is_empty() => Ok(token),
        _ => read_admin_token(&workspace_root()),
    }
}

fn check_health(api: &Api) -> Result<(), String> {
    let response = api.get("/health").send();
    if response.status != 200 {
        return Err(format!(
            "GET {}/health returned HTTP {}. Start the server with `make dev`",
            api.base_url(),
            response.status
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- setup

/// Returns the body of a response with the `expected` status, or an error
/// that names the request and shows the server's response.
fn expect(response: ApiResponse, expected: u16) -> Result<Value, String> {
    if response.status == expected {
        return Ok(response.json);
    }
    Err(failure_message(&response, expected))
}

fn failure_message(response: &ApiResponse, expected: u16) -> String {
    format!(
        "{} {} returned HTTP {} (expected {expected}): {}",
        response.method, response.path, response.status, response.text
    )
}

fn string_field(body: &Value, field: &str) -> Result<String, String> {
    body[field]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("response has no string field {field:?}: {body}"))
}

fn new_password() -> String {
    format!("Senja-{}", &new_id()[..8])
}

/// Tenant code and default outlet of the demo tenant.
struct Tenant {
    code: String,
    outlet_id: String,
}

fn provision_bakery(api: &Api, admin_token: &str) -> Result<(Tenant, Login), String> {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default();
    let code = format!("roti-senja-{seconds}");
    let owner_email = format!("pemilik@{code}.test");
    let owner_password = new_password();
    // Shared placement: repeated demo runs on one server must not use up the
    // pool of dedicated tenant databases.
    let body = json!({
        "code": code,
        "name": "Roti Senja Bakery & Kafe",
        "owner": {"email": owner_email, "name": "Ibu Ratna", "password": owner_password},
        "placement": "shared",
        "timezone": "Asia/Jakarta",
        "currency": "IDR",
        "locale": "id",
    });
    let created = expect(api.post("/v1/admin/tenants").bearer(admin_token).json(&body), 201)?;
    let tenant = Tenant {
        code: code.clone(),
        outlet_id: string_field(&created["tenant"], "default_outlet_id")?,
    };
    println!("Tenant {code} provisioned (outlet PUSAT {})", tenant.outlet_id);

    let session = login(api, &tenant, &owner_email, &owner_password, "Kantor Pemilik")?;
    let owner = Login {
        label: "owner".to_string(),
        email: owner_email,
        password: owner_password,
        session,
    };
    Ok((tenant, owner))
}

fn login(api: &Api, tenant: &Tenant, email: &str, password: &str, device_name: &str) -> Result<Session, String> {
    let response = try_login(api, &tenant.code, email, password, Some(device_name));
    if response.status != 200 {
        return Err(failure_message(&response, 200));
    }
    let session = session_from(&response);
    if session.device_id.is_none() || session.device_code.is_none() {
        return Err(format!(
            "login on {device_name:?} returned no device id and code: {}",
            response.text
        ));
    }
    Ok(session)
}

/// Creates the categories and all catalog items, and returns the products by
/// log item name.
fn create_catalog(api: &Api, owner: &Session) -> Result<HashMap<&'static str, Product>, String> {
    let mut category_ids = HashMap::new();
    for name in CATEGORIES {
        let created = api
            .post("/v1/categories")
            .bearer(&owner.access_token)
            .json(&json!({"name": name}));
        category_ids.insert(name, string_field(&expect(created, 201)?, "id")?);
    }

    let mut products = HashMap::new();
    for (index, item) in bakery_catalog::ITEMS.iter().enumerate() {
        let body = json!({
            "name": item.name,
            "price": item.price,
            "category_id": category_ids[item.category],
            "sku": format!("RS-{:03}", index + 1),
        });
        let created = api.post("/v1/products").bearer(&owner.access_token).json(&body);
        let id = string_field(&expect(created, 201)?, "id")?;
        products.insert(item.log_name, Product { id, price: item.price });
    }
    println!(
        "{} categories and {} products created",
        CATEGORIES.len(),
        products.len()
    );
    Ok(products)
}

fn create_kasir(api: &Api, tenant: &Tenant, owner: &Session, number: u32) -> Result<Login, String> {
    let email = format!("kasir{number}@{}.test", tenant.code);
    let password = new_password();
    let name = if number == 1 {
        "Dewi (Kasir 1)"
    } else {
        "Agus (Kasir 2)"
    };
    let body = json!({"email": email, "name": name, "password": password, "role": "kasir"});
    expect(api.post("/v1/users").bearer(&owner.access_token).json(&body), 201)?;

    let device_name = format!("Tablet Kasir {number}");
    let session = login(api, tenant, &email, &password, &device_name)?;
    println!(
        "{name} logged in on {device_name} (device code {})",
        session.device_code.as_deref().unwrap_or("?")
    );
    Ok(Login {
        label: format!("kasir {number}"),
        email,
        password,
        session,
    })
}

// ---------------------------------------------------------------- replay

/// Sends every sale of the day. Even-numbered sales go from kasir 1 over REST
/// and odd-numbered ones from kasir 2 over sync push.
fn replay_day(
    api: &Api,
    tenant: &Tenant,
    date: &str,
    sales: &[LoggedSale],
    catalog: &HashMap<&'static str, Product>,
    cashiers: [&Login; 2],
) -> Result<SentSales, String> {
    let receipt_date = pos_log::receipt_date(date)?;
    let mut sequences = [0u32; 2];
    let mut sent = SentSales::default();

    for (index, logged) in sales.iter().enumerate() {
        let cashier = index % 2;
        sequences[cashier] += 1;
        let session = &cashiers[cashier].session;
        let receipt_no = format!(
            "PUSAT-{}-{receipt_date}-{:04}",
            session.device_code.as_deref().unwrap_or("X"),
            sequences[cashier]
        );
        let (body, total) = sale_body(tenant, session, logged, catalog, &receipt_no, index)?;
        let sale_id = string_field(&body, "id")?;

        let outcome = if cashier == 0 {
            send_over_rest(api, session, &body, total)
        } else {
            send_over_sync(api, session, &body)
        };
        match outcome {
            Ok(()) => {
                sent.totals.insert(sale_id, total);
            }
            Err(error) => sent.failures.push(format!("log sale {}: {error}", logged.transaction)),
        }
    }

    println!(
        "{} sales sent ({} over REST, {} over sync), {} failed",
        sent.totals.len(),
        sales.len().div_ceil(2),
        sales.len() / 2,
        sent.failures.len()
    );
    for failure in &sent.failures {
        println!("  failed: {failure}");
    }
    Ok(sent)
}

/// Builds the `POST /v1/transactions` body of one logged sale and returns it
/// with the total the server should compute (tax is off on a new tenant).
fn sale_body(
    tenant: &Tenant,
    session: &Session,
    logged: &LoggedSale,
    catalog: &HashMap<&'static str, Product>,
    receipt_no: &str,
    index: usize,
) -> Result<(Value, i64), String> {
    let mut items = Vec::new();
    let mut total = 0;
    for (item, quantity) in &logged.lines {
        let product = catalog
            .get(item.as_str())
            .ok_or_else(|| format!("log item {item:?} is not in the bakery catalog"))?;
        total += product.price * i64::from(*quantity);
        items.push(json!({
            "product_id": product.id,
            "qty": quantity,
            "unit_price": product.price,
            "discount": 0,
        }));
    }

    let payment = if index % QRIS_EVERY == QRIS_EVERY - 1 {
        json!({"method": "qris", "amount": total, "status": "paid"})
    } else {
        let handed_over = (total + CASH_ROUNDING - 1) / CASH_ROUNDING * CASH_ROUNDING;
        json!({"method": "cash", "amount": handed_over})
    };
    let body = json!({
        "id": new_id(),
        "outlet_id": tenant.outlet_id,
        "device_id": session.device_id,
        "receipt_no": receipt_no,
        "created_at": pos_log::jakarta_to_utc(&logged.date, &logged.time)?,
        "items": items,
        "discount": 0,
        "payments": [payment],
        "note": format!("Nota asli #{}", logged.transaction),
    });
    Ok((body, total))
}

fn send_over_rest(api: &Api, session: &Session, body: &Value, total: i64) -> Result<(), String> {
    let response = api.post("/v1/transactions").bearer(&session.access_token).json(body);
    let stored = expect(response, 201)?;
    match stored["total"].as_i64() {
        Some(stored_total) if stored_total == total => Ok(()),
        other => Err(format!("server total {other:?} differs from the demo's {total}")),
    }
}

fn send_over_sync(api: &Api, session: &Session, body: &Value) -> Result<(), String> {
    let device_id = session.device_id.as_deref().unwrap_or_default();
    let push = json!({
        "device_id": device_id,
        "schema_version": 1,
        "mutations": [{
            "id": new_id(),
            "entity": "transactions",
            "op": "upsert",
            "record_id": body["id"],
            "data": body,
            "hlc": hlc_now(device_id),
        }],
    });
    let response = api.post("/v1/sync/push").bearer(&session.access_token).json(&push);
    let push_response = expect(response, 200)?;
    let result = &push_response["results"][0];
    if result["status"] == "applied" {
        Ok(())
    } else {
        Err(format!("push result is not applied: {result}"))
    }
}

// ---------------------------------------------------------------- pull

/// Pulls every `transactions` change page by page and returns the totals by
/// sale id.
fn pull_transactions(api: &Api, session: &Session) -> Result<BTreeMap<String, i64>, String> {
    let mut totals = BTreeMap::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut request = api
            .get("/v1/sync/pull")
            .bearer(&session.access_token)
            .query("entities", "transactions")
            .query("limit", &PULL_LIMIT.to_string());
        if let Some(cursor) = &cursor {
            request = request.query("cursor", cursor);
        }
        let page = expect(request.send(), 200)?;
        pages += 1;

        let upserted = page["changes"]["transactions"]["upserted"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for sale in upserted {
            let id = string_field(&sale, "id")?;
            let total = sale["total"]
                .as_i64()
                .ok_or_else(|| format!("pulled sale without total: {sale}"))?;
            totals.insert(id, total);
        }

        cursor = Some(string_field(&page, "cursor")?);
        if page["has_more"] != json!(true) {
            break;
        }
        if pages >= 10_000 {
            return Err("pull still had more after 10,000 pages".to_string());
        }
    }
    println!("{} sales pulled in {pages} pages of up to {PULL_LIMIT}", totals.len());
    Ok(totals)
}

// ---------------------------------------------------------------- report

/// Prints the comparison and returns whether the pulled sales match.
fn report(sent: &SentSales, pulled: &BTreeMap<String, i64>) -> bool {
    let total_sent: i64 = sent.totals.values().sum();
    let total_pulled: i64 = pulled.values().sum();
    let missing = sent.totals.keys().filter(|id| !pulled.contains_key(*id)).count();
    let unexpected = pulled.keys().filter(|id| !sent.totals.contains_key(*id)).count();

    println!("sales sent:    {}", sent.totals.len());
    println!("sales failed:  {}", sent.failures.len());
    println!("sales pulled:  {}", pulled.len());
    println!("total sent:    {}", rupiah(total_sent));
    println!("total pulled:  {}", rupiah(total_pulled));
    if missing > 0 || unexpected > 0 {
        println!("missing from the pull: {missing}; pulled but not sent: {unexpected}");
    }

    let passed = sent.failures.is_empty() && missing == 0 && unexpected == 0 && total_sent == total_pulled;
    println!();
    println!("{}", if passed { "PASS" } else { "FAIL" });
    passed
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

fn print_logins(api: &Api, tenant: &Tenant, logins: &[&Login]) {
    println!("base URL:     {}", api.base_url());
    println!("tenant code:  {}", tenant.code);
    for login in logins {
        println!(
            "{:<12}  {}  password {}  (device {})",
            format!("{}:", login.label),
            login.email,
            login.password,
            login.session.device_id.as_deref().unwrap_or("none")
        );
    }
    let owner = logins[0];
    println!();
    println!("Carry on by hand, for example:");
    println!(
        "  curl -s {}/v1/auth/login -H 'Content-Type: application/json' \\\n    -d '{{\"tenant\": \"{}\", \"email\": \"{}\", \"password\": \"{}\"}}'",
        api.base_url(),
        tenant.code,
        owner.email,
        owner.password
    );
    println!(
        "  curl -s {}/v1/transactions -H \"Authorization: Bearer $ACCESS_TOKEN\"",
        api.base_url()
    );
}

#[cfg(test)]
mod tests {
    use super::{parse_args, rupiah};

    #[test]
    fn rupiah_groups_thousands() {
        assert_eq!(rupiah(0), "Rp 0");
        assert_eq!(rupiah(22_000), "Rp 22.000");
        assert_eq!(rupiah(1_234_500), "Rp 1.234.500");
        assert_eq!(rupiah(-5_000), "Rp -5.000");
    }

    #[test]
    fn parse_args_reads_options() {
        let args = ["--base-url", "http://127.0.0.1:9000", "--date", "05-11-2016"];
        let options = parse_args(args.iter().map(|arg| arg.to_string()).collect())
            .unwrap()
            .unwrap();

        assert_eq!(options.base_url, "http://127.0.0.1:9000");
        assert_eq!(options.date.as_deref(), Some("05-11-2016"));
    }

    #[test]
    fn parse_args_rejects_unknown_flags() {
        assert!(parse_args(vec!["--port".to_string()]).is_err());
        assert!(parse_args(vec!["--date".to_string()]).is_err());
    }
}
