//! `anysip-docgen OUT_DIR`: the man pages and shell completions of
//! `anysip` and `routerd`, generated from their clap definitions
//! (`clap_mangen`, `clap_complete`) for the Debian package (`scripts/deb`):
//!
//! - `OUT_DIR/man/*.1`: one page per command and subcommand;
//! - `OUT_DIR/completions/{bash,zsh,fish}/`: under the names each shell
//!   looks for (`anysip`, `_anysip`, `anysip.fish`).
#![forbid(unsafe_code)]

// The binary's command line, read here as it is compiled there.
#[allow(dead_code)]
#[path = "../cli.rs"]
mod cli;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

fn main() -> ExitCode {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: anysip-docgen OUT_DIR");
        return ExitCode::from(2);
    };
    match generate(&out) {
        Ok(n) => {
            println!("{}: {n} files", out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("anysip-docgen: {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}

/// Writes every page and completion file; returns how many.
fn generate(out: &Path) -> std::io::Result<usize> {
    let man = out.join("man");
    std::fs::create_dir_all(&man)?;
    for (name, cmd) in [
        ("anysip", cli::Cli::command()),
        ("routerd", routerd::cli::Cli::command()),
    ] {
        clap_mangen::generate_to(cmd.clone(), &man)?;
        for (shell, file) in [
            (Shell::Bash, name.to_owned()),
            (Shell::Zsh, format!("_{name}")),
            (Shell::Fish, format!("{name}.fish")),
        ] {
            let dir = out.join("completions").join(shell.to_string());
            std::fs::create_dir_all(&dir)?;
            let mut f = std::fs::File::create(dir.join(file))?;
            clap_complete::generate(shell, &mut cmd.clone(), name, &mut f);
        }
    }
    let pages = std::fs::read_dir(&man)?.count();
    Ok(pages + 6)
}
