//! One real `wrangler dev` per test binary.
//!
//! The first call to [`server`] starts `wrangler dev` on free 127.0.0.1 ports
//! with a fresh `--persist-to` directory and waits for `GET /health` to return
//! 200. Every test in the binary then shares that server. The Worker must
//! already be built into `build/` (`make` does it); this module never builds.
//!
//! Statics are not dropped at process exit, so the server is started through
//! a `sh` watchdog in its own process group. The watchdog polls the test
//! process every second and, once it is gone, sends SIGTERM and then SIGKILL
//! to the whole group (wrangler, workerd and itself), and deletes the state
//! directory. The log file is kept.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::client::Api;
use crate::dev_vars::{read_admin_token, workspace_root};

/// Maximum wait for `GET /health` to return 200 after the spawn.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(90);

/// Shell script that runs `wrangler dev` and ends its process group once the
/// test process is gone. Positional arguments: test process id, state
/// directory, then the command to run.
const WATCHDOG_SCRIPT: &str = r#"
parent="$1"; state_dir="$2"; shift 2
"$@" &
child=$!
# Set after the fork, so the server keeps the default SIGTERM action.
trap '' TERM
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do
    sleep 1
done
kill -TERM 0 2>/dev/null
waited=0
while kill -0 "$child" 2>/dev/null && [ "$waited" -lt 10 ]; do
    sleep 0.5
    waited=$((waited + 1))
done
rm -rf "$state_dir"
kill -KILL 0
"#;

/// A running `wrangler dev` on 127.0.0.1.
pub struct TestServer {
    pub base_url: String,
    /// Platform admin token, read from `.dev.vars` in the workspace root.
    pub admin_token: String,
    /// File that receives the server's stdout and stderr.
    pub log_path: PathBuf,
    watchdog: Mutex<Child>,
}

impl TestServer {
    pub fn api(&self) -> Api {
        Api::new(&self.base_url)
    }

    /// Returns the last `max_bytes` of the server log, for failure messages.
    pub fn log_tail(&self, max_bytes: u64) -> String {
        read_log_tail(&self.log_path, max_bytes)
    }

    /// Reports whether the watchdog, and so the server, is still running.
    pub fn is_running(&self) -> bool {
        let mut watchdog = self.watchdog.lock().unwrap_or_else(|e| e.into_inner());
        matches!(watchdog.try_wait(), Ok(None))
    }
}

static SERVER: OnceLock<Result<TestServer, String>> = OnceLock::new();

/// Returns the shared server, starting it on first use.
///
/// A failed start is remembered, so every later test fails at once with the
/// same message instead of waiting for its own timeout.
#[track_caller]
pub fn server() -> &'static TestServer {
    match SERVER.get_or_init(start_server) {
        Ok(server) => server,
        Err(message) => panic!("{message}"),
    }
}

fn start_server() -> Result<TestServer, String> {
    let root = workspace_root();
    let shim = root.join("build/worker/shim.mjs");
    if !shim.exists() {
        return Err(format!(
            "{} is missing; build the Worker with `make` before running these tests",
            shim.display()
        ));
    }
    let wrangler = root.join("node_modules/.bin/wrangler");
    if !wrangler.exists() {
        return Err(format!(
            "{} is missing; run `npm ci` in the workspace root",
            wrangler.display()
        ));
    }
    let admin_token = read_admin_token(&root)?;

    let work_dir = tempfile::Builder::new()
        .prefix("kasir-tests-")
        .tempdir()
        .map_err(|e| format!("failed to create a temporary directory: {e}"))?
        .keep();
    let state_dir = work_dir.join("state");
    let log_path = work_dir.join("wrangler.log");
    fs::create_dir_all(&state_dir).map_err(|e| format!("failed to create {}: {e}", state_dir.display()))?;
    let log = File::create(&log_path).map_err(|e| format!("failed to create {}: {e}", log_path.display()))?;
    let log_for_stderr = log
        .try_clone()
        .map_err(|e| format!("failed to reopen {}: {e}", log_path.display()))?;

    let (port, inspector_port) = free_port_pair()?;
    let port_arg = port.to_string();
    let inspector_arg = inspector_port.to_string();
    let state_arg = state_dir.to_string_lossy().into_owned();

    let child = Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG_SCRIPT)
        .arg("kasir-test-watchdog")
        .arg(std::process::id().to_string())
        .arg(&state_arg)
        .arg(&wrangler)
        .args(["dev", "--ip", "127.0.0.1", "--port", &port_arg])
        .args(["--inspector-port", &inspector_arg])
        .args(["--persist-to", &state_arg])
        .args([
            "--show-interactive-dev-session=false",
            "--test-scheduled",
            "--log-level",
            "warn",
        ])
        .current_dir(&root)
        .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
        .env("WRANGLER_SEND_METRICS", "false")
        .env("WRANGLER_HIDE_BANNER", "true")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_for_stderr))
        .process_group(0)
        .spawn()
        .map_err(|e| format!("failed to spawn sh for wrangler dev: {e}"))?;

    let server = TestServer {
        base_url: format!("http://127.0.0.1:{port}"),
        admin_token,
        log_path,
        watchdog: Mutex::new(child),
    };
    wait_until_healthy(&server)?;
    eprintln!(
        "kasir-tests: wrangler dev is up at {} (log: {})",
        server.base_url,
        server.log_path.display()
    );
    Ok(server)
}

/// Polls `GET /health` until it returns 200, the server exits, or
/// [`STARTUP_TIMEOUT`] passes.
fn wait_until_healthy(server: &TestServer) -> Result<(), String> {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(2)).build();
    let url = format!("{}/health", server.base_url);
    let started = Instant::now();
    let mut last_outcome = String::from("no response yet");

    while started.elapsed() < STARTUP_TIMEOUT {
        if !server.is_running() {
            return Err(startup_failure(server, "wrangler dev exited during startup"));
        }
        match agent.get(&url).call() {
            Ok(response) if response.status() == 200 => return Ok(()),
            Ok(response) => last_outcome = format!("HTTP {}", response.status()),
            Err(ureq::Error::Status(status, _)) => last_outcome = format!("HTTP {status}"),
            Err(ureq::Error::Transport(error)) => last_outcome = error.to_string(),
        }
        thread::sleep(Duration::from_millis(250));
    }

    let reason = format!(
        "GET {url} did not return 200 within {} s (last outcome: {last_outcome})",
        STARTUP_TIMEOUT.as_secs()
    );
    Err(startup_failure(server, &reason))
}

fn startup_failure(server: &TestServer, reason: &str) -> String {
    format!(
        "{reason}.\nServer log: {}\n--- last lines of the log ---\n{}",
        server.log_path.display(),
        server.log_tail(4000)
    )
}

/// Returns two distinct ports that were free on 127.0.0.1 a moment ago.
fn free_port_pair() -> Result<(u16, u16), String> {
    let bind = || {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| Ok((listener.local_addr()?.port(), listener)))
            .map_err(|e| format!("failed to find a free port on 127.0.0.1: {e}"))
    };
    // Both listeners stay open until both ports are known, so they differ.
    let (port, _first) = bind()?;
    let (inspector_port, _second) = bind()?;
    Ok((port, inspector_port))
}

fn read_log_tail(path: &PathBuf, max_bytes: u64) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::from("(log file could not be opened)");
    };
    let length = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(length.saturating_sub(max_bytes)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}
