//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// anysip: an edge anycast SIP proxy.
#[derive(Debug, Parser)]
#[command(version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the configured role (the embedded development edge without -c).
    ///
    /// SIGTERM or SIGINT drains: not ready, still serving for
    /// server.drain_secs, then exit. SIGHUP reloads an edge's key ring and
    /// xdp.blocklist and a core's routing script, keeping the running
    /// version of whatever fails to load. Under systemd (Type=notify) it
    /// reports READY=1 once serving, RELOADING=1 during a reload and
    /// STOPPING=1 at drain.
    Run {
        /// Configuration file (YAML).
        #[arg(short, long)]
        config: Option<PathBuf>,
    },
    /// Check a configuration file: exit 0 when valid, else print the error.
    Check {
        /// Configuration file (YAML).
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Routing-token keys and tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The fleet's relay certificates (relay.ca, relay.cert, relay.key).
    Fleet {
        #[command(subcommand)]
        command: FleetCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum FleetCommand {
    /// Make a new fleet CA: its certificate and private key (files that
    /// exist are not overwritten; the key is written mode 0600).
    Ca {
        /// Where to write the CA certificate (PEM).
        #[arg(long)]
        cert: PathBuf,
        /// Where to write the CA private key (PEM).
        #[arg(long)]
        key: PathBuf,
    },
    /// Make the relay certificate of one instance, signed by the fleet CA,
    /// naming `instance-<N>.anysip.invalid`.
    Cert {
        /// The instance's `server.instance_id` (1–65535).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        instance: u16,
        /// The fleet CA certificate (PEM).
        #[arg(long)]
        ca: PathBuf,
        /// The fleet CA private key (PEM).
        #[arg(long)]
        ca_key: PathBuf,
        /// Where to write the instance certificate (PEM).
        #[arg(long)]
        cert: PathBuf,
        /// Where to write the instance private key (PEM).
        #[arg(long)]
        key: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Print a new key file (one fresh key, current) on standard output.
    Keygen {
        /// The key id (0–255).
        #[arg(long, default_value_t = 1)]
        id: u8,
        /// Output format.
        #[arg(long, value_enum, default_value_t = KeyFormat::Yaml)]
        format: KeyFormat,
    },
    /// Seal a token from its JSON contents, e.g.
    /// '{"kind":"flow","transport":"udp","ue":"192.0.2.1:5060","local":"203.0.113.1:5060","instance":0,"connection":0}'.
    Seal {
        /// Key file.
        #[arg(long)]
        keys: PathBuf,
        /// The token's contents as JSON.
        json: String,
    },
    /// Open a token and print its contents as JSON.
    Open {
        /// Key file.
        #[arg(long)]
        keys: PathBuf,
        /// The token (or a whole `sip:TOKEN@host` URI).
        token: String,
        /// Maximum age to accept, in seconds (default: the library default).
        #[arg(long)]
        max_age_secs: Option<u64>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum KeyFormat {
    Yaml,
    Json,
}
