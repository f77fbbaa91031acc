//! `rekeyd generate man|bash|zsh|fish`: the man page or a completion script
//! on stdout, for packagers (scripts/package) and users.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use super::manpage;
use crate::cli::{Cli, GenerateArgs, Generated};
use crate::exit;

/// Prints what `args` asks for.
pub fn run(args: &GenerateArgs) -> Result<ExitCode> {
    let mut out = Vec::new();
    match args.what {
        Generated::Man => manpage::write(&mut out).context("render the man page")?,
        Generated::Bash => completion(Shell::Bash, &mut out),
        Generated::Zsh => completion(Shell::Zsh, &mut out),
        Generated::Fish => completion(Shell::Fish, &mut out),
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&out)
        .and_then(|()| stdout.flush())
        .context("write to stdout")?;
    Ok(ExitCode::from(exit::SUCCESS))
}

fn completion(shell: Shell, out: &mut Vec<u8>) {
    let mut cli = Cli::command();
    let name = cli.get_name().to_owned();
    clap_complete::generate(shell, &mut cli, name, out);
}
