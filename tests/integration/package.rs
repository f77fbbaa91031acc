//! `scripts/package`: the Debian package built from the binary the tests
//! use holds every file at its path and mode; its binary runs and checks
//! its example policy; its units pass `systemd-analyze`; lintian finds no
//! error; installed into a scratch root with `dpkg --root` it creates the
//! rekeyd user and directories and enables nothing, and purging it keeps
//! the state directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::systemd_units::{
    INSTALLED_BINARY, MAX_EXPOSURE, SERVICES, UNITS, copy_running, exposure, systemd_analyze,
    units_dir, verify_problems,
};
use crate::util::on_path;

/// Every regular file in the package, with its mode.
const FILES: [(&str, u32); 16] = [
    ("usr/bin/rekeyd", 0o755),
    ("usr/lib/systemd/system/rekeyd.service", 0o644),
    ("usr/lib/systemd/system/rekeyd-rotate@.service", 0o644),
    ("usr/lib/systemd/system/rekeyd-audit.service", 0o644),
    ("usr/lib/systemd/system/rekeyd-audit.timer", 0o644),
    ("usr/lib/sysusers.d/rekeyd.conf", 0o644),
    ("usr/lib/tmpfiles.d/rekeyd.conf", 0o644),
    ("usr/share/man/man1/rekeyd.1.gz", 0o644),
    ("usr/share/bash-completion/completions/rekeyd", 0o644),
    ("usr/share/zsh/vendor-completions/_rekeyd", 0o644),
    ("usr/share/fish/vendor_completions.d/rekeyd.fish", 0o644),
    ("usr/share/doc/rekeyd/examples/policy.toml", 0o644),
    ("usr/share/doc/rekeyd/README.md", 0o644),
    ("usr/share/doc/rekeyd/copyright", 0o644),
    ("usr/share/doc/rekeyd/changelog.Debian.gz", 0o644),
    ("usr/share/lintian/overrides/rekeyd", 0o644),
];

/// The package, built once for all the tests here (without lintian, which
/// its own test runs; gzip, not xz: seconds instead of a minute).
fn package() -> &'static Path {
    static DEB: OnceLock<PathBuf> = OnceLock::new();
    DEB.get_or_init(|| {
        let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("package");
        let _ = std::fs::remove_dir_all(&out_dir);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/package");
        let out = Command::new(script)
            .args([
                "--binary",
                env!("CARGO_BIN_EXE_rekeyd"),
                "--fast",
                "--no-lintian",
            ])
            .arg("--out")
            .arg(&out_dir)
            .output()
            .expect("run scripts/package");
        assert_success("scripts/package", &out);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let deb = PathBuf::from(stdout.lines().last().expect("the .deb's path").trim());
        assert!(deb.is_file(), "scripts/package printed {}", deb.display());
        deb
    })
}

