//! Exit codes, in one place (SPEC.md, "Commands").

use std::process::ExitCode;

/// Everything worked (a `--dry-run` included).
pub const SUCCESS: u8 = 0;
/// A rotation failed, or an audit found something.
pub const FAILURE: u8 = 1;
/// Bad usage, bad policy, or a credential name the policy does not have.
pub const USAGE: u8 = 2;

/// An error that means bad usage or bad input: exit 2, not 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// `SUCCESS` or `FAILURE`.
pub fn from_success(ok: bool) -> ExitCode {
    ExitCode::from(if ok { SUCCESS } else { FAILURE })
}
