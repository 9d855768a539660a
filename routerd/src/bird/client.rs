//! A tokio client for BIRD's control socket that reconnects on demand.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

use super::{is_symbol, parse_protocols, BirdError, ProtoStatus, Reply, ReplyParser};

/// Longest line accepted from BIRD.
const MAX_LINE: u64 = 16 * 1024;
/// Longest reply accepted from BIRD.
const MAX_REPLY: usize = 4 * 1024 * 1024;

#[derive(Debug)]
struct Conn {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

/// A connection to BIRD's control socket. Connects lazily; after any I/O
/// error or timeout the connection is dropped and the next command
/// connects again, so a restarted BIRD is picked up without help.
#[derive(Debug)]
pub struct Client {
    path: PathBuf,
    timeout: Duration,
    conn: Option<Conn>,
}

impl Client {
    /// A client for the socket at `path`; every command (connecting
    /// included) must complete within `timeout`.
    pub fn new(path: impl AsRef<Path>, timeout: Duration) -> Client {
        Client {
            path: path.as_ref().to_owned(),
            timeout,
            conn: None,
        }
    }

    /// Whether a connection is open (as far as the client knows).
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Sends one command and returns its reply; 8xxx/9xxx replies are errors.
    pub async fn command(&mut self, command: &str) -> Result<Reply, BirdError> {
        let limit = self.timeout;
        let result = match tokio::time::timeout(limit, self.command_inner(command)).await {
            Ok(r) => r,
            Err(_) => Err(BirdError::Timeout {
                command: command.to_owned(),
                millis: limit.as_millis(),
            }),
        };
        match result {
            Ok(reply) => reply.into_result(),
            Err(e) => {
                self.conn = None;
                Err(e)
            }
        }
    }

    /// `enable NAME`.
    pub async fn enable(&mut self, protocol: &str) -> Result<Reply, BirdError> {
        self.named("enable", protocol).await
    }

    /// `disable NAME`.
    pub async fn disable(&mut self, protocol: &str) -> Result<Reply, BirdError> {
        self.named("disable", protocol).await
    }

    /// `show protocols`, parsed.
    pub async fn show_protocols(&mut self) -> Result<Vec<ProtoStatus>, BirdError> {
        let reply = self.command("show protocols").await?;
        Ok(parse_protocols(&reply))
    }

    async fn named(&mut self, verb: &str, protocol: &str) -> Result<Reply, BirdError> {
        if !is_symbol(protocol) {
            return Err(BirdError::InvalidName(protocol.to_owned()));
        }
        self.command(&format!("{verb} {protocol}")).await
    }

    async fn command_inner(&mut self, command: &str) -> Result<Reply, BirdError> {
        if command.contains(['\n', '\r']) {
            return Err(BirdError::Malformed(command.to_owned()));
        }
        if self.conn.is_none() {
            self.conn = Some(self.connect().await?);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(BirdError::Closed);
        };
        conn.writer.write_all(command.as_bytes()).await?;
        conn.writer.write_all(b"\n").await?;
        conn.writer.flush().await?;
        read_reply(&mut conn.reader).await
    }

    async fn connect(&self) -> Result<Conn, BirdError> {
        let stream =
            UnixStream::connect(&self.path)
                .await
                .map_err(|source| BirdError::Connect {
                    path: self.path.display().to_string(),
                    source,
                })?;
        let (r, writer) = stream.into_split();
        let mut reader = BufReader::new(r);
        // The welcome banner, "0001 BIRD x.y.z ready."
        let hello = read_reply(&mut reader).await?.into_result()?;
        tracing::info!(
            socket = %self.path.display(),
            banner = %hello.lines.last().map(|l| l.text.as_str()).unwrap_or(""),
            "connected to BIRD"
        );
        Ok(Conn { reader, writer })
    }
}

async fn read_reply(reader: &mut BufReader<OwnedReadHalf>) -> Result<Reply, BirdError> {
    let mut parser = ReplyParser::new();
    let mut total = 0usize;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = (&mut *reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut buf)
            .await?;
        if n == 0 {
            return Err(BirdError::Closed);
        }
        if buf.last() != Some(&b'\n') {
            return Err(BirdError::TooLong(MAX_LINE as usize));
        }
        total += n;
        if total > MAX_REPLY {
            return Err(BirdError::TooLong(MAX_REPLY));
        }
        buf.pop();
        let line = String::from_utf8_lossy(&buf);
        if line.starts_with('+') {
            tracing::debug!(line = %line, "BIRD printout");
        }
        if let Some(reply) = parser.feed(&line)? {
            return Ok(reply);
        }
    }
}
