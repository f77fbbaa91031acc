//! `rekeyd emulator`: serve the bundled AWS emulator until SIGTERM/SIGINT.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::EmulatorArgs;

pub async fn run(_args: &EmulatorArgs) -> Result<ExitCode> {
    anyhow::bail!("the emulator is being wired in")
}
