//! BENCHMARKS.md: the figures of one bench run, the targets they meet or miss, and how
//! they were measured.

use std::fmt::Write;

use super::login_timing::{self, LoginTimingFigures};
use super::scenarios::{PushFigures, SalesFigures};
use super::{BenchResults, TargetResults};
use crate::http::first_sentence;
use crate::stats::median;
use crate::target::TargetKind;

/// Maximum compressed size of the Worker bundle, in bytes: the 1 MB target.
const BUNDLE_LIMIT_BYTES: u64 = 1_000_000;

/// One benchmark target and whether this run met it.
struct Verdict {
    name: String,
    measured: String,
    met: Option<bool>,
    shortfall: String,
}

/// Renders the whole report. `analysis` is the hand-written text on what limits the
/// figures (`bench/analysis.md`), included under its own heading when given.
pub fn markdown(results: &BenchResults, analysis: Option<&str>) -> String {
    let mut out = String::new();
    let kasir = find(results, TargetKind::Kasir);
    let peer = find(results, TargetKind::Peer);
    let floor = find(results, TargetKind::Floor);

    write_header(&mut out, results);
    write_targets(&mut out, &verdicts(results, kasir, peer, floor));
    write_push(&mut out, results);
    write_pull(&mut out, results);
    write_sales(&mut out, results);
    write_cpu(&mut out, results);
    write_growth(&mut out, results);
    write_seeding(&mut out, results);
    write_login_timing(&mut out, results);
    write_bundle(&mut out, results);
    write_errors(&mut out, results);
    if let Some(analysis) = analysis {
        out.push_str("\n## What limits the figures\n\n");
        out.push_str(analysis.trim());
        out.push('\n');
    }
    write_method(&mut out, results);
    out
}

fn find(results: &BenchResults, kind: TargetKind) -> Option<&TargetResults> {
    results
        .targets
        .iter()
        .find(|target| target.kind == kind && target.error.is_none())
}

fn write_header(out: &mut String, results: &BenchResults) {
    let machine = &results.machine;
    let mode = if results.plan.quick {
        "quick (`BENCH_QUICK=1`)"
    } else {
        "full"
    };
    let minutes = (results.run_seconds / 60.0).floor();
    let seconds = results.run_seconds - minutes * 60.0;
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Written by `make bench` on {} ({mode} mode; the whole run took {minutes:.0} min {seconds:.0} s, builds included). \
         Kasir Edge runs under `wrangler dev`, the Express + Sequelize + SQLite peer under Node, and the raw \
         D1 floor (`bench/floor/`) under the same `wrangler dev`, all on 127.0.0.1 of one machine and driven by \
         `kasir-sim bench`. The servers take turns, so only one is under load at a time. The machine is shared \
         with other work, so single figures move from run to run; the ratios compare servers measured minutes \
         apart in the same run.\n",
        machine.date
    );
    let _ = writeln!(out, "| nproc | CPU | memory | kernel | load average before | after |");
    let _ = writeln!(out, "| ---: | --- | ---: | --- | --- | --- |");
    let _ = writeln!(
        out,
        "| {} | {} | {:.1} GiB | {} | {} | {} |\n",
        machine.nproc,
        machine.cpu_model,
        machine.memory_gib,
        machine.kernel,
        results.load_average_before,
        results.load_average_after
    );
    let peer_packages: Vec<String> = machine
        .peer_packages
        .iter()
        .map(|(name, version)| format!("{name} {version}"))
        .collect();
    let _ = writeln!(
        out,
        "Software: Node.js {}, wrangler {}, workerd {}; peer: {}.\n",
        machine.node,
        machine.wrangler,
        machine.workerd.trim_start_matches("workerd "),
        peer_packages.join(", ")
    );
}

