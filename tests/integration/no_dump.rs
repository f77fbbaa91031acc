//! A running daemon cannot be dumped: its `/proc/PID/mem` belongs to root,
//! not to the user it runs as, and another process of that same user cannot
//! read its memory or environment (where AWS credentials live). A plain
//! process of that user, as a control, can.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::util::{Proc, TestEnv, finish, on_path, signal, wait_until, with_test_env};

/// The unprivileged user the daemon runs as when the suite runs as root
/// (`nobody` on Debian; numeric, so no passwd entry is needed).
const NOBODY: u32 = 65534;

/// The user the daemon and the probes run as, and the command prefix that
/// makes them run as it: `setpriv` down to [`NOBODY`] when the suite is
/// root, nothing otherwise. `None` when that needs a missing `setpriv`.
fn unprivileged(test: &str) -> Option<(u32, Vec<String>)> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Some((euid, Vec::new()));
    }
    let setpriv = on_path("setpriv", test)?;
    let prefix = [
        setpriv.to_str().unwrap(),
        &format!("--reuid={NOBODY}"),
        &format!("--regid={NOBODY}"),
        "--clear-groups",
        "--",
    ]
    .map(str::to_owned)
    .to_vec();
    Some((NOBODY, prefix))
}

/// `program ARGS...` run through `prefix`.
fn command(prefix: &[String], program: &str, args: &[&str]) -> Command {
    let mut all: Vec<&str> = prefix.iter().map(String::as_str).collect();
    all.push(program);
    all.extend(args);
    let mut command = Command::new(all[0]);
    command.args(&all[1..]).kill_on_drop(true);
    command
}

/// Whether `prefix`'s user can read the first byte of `/proc/PID/FILE`.
async fn can_read(prefix: &[String], pid: u32, file: &str) -> bool {
    let path = format!("/proc/{pid}/{file}");
    let out = command(prefix, "head", &["-c", "1", &path])
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run head");
    out.status.success()
}

fn owner(pid: u32, file: &str) -> (u32, u32) {
    let meta = std::fs::metadata(format!("/proc/{pid}/{file}")).expect("stat /proc/PID file");
    (meta.uid(), meta.gid())
}

/// The real uid on the `Uid:` line of `/proc/PID/status` (the file's owner
/// says nothing: a non-dumpable process's files all belong to root).
fn real_uid(pid: u32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        .and_then(|uid| uid.parse().ok())
        .unwrap_or_else(|| panic!("no Uid: line in /proc/{pid}/status:\n{status}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_cannot_be_dumped_or_read_by_its_own_user() {
    let Some((uid, prefix)) = unprivileged("the_daemon_cannot_be_dumped_or_read_by_its_own_user")
    else {
        return;
    };
    let env = TestEnv::new().await;
    // The policy readable and the state directory writable by that user.
    let home = env.dir.path();
    std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o755)).unwrap();
    let state = home.join("state");
    std::fs::create_dir(&state).unwrap();
    std::os::unix::fs::chown(&state, Some(uid), Some(uid)).unwrap();
    let policy = env.write_policy(&env.standard_policy("1h"));
    std::fs::set_permissions(&policy, std::fs::Permissions::from_mode(0o644)).unwrap();

    // The control: a process of the same user that does not mark itself.
    let mut control = command(&prefix, "sleep", &["60"])
        .spawn()
        .expect("spawn sleep");
    let control_pid = control.id().unwrap();

    // A copy beside the policy: the build directory may be closed to that user.
    let binary = home.join("rekeyd");
    std::fs::copy(env!("CARGO_BIN_EXE_rekeyd"), &binary).unwrap();
    let mut daemon = command(&prefix, binary.to_str().unwrap(), &[]);
    with_test_env(&mut daemon, home);
    daemon
        .arg("--config")
        .arg(&policy)
        .arg("daemon")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let daemon = Proc::from(daemon.spawn().expect("spawn rekeyd daemon"));
    let pid = daemon.id().unwrap();

    // Secrets in memory: the three missing secrets were rotated at start.
    let rotated = wait_until(Duration::from_secs(30), || {
        env.version_count("rekeyd/support-bot") >= 1
            && env.version_count("rekeyd/codecommit-sofia") >= 1
    })
    .await;
    let running_as = real_uid(pid);

    assert_eq!(
        owner(control_pid, "mem"),
        (uid, uid),
        "the control is dumpable"
    );
    assert!(
        can_read(&prefix, control_pid, "environ").await,
        "uid {uid} cannot read its own plain process's environ: the check below would prove nothing"
    );
    let mem_owner = owner(pid, "mem");
    let environ_readable = can_read(&prefix, pid, "environ").await;
    let mem_readable = can_read(&prefix, pid, "mem").await;

    control.kill().await.unwrap();
    signal(&daemon, "TERM");
    let out = finish(daemon, Duration::from_secs(10)).await;
    assert!(rotated, "the daemon did not rotate:\n{}", out.stderr);
    out.assert_exit(0);
    assert_eq!(running_as, uid, "the daemon runs as uid {uid}");
    assert_eq!(
        mem_owner,
        (0, 0),
        "/proc/{pid}/mem of a non-dumpable process is root's"
    );
    assert!(!environ_readable, "uid {uid} read the daemon's environ");
    assert!(!mem_readable, "uid {uid} read the daemon's memory");
}
