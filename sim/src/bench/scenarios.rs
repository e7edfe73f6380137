//! The measured steps: many terminals pushing their outboxes at once, many terminals
//! posting sales at once, and one terminal pulling. Each step starts its threads on a
//! barrier and times from the release to the last thread's end.

use std::collections::BTreeMap;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use kasir_core::money::TaxSettings;
use kasir_tests::pos_log::{self, LoggedSale};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::basket::{build_sale, Till};
use crate::cpu::{CpuMeter, CpuUsage};
use crate::stats::Latencies;
use crate::terminal::{PullOutcome, StatusCounts, Terminal};

/// Figures of one push step.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PushFigures {
    pub devices: usize,
    pub batch_size: usize,
    pub mutations_sent: u64,
    pub counts: StatusCounts,
    pub seconds: f64,
    /// Accepted mutations (every status but `rejected`) per second of wall time.
    pub per_second: f64,
    pub pushes: usize,
    /// Pushes that needed more than one attempt.
    pub retried_pushes: usize,
    /// Failed attempts by cause, as [`crate::http::failure_cause`] writes it.
    #[serde(default)]
    pub retry_causes: BTreeMap<String, usize>,
    /// Pushes that still failed after their retries; their mutations stay unsent.
    pub failed_pushes: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub cpu: Option<CpuUsage>,
    pub cpu_ms_per_1000: Option<f64>,
    /// CPU time of kasir-sim itself during the step, which the servers did not get.
    pub client_cpu_ms: Option<f64>,
    pub first_error: Option<String>,
}

/// Figures of one sales step.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SalesFigures {
    pub terminals: usize,
    pub sales: usize,
    /// Sales stored: status 201, or 200 for a replay after a retry.
    pub stored: usize,
    pub failed: usize,
    pub seconds: f64,
    pub per_second: f64,
    pub retried: usize,
    /// Failed attempts by cause, as [`crate::http::failure_cause`] writes it.
    #[serde(default)]
    pub retry_causes: BTreeMap<String, usize>,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub cpu: Option<CpuUsage>,
    pub cpu_ms_per_1000: Option<f64>,
    /// CPU time of kasir-sim itself during the step, which the servers did not get.
    pub client_cpu_ms: Option<f64>,
    /// Sum of the totals the server returned, in rupiah.
    pub total_rupiah: i64,
    pub first_error: Option<String>,
}

/// Figures of one pull from a cursor until `has_more` is false.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PullFigures {
    pub limit: usize,
    pub rows: usize,
    pub pages: usize,
    pub seconds: f64,
    pub rows_per_second: f64,
    pub page_p50_ms: f64,
    pub page_p95_ms: f64,
    /// Mean page time of the first and of the last ten pages: a pull that slows down as its
    /// cursor moves shows it here.
    pub first_pages_ms: f64,
    pub last_pages_ms: f64,
    /// Seeded products that the pull did not return, when the caller has their ids.
    pub missing_rows: Option<usize>,
    /// Seconds from the start of the pull until it had received each of
    /// [`PULL_CHECKPOINTS`] rows, for the checkpoints it reached.
    pub seconds_at_rows: Vec<(usize, f64)>,
}

/// Row counts at which a pull's elapsed time is noted.
pub const PULL_CHECKPOINTS: [usize; 5] = [1_000, 10_000, 25_000, 50_000, 100_000];

impl PullFigures {
    pub fn from_outcome(outcome: &PullOutcome, limit: usize) -> PullFigures {
        let mut pages = Latencies::default();
        for latency in &outcome.page_latencies {
            pages.record(*latency);
        }
        let mean_ms = |slice: &[Duration]| {
            if slice.is_empty() {
                0.0
            } else {
                slice.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / slice.len() as f64
            }
        };
        let count = outcome.page_latencies.len();
        let rows = outcome.upserted + outcome.deleted;
        let seconds = outcome.elapsed.as_secs_f64();
        PullFigures {
            limit,
            rows,
            pages: outcome.pages,
            seconds,
            rows_per_second: rate(rows as f64, seconds),
            page_p50_ms: pages.percentile(50.0),
            page_p95_ms: pages.percentile(95.0),
            first_pages_ms: mean_ms(&outcome.page_latencies[..count.min(10)]),
            last_pages_ms: mean_ms(&outcome.page_latencies[count.saturating_sub(10)..]),
            missing_rows: None,
            seconds_at_rows: PULL_CHECKPOINTS
                .iter()
                .filter_map(|&checkpoint| {
                    let (_, elapsed) = outcome.progress.iter().find(|(rows, _)| *rows >= checkpoint)?;
                    Some((checkpoint, elapsed.as_secs_f64()))
                })
                .collect(),
        }
    }
}

pub fn rate(amount: f64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        amount / seconds
    } else {
        0.0
    }
}

fn count_causes(counts: &mut BTreeMap<String, usize>, causes: &[String]) {
    for cause in causes {
        *counts.entry(cause.clone()).or_insert(0) += 1;
    }
}