fn verdicts(
    results: &BenchResults,
    kasir: Option<&TargetResults>,
    peer: Option<&TargetResults>,
    floor: Option<&TargetResults>,
) -> Vec<Verdict> {
    let mut list = Vec::new();

    let peer_ratio = push_ratio(kasir, peer);
    list.push(at_least("Push throughput ≥ 5× the peer", peer_ratio, 5.0, "×"));
    let floor_ratio = push_ratio(kasir, floor);
    list.push(at_least("Push throughput ≥ half the floor", floor_ratio, 0.5, "×"));

    let cpu_ratio = match (kasir, peer) {
        (Some(kasir), Some(peer)) => {
            let ours = median_of(&kasir.push_rounds, |round| round.cpu_ms_per_1000);
            let theirs = median_of(&peer.push_rounds, |round| round.cpu_ms_per_1000);
            ours.zip(theirs)
                .filter(|(_, theirs)| *theirs > 0.0)
                .map(|(ours, theirs)| ours / theirs)
        }
        _ => None,
    };
    list.push(at_most(
        "CPU per 1,000 mutations ≤ ⅓ of the peer's",
        cpu_ratio,
        1.0 / 3.0,
    ));

    let push_growth = kasir.and_then(growth_ratio);
    list.push(at_least(
        &format!(
            "Push with {} vs {} products within 20 %",
            thousands(results.plan.large_catalog as f64),
            thousands(results.plan.small_catalog as f64)
        ),
        push_growth,
        0.8,
        "×",
    ));
    let pull_growth = kasir.and_then(|kasir| {
        let small = kasir.first_sync_small.as_ref()?.rows_per_second;
        let large = kasir.first_sync_large.as_ref()?.rows_per_second;
        (small > 0.0).then(|| large / small)
    });
    list.push(at_least(
        "Pull rows/s at the large vs the small catalog within 20 %",
        pull_growth,
        0.8,
        "×",
    ));

    let bundle = results.bundle.as_ref().map(|bundle| bundle.gzip_bytes);
    list.push(Verdict {
        name: "Compressed Worker bundle ≤ 1 MB".to_string(),
        measured: bundle.map_or("not measured".to_string(), |bytes| {
            format!("{:.0} KB", bytes as f64 / 1000.0)
        }),
        met: bundle.map(|bytes| bytes <= BUNDLE_LIMIT_BYTES),
        shortfall: match bundle {
            Some(bytes) if bytes > BUNDLE_LIMIT_BYTES => {
                format!("{:.0} KB over", (bytes - BUNDLE_LIMIT_BYTES) as f64 / 1000.0)
            }
            Some(bytes) => format!("{:.0} KB to spare", (BUNDLE_LIMIT_BYTES - bytes) as f64 / 1000.0),
            None => String::new(),
        },
    });
    list
}

/// Median over the rounds of Kasir Edge's push throughput divided by `other`'s in the same
/// round.
fn push_ratio(kasir: Option<&TargetResults>, other: Option<&TargetResults>) -> Option<f64> {
    let (kasir, other) = (kasir?, other?);
    let ratios: Vec<f64> = kasir
        .push_rounds
        .iter()
        .zip(&other.push_rounds)
        .filter(|(_, theirs)| theirs.per_second > 0.0)
        .map(|(ours, theirs)| ours.per_second / theirs.per_second)
        .collect();
    (!ratios.is_empty()).then(|| median(&ratios))
}

fn median_of<T>(rounds: &[T], figure: impl Fn(&T) -> Option<f64>) -> Option<f64> {
    let values: Vec<f64> = rounds.iter().filter_map(figure).collect();
    (!values.is_empty()).then(|| median(&values))
}

fn at_least(name: &str, value: Option<f64>, wanted: f64, unit: &str) -> Verdict {
    Verdict {
        name: name.to_string(),
        measured: value.map_or("not measured".to_string(), |value| format!("{value:.2}{unit}")),
        met: value.map(|value| value >= wanted),
        shortfall: match value {
            Some(value) if value < wanted => format!("{:.0} % short of {wanted}{unit}", (1.0 - value / wanted) * 100.0),
            Some(_) => String::new(),
            None => String::new(),
        },
    }
}

fn at_most(name: &str, value: Option<f64>, wanted: f64) -> Verdict {
    Verdict {
        name: name.to_string(),
        measured: value.map_or("not measured".to_string(), |value| format!("{value:.2}× the peer's")),
        met: value.map(|value| value <= wanted),
        shortfall: match value {
            Some(value) if value > wanted => format!("{:.0} % above ⅓", (value / wanted - 1.0) * 100.0),
            _ => String::new(),
        },
    }
}

/// Median over the growth rounds of the large tenant's push throughput divided by the small
/// tenant's in the same round.
fn growth_ratio(target: &TargetResults) -> Option<f64> {
    let ratios: Vec<f64> = target
        .growth_small
        .iter()
        .zip(&target.growth_large)
        .filter(|(small, _)| small.per_second > 0.0)
        .map(|(small, large)| large.per_second / small.per_second)
        .collect();
    (!ratios.is_empty()).then(|| median(&ratios))
}

fn write_targets(out: &mut String, verdicts: &[Verdict]) {
    let _ = writeln!(out, "## Targets\n");
    let _ = writeln!(out, "| Target | Measured | Met | Missed by |");
    let _ = writeln!(out, "| --- | ---: | --- | --- |");
    for verdict in verdicts {
        let met = match verdict.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "not measured",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {met} | {} |",
            verdict.name, verdict.measured, verdict.shortfall
        );
    }
    out.push('\n');
}

