//! RDB version 10, as Redis 7.0 writes and reads it: the snapshot file, the
//! DUMP/RESTORE payload, and (later) the replication transfer.
//!
//! `io` holds the primitive encodings, `save` and `load` the values and the
//! whole-file layout, `legacy` the encodings older Redis versions wrote that
//! 7.0 still loads (ziplist, zipmap), `dump` the DUMP payload framing.
//!
//! Saving is a pure function of a consistent view of the keyspace
//! (`&[Db]` plus aux fields): the server may hand it a forked child's memory
//! or anything else that stays still while it runs.

pub mod dump;
pub mod io;
mod legacy;
pub mod load;
pub mod save;

pub use load::{load_snapshot, load_value, LoadOptions, Loaded};
pub use save::{save_snapshot, save_value, value_type, AccessMeta, Aux, SaveOptions};

/// The version this crate writes; files up to it load.
pub const RDB_VERSION: u16 = 10;

/// Value types (the byte before a key).
pub mod types {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE_PRE_GA: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
}

/// Opcodes between keys.
pub mod opcodes {
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION_PRE_GA: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// Quicklist node containers (QUICKLIST_2).
pub const QUICKLIST_NODE_PLAIN: u64 = 1;
pub const QUICKLIST_NODE_PACKED: u64 = 2;

/// Why reading or writing RDB failed.
#[derive(Debug)]
pub enum RdbError {
    /// The sink or source failed.
    Io(std::io::Error),
    /// The input ended early (Redis's "Unexpected EOF reading RDB file").
    UnexpectedEof,
    /// The input is not valid RDB; the text says what was wrong.
    Corrupt(String),
}

impl RdbError {
    pub fn corrupt(msg: impl Into<String>) -> RdbError {
        RdbError::Corrupt(msg.into())
    }
}

impl std::fmt::Display for RdbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RdbError::Io(e) => write!(f, "{e}"),
            RdbError::UnexpectedEof => f.write_str("Unexpected EOF reading RDB file"),
            RdbError::Corrupt(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for RdbError {}

#[cfg(test)]
mod tests;
