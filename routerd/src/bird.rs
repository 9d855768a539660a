//! BIRD's control-socket protocol: reply parsing (pure) and a tokio client.
//!
//! BIRD answers each command with lines of the form `CCCC-text` (more lines
//! follow), `CCCC text` (the last line), ` text` (a further line of the
//! previous code) and `+text` (a spontaneous printout, not part of the
//! reply). Codes `0xxx` report completed actions, `1xxx` table rows, `2xxx`
//! table headings, `8xxx` run-time errors and `9xxx` parse errors.

mod client;

use std::fmt;

pub use client::Client;

/// Final codes that mean the command did what was asked: OK, welcome,
/// reconfigured, reconfiguration in progress, already disabled, disabled,
/// already enabled, enabled.
pub const SUCCESS_CODES: [u16; 8] = [0, 1, 3, 4, 8, 9, 10, 11];

/// Errors of the BIRD client.
#[derive(Debug, thiserror::Error)]
pub enum BirdError {
    /// Could not connect to the control socket.
    #[error("cannot connect to BIRD control socket {path}: {source}")]
    Connect {
        /// The socket path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Reading or writing the socket failed.
    #[error("BIRD control socket I/O: {0}")]
    Io(#[from] std::io::Error),
    /// BIRD did not answer in time.
    #[error("BIRD did not answer {command:?} within {millis} ms")]
    Timeout {
        /// The command sent.
        command: String,
        /// The time limit.
        millis: u128,
    },
    /// BIRD closed the socket.
    #[error("BIRD closed the control socket")]
    Closed,
    /// A line that does not follow the protocol.
    #[error("malformed reply line from BIRD: {0:?}")]
    Malformed(String),
    /// A reply longer than the client accepts.
    #[error("reply from BIRD longer than {0} bytes")]
    TooLong(usize),
    /// BIRD answered with an error (8xxx run-time, 9xxx parse).
    #[error("BIRD error {code:04}: {text}")]
    Command {
        /// The error code.
        code: u16,
        /// BIRD's text.
        text: String,
    },
    /// BIRD answered with a final code that is neither success nor error.
    #[error("unexpected BIRD reply {code:04}: {text}")]
    Unexpected {
        /// The code.
        code: u16,
        /// BIRD's text.
        text: String,
    },
    /// `show protocols` does not list a protocol routerd drives.
    #[error("BIRD has no protocol named {0} (is the anysip template loaded?)")]
    MissingProtocol(String),
    /// Refused to send a protocol name that is not a plain BIRD symbol.
    #[error("not a BIRD protocol name: {0:?}")]
    InvalidName(String),
}

/// One line of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyLine {
    /// The code of the line (a ` text` line takes the code before it).
    pub code: u16,
    /// The text after the code and separator.
    pub text: String,
}

/// A whole reply to one command.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    /// Every line, the final one included, in order.
    pub lines: Vec<ReplyLine>,
}

impl Reply {
    /// The code of the final line.
    pub fn code(&self) -> u16 {
        self.lines.last().map_or(0, |l| l.code)
    }

    /// The first error line (8xxx or 9xxx), if any.
    pub fn error(&self) -> Option<&ReplyLine> {
        self.lines.iter().find(|l| (8000..10000).contains(&l.code))
    }

    /// Turns error replies into [`BirdError`]s.
    pub fn into_result(self) -> Result<Reply, BirdError> {
        if let Some(e) = self.error() {
            return Err(BirdError::Command {
                code: e.code,
                text: e.text.clone(),
            });
        }
        let code = self.code();
        if SUCCESS_CODES.contains(&code) {
            Ok(self)
        } else {
            let text = self
                .lines
                .last()
                .map(|l| l.text.clone())
                .unwrap_or_default();
            Err(BirdError::Unexpected { code, text })
        }
    }
}

/// What a line read from the socket is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// Part of the reply; `last` on its final line.
    Reply {
        /// The line.
        line: ReplyLine,
        /// Whether the reply ends here.
        last: bool,
    },
    /// A spontaneous printout (`+`), not part of any reply.
    Async(String),
}

/// Accumulates lines into a [`Reply`].
#[derive(Debug, Default)]
pub struct ReplyParser {
    reply: Reply,
}

impl ReplyParser {
    /// A parser with no lines yet.
    pub fn new() -> ReplyParser {
        ReplyParser::default()
    }