fn write_push(out: &mut String, results: &BenchResults) {
    let plan = &results.plan;
    let _ = writeln!(
        out,
        "## Push\n\n{} tenants × {} devices, each device pushing {} batches of {} mutations \
         ({} % new products, the rest price edits of products it pulled, with their base version), \
         {} rounds. Throughput counts every mutation the server took in (any status but `rejected`) per \
         second of wall time; latency is per push request. Figures are medians over the rounds.\n",
        plan.tenants,
        plan.devices_per_tenant,
        plan.batches_per_device,
        plan.batch_size,
        plan.create_percent,
        plan.push_rounds
    );
    let _ = writeln!(out, "| Server | mutations/s | per round | p50 ms | p95 ms | p99 ms | CPU ms / 1,000 mutations | applied / merged / duplicate / conflict / rejected | retried / failed pushes |");
    let _ = writeln!(out, "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- | --- |");
    for target in &results.targets {
        let rounds = &target.push_rounds;
        if rounds.is_empty() {
            continue;
        }
        let per_round: Vec<String> = rounds.iter().map(|round| thousands(round.per_second)).collect();
        let mut counts = crate::terminal::StatusCounts::default();
        for round in rounds {
            counts.add(&round.counts);
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {} | {} / {} / {} / {} / {} | {} / {} |",
            target.kind.label(),
            thousands(median_figure(rounds, |round| round.per_second)),
            per_round.join(", "),
            median_figure(rounds, |round| round.p50_ms),
            median_figure(rounds, |round| round.p95_ms),
            median_figure(rounds, |round| round.p99_ms),
            optional(median_of(rounds, |round| round.cpu_ms_per_1000), 0),
            counts.applied,
            counts.merged,
            counts.duplicate,
            counts.conflict,
            counts.rejected,
            rounds.iter().map(|round| round.retried_pushes).sum::<usize>(),
            rounds.iter().map(|round| round.failed_pushes).sum::<usize>(),
        );
    }
    out.push('\n');
    for target in &results.targets {
        let causes = target.push_rounds.iter().map(|round| &round.retry_causes);
        write_retry_causes(out, target.kind.label(), "push", causes);
    }
}

/// Lists why attempts of one step failed and were retried, summed over its rounds.
fn write_retry_causes<'a>(
    out: &mut String,
    server: &str,
    step: &str,
    rounds: impl Iterator<Item = &'a std::collections::BTreeMap<String, usize>>,
) {
    let mut totals: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for causes in rounds {
        for (cause, count) in causes {
            *totals.entry(cause.as_str()).or_insert(0) += count;
        }
    }
    if totals.is_empty() {
        return;
    }
    let listed: Vec<String> = totals
        .iter()
        .map(|(cause, count)| format!("{count} × `{}`", first_sentence(cause).replace('`', "'")))
        .collect();
    let _ = writeln!(
        out,
        "{server}, failed {step} attempts that were retried with the same body: {}.\n",
        listed.join("; ")
    );
}

fn median_figure<T>(rounds: &[T], figure: impl Fn(&T) -> f64) -> f64 {
    let values: Vec<f64> = rounds.iter().map(figure).collect();
    median(&values)
}

fn write_pull(out: &mut String, results: &BenchResults) {
    let plan = &results.plan;
    let _ = writeln!(
        out,
        "## Pull\n\nFirst sync: a new device pulls `entities=products` from no cursor, {} rows per page, \
         until `has_more` is false; the small catalog's figure is the median of {} such pulls. Incremental: the device that made the large first sync pulls what the \
         growth pushes changed; then {} cycles of one device pushing {} edits and another pulling them \
         (only the pulls are timed). Missing rows are seeded products the first sync never returned.\n",
        plan.pull_limit, plan.small_sync_repeats, plan.incremental_cycles, plan.batch_size
    );
    let _ = writeln!(
        out,
        "| Server | first sync {} rows: rows/s | first sync {} rows: s | rows/s | missing rows | at {} rows per page: rows/s | incremental: rows | rows/s | cycles: p50 ms | p95 ms |",
        thousands(plan.small_catalog as f64),
        thousands(plan.large_catalog as f64),
        thousands(plan.max_pull_limit as f64)
    );
    let _ = writeln!(
        out,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for target in &results.targets {
        let Some(large) = &target.first_sync_large else {
            continue;
        };
        let small = target.first_sync_small.as_ref();
        let wide = target.first_sync_large_max_page.as_ref();
        let incremental = target.incremental_after_growth.as_ref();
        let cycles = target.incremental_cycles.as_ref();
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {} | {} | {} | {} | {} | {} | {} |",
            target.kind.label(),
            small.map_or("–".to_string(), |pull| thousands(pull.rows_per_second)),
            large.seconds,
            thousands(large.rows_per_second),
            large
                .missing_rows
                .map_or("–".to_string(), |missing| thousands(missing as f64)),
            wide.map_or("–".to_string(), |pull| thousands(pull.rows_per_second)),
            incremental.map_or("–".to_string(), |pull| thousands(pull.rows as f64)),
            incremental.map_or("–".to_string(), |pull| thousands(pull.rows_per_second)),
            cycles.map_or("–".to_string(), |cycles| format!("{:.0}", cycles.p50_ms)),
            cycles.map_or("–".to_string(), |cycles| format!("{:.0}", cycles.p95_ms)),
        );
    }
    out.push('\n');
}

