//! The two roles side by side: each builds what it serves over its bound
//! UDP sockets and hands it to the lifecycle ([`crate::lifecycle`]).

pub(crate) mod core;
pub(crate) mod edge;
