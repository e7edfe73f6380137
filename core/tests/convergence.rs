//! Randomized model test of the sync merge rules.
//!
//! An in-memory server applies `merge::decide` the way the tenant hub does. It keeps one
//! tenant-wide version counter and a snapshot of each record per version as the three-way
//! merge base. It stores the first result of every `(device, mutation id)` for retries, keeps
//! insert-only sales by id with a body hash, and serves pull by `version > cursor`. Simulated
//! terminals edit offline with skewed clocks, push in chunks whose responses are sometimes
//! lost, and pull in pages. After a final flush every terminal must hold exactly the server's
//! live records and sales.
//!
//! Replay one failing case with
//! `CONVERGENCE_SEED=<seed> cargo test -p kasir-core --test convergence <test name>`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::panic::{self, AssertUnwindSafe};

use fastrand::Rng;
use kasir_core::hlc::Hlc;
use kasir_core::merge::{decide, effective_base, same_value, Decision, Incoming, Op, Stored, Strategy};
use kasir_core::sale::body_hash;
use serde_json::{json, Map, Value};

type Fields = Map<String, Value>;

const SEEDS: u64 = 200;
const STEPS: usize = 200;
const START_MS: i64 = 1_796_400_000_000;
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
const SERVER_NODE: &str = "server";
/// Chance in percent that a push response is lost, so the terminal retries the same mutation ids.
const LOST_RESPONSE_PERCENT: u32 = 20;
/// Maximum number of mutations a terminal sends in one push.
const MAX_CHUNK: usize = 8;
/// Maximum number of pushes a terminal gets to empty its outbox at the end.
const MAX_FLUSH_ROUNDS: usize = 1000;

const NAMES: [&str; 8] = [
    "Kopi",
    "Kopi Susu",
    "Teh Manis",
    "Es Jeruk",
    "Roti Bakar",
    "Indomie Goreng",
    "Air Mineral",
    "Gula Aren",
];
const PRICES: [i64; 7] = [3_000, 3_500, 5_000, 7_000, 12_000, 15_000, 18_000];
const CATEGORIES: [Option<&str>; 3] = [Some("minuman"), Some("makanan"), None];
const PRODUCT_COLUMNS: [&str; 4] = ["name", "price", "category", "active"];

#[derive(Clone, Copy, Debug)]
struct Config {
    strategy: Strategy,
    /// Maximum number of snapshots the server keeps per record. `None` keeps all, so
    /// `field_merge` always has its base.
    history_limit: Option<usize>,
}

/// A product as the server stores it, and as a terminal last pulled it.
#[derive(Clone, Debug, PartialEq)]
struct Row {
    version: i64,
    hlc: Hlc,
    deleted: bool,
    fields: Fields,
}

#[derive(Clone, Debug)]
struct SaleRow {
    version: i64,
    hash: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Applied,
    Merged,
    Duplicate,
    Conflict,
    Rejected,
}

