//! The load generator of `make bench`: many terminals drive Kasir Edge, the benchmark peer
//! and the raw D1 floor one after another through the same steps, and the figures go to a
//! JSON file and BENCHMARKS.md.
//!
//! Steps, for each server in turn unless noted:
//! 1. Provision four small tenants (1,000 products each) and one large tenant (100,000
//!    products, or 10,000 in quick mode) and seed their catalogs through sync push.
//! 2. First sync: new devices pull a small catalog (five times) and the large one.
//! 3. Growth: 8 devices of a small tenant push price edits of its first 1,000 products,
//!    and 8 devices of the large tenant do the same. There are three rounds, and the tenant
//!    that goes first alternates.
//! 4. Incremental pulls: the large tenant's first-sync device pulls what step 3 changed,
//!    then cycles of one device pushing 100 edits and another pulling them.
//! 5. Push rounds: 4 tenants × 8 devices push edits in batches of 100. The servers take
//!    turns within each round, in an order that rotates, so that a slow stretch of a shared
//!    machine does not always fall on the same server.
//! 6. Sales rounds: 16 terminals post sales of the POS log, taking turns the same way.
//! 7. Login timing, Kasir Edge only: failed logins for an unknown email and for a wrong
//!    password, and logins with the right password, sent one at a time to a fresh tenant in
//!    a shuffled order (see [`login_timing`]). `kasir-sim bench --only login-timing` runs
//!    this step alone.
//!
//! `kasir-sim bench --only push` runs the set-up of the four small tenants and then step 5
//! alone, to reproduce the load of the push rounds without the large tenant.

pub mod login_timing;
pub mod machine;
pub mod report;
pub mod scenarios;

use std::path::PathBuf;
use std::time::Instant;

use kasir_tests::bakery_catalog;
use kasir_tests::pos_log::{self, LoggedSale};
use serde::{Deserialize, Serialize};

use crate::basket::bakery_sku;
use crate::http::Client;
use crate::target::{provision_tenant, Target, TargetKind, TenantAccount};
use crate::terminal::Terminal;
use login_timing::LoginTimingFigures;
use scenarios::{post_sales, push_outboxes, queue_edits, PullFigures, PushFigures, SalesFigures};

/// Sizes of one bench run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub quick: bool,
    pub tenants: usize,
    pub devices_per_tenant: usize,
    pub batch_size: usize,
    pub batches_per_device: usize,
    /// Share of push mutations, in percent, that create a product; the rest edit prices.
    pub create_percent: u32,
    pub push_rounds: usize,
    pub small_catalog: usize,
    pub large_catalog: usize,
    pub seed_batch: usize,
    /// Back-office devices that seed the large catalog at once.
    pub seed_pushers: usize,
    /// Rows per pull page. The peer clamps pages to 500, so every server gets 500.
    pub pull_limit: usize,
    /// Page size of the extra first sync at the largest page Kasir Edge and the floor allow.
    pub max_pull_limit: usize,
    pub growth_batches_per_device: usize,
    /// Rounds of the growth push; each pushes to the small and to the large tenant, in an
    /// order that alternates.
    #[serde(default)]
    pub growth_rounds: usize,
    pub incremental_cycles: usize,
    pub sales_terminals: usize,
    pub sales_per_round: usize,
    pub sales_rounds: usize,
    /// First syncs of the small catalog, each by a new device; the median one is reported.
    #[serde(default)]
    pub small_sync_repeats: usize,
    /// Whether terminals keep their connection open between requests.
    #[serde(default)]
    pub keep_alive: bool,
    /// Timed logins of each case in the login-timing step.
    #[serde(default)]
    pub login_attempts: usize,
}