fn merge_causes(into: &mut BTreeMap<String, usize>, from: &BTreeMap<String, usize>) {
    for (cause, count) in from {
        *into.entry(cause.clone()).or_insert(0) += count;
    }
}

fn per_thousand(cpu: &Option<CpuUsage>, count: u64) -> Option<f64> {
    cpu.as_ref()
        .filter(|_| count > 0)
        .map(|usage| usage.total_ms * 1000.0 / count as f64)
}

/// Tally of one pushing thread.
#[derive(Default)]
struct PusherTally {
    latencies: Latencies,
    counts: StatusCounts,
    sent: u64,
    pushes: usize,
    retried: usize,
    retry_causes: BTreeMap<String, usize>,
    failed: usize,
    first_error: Option<String>,
}

/// Pushes every terminal's outbox at once, `batch_size` mutations per push, at most
/// `max_pushes` pushes per terminal. Mutations of a push that failed after its retries
/// stay in the outbox and go out again with the same ids in the next push.
pub fn push_outboxes(
    terminals: Vec<&mut Terminal>,
    batch_size: usize,
    max_pushes: usize,
    cpu_pids: &[u32],
    ticks_per_second: u64,
) -> PushFigures {
    let devices = terminals.len();
    let barrier = Barrier::new(devices + 1);
    let (tallies, seconds, cpu, client_cpu) = thread::scope(|scope| {
        let handles: Vec<_> = terminals
            .into_iter()
            .map(|terminal| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    push_until_empty(terminal, batch_size, max_pushes)
                })
            })
            .collect();

        let meter = CpuMeter::start(cpu_pids, ticks_per_second);
        let client_meter = CpuMeter::start(&[std::process::id()], ticks_per_second);
        barrier.wait();
        let started = Instant::now();
        let tallies: Vec<PusherTally> = handles
            .into_iter()
            .map(|handle| handle.join().expect("a pushing thread panicked"))
            .collect();
        let seconds = started.elapsed().as_secs_f64();
        (tallies, seconds, meter.stop(), client_meter.stop())
    });

    let mut figures = PushFigures {
        devices,
        batch_size,
        seconds,
        ..PushFigures::default()
    };
    let mut latencies = Latencies::default();
    for tally in &tallies {
        latencies.merge(&tally.latencies);
        figures.counts.add(&tally.counts);
        figures.mutations_sent += tally.sent;
        figures.pushes += tally.pushes;
        figures.retried_pushes += tally.retried;
        merge_causes(&mut figures.retry_causes, &tally.retry_causes);
        figures.failed_pushes += tally.failed;
        if figures.first_error.is_none() {
            figures.first_error = tally.first_error.clone();
        }
    }
    let accepted = figures.counts.accepted();
    figures.per_second = rate(accepted as f64, seconds);
    figures.p50_ms = latencies.percentile(50.0);
    figures.p95_ms = latencies.percentile(95.0);
    figures.p99_ms = latencies.percentile(99.0);
    figures.cpu_ms_per_1000 = per_thousand(&cpu, accepted);
    figures.cpu = cpu;
    figures.client_cpu_ms = client_cpu.map(|usage| usage.total_ms);
    figures
}

fn push_until_empty(terminal: &mut Terminal, batch_size: usize, max_pushes: usize) -> PusherTally {
    let mut tally = PusherTally::default();
    while !terminal.store.outbox.is_empty() && tally.pushes + tally.failed < max_pushes {
        let size = batch_size.min(terminal.store.outbox.len()) as u64;
        match terminal.push_next_batch(batch_size) {
            Ok(Some(outcome)) => {
                tally.pushes += 1;
                tally.sent += size;
                tally.latencies.record(outcome.latency);
                tally.counts.add(&outcome.counts);
                if outcome.attempts > 1 {
                    tally.retried += 1;
                }
                count_causes(&mut tally.retry_causes, &outcome.retry_causes);
                if tally.first_error.is_none() {
                    tally.first_error = outcome.first_rejection;
                }
            }
            Ok(None) => break,
            Err(error) => {
                tally.failed += 1;
                if tally.first_error.is_none() {
                    tally.first_error = Some(error);
                }
            }
        }
    }
    tally
}

