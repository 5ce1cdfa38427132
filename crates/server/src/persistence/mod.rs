//! Persistence drivers: what the server does with the file formats of the
//! persistence crate. `rdb` saves snapshots (SAVE, BGSAVE, save points,
//! shutdown, FLUSHALL, DEBUG RELOAD) and loads them at start-up; `aof`
//! appends the replication stream to the multi-part AOF, fsyncs it, loads it
//! and rewrites it; `fork` runs background children and reports their
//! copy-on-write cost.
//!
//! `RdbState` is the bookkeeping INFO persistence reports. Nothing here
//! parses or encodes RDB itself.

pub mod aof;
pub mod fork;
pub mod rdb;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// True while a persistence child runs (a BGSAVE, or a snapshot streamed to
/// replicas): Redis runs one child at a time.
pub fn child_running(srv: &crate::server::Server) -> bool {
    srv.rdb.child.is_some() || srv.repl.master_side.diskless_child.is_some()
}

/// A BGSAVE child and what it has told us.
pub struct BgsaveChild {
    pub child: fork::Child,
    pub started_unix: i64,
    /// Keys in the snapshot (current_save_keys_total).
    pub keys_total: u64,
    pub info: fork::ChildInfo,
    pub cow_peak: u64,
}

/// The start-up load in progress (INFO `loading:1` and its fields).
pub struct Loading {
    pub start_unix: i64,
    pub total_bytes: u64,
    pub loaded_bytes: Arc<AtomicU64>,
}

/// Snapshot bookkeeping; see the module comment.
pub struct RdbState {
    pub child: Option<BgsaveChild>,
    /// False after a failed BGSAVE (rdb_last_bgsave_status:err, MISCONF).
    pub last_bgsave_ok: bool,
    /// Duration of the last BGSAVE in seconds, -1 before the first.
    pub last_bgsave_time_sec: i64,
    /// SAVE and BGSAVE runs (rdb_saves).
    pub saves: u64,
    pub last_cow_size: u64,
    /// `dirty` when the running BGSAVE forked: changes after it stay dirty.
    pub dirty_before_bgsave: u64,
    /// Unix time of the last BGSAVE attempt (failed ones are retried after
    /// a delay).
    pub last_bgsave_try: i64,
    pub latest_fork_usec: u64,
    pub total_forks: u64,
    pub last_load_keys_loaded: u64,
    pub last_load_keys_expired: u64,
    pub loading: Option<Loading>,
}

impl Default for RdbState {
    fn default() -> Self {
        RdbState {
            child: None,
            last_bgsave_ok: true,
            last_bgsave_time_sec: -1,
            saves: 0,
            last_cow_size: 0,
            dirty_before_bgsave: 0,
            last_bgsave_try: 0,
            latest_fork_usec: 0,
            total_forks: 0,
            last_load_keys_loaded: 0,
            last_load_keys_expired: 0,
            loading: None,
        }
    }
}