impl Plan {
    pub fn new(quick: bool, keep_alive: bool) -> Plan {
        Plan {
            quick,
            keep_alive,
            small_sync_repeats: 5,
            tenants: 4,
            devices_per_tenant: 8,
            batch_size: 100,
            batches_per_device: if quick { 3 } else { 5 },
            create_percent: 10,
            push_rounds: if quick { 1 } else { 3 },
            small_catalog: 1_000,
            large_catalog: if quick { 10_000 } else { 100_000 },
            seed_batch: 500,
            seed_pushers: 2,
            pull_limit: 500,
            max_pull_limit: 2_000,
            growth_batches_per_device: 3,
            growth_rounds: if quick { 1 } else { 3 },
            incremental_cycles: if quick { 5 } else { 10 },
            sales_terminals: 16,
            sales_per_round: if quick { 800 } else { 2_000 },
            sales_rounds: if quick { 1 } else { 2 },
            login_attempts: if quick { 100 } else { 200 },
        }
    }
}

/// Figures of repeated push-then-pull cycles between two devices.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CycleFigures {
    pub cycles: usize,
    pub rows: usize,
    pub mean_rows: f64,
    pub rows_per_second: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

/// Everything measured on one server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetResults {
    pub kind: TargetKind,
    pub base_url: String,
    pub seed_small: Option<PushFigures>,
    pub seed_large: Option<PushFigures>,
    pub first_sync_small: Option<PullFigures>,
    pub first_sync_large: Option<PullFigures>,
    pub first_sync_large_max_page: Option<PullFigures>,
    /// Growth pushes to the small and to the large tenant, one of each per round.
    #[serde(default)]
    pub growth_small: Vec<PushFigures>,
    #[serde(default)]
    pub growth_large: Vec<PushFigures>,
    pub incremental_after_growth: Option<PullFigures>,
    pub incremental_cycles: Option<CycleFigures>,
    pub push_rounds: Vec<PushFigures>,
    pub sales_rounds: Vec<SalesFigures>,
    /// The login-timing step, measured on Kasir Edge only.
    #[serde(default)]
    pub login_timing: Option<LoginTimingFigures>,
    /// Error that stopped the login-timing step. It is kept apart from `error` because the
    /// step runs last and its failure leaves the other figures valid.
    #[serde(default)]
    pub login_timing_error: Option<String>,
    /// The first error that stopped this server's run, if any.
    pub error: Option<String>,
}

/// A step that `kasir-sim bench --only` runs alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Step {
    /// Step 7: login timing on Kasir Edge. It needs no POS log.
    LoginTiming,
    /// Step 5: push rounds, after seeding the small tenants and logging their devices in.
    /// It needs no POS log.
    Push,
}

/// Inputs of a bench run that come from outside the simulator.
pub struct BenchInputs {
    pub targets: Vec<Target>,
    pub plan: Plan,
    /// The POS log whose sales the sales rounds replay; required unless `only` is set.
    pub pos_log: Option<PathBuf>,
    /// Run this step alone instead of all of them.
    pub only: Option<Step>,
    pub bundle_dir: Option<PathBuf>,
    pub wrangler_upload: Option<String>,
    pub peer_dir: Option<PathBuf>,
    pub workspace: PathBuf,
    pub started_at_unix: Option<i64>,
    pub json_path: Option<PathBuf>,
    pub markdown_path: Option<PathBuf>,
}

/// One run's results: the plan, the machine and every server's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchResults {
    pub plan: Plan,
    pub machine: machine::MachineInfo,
    pub bundle: Option<machine::BundleSize>,
    pub targets: Vec<TargetResults>,
    /// Seconds from the start of `make bench` (or of the simulator) to the report.
    pub run_seconds: f64,
    pub load_average_before: String,
    pub load_average_after: String,
}

/// State of one server during the run.
struct TargetRun {
    target: Target,
    results: TargetResults,
    small_tenants: Vec<TenantAccount>,
    large_tenant: Option<TenantAccount>,
    /// Devices of each small tenant, logged in and holding the catalog.
    small_devices: Vec<Vec<Terminal>>,
    large_devices: Vec<Terminal>,
    /// The device that made the large tenant's first sync.
    large_reader: Option<Terminal>,
    /// Ids of the products seeded in the large tenant.
    large_ids: Vec<String>,
}