impl Status {
    fn parse(text: &str) -> Status {
        match text {
            "applied" => Status::Applied,
            "merged" => Status::Merged,
            "conflict" => Status::Conflict,
            other => panic!("merge returned an unexpected status {other:?}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
struct PushResult {
    mutation_id: String,
    status: Status,
    version: Option<i64>,
    conflict_id: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProductKind {
    Create,
    Edit,
    Delete,
    /// A create sent again under a new mutation id, as a client that lost its push responses
    /// and rebuilt its outbox does.
    EchoedCreate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SaleKind {
    New,
    /// The same body under a new mutation id.
    Replay,
    /// Another body under the id of a stored sale.
    Tampered,
}

#[derive(Clone, Debug)]
enum Change {
    Product {
        kind: ProductKind,
        record_id: String,
        base_version: Option<i64>,
        changes: Fields,
    },
    Sale {
        kind: SaleKind,
        sale_id: String,
        body: Value,
    },
}

#[derive(Clone, Debug)]
struct Mutation {
    id: String,
    hlc: Hlc,
    change: Change,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Cause {
    Mutation { device: String, mutation_id: String },
    Resolution { conflict_id: usize },
}

/// One version the server handed out.
#[derive(Clone, Debug)]
struct LogEntry {
    version: i64,
    /// `products/<id>` or `sales/<id>`.
    key: String,
    cause: Cause,
}

#[derive(Clone, Debug)]
struct StoredConflict {
    record_id: String,
    op: Op,
    changes: Fields,
    open: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resolution {
    KeepServer,
    TakeClient,
}

/// Counts of what a run exercised, so a test can show its cases were reached.
#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    applied: u64,
    merged: u64,
    partial: u64,
    duplicate: u64,
    conflict: u64,
    rejected: u64,
    restored: u64,
    retried: u64,
    lost_responses: u64,
    echo_on_tombstone: u64,
    echo_overwrites: u64,
    self_conflicts: u64,
    self_conflicts_without_base: u64,
    own_edits_lost_clamped: u64,
    lost_deletes: u64,
    resolutions: u64,
    versions: u64,
}

impl Stats {
    fn add(&mut self, other: &Stats) {
        self.applied += other.applied;
        self.merged += other.merged;
        self.partial += other.partial;
        self.duplicate += other.duplicate;
        self.conflict += other.conflict;
        self.rejected += other.rejected;
        self.restored += other.restored;
        self.retried += other.retried;
        self.lost_responses += other.lost_responses;
        self.echo_on_tombstone += other.echo_on_tombstone;
        self.echo_overwrites += other.echo_overwrites;
        self.self_conflicts += other.self_conflicts;
        self.self_conflicts_without_base += other.self_conflicts_without_base;
        self.own_edits_lost_clamped += other.own_edits_lost_clamped;
        self.lost_deletes += other.lost_deletes;
        self.resolutions += other.resolutions;
        self.versions += other.versions;
    }
}

enum Pulled {
    Product(String, Row),
    Sale(String, SaleRow),
}

impl Pulled {
    fn version(&self) -> i64 {
        match self {
            Pulled::Product(_, row) => row.version,
            Pulled::Sale(_, row) => row.version,
        }
    }

    fn key(&self) -> String {
        match self {
            Pulled::Product(id, _) => format!("products/{id}"),
            Pulled::Sale(id, _) => format!("sales/{id}"),
        }
    }
}

struct Page {
    rows: Vec<Pulled>,
    cursor: i64,
    has_more: bool,
}

/// What one product mutation met and left behind, for checking the merge rules.
#[derive(Clone, Copy)]
struct MergeCase<'a> {
    strategy: Strategy,
    before: Option<&'a Row>,
    after: Option<&'a Row>,
    base: Option<&'a Fields>,
    op: Op,
    base_version: Option<i64>,
    changes: &'a Fields,
    /// The pushed clock after the server clamped it.
    hlc: &'a Hlc,
    decision: &'a Decision,
}

fn value_of<'a>(fields: &'a Fields, column: &str) -> &'a Value {
    fields.get(column).unwrap_or(&Value::Null)
}

fn overlay(fields: &mut Fields, changes: &Fields) {
    for (column, value) in changes {
        fields.insert(column.clone(), value.clone());
    }
}

/// True when every pushed column has its pushed value in `fields`.
fn in_effect(fields: &Fields, changes: &Fields) -> bool {
    changes
        .iter()
        .all(|(column, value)| same_value(value_of(fields, column), value))
}

fn columns_of(rows: &[&Fields]) -> BTreeSet<String> {
    rows.iter().flat_map(|fields| fields.keys().cloned()).collect()
}

/// Checks one merge against the rules the sync design states, without calling `decide`:
/// causality first, then `lww` by clock, `field_merge` column by column against the base,
/// `manual` by storing a conflict for what both sides changed.
fn check_merge_rules(case: &MergeCase<'_>) {
    let MergeCase {
        strategy,
        before,
        after,
        base,
        op,
        base_version,
        changes,
        hlc,
        decision,
    } = *case;
    let context =
        format!("{strategy:?} {op:?} base_version {base_version:?} changes {changes:?} decision {decision:?}");

    let Some(before) = before else {
        match op {
            Op::Upsert => {
                let after = after.unwrap_or_else(|| panic!("upsert of an unknown record stored nothing: {context}"));
                assert!(!after.deleted, "new record stored as deleted: {context}");
                assert_eq!(
                    &after.fields, changes,
                    "new record differs from the pushed columns: {context}"
                );
            }
            Op::Delete => assert!(after.is_none(), "delete of an unknown record stored one: {context}"),
        }
        return;
    };
    let after = after.unwrap_or_else(|| panic!("stored record vanished: {context}"));

    // Columns outside the push never change, whatever the decision.
    for column in columns_of(&[&before.fields, &after.fields]) {
        if !changes.contains_key(&column) {
            assert!(
                same_value(value_of(&before.fields, &column), value_of(&after.fields, &column)),
                "column {column} outside the push changed: {context}"
            );
        }
    }

    let newer = hlc > &before.hlc;
    let unchanged = before.deleted == after.deleted && before.fields == after.fields;
    let column_in_effect = |column: &str| same_value(value_of(&after.fields, column), value_of(changes, column));
    let all_in_effect = in_effect(&after.fields, changes);
    let is_conflict = matches!(decision, Decision::Conflict { .. });

    if before.deleted {
        let may_restore = op == Op::Upsert && base_version.is_some() && strategy != Strategy::Manual && newer;
        if may_restore {
            assert!(
                !after.deleted,
                "newer edit of a deleted record did not restore it: {context}"
            );
            assert!(all_in_effect, "restored record lacks pushed columns: {context}");
        } else {
            assert!(unchanged, "deleted record changed: {context}");
        }
        if strategy == Strategy::Manual && op == Op::Upsert && base_version.is_some() {
            assert!(
                is_conflict,
                "manual edit of a deleted record did not become a conflict: {context}"
            );
        }
        return;
    }

    let causal = base_version == Some(before.version);
    if causal {
        match op {
            Op::Upsert => assert!(all_in_effect, "edit of the current version lost columns: {context}"),
            Op::Delete => assert!(after.deleted, "delete of the current version did not delete: {context}"),
        }
        assert!(!is_conflict, "edit of the current version became a conflict: {context}");
        return;
    }

    // Concurrent: the record moved on since the device's base, or the device sent no base.
    let server_changed =
        |column: &str| base.is_none_or(|base| !same_value(value_of(base, column), value_of(&before.fields, column)));
    if op == Op::Delete {
        match strategy {
            Strategy::Manual => {
                assert!(
                    is_conflict,
                    "concurrent manual delete did not become a conflict: {context}"
                );
                assert!(unchanged, "delete stored as a conflict changed the record: {context}");
            }
            _ if newer => assert!(after.deleted, "newer concurrent delete did not delete: {context}"),
            _ => assert!(unchanged, "older concurrent delete changed the record: {context}"),
        }
        return;
    }

    match strategy {
        Strategy::Lww => {
            if newer {
                assert!(all_in_effect, "newer lww edit lost columns: {context}");
            } else {
                assert!(unchanged, "older lww edit changed the record: {context}");
            }
        }
        Strategy::FieldMerge => {
            for column in changes.keys() {
                if !server_changed(column) || newer {
                    assert!(
                        column_in_effect(column),
                        "column {column} should have taken the pushed value: {context}"
                    );
                } else {
                    assert!(
                        same_value(value_of(&before.fields, column), value_of(&after.fields, column)),
                        "the server's newer value of column {column} lost to an older clock: {context}"
                    );
                }
            }
            if let Decision::Update { partial, .. } = decision {
                assert_eq!(
                    *partial, !all_in_effect,
                    "partial flag disagrees with the columns written: {context}"
                );
            }
        }
        Strategy::Manual => {
            let contested: BTreeSet<&String> = changes
                .iter()
                .filter(|(column, value)| {
                    !same_value(value_of(&before.fields, column), value) && server_changed(column)
                })
                .map(|(column, _)| column)
                .collect();
            if contested.is_empty() {
                assert!(all_in_effect, "manual edit of untouched columns lost: {context}");
            } else {
                assert!(unchanged, "manual conflict changed the record: {context}");
                let Decision::Conflict { fields } = decision else {
                    panic!("manual edit of contested columns {contested:?} did not become a conflict: {context}");
                };
                let conflict_columns: BTreeSet<&String> = fields.iter().collect();
                assert_eq!(
                    conflict_columns, contested,
                    "conflict lists the wrong columns: {context}"
                );
            }
        }
    }
}

struct Server {
    config: Config,
    now_ms: i64,
    clock: Option<Hlc>,
    version: i64,
    products: BTreeMap<String, Row>,
    /// Client columns of each record after each of its writes, except deletes, as the hub's history keeps them.
    snapshots: HashMap<String, BTreeMap<i64, Fields>>,
    sales: BTreeMap<String, SaleRow>,
    results: HashMap<(String, String), PushResult>,
    conflicts: Vec<StoredConflict>,
    log: Vec<LogEntry>,
    /// Whether the device that wrote each record's stored version had seen every earlier one.
    caught_up: HashMap<String, bool>,
    stats: Stats,
}

impl Server {
    fn new(config: Config) -> Server {
        Server {
            config,
            now_ms: START_MS,
            clock: None,
            version: 0,
            products: BTreeMap::new(),
            snapshots: HashMap::new(),
            sales: BTreeMap::new(),
            results: HashMap::new(),
            conflicts: Vec::new(),
            log: Vec::new(),
            caught_up: HashMap::new(),
            stats: Stats::default(),
        }
    }

    fn observe(&mut self, hlc: &Hlc) {
        if self.clock.as_ref().is_none_or(|clock| hlc > clock) {
            self.clock = Some(hlc.clone());
        }
    }

    fn server_hlc(&mut self) -> Hlc {
        let next = Hlc::tick(self.clock.as_ref(), self.now_ms, SERVER_NODE);
        self.clock = Some(next.clone());
        next
    }

    /// Looks up the three-way base the way the hub does: the newest snapshot at or below the
    /// device's base version, because versions in between belong to other records.
    fn base_at(&self, record_id: &str, base_version: i64) -> Option<Fields> {
        let history = self.snapshots.get(record_id)?;
        history
            .range(..=base_version)
            .next_back()
            .map(|(_, fields)| fields.clone())
    }

    /// Stores a record at the next version and logs why.
    fn write_product(&mut self, record_id: &str, mut row: Row, cause: Cause) -> i64 {
        self.version += 1;
        if let Some(old) = self.products.get(record_id) {
            assert!(self.version > old.version, "version of {record_id} did not increase");
        }
        row.version = self.version;
        if !row.deleted {
            let history = self.snapshots.entry(record_id.to_string()).or_default();
            history.insert(self.version, row.fields.clone());
            if let Some(limit) = self.config.history_limit {
                while history.len() > limit {
                    history.pop_first();
                }
            }
        }
        self.products.insert(record_id.to_string(), row);
        self.log.push(LogEntry {
            version: self.version,
            key: format!("products/{record_id}"),
            cause,
        });
        self.stats.versions += 1;
        self.version
    }

    fn push(&mut self, device: &str, mutations: &[Mutation]) -> Vec<PushResult> {
        let mut results = Vec::with_capacity(mutations.len());
        for mutation in mutations {
            let key = (device.to_string(), mutation.id.clone());
            if let Some(first) = self.results.get(&key) {
                self.stats.retried += 1;
                results.push(first.clone());
                continue;
            }
            let result = match &mutation.change {
                Change::Product {
                    kind,
                    record_id,
                    base_version,
                    changes,
                } => self.apply_product(device, mutation, *kind, record_id, *base_version, changes),
                Change::Sale { sale_id, body, .. } => self.apply_sale(device, mutation, sale_id, body),
            };
            match result.status {
                Status::Applied => self.stats.applied += 1,
                Status::Merged => self.stats.merged += 1,
                Status::Duplicate => self.stats.duplicate += 1,
                Status::Conflict => self.stats.conflict += 1,
                Status::Rejected => self.stats.rejected += 1,
            }
            self.results.insert(key, result.clone());
            results.push(result);
        }
        results
    }

    fn apply_product(
        &mut self,
        device: &str,
        mutation: &Mutation,
        kind: ProductKind,
        record_id: &str,
        base_version: Option<i64>,
        changes: &Fields,
    ) -> PushResult {
        let op = if kind == ProductKind::Delete {
            Op::Delete
        } else {
            Op::Upsert
        };
        let (hlc, clamped) = mutation.hlc.clone().clamp_to(self.now_ms, self.clock.as_ref());
        self.observe(&hlc);

        let before = self.products.get(record_id).cloned();
        // As the hub does: a device's change of a version it wrote itself is not concurrent.
        let base_version = match &before {
            Some(row) => {
                let own = self.last_writer(record_id) == Some(device) && self.caught_up.get(record_id) == Some(&true);
                effective_base(base_version, row.version, row.deleted, own)
            }
            None => base_version,
        };
        // A write leaves its device caught up only when it was made on the stored version.
        let caught_up = before
            .as_ref()
            .is_none_or(|row| base_version.is_some_and(|base| base >= row.version));
        let base = match (&before, base_version) {
            (Some(_), Some(version)) => self.base_at(record_id, version),
            _ => None,
        };
        let decision = {
            let stored = before.as_ref().map(|row| Stored {
                version: row.version,
                hlc: Some(row.hlc.clone()),
                deleted: row.deleted,
                fields: &row.fields,
            });
            let incoming = Incoming {
                op,
                base_version,
                changes,
                hlc: &hlc,
            };
            decide(self.config.strategy, stored.as_ref(), base.as_ref(), &incoming)
        };
        let cause = Cause::Mutation {
            device: device.to_string(),
            mutation_id: mutation.id.clone(),
        };
        // The row keeps the newest clock that touched it, as the hub stores it.
        let row_hlc = match &before {
            Some(row) if row.hlc > hlc => row.hlc.clone(),
            _ => hlc.clone(),
        };

        let mut conflict_id = None;
        let version = match &decision {
            Decision::Insert(values) => {
                assert!(before.is_none(), "insert over stored record {record_id}");
                let row = Row {
                    version: 0,
                    hlc: row_hlc,
                    deleted: false,
                    fields: values.clone(),
                };
                Some(self.write_product(record_id, row, cause))
            }
            Decision::Update { values, partial } => {
                let mut row = before.clone().expect("update of a record the server does not have");
                assert!(!row.deleted, "update of deleted record {record_id}");
                overlay(&mut row.fields, values);
                row.hlc = row_hlc;
                if *partial {
                    self.stats.partial += 1;
                }
                Some(self.write_product(record_id, row, cause))
            }
            Decision::Restore(values) => {
                let mut row = before.clone().expect("restore of a record the server does not have");
                assert!(row.deleted, "restore of live record {record_id}");
                assert!(
                    base_version.is_some(),
                    "a create without base_version resurrected deleted record {record_id}"
                );
                overlay(&mut row.fields, values);
                row.deleted = false;
                row.hlc = row_hlc;
                self.stats.restored += 1;
                Some(self.write_product(record_id, row, cause))
            }
            Decision::Delete => {
                let mut row = before.clone().expect("delete of a record the server does not have");
                assert!(!row.deleted, "delete of deleted record {record_id}");
                row.deleted = true;
                row.hlc = row_hlc;
                Some(self.write_product(record_id, row, cause))
            }
            Decision::Skip => before.as_ref().map(|row| row.version),
            Decision::Conflict { .. } => {
                let stored = before
                    .as_ref()
                    .expect("conflict with a record the server does not have");
                conflict_id = Some(self.conflicts.len());
                self.conflicts.push(StoredConflict {
                    record_id: record_id.to_string(),
                    op,
                    changes: changes.clone(),
                    open: true,
                });
                Some(stored.version)
            }
        };

        if after_write(&before, self.products.get(record_id)) {
            self.caught_up.insert(record_id.to_string(), caught_up);
        }
        let after = self.products.get(record_id).cloned();
        let case = MergeCase {
            strategy: self.config.strategy,
            before: before.as_ref(),
            after: after.as_ref(),
            base: base.as_ref(),
            op,
            base_version,
            changes,
            hlc: &hlc,
            decision: &decision,
        };
        check_merge_rules(&case);
        self.check_own_edit(device, record_id, kind, &case, clamped);
        let after = after.as_ref();
        if kind == ProductKind::EchoedCreate {
            let before = before.as_ref().expect("an echoed create follows its create");
            let after = after.expect("an echoed create follows its create");
            if before.deleted {
                assert!(after.deleted, "echoed create resurrected deleted record {record_id}");
                self.stats.echo_on_tombstone += 1;
            } else if before.fields != after.fields {
                self.stats.echo_overwrites += 1;
            }
        }

        // Deleting what is already gone took effect as sent, so it is `applied`. A concurrent
        // delete that lost to a newer clock left the record live, so it stays `merged`.
        let deleted_or_absent = after.is_none_or(|row| row.deleted);
        let status = if decision == Decision::Skip && op == Op::Delete && deleted_or_absent {
            Status::Applied
        } else {
            Status::parse(decision.status())
        };
        if decision == Decision::Skip && op == Op::Delete && !deleted_or_absent {
            self.stats.lost_deletes += 1;
        }
        if status == Status::Applied {
            match op {
                Op::Upsert => assert!(
                    after.is_some_and(|row| !row.deleted && in_effect(&row.fields, changes)),
                    "applied upsert of {record_id} is not in effect"
                ),
                Op::Delete => assert!(deleted_or_absent, "applied delete left {record_id} live"),
            }
        }
        PushResult {
            mutation_id: mutation.id.clone(),
            status,
            version,
            conflict_id,
        }
    }

    /// Returns the device that wrote the record's stored version, when a device did.
    fn last_writer(&self, record_id: &str) -> Option<&str> {
        let key = format!("products/{record_id}");
        self.log
            .iter()
            .rev()
            .find(|entry| entry.key == key)
            .and_then(|entry| match &entry.cause {
                Cause::Mutation { device, .. } => Some(device.as_str()),
                Cause::Resolution { .. } => None,
            })
    }

    /// True when the device wrote every version of the record after its base, or every
    /// version at all when it sent no base, so nothing stored is news to it.
    fn written_only_by(&self, device: &str, record_id: &str, base_version: Option<i64>) -> bool {
        let key = format!("products/{record_id}");
        let after_base = base_version.unwrap_or(0);
        self.log
            .iter()
            .filter(|entry| entry.key == key && entry.version > after_base)
            .all(|entry| matches!(&entry.cause, Cause::Mutation { device: by, .. } if by == device))
    }

    /// Checks an edit of a record that only the pushing device changed since its base. Nothing
    /// stored is news to that device, so its edit should take full effect. Two exceptions are
    /// only counted. `decide` cannot tell the device's own earlier writes from another
    /// device's, so `manual` may store the edit as a conflict. And a clock the server clamped
    /// may tie with or fall behind the same device's earlier clamped clock.
    fn check_own_edit(
        &mut self,
        device: &str,
        record_id: &str,
        kind: ProductKind,
        case: &MergeCase<'_>,
        clamped: bool,
    ) {
        let (Some(before), Some(after)) = (case.before, case.after) else {
            return;
        };
        let is_edit = matches!(kind, ProductKind::Edit | ProductKind::Delete);
        let concurrent = case.base_version != Some(before.version);
        if !is_edit || before.deleted || !concurrent || !self.written_only_by(device, record_id, case.base_version) {
            return;
        }
        if matches!(case.decision, Decision::Conflict { .. }) {
            self.stats.self_conflicts += 1;
            if case.base_version.is_none() {
                self.stats.self_conflicts_without_base += 1;
            }
            return;
        }
        let lost = match case.op {
            Op::Upsert => !in_effect(&after.fields, case.changes),
            Op::Delete => !after.deleted,
        };
        if lost {
            assert!(
                clamped,
                "{device}'s edit of {record_id} lost to its own earlier writes: decision {:?}",
                case.decision
            );
            self.stats.own_edits_lost_clamped += 1;
        }
    }

    fn apply_sale(&mut self, device: &str, mutation: &Mutation, sale_id: &str, body: &Value) -> PushResult {
        let hash = body_hash(body);
        let (status, version) = match self.sales.get(sale_id) {
            Some(stored) if stored.hash == hash => (Status::Duplicate, Some(stored.version)),
            Some(_) => (Status::Rejected, None),
            None => {
                self.version += 1;
                self.sales.insert(
                    sale_id.to_string(),
                    SaleRow {
                        version: self.version,
                        hash,
                    },
                );
                self.log.push(LogEntry {
                    version: self.version,
                    key: format!("sales/{sale_id}"),
                    cause: Cause::Mutation {
                        device: device.to_string(),
                        mutation_id: mutation.id.clone(),
                    },
                });
                self.stats.versions += 1;
                (Status::Applied, Some(self.version))
            }
        };
        PushResult {
            mutation_id: mutation.id.clone(),
            status,
            version,
            conflict_id: None,
        }
    }

    /// Settles a stored conflict as the hub does. Each resolution writes a new version, so
    /// every terminal pulls the outcome.
    fn resolve(&mut self, conflict_id: usize, resolution: Resolution) {
        let conflict = self.conflicts[conflict_id].clone();
        assert!(conflict.open, "conflict {conflict_id} resolved twice");
        self.conflicts[conflict_id].open = false;

        let mut row = self.products[&conflict.record_id].clone();
        if resolution == Resolution::TakeClient {
            match conflict.op {
                Op::Upsert => {
                    overlay(&mut row.fields, &conflict.changes);
                    row.deleted = false;
                }
                Op::Delete => row.deleted = true,
            }
        }
        row.hlc = self.server_hlc();
        self.write_product(&conflict.record_id, row, Cause::Resolution { conflict_id });
        self.stats.resolutions += 1;
    }

    fn open_conflicts(&self) -> Vec<usize> {
        (0..self.conflicts.len())
            .filter(|&id| self.conflicts[id].open)
            .collect()
    }

    /// Returns up to `limit` records and sales with a version above `cursor`, each once in its
    /// final state, oldest version first.
    fn pull(&self, cursor: i64, limit: usize) -> Page {
        let products = self
            .products
            .iter()
            .filter(|(_, row)| row.version > cursor)
            .map(|(id, row)| Pulled::Product(id.clone(), row.clone()));
        let sales = self
            .sales
            .iter()
            .filter(|(_, row)| row.version > cursor)
            .map(|(id, row)| Pulled::Sale(id.clone(), row.clone()));
        let mut rows: Vec<Pulled> = products.chain(sales).collect();
        rows.sort_by_key(Pulled::version);
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        let next = rows.last().map_or(cursor, Pulled::version);
        Page {
            rows,
            cursor: next,
            has_more,
        }
    }

    fn live_products(&self) -> BTreeMap<String, Fields> {
        self.products
            .iter()
            .filter(|(_, row)| !row.deleted)
            .map(|(id, row)| (id.clone(), row.fields.clone()))
            .collect()
    }
}

/// A terminal. It keeps the last pulled server row of every record apart from its pending
/// mutations and shows the rows with the pending mutations laid over them. A push that loses
/// does not bump the record's version, so pull never sends that record again. Keeping the
/// rows apart lets the terminal drop its losing value once the push result arrives.
struct Device {
    id: String,
    skew_ms: i64,
    clock: Option<Hlc>,
    cursor: i64,
    rows: BTreeMap<String, Row>,
    /// Sale id to body hash, as pulled.
    sales: BTreeMap<String, String>,
    outbox: VecDeque<Mutation>,
    /// Products this terminal created, with the create's columns and clock.
    created: Vec<(String, Fields, Hlc)>,
    /// Sales this terminal recorded, by id.
    recorded_sales: BTreeMap<String, Value>,
    next_number: u64,
}

impl Device {
    fn new(index: usize, skew_ms: i64) -> Device {
        Device {
            id: format!("d{index}"),
            skew_ms,
            clock: None,
            cursor: 0,
            rows: BTreeMap::new(),
            sales: BTreeMap::new(),
            outbox: VecDeque::new(),
            created: Vec::new(),
            recorded_sales: BTreeMap::new(),
            next_number: 0,
        }
    }

    fn new_id(&mut self, kind: &str) -> String {
        self.next_number += 1;
        format!("{}-{kind}{}", self.id, self.next_number)
    }

    /// Stamps a local change: the terminal's wall clock, but never behind a clock it has seen.
    fn tick(&mut self, now_ms: i64) -> Hlc {
        let next = Hlc::tick(self.clock.as_ref(), now_ms + self.skew_ms, &self.id);
        self.clock = Some(next.clone());
        next
    }

    fn observe(&mut self, hlc: &Hlc) {
        if self.clock.as_ref().is_none_or(|clock| hlc > clock) {
            self.clock = Some(hlc.clone());
        }
    }

    /// Returns the version this terminal last saw of a record, or `None` for one it has not pulled.
    fn base_version(&self, record_id: &str) -> Option<i64> {
        self.rows.get(record_id).map(|row| row.version)
    }

    /// Returns the products as the terminal shows them: pulled rows with pending mutations laid over.
    fn view(&self) -> BTreeMap<String, Fields> {
        let mut view: BTreeMap<String, Fields> = self
            .rows
            .iter()
            .filter(|(_, row)| !row.deleted)
            .map(|(id, row)| (id.clone(), row.fields.clone()))
            .collect();
        for mutation in &self.outbox {
            let Change::Product {
                kind,
                record_id,
                changes,
                ..
            } = &mutation.change
            else {
                continue;
            };
            match kind {
                ProductKind::Create => overlay(view.entry(record_id.clone()).or_default(), changes),
                ProductKind::Edit => {
                    // An edit of a record deleted on the server shows again only if the server restores it.
                    if let Some(fields) = view.get_mut(record_id) {
                        overlay(fields, changes);
                    }
                }
                ProductKind::Delete => {
                    view.remove(record_id);
                }
                ProductKind::EchoedCreate => {}
            }
        }
        view
    }

    fn sales_view(&self) -> BTreeMap<String, String> {
        let mut view = self.sales.clone();
        for mutation in &self.outbox {
            if let Change::Sale {
                kind: SaleKind::New,
                sale_id,
                body,
            } = &mutation.change
            {
                view.insert(sale_id.clone(), body_hash(body));
            }
        }
        view
    }

    fn enqueue(&mut self, now_ms: i64, change: Change) {
        let mutation = Mutation {
            id: self.new_id("m"),
            hlc: self.tick(now_ms),
            change,
        };
        self.outbox.push_back(mutation);
    }

    fn create_product(&mut self, rng: &mut Rng, now_ms: i64) {
        let record_id = self.new_id("p");
        let mut fields = Fields::new();
        for column in PRODUCT_COLUMNS {
            fields.insert(column.to_string(), random_value(rng, column));
        }
        self.enqueue(
            now_ms,
            Change::Product {
                kind: ProductKind::Create,
                record_id: record_id.clone(),
                base_version: None,
                changes: fields.clone(),
            },
        );
        let hlc = self
            .outbox
            .back()
            .map(|mutation| mutation.hlc.clone())
            .expect("just queued");
        self.created.push((record_id, fields, hlc));
    }

    fn edit_product(&mut self, rng: &mut Rng, now_ms: i64) {
        let view = self.view();
        let Some((record_id, current)) = pick(rng, &view) else {
            return;
        };
        let mut changes = Fields::new();
        for column in PRODUCT_COLUMNS {
            if rng.u32(0..100) < 40 {
                let value = random_value(rng, column);
                if !same_value(value_of(current, column), &value) {
                    changes.insert(column.to_string(), value);
                }
            }
        }
        if changes.is_empty() {
            return;
        }
        let record_id = record_id.clone();
        let base_version = self.base_version(&record_id);
        self.enqueue(
            now_ms,
            Change::Product {
                kind: ProductKind::Edit,
                record_id,
                base_version,
                changes,
            },
        );
    }

    fn delete_product(&mut self, rng: &mut Rng, now_ms: i64) {
        let view = self.view();
        let Some((record_id, _)) = pick(rng, &view) else {
            return;
        };
        let record_id = record_id.clone();
        let base_version = self.base_version(&record_id);
        self.enqueue(
            now_ms,
            Change::Product {
                kind: ProductKind::Delete,
                record_id,
                base_version,
                changes: Fields::new(),
            },
        );
    }

    /// Sends one of this terminal's creates again, with its original clock, under a new mutation id.
    fn echo_create(&mut self, rng: &mut Rng) {
        if self.created.is_empty() {
            return;
        }
        let (record_id, fields, hlc) = self.created[rng.usize(..self.created.len())].clone();
        let mutation = Mutation {
            id: self.new_id("m"),
            hlc,
            change: Change::Product {
                kind: ProductKind::EchoedCreate,
                record_id,
                base_version: None,
                changes: fields,
            },
        };
        self.outbox.push_back(mutation);
    }

    fn record_sale(&mut self, rng: &mut Rng, now_ms: i64) {
        let view = self.view();
        let Some((product_id, product)) = pick(rng, &view) else {
            return;
        };
        let unit_price = value_of(product, "price").as_i64().unwrap_or(0);
        let qty = rng.i64(1..=3);
        let sale_id = self.new_id("s");
        let body = json!({
            "id": sale_id,
            "device_id": self.id,
            "receipt_no": format!("OUT1-{}-260101-{:04}", self.id, self.next_number),
            "items": [{"product_id": product_id, "qty": qty, "unit_price": unit_price}],
            "total": qty * unit_price,
        });
        self.recorded_sales.insert(sale_id.clone(), body.clone());
        self.enqueue(
            now_ms,
            Change::Sale {
                kind: SaleKind::New,
                sale_id,
                body,
            },
        );
    }

    /// Sends a sale the server already has again: the same body, or with `tampered` another one.
    fn resend_sale(&mut self, rng: &mut Rng, now_ms: i64, tampered: bool) {
        let stored: Vec<String> = self
            .recorded_sales
            .keys()
            .filter(|id| self.sales.contains_key(*id))
            .cloned()
            .collect();
        if stored.is_empty() {
            return;
        }
        let sale_id = stored[rng.usize(..stored.len())].clone();
        let mut body = self.recorded_sales[&sale_id].clone();
        let kind = if tampered {
            body["total"] = json!(body["total"].as_i64().unwrap_or(0) + 1_000);
            SaleKind::Tampered
        } else {
            SaleKind::Replay
        };
        self.enqueue(now_ms, Change::Sale { kind, sale_id, body });
    }

    /// Applies the push results for the first `results.len()` mutations of the outbox.
    fn accept(&mut self, results: &[PushResult]) {
        for result in results {
            let mutation = self.outbox.pop_front().expect("a result for each sent mutation");
            assert_eq!(mutation.id, result.mutation_id, "results out of order on {}", self.id);
            // An applied create is stored exactly as sent, so the terminal can keep that row at the result's version.
            if let Change::Product {
                kind: ProductKind::Create,
                record_id,
                changes,
                ..
            } = &mutation.change
            {
                if result.status == Status::Applied && !self.rows.contains_key(record_id) {
                    let version = result.version.expect("an applied create has a version");
                    let row = Row {
                        version,
                        hlc: mutation.hlc.clone(),
                        deleted: false,
                        fields: changes.clone(),
                    };
                    self.rows.insert(record_id.clone(), row);
                }
            }
        }
    }

    /// Pulls one page and returns whether more remain.
    fn pull(&mut self, server: &Server, limit: usize) -> bool {
        let page = server.pull(self.cursor, limit);
        assert!(page.cursor >= self.cursor, "cursor of {} went back", self.id);
        let mut last_version = self.cursor;
        let mut keys = HashSet::new();
        for pulled in page.rows {
            assert!(pulled.version() > last_version, "pull page out of version order");
            last_version = pulled.version();
            assert!(keys.insert(pulled.key()), "{} appears twice in one page", pulled.key());
            match pulled {
                Pulled::Product(id, row) => {
                    self.observe(&row.hlc);
                    self.rows.insert(id, row);
                }
                Pulled::Sale(id, row) => {
                    self.sales.insert(id, row.hash);
                }
            }
        }
        self.cursor = page.cursor;
        page.has_more
    }

    fn pull_to_end(&mut self, server: &Server, rng: &mut Rng) {
        while self.pull(server, rng.usize(1..=50)) {}
    }
}

fn random_value(rng: &mut Rng, column: &str) -> Value {
    match column {
        "name" => json!(NAMES[rng.usize(..NAMES.len())]),
        "price" => json!(PRICES[rng.usize(..PRICES.len())]),
        "category" => json!(CATEGORIES[rng.usize(..CATEGORIES.len())]),
        "active" => json!(rng.u32(0..100) < 80),
        other => panic!("no generator for column {other}"),
    }
}

fn pick<'a, V>(rng: &mut Rng, map: &'a BTreeMap<String, V>) -> Option<(&'a String, &'a V)> {
    if map.is_empty() {
        return None;
    }
    map.iter().nth(rng.usize(..map.len()))
}

/// One seeded run: a server, three to five terminals and the results every push produced.
struct World {
    rng: Rng,
    server: Server,
    devices: Vec<Device>,
    /// The first result of every `(device, mutation id)`, including ones whose response was lost.
    first_results: HashMap<(String, String), PushResult>,
}

impl World {
    fn new(seed: u64, config: Config) -> World {
        let mut rng = Rng::with_seed(seed);
        let count = rng.usize(3..=5);
        let devices = (0..count)
            .map(|index| {
                // Each terminal has an even chance of running up to an hour fast or slow.
                let skew_ms = if rng.bool() { rng.i64(-HOUR_MS..=HOUR_MS) } else { 0 };
                Device::new(index, skew_ms)
            })
            .collect();
        World {
            rng,
            server: Server::new(config),
            devices,
            first_results: HashMap::new(),
        }
    }

    fn step(&mut self) {
        self.server.now_ms += if self.rng.u32(0..100) < 2 {
            10 * MINUTE_MS
        } else {
            self.rng.i64(0..=5_000)
        };
        let now_ms = self.server.now_ms;
        let index = self.rng.usize(..self.devices.len());
        let roll = self.rng.u32(0..100);
        match roll {
            0..62 => self.change_locally(index, roll, now_ms),
            62..78 => self.push(index),
            78..86 => {
                self.push(index);
                self.devices[index].pull_to_end(&self.server, &mut self.rng);
            }
            86..97 => {
                let limit = self.rng.usize(1..=20);
                self.devices[index].pull(&self.server, limit);
            }
            _ => self.resolve_one(),
        }
    }

    /// Makes one offline change on a terminal, picked by `roll` (below 62).
    fn change_locally(&mut self, index: usize, roll: u32, now_ms: i64) {
        let World { rng, devices, .. } = self;
        let device = &mut devices[index];
        match roll {
            0..12 => device.create_product(rng, now_ms),
            12..37 => device.edit_product(rng, now_ms),
            37..43 => device.delete_product(rng, now_ms),
            43..55 => device.record_sale(rng, now_ms),
            55..58 => device.echo_create(rng),
            58..60 => device.resend_sale(rng, now_ms, false),
            _ => device.resend_sale(rng, now_ms, true),
        }
    }

    /// Lets an owner settle one open conflict, either way.
    fn resolve_one(&mut self) {
        let open = self.server.open_conflicts();
        if open.is_empty() {
            return;
        }
        let conflict_id = open[self.rng.usize(..open.len())];
        let resolution = if self.rng.bool() {
            Resolution::KeepServer
        } else {
            Resolution::TakeClient
        };
        self.server.resolve(conflict_id, resolution);
    }

    /// Sends the front of a terminal's outbox. The response may be lost, and then the terminal
    /// sends the same mutations again later.
    fn push(&mut self, index: usize) {
        let World {
            rng,
            server,
            devices,
            first_results,
        } = self;
        let device = &mut devices[index];
        if device.outbox.is_empty() {
            return;
        }
        let count = rng.usize(1..=device.outbox.len().min(MAX_CHUNK));
        let chunk: Vec<Mutation> = device.outbox.iter().take(count).cloned().collect();
        let results = server.push(&device.id, &chunk);
        assert_eq!(results.len(), chunk.len(), "one result per mutation");

        for (mutation, result) in chunk.iter().zip(&results) {
            assert_eq!(mutation.id, result.mutation_id, "results out of order");
            let key = (device.id.clone(), mutation.id.clone());
            match first_results.get(&key) {
                Some(first) => assert_eq!(first, result, "retry of {} returned another result", mutation.id),
                None => {
                    check_sale_result(mutation, result);
                    first_results.insert(key, result.clone());
                }
            }
            if let Some(version) = result.version {
                assert!(
                    version <= server.version,
                    "result version {version} ahead of the server"
                );
            }
        }

        if rng.u32(0..100) < LOST_RESPONSE_PERCENT {
            server.stats.lost_responses += 1;
            return;
        }
        device.accept(&results);
    }

    /// Pushes every outbox empty, settles every conflict the server's way and pulls every
    /// terminal to the end.
    fn finish(&mut self) {
        for index in 0..self.devices.len() {
            let mut rounds = 0;
            while !self.devices[index].outbox.is_empty() {
                rounds += 1;
                assert!(rounds <= MAX_FLUSH_ROUNDS, "outbox of d{index} never emptied");
                self.push(index);
            }
        }
        for conflict_id in self.server.open_conflicts() {
            self.server.resolve(conflict_id, Resolution::KeepServer);
        }
        for device in &mut self.devices {
            device.pull_to_end(&self.server, &mut self.rng);
        }
    }

    fn check_converged(&self) {
        let server = &self.server;
        let live = server.live_products();
        let server_sales: BTreeMap<String, String> = server
            .sales
            .iter()
            .map(|(id, row)| (id.clone(), row.hash.clone()))
            .collect();
        assert!(server.open_conflicts().is_empty(), "conflicts left open");

        for device in &self.devices {
            assert!(device.outbox.is_empty(), "{} still has pending mutations", device.id);
            assert_eq!(device.cursor, server.version, "{} did not pull to the end", device.id);
            let view = device.view();
            let ids: Vec<&String> = view.keys().collect();
            let live_ids: Vec<&String> = live.keys().collect();
            assert_eq!(ids, live_ids, "{} holds other products than the server", device.id);
            for (id, fields) in &view {
                assert_eq!(fields, &live[id], "{} holds another value of {id}", device.id);
            }
            assert_eq!(
                device.sales_view(),
                server_sales,
                "{} holds other sales than the server",
                device.id
            );
        }

        let mut recorded = 0;
        for device in &self.devices {
            for (sale_id, body) in &device.recorded_sales {
                recorded += 1;
                let stored = server
                    .sales
                    .get(sale_id)
                    .unwrap_or_else(|| panic!("sale {sale_id} is missing"));
                assert_eq!(stored.hash, body_hash(body), "sale {sale_id} stored with another body");
            }
        }
        assert_eq!(server.sales.len(), recorded, "server holds sales no terminal recorded");
    }

    fn check_log(&self) {
        let server = &self.server;
        let mut causes = HashSet::new();
        let mut sale_writes: HashMap<&str, usize> = HashMap::new();
        for (index, entry) in server.log.iter().enumerate() {
            let expected = i64::try_from(index).expect("log fits i64") + 1;
            assert_eq!(entry.version, expected, "versions are not consecutive at {}", entry.key);
            assert!(
                causes.insert(entry.cause.clone()),
                "{:?} changed server state twice",
                entry.cause
            );
            if entry.key.starts_with("sales/") {
                *sale_writes.entry(entry.key.as_str()).or_default() += 1;
            }
        }
        assert_eq!(
            server.log.len() as i64,
            server.version,
            "a version was handed out without a log entry"
        );
        assert!(sale_writes.values().all(|&count| count == 1), "a sale was stored twice");
        for (record_id, row) in &server.products {
            if row.deleted {
                continue;
            }
            let snapshot = server.snapshots[record_id].get(&row.version);
            assert_eq!(snapshot, Some(&row.fields), "snapshot of {record_id} is stale");
        }
    }
}

/// Checks the first result of a sale push: a new id is stored, the same body again is a
/// duplicate, another body under a stored id is rejected.
fn check_sale_result(mutation: &Mutation, result: &PushResult) {
    let Change::Sale { kind, sale_id, .. } = &mutation.change else {
        return;
    };
    let expected = match kind {
        SaleKind::New => Status::Applied,
        SaleKind::Replay => Status::Duplicate,
        SaleKind::Tampered => Status::Rejected,
    };
    assert_eq!(result.status, expected, "{kind:?} sale {sale_id}");
}

fn run_seed(seed: u64, config: Config) -> Stats {
    let mut world = World::new(seed, config);
    for _ in 0..STEPS {
        world.step();
    }
    world.finish();
    world.check_converged();
    world.check_log();
    world.server.stats
}

/// Runs every seed, or only `CONVERGENCE_SEED` when set, and names the seed of a failure.
fn run_seeds(test: &str, config: Config) -> Stats {
    let seeds: Vec<u64> = match std::env::var("CONVERGENCE_SEED") {
        Ok(text) => vec![text
            .trim()
            .parse()
            .expect("CONVERGENCE_SEED must be an unsigned integer")],
        Err(_) => (0..SEEDS).collect(),
    };
    let mut total = Stats::default();
    for seed in seeds {
        match panic::catch_unwind(AssertUnwindSafe(|| run_seed(seed, config))) {
            Ok(stats) => total.add(&stats),
            Err(payload) => {
                eprintln!(
                    "{test} failed with seed {seed}; replay it with \
                     CONVERGENCE_SEED={seed} cargo test -p kasir-core --test convergence {test}"
                );
                panic::resume_unwind(payload);
            }
        }
    }
    eprintln!("{test}: {total:?}");
    total
}

/// Checks that the runs reached the cases every strategy shares.
fn check_common_coverage(stats: &Stats) {
    if std::env::var("CONVERGENCE_SEED").is_ok() {
        return;
    }
    assert!(stats.retried > 0, "no mutation was retried");
    assert!(stats.lost_responses > 0, "no response was lost");
    assert!(stats.merged > 0, "no push was merged");
    assert!(stats.duplicate > 0, "no sale was replayed");
    assert!(stats.rejected > 0, "no other body was sent under a stored sale id");
    assert!(
        stats.echo_on_tombstone > 0,
        "no create was echoed onto a deleted record"
    );
}

#[test]
fn devices_converge_under_lww() {
    let config = Config {
        strategy: Strategy::Lww,
        history_limit: None,
    };
    let stats = run_seeds("devices_converge_under_lww", config);
    check_common_coverage(&stats);
    if std::env::var("CONVERGENCE_SEED").is_err() {
        assert!(stats.restored > 0, "no deleted record was restored");
        assert!(stats.lost_deletes > 0, "no delete lost to a newer clock");
    }
}

#[test]
fn devices_converge_under_field_merge() {
    let config = Config {
        strategy: Strategy::FieldMerge,
        history_limit: None,
    };
    let stats = run_seeds("devices_converge_under_field_merge", config);
    check_common_coverage(&stats);
    if std::env::var("CONVERGENCE_SEED").is_err() {
        assert!(stats.partial > 0, "no field merge was partial");
        assert!(stats.restored > 0, "no deleted record was restored");
    }
}

#[test]
fn field_merge_converges_without_old_snapshots() {
    // Keeping two snapshots per record leaves many pushes without their base, so every
    // differing column counts as contested.
    let config = Config {
        strategy: Strategy::FieldMerge,
        history_limit: Some(2),
    };
    let stats = run_seeds("field_merge_converges_without_old_snapshots", config);
    check_common_coverage(&stats);
}

#[test]
fn devices_converge_under_manual() {
    let config = Config {
        strategy: Strategy::Manual,
        history_limit: None,
    };
    let stats = run_seeds("devices_converge_under_manual", config);
    check_common_coverage(&stats);
    if std::env::var("CONVERGENCE_SEED").is_err() {
        assert!(stats.conflict > 0, "no conflict was stored");
        assert!(stats.resolutions > 0, "no conflict was resolved");
    }
}

/// Pushes a terminal's whole outbox at once and delivers the response.
fn push_outbox(server: &mut Server, device: &mut Device) -> Vec<PushResult> {
    let chunk: Vec<Mutation> = device.outbox.iter().cloned().collect();
    let results = server.push(&device.id, &chunk);
    device.accept(&results);
    results
}

/// Queues the create of a product priced 1000 and returns its id.
fn queue_create(device: &mut Device, now_ms: i64) -> String {
    let record_id = device.new_id("p");
    let Value::Object(changes) = json!({"name": "Kopi", "price": 1000, "category": "minuman", "active": true}) else {
        unreachable!("a JSON object literal");
    };
    let change = Change::Product {
        kind: ProductKind::Create,
        record_id: record_id.clone(),
        base_version: None,
        changes,
    };
    device.enqueue(now_ms, change);
    record_id
}

/// Queues an edit of the price on the version the terminal last pulled.
fn queue_price_edit(device: &mut Device, now_ms: i64, record_id: &str, price: i64) {
    let mut changes = Fields::new();
    changes.insert("price".to_string(), json!(price));
    let change = Change::Product {
        kind: ProductKind::Edit,
        record_id: record_id.to_string(),
        base_version: device.base_version(record_id),
        changes,
    };
    device.enqueue(now_ms, change);
}

/// Creates a product, pulls it, then edits its price twice before pushing again. The second
/// edit carries the stale base, so the server orders the two by clock.
fn price_after_two_edits(strategy: Strategy, skew_ms: i64) -> Value {
    let mut server = Server::new(Config {
        strategy,
        history_limit: None,
    });
    let mut device = Device::new(0, skew_ms);
    let mut rng = Rng::with_seed(1);
    let record_id = queue_create(&mut device, server.now_ms);
    push_outbox(&mut server, &mut device);
    device.pull_to_end(&server, &mut rng);

    queue_price_edit(&mut device, server.now_ms + 1_000, &record_id, 1_200);
    queue_price_edit(&mut device, server.now_ms + 2_000, &record_id, 1_300);
    server.now_ms += 3_000;
    push_outbox(&mut server, &mut device);
    server.products[&record_id].fields["price"].clone()
}

#[test]
fn device_keeps_order_of_own_edits() {
    for strategy in [Strategy::Lww, Strategy::FieldMerge] {
        for skew_ms in [0, -HOUR_MS, 4 * MINUTE_MS] {
            let price = price_after_two_edits(strategy, skew_ms);
            assert_eq!(price, json!(1_300), "{strategy:?} with the clock {skew_ms} ms off");
        }
    }
}

// A clock more than 5 minutes ahead is clamped to the server's next tick, so two edits of one
// fast terminal in one push keep their order.
#[test]
fn fast_device_keeps_order_of_own_edits() {
    for strategy in [Strategy::Lww, Strategy::FieldMerge] {
        let price = price_after_two_edits(strategy, HOUR_MS);
        assert_eq!(price, json!(1_300), "{strategy:?} with the clock an hour fast");
    }
}

/// True when a push wrote a new version of the record.
fn after_write(before: &Option<Row>, after: Option<&Row>) -> bool {
    match (before, after) {
        (None, Some(_)) => true,
        (Some(before), Some(after)) => after.version != before.version,
        _ => false,
    }
}

/// Creates a product and edits it before any push, so the edit has no `base_version`.
fn edit_of_new_product(strategy: Strategy) -> (Vec<PushResult>, Value) {
    let mut server = Server::new(Config {
        strategy,
        history_limit: None,
    });
    let mut device = Device::new(0, 0);
    let record_id = queue_create(&mut device, server.now_ms);
    queue_price_edit(&mut device, server.now_ms + 1_000, &record_id, 1_200);
    server.now_ms += 2_000;
    let results = push_outbox(&mut server, &mut device);
    (results, server.products[&record_id].fields["price"].clone())
}

#[test]
fn edit_of_own_new_product_applies() {
    for strategy in [Strategy::Lww, Strategy::FieldMerge] {
        let (results, price) = edit_of_new_product(strategy);
        assert_eq!(results[1].status, Status::Applied, "{strategy:?}");
        assert_eq!(price, json!(1_200), "{strategy:?}");
    }
}

// An edit without `base_version` of a product the terminal created itself merges from the
// stored version, so even `manual` applies it instead of holding a conflict with itself.
#[test]
fn manual_applies_edit_of_own_new_product() {
    let (results, price) = edit_of_new_product(Strategy::Manual);
    assert_eq!(results[1].status, Status::Applied);
    assert_eq!(price, json!(1_200));
}
