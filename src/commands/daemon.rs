//! `rekeyd daemon`: run the schedule until SIGTERM/SIGINT; SIGHUP reloads.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::aws::AwsOverrides;
use crate::cli::DaemonArgs;
use crate::daemon::notify::Notifier;
use crate::daemon::{self, Options};
use crate::exit::{self, UsageError};
use crate::policy::Policy;
use crate::shutdown;

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

/// The daemon holds every credential's authority through its AWS identity,
/// not through the local machine: running it as root only widens what a bug
/// in it (or in a dependency) could reach. Refuse unless the operator says so.
pub fn refuse_root_unless_allowed(args: &DaemonArgs) -> Result<()> {
    if !running_as_root() {
        return Ok(());
    }
    if args.allow_root {
        tracing::warn!(
            "running as root because --allow-root (REKEYD_ALLOW_ROOT) is set; \
             an unprivileged user is safer (systemd/rekeyd.service uses the `rekeyd` system user)"
        );
        return Ok(());
    }
    Err(UsageError(
        "refusing to run the daemon as root (uid 0): it needs no privilege beyond reading \
         its policy and writing its state directory. Run it as its own user \
         (systemd/rekeyd.service runs it as the `rekeyd` system user), or pass --allow-root \
         (or set REKEYD_ALLOW_ROOT=1) to run as root anyway"
            .to_owned(),
    )
    .into())
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
