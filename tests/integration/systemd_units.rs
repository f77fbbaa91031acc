//! The unit files in `systemd/`: `systemd-analyze verify` accepts each one,
//! `systemd-analyze security --offline=yes` rates each service 2.0 or lower,
//! and they say what the daemon relies on (notify, reload, watchdog, restart,
//! state and configuration directories). The `systemd-analyze` tests print a
//! note and pass where it is not installed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The path the shipped units run rekeyd from.
pub const INSTALLED_BINARY: &str = "/usr/bin/rekeyd";

/// Every file in `systemd/`.
pub const UNITS: [&str; 4] = [
    "rekeyd.service",
    "rekeyd-rotate@.service",
    "rekeyd-audit.service",
    "rekeyd-audit.timer",
];

/// The services as `systemd-analyze` is given them: the template through an
/// instance, as systemd only ever runs instances.
pub const SERVICES: [&str; 3] = [
    "rekeyd.service",
    "rekeyd-rotate@support-bot.service",
    "rekeyd-audit.service",
];

/// The highest acceptable overall exposure score.
pub const MAX_EXPOSURE: f64 = 2.0;

/// The daemon's default `[daemon] shutdown_timeout`.
const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// The sandboxing settings; the three services must agree on every one.
const SANDBOX_KEYS: [&str; 35] = [
    "ProtectSystem",
    "ProtectHome",
    "PrivateTmp",
    "PrivateDevices",
    "DevicePolicy",
    "PrivateUsers",
    "PrivateIPC",
    "PrivateMounts",
    "ProtectHostname",
    "ProtectClock",
    "ProtectKernelTunables",
    "ProtectKernelModules",
    "ProtectKernelLogs",
    "ProtectControlGroups",
    "ProtectProc",
    "ProcSubset",
    "NoNewPrivileges",
    "CapabilityBoundingSet",
    "AmbientCapabilities",
    "RestrictSUIDSGID",
    "RemoveIPC",
    "RestrictNamespaces",
    "RestrictRealtime",
    "LockPersonality",
    "MemoryDenyWriteExecute",
    "KeyringMode",
    "RestrictAddressFamilies",
    "SystemCallArchitectures",
    "SystemCallFilter",
    "SystemCallErrorNumber",
    "User",
    "Group",
    "UMask",
    "LimitCORE",
    "MemorySwapMax",
];

/// A unit file as `[section]` → key → every value given, in order.
struct Unit {
    name: &'static str,
    sections: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

impl Unit {
    fn load(name: &'static str) -> Unit {
        let path = units_dir().join(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut sections: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
        let mut section = String::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            assert!(
                !line.ends_with('\\'),
                "{name}:{}: keep each setting on one line",
                number + 1
            );
            if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = header.to_owned();
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("{name}:{}: not key=value: {line}", number + 1));
            sections
                .entry(section.clone())
                .or_default()
                .entry(key.trim().to_owned())
                .or_default()
                .push(value.trim().to_owned());
        }
        Unit { name, sections }
    }

    /// Every value of `key` in `[section]`.
    fn values(&self, section: &str, key: &str) -> &[String] {
        self.sections
            .get(section)
            .and_then(|keys| keys.get(key))
            .map_or(&[], Vec::as_slice)
    }

    /// The value of `key` in `[section]` (the last one, as systemd reads it).
    fn value(&self, section: &str, key: &str) -> &str {
        self.values(section, key)
            .last()
            .unwrap_or_else(|| panic!("{}: [{section}] has no {key}=", self.name))
    }

    /// The duration `key` in `[section]` is set to.
    fn duration(&self, section: &str, key: &str) -> Duration {
        let value = self.value(section, key);
        humantime::parse_duration(value)
            .unwrap_or_else(|e| panic!("{}: {key}={value}: {e}", self.name))
    }
}

pub fn units_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd")
}

/// `systemd-analyze` from `PATH`, or `None` after a note saying the test is
/// skipped.
pub fn systemd_analyze(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("systemd-analyze"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        eprintln!("note: {test}: skipped, systemd-analyze is not on PATH");
    }
    found
}

/// Runs `systemd-analyze ARGS...` without colours or a pager.
fn run_analyze(analyze: &Path, args: &[&str]) -> std::process::Output {
    Command::new(analyze)
        .args(args)
        .env("SYSTEMD_COLORS", "0")
        .env("SYSTEMD_PAGER", "")
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", analyze.display()))
}