impl TargetRun {
    fn label(&self) -> &'static str {
        self.target.kind.short()
    }

    fn fail(&mut self, step: &str, error: String) {
        eprintln!("kasir-sim: [{}] {step} failed: {error}", self.label());
        if self.results.error.is_none() {
            self.results.error = Some(format!("{step}: {error}"));
        }
    }

    fn ok(&self) -> bool {
        self.results.error.is_none()
    }
}

fn progress(kind: TargetKind, message: &str) {
    eprintln!("kasir-sim: [{}] {message}", kind.short());
}

/// Runs every step on every target and writes the reports.
///
/// # Errors
/// Fails when the POS log cannot be read or a report cannot be written. A server that
/// fails a step is reported with its error and skipped in the later steps.
pub fn run(inputs: BenchInputs) -> Result<BenchResults, String> {
    let clock = Instant::now();
    let load_average_before = machine::load_average();
    let log_sales = match (inputs.only, &inputs.pos_log) {
        (Some(_), _) => Vec::new(),
        (None, Some(path)) => load_log_sales(path)?,
        (None, None) => return Err("the POS log is missing: set POS_LOG or --pos-log".to_string()),
    };
    let plan = inputs.plan.clone();
    let ticks = crate::cpu::ticks_per_second();
    let run_id = &uuid::Uuid::new_v4().simple().to_string()[..6];

    let mut runs: Vec<TargetRun> = inputs
        .targets
        .iter()
        .map(|target| TargetRun {
            target: target.clone(),
            results: TargetResults {
                kind: target.kind,
                base_url: target.base_url.clone(),
                seed_small: None,
                seed_large: None,
                first_sync_small: None,
                first_sync_large: None,
                first_sync_large_max_page: None,
                growth_small: Vec::new(),
                growth_large: Vec::new(),
                incremental_after_growth: None,
                incremental_cycles: None,
                push_rounds: Vec::new(),
                sales_rounds: Vec::new(),
                login_timing: None,
                login_timing_error: None,
                error: None,
            },
            small_tenants: Vec::new(),
            large_tenant: None,
            small_devices: Vec::new(),
            large_devices: Vec::new(),
            large_reader: None,
            large_ids: Vec::new(),
        })
        .collect();

    match inputs.only {
        None => run_load_steps(&mut runs, &plan, run_id, ticks, &log_sales),
        Some(Step::Push) => run_push_steps(&mut runs, &plan, run_id, ticks),
        Some(Step::LoginTiming) => {}
    }
    // The login step needs none of the earlier steps' state, so it runs even after one
    // of them failed.
    if inputs.only != Some(Step::Push) {
        for run in runs.iter_mut() {
            login_timing_step(run, &plan, run_id);
        }
    }

    let run_seconds = match inputs.started_at_unix {
        Some(started) => (chrono::Utc::now().timestamp() - started) as f64,
        None => clock.elapsed().as_secs_f64(),
    };
    let results = BenchResults {
        plan,
        machine: machine::MachineInfo::probe(&inputs.workspace, inputs.peer_dir.as_deref()),
        bundle: inputs
            .bundle_dir
            .as_deref()
            .map(|dir| machine::BundleSize::measure(dir, inputs.wrangler_upload.clone())),
        targets: runs.into_iter().map(|run| run.results).collect(),
        run_seconds,
        load_average_before,
        load_average_after: machine::load_average(),
    };

    if let Some(path) = &inputs.json_path {
        let text = serde_json::to_string_pretty(&results).map_err(|e| format!("failed to encode the results: {e}"))?;
        std::fs::write(path, text).map_err(|e| format!("failed to write {}: {e}", path.display()))?;
        eprintln!("kasir-sim: results written to {}", path.display());
    }
    if let Some(path) = &inputs.markdown_path {
        write_report(&results, &inputs.workspace, path)?;
    }
    Ok(results)
}

