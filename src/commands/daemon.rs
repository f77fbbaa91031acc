//! `rekeyd daemon`: run the schedule until SIGTERM/SIGINT.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::aws::{Aws, AwsOverrides};
use crate::policy::Policy;
use crate::{daemon, exit, shutdown};

pub async fn run(policy: Policy) -> Result<ExitCode> {
    let shutdown = shutdown::on_signals().context("cannot listen for signals")?;
    let aws = Arc::new(Aws::build(&policy.aws, AwsOverrides::default()).await);
    let stopped = daemon::run(&policy, aws, shutdown, None).await?;
    // Rotations cut off by the shutdown timeout are in doubt: say so in the
    // exit status too.
    Ok(exit::from_success(stopped.abandoned.is_empty()))
}
