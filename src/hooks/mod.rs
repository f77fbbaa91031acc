//! Consumer hooks: the `on_rotate` and `on_failure` commands of a credential.
//!
//! A hook is an argv run without a shell ([`process`]), with stdin
//! `/dev/null`, rekeyd's environment minus its AWS identity plus the
//! `REKEYD_*` variables of [`Context`] ([`env`]), in its own process group,
//! stopped at its timeout. A failed run is logged with its output's tail,
//! counted (`rekeyd_hook_runs_total`) and retried [`RETRIES`] times after
//! growing delays. An `on_rotate` still owed is recorded in the state
//! directory ([`pending`]) until it succeeds; the daemon runs it again after
//! [`owed_retry_delay`].

mod env;
mod pending;
mod process;

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{error, info, warn};

pub use pending::{PendingError, PendingHook, PendingHooks};

/// Retries after a failed run (so at most `1 + RETRIES` runs).
pub const RETRIES: u32 = 3;

/// The delays before the retries, times [`retry_base`]: 1s, 5s, 25s by default.
const BACKOFF: [u32; RETRIES as usize] = [1, 5, 25];

/// Which hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    OnRotate,
    OnFailure,
}

impl Hook {
    /// The policy key, and the metric's `hook` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Hook::OnRotate => "on_rotate",
            Hook::OnFailure => "on_failure",
        }
    }
}

/// `REKEYD_EVENT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Rotated,
    Failed,
    InDoubt,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Rotated => "rotated",
            Event::Failed => "failed",
            Event::InDoubt => "in-doubt",
        }
    }
}

/// What a hook is told, as `REKEYD_*` variables: names, ids and times,
/// never a secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub event: Event,
    pub credential: String,
    pub kind: String,
    /// The secret's name.
    pub secret: String,
    pub secret_arn: Option<String>,
    pub version_id: Option<String>,
    pub rotated_at: Option<DateTime<Utc>>,
    /// When the new secret stops working by itself (IVS tokens, API keys).
    pub expires_at: Option<DateTime<Utc>>,
    /// Failures: what went wrong, on one line.
    pub error: Option<String>,
}

impl Context {
    /// Every variable a hook may be given (an inherited one is dropped).
    pub const NAMES: [&'static str; 11] = [
        "REKEYD_HOOK",
        "REKEYD_ATTEMPT",
        "REKEYD_EVENT",
        "REKEYD_CREDENTIAL",
        "REKEYD_KIND",
        "REKEYD_SECRET",
        "REKEYD_SECRET_ARN",
        "REKEYD_VERSION_ID",
        "REKEYD_ROTATED_AT",
        "REKEYD_EXPIRES_AT",
        "REKEYD_ERROR",
    ];

    /// The variables of run number `attempt` (from 1); unknown values are unset.
    fn vars(&self, hook: Hook, attempt: u32) -> Vec<(&'static str, String)> {
        let time = |t: &Option<DateTime<Utc>>| t.map(crate::record::format_time);
        let all = [
            ("REKEYD_HOOK", Some(hook.as_str().to_owned())),
            ("REKEYD_ATTEMPT", Some(attempt.to_string())),
            ("REKEYD_EVENT", Some(self.event.as_str().to_owned())),
            ("REKEYD_CREDENTIAL", Some(self.credential.clone())),
            ("REKEYD_KIND", Some(self.kind.clone())),
            ("REKEYD_SECRET", Some(self.secret.clone())),
            ("REKEYD_SECRET_ARN", self.secret_arn.clone()),
            ("REKEYD_VERSION_ID", self.version_id.clone()),
            ("REKEYD_ROTATED_AT", time(&self.rotated_at)),
            ("REKEYD_EXPIRES_AT", time(&self.expires_at)),
            ("REKEYD_ERROR", self.error.as_deref().map(one_line)),
        ];
        all.into_iter()
            .filter_map(|(name, value)| Some((name, value?)))
            .collect()
    }
}

/// An error as one line of at most 1000 characters (for `REKEYD_ERROR`).
fn one_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    joined.chars().take(1000).collect()
}

/// How a hook's runs ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookResult {
    Succeeded {
        attempts: u32,
    },
    /// Every run failed; `last` says how the last one ended.
    Failed {
        attempts: u32,
        last: String,
    },
}

impl HookResult {
    pub fn succeeded(&self) -> bool {
        matches!(self, HookResult::Succeeded { .. })
    }

