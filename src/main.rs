//! The `rekeyd` binary: parse the command line, set up logging, run, and turn
//! the outcome into an exit code (see `exit`).

use std::process::ExitCode;

use clap::Parser;
use rekeyd::cli::{Cli, Command};
use rekeyd::exit::{self, UsageError};
use rekeyd::policy::PolicyError;
use rekeyd::{commands, logging};

fn main() -> ExitCode {
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
