//! Responses: the top Via must be the edge's, with a verifying branch and a
//! token saying where the response goes. The edge pops its Via and sends
//! the response there; it never routes a response by the Vias below its own.

use sip::edit::Editor;
use sip::{HeaderName, Message};
use tokencodec::Token;

use crate::action::{Action, DropReason, Target};
use crate::tokens::VIA_TOKEN_PARAM;
use crate::Edge;

pub(crate) fn handle(edge: &Edge, msg: Message, now: u64, notes: &mut crate::Notes) -> Action {
    let Ok(via) = msg.top_via() else {
        return Action::Drop(DropReason::ForeignVia);
    };
    let ours = via
        .branch()
        .is_some_and(|b| edge.codec().verify_branch(b).is_ok());
    let Some(token) = via.params.value(VIA_TOKEN_PARAM).filter(|_| ours) else {
        return Action::Drop(DropReason::ForeignVia);
    };
    let opened = edge.codec().open_any(token, now);
    notes.token = Some(if opened.is_ok() {
        crate::TokenResult::Opened
    } else {
        crate::TokenResult::Rejected
    });
    let target = match opened {
        Ok(opened) => match opened.token {
            Token::Flow(flow) => Target::Flow(flow),
            Token::Route(route) => Target::Backend(route.backend),
        },
        Err(_) => return Action::Drop(DropReason::BadViaToken),
    };
    let mut ed = Editor::new(&msg);
    if let Err(e) = ed.remove_value(HeaderName::Via, 0) {
        return Action::Drop(DropReason::Internal(e.to_string()));
    }
    match ed.finish() {
        Ok(bytes) => Action::Forward {
            target,
            bytes,
            failed: None,
        },
        Err(e) => Action::Drop(DropReason::Internal(e.to_string())),
    }
}
