//! kasir-sim: a native POS terminal for Kasir Edge. It logs in as a device, pulls the
//! catalog into a local store, sells offline with baskets and rhythm from a real POS log,
//! edits products, and syncs with retries that reuse the same mutation ids.
//!
//! `kasir-sim demo` runs one terminal through a trading day. `kasir-sim bench` runs many
//! terminals against Kasir Edge, the benchmark peer and the raw D1 floor, and writes
//! BENCHMARKS.md; `make bench` starts the servers and calls it.

mod basket;
mod bench;
mod cpu;
mod demo;
mod http;
mod stats;
mod store;
mod target;
mod terminal;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use kasir_tests::dev_vars::{read_admin_token, workspace_root};

use crate::target::{Target, TargetKind};

#[derive(Parser)]
#[command(
    name = "kasir-sim",
    version,
    about = "POS terminal simulator and load generator for Kasir Edge"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one terminal through a trading day of the POS log against a Kasir Edge server.
    Demo(DemoArgs),
    /// Drive Kasir Edge, the peer and the floor with many terminals and write the report.
    Bench(Box<BenchArgs>),
    /// Write the Markdown report again from the JSON results of an earlier bench run.
    Report(ReportArgs),
}

#[derive(Args)]
struct ReportArgs {
    /// JSON results written by `kasir-sim bench --json`.
    #[arg(long)]
    json: PathBuf,
    /// Output path of the Markdown report, such as BENCHMARKS.md.
    #[arg(long)]
    markdown: PathBuf,
}

#[derive(Args)]
struct DemoArgs {
    /// Kasir Edge server to drive.
    #[arg(long, default_value = "http://127.0.0.1:8787")]
    base_url: String,
    /// POS log CSV (Date,Time,Transaction,Item), such as the bakery log.
    #[arg(long, env = "POS_LOG")]
    pos_log: PathBuf,
    /// Trading day to replay, DD-MM-YYYY [default: the day with the most sales].
    #[arg(long)]
    date: Option<String>,
    /// Seconds of the log per real second; 0 sells as fast as possible.
    #[arg(long, default_value_t = 3600.0)]
    speed: f64,
    /// Mutations per sync push (the server takes at most 500).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=500))]
    batch_size: u16,
    /// Read every push reply; by default the first one is thrown away and the push retried.
    #[arg(long)]
    keep_first_reply: bool,
    /// Platform admin token [default: ADMIN_TOKEN from .dev.vars in the workspace root].
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
}

#[derive(Args)]
struct BenchArgs {
    /// Base URL of Kasir Edge under `wrangler dev`.
    #[arg(long)]
    kasir: Option<String>,
    /// Root process ids of the Kasir Edge server (comma-separated) for the CPU figures.
    #[arg(long, value_delimiter = ',')]
    kasir_pids: Vec<u32>,
    /// Base URL of the express-sequelize peer.
    #[arg(long)]
    peer: Option<String>,
    #[arg(long, value_delimiter = ',')]
    peer_pids: Vec<u32>,
    /// Base URL of the raw D1 floor Worker.
    #[arg(long)]
    floor: Option<String>,
    #[arg(long, value_delimiter = ',')]
    floor_pids: Vec<u32>,
    /// Admin token of Kasir Edge [default: ADMIN_TOKEN from .dev.vars].
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Admin token of the peer (its `ADMIN_TOKEN`).
    #[arg(long, default_value = "dev-admin-token")]
    peer_admin_token: String,
    /// POS log CSV (Date,Time,Transaction,Item) whose baskets the sales step replays;
    /// required unless --only is given.
    #[arg(long, env = "POS_LOG")]
    pos_log: Option<PathBuf>,
    /// Run only this step and skip the others.
    #[arg(long, value_enum)]
    only: Option<bench::Step>,
    /// Smaller run: 10,000 products in the large tenant, one round of each step, and 100
    /// instead of 200 timed logins of each case.
    #[arg(long, env = "BENCH_QUICK", value_parser = clap::builder::FalseyValueParser::new())]
    quick: bool,
    /// Folder with the built Worker whose compressed size to report.
    #[arg(long)]
    bundle_dir: Option<PathBuf>,
    /// The `Total Upload: ...` line of `wrangler deploy --dry-run`, quoted in the report.
    #[arg(long)]
    wrangler_upload: Option<String>,
    /// Folder of the installed peer, for its package versions.
    #[arg(long)]
    peer_dir: Option<PathBuf>,
    /// Unix time at which `make bench` started, so the report gives the whole run time.
    #[arg(long)]
    started_at: Option<i64>,
    /// Output path of the raw results as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Output path of the Markdown report, such as BENCHMARKS.md.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Keep each terminal's connection open between requests instead of opening one per
    /// request.
    #[arg(long)]
    keep_alive: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Demo(args) => run_demo(args),
        Command::Bench(args) => run_bench(*args),
        Command::Report(args) => run_report(args),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("kasir-sim: {message}");
            ExitCode::from(2)
        }
    }
}

fn admin_token(from_arguments: Option<String>) -> Result<String, String> {
    match from_arguments {
        Some(token) if !token.is_empty() => Ok(token),
        _ => read_admin_token(&workspace_root()),
    }
}

fn run_demo(args: DemoArgs) -> Result<bool, String> {
    let options = demo::DemoOptions {
        base_url: args.base_url,
        admin_token: admin_token(args.admin_token)?,
        pos_log: args.pos_log,
        date: args.date,
        speed: args.speed.max(0.0),
        batch_size: usize::from(args.batch_size),
        lose_first_reply: !args.keep_first_reply,
    };
    demo::run(&options)
}

fn run_bench(args: BenchArgs) -> Result<bool, String> {
    http::set_keep_alive(args.keep_alive);
    let mut targets = Vec::new();
    if let Some(base_url) = args.kasir {
        targets.push(Target {
            kind: TargetKind::Kasir,
            base_url,
            admin_token: admin_token(args.admin_token)?,
            cpu_pids: args.kasir_pids,
        });
    }
    if let Some(base_url) = args.peer {
        targets.push(Target {
            kind: TargetKind::Peer,
            base_url,
            admin_token: args.peer_admin_token,
            cpu_pids: args.peer_pids,
        });
    }
    if let Some(base_url) = args.floor {
        targets.push(Target {
            kind: TargetKind::Floor,
            base_url,
            admin_token: String::new(),
            cpu_pids: args.floor_pids,
        });
    }
    if targets.is_empty() {
        return Err("give at least one server: --kasir, --peer or --floor".to_string());
    }

    let inputs = bench::BenchInputs {
        targets,
        plan: bench::Plan::new(args.quick, args.keep_alive),
        pos_log: args.pos_log,
        only: args.only,
        bundle_dir: args.bundle_dir,
        wrangler_upload: args.wrangler_upload,
        peer_dir: args.peer_dir,
        workspace: workspace_root(),
        started_at_unix: args.started_at,
        json_path: args.json,
        markdown_path: args.markdown,
    };
    let results = bench::run(inputs)?;
    Ok(results
        .targets
        .iter()
        .all(|target| target.error.is_none() && target.login_timing_error.is_none()))
}

fn run_report(args: ReportArgs) -> Result<bool, String> {
    let text =
        std::fs::read_to_string(&args.json).map_err(|e| format!("failed to read {}: {e}", args.json.display()))?;
    let results: bench::BenchResults =
        serde_json::from_str(&text).map_err(|e| format!("{} holds no bench results: {e}", args.json.display()))?;
    bench::write_report(&results, &workspace_root(), &args.markdown)?;
    Ok(true)
}
