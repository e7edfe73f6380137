//! Merge rules of sync: how one pushed change to a catalog record meets the stored record.
//!
//! Causality comes first: a change made on the record's current version (`base_version` equal
//! to the stored version) happened after everything stored, whatever the device's wall clock
//! says, so it applies. Only concurrent changes (the record moved on since the device's base)
//! are ordered by the entity's strategy: `lww` by hybrid logical clock, `field_merge` field by
//! field against the base, `manual` by holding the conflict for a person.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::hlc::Hlc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    Lww,
    FieldMerge,
    Manual,
}

impl Strategy {
    pub fn parse(text: &str) -> Option<Strategy> {
        match text {
            "lww" => Some(Strategy::Lww),
            "field_merge" => Some(Strategy::FieldMerge),
            "manual" => Some(Strategy::Manual),
            _ => None,
        }
    }

    /// Returns the strategy an entity has when the tenant has not chosen one.
    pub fn default_for(entity: &str) -> Strategy {
        match entity {
            "products" | "categories" => Strategy::FieldMerge,
            _ => Strategy::Lww,
        }
    }
}

/// Stored record, in the form the merge compares.
#[derive(Clone, Debug)]
pub struct Stored<'a> {
    pub version: i64,
    pub hlc: Option<Hlc>,
    pub deleted: bool,
    pub fields: &'a Map<String, Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Upsert,
    Delete,
}

/// One pushed change, already validated.
#[derive(Clone, Debug)]
pub struct Incoming<'a> {
    pub op: Op,
    /// The record version the device last saw; `None` for a record the device created.
    pub base_version: Option<i64>,
    /// The columns the device changed, with their new values.
    pub changes: &'a Map<String, Value>,
    pub hlc: &'a Hlc,
}

/// Outcome of merging one pushed change.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Create the record with these values.
    Insert(Map<String, Value>),
    /// Set these columns; `partial` when some of the device's changes lost to newer ones.
    Update {
        values: Map<String, Value>,
        partial: bool,
    },
    /// Bring a deleted record back with these columns set.
    Restore(Map<String, Value>),
    Delete,
    /// Change nothing: the device's change lost, or it is already in effect.
    Skip,
    /// Hold the change for a person to resolve; `fields` are the contested columns.
    Conflict {
        fields: Vec<String>,
    },
}

impl Decision {
    /// Returns the push result status of this decision.
    pub fn status(&self) -> &'static str {
        match self {
            Decision::Insert(_) | Decision::Restore(_) | Decision::Delete => "applied",
            Decision::Update { partial: false, .. } => "applied",
            Decision::Update { partial: true, .. } | Decision::Skip => "merged",
            Decision::Conflict { .. } => "conflict",
        }
    }
}

/// Returns the base a pushed change merges from. When the pushing device wrote the stored
/// version itself (its create, or its earlier push), nothing stored is news to it, so the
/// change is not concurrent with anything. A deleted record keeps the device's own base, so
/// an echoed create still cannot bring it back.
pub fn effective_base(
    base_version: Option<i64>,
    stored_version: i64,
    stored_deleted: bool,
    written_by_pusher: bool,
) -> Option<i64> {
    if written_by_pusher && !stored_deleted {
        Some(stored_version)
    } else {
        base_version
    }
}

/// Compares stored and pushed values as the same column: D1 stores booleans as 0/1 and may
/// hand whole numbers back as doubles.
pub fn same_value(a: &Value, b: &Value) -> bool {
    fn normalized(value: &Value) -> Value {
        match value {
            Value::Bool(flag) => Value::from(i64::from(*flag)),
            Value::Number(number) => match number.as_f64() {
                Some(float) if float.fract() == 0.0 && float.abs() < 9.1e15 => Value::from(float as i64),
                _ => value.clone(),
            },
            other => other.clone(),
        }
    }
    normalized(a) == normalized(b)
}

fn value_of<'a>(fields: &'a Map<String, Value>, column: &str) -> &'a Value {
    fields.get(column).unwrap_or(&Value::Null)
}

