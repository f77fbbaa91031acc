//! Consumer hooks through the binary: what a hook is told (and never told),
//! failing, signalled and timed-out hooks, retries, `on_failure`, IAM
//! `overlap` waiting for `on_rotate`, and owed hooks: run after a crash,
//! again by the daemon itself, or warned about when nothing claims them.

mod daemon;
mod failures;
mod overlap;
mod owed;
mod told;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::util::TestEnv;

/// Writes an executable `/bin/sh` script `name` under the test directory.
pub fn script(env: &TestEnv, name: &str, body: &str) -> PathBuf {
    let path = env.dir.path().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// `text` with `lines` added to its `[defaults]` table.
pub fn with_defaults(text: &str, lines: &str) -> String {
    assert!(text.contains("[defaults]\n"), "{text}");
    text.replacen("[defaults]\n", &format!("[defaults]\n{lines}\n"), 1)
}

/// A TOML array of strings.
pub fn argv(args: &[&str]) -> String {
    let quoted: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

/// `path` as a string (the test directory's paths are UTF-8).
pub fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The lines of a file, none when it does not exist.
pub fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|t| t.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The owed-hook records in the state directory.
pub fn owed_records(env: &TestEnv) -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir(env.dir.path().join("state/hooks")) else {
        return Vec::new();
    };
    dir.flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect()
}
