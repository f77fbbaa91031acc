//! rekeyd(1): one man page for every command, its synopsis and flags
//! generated from the clap definitions, and the sections clap cannot know
//! (exit status, environment, files) written here.

use std::io::{self, Write};

use clap::CommandFactory;
use clap_mangen::Man;
use roff::{Roff, bold, italic, roman};

use crate::cli::{Cli, DEFAULT_CONFIG};
use crate::journal::DEFAULT_STATE_DIR;

/// Writes the whole page (roff) to `out`.
pub fn write(out: &mut dyn Write) -> io::Result<()> {
    let mut cli = Cli::command().subcommand_value_name("COMMAND");
    cli.build();
    let man = Man::new(cli.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    out.write_all(body(&description().render()).as_bytes())?;
    man.render_options_section(out)?;
    out.write_all(commands(&cli)?.as_bytes())?;
    let mut roff = Roff::new();
    exit_status(&mut roff);
    environment(&mut roff);
    files(&mut roff);
    see_also(&mut roff);
    out.write_all(body(&roff.render()).as_bytes())?;
    man.render_version_section(out)
}

/// DESCRIPTION: what the commands are for, and the promise about secrets.
fn description() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["DESCRIPTION"])
        .text([roman(
            "rekeyd rotates Amazon Chime bot security tokens, IAM service-specific credentials \
             and Amazon IVS real-time participant tokens, and writes every new secret to AWS \
             Secrets Manager as a JSON document. The policy (TOML, see FILES) says what to \
             rotate, when, and under which secret name.",
        )])
        .control("PP", [])
        .text([
            bold("rekeyd daemon"),
            roman(
                " runs the schedule, normally as rekeyd.service under systemd. The one-shot \
                 commands rotate, audit, check and plan read the same policy; audit and plan \
                 change nothing. A secret a provider has returned reaches Secrets Manager, or \
                 the rotation is recorded in the state directory as in doubt and done again at \
                 the next start. Secret values are never written to local disk or logged, and \
                 the process cannot be dumped (no core file, no ptrace or /proc/PID/mem access \
                 by other processes of its user).",
            ),
        ]);
    roff
}

/// A COMMANDS section: each subcommand's synopsis, description and flags
/// under its own heading. The global flags, which clap copies into every
/// subcommand, are shown once, under OPTIONS.
fn commands(cli: &clap::Command) -> io::Result<String> {
    // The global flags, and --help/--version, which every subcommand has.
    let shown_once: Vec<_> = cli
        .get_arguments()
        .filter(|arg| arg.is_global_set() || ["help", "version"].contains(&arg.get_id().as_str()))
        .map(|arg| arg.get_id().clone())
        .collect();
    let mut text = body(&Roff::new().control("SH", ["COMMANDS"]).render());
    let subcommands = cli
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set() && sub.get_name() != "help");
    for sub in subcommands {
        let sub = shown_once
            .iter()
            .filter(|id| sub.get_arguments().any(|arg| arg.get_id() == *id))
            .fold(sub.clone(), |sub, id| sub.mut_arg(id, |arg| arg.hide(true)));
        let name = sub.get_bin_name().unwrap_or(sub.get_name()).to_owned();
        let man = Man::new(sub);
        text += &body(&Roff::new().control("SS", [name.as_str()]).render());
        for render in [
            Man::render_synopsis_section,
            Man::render_description_section,
            Man::render_options_section,
        ] {
            let mut section = Vec::new();
            render(&man, &mut section)?;
            text += &without_heading(&body(&String::from_utf8_lossy(&section)));
            text += ".PP\n";
        }
    }
    Ok(text)
}

/// EXIT STATUS, as `crate::exit` defines it.
fn exit_status(roff: &mut Roff) {
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in [
        (
            crate::exit::SUCCESS,
            "Success, a rotate --dry-run included; audit: every credential is ok.",
        ),
        (
            crate::exit::FAILURE,
            "A rotation failed or is in doubt, or an audit found something (missing, overdue, \
             expiring, expired, drift, error). Also any other runtime failure.",
        ),
        (
            crate::exit::USAGE,
            "Bad usage, a bad or unreadable policy, or a credential name the policy does not have. \
             A restart cannot fix it (rekeyd.service does not restart on it).",
        ),
    ] {
        roff.control("TP", [])
            .text([bold(code.to_string())])
            .text([roman(meaning)]);
    }
}

