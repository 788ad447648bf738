//! `heliograph-load`: drives a running Signal-compatible server over the real wire protocol
//! (TLS, WebSocket over HTTP/1.1 or HTTP/2) with simulated devices that register through the
//! test-mode API, upload keys, connect and exchange opaque payloads of realistic size; and
//! `heliograph-echo`, the minimal relay used as the transport's own baseline.
//!
//! Scenarios live in [`scenarios`]; see `docs/benchmarks.md` for how to run them and what
//! the figures mean.

pub mod account;
pub mod echo;
pub mod payload;
pub mod report;
pub mod scenarios;
pub mod server;
pub mod socket;
pub mod stats;
pub mod transport;
