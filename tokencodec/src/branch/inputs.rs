//! The inputs of a branch (RFC 3261 section 16.11), as byte slices so that
//! the crate depends on no SIP parser.

use ring::hmac;

use super::MAGIC_COOKIE;

/// What the edge's branch is computed from, taken from the **received**
/// request. Pass values verbatim as received (byte slices of the message);
/// leave absent values empty.
///
/// Which fields count depends on the received top Via branch:
///
/// * it starts with the magic cookie `z9hG4bK` (RFC 3261 UAs, nearly all
///   traffic): the branch is derived from that branch plus the fields every
///   request of the transaction shares: the top Via sent-by, Call-ID, From
///   tag and CSeq number (the sent-by makes it follow the section 17.2.3
///   matching rule; the others keep two UAs that reuse a branch apart). The
///   To tag and Request-URI are not inputs here: the ACK of a non-2xx
///   response carries a To tag the INVITE did not have.
/// * otherwise (RFC 2543 peers): the section 16.11 field set, i.e. the top
///   Via (sent-by and branch), To tag, From tag, Call-ID, CSeq number and
///   Request-URI.
///
/// The CSeq **method** is never an input, so a CANCEL and the ACK of a
/// non-2xx response get the branch of the INVITE they refer to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct BranchInputs<'a> {
    /// The `sent-by` (host and optional port) of the top Via.
    pub via_sent_by: &'a [u8],
    /// The `branch` parameter of the top Via (empty if absent).
    pub via_branch: &'a [u8],
    /// The `tag` parameter of To (empty if absent).
    pub to_tag: &'a [u8],
    /// The `tag` parameter of From.
    pub from_tag: &'a [u8],
    /// The Call-ID.
    pub call_id: &'a [u8],
    /// The CSeq sequence number (not the method).
    pub cseq_number: u32,
    /// The Request-URI.
    pub request_uri: &'a [u8],
    /// Anything else that must tell two client transactions of the edge
    /// apart for the same received request (normally empty).
    pub context: &'a [u8],
}

/// Mode byte of an RFC 3261 (magic cookie) derivation.
const MODE_COOKIE: u8 = 1;
/// Mode byte of an RFC 2543 (field set) derivation.
const MODE_FIELDS: u8 = 2;

impl BranchInputs<'_> {
    /// Whether the received branch is an RFC 3261 one (starts with the magic
    /// cookie and has something after it).
    pub fn is_rfc3261(&self) -> bool {
        self.via_branch.len() > MAGIC_COOKIE.len()
            && self.via_branch.starts_with(MAGIC_COOKIE.as_bytes())
    }

    /// Feeds the inputs that count into `ctx`, each length-prefixed so that
    /// no two different input sets give the same byte string.
    pub(crate) fn feed(&self, ctx: &mut hmac::Context) {
        let field = |ctx: &mut hmac::Context, bytes: &[u8]| {
            ctx.update(&(bytes.len() as u64).to_be_bytes());
            ctx.update(bytes);
        };
        if self.is_rfc3261() {
            ctx.update(&[MODE_COOKIE]);
            field(ctx, self.via_branch);
            field(ctx, self.via_sent_by);
            field(ctx, self.call_id);
            field(ctx, self.from_tag);
            ctx.update(&self.cseq_number.to_be_bytes());
        } else {
            ctx.update(&[MODE_FIELDS]);
            field(ctx, self.via_branch);
            field(ctx, self.via_sent_by);
            field(ctx, self.call_id);
            field(ctx, self.from_tag);
            ctx.update(&self.cseq_number.to_be_bytes());
            field(ctx, self.to_tag);
            field(ctx, self.request_uri);
        }
        field(ctx, self.context);
    }
}