/// The units copied to a temporary directory with [`INSTALLED_BINARY`]
/// replaced by the binary cargo built, since `verify` checks that every
/// `ExecStart=` program exists.
fn installed_copy() -> tempfile::TempDir {
    copy_running(&units_dir(), env!("CARGO_BIN_EXE_rekeyd"))
}

/// The [`UNITS`] in `from` copied to a temporary directory, each service's
/// [`INSTALLED_BINARY`] replaced by `binary`.
pub fn copy_running(from: &Path, binary: &str) -> tempfile::TempDir {
    assert!(
        !binary.contains(char::is_whitespace),
        "the test binary path has whitespace: {binary}"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    for name in UNITS {
        let text = std::fs::read_to_string(from.join(name)).unwrap();
        if name.ends_with(".service") {
            assert!(
                text.contains(&format!("ExecStart={INSTALLED_BINARY} ")),
                "{name} does not run {INSTALLED_BINARY}"
            );
        }
        std::fs::write(
            dir.path().join(name),
            text.replace(INSTALLED_BINARY, binary),
        )
        .unwrap();
    }
    dir
}

/// What `systemd-analyze verify` has to say about `unit`: a failed exit, and
/// every message naming a rekeyd unit (unknown keys and unparsable values are
/// only warnings, with exit 0). Messages about the host's own units are not
/// ours to fix and are left out. `verify` also looks up each
/// `Documentation=man:` page: in `man_dir` (a MANPATH) when given, else not
/// at all (rekeyd(1) is installed by the package, not on the test host).
pub fn verify_problems(analyze: &Path, unit: &Path, man_dir: Option<&Path>) -> Vec<String> {
    let unit = unit.to_str().unwrap();
    let out = match man_dir {
        Some(dir) => Command::new(analyze)
            .args(["verify", unit])
            .env("MANPATH", dir)
            .env("SYSTEMD_COLORS", "0")
            .env("SYSTEMD_PAGER", "")
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", analyze.display())),
        None => run_analyze(analyze, &["verify", "--man=no", unit]),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut problems: Vec<String> = stderr
        .lines()
        .filter(|line| line.contains("rekeyd"))
        .map(str::to_owned)
        .collect();
    if !out.status.success() {
        problems.push(format!("verify exited with {}:\n{stderr}", out.status));
    }
    problems
}

/// The overall exposure score `systemd-analyze security --offline=yes` gives
/// `unit`, and its full report.
pub fn exposure(analyze: &Path, unit: &Path) -> (f64, String) {
    let out = run_analyze(
        analyze,
        &[
            "security",
            "--offline=yes",
            "--no-pager",
            unit.to_str().unwrap(),
        ],
    );
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let score = report
        .lines()
        .find(|line| line.contains("Overall exposure level for"))
        .and_then(|line| line.rsplit_once(": "))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|number| number.parse::<f64>().ok())
        .unwrap_or_else(|| {
            panic!(
                "no overall exposure score for {} ({}):\n{report}\n{stderr}",
                unit.display(),
                out.status
            )
        });
    (score, report)
}

#[test]
fn every_unit_passes_systemd_analyze_verify() {
    let Some(analyze) = systemd_analyze("every_unit_passes_systemd_analyze_verify") else {
        return;
    };
    let dir = installed_copy();
    let mut checked: Vec<&str> = SERVICES.to_vec();
    checked.push("rekeyd-audit.timer");
    for unit in checked {
        let problems = verify_problems(&analyze, &dir.path().join(unit), None);
        assert!(
            problems.is_empty(),
            "systemd-analyze verify {unit}:\n{}",
            problems.join("\n")
        );
    }
}

#[test]
fn verify_catches_a_misspelt_key_and_a_bad_value() {
    let Some(analyze) = systemd_analyze("verify_catches_a_misspelt_key_and_a_bad_value") else {
        return;
    };
    let dir = installed_copy();
    let path = dir.path().join("rekeyd.service");
    let text = std::fs::read_to_string(&path).unwrap();
    let broken = text
        .replace("WatchdogSec=", "WatchdogSecs=")
        .replace("Restart=on-failure", "Restart=on-failur");
    std::fs::write(&path, broken).unwrap();
    let problems = verify_problems(&analyze, &path, None).join("\n");
    assert!(problems.contains("WatchdogSecs"), "{problems}");
    assert!(problems.contains("on-failur"), "{problems}");
}

#[test]
fn every_service_has_an_exposure_score_of_2_or_lower() {
    let Some(analyze) = systemd_analyze("every_service_has_an_exposure_score_of_2_or_lower") else {
        return;
    };
    let dir = installed_copy();
    for unit in SERVICES {
        let (score, report) = exposure(&analyze, &dir.path().join(unit));
        eprintln!("{unit}: overall exposure {score:.1}");
        assert!(
            score <= MAX_EXPOSURE,
            "{unit} scores {score}, above {MAX_EXPOSURE}:\n{report}"
        );
    }
}

#[test]
fn the_daemon_unit_has_what_the_daemon_relies_on() {
    let unit = Unit::load("rekeyd.service");
    let service = |key| unit.value("Service", key);
    assert_eq!(service("Type"), "notify");
    assert_eq!(service("NotifyAccess"), "main");
    assert_eq!(service("ExecStart"), format!("{INSTALLED_BINARY} daemon"));
    assert_eq!(service("ExecReload"), "/bin/kill -HUP $MAINPID");
    assert_eq!(service("Restart"), "on-failure");
    assert_eq!(service("StateDirectory"), "rekeyd");
    assert_eq!(service("StateDirectoryMode"), "0700");
    assert_eq!(service("ConfigurationDirectory"), "rekeyd");
    assert_eq!(service("User"), "rekeyd");
    let watchdog = unit.duration("Service", "WatchdogSec");
    assert!(
        watchdog >= Duration::from_secs(10),
        "WatchdogSec={watchdog:?} leaves the daemon too little room"
    );
    let stop = unit.duration("Service", "TimeoutStopSec");
    assert!(
        stop > DEFAULT_SHUTDOWN_TIMEOUT,
        "TimeoutStopSec={stop:?} would SIGKILL rotations the daemon may still finish"
    );
    assert_eq!(unit.value("Install", "WantedBy"), "multi-user.target");
}

#[test]
fn rotate_and_audit_units_run_their_command_once() {
    let rotate = Unit::load("rekeyd-rotate@.service");
    assert_eq!(rotate.value("Service", "Type"), "oneshot");
    assert_eq!(
        rotate.value("Service", "ExecStart"),
        format!("{INSTALLED_BINARY} rotate %i")
    );
    assert_eq!(rotate.value("Service", "StateDirectory"), "rekeyd");

    let audit = Unit::load("rekeyd-audit.service");
    assert_eq!(audit.value("Service", "Type"), "oneshot");
    assert_eq!(
        audit.value("Service", "ExecStart"),
        format!("{INSTALLED_BINARY} audit")
    );
    let text = std::fs::read_to_string(units_dir().join("rekeyd-audit.service")).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("#OnFailure=rekeyd-audit-alert@%n.service")),
        "rekeyd-audit.service lost its documented OnFailure= hook"
    );

    let timer = Unit::load("rekeyd-audit.timer");
    assert_eq!(timer.value("Timer", "OnCalendar"), "daily");
    assert_eq!(timer.value("Timer", "Persistent"), "true");
    assert!(timer.duration("Timer", "RandomizedDelaySec") > Duration::ZERO);
    assert_eq!(timer.value("Install", "WantedBy"), "timers.target");
}

#[test]
fn no_service_may_dump_core_or_swap() {
    for name in UNITS.iter().filter(|name| name.ends_with(".service")) {
        let unit = Unit::load(name);
        assert_eq!(unit.value("Service", "LimitCORE"), "0", "{name}");
        assert_eq!(unit.value("Service", "MemorySwapMax"), "0", "{name}");
    }
}

#[test]
fn the_three_services_share_one_sandbox() {
    let daemon = Unit::load("rekeyd.service");
    for name in ["rekeyd-rotate@.service", "rekeyd-audit.service"] {
        let other = Unit::load(name);
        for key in SANDBOX_KEYS {
            assert_eq!(
                other.values("Service", key),
                daemon.values("Service", key),
                "{name} and rekeyd.service differ on {key}="
            );
        }
    }
    for key in SANDBOX_KEYS {
        assert!(
            !daemon.values("Service", key).is_empty(),
            "rekeyd.service has no {key}="
        );
    }
}
