//! The command line of `routerd`, here rather than in the binary so that
//! the Debian package's man pages and shell completions are generated from
//! it (`anysip-docgen`).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// `routerd`'s arguments.
#[derive(Debug, Parser)]
#[command(
    name = "routerd",
    version,
    about = "anysip BGP health daemon: drives BIRD from health checks"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `routerd`'s subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon.
    Run {
        /// Configuration file.
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Check a configuration file and exit.
    Check {
        /// Configuration file.
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Drain: announce with the graceful-shutdown community, then withdraw.
    Drain(AdminArgs),
    /// End a drain started with `routerd drain`.
    Undrain(AdminArgs),
    /// Print the daemon's status (JSON).
    Status(AdminArgs),
}

/// How the commands that call a running daemon find it.
#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    /// Take the admin address from this configuration file.
    #[arg(short, long, conflicts_with = "admin")]
    pub config: Option<PathBuf>,
    /// The daemon's admin address (default 127.0.0.1:9180).
    #[arg(long)]
    pub admin: Option<SocketAddr>,
}
