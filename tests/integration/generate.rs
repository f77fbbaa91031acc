//! `rekeyd generate`: the man page names every command, flag, exit code,
//! file and environment variable, and renders; the completion scripts load
//! in their shells (bash always; zsh and fish where installed).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use clap::CommandFactory;

use crate::util::on_path;

/// `rekeyd generate WHAT`'s stdout; the run must succeed and print nothing
/// on stderr.
pub fn generate(what: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rekeyd"))
        .args(["generate", what])
        .env_remove("RUST_LOG")
        .output()
        .expect("run rekeyd generate");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "rekeyd generate {what}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The man page's roff with `\-` as the `-` it prints.
fn man_source() -> String {
    generate("man").replace("\\-", "-")
}

/// Every environment variable `src/` reads by name (`var("X")`,
/// `var_os("X")`, clap's `env = "X"`).
fn variables_read_in_src() -> Vec<String> {
    fn walk(dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for opener in ["var(\"", "var_os(\"", "env = \""] {
                for (at, _) in text.match_indices(opener) {
                    let rest = &text[at + opener.len()..];
                    let name = &rest[..rest.find('"').unwrap()];
                    if !name.is_empty() && !found.iter().any(|n| n == name) {
                        found.push(name.to_owned());
                    }
                }
            }
        }
    }
    let mut found = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut found,
    );
    found
}

#[test]
fn the_man_page_names_every_command_and_flag() {
    let page = man_source();
    let cli = rekeyd::cli::Cli::command();
    let mut commands = vec![&cli];
    commands.extend(cli.get_subcommands());
    let mut flags = 0;
    for command in commands {
        if !std::ptr::eq(command, &cli) {
            let heading = format!(".SS \"rekeyd {}\"", command.get_name());
            assert!(page.contains(&heading), "no {heading} in:\n{page}");
        }
        for arg in command.get_arguments() {
            if let Some(long) = arg.get_long() {
                let flag = format!("--{long}");
                assert!(
                    page.contains(&flag),
                    "{flag} ({}) is missing",
                    command.get_name()
                );
                flags += 1;
            }
        }
    }
    assert!(flags >= 15, "only {flags} flags seen: is the CLI read?");
}

#[test]
fn the_man_page_documents_exit_codes_files_and_every_variable() {
    let page = man_source();
    for section in ["EXIT STATUS", "ENVIRONMENT", "FILES", "COMMANDS", "OPTIONS"] {
        assert!(
            page.contains(&format!(".SH \"{section}\""))
                || page.contains(&format!(".SH {section}\n")),
            "no {section} section"
        );
    }
    let exit_status = page.split(".SH \"EXIT STATUS\"").nth(1).unwrap();
    let exit_status = exit_status.split(".SH").next().unwrap();
    for code in ["\\fB0\\fR", "\\fB1\\fR", "\\fB2\\fR"] {
        assert!(
            exit_status.contains(code),
            "exit code {code} missing:\n{exit_status}"
        );
    }
    let environment = page.split(".SH ENVIRONMENT").nth(1).unwrap();
    let environment = environment.split(".SH").next().unwrap();
    let variables = variables_read_in_src();
    assert!(variables.len() >= 8, "found only {variables:?} in src/");
    for variable in variables.iter().map(String::as_str).chain([
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_ENDPOINT_URL",
    ]) {
        assert!(
            environment.contains(&format!("\\fB{variable}\\fR")),
            "ENVIRONMENT has no entry for {variable}"
        );
    }
    for service in [
        "IAM",
        "CHIME",
        "IVS_REALTIME",
        "SECRETS_MANAGER",
        "STS",
        "DYNAMODB",
    ] {
        let variable = format!("AWS_ENDPOINT_URL_{service}");
        assert!(
            environment.contains(&variable),
            "ENVIRONMENT does not name {variable}"
        );
    }
    let files = page.split(".SH FILES").nth(1).unwrap();
    for path in [
        "/etc/rekeyd/policy.toml",
        "/var/lib/rekeyd/",
        "/usr/lib/systemd/system/rekeyd.service",
        "/usr/lib/systemd/system/rekeyd-rotate@.service",
        "/usr/lib/systemd/system/rekeyd-audit.timer",
    ] {
        assert!(files.contains(path), "FILES does not name {path}");
    }
}

