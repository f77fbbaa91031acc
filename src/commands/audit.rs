//! `rekeyd audit [--format table|json] [--offline] [--strict] [--fail-on ...]`:
//! print every credential's state; exit 0 when nothing fails, 1 otherwise.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use tracing::info;

use crate::audit::status::Status;
use crate::audit::{self, Options, table};
use crate::aws::{Aws, AwsOverrides};
use crate::cli::{AuditArgs, OutputFormat};
use crate::exit;
use crate::policy::Policy;

pub async fn run(policy: Policy, args: &AuditArgs) -> Result<ExitCode> {
    let aws = Arc::new(Aws::build(&policy.aws, AwsOverrides::default()).await);
    let options = Options {
        offline: args.offline,
        grace: args.grace,
        at: None,
    };
    let report = audit::audit(aws, &policy, &options).await;
    let stdout = std::io::stdout();
    let text = match args.format {
        OutputFormat::Json => report.to_json() + "\n",
        OutputFormat::Table => {
            let colour = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
            table::render(&report, colour)
        }
    };
    let mut out = stdout.lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    let failing = failing_statuses(args);
    let failed = report.fails(&failing);
    info!(
        credentials = report.credentials.len(),
        unmanaged = report.unmanaged.len(),
        failed,
        "audit finished"
    );
    Ok(exit::from_success(!failed))
}

/// `--fail-on` when given, else every status but `ok` and `unmanaged`;
/// `--strict` adds `unmanaged`.
fn failing_statuses(args: &AuditArgs) -> Vec<Status> {
    let mut failing: Vec<Status> = if args.fail_on.is_empty() {
        Status::ALL
            .into_iter()
            .filter(|s| s.fails_by_default())
            .collect()
    } else {
        args.fail_on.clone()
    };
    if args.strict && !failing.contains(&Status::Unmanaged) {
        failing.push(Status::Unmanaged);
    }
    failing
}
