//! The script engine end to end: scripts loaded from files, run against
//! requests, with an in-memory host.
#![allow(clippy::unwrap_used)]

mod support;

mod api;
mod auth;
mod compat;
mod deploy;
mod lifecycle;
mod numbers;
