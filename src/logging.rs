//! Log setup: tracing to stderr, text on a terminal and JSON otherwise,
//! `-v`/`-q` for the level, `RUST_LOG` when set.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::cli::{GlobalArgs, LogFormat};

/// Installs the global subscriber. Call once, before anything logs.
/// `quiet_by_default` starts at warnings (for commands whose stdout is the
/// show, like `demo`).
pub fn init(args: &GlobalArgs, quiet_by_default: bool) {
    let level = match (args.verbose, args.quiet) {
        (0, 0) if quiet_by_default => "warn",
        (0, 0) => "info",
        (1, _) => "debug",
        (v, _) if v >= 2 => "trace",
        (_, 1) => "warn",
        _ => "error",
    };
    // Our own crate at the chosen level; the SDK and HTTP stack stay at warn
    // unless RUST_LOG says otherwise.
    let default = format!("warn,rekeyd={level},rekeyd_emulator={level}");
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let format = args
        .log_format
        .unwrap_or(if std::io::stderr().is_terminal() {
            LogFormat::Text
        } else {
            LogFormat::Json
        });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