/// Runs steps 1 to 6 on every target: set-up, first sync, growth, and the push and sales
/// rounds.
fn run_load_steps(runs: &mut [TargetRun], plan: &Plan, run_id: &str, ticks: u64, log_sales: &[LoggedSale]) {
    for run in runs.iter_mut() {
        if let Err(error) = set_up(run, plan, run_id, ticks) {
            run.fail("set-up", error);
        }
    }
    for run in runs.iter_mut().filter(|run| run.ok()) {
        if let Err(error) = first_sync(run, plan) {
            run.fail("first sync", error);
        }
    }
    for run in runs.iter_mut().filter(|run| run.ok()) {
        if let Err(error) = growth_and_incremental(run, plan, ticks) {
            run.fail("growth", error);
        }
    }
    push_rounds(runs, plan, ticks);
    for round in 0..plan.sales_rounds {
        let start = round * plan.sales_per_round;
        let slice = &log_sales[start.min(log_sales.len())..(start + plan.sales_per_round).min(log_sales.len())];
        for index in rotation(runs.len(), round) {
            let run = &mut runs[index];
            if run.ok() {
                if let Err(error) = sales_round(run, plan, slice, round, ticks) {
                    run.fail("sales", error);
                }
            }
        }
    }
}

/// Seeds the small tenants and logs their devices in on every target, then runs the push
/// rounds. The large tenant and the other steps are skipped.
fn run_push_steps(runs: &mut [TargetRun], plan: &Plan, run_id: &str, ticks: u64) {
    for run in runs.iter_mut() {
        if let Err(error) = seed_small_tenants(run, plan, run_id, ticks) {
            run.fail("set-up", error);
        }
    }
    for run in runs.iter_mut().filter(|run| run.ok()) {
        if let Err(error) = log_in_small_devices(run, plan) {
            run.fail("first sync", error);
        }
    }
    push_rounds(runs, plan, ticks);
}

/// Runs step 5, the push rounds, with the servers taking turns in a rotating order.
fn push_rounds(runs: &mut [TargetRun], plan: &Plan, ticks: u64) {
    for round in 0..plan.push_rounds {
        for index in rotation(runs.len(), round) {
            let run = &mut runs[index];
            if run.ok() {
                push_round(run, plan, round, ticks);
            }
        }
    }
}

/// Runs the login-timing step on a fresh tenant of a Kasir Edge target and stores a failure
/// in `login_timing_error`. Other targets are skipped, because neither the peer nor the floor
/// promises that the two kinds of failed login look alike.
fn login_timing_step(run: &mut TargetRun, plan: &Plan, run_id: &str) {
    let kind = run.target.kind;
    if kind != TargetKind::Kasir {
        progress(kind, "login timing runs on Kasir Edge only; skipped");
        return;
    }
    progress(
        kind,
        &format!(
            "login timing: {} timed logins each for an unknown email, a wrong password and the right password",
            plan.login_attempts
        ),
    );
    let client = Client::new(&run.target.base_url);
    let code = format!("b{run_id}-{}-login", kind.short());
    let outcome = provision_tenant(&client, &run.target, &code, "Toko Masuk", "dedicated")
        .and_then(|tenant| login_timing::measure(&client, &tenant, plan.login_attempts, 42));
    match outcome {
        Ok(figures) => {
            progress(
                kind,
                &format!(
                    "login timing: p50 unknown email {:.1} ms, wrong password {:.1} ms, right password {:.1} ms; \
                     unknown / wrong p50 {:.3}, mean {:.3}; {} failed logins differed from the first",
                    figures.unknown_user.p50_ms,
                    figures.wrong_password.p50_ms,
                    figures.right_password.p50_ms,
                    figures.p50_ratio,
                    figures.mean_ratio,
                    figures.differing_failures
                ),
            );
            run.results.login_timing = Some(figures);
        }
        Err(error) => {
            eprintln!("kasir-sim: [{}] login timing failed: {error}", kind.short());
            run.results.login_timing_error = Some(error);
        }
    }
}

