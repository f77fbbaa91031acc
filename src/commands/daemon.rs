//! `rekeyd daemon`: run the schedule until SIGTERM/SIGINT; SIGHUP reloads.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::aws::AwsOverrides;
use crate::daemon::notify::Notifier;
use crate::daemon::{self, Options};
use crate::policy::Policy;
use crate::{exit, shutdown};

pub async fn run(policy: Policy, policy_path: &Path) -> Result<ExitCode> {
    // Listen before anything else, so that a signal is never missed.
    let shutdown = shutdown::on_signals().context("cannot listen for signals")?;
    let reloads = shutdown::reload_requests().context("cannot listen for SIGHUP")?;
    let options = Options {
        policy_path: Some(policy_path.to_owned()),
        aws_overrides: AwsOverrides::default(),
        shutdown,
        reloads: Some(reloads),
        events: None,
        notifier: Arc::new(Notifier::from_env()),
    };
    let stopped = daemon::run(policy, options).await?;
    // Rotations cut off by the shutdown timeout are in doubt: say so in the
    // exit status too.
    Ok(exit::from_success(stopped.abandoned.is_empty()))
}
