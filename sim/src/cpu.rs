//! CPU time of server process trees, read from `/proc/<pid>/stat` (Linux only).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::process::Command;

use serde::{Deserialize, Serialize};

/// Clock ticks per second of `utime` and `stime`, from `getconf CLK_TCK`, or 100, the usual
/// Linux value, when that fails.
pub fn ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .filter(|&ticks| ticks > 0)
        .unwrap_or(100)
}

/// One process as `/proc/<pid>/stat` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProcessStat {
    name: String,
    parent: u32,
    /// utime + stime in clock ticks.
    ticks: u64,
}

/// Reads a `/proc/<pid>/stat` text. The command name in brackets may hold spaces, so the
/// other fields are counted from its closing bracket.
fn parse_stat(text: &str) -> Option<ProcessStat> {
    let name_start = text.find('(')? + 1;
    let name_end = text.rfind(')')?;
    let fields: Vec<&str> = text[name_end + 1..].split_whitespace().collect();
    // After the name: state (field 3), ppid (4), ... utime (14), stime (15).
    let parent = fields.get(1)?.parse().ok()?;
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(ProcessStat {
        name: text.get(name_start..name_end)?.to_string(),
        parent,
        ticks: user + system,
    })
}

/// Returns utime + stime in ticks of `roots` and every process below them, summed by
/// process name (such as `node` and `workerd`). A process that exited between two readings
/// loses its time from the later one.
pub fn tree_ticks_by_name(roots: &[u32]) -> BTreeMap<String, u64> {
    let mut processes: HashMap<u32, ProcessStat> = HashMap::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return BTreeMap::new();
    };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else {
            continue;
        };
        if let Some(stat) = fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .as_deref()
            .and_then(parse_stat)
        {
            processes.insert(pid, stat);
        }
    }

    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (&pid, stat) in &processes {
        children.entry(stat.parent).or_default().push(pid);
    }
    let mut by_name = BTreeMap::new();
    let mut pending: Vec<u32> = roots.to_vec();
    let mut seen = HashSet::new();
    while let Some(pid) = pending.pop() {
        if !seen.insert(pid) {
            continue;
        }
        if let Some(stat) = processes.get(&pid) {
            *by_name.entry(stat.name.clone()).or_insert(0) += stat.ticks;
        }
        if let Some(below) = children.get(&pid) {
            pending.extend(below);
        }
    }
    by_name
}

/// CPU time a process tree spent during one step.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CpuUsage {
    pub total_ms: f64,
    /// Milliseconds by process name, such as `node` and `workerd`.
    pub by_process_ms: BTreeMap<String, f64>,
}

/// Measures the CPU time a process tree spends between `start` and `stop`.
pub struct CpuMeter {
    roots: Vec<u32>,
    ticks_per_second: u64,
    start: BTreeMap<String, u64>,
}

impl CpuMeter {
    pub fn start(roots: &[u32], ticks_per_second: u64) -> CpuMeter {
        CpuMeter {
            roots: roots.to_vec(),
            ticks_per_second,
            start: tree_ticks_by_name(roots),
        }
    }

    /// Returns the CPU time used since `start`, or `None` without root pids.
    pub fn stop(&self) -> Option<CpuUsage> {
        if self.roots.is_empty() {
            return None;
        }
        let to_ms = |ticks: u64| ticks as f64 * 1000.0 / self.ticks_per_second as f64;
        let mut usage = CpuUsage::default();
        for (name, ticks) in tree_ticks_by_name(&self.roots) {
            let used = ticks.saturating_sub(self.start.get(&name).copied().unwrap_or(0));
            usage.total_ms += to_ms(used);
            *usage.by_process_ms.entry(name).or_insert(0.0) += to_ms(used);
        }
        Some(usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_stat_skips_names_with_spaces() {
        let text = "4242 (node (wrangler) x) S 4200 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 11 0 100 0 0";

        let stat = parse_stat(text).unwrap();

        assert_eq!(stat.name, "node (wrangler) x");
        assert_eq!(stat.parent, 4200);
        assert_eq!(stat.ticks, 325);
    }

    #[test]
    fn tree_ticks_by_name_counts_this_process() {
        let own = std::process::id();
        let mut spin = 0u64;
        for step in 0..20_000_000u64 {
            spin = spin.wrapping_add(step * step);
        }
        assert!(spin > 0);

        assert!(tree_ticks_by_name(&[own]).values().sum::<u64>() > 0);
        assert!(tree_ticks_by_name(&[u32::MAX]).is_empty());
    }
}
