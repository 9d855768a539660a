//! `anysip`: run an edge or a core, check a configuration, manage
//! routing-token keys.
#![forbid(unsafe_code)]

mod admin;
mod cli;
mod core;
mod defaults;
mod dispatch;
mod filter;
mod keys;
mod metrics;
mod otlp;
mod probe;
mod run;
mod state;
mod tls;
mod token_cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Run { config } => run::run(config.as_deref()),
        cli::Command::Check { config } => run::check(&config),
        cli::Command::Token { command } => token_cmd::token(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("anysip: {e}");
            ExitCode::FAILURE
        }
    }
}
