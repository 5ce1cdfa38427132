//! RESP2/RESP3 wire format: the incremental request parser (with Redis's limits and
//! protocol-error texts), the reply encoder, and the number parsing/formatting rules
//! Redis applies at the protocol boundary.
//!
//! This crate does no I/O and knows nothing of commands or the keyspace: it turns
//! bytes into argument vectors and replies into bytes.

pub mod numbers;
pub mod reply;
pub mod request;

pub use reply::{Reply, RespVersion};
pub use request::{Limits, ParseError, RequestParser};