/// ENVIRONMENT: every variable rekeyd reads.
fn environment(roff: &mut Roff) {
    roff.control("SH", ["ENVIRONMENT"]);
    let variables: [(&str, &str); 15] = [
        (
            "REKEYD_CONFIG",
            "The policy file, as --config (which wins).",
        ),
        (
            "REKEYD_ALLOW_ROOT",
            "Set to 1 (or true) to let the daemon run as uid 0, as --allow-root.",
        ),
        (
            "RUST_LOG",
            "Log filter (tracing-subscriber EnvFilter syntax, e.g. rekeyd=debug); wins over -v and -q.",
        ),
        (
            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN",
            "Static credentials, first in the standard AWS credential chain. Without them the \
             chain goes on to AWS_PROFILE, web identity (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN), \
             the ECS container credentials and the EC2 instance metadata service.",
        ),
        (
            "AWS_REGION, AWS_DEFAULT_REGION",
            "The region, unless the policy's [aws] region sets one.",
        ),
        (
            "AWS_PROFILE, AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE",
            "A named profile and the files it is read from (default ~/.aws/config and \
             ~/.aws/credentials); [aws] profile in the policy wins.",
        ),
        (
            "AWS_EC2_METADATA_DISABLED",
            "true: never ask the instance metadata service for credentials or the region.",
        ),
        (
            "AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>",
            "Endpoint for every service, or for one (AWS_ENDPOINT_URL_IAM, AWS_ENDPOINT_URL_CHIME, \
             AWS_ENDPOINT_URL_IVS_REALTIME, AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL_STS, \
             AWS_ENDPOINT_URL_DYNAMODB), as in every AWS SDK; the policy's [aws] endpoint_url and \
             [aws.endpoints] win.",
        ),
        (
            "STATE_DIRECTORY",
            "Set by systemd (StateDirectory=): the state directory, unless the policy's [daemon] \
             state_dir sets one. Only the first of a colon-separated list is used.",
        ),
        (
            "XDG_STATE_HOME, HOME",
            "When neither the policy nor STATE_DIRECTORY names a state directory and the default \
             is not writable: $XDG_STATE_HOME/rekeyd, else ~/.local/state/rekeyd.",
        ),
        (
            "NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID",
            "Set by systemd (Type=notify, WatchdogSec=): the daemon sends READY, RELOADING, \
             STOPPING and WATCHDOG notifications.",
        ),
        (
            "JOURNAL_STREAM",
            "Set by systemd when stderr is the journal: each log line carries its syslog priority.",
        ),
        (
            "NO_COLOR",
            "Set: no colour in audit tables and demo output, even on a terminal.",
        ),
        (
            "REKEYD_HOOK_RETRY_BASE",
            "The unit of the delays before an on_rotate or on_failure hook is retried (1s, 5s \
             and 25s times it; default 1s, at most 1m): for tests. Hooks get REKEYD_EVENT, \
             REKEYD_CREDENTIAL, REKEYD_SECRET and the others README.md lists, and no AWS_* \
             variable but the region and endpoint ones.",
        ),
        (
            "PATH",
            "Where a hook whose program is a bare name (not an absolute path) is looked up, \
             when the hook runs and when the policy is checked.",
        ),
    ];
    for (names, meaning) in variables {
        roff.control("TP", []);
        let mut header = Vec::new();
        for (i, name) in names.split(", ").enumerate() {
            if i > 0 {
                header.push(roman(", "));
            }
            header.push(bold(name));
        }
        roff.text(header).text([roman(meaning)]);
    }
}

/// FILES: the policy, the state directory and the systemd units.
fn files(roff: &mut Roff) {
    roff.control("SH", ["FILES"]);
    let state_dir = format!("{DEFAULT_STATE_DIR}/");
    let entries = [
        (
            DEFAULT_CONFIG,
            "The policy (TOML): what to rotate, when, and where each secret goes. Owned by root, \
             group rekeyd, mode 0640; rekeyd warns when it is group- or world-writable. \
             `rekeyd example-policy` prints a commented one.",
        ),
        (
            "/etc/rekeyd/env",
            "Optional environment file the units read (AWS_* lines), root:root 0600.",
        ),
        (
            state_dir.as_str(),
            "The state directory (StateDirectory=rekeyd, mode 0700): the journal of rotations in \
             doubt, pending retirements of old IAM credentials and on_rotate hooks still owed \
             (hooks/), never a secret. Kept when the package is purged.",
        ),
        (
            "/usr/lib/systemd/system/rekeyd.service",
            "The daemon (Type=notify; systemctl reload sends SIGHUP, which re-reads the policy).",
        ),
        (
            "/usr/lib/systemd/system/rekeyd-rotate@.service",
            "rekeyd rotate NAME once: systemctl start rekeyd-rotate@NAME.",
        ),
        (
            "/usr/lib/systemd/system/rekeyd-audit.service, /usr/lib/systemd/system/rekeyd-audit.timer",
            "A daily read-only audit: systemctl enable --now rekeyd-audit.timer.",
        ),
        (
            "/usr/lib/sysusers.d/rekeyd.conf, /usr/lib/tmpfiles.d/rekeyd.conf",
            "The rekeyd system user, and /etc/rekeyd and /var/lib/rekeyd.",
        ),
        (
            "/usr/share/doc/rekeyd/examples/policy.toml",
            "The example policy.",
        ),
    ];
    for (path, meaning) in entries {
        roff.control("TP", []);
        let mut header = Vec::new();
        for (i, path) in path.split(", ").enumerate() {
            if i > 0 {
                header.push(roman(", "));
            }
            header.push(italic(path));
        }
        roff.text(header).text([roman(meaning)]);
    }
}

fn see_also(roff: &mut Roff) {
    roff.control("SH", ["SEE ALSO"]).text([
        bold("systemctl"),
        roman("(1), "),
        bold("journalctl"),
        roman("(1), "),
        bold("systemd.exec"),
        roman("(5), "),
        bold("aws"),
        roman("(1); the README in /usr/share/doc/rekeyd."),
    ]);
}

/// `roff` without the apostrophe preamble every render starts with (the
/// page keeps the title's one).
fn body(roff: &str) -> String {
    roff.lines()
        .filter(|line| !line.starts_with(".ie \\n(.g .ds Aq") && !line.starts_with(".el .ds Aq"))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// A rendered section without its `.SH` line (it goes under an `.SS`).
fn without_heading(section: &str) -> String {
    section
        .lines()
        .filter(|line| !line.starts_with(".SH "))
        .map(|line| format!("{line}\n"))
        .collect()
}