    /// `ok` or `failed` (the `hook=` of a `rotate` line).
    pub fn label(&self) -> &'static str {
        match self {
            HookResult::Succeeded { .. } => "ok",
            HookResult::Failed { .. } => "failed",
        }
    }
}

/// Runs `hook` (`argv`, each run at most `timeout`) about `context` until a
/// run succeeds or [`RETRIES`] retries failed too.
pub async fn run(hook: Hook, argv: &[String], timeout: Duration, context: &Context) -> HookResult {
    let name = hook.as_str();
    let mut attempt = 1;
    loop {
        let env = env::environment(context.vars(hook, attempt));
        let run = process::run(argv, env, timeout).await;
        crate::metrics::registry().hook_run(name, run.ended.label());
        if matches!(run.ended, process::Ended::Succeeded) {
            info!(credential = %context.credential, hook = name, program = %argv[0], attempt, event = context.event.as_str(), "hook succeeded");
            return HookResult::Succeeded { attempts: attempt };
        }
        let how = run.ended.to_string();
        if attempt > RETRIES {
            error!(credential = %context.credential, hook = name, program = %argv[0], attempt, outcome = %how, stderr_tail = %run.stderr, stdout_tail = %run.stdout, "hook failed, no retries left");
            return HookResult::Failed {
                attempts: attempt,
                last: how,
            };
        }
        let delay = retry_base() * BACKOFF[(attempt - 1) as usize];
        warn!(credential = %context.credential, hook = name, program = %argv[0], attempt, outcome = %how, stderr_tail = %run.stderr, stdout_tail = %run.stdout, retry_in = %humantime::format_duration(delay), "hook failed, retrying");
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

/// How long the daemon waits before running an owed `on_rotate` again after
/// `cycles` cycles (each [`run`] with its retries) failed in a row: 5
/// minutes doubling to at most an hour, times [`retry_base`] (in seconds).
pub fn owed_retry_delay(cycles: u32) -> Duration {
    let base = retry_base();
    let first = base.saturating_mul(300);
    let doubled = first.saturating_mul(1 << cycles.saturating_sub(1).min(8));
    doubled.min(base.saturating_mul(3600))
}

/// The unit of the retry delays: `REKEYD_HOOK_RETRY_BASE` (humantime, up
/// to 1 minute; for tests that cannot wait 31 seconds, or 5 minutes for an
/// owed hook), else 1 second.
fn retry_base() -> Duration {
    static BASE: OnceLock<Duration> = OnceLock::new();
    *BASE.get_or_init(|| {
        std::env::var("REKEYD_HOOK_RETRY_BASE")
            .ok()
            .and_then(|text| humantime::parse_duration(&text).ok())
            .filter(|base| *base <= Duration::from_secs(60))
            .unwrap_or(Duration::from_secs(1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owed_hook_waits_longer_each_cycle_up_to_an_hour() {
        // The unit is 1s unless a test process set REKEYD_HOOK_RETRY_BASE.
        let unit = retry_base();
        let delays: Vec<Duration> = (1..=8).map(owed_retry_delay).collect();
        assert_eq!(delays[0], unit * 300);
        assert_eq!(delays[1], unit * 600);
        assert!(delays.windows(2).all(|w| w[0] <= w[1]), "{delays:?}");
        assert_eq!(delays[7], unit * 3600);
        assert_eq!(owed_retry_delay(u32::MAX), unit * 3600);
    }

    #[test]
    fn a_context_sets_only_what_it_knows_and_errors_on_one_line() {
        let context = Context {
            event: Event::Failed,
            credential: "support-bot".into(),
            kind: "chime_bot".into(),
            secret: "rekeyd/support-bot".into(),
            secret_arn: None,
            version_id: None,
            rotated_at: None,
            expires_at: None,
            error: Some("chime RegenerateSecurityToken failed:\n  NotFound".into()),
        };
        let vars = context.vars(Hook::OnFailure, 2);
        let names: Vec<&str> = vars.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "REKEYD_HOOK",
                "REKEYD_ATTEMPT",
                "REKEYD_EVENT",
                "REKEYD_CREDENTIAL",
                "REKEYD_KIND",
                "REKEYD_SECRET",
                "REKEYD_ERROR"
            ]
        );
        assert_eq!(
            vars.last().unwrap().1,
            "chime RegenerateSecurityToken failed: NotFound"
        );
        assert!(names.iter().all(|n| Context::NAMES.contains(n)));
    }
}