/// Writes the Markdown report of `results` to `path`, with `bench/analysis.md` of the
/// workspace when it exists.
///
/// # Errors
/// Fails when the report cannot be written.
pub fn write_report(results: &BenchResults, workspace: &std::path::Path, path: &std::path::Path) -> Result<(), String> {
    let analysis = std::fs::read_to_string(workspace.join("bench/analysis.md")).ok();
    let text = report::markdown(results, analysis.as_deref());
    std::fs::write(path, text).map_err(|e| format!("failed to write {}: {e}", path.display()))?;
    eprintln!("kasir-sim: report written to {}", path.display());
    Ok(())
}

/// Order in which the servers take their turn in `round`: rotated by one each round.
fn rotation(count: usize, round: usize) -> Vec<usize> {
    (0..count).map(|offset| (round + offset) % count.max(1)).collect()
}

/// Reads every sale of the log, day after day in the order the days first appear.
fn load_log_sales(path: &std::path::Path) -> Result<Vec<LoggedSale>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("failed to read POS_LOG {}: {e}", path.display()))?;
    let rows = pos_log::parse_log(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut dates: Vec<&str> = Vec::new();
    for row in &rows {
        if dates.last() != Some(&row.date.as_str()) && !dates.contains(&row.date.as_str()) {
            dates.push(&row.date);
        }
    }
    let mut sales = Vec::new();
    for date in dates {
        sales.extend(pos_log::sales_on(&rows, date));
    }
    if sales.is_empty() {
        return Err(format!("{} has no sales", path.display()));
    }
    Ok(sales)
}

/// Queues the creation of `count` catalog products on `terminals`, shared out in turn: the
/// 96 bakery items first, then generated ones. Returns the ids.
fn queue_catalog(terminals: &mut [Terminal], count: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(count);
    for index in 0..count {
        let pusher = index % terminals.len();
        let terminal = &mut terminals[pusher];
        let id = match bakery_catalog::ITEMS.get(index) {
            Some(item) => terminal.create_product(item.name, &bakery_sku(index), item.price),
            None => {
                let price = 1_000 + 500 * (index as i64 % 200);
                terminal.create_product(&format!("Produk Grosir {index:06}"), &format!("GEN-{index:06}"), price)
            }
        };
        ids.push(id);
    }
    ids
}

/// Provisions the small tenants and seeds their catalogs.
fn seed_small_tenants(run: &mut TargetRun, plan: &Plan, run_id: &str, ticks: u64) -> Result<(), String> {
    let kind = run.target.kind;
    let client = Client::new(&run.target.base_url);
    progress(kind, &format!("provisioning {} small tenants", plan.tenants));
    for number in 1..=plan.tenants {
        let code = format!("b{run_id}-{}-t{number}", kind.short());
        let tenant = provision_tenant(&client, &run.target, &code, &format!("Toko Roti {number}"), "dedicated")?;
        run.small_tenants.push(tenant);
    }

    // Seed the small tenants at once, one back-office device each.
    let mut offices = Vec::new();
    for tenant in &run.small_tenants {
        offices.push(Terminal::login(kind, &run.target.base_url, tenant, "Kantor Belakang")?);
    }
    for office in offices.iter_mut() {
        queue_catalog(std::slice::from_mut(office), plan.small_catalog);
    }
    let seeded = push_outboxes(
        offices.iter_mut().collect(),
        plan.seed_batch,
        usize::MAX,
        &run.target.cpu_pids,
        ticks,
    );
    progress(
        kind,
        &format!(
            "seeded {} small catalogs: {:.0} mutations/s",
            plan.tenants, seeded.per_second
        ),
    );
    check_push(&seeded, "seeding the small catalogs")?;
    run.results.seed_small = Some(seeded);
    Ok(())
}