#[test]
fn the_man_page_renders_without_warnings() {
    let Some(man) = on_path("man", "the_man_page_renders_without_warnings") else {
        return;
    };
    let mut child = Command::new(man)
        .args(["--warnings", "-l", "-"])
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .env("LC_ALL", "C.UTF-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run man");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(generate("man").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "man -l -: {}\n{stderr}", out.status);
    assert!(stderr.trim().is_empty(), "man warns:\n{stderr}");
    for heading in ["NAME", "SYNOPSIS", "EXIT STATUS", "ENVIRONMENT", "FILES"] {
        assert!(
            text.lines().any(|line| line == heading),
            "rendered page has no {heading} heading:\n{text}"
        );
    }
    assert!(text.contains("rekeyd rotate"), "{text}");
}

/// Runs `shell ARGS... FILE` on the script `generate(what)` printed.
fn shell_accepts(shell: &Path, args: &[&str], what: &str) {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join(format!("rekeyd.{what}"));
    std::fs::write(&script, generate(what)).unwrap();
    let out = Command::new(shell)
        .args(args)
        .arg(&script)
        .env("HOME", dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", shell.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "{} {args:?} on the {what} completion: {}\n{stderr}",
        shell.display(),
        out.status
    );
}

#[test]
fn the_bash_completion_parses_and_completes_subcommands() {
    let bash = on_path("bash", "the_bash_completion").expect("bash is on every test host");
    shell_accepts(&bash, &["-n"], "bash");
    // Loaded for real: completing `rekeyd au` offers `audit`.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("rekeyd.bash");
    std::fs::write(&script, generate("bash")).unwrap();
    let probe = format!(
        "source {}; COMP_WORDS=(rekeyd au); COMP_CWORD=1; COMP_LINE='rekeyd au'; COMP_POINT=9; \
         _rekeyd rekeyd au rekeyd; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = Command::new(bash)
        .args(["--norc", "-c", &probe])
        .output()
        .unwrap();
    let offered = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        offered.trim(),
        "audit",
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What `shell ARGS... -c PROBE` prints, `{script}` in `probe` being the
/// completion script for `what`.
fn probe(shell: &Path, args: &[&str], what: &str, probe: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join(format!("rekeyd.{what}"));
    std::fs::write(&script, generate(what)).unwrap();
    let probe = probe.replace("{script}", script.to_str().unwrap());
    let out = Command::new(shell)
        .args(args)
        .args(["-c", &probe])
        .env("HOME", dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", shell.display()));
    assert!(
        out.status.success(),
        "{} on the {what} completion: {}\n{}",
        shell.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_zsh_completion_registers_where_zsh_is_installed() {
    let Some(zsh) = on_path("zsh", "the_zsh_completion_registers") else {
        return;
    };
    shell_accepts(&zsh, &["-n"], "zsh");
    // Sourced after compinit, as from vendor-completions, it binds itself
    // to the rekeyd command.
    let bound = probe(
        &zsh,
        &["-f"],
        "zsh",
        "autoload -U compinit && compinit -u -D && source {script} && print -r -- $_comps[rekeyd]",
    );
    assert_eq!(bound.trim(), "_rekeyd");
}

#[test]
fn the_fish_completion_completes_where_fish_is_installed() {
    let Some(fish) = on_path("fish", "the_fish_completion_completes") else {
        return;
    };
    shell_accepts(&fish, &["--no-execute"], "fish");
    let offered = probe(
        &fish,
        &["--no-config"],
        "fish",
        "source {script}; complete -C 'rekeyd au'",
    );
    assert!(offered.starts_with("audit\t"), "fish offered: {offered}");
}