fn write_sales(out: &mut String, results: &BenchResults) {
    let plan = &results.plan;
    let _ = writeln!(
        out,
        "## Sales\n\n`POST /v1/transactions` from {} terminals at once ({} per tenant), one request at a \
         time each, {} sales per round from the bakery POS log in log order, {} rounds. Baskets are the \
         log's, priced from the catalog each terminal pulled; payments mix cash with change, QRIS, card, \
         transfer, e-wallet and e-wallet plus cash. Figures are medians over the rounds.\n",
        plan.sales_terminals,
        plan.sales_terminals / plan.tenants.max(1),
        thousands(plan.sales_per_round as f64),
        plan.sales_rounds
    );
    let _ = writeln!(
        out,
        "| Server | sales/s | per round | p50 ms | p95 ms | p99 ms | CPU ms / 1,000 sales | failed | retried |"
    );
    let _ = writeln!(out, "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for target in &results.targets {
        let rounds = &target.sales_rounds;
        if rounds.is_empty() {
            continue;
        }
        let per_round: Vec<String> = rounds.iter().map(|round| thousands(round.per_second)).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {} | {} | {} |",
            target.kind.label(),
            thousands(median_figure(rounds, |round: &SalesFigures| round.per_second)),
            per_round.join(", "),
            median_figure(rounds, |round| round.p50_ms),
            median_figure(rounds, |round| round.p95_ms),
            median_figure(rounds, |round| round.p99_ms),
            optional(median_of(rounds, |round| round.cpu_ms_per_1000), 0),
            rounds.iter().map(|round| round.failed).sum::<usize>(),
            rounds.iter().map(|round| round.retried).sum::<usize>(),
        );
    }
    out.push('\n');
    for target in &results.targets {
        let causes = target.sales_rounds.iter().map(|round| &round.retry_causes);
        write_retry_causes(out, target.kind.label(), "sale", causes);
    }
    if let (Some(kasir), Some(peer)) = (find(results, TargetKind::Kasir), find(results, TargetKind::Peer)) {
        let ratios: Vec<f64> = kasir
            .sales_rounds
            .iter()
            .zip(&peer.sales_rounds)
            .filter(|(_, theirs)| theirs.per_second > 0.0)
            .map(|(ours, theirs)| ours.per_second / theirs.per_second)
            .collect();
        if !ratios.is_empty() {
            let _ = writeln!(
                out,
                "Kasir Edge / peer, sales per second: {:.2}× (median of the rounds).\n",
                median(&ratios)
            );
        }
    }
}

/// CPU time of one kind of step summed over its rounds, with the count it is divided by.
struct CpuTotals {
    server_ms: f64,
    by_process_ms: std::collections::BTreeMap<String, f64>,
    client_ms: f64,
    count: u64,
}

impl CpuTotals {
    fn new() -> CpuTotals {
        CpuTotals {
            server_ms: 0.0,
            by_process_ms: std::collections::BTreeMap::new(),
            client_ms: 0.0,
            count: 0,
        }
    }

    fn add(&mut self, cpu: Option<&crate::cpu::CpuUsage>, client_ms: Option<f64>, count: u64) {
        let Some(cpu) = cpu else {
            return;
        };
        self.server_ms += cpu.total_ms;
        for (name, ms) in &cpu.by_process_ms {
            *self.by_process_ms.entry(name.clone()).or_insert(0.0) += ms;
        }
        self.client_ms += client_ms.unwrap_or(0.0);
        self.count += count;
    }

    fn per_thousand(&self, ms: f64) -> String {
        if self.count == 0 {
            "–".to_string()
        } else {
            format!("{:.0}", ms * 1000.0 / self.count as f64)
        }
    }
}

fn write_cpu(out: &mut String, results: &BenchResults) {
    let _ = writeln!(
        out,
        "## CPU\n\nServer CPU per 1,000 mutations (push rounds) and per 1,000 sales (sales rounds), summed over \
         the rounds and split by process name: `workerd` runs the Worker, its Durable Objects and the local D1 \
         databases; `node` is wrangler itself, which also receives a DevTools network event for every subrequest \
         of the Worker, each local D1 call included; `esbuild` is wrangler's bundler service. The last column is kasir-sim's own CPU in the same steps, which the servers did not get \
         on this {}-CPU machine.\n",
        results.machine.nproc
    );
    let _ = writeln!(
        out,
        "| Server | step | CPU ms / 1,000 | by process, ms / 1,000 | kasir-sim CPU ms / 1,000 |"
    );
    let _ = writeln!(out, "| --- | --- | ---: | --- | ---: |");
    for target in &results.targets {
        let mut push = CpuTotals::new();
        for round in &target.push_rounds {
            push.add(round.cpu.as_ref(), round.client_cpu_ms, round.counts.accepted());
        }
        let mut sales = CpuTotals::new();
        for round in &target.sales_rounds {
            sales.add(round.cpu.as_ref(), round.client_cpu_ms, round.stored as u64);
        }
        for (step, totals) in [("push", &push), ("sales", &sales)] {
            if totals.count == 0 {
                continue;
            }
            let split: Vec<String> = totals
                .by_process_ms
                .iter()
                .map(|(name, ms)| format!("{name} {}", totals.per_thousand(*ms)))
                .collect();
            let _ = writeln!(
                out,
                "| {} | {step} | {} | {} | {} |",
                target.kind.label(),
                totals.per_thousand(totals.server_ms),
                split.join(", "),
                totals.per_thousand(totals.client_ms)
            );
        }
    }
    out.push('\n');
}

