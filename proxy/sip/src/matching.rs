//! Transaction matching, RFC 3261 §17.1.3 (client) and §17.2.3 (server,
//! with the RFC 2543 fallback), and §9.2 (CANCEL).

use crate::error::HeaderError;
use crate::header::via::is_rfc3261_branch;
use crate::message::Message;
use crate::method::Method;

/// Identifies a client transaction: the branch of the top Via it sent and
/// the CSeq method (§17.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey {
    /// The branch of our top Via.
    pub branch: String,
    /// The method of the request (CANCEL has its own transaction).
    pub method: Method,
}

impl ClientKey {
    /// The key of a request we send (its top Via is ours).
    pub fn for_request(req: &Message) -> Result<ClientKey, HeaderError> {
        let via = req.top_via()?;
        let branch = via.branch().ok_or(HeaderError::new("Via", "no branch"))?;
        let method = req
            .method()
            .ok_or(HeaderError::new("start line", "not a request"))?;
        Ok(ClientKey {
            branch: branch.to_string(),
            method: method.clone(),
        })
    }

    /// The key a response belongs to.
    pub fn for_response(resp: &Message) -> Result<ClientKey, HeaderError> {
        let via = resp.top_via()?;
        let branch = via.branch().ok_or(HeaderError::new("Via", "no branch"))?;
        Ok(ClientKey {
            branch: branch.to_string(),
            method: resp.cseq()?.method(),
        })
    }
}

/// Identifies a server transaction (§17.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ServerKey {
    /// The branch has the magic cookie: branch, sent-by and method.
    Rfc3261 {
        /// The top Via branch.
        branch: String,
        /// The top Via sent-by, host lower-cased.
        sent_by: String,
        /// The method, with ACK counted as INVITE.
        method: Method,
    },
    /// RFC 2543 peers: the request's identifying fields. The To tag is left
    /// out: for an initial INVITE it differs between the INVITE and its ACK
    /// by construction, and Call-ID, From tag, CSeq and Via already tell
    /// transactions apart.
    Rfc2543 {
        /// The Request-URI as written.
        request_uri: String,
        /// The From tag.
        from_tag: Option<String>,
        /// The Call-ID.
        call_id: String,
        /// The CSeq number.
        cseq: u32,
        /// The top Via as written.
        via: String,
        /// The method, with ACK counted as INVITE.
        method: Method,
    },
}

impl ServerKey {
    /// The key of the server transaction a request belongs to: for an ACK,
    /// the INVITE transaction it acknowledges (non-2xx ACKs are hop by hop).
    pub fn for_request(req: &Message) -> Result<ServerKey, HeaderError> {
        let method = match req.method() {
            Some(Method::Ack) => Method::Invite,
            Some(m) => m.clone(),
            None => return Err(HeaderError::new("start line", "not a request")),
        };
        Self::with_method(req, method)
    }

    /// The INVITE transaction a CANCEL refers to (§9.2).
    pub fn cancel_target(cancel: &Message) -> Result<ServerKey, HeaderError> {
        Self::with_method(cancel, Method::Invite)
    }

    fn with_method(req: &Message, method: Method) -> Result<ServerKey, HeaderError> {
        let via = req.top_via()?;
        match via.branch() {
            Some(b) if is_rfc3261_branch(b) => Ok(ServerKey::Rfc3261 {
                branch: b.to_string(),
                sent_by: via.sent_by().to_ascii_lowercase(),
                method,
            }),
            _ => Ok(ServerKey::Rfc2543 {
                request_uri: req.request_uri_str().unwrap_or_default().to_string(),
                from_tag: req.from()?.tag().map(str::to_string),
                call_id: req.call_id()?.to_string(),
                cseq: req.cseq()?.seq,
                via: via.as_str().to_string(),
                method,
            }),
        }
    }
}
