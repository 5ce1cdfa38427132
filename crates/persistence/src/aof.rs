//! Redis 7.0's multi-part append-only file: the manifest naming the base and
//! incremental files (`manifest`), reading the commands of one AOF file with
//! Redis's truncated-versus-corrupt distinction (`reader`), and writing a
//! dataset as the commands that rebuild it, the AOF-format base file
//! (`rewrite`).
//!
//! Pure `std::io`: no fsync policy, no scheduling, no command execution.

pub mod manifest;
pub mod reader;
pub mod rewrite;

/// What a file that holds an RDB instead of commands starts with (an RDB
/// base, or an old single-file AOF with an RDB preamble).
pub const RDB_SIGNATURE: &[u8] = b"REDIS";