fn write_growth(out: &mut String, results: &BenchResults) {
    let plan = &results.plan;
    let _ = writeln!(
        out,
        "## Growth\n\nThe same push ({} devices, {} batches of {} price edits each) on a tenant with {} \
         products and on one with {}, {} rounds with the order alternating; and the first sync of each. In \
         both tenants the edits go to the first {} products, so that the two pushes meet the same contention \
         and differ only in table size. Push figures are medians over the rounds, and large / small is the \
         median of the rounds' ratios. The page columns are the mean time of the first and the last ten pages \
         of the large first sync.\n",
        plan.devices_per_tenant,
        plan.growth_batches_per_device,
        plan.batch_size,
        thousands(plan.small_catalog as f64),
        thousands(plan.large_catalog as f64),
        plan.growth_rounds,
        thousands(plan.small_catalog as f64)
    );
    let _ = writeln!(
        out,
        "| Server | push, {} products: mutations/s | push, {}: mutations/s | large / small | pull rows/s, {} | pull rows/s, {} | large / small | first pages ms | last pages ms |",
        thousands(plan.small_catalog as f64),
        thousands(plan.large_catalog as f64),
        thousands(plan.small_catalog as f64),
        thousands(plan.large_catalog as f64)
    );
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for target in &results.targets {
        if target.growth_small.is_empty() || target.growth_large.is_empty() {
            continue;
        }
        let (Some(pull_small), Some(pull_large)) = (&target.first_sync_small, &target.first_sync_large) else {
            continue;
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {:.0} | {:.0} |",
            target.kind.label(),
            thousands(median_figure(&target.growth_small, |round| round.per_second)),
            thousands(median_figure(&target.growth_large, |round| round.per_second)),
            growth_ratio(target).map_or("–".to_string(), |ratio| format!("{ratio:.2}")),
            thousands(pull_small.rows_per_second),
            thousands(pull_large.rows_per_second),
            ratio(pull_large.rows_per_second, pull_small.rows_per_second),
            pull_large.first_pages_ms,
            pull_large.last_pages_ms,
        );
    }
    out.push('\n');
    write_pull_time(out, results);
}

/// Seconds the large first sync took to reach each checkpoint of rows, per server.
fn write_pull_time(out: &mut String, results: &BenchResults) {
    let pulls: Vec<(&TargetResults, &super::scenarios::PullFigures)> = results
        .targets
        .iter()
        .filter_map(|target| Some((target, target.first_sync_large.as_ref()?)))
        .collect();
    if pulls.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "Pull time vs rows: seconds from the start of the large first sync ({} rows per page) until each count \
         of rows had arrived.\n",
        results.plan.pull_limit
    );
    let header: Vec<&str> = pulls.iter().map(|(target, _)| target.kind.label()).collect();
    let _ = writeln!(out, "| rows | {} |", header.join(" | "));
    let _ = writeln!(out, "| ---: |{}", " ---: |".repeat(pulls.len()));
    for checkpoint in super::scenarios::PULL_CHECKPOINTS {
        if checkpoint > results.plan.large_catalog {
            continue;
        }
        let cells: Vec<String> = pulls
            .iter()
            .map(|(_, pull)| {
                pull.seconds_at_rows
                    .iter()
                    .find(|(rows, _)| *rows == checkpoint)
                    .map_or("–".to_string(), |(_, seconds)| format!("{seconds:.2}"))
            })
            .collect();
        let _ = writeln!(out, "| {} | {} |", thousands(checkpoint as f64), cells.join(" | "));
    }
    out.push('\n');
}

fn write_seeding(out: &mut String, results: &BenchResults) {
    let plan = &results.plan;
    let _ = writeln!(
        out,
        "## Seeding\n\nCatalogs are created through sync push in batches of {}: the small tenants at once (one \
         back-office device each), then the large tenant from {} devices. These are inserts only.\n",
        plan.seed_batch, plan.seed_pushers
    );
    let _ = writeln!(out, "| Server | small catalogs: mutations/s | large catalog: mutations/s | seconds | p99 ms | CPU ms / 1,000 mutations |");
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: |");
    for target in &results.targets {
        let (Some(small), Some(large)) = (&target.seed_small, &target.seed_large) else {
            continue;
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} | {:.0} | {} |",
            target.kind.label(),
            thousands(small.per_second),
            thousands(large.per_second),
            large.seconds,
            large.p99_ms,
            optional(large.cpu_ms_per_1000, 0),
        );
    }
    out.push('\n');
}

