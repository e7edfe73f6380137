//! The machine and software a bench run used, and the compressed size of the Worker bundle.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use flate2::write::GzEncoder;
use flate2::Compression;
use serde::{Deserialize, Serialize};

/// Hardware, operating system and tool versions of the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MachineInfo {
    /// Logical CPUs the simulator may use, as `nproc` prints.
    pub nproc: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub kernel: String,
    /// UTC date and time of the report.
    pub date: String,
    pub node: String,
    pub wrangler: String,
    pub workerd: String,
    /// Versions of the peer's main packages, as installed.
    pub peer_packages: Vec<(String, String)>,
}

impl MachineInfo {
    /// Reads `/proc` and runs the installed tools with `--version`. Anything that cannot
    /// be read shows as `unknown`.
    pub fn probe(workspace: &Path, peer_dir: Option<&Path>) -> MachineInfo {
        let cpu_model = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|line| line.starts_with("model name"))
                    .and_then(|line| line.split_once(':'))
                    .map(|(_, model)| model.trim().to_string())
            })
            .unwrap_or_else(unknown);
        let memory_kib: f64 = fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|line| line.starts_with("MemTotal:"))
                    .and_then(|line| line.split_whitespace().nth(1))
                    .and_then(|value| value.parse().ok())
            })
            .unwrap_or(0.0);
        let peer_packages = ["express", "sequelize", "sqlite3"]
            .iter()
            .map(|name| {
                let version = peer_dir
                    .map(|dir| package_version(&dir.join("node_modules").join(name)))
                    .unwrap_or_else(unknown);
                (name.to_string(), version)
            })
            .collect();

        MachineInfo {
            nproc: std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            cpu_model,
            memory_gib: memory_kib / 1024.0 / 1024.0,
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|text| text.trim().to_string())
                .unwrap_or_else(|_| unknown()),
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            node: command_output("node", &["--version"]),
            wrangler: package_version(&workspace.join("node_modules/wrangler")),
            workerd: command_output(
                &workspace.join("node_modules/.bin/workerd").to_string_lossy(),
                &["--version"],
            ),
            peer_packages,
        }
    }
}

fn unknown() -> String {
    "unknown".to_string()
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty())
        .unwrap_or_else(unknown)
}

/// Reads `version` from the `package.json` in `package_dir`.
fn package_version(package_dir: &Path) -> String {
    fs::read_to_string(package_dir.join("package.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|manifest| manifest["version"].as_str().map(str::to_string))
        .unwrap_or_else(unknown)
}

/// Returns `/proc/loadavg`'s 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| unknown())
}

/// One file of the Worker bundle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BundleFile {
    pub path: String,
    pub bytes: u64,
    pub gzip_bytes: u64,
}

/// The Worker code that an upload carries, each file compressed alone with gzip -9, plus
/// wrangler's own figure when the caller ran `wrangler deploy --dry-run`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BundleSize {
    pub files: Vec<BundleFile>,
    pub gzip_bytes: u64,
    /// The `Total Upload: ... / gzip: ...` line of `wrangler deploy --dry-run`.
    pub wrangler_upload: Option<String>,
}

/// Files of `build/` that make up the Worker code: the wasm module, its JavaScript glue
/// and the entry shim. Static assets are uploaded apart from the Worker and not counted.
const BUNDLE_FILES: [&str; 3] = ["index_bg.wasm", "index.js", "worker/shim.mjs"];

impl BundleSize {
    pub fn measure(build_dir: &Path, wrangler_upload: Option<String>) -> BundleSize {
        let files: Vec<BundleFile> = BUNDLE_FILES
            .iter()
            .filter_map(|name| {
                let path: PathBuf = build_dir.join(name);
                let bytes = fs::read(&path).ok()?;
                Some(BundleFile {
                    path: format!("build/{name}"),
                    bytes: bytes.len() as u64,
                    gzip_bytes: gzip_size(&bytes),
                })
            })
            .collect();
        BundleSize {
            gzip_bytes: files.iter().map(|file| file.gzip_bytes).sum(),
            files,
            wrangler_upload,
        }
    }
}

fn gzip_size(bytes: &[u8]) -> u64 {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    // Compressing into memory does no I/O that could fail.
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().map(|compressed| compressed.len() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::gzip_size;

    #[test]
    fn gzip_size_shrinks_repetitive_bytes() {
        let bytes = vec![b'a'; 100_000];

        let size = gzip_size(&bytes);

        assert!(size > 0, "{size}");
        assert!(size < 1_000, "{size}");
    }
}
