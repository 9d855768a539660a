//! A minimal HTTP/1.0 client: enough for health checks and for the
//! `routerd drain|undrain|status` commands talking to the admin API.
//! One request per connection, `Connection: close`, bounded reads.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response: status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body, at most the limit given to [`request`].
    pub body: Vec<u8>,
}

/// Sends one request and reads the response (head and body up to `limit`
/// bytes in all). With `status_only`, stops after the status line.
pub async fn request(
    host: &str,
    port: u16,
    method: &str,
    path: &str,
    status_only: bool,
    limit: usize,
) -> io::Result<Response> {
    let mut stream = TcpStream::connect((host, port)).await?;
    let host_header = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: {host_header}\r\nUser-Agent: anysip-routerd\r\n\
         Accept: */*\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        if status_only && buf.windows(2).any(|w| w == b"\r\n") {
            break;
        }
        if buf.len() >= limit {
            break;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        let take = n.min(limit - buf.len());
        buf.extend_from_slice(&chunk[..take]);
    }
    parse_response(&buf)
}

/// Parses the status line and splits off the body.
pub fn parse_response(buf: &[u8]) -> io::Result<Response> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let line_end = buf
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or_else(|| bad("no HTTP status line"))?;
    let line =
        std::str::from_utf8(&buf[..line_end]).map_err(|_| bad("status line is not UTF-8"))?;
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(bad("not an HTTP/1.x response"));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|s| (100..1000).contains(s))
        .ok_or_else(|| bad("bad HTTP status code"))?;
    let body = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| buf[i + 4..].to_vec())
        .unwrap_or_default();
    Ok(Response { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_body() {
        let r = parse_response(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\nno")
            .expect("valid");
        assert_eq!(r.status, 503);
        assert_eq!(r.body, b"no");
        let r = parse_response(b"HTTP/1.0 200 OK\r\n").expect("status only");
        assert_eq!(r.status, 200);
        assert!(r.body.is_empty());
        for bad in [
            &b""[..],
            b"HTTP/1.1 200",
            b"SIP/2.0 200 OK\r\n",
            b"HTTP/1.1 abc OK\r\n",
            b"HTTP/1.1 42 X\r\n",
        ] {
            assert!(parse_response(bad).is_err());
        }
    }
}
