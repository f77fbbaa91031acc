//! The command line: global flags and one subcommand per job.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Where the policy is read from when neither `--config` nor `REKEYD_CONFIG` is set.
pub const DEFAULT_CONFIG: &str = "/etc/rekeyd/policy.toml";

/// Credential-rotation daemon for AWS: rotates Amazon Chime bot tokens, IAM
/// service-specific credentials and Amazon IVS participant tokens, and stores
/// every new secret in AWS Secrets Manager.
#[derive(Debug, Parser)]
#[command(name = "rekeyd", version, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 success; 1 a rotation failed or an audit found something; \
                        2 bad usage, bad policy, or an unknown credential name."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Policy file.
    #[arg(long, global = true, env = "REKEYD_CONFIG", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Log format on stderr (default: text on a terminal, json otherwise).
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// More log output (-v debug, -vv trace). RUST_LOG wins when set.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Less log output (-q warnings and errors, -qq errors only).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub quiet: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the rotation schedule until SIGTERM or SIGINT.
    Daemon(DaemonArgs),
    /// Rotate credentials now and print one line per credential.
    Rotate(RotateArgs),
    /// Audit every credential's secret, read-only (exit 1 on findings).
    Audit(AuditArgs),
    /// Validate the policy and exit (`--online`: also confirm each resource exists).
    Check(CheckArgs),
    /// Show every credential's next rotation time and why.
    Plan(PlanArgs),
    /// Print a commented example policy.
    ExamplePolicy,
    /// Serve the bundled AWS emulator (IAM, Chime, IVS real-time, Secrets Manager, DynamoDB, in memory).
    Emulator(EmulatorArgs),
    /// Try rekeyd with no AWS account: emulator, daemon and a short schedule.
    Demo(DemoArgs),
    /// Print the man page (roff) or a shell completion script.
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Run even as root (uid 0). Without it the daemon refuses: it needs no
    /// privilege beyond reading its policy and writing its state directory.
    #[arg(long, env = "REKEYD_ALLOW_ROOT", value_parser = clap::builder::FalseyValueParser::new())]
    pub allow_root: bool,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["names", "all"]))]
pub struct RotateArgs {
    /// Credential names from the policy.
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
    /// Every credential in the policy.
    #[arg(long, conflicts_with = "names")]
    pub all: bool,
    /// Validate and show what would be called (and which hooks would run); change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not run the on_rotate and on_failure hooks (an IAM overlap
    /// credential is then retired without waiting for on_rotate).
    #[arg(long)]
    pub no_hooks: bool,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Output format (default: a table).
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Ask no provider (Chime, IAM, IVS): read Secrets Manager only.
    #[arg(long)]
    pub offline: bool,
    /// Unmanaged secrets (tagged rekeyd:credential, in no policy) fail the run too.
    #[arg(long)]
    pub strict: bool,
    /// Statuses that fail the run (default: all but ok and unmanaged).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "STATUS,...")]
    pub fail_on: Vec<crate::audit::status::Status>,
    /// Time past a scheduled rotation, beyond its jitter, before it is overdue.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_duration)]
    pub grace: Duration,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Also confirm, read-only, that each bot, IAM credential, stage and secret exists.
    #[arg(long)]
    pub online: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

/// A report as a table for people or JSON for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:4566")]
    pub listen: SocketAddr,
    /// JSON file of resources to create at start (see the emulator's README).
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
    /// Throttle a service (iam, chime, ivs-realtime, secretsmanager) or one
    /// operation (chime:GetBot) above RATE requests per second, with bursts of
    /// BURST (default: RATE), as AWS quotas do. Repeatable.
    #[arg(long, value_name = "KEY=RATE[/BURST]", value_parser = parse_quota)]
    pub quota: Vec<(String, rekeyd_emulator::Quota)>,
}

/// `KEY=RATE` or `KEY=RATE/BURST`; the emulator checks the key and values.
fn parse_quota(text: &str) -> Result<(String, rekeyd_emulator::Quota), String> {
    let usage = || format!("{text:?}: expected KEY=RATE or KEY=RATE/BURST, e.g. secretsmanager=50");
    let (key, value) = text.split_once('=').ok_or_else(usage)?;
    let number = |n: &str| n.trim().parse::<f64>().map_err(|_| usage());
    let quota = match value.split_once('/') {
        Some((rate, burst)) => {
            rekeyd_emulator::Quota::per_second(number(rate)?).burst(number(burst)?)
        }
        None => rekeyd_emulator::Quota::per_second(number(value)?),
    };
    Ok((key.trim().to_owned(), quota))
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Stop after this long (e.g. 30s); default: until Ctrl-C.
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub run_for: Option<Duration>,
    /// Run this many daemon replicas (1-9) sharing the work through DynamoDB
    /// leases; part-way through, the busiest is killed and the others take over.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=9))]
    pub replicas: u8,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// What to print: the man page, or the completion script for a shell.
    #[arg(value_enum)]
    pub what: Generated,
}

/// The files `generate` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generated {
    /// rekeyd(1), every command and flag (`rekeyd generate man | man -l -`).
    Man,
    /// Bash completion (/usr/share/bash-completion/completions/rekeyd).
    Bash,
    /// Zsh completion (/usr/share/zsh/vendor-completions/_rekeyd).
    Zsh,
    /// Fish completion (/usr/share/fish/vendor_completions.d/rekeyd.fish).
    Fish,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e} (try 30s, 2m)"))
}