    /// Feeds one line (without its newline). Returns the reply once its last
    /// line has been fed. Spontaneous printouts are skipped.
    pub fn feed(&mut self, raw: &str) -> Result<Option<Reply>, BirdError> {
        let prev = self.reply.lines.last().map(|l| l.code);
        match parse_line(raw, prev)? {
            Line::Async(_) => Ok(None),
            Line::Reply { line, last } => {
                self.reply.lines.push(line);
                if last {
                    Ok(Some(std::mem::take(&mut self.reply)))
                } else {
                    Ok(None)
                }
            }
        }
    }
}

/// Classifies one line. `prev` is the code of the previous line of the
/// same reply, which a ` text` line continues.
pub fn parse_line(raw: &str, prev: Option<u16>) -> Result<Line, BirdError> {
    let raw = raw.strip_suffix('\r').unwrap_or(raw);
    if let Some(rest) = raw.strip_prefix('+') {
        return Ok(Line::Async(rest.to_owned()));
    }
    if let Some(rest) = raw.strip_prefix(' ') {
        let code = prev.ok_or_else(|| BirdError::Malformed(raw.to_owned()))?;
        return Ok(Line::Reply {
            line: ReplyLine {
                code,
                text: rest.to_owned(),
            },
            last: false,
        });
    }
    let bytes = raw.as_bytes();
    if bytes.len() < 5 || !bytes[..4].iter().all(u8::is_ascii_digit) {
        // BIRD sends "CCCC" followed by a space even for an empty text; be
        // lenient about a bare four-digit final line.
        if bytes.len() == 4 && bytes.iter().all(u8::is_ascii_digit) {
            let code = raw
                .parse()
                .map_err(|_| BirdError::Malformed(raw.to_owned()))?;
            return Ok(Line::Reply {
                line: ReplyLine {
                    code,
                    text: String::new(),
                },
                last: true,
            });
        }
        return Err(BirdError::Malformed(raw.to_owned()));
    }
    let code: u16 = raw[..4]
        .parse()
        .map_err(|_| BirdError::Malformed(raw.to_owned()))?;
    let last = match bytes[4] {
        b' ' => true,
        b'-' => false,
        _ => return Err(BirdError::Malformed(raw.to_owned())),
    };
    Ok(Line::Reply {
        line: ReplyLine {
            code,
            text: raw[5..].to_owned(),
        },
        last,
    })
}

/// A protocol's state as `show protocols` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtoState {
    /// `up`.
    Up,
    /// `down` (disabled, or failed).
    Down,
    /// `start`.
    Start,
    /// `stop`.
    Stop,
    /// Anything else BIRD may print.
    Other(String),
}

impl ProtoState {
    fn parse(s: &str) -> ProtoState {
        match s {
            "up" => ProtoState::Up,
            "down" => ProtoState::Down,
            "start" => ProtoState::Start,
            "stop" => ProtoState::Stop,
            other => ProtoState::Other(other.to_owned()),
        }
    }

    /// Whether the protocol is enabled (on its way up or up).
    pub fn is_enabled(&self) -> bool {
        matches!(self, ProtoState::Up | ProtoState::Start)
    }
}

impl fmt::Display for ProtoState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtoState::Up => f.write_str("up"),
            ProtoState::Down => f.write_str("down"),
            ProtoState::Start => f.write_str("start"),
            ProtoState::Stop => f.write_str("stop"),
            ProtoState::Other(s) => f.write_str(s),
        }
    }
}

/// One row of `show protocols`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoStatus {
    /// Protocol name.
    pub name: String,
    /// Protocol type (`Static`, `BGP`, ...).
    pub proto: String,
    /// Table, `---` for none.
    pub table: String,
    /// State.
    pub state: ProtoState,
    /// The info column (e.g. `Established`), possibly empty.
    pub info: String,
}

/// Parses the reply to `show protocols` (code 1002 rows after the 2002 heading).
pub fn parse_protocols(reply: &Reply) -> Vec<ProtoStatus> {
    reply
        .lines
        .iter()
        .filter(|l| l.code == 1002)
        .filter_map(|l| {
            let mut f = l.text.split_whitespace();
            let name = f.next()?.to_owned();
            let proto = f.next()?.to_owned();
            let table = f.next()?.to_owned();
            let state = ProtoState::parse(f.next()?);
            // "Since" is one or two fields (time, or date and time, by
            // BIRD's timeformat), all starting with a digit; info follows.
            let info = f
                .skip_while(|t| t.starts_with(|c: char| c.is_ascii_digit()))
                .collect::<Vec<_>>()
                .join(" ");
            Some(ProtoStatus {
                name,
                proto,
                table,
                state,
                info,
            })
        })
        .collect()
}

