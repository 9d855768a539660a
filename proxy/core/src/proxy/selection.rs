//! §16.7 step 6: choosing the best final response of a context's
//! branches, and sending it upstream.

use std::time::Instant;

use sip::{HeaderName, Message};

use super::ids::CtxId;
use super::{build, Proxy};
use crate::decision::Reply;

impl Proxy {
    /// §16.7 step 6: a 6xx if any, else the lowest class, preferring
    /// 401/407/415/420/484 among 4xx; 503 becomes 500; the challenges of
    /// every 401/407 are gathered into the chosen one.
    pub(super) fn best_response(
        &self,
        ctx: CtxId,
    ) -> Option<(Message, String, Option<std::net::SocketAddr>)> {
        let c = self.contexts.get(ctx)?;
        let rank = |m: &Message| {
            let s = m.status().unwrap_or(699);
            let class = if (600..700).contains(&s) { 0 } else { s / 100 };
            let pref = u16::from(!matches!(s, 401 | 407 | 415 | 420 | 484));
            (class, pref)
        };
        let chosen = c.finals.iter().min_by_key(|f| rank(&f.msg))?;
        let best = &chosen.msg;
        let status = best.status().unwrap_or(500);
        let mut extra = Vec::new();
        if matches!(status, 401 | 407) {
            for m in c
                .finals
                .iter()
                .map(|f| &f.msg)
                .filter(|m| !std::ptr::eq(*m, best))
            {
                if !matches!(m.status(), Some(401 | 407)) {
                    continue;
                }
                for h in m.headers() {
                    if matches!(
                        h.name,
                        HeaderName::WwwAuthenticate | HeaderName::ProxyAuthenticate
                    ) {
                        let name = if h.name == HeaderName::WwwAuthenticate {
                            "WWW-Authenticate"
                        } else {
                            "Proxy-Authenticate"
                        };
                        extra.push((name.to_string(), h.value.to_string()));
                    }
                }
            }
        }
        let new_status = (status == 503 && !chosen.local).then_some(500);
        let out = build::rewrite_response(best, new_status, &[], &extra).unwrap_or(best.clone());
        Some((out, chosen.uri.clone(), chosen.source))
    }

    /// Sends the best response upstream.
    pub(super) fn send_best(&mut self, ctx: CtxId, now: Instant) {
        let best = self.best_response(ctx);
        let Some(c) = self.contexts.get_mut(ctx) else {
            return;
        };
        c.answered();
        let server = c.server;
        let req = c.req.clone();
        // RFC 4320 §4.2: no 408 to a non-INVITE request. The client's own
        // Timer F ends it; the server transaction goes without an answer
        // (the client's retransmissions have stopped by now: its Timer F
        // started before ours).
        let status = best
            .as_ref()
            .map_or(408, |(m, _, _)| m.status().unwrap_or(500));
        let invite = matches!(req.message.method(), Some(sip::Method::Invite));
        if status == 408 && !invite {
            self.stats.drop("non_invite_408");
            if let Some(tx) = server {
                self.remove_tx(tx);
            }
            self.maybe_cleanup(ctx);
            return;
        }
        match (best, server) {
            (Some((m, _, _)), Some(tx)) => {
                let status = m.status().unwrap_or(500);
                self.send_on_server_tx(tx, status, m.as_bytes().clone(), now);
            }
            (None, _) => self.reply_ctx(ctx, &req.message, &Reply::status(408), now),
            _ => {}
        }
        self.maybe_cleanup(ctx);
    }
}