/// Queues `count` edits on a terminal: price changes of random products of its store with
/// the version it holds, and, with `create_percent` % chance each, a new product instead.
/// Edits pick from the first `hot_set` products of the store, or from all of them when
/// `hot_set` is `None`.
pub fn queue_edits(
    terminal: &mut Terminal,
    count: usize,
    create_percent: u32,
    hot_set: Option<usize>,
    rng: &mut fastrand::Rng,
) {
    let mut created = 0;
    for _ in 0..count {
        let stored = terminal.store.product_count();
        let catalog_size = hot_set.map_or(stored, |hot| hot.min(stored));
        if catalog_size == 0 || rng.u32(0..100) < create_percent {
            created += 1;
            let device = terminal.session.device_code.clone();
            let name = format!("Produk Baru {device} {created:05}");
            let sku = format!("NEW-{device}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
            terminal.create_product(&name, &sku, 1_000 * i64::from(rng.u32(1..100)));
            continue;
        }
        let product = terminal.store.product_at(rng.usize(0..catalog_size));
        let step = 500 * i64::from(rng.u32(1..5));
        let price = if rng.bool() {
            product.price + step
        } else {
            (product.price - step).max(500)
        };
        let id = product.id.clone();
        terminal
            .edit_product(&id, json!({"price": price}))
            .expect("the product was just read from the store");
    }
}

/// A sale ready to post, built before the clock starts.
struct ReadySale {
    body: serde_json::Value,
    total: i64,
}

/// Builds every terminal's sales from its share of the log, then posts them all at once,
/// one request at a time per terminal.
///
/// # Errors
/// Fails when a log sale cannot be priced (a malformed date or time in the log).
pub fn post_sales(
    terminals: Vec<&mut Terminal>,
    shares: Vec<Vec<LoggedSale>>,
    cpu_pids: &[u32],
    ticks_per_second: u64,
    seed: u64,
) -> Result<SalesFigures, String> {
    let mut prepared = Vec::with_capacity(terminals.len());
    for (index, (terminal, share)) in terminals.into_iter().zip(shares).enumerate() {
        let mut rng = fastrand::Rng::with_seed(seed + index as u64);
        let mut sales = Vec::with_capacity(share.len());
        for logged in &share {
            let receipt_no = terminal.next_receipt_no(&pos_log::receipt_date(&logged.date)?);
            let till = Till {
                outlet_id: &terminal.tenant.outlet_id,
                device_id: &terminal.session.device_id,
                receipt_no: &receipt_no,
            };
            if let Some(draft) = build_sale(&terminal.store, logged, &till, &TaxSettings::off(), &mut rng)? {
                sales.push(ReadySale {
                    body: draft.body,
                    total: draft.total,
                });
            }
        }
        prepared.push((terminal, sales));
    }

    let count = prepared.len();
    let barrier = Barrier::new(count + 1);
    let (tallies, seconds, cpu, client_cpu) = thread::scope(|scope| {
        let handles: Vec<_> = prepared
            .into_iter()
            .map(|(terminal, sales)| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    post_all(terminal, &sales)
                })
            })
            .collect();

        let meter = CpuMeter::start(cpu_pids, ticks_per_second);
        let client_meter = CpuMeter::start(&[std::process::id()], ticks_per_second);
        barrier.wait();
        let started = Instant::now();
        let tallies: Vec<SalesTally> = handles
            .into_iter()
            .map(|handle| handle.join().expect("a selling thread panicked"))
            .collect();
        let seconds = started.elapsed().as_secs_f64();
        (tallies, seconds, meter.stop(), client_meter.stop())
    });

    let mut figures = SalesFigures {
        terminals: count,
        seconds,
        ..SalesFigures::default()
    };
    let mut latencies = Latencies::default();
    for tally in &tallies {
        latencies.merge(&tally.latencies);
        figures.sales += tally.sales;
        figures.stored += tally.stored;
        figures.failed += tally.failed;
        figures.retried += tally.retried;
        merge_causes(&mut figures.retry_causes, &tally.retry_causes);
        figures.total_rupiah += tally.total_rupiah;
        if figures.first_error.is_none() {
            figures.first_error = tally.first_error.clone();
        }
    }
    figures.per_second = rate(figures.stored as f64, seconds);
    figures.p50_ms = latencies.percentile(50.0);
    figures.p95_ms = latencies.percentile(95.0);
    figures.p99_ms = latencies.percentile(99.0);
    figures.cpu_ms_per_1000 = per_thousand(&cpu, figures.stored as u64);
    figures.cpu = cpu;
    figures.client_cpu_ms = client_cpu.map(|usage| usage.total_ms);
    Ok(figures)
}

#[derive(Default)]
struct SalesTally {
    latencies: Latencies,
    sales: usize,
    stored: usize,
    failed: usize,
    retried: usize,
    retry_causes: BTreeMap<String, usize>,
    total_rupiah: i64,
    first_error: Option<String>,
}

fn post_all(terminal: &mut Terminal, sales: &[ReadySale]) -> SalesTally {
    let mut tally = SalesTally::default();
    for sale in sales {
        tally.sales += 1;
        match terminal.post_sale(&sale.body) {
            Ok(outcome) if outcome.status == 201 || outcome.status == 200 => {
                tally.stored += 1;
                tally.latencies.record(outcome.latency);
                tally.total_rupiah += outcome.body["total"].as_i64().unwrap_or(sale.total);
                if outcome.attempts > 1 {
                    tally.retried += 1;
                }
                count_causes(&mut tally.retry_causes, &outcome.retry_causes);
            }
            Ok(outcome) => {
                tally.failed += 1;
                count_causes(&mut tally.retry_causes, &outcome.retry_causes);
                if tally.first_error.is_none() {
                    tally.first_error = Some(format!(
                        "{}: sale returned HTTP {} {}",
                        terminal.name, outcome.status, outcome.body
                    ));
                }
            }
            Err(error) => {
                tally.failed += 1;
                if tally.first_error.is_none() {
                    tally.first_error = Some(error);
                }
            }
        }
    }
    tally
}