fn set_up(run: &mut TargetRun, plan: &Plan, run_id: &str, ticks: u64) -> Result<(), String> {
    let kind = run.target.kind;
    let client = Client::new(&run.target.base_url);
    seed_small_tenants(run, plan, run_id, ticks)?;
    progress(kind, "provisioning 1 large tenant");
    let large_code = format!("b{run_id}-{}-large", kind.short());
    let large = provision_tenant(&client, &run.target, &large_code, "Grosir Besar", "dedicated")?;

    let mut large_offices = Vec::new();
    for number in 1..=plan.seed_pushers {
        large_offices.push(Terminal::login(
            kind,
            &run.target.base_url,
            &large,
            &format!("Kantor Pusat {number}"),
        )?);
    }
    run.large_ids = queue_catalog(&mut large_offices, plan.large_catalog);
    let seeded = push_outboxes(
        large_offices.iter_mut().collect(),
        plan.seed_batch,
        usize::MAX,
        &run.target.cpu_pids,
        ticks,
    );
    progress(
        kind,
        &format!(
            "seeded {} products in the large tenant in {:.1} s: {:.0} mutations/s",
            plan.large_catalog, seeded.seconds, seeded.per_second
        ),
    );
    check_push(&seeded, "seeding the large catalog")?;
    run.results.seed_large = Some(seeded);
    run.large_tenant = Some(large);
    Ok(())
}

/// Fails when a push step lost mutations: a push failed or the server rejected some.
fn check_push(figures: &PushFigures, step: &str) -> Result<(), String> {
    if figures.failed_pushes > 0 || figures.counts.rejected > 0 {
        return Err(format!(
            "{step}: {} pushes failed and {} mutations were rejected; first error: {}",
            figures.failed_pushes,
            figures.counts.rejected,
            figures.first_error.as_deref().unwrap_or("none")
        ));
    }
    Ok(())
}

/// Logs in the devices of each small tenant. The first pulls the catalog, and the others
/// are its siblings.
fn log_in_small_devices(run: &mut TargetRun, plan: &Plan) -> Result<(), String> {
    let kind = run.target.kind;
    let base_url = run.target.base_url.clone();
    for tenant in &run.small_tenants {
        let mut first = Terminal::login(kind, &base_url, tenant, "Kasir 1")?;
        first.pull("products", plan.pull_limit, true)?;
        let mut devices = vec![first];
        for number in 2..=plan.devices_per_tenant {
            devices.push(devices[0].sibling(&format!("Kasir {number}"))?);
        }
        run.small_devices.push(devices);
    }
    Ok(())
}