/// True when the pushed clock is newer than the stored one; a record stored without a clock
/// (written before clocks were kept) loses to any clock.
fn incoming_is_newer(stored: &Stored<'_>, incoming: &Incoming<'_>) -> bool {
    match &stored.hlc {
        Some(stored_hlc) => incoming.hlc > stored_hlc,
        None => true,
    }
}

/// Columns whose pushed value differs from the stored one.
fn differing(stored: &Map<String, Value>, changes: &Map<String, Value>) -> Map<String, Value> {
    changes
        .iter()
        .filter(|(column, value)| !same_value(value_of(stored, column), value))
        .map(|(column, value)| (column.clone(), value.clone()))
        .collect()
}

/// Decides how a pushed change meets the stored record.
///
/// `base` is the record as it was at the device's `base_version`, when the server still has
/// that version; without it, `field_merge` treats every differing column as contested.
pub fn decide(
    strategy: Strategy,
    stored: Option<&Stored<'_>>,
    base: Option<&Map<String, Value>>,
    incoming: &Incoming<'_>,
) -> Decision {
    let Some(stored) = stored else {
        return match incoming.op {
            Op::Upsert => Decision::Insert(incoming.changes.clone()),
            // Deleting what the server never had leaves nothing to do.
            Op::Delete => Decision::Skip,
        };
    };
    let concurrent = incoming
        .base_version
        .is_none_or(|base_version| stored.version > base_version);

    if stored.deleted {
        return match incoming.op {
            Op::Delete => Decision::Skip,
            // A create echoed back after the server deleted the record never resurrects it.
            Op::Upsert if incoming.base_version.is_none() => Decision::Skip,
            Op::Upsert if strategy == Strategy::Manual => Decision::Conflict {
                fields: incoming.changes.keys().cloned().collect(),
            },
            Op::Upsert if incoming_is_newer(stored, incoming) => Decision::Restore(incoming.changes.clone()),
            Op::Upsert => Decision::Skip,
        };
    }

    if incoming.op == Op::Delete {
        if !concurrent {
            return Decision::Delete;
        }
        return match strategy {
            Strategy::Manual => Decision::Conflict { fields: Vec::new() },
            _ if incoming_is_newer(stored, incoming) => Decision::Delete,
            _ => Decision::Skip,
        };
    }

    let changed = differing(stored.fields, incoming.changes);
    if changed.is_empty() {
        return Decision::Skip;
    }
    if !concurrent {
        return Decision::Update {
            values: changed,
            partial: false,
        };
    }

    // Columns the server changed since the device's base; without a base, all of them.
    let server_changed = |column: &str| match base {
        Some(base) => !same_value(value_of(base, column), value_of(stored.fields, column)),
        None => true,
    };
    let contested: Vec<String> = changed
        .keys()
        .filter(|column| server_changed(column))
        .cloned()
        .collect();

    match strategy {
        Strategy::Lww => {
            if incoming_is_newer(stored, incoming) {
                Decision::Update {
                    values: changed,
                    partial: false,
                }
            } else {
                Decision::Skip
            }
        }
        Strategy::FieldMerge => {
            let newer = incoming_is_newer(stored, incoming);
            let mut values = Map::new();
            for (column, value) in &changed {
                // Disjoint edits both survive; a column both sides changed goes to the newer clock.
                if !contested.contains(column) || newer {
                    values.insert(column.clone(), value.clone());
                }
            }
            let partial = values.len() < changed.len();
            if values.is_empty() {
                Decision::Skip
            } else {
                Decision::Update { values, partial }
            }
        }
        Strategy::Manual => {
            if contested.is_empty() {
                Decision::Update {
                    values: changed,
                    partial: false,
                }
            } else {
                Decision::Conflict { fields: contested }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    fn hlc(millis: i64, node: &str) -> Hlc {
        Hlc {
            millis,
            counter: 0,
            node: node.to_string(),
        }
    }

    const T0: i64 = 1_796_400_000_000;
    const HOUR: i64 = 3_600_000;

    #[test]
    fn unknown_record_is_inserted() {
        let changes = object(json!({"name": "Kopi", "price": 1000}));
        let clock = hlc(T0, "a");
        let incoming = Incoming {
            op: Op::Upsert,
            base_version: None,
            changes: &changes,
            hlc: &clock,
        };
        assert_eq!(
            decide(Strategy::Lww, None, None, &incoming),
            Decision::Insert(changes.clone())
        );
    }

    #[test]
    fn edit_on_current_version_wins_despite_slow_clock() {
        let fields = object(json!({"name": "Kopi", "price": 1000}));
        let stored = Stored {
            version: 5,
            hlc: Some(hlc(T0, "server")),
            deleted: false,
            fields: &fields,
        };
        let changes = object(json!({"price": 1200}));
        // The device's wall clock runs an hour behind, but it saw version 5.
        let clock = hlc(T0 - HOUR, "slow");
        let incoming = Incoming {
            op: Op::Upsert,
            base_version: Some(5),
            changes: &changes,
            hlc: &clock,
        };
        let decision = decide(Strategy::Lww, Some(&stored), None, &incoming);
        assert_eq!(
            decision,
            Decision::Update {
                values: changes.clone(),
                partial: false
            }
        );
    }

    #[test]
    fn stale_concurrent_edit_loses_under_lww() {
        let fields = object(json!({"price": 2000}));
        let stored = Stored {
            version: 3,
            hlc: Some(hlc(T0 + 60_000, "d1")),
            deleted: false,
            fields: &fields,
        };
        let changes = object(json!({"price": 1500}));
        let clock = hlc(T0 - 60_000, "d2");
        let incoming = Incoming {
            op: Op::Upsert,
            base_version: Some(2),
            changes: &changes,
            hlc: &clock,
        };
        let decision = decide(Strategy::Lww, Some(&stored), None, &incoming);
        assert_eq!(decision, Decision::Skip);
        assert_eq!(decision.status(), "merged");
    }

    #[test]
    fn disjoint_field_edits_both_survive() {
        let base = object(json!({"name": "Kopi", "price": 1000}));
        let fields = object(json!({"name": "Kopi Susu", "price": 1000}));
        let stored = Stored {
            version: 3,
            hlc: Some(hlc(T0 + 60_000, "d1")),
            deleted: false,
            fields: &fields,
        };
        let changes = object(json!({"price": 1200}));
        let clock = hlc(T0, "d2");
        let incoming = Incoming {
            op: Op::Upsert,
            base_version: Some(2),
            changes: &changes,
            hlc: &clock,
        };
        let decision = decide(Strategy::FieldMerge, Some(&stored), Some(&base), &incoming);
        assert_eq!(
            decision,
            Decision::Update {
                values: changes.clone(),
                partial: false
            }
        );
    }

    #[test]
    fn overlapping_field_edit_falls_back_to_clock() {
        let base = object(json!({"name": "Kopi", "price": 1000}));
        let fields = object(json!({"name": "Kopi", "price": 1100}));
        let stored = Stored {
            version: 3,
            hlc: Some(hlc(T0 + 60_000, "d1")),
            deleted: false,
            fields: &fields,
        };
        let changes = object(json!({"name": "Kopi Hitam", "price": 1200}));
        let older = hlc(T0, "d2");
        let incoming = Incoming {
            op: Op::Upsert,
            base_version: Some(2),
            changes: &changes,
            hlc: &older,
        };
        let decision = decide(Strategy::FieldMerge, Some(&stored), Some(&base), &incoming);
        assert_eq!(
            decision,
            Decision::Update {
                values: object(json!({"name": "Kopi Hitam"})),
                partial: true
            }
        );
        assert_eq!(decision.status(), "merged");

        let newer = hlc(T0 + 120_000, "d2");
        let incoming = Incoming {
            op: Op::Upsert,
            base_version: Some(2),
            changes: &changes,
            hlc: &newer,
        };
        let decision = decide(Strategy::FieldMerge, Some(&stored), Some(&base), &incoming);
        assert_eq!(
            decision,
            Decision::Update {
                values: changes.clone(),
                partial: false
            }
        );
    }

    #[test]
    fn manual_strategy_holds_overlap_as_conflict() {
        let base = object(json!({"price": 1000}));
        let fields = object(json!({"price": 1100}));
        let stored = Stored {
            version: 3,
            hlc: Some(hlc(T0, "d1")),
            deleted: false,
            fields: &fields,
        };
        let changes = object(json!({"price": 1200}));
        let clock = hlc(T0 + HOUR, "d2");
        let incoming = Incoming {
            op: Op::Upsert,
            base_version: Some(2),
            changes: &changes,
            hlc: &clock,
        };
        let decision = decide(Strategy::Manual, Some(&stored), Some(&base), &incoming);
        assert_eq!(
            decision,
            Decision::Conflict {
                fields: vec!["price".to_string()]
            }
        );
    }

    #[test]
    fn echoed_create_never_resurrects_deleted_record() {
        let fields = object(json!({"name": "Kopi"}));
        let stored = Stored {
            version: 4,
            hlc: Some(hlc(T0, "server")),
            deleted: true,
            fields: &fields,
        };
        let changes = object(json!({"name": "Kopi"}));
        let clock = hlc(T0 + HOUR, "d1");
        let incoming = Incoming {
            op: Op::Upsert,
            base_version: None,
            changes: &changes,
            hlc: &clock,
        };
        for strategy in [Strategy::Lww, Strategy::FieldMerge, Strategy::Manual] {
            assert_eq!(decide(strategy, Some(&stored), None, &incoming), Decision::Skip);
        }
    }

    #[test]
    fn edit_of_deleted_record_follows_strategy() {
        let fields = object(json!({"name": "Kopi"}));
        let stored = Stored {
            version: 4,
            hlc: Some(hlc(T0, "server")),
            deleted: true,
            fields: &fields,
        };
        let changes = object(json!({"name": "Kopi Baru"}));
        let newer = hlc(T0 + 1, "d1");
        let incoming = Incoming {
            op: Op::Upsert,
            base_version: Some(3),
            changes: &changes,
            hlc: &newer,
        };
        assert_eq!(
            decide(Strategy::Lww, Some(&stored), None, &incoming),
            Decision::Restore(changes.clone())
        );
        assert!(matches!(
            decide(Strategy::Manual, Some(&stored), None, &incoming),
            Decision::Conflict { .. }
        ));

        let older = hlc(T0 - 1, "d1");
        let incoming = Incoming {
            op: Op::Upsert,
            base_version: Some(3),
            changes: &changes,
            hlc: &older,
        };
        assert_eq!(decide(Strategy::Lww, Some(&stored), None, &incoming), Decision::Skip);
    }

    #[test]
    fn delete_of_edited_record_follows_strategy() {
        let fields = object(json!({"name": "Kopi"}));
        let stored = Stored {
            version: 6,
            hlc: Some(hlc(T0, "d1")),
            deleted: false,
            fields: &fields,
        };
        let changes = Map::new();
        let older = hlc(T0 - 1, "d2");
        let incoming = Incoming {
            op: Op::Delete,
            base_version: Some(5),
            changes: &changes,
            hlc: &older,
        };
        assert_eq!(decide(Strategy::Lww, Some(&stored), None, &incoming), Decision::Skip);
        assert!(matches!(
            decide(Strategy::Manual, Some(&stored), None, &incoming),
            Decision::Conflict { .. }
        ));

        let current = Incoming {
            op: Op::Delete,
            base_version: Some(6),
            changes: &changes,
            hlc: &older,
        };
        assert_eq!(decide(Strategy::Lww, Some(&stored), None, &current), Decision::Delete);
    }

    #[test]
    fn own_earlier_write_is_not_concurrent() {
        assert_eq!(effective_base(None, 7, false, true), Some(7));
        assert_eq!(effective_base(Some(3), 7, false, true), Some(7));
        assert_eq!(effective_base(Some(3), 7, false, false), Some(3));
        assert_eq!(effective_base(None, 7, true, true), None);
    }

    #[test]
    fn change_already_in_effect_is_skipped() {
        let fields = object(json!({"price": 1000, "track_stock": 1}));
        let stored = Stored {
            version: 2,
            hlc: None,
            deleted: false,
            fields: &fields,
        };
        let changes = object(json!({"price": 1000.0, "track_stock": true}));
        let clock = hlc(T0, "d1");
        let incoming = Incoming {
            op: Op::Upsert,
            base_version: Some(2),
            changes: &changes,
            hlc: &clock,
        };
        assert_eq!(decide(Strategy::Lww, Some(&stored), None, &incoming), Decision::Skip);
    }
}
