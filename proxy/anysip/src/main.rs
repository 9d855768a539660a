//! `anysip`: run an edge or a core, check a configuration, manage
//! routing-token keys.
//!
//! Layout: [`lifecycle`] runs a configuration through the one lifecycle
//! both roles share; [`role`] holds what differs (`role::edge`,
//! `role::core`); [`shared`] is what a role's tasks share; [`listeners`],
//! [`admin`], [`filter`], [`probe`] and [`telemetry`] serve both roles;
//! [`error`] is a leaf. No module imports one that imports it back
//! (`scripts/import-cycles`).
#![forbid(unsafe_code)]

mod admin;
mod cli;
mod error;
mod filter;
mod fleet_cmd;
mod lifecycle;
mod listeners;
mod probe;
mod role;
mod shared;
mod telemetry;
mod tls;
mod token_cmd;
mod worker;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Run { config } => lifecycle::run(config.as_deref()),
        cli::Command::Check { config } => lifecycle::check(&config),
        cli::Command::Token { command } => token_cmd::token(command),
        cli::Command::Fleet { command } => fleet_cmd::fleet(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("anysip: {e}");
            ExitCode::FAILURE
        }
    }
}
