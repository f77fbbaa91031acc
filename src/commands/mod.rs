//! One module per subcommand; `run` dispatches.

mod audit;
mod check;
mod demo;
mod emulator;
mod generate;
mod manpage;
mod plan;
mod rotate;

pub mod daemon;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::exit;
use crate::policy::{self, Policy};

pub use rotate::result_line;

/// Runs the chosen subcommand.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    let config = cli.global.config.as_path();
    match &cli.command {
        Command::Daemon(args) => {
            daemon::refuse_root_unless_allowed(args)?;
            daemon::run(load_policy(config)?, config).await
        }
        Command::Rotate(args) => rotate::run(load_policy(config)?, args).await,
        Command::Audit(args) => audit::run(load_policy(config)?, args).await,
        Command::Check(args) => check::run(load_policy(config)?, config, args).await,
        Command::Plan(args) => plan::run(load_policy(config)?, args).await,
        Command::ExamplePolicy => {
            print!("{}", policy::EXAMPLE);
            Ok(ExitCode::from(exit::SUCCESS))
        }
        Command::Emulator(args) => emulator::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Generate(args) => generate::run(args),
    }
}

/// Loads and validates the policy; a bad one is an error that exits 2.
pub fn load_policy(path: &Path) -> Result<Policy> {
    warn_if_writable_by_others(path);
    let policy = policy::load(path)?;
    policy.log_warnings();
    Ok(policy)
}

/// Whoever can write the policy decides what is rotated and where the new
/// secrets go: warn when that is more than the owner.
fn warn_if_writable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & 0o022 != 0 {
            tracing::warn!(
                policy = %path.display(),
                mode = %format!("{:o}", mode & 0o777),
                "the policy file is group- or world-writable: anyone who can write it controls which credentials are rotated and where their secrets are stored (chmod go-w)"
            );
        }
    }
}
