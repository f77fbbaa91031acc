//! Log setup: tracing to stderr, text on a terminal and JSON otherwise,
//! `-v`/`-q` for the level, `RUST_LOG` when set; under systemd's journal
//! each line starts with its syslog priority, so `journalctl -p err` works.

use std::fmt;
use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

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
    // systemd sets JOURNAL_STREAM when stderr goes to the journal.
    let journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let text = tracing_subscriber::fmt::format().with_target(false);
    let json = tracing_subscriber::fmt::format()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false);
    let _ = match (format, journal) {
        (LogFormat::Text, false) => builder.event_format(text).try_init(),
        (LogFormat::Text, true) => builder.event_format(SyslogPriority(text)).try_init(),
        (LogFormat::Json, false) => builder.json().event_format(json).try_init(),
        (LogFormat::Json, true) => builder.json().event_format(SyslogPriority(json)).try_init(),
    };
}

/// Prefixes each line with `<N>`, its syslog priority, which journald reads
/// as the entry's level (and strips).
struct SyslogPriority<F>(F);

impl<S, N, F> FormatEvent<S, N> for SyslogPriority<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "<{}>", priority(*event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

/// syslog priorities: err 3, warning 4, info 6, debug 7.
fn priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}