fn first_sync(run: &mut TargetRun, plan: &Plan) -> Result<(), String> {
    let kind = run.target.kind;
    let base_url = run.target.base_url.clone();
    log_in_small_devices(run, plan)?;

    // A first sync of 1,000 rows takes a few requests, so one is noisy: take the median of
    // several, each by a new device.
    let small = run.small_tenants.first().ok_or("no small tenant")?;
    let mut syncs = Vec::new();
    for repeat in 1..=plan.small_sync_repeats {
        let mut device = Terminal::login(kind, &base_url, small, &format!("Tablet Cadangan {repeat}"))?;
        let outcome = device.pull("products", plan.pull_limit, true)?;
        let mut figures = PullFigures::from_outcome(&outcome, plan.pull_limit);
        let received = outcome.product_ids.as_ref().map_or(0, |ids| ids.len());
        figures.missing_rows = Some(plan.small_catalog.saturating_sub(received));
        syncs.push(figures);
    }
    syncs.sort_by(|a, b| a.rows_per_second.total_cmp(&b.rows_per_second));
    let median = syncs.swap_remove(syncs.len() / 2);
    progress(
        kind,
        &format!(
            "first sync of {} rows: {:.0} rows/s (median of {})",
            median.rows, median.rows_per_second, plan.small_sync_repeats
        ),
    );
    run.results.first_sync_small = Some(median);

    let large = run.large_tenant.clone().ok_or("the large tenant is missing")?;
    let mut reader = Terminal::login(kind, &base_url, &large, "Kasir Gudang")?;
    let outcome = reader.pull("products", plan.pull_limit, true)?;
    let mut figures = PullFigures::from_outcome(&outcome, plan.pull_limit);
    if let Some(received) = &outcome.product_ids {
        figures.missing_rows = Some(run.large_ids.iter().filter(|id| !received.contains(*id)).count());
    }
    progress(
        kind,
        &format!(
            "first sync of {} rows in {:.1} s: {:.0} rows/s, {} missing",
            figures.rows,
            figures.seconds,
            figures.rows_per_second,
            figures.missing_rows.unwrap_or_default()
        ),
    );
    run.results.first_sync_large = Some(figures);

    // The peer clamps pages to 500, so only the other two get a run at a larger page.
    if kind != TargetKind::Peer {
        let mut wide = Terminal::login(kind, &base_url, &large, "Laptop Pemilik")?;
        let outcome = wide.pull("products", plan.max_pull_limit, false)?;
        let figures = PullFigures::from_outcome(&outcome, plan.max_pull_limit);
        progress(
            kind,
            &format!(
                "first sync at {} rows per page: {:.0} rows/s",
                plan.max_pull_limit, figures.rows_per_second
            ),
        );
        run.results.first_sync_large_max_page = Some(figures);
    }

    for number in 1..=plan.devices_per_tenant {
        run.large_devices
            .push(reader.sibling(&format!("Kasir Grosir {number}"))?);
    }
    run.large_reader = Some(reader);
    Ok(())
}

fn growth_and_incremental(run: &mut TargetRun, plan: &Plan, ticks: u64) -> Result<(), String> {
    let mut rng = fastrand::Rng::with_seed(7);
    for round in 0..plan.growth_rounds {
        let large_first = round % 2 == 1;
        for large in [large_first, !large_first] {
            let figures = growth_push(run, plan, large, ticks, &mut rng)?;
            let (size, list) = if large {
                ("large", &mut run.results.growth_large)
            } else {
                ("small", &mut run.results.growth_small)
            };
            progress(
                run.target.kind,
                &format!(
                    "growth push {}, {size} tenant: {:.0} mutations/s",
                    round + 1,
                    figures.per_second
                ),
            );
            list.push(figures);
        }
    }

    let reader = run
        .large_reader
        .as_mut()
        .ok_or("the large tenant's reader is missing")?;
    let outcome = reader.pull("products", plan.pull_limit, false)?;
    let figures = PullFigures::from_outcome(&outcome, plan.pull_limit);
    progress(
        run.target.kind,
        &format!(
            "incremental pull of {} rows: {:.0} rows/s",
            figures.rows, figures.rows_per_second
        ),
    );
    run.results.incremental_after_growth = Some(figures);

    run.results.incremental_cycles = Some(incremental_cycles(run, plan)?);
    Ok(())
}

/// Makes the 8 devices of the first small tenant, or of the large tenant, push price edits of
/// the first `small_catalog` products of their store.
fn growth_push(
    run: &mut TargetRun,
    plan: &Plan,
    large: bool,
    ticks: u64,
    rng: &mut fastrand::Rng,
) -> Result<PushFigures, String> {
    let edits = plan.batch_size * plan.growth_batches_per_device;
    let devices = if large {
        &mut run.large_devices
    } else {
        run.small_devices.first_mut().ok_or("no small tenant devices")?
    };
    for device in devices.iter_mut() {
        queue_edits(device, edits, 0, Some(plan.small_catalog), rng);
    }
    let figures = push_outboxes(
        devices.iter_mut().collect(),
        plan.batch_size,
        usize::MAX,
        &run.target.cpu_pids,
        ticks,
    );
    check_push(
        &figures,
        if large {
            "growth push on the large tenant"
        } else {
            "growth push on the small tenant"
        },
    )?;
    Ok(figures)
}