#[track_caller]
fn assert_success(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `program ARGS...` and returns its stdout; it must succeed.
fn stdout_of(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> String {
    let program = program.as_ref();
    let out = Command::new(program)
        .args(args)
        .env_remove("REKEYD_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .unwrap_or_else(|e| panic!("run {program:?}: {e}"));
    assert_success(&format!("{program:?} {args:?}"), &out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The package's files unpacked into a temporary directory.
fn extracted() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    stdout_of("dpkg-deb", &["-x", package().to_str().unwrap(), root]);
    dir
}

/// A `drwxr-xr-x`-style mode as bits.
fn mode_bits(text: &str) -> u32 {
    text[1..]
        .chars()
        .fold(0, |bits, c| (bits << 1) | u32::from(c != '-'))
}

#[test]
fn the_package_holds_every_file_at_its_path_and_mode() {
    let listing = stdout_of("dpkg-deb", &["-c", package().to_str().unwrap()]);
    let mut files = BTreeMap::new();
    for line in listing.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [mode, owner, _size, _date, _time, path] = fields[..] else {
            panic!("unexpected dpkg-deb -c line (a link?): {line}");
        };
        assert_eq!(owner, "root/root", "{path} is not root's");
        let path = path.trim_start_matches("./").trim_end_matches('/');
        match mode.chars().next() {
            Some('d') => assert_eq!(mode_bits(mode), 0o755, "directory /{path}: {mode}"),
            Some('-') => {
                files.insert(path.to_owned(), mode_bits(mode));
            }
            _ => panic!("{path}: neither a file nor a directory: {line}"),
        }
    }
    let expected: BTreeMap<String, u32> = FILES
        .iter()
        .map(|(path, mode)| ((*path).to_owned(), *mode))
        .collect();
    assert_eq!(files, expected, "the package's files and modes");

    let field = |name: &str| stdout_of("dpkg-deb", &["-f", package().to_str().unwrap(), name]);
    assert_eq!(field("Package").trim(), "rekeyd");
    assert_eq!(
        field("Version").trim(),
        format!("{}-1", env!("CARGO_PKG_VERSION"))
    );
    assert!(
        field("Depends").contains("libc6 (>="),
        "{}",
        field("Depends")
    );
    let info = stdout_of("dpkg-deb", &["-I", package().to_str().unwrap()]);
    for script in ["postinst", "prerm", "postrm"] {
        assert!(info.contains(script), "no {script} in:\n{info}");
    }
}

#[test]
fn the_packaged_binary_runs_and_accepts_the_packaged_example_policy() {
    let root = extracted();
    let binary = root.path().join("usr/bin/rekeyd");
    let version = stdout_of(&binary, &["--version"]);
    assert_eq!(
        version.trim(),
        format!("rekeyd {}", env!("CARGO_PKG_VERSION"))
    );
    let example = root
        .path()
        .join("usr/share/doc/rekeyd/examples/policy.toml");
    let checked = stdout_of(&binary, &["check", "--config", example.to_str().unwrap()]);
    assert!(checked.contains(": ok,"), "check said: {checked}");

    // The generated files are the binary's own.
    let read = |path: &str| std::fs::read_to_string(root.path().join(path)).unwrap();
    assert_eq!(
        read("usr/share/bash-completion/completions/rekeyd"),
        crate::generate::generate("bash")
    );
    assert_eq!(
        read("usr/share/fish/vendor_completions.d/rekeyd.fish"),
        crate::generate::generate("fish")
    );
    let man = root.path().join("usr/share/man/man1/rekeyd.1.gz");
    assert_eq!(
        stdout_of("zcat", &[man.to_str().unwrap()]),
        crate::generate::generate("man")
    );
    // The units are the ones in systemd/, run from the packaged path.
    for unit in UNITS {
        assert_eq!(
            read(&format!("usr/lib/systemd/system/{unit}")),
            std::fs::read_to_string(units_dir().join(unit)).unwrap(),
            "{unit}"
        );
    }
    assert!(INSTALLED_BINARY.ends_with("/usr/bin/rekeyd"));
}

#[test]
fn the_packaged_units_pass_systemd_analyze() {
    let Some(analyze) = systemd_analyze("the_packaged_units_pass_systemd_analyze") else {
        return;
    };
    let root = extracted();
    let binary = root.path().join("usr/bin/rekeyd");
    let units = copy_running(
        &root.path().join("usr/lib/systemd/system"),
        binary.to_str().unwrap(),
    );
    for unit in SERVICES.iter().copied().chain(["rekeyd-audit.timer"]) {
        // Documentation=man:rekeyd(1) is looked up in the package's pages.
        let man_dir = root.path().join("usr/share/man");
        let problems = verify_problems(&analyze, &units.path().join(unit), Some(&man_dir));
        assert!(problems.is_empty(), "{unit}:\n{}", problems.join("\n"));
    }
    for unit in SERVICES {
        let (score, report) = exposure(&analyze, &units.path().join(unit));
        assert!(score <= MAX_EXPOSURE, "{unit} scores {score}:\n{report}");
    }
}

#[test]
fn lintian_finds_no_error_in_the_package() {
    let Some(lintian) = on_path("lintian", "lintian_finds_no_error_in_the_package") else {
        return;
    };
    let out = Command::new(lintian)
        .args(["--fail-on", "error"])
        .arg(package())
        .output()
        .expect("run lintian");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && !report.lines().any(|l| l.starts_with("E: ")),
        "lintian: {}\n{report}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_packaged_man_page_renders() {
    let Some(man) = on_path("man", "the_packaged_man_page_renders") else {
        return;
    };
    let root = extracted();
    let page = root.path().join("usr/share/man/man1/rekeyd.1.gz");
    let out = Command::new(man)
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("run man");
    assert_success("man -l rekeyd.1.gz", &out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("EXIT STATUS"), "{text}");
}

/// `dpkg --root=ROOT ARGS...` with the maintainer scripts run outside a
/// chroot (they honour `DPKG_ROOT`) and the host's libraries standing in
/// for the dependencies the scratch root lacks.
fn dpkg_in(root: &Path, args: &[&str]) -> Output {
    let out = Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args(["--force-script-chrootless", "--force-depends"])
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .expect("run dpkg");
    assert_success(&format!("dpkg {args:?}"), &out);
    out
}

#[test]
fn installing_creates_the_user_and_directories_and_purging_keeps_the_state() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || on_path("systemd-sysusers", "dpkg --root").is_none() {
        eprintln!("note: installing into a scratch root needs root and systemd-sysusers: skipped");
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    for dir in ["etc", "var/lib/dpkg/info", "var/lib/dpkg/updates"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    dpkg_in(root, &["--install", package().to_str().unwrap()]);

    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    let user = passwd
        .lines()
        .find(|line| line.starts_with("rekeyd:"))
        .unwrap_or_else(|| panic!("no rekeyd user in:\n{passwd}"));
    let fields: Vec<&str> = user.split(':').collect();
    let uid: u32 = fields[2].parse().unwrap();
    assert!(uid > 0 && uid < 1000, "not a system uid: {user}");
    assert_eq!(fields[5], "/var/lib/rekeyd", "{user}");
    assert!(fields[6].ends_with("nologin"), "{user}");

    use std::os::unix::fs::MetadataExt;
    let meta = |path: &str| std::fs::metadata(root.join(path)).unwrap();
    let etc = meta("etc/rekeyd");
    assert_eq!((etc.mode() & 0o7777, etc.uid(), etc.gid()), (0o750, 0, uid));
    let state = meta("var/lib/rekeyd");
    assert_eq!((state.mode() & 0o7777, state.uid()), (0o700, uid));
    // Nothing enabled: no unit linked into a target's wants.
    assert!(
        !root.join("etc/systemd/system").exists(),
        "installing enabled a unit"
    );

    // Purged: the package's files, the empty /etc/rekeyd and the enablement
    // links go; the state directory and what it holds stay.
    std::fs::write(root.join("var/lib/rekeyd/in-doubt"), "a journal entry").unwrap();
    // As `systemctl enable rekeyd rekeyd-audit.timer` would leave them.
    let links = [
        ("multi-user.target.wants", "rekeyd.service"),
        ("timers.target.wants", "rekeyd-audit.timer"),
    ]
    .map(|(wants, unit)| {
        let dir = root.join("etc/systemd/system").join(wants);
        std::fs::create_dir_all(&dir).unwrap();
        let link = dir.join(unit);
        std::os::unix::fs::symlink(format!("/usr/lib/systemd/system/{unit}"), &link).unwrap();
        link
    });
    let purge = dpkg_in(root, &["--purge", "rekeyd"]);
    let said = String::from_utf8_lossy(&purge.stdout);
    assert!(said.contains("kept /var/lib/rekeyd"), "purge said:\n{said}");
    assert!(!root.join("usr/bin/rekeyd").exists());
    assert!(!root.join("etc/rekeyd").exists(), "/etc/rekeyd was left");
    for link in links {
        assert!(
            link.symlink_metadata().is_err(),
            "{} was left",
            link.display()
        );
    }
    assert_eq!(
        std::fs::read_to_string(root.join("var/lib/rekeyd/in-doubt")).unwrap(),
        "a journal entry"
    );
}
