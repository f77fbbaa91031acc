//! `rekeyd emulator`: serve the bundled AWS emulator until SIGTERM/SIGINT.

use std::process::ExitCode;

use anyhow::{Context, Result};
use rekeyd_emulator::Emulator;

use crate::cli::EmulatorArgs;
use crate::exit::UsageError;
use crate::{exit, shutdown};

pub async fn run(args: &EmulatorArgs) -> Result<ExitCode> {
    let shutdown = shutdown::on_signals().context("cannot listen for signals")?;
    let emulator = Emulator::start(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    if let Some(seed) = &args.seed {
        let text = std::fs::read_to_string(seed)
            .with_context(|| format!("cannot read seed file {}", seed.display()))?;
        emulator
            .seed_from_json(&text)
            .map_err(|e| anyhow::anyhow!("bad seed file {}: {e}", seed.display()))?;
    }
    if !args.quota.is_empty() {
        emulator
            .controls()
            .set_quotas(&args.quota.iter().cloned().collect())
            .map_err(|e| UsageError(format!("--quota: {e}")))?;
    }
    // The address on stdout, alone on its line, for scripts and tests.
    println!("{}", emulator.endpoint_url());
    tracing::info!(endpoint = %emulator.endpoint_url(), "emulator listening");
    shutdown.cancelled().await;
    emulator.shutdown().await;
    Ok(ExitCode::from(exit::SUCCESS))
}
