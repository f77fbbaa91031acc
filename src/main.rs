//! The `rekeyd` binary: parse the command line, set up logging, run, and turn
//! the outcome into an exit code (see `exit`).

use std::process::ExitCode;

use clap::Parser;
use rekeyd::cli::{Cli, Command};
use rekeyd::exit::{self, UsageError};
use rekeyd::policy::PolicyError;
use rekeyd::{commands, logging};

/// mimalloc: the bundled emulator (`rekeyd emulator`, the same binary) spends
/// less CPU than on glibc's malloc, and rekeyd itself no more (BENCHMARKS.md,
/// "One-shot rotation throughput").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's defaults trade memory for speed: arenas committed up front, freed
/// pages purged only after a delay. The idle daemon wants its memory back
/// (BENCHMARKS.md, "Idle daemon"). Set before `main`: the first arena is
/// reserved by the runtime's first allocation, with the options of that time.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static TUNE_ALLOCATOR: extern "C" fn() = tune_allocator;

#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
extern "C" fn tune_allocator() {
    // SAFETY: setting options has no preconditions; they are read at use.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

/// `mi_option_arena_eager_commit` and `mi_option_purge_delay` in mimalloc.h
/// (the Rust bindings name neither).
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    forbid_dumps();
    let cli = Cli::parse();
    logging::init(&cli.global, matches!(cli.command, Command::Demo(_)));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("rekeyd: cannot start the async runtime: {err}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(err) => report(&err),
    }
}

/// No core dump of a process that holds secrets, and no reading of its
/// memory by other processes of the same user: not dumpable means no core
/// file on a crash, `/proc/PID/mem` and `environ` owned by root, and no
/// `ptrace` attach without CAP_SYS_PTRACE. First thing, before any secret
/// or credential is in memory. A failure is reported and the run goes on:
/// the kernel refuses only invalid arguments.
fn forbid_dumps() {
    // SAFETY: PR_SET_DUMPABLE takes one integer argument and touches no memory.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        eprintln!(
            "rekeyd: cannot mark the process non-dumpable: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Prints an error once and picks its exit code.
fn report(err: &anyhow::Error) -> ExitCode {
    if let Some(PolicyError::Invalid(problems)) = err.downcast_ref::<PolicyError>() {
        // One problem per line, each starting FILE:LINE: (SPEC.md).
        eprintln!("{problems}");
        return ExitCode::from(exit::USAGE);
    }
    eprintln!("rekeyd: {err:#}");
    if err.downcast_ref::<UsageError>().is_some() || err.downcast_ref::<PolicyError>().is_some() {
        ExitCode::from(exit::USAGE)
    } else {
        ExitCode::from(exit::FAILURE)
    }
}
