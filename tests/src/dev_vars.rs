//! Reads local Worker secrets from `.dev.vars`, the `KEY=VALUE` file that
//! `wrangler dev` loads from the workspace root.

use std::fs;
use std::path::{Path, PathBuf};

/// Workspace root: the parent of this crate's directory.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .expect("the tests crate lives one level below the workspace root")
        .to_path_buf()
}

/// Reads `ADMIN_TOKEN` from `<root>/.dev.vars`, or from `.dev.vars.example`
/// when `.dev.vars` is missing or does not set it.
pub fn read_admin_token(root: &Path) -> Result<String, String> {
    let candidates = [root.join(".dev.vars"), root.join(".dev.vars.example")];
    for path in &candidates {
        let Ok(text) = fs::read_to_string(path) else {
            continue;
        };
        if let Some(token) = find_var(&text, "ADMIN_TOKEN") {
            return Ok(token);
        }
    }
    Err(format!(
        "ADMIN_TOKEN not found in {} or {}; run `cp -n .dev.vars.example .dev.vars` in the workspace root",
        candidates[0].display(),
        candidates[1].display()
    ))
}

/// Returns the value of `name` in a `.dev.vars` text. Blank lines and `#`
/// comments are skipped, and one pair of surrounding quotes is removed.
pub fn find_var(text: &str, name: &str) -> Option<String> {
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() != name {
            continue;
        }
        let value = value.trim();
        let unquoted = value
            .strip_prefix('"')
            .and_then(|inner| inner.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|inner| inner.strip_suffix('\'')))
            .unwrap_or(value);
        return Some(unquoted.to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::find_var;

    #[test]
    fn find_var_reads_plain_and_quoted_values() {
        let text = "# local secrets\nENVIRONMENT=development\nADMIN_TOKEN = \"s3cret\"\nJWT_SECRET='x'\n";

        assert_eq!(find_var(text, "ADMIN_TOKEN").as_deref(), Some("s3cret"));
        assert_eq!(find_var(text, "ENVIRONMENT").as_deref(), Some("development"));
        assert_eq!(find_var(text, "JWT_SECRET").as_deref(), Some("x"));
    }

    #[test]
    fn find_var_skips_comments_and_missing_keys() {
        let text = "# ADMIN_TOKEN=commented-out\n\nOTHER=1\n";

        assert_eq!(find_var(text, "ADMIN_TOKEN"), None);
    }
}