fn write_login_timing(out: &mut String, results: &BenchResults) {
    let measured: Vec<(&TargetResults, &LoginTimingFigures)> = results
        .targets
        .iter()
        .filter_map(|target| Some((target, target.login_timing.as_ref()?)))
        .collect();
    if measured.is_empty() {
        return;
    }
    let plan = &results.plan;
    let (per_account, per_address) = login_timing::failed_logins_needed(plan.login_attempts);
    let _ = writeln!(
        out,
        "## Login timing

A fresh tenant gets {} failed logins with an email it does not have, {} with the \
         owner's email and a wrong password, and, as a reference, {} with the right password (without a \
         `device`, so no device is registered). They are sent one at a time in a shuffled order, so that a \
         slow stretch of the machine falls on all three alike, after {} untimed attempts of each. Latency is per \
         request as kasir-sim sees it, connection set-up included. `bench/run.sh` serves Kasir Edge with \
         `LOGIN_LIMIT_PER_ACCOUNT` and `LOGIN_LIMIT_PER_ADDRESS` raised in its `.dev.vars`, because this step \
         sends up to {per_account} failures per account and {per_address} from one address, and the \
         `wrangler.toml` limits (10 and 50 per 15 minutes) would return 429. The limit check and the failure \
         count still run on every attempt.\n",
        plan.login_attempts,
        plan.login_attempts,
        plan.login_attempts,
        login_timing::WARM_UP_ATTEMPTS
    );
    let _ = writeln!(
        out,
        "Only Kasir Edge is measured, because the other two make no such promise: the floor checks no \
         password, and the peer returns before its bcrypt comparison when the email is unknown \
         (`src/modules/auth/auth.service.js` of the peer).\n"
    );
    let _ = writeln!(out, "| Server | attempt | responses | p50 ms | p95 ms | mean ms |");
    let _ = writeln!(out, "| --- | --- | --- | ---: | ---: | ---: |");
    for (target, figures) in &measured {
        let cases = [
            ("unknown email", &figures.unknown_user),
            ("owner's email, wrong password", &figures.wrong_password),
            ("right password (reference)", &figures.right_password),
        ];
        for (name, case) in cases {
            let _ = writeln!(
                out,
                "| {} | {name} | {} | {:.1} | {:.1} | {:.1} |",
                target.kind.label(),
                status_counts(&case.statuses),
                case.p50_ms,
                case.p95_ms,
                case.mean_ms
            );
        }
    }
    out.push('\n');
    for (target, figures) in &measured {
        let _ = writeln!(
            out,
            "{}, unknown email / wrong password: p50 {:.3}×, mean {:.3}×; mean difference {:+.1} ms ± {:.1} ms \
             (95 % confidence interval).\n",
            target.kind.label(),
            figures.p50_ratio,
            figures.mean_ratio,
            figures.mean_difference_ms,
            figures.mean_difference_margin_ms
        );
        let failures = 2 * (figures.attempts_per_case + figures.warm_up_attempts);
        let code = figures.failure_body["error"]["code"].as_str().unwrap_or("none");
        match &figures.first_difference {
            None => {
                let _ = writeln!(
                    out,
                    "All {failures} failed logins (warm-up included) returned status {} and the same body, error \
                     code `{code}`, apart from `request_id`.\n",
                    figures.failure_status
                );
            }
            Some(difference) => {
                let _ = writeln!(
                    out,
                    "**{} of {failures} failed logins differed** in status or body (`request_id` aside) from the \
                     first one, which returned status {} with error code `{code}`. First difference: `{}`\n",
                    figures.differing_failures,
                    figures.failure_status,
                    difference.replace('`', "'")
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "How to read it: a ratio near 1.00 and an interval that contains 0 mean that the response time does not \
         tell whether an email exists in the tenant, at the resolution this many attempts give. All three cases \
         run one PBKDF2 check of 100,000 iterations, the unknown email against a dummy hash. After it, a failed \
         login writes the failure count for the login limits and an audit record, and a successful one writes \
         one refresh token, so the reference row can be faster than the failures.\n"
    );
}

/// Formats response counts by status, as in `401 × 200`.
fn status_counts(statuses: &std::collections::BTreeMap<u16, usize>) -> String {
    let parts: Vec<String> = statuses
        .iter()
        .map(|(status, count)| format!("{status} × {count}"))
        .collect();
    parts.join(", ")
}

fn write_bundle(out: &mut String, results: &BenchResults) {
    let Some(bundle) = &results.bundle else {
        return;
    };
    let _ = writeln!(
        out,
        "## Worker bundle\n\nEach file gzipped alone at level 9 (static assets under `build/assets` are \
         uploaded apart from the Worker and not counted).\n"
    );
    let _ = writeln!(out, "| File | bytes | gzip bytes |");
    let _ = writeln!(out, "| --- | ---: | ---: |");
    for file in &bundle.files {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            file.path,
            thousands(file.bytes as f64),
            thousands(file.gzip_bytes as f64)
        );
    }
    let _ = writeln!(
        out,
        "| total | {} | {} |\n",
        thousands(bundle.files.iter().map(|file| file.bytes).sum::<u64>() as f64),
        thousands(bundle.gzip_bytes as f64)
    );
    if let Some(line) = &bundle.wrangler_upload {
        let _ = writeln!(out, "`wrangler deploy --dry-run` of the same build: {line}\n");
    }
}

fn write_errors(out: &mut String, results: &BenchResults) {
    let failed: Vec<&TargetResults> = results.targets.iter().filter(|target| target.error.is_some()).collect();
    let login_failed: Vec<&TargetResults> = results
        .targets
        .iter()
        .filter(|target| target.login_timing_error.is_some())
        .collect();
    let rejected: Vec<(&TargetResults, &PushFigures)> = results
        .targets
        .iter()
        .flat_map(|target| target.push_rounds.iter().map(move |round| (target, round)))
        .filter(|(_, round)| round.first_error.is_some())
        .collect();
    if failed.is_empty() && rejected.is_empty() && login_failed.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Errors\n");
    for target in failed {
        let _ = writeln!(
            out,
            "- {} stopped: {}",
            target.kind.label(),
            target.error.as_deref().unwrap_or_default()
        );
    }
    for target in login_failed {
        let _ = writeln!(
            out,
            "- {} login timing failed: {}",
            target.kind.label(),
            target.login_timing_error.as_deref().unwrap_or_default()
        );
    }
    for (target, round) in rejected {
        let _ = writeln!(
            out,
            "- {} push: first rejected mutation or failed push: `{}`",
            target.kind.label(),
            round.first_error.as_deref().unwrap_or_default().replace('`', "'")
        );
    }
    out.push('\n');
}

fn write_method(out: &mut String, results: &BenchResults) {
    let _ = writeln!(out, "\n## Method\n");
    let lines = [
        "`make bench` builds the Worker, copies `build/` and `wrangler.toml` to a temporary folder and serves \
         that copy, so a rebuild of `build/` during the run does not reload the server. Each server gets fresh \
         state and free 127.0.0.1 ports, and all are stopped at the end.",
        "Kasir Edge tenants use `dedicated` placement, one D1 database each; the floor also gives each tenant \
         its own D1 database; the peer keeps every tenant in one SQLite file, as its design does.",
        "Every terminal is a thread of `kasir-sim`, logged in as the tenant owner on its own device. The \
         simulator runs on the same machine and takes CPU from the servers.",
        "CPU is utime + stime from `/proc/<pid>/stat` of the server's process tree (wrangler's Node.js \
         processes and every workerd below them; the peer's single Node.js process), read just before the \
         threads are released and after the last one ends, divided by the mutations or sales taken in.",
        "A push or sale that fails in transit or gets status 429 or 5xx is retried up to 5 times with the same \
         body (the same mutation ids or sale id), after `Retry-After` or a doubling backoff.",
        "The peer runs with its defaults (`PEER_PULL_CURSOR=ts`, request logging on); its push answers carry \
         `cursor` rather than `version`, and it syncs products only, so every push here is products.",
        "The floor writes each pushed product with one `INSERT ... ON CONFLICT DO UPDATE` in a single D1 batch \
         per push, and each sale with one `INSERT OR IGNORE`, into the product's own tenant schema; it checks \
         nothing and keeps no change log, idempotency records or sync log.",
    ];
    for line in lines {
        let _ = writeln!(out, "- {line}");
    }
    let _ = writeln!(
        out,
        "\nRaw figures of the run are in the JSON file that `make bench` names at its end. Run `make bench` \
         again to replace this page, or `BENCH_QUICK=1 make bench` for a shorter run ({} instead of {} \
         products in the large tenant, one round, {} instead of {} timed logins of each case).",
        thousands(10_000.0),
        thousands(100_000.0),
        super::Plan::new(true, false).login_attempts,
        super::Plan::new(false, false).login_attempts
    );
    let _ = writeln!(
        out,
        "\n{}",
        if results.plan.keep_alive {
            "Terminals kept their connection open between requests (`--keep-alive`)."
        } else {
            "Each request opened a new connection, as a terminal that syncs every few minutes does; \
             `kasir-sim bench --keep-alive` keeps one connection per terminal instead."
        }
    );
    if results.plan.quick {
        let _ = writeln!(
            out,
            "\nThis page comes from a quick run: fewer rounds and a smaller large tenant."
        );
    }
}

fn ratio(numerator: f64, denominator: f64) -> String {
    if denominator > 0.0 {
        format!("{:.2}", numerator / denominator)
    } else {
        "–".to_string()
    }
}

fn optional(value: Option<f64>, decimals: usize) -> String {
    value.map_or("–".to_string(), |value| format!("{value:.decimals$}"))
}

/// Formats a number rounded to a whole with commas between thousands, as in `12,345`.
pub fn thousands(value: f64) -> String {
    let rounded = value.round() as i64;
    let digits = rounded.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if rounded < 0 {
        format!("-{grouped}")
    } else {
        grouped
    }
}

#[cfg(test)]
mod tests {
    use super::super::login_timing::{LoginCaseFigures, LoginTimingFigures};
    use super::super::machine::MachineInfo;
    use super::super::{BenchResults, Plan, TargetResults};
    use super::{at_least, at_most, thousands, write_login_timing};
    use crate::target::TargetKind;

    fn case(status: u16, p50_ms: f64) -> LoginCaseFigures {
        LoginCaseFigures {
            attempts: 100,
            statuses: [(status, 100)].into_iter().collect(),
            p50_ms,
            p95_ms: p50_ms + 5.0,
            mean_ms: p50_ms + 1.0,
            latencies_ms: Vec::new(),
        }
    }

    fn results_with(login_timing: LoginTimingFigures) -> BenchResults {
        BenchResults {
            plan: Plan::new(true, false),
            machine: MachineInfo {
                nproc: 2,
                cpu_model: "test".to_string(),
                memory_gib: 1.0,
                kernel: "test".to_string(),
                date: "2026-01-01".to_string(),
                node: "test".to_string(),
                wrangler: "test".to_string(),
                workerd: "test".to_string(),
                peer_packages: Vec::new(),
            },
            bundle: None,
            targets: vec![TargetResults {
                kind: TargetKind::Kasir,
                base_url: "http://127.0.0.1:1".to_string(),
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
                login_timing: Some(login_timing),
                login_timing_error: None,
                error: None,
            }],
            run_seconds: 1.0,
            load_average_before: String::new(),
            load_average_after: String::new(),
        }
    }

    fn login_figures() -> LoginTimingFigures {
        LoginTimingFigures {
            attempts_per_case: 100,
            warm_up_attempts: 5,
            unknown_user: case(401, 50.0),
            wrong_password: case(401, 49.0),
            right_password: case(200, 60.0),
            p50_ratio: 50.0 / 49.0,
            mean_ratio: 51.0 / 50.0,
            mean_difference_ms: 1.0,
            mean_difference_margin_ms: 2.5,
            failure_status: 401,
            failure_body: serde_json::json!({"error": {"code": "unauthorized"}}),
            differing_failures: 0,
            first_difference: None,
        }
    }

    #[test]
    fn login_timing_section_shows_ratios() {
        let mut out = String::new();
        write_login_timing(&mut out, &results_with(login_figures()));

        assert!(out.contains("## Login timing"), "{out}");
        assert!(
            out.contains("| Kasir Edge | unknown email | 401 × 100 | 50.0 | 55.0 | 51.0 |"),
            "{out}"
        );
        assert!(out.contains("p50 1.020×, mean 1.020×"), "{out}");
        assert!(out.contains("+1.0 ms ± 2.5 ms"), "{out}");
        assert!(out.contains("All 210 failed logins"), "{out}");
    }

    #[test]
    fn login_timing_section_flags_differences() {
        let mut figures = login_figures();
        figures.differing_failures = 3;
        figures.first_difference = Some("attempt 7 (unknown email) returned HTTP 404".to_string());
        let mut out = String::new();
        write_login_timing(&mut out, &results_with(figures));

        assert!(out.contains("**3 of 210 failed logins differed**"), "{out}");
        assert!(out.contains("attempt 7 (unknown email) returned HTTP 404"), "{out}");
        assert!(!out.contains("All 210 failed logins"), "{out}");
    }

    #[test]
    fn login_timing_section_absent_without_figures() {
        let mut results = results_with(login_figures());
        results.targets[0].login_timing = None;
        let mut out = String::new();
        write_login_timing(&mut out, &results);

        assert!(out.is_empty(), "{out}");
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
        assert_eq!(thousands(-12_345.0), "-12,345");
    }

    #[test]
    fn verdict_states_shortfall() {
        let short = at_least("push", Some(4.0), 5.0, "×");
        let met = at_least("push", Some(6.0), 5.0, "×");
        let cpu = at_most("cpu", Some(0.5), 1.0 / 3.0);

        assert_eq!(short.met, Some(false));
        assert_eq!(short.shortfall, "20 % short of 5×");
        assert_eq!(met.met, Some(true));
        assert_eq!(cpu.shortfall, "50 % above ⅓");
    }
}
