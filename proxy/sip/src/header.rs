//! Typed views of the header fields that routing needs. Each borrows from
//! the message and checks its grammar when parsed.

mod contact;
mod cseq;
mod name_addr;
mod scalar;
pub(crate) mod via;

pub use contact::{Contact, ContactParams};
pub use cseq::CSeq;
pub use name_addr::NameAddr;
pub use scalar::{call_id, delta_seconds, max_forwards, option_tag};
pub use via::Via;