/// Whether `name` is a plain BIRD symbol, safe to put on a command line.
pub fn is_symbol(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(text: &str) -> Reply {
        let mut p = ReplyParser::new();
        for l in text.lines() {
            if let Some(r) = p.feed(l).expect("valid line") {
                return r;
            }
        }
        panic!("reply did not end");
    }

    const SHOW_PROTOCOLS: &str = "2002-Name       Proto      Table      State  Since         Info
1002-device1    Device     ---        up     03:18:07.942  
 anysip_announce4 Static     master4    up     03:18:13.736  
 anysip_drain4 Static     master4    down   03:18:07.942  
 uplink4    BGP        ---        up     2026-11-24 03:18:08  Established   
 uplink6    BGP        ---        start  03:18:08.898  Active
0000 
";

    #[test]
    fn parses_show_protocols() {
        let r = parse_all(SHOW_PROTOCOLS).into_result().expect("success");
        let p = parse_protocols(&r);
        assert_eq!(p.len(), 5);
        assert_eq!(p[1].name, "anysip_announce4");
        assert_eq!(p[1].state, ProtoState::Up);
        assert_eq!(p[1].info, "");
        assert_eq!(p[2].state, ProtoState::Down);
        assert!(!p[2].state.is_enabled());
        assert_eq!(p[3].proto, "BGP");
        assert_eq!(p[3].info, "Established");
        assert_eq!(p[4].state, ProtoState::Start);
        assert!(p[4].state.is_enabled());
        assert_eq!(p[4].info, "Active");
    }

    #[test]
    fn success_codes() {
        for (text, code) in [
            ("0011-anysip_announce4: enabled\n0000 \n", 0),
            ("0001 BIRD 2.0.12 ready.\n", 1),
            ("0002-Reading configuration from /etc/bird.conf\n0003 Reconfigured\n", 3),
            ("0002-Reading configuration from /etc/bird.conf\n0004 Reconfiguration in progress\n", 4),
            ("0008 already disabled\n", 8),
            ("0009 disabled\n", 9),
            ("0010 already enabled\n", 10),
            ("0011 enabled\n", 11),
        ] {
            let r = parse_all(text);
            assert_eq!(r.code(), code);
            assert!(r.into_result().is_ok(), "{text}");
        }
    }

    #[test]
    fn errors_surface_their_text() {
        let r = parse_all("9001 syntax error, unexpected CF_SYM_UNDEFINED\n");
        match r.into_result() {
            Err(BirdError::Command { code: 9001, text }) => {
                assert!(text.contains("syntax error"));
            }
            other => panic!("{other:?}"),
        }
        let r = parse_all("0002-Reading configuration from x\n8002 x, line 3: syntax error\n");
        let e = r.into_result().expect_err("error");
        assert_eq!(e.to_string(), "BIRD error 8002: x, line 3: syntax error");
        // An error in the middle of a reply counts too.
        let r = parse_all("8003-No protocols match\n0000 \n");
        assert!(r.into_result().is_err());
    }

    #[test]
    fn other_final_codes_are_unexpected() {
        let r = parse_all("0013 Daemon is up and running\n");
        assert!(matches!(
            r.into_result(),
            Err(BirdError::Unexpected { code: 13, .. })
        ));
    }

    #[test]
    fn async_lines_are_not_part_of_the_reply() {
        let mut p = ReplyParser::new();
        assert_eq!(p.feed("0011-x: enabled").expect("ok"), None);
        assert_eq!(p.feed("+some spontaneous log line").expect("ok"), None);
        let r = p.feed("0000 ").expect("ok").expect("done");
        assert_eq!(r.lines.len(), 2);
    }

    #[test]
    fn continuation_takes_the_previous_code() {
        let r = parse_all("1007-Table master4:\n 192.0.2.1/32  unicast\n0000 \n");
        assert_eq!(r.lines[1].code, 1007);
        assert_eq!(r.lines[1].text, "192.0.2.1/32  unicast");
    }

    #[test]
    fn malformed_lines() {
        assert!(parse_line(" orphan", None).is_err());
        assert!(parse_line("12x4 x", None).is_err());
        assert!(parse_line("1234*x", None).is_err());
        assert!(parse_line("", None).is_err());
        assert!(matches!(
            parse_line("0000", None),
            Ok(Line::Reply { last: true, .. })
        ));
        assert!(matches!(
            parse_line("0000 \r", None),
            Ok(Line::Reply { last: true, .. })
        ));
    }

    #[test]
    fn symbols() {
        assert!(is_symbol("anysip_announce4"));
        assert!(is_symbol("_x"));
        assert!(!is_symbol("4x"));
        assert!(!is_symbol("a b"));
        assert!(!is_symbol("a\"; configure"));
        assert!(!is_symbol(""));
    }
}