/// Times pulls of another device's edits: one device pushes `batch_size` edits and another
/// pulls them, repeated. Only the pulls are timed.
fn incremental_cycles(run: &mut TargetRun, plan: &Plan) -> Result<CycleFigures, String> {
    let devices = run.small_devices.first_mut().ok_or("no small tenant devices")?;
    let [writer, reader, ..] = devices.as_mut_slice() else {
        return Err("the incremental cycles need two devices".to_string());
    };
    // Catch up on the growth push first, untimed.
    reader.pull("products", plan.pull_limit, false)?;

    let mut rng = fastrand::Rng::with_seed(11);
    let mut latencies = crate::stats::Latencies::default();
    let mut rows = 0;
    let mut seconds = 0.0;
    for _ in 0..plan.incremental_cycles {
        queue_edits(writer, plan.batch_size, 0, None, &mut rng);
        while writer.push_next_batch(plan.batch_size)?.is_some() {}
        let outcome = reader.pull("products", plan.pull_limit, false)?;
        latencies.record(outcome.elapsed);
        rows += outcome.upserted + outcome.deleted;
        seconds += outcome.elapsed.as_secs_f64();
    }
    Ok(CycleFigures {
        cycles: plan.incremental_cycles,
        rows,
        mean_rows: rows as f64 / plan.incremental_cycles.max(1) as f64,
        rows_per_second: scenarios::rate(rows as f64, seconds),
        p50_ms: latencies.percentile(50.0),
        p95_ms: latencies.percentile(95.0),
    })
}

fn push_round(run: &mut TargetRun, plan: &Plan, round: usize, ticks: u64) {
    let kind = run.target.kind;
    let mut rng = fastrand::Rng::with_seed(1_000 + round as u64);
    let edits = plan.batch_size * plan.batches_per_device;
    let mut devices: Vec<&mut Terminal> = run.small_devices.iter_mut().flatten().collect();
    for device in devices.iter_mut() {
        queue_edits(device, edits, plan.create_percent, None, &mut rng);
    }
    let figures = push_outboxes(devices, plan.batch_size, usize::MAX, &run.target.cpu_pids, ticks);
    progress(
        kind,
        &format!(
            "push round {}: {:.0} mutations/s, p99 {:.0} ms, {} rejected, {} failed pushes",
            round + 1,
            figures.per_second,
            figures.p99_ms,
            figures.counts.rejected,
            figures.failed_pushes
        ),
    );
    run.results.push_rounds.push(figures);
}

fn sales_round(run: &mut TargetRun, plan: &Plan, sales: &[LoggedSale], round: usize, ticks: u64) -> Result<(), String> {
    let kind = run.target.kind;
    let per_tenant = plan.sales_terminals.div_ceil(run.small_devices.len().max(1));
    let terminals: Vec<&mut Terminal> = run
        .small_devices
        .iter_mut()
        .flat_map(|devices| devices.iter_mut().take(per_tenant))
        .take(plan.sales_terminals)
        .collect();
    let mut shares: Vec<Vec<LoggedSale>> = vec![Vec::new(); terminals.len()];
    for (index, sale) in sales.iter().enumerate() {
        shares[index % terminals.len()].push(sale.clone());
    }

    let figures = post_sales(terminals, shares, &run.target.cpu_pids, ticks, 500 + round as u64)?;
    progress(
        kind,
        &format!(
            "sales round {}: {:.0} sales/s, p99 {:.0} ms, {} failed",
            round + 1,
            figures.per_second,
            figures.p99_ms,
            figures.failed
        ),
    );
    run.results.sales_rounds.push(figures);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::rotation;

    #[test]
    fn rotation_moves_first_server_each_round() {
        assert_eq!(rotation(3, 0), vec![0, 1, 2]);
        assert_eq!(rotation(3, 1), vec![1, 2, 0]);
        assert_eq!(rotation(3, 5), vec![2, 0, 1]);
        assert_eq!(rotation(1, 4), vec![0]);
    }
}
