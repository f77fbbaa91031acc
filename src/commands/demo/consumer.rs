//! The demo's fake consumer of the bot's secret: a file naming the secret
//! version it uses, "reloaded" by an `on_rotate` hook script (what an
//! operator's `systemctl reload app` would be). The script is told the
//! secret's name and version, never its value.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rekeyd_emulator::Emulator;

/// The hook: records the version the consumer now uses.
const RELOAD: &str = r#"#!/bin/sh
# The demo's consumer "reloads": it now uses the version rekeyd just stored.
printf '%s %s\n' "$REKEYD_SECRET" "$REKEYD_VERSION_ID" > "$1.tmp" && mv "$1.tmp" "$1"
"#;

/// The hook script and the consumer's file, under the demo's state directory.
pub(super) struct FakeConsumer {
    script: PathBuf,
    uses: PathBuf,
}

impl FakeConsumer {
    /// Writes the hook script under `state_dir`.
    pub fn install(state_dir: &Path) -> Result<FakeConsumer> {
        let dir = state_dir.join("consumer");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let script = dir.join("reload-consumer");
        std::fs::write(&script, RELOAD)
            .and_then(|()| {
                std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700))
            })
            .with_context(|| format!("cannot write {}", script.display()))?;
        Ok(FakeConsumer {
            script,
            uses: dir.join("uses"),
        })
    }

    /// The `on_rotate` argv.
    pub fn on_rotate(&self) -> Vec<String> {
        [&self.script, &self.uses]
            .iter()
            .map(|p| p.display().to_string())
            .collect()
    }

    /// What the consumer uses now: `SECRET VERSION`.
    pub fn uses(&self) -> Option<String> {
        std::fs::read_to_string(&self.uses)
            .ok()
            .map(|t| t.trim().to_owned())
    }
}

/// Whether the consumer uses the version Secrets Manager holds as current.
pub(super) fn report(emulator: &Emulator, uses: Option<&str>) {
    let Some((secret, version)) = uses.and_then(|u| u.split_once(' ')) else {
        println!("\nthe bot's consumer was never reloaded (its on_rotate hook did not run)");
        return;
    };
    let current = emulator
        .truth()
        .secrets
        .iter()
        .find(|s| s.name == secret)
        .and_then(|s| {
            s.versions
                .iter()
                .find(|v| v.stages.iter().any(|st| st == "AWSCURRENT"))
                .map(|v| v.version_id.clone())
        });
    println!(
        "\nthe bot's consumer (reloaded by on_rotate) uses {secret} version {}: {}",
        super::short(version),
        if current.as_deref() == Some(version) {
            "the current one"
        } else {
            "NOT the current one"
        }
    );
}
