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

/// True while a persistence child runs (a BGSAVE, an AOF rewrite, or a
/// snapshot streamed to replicas): Redis runs one child at a time.
pub fn child_running(srv: &crate::server::Server) -> bool {
    rdb_child_running(srv) || srv.aof.rewrite.child.is_some()
}

/// True while a child writes an RDB snapshot (to disk or to replicas):
/// Redis's `child_type == CHILD_TYPE_RDB`.
pub fn rdb_child_running(srv: &crate::server::Server) -> bool {
    srv.rdb.child.is_some() || srv.repl.master_side.diskless_child.is_some()
}

/// Called whenever a child starts or ends: the key tables do not resize
/// while a child shares their pages (a resize would copy them all).
pub fn child_changed(srv: &mut crate::server::Server) {
    let allowed = !child_running(srv);
    for db in &mut srv.dbs {
        db.allow_resize(allowed);
    }
}

/// Records a fork's cost (INFO latest_fork_usec, total_forks, the `fork`
/// latency event).
pub fn record_fork(srv: &mut crate::server::Server, child: &fork::Child) {
    let fork_usec = child.fork_time.as_micros() as u64;
    srv.rdb.latest_fork_usec = fork_usec;
    srv.rdb.total_forks += 1;
    let threshold = srv.config.latency_monitor_threshold;
    srv.latency.add_if_needed(threshold, "fork", fork_usec / 1000, srv.now_ms / 1000);
}

/// The running BGSAVE or AOF rewrite child, for INFO's `current_*` fields.
pub fn current_child(srv: &crate::server::Server) -> Option<&ChildJob> {
    srv.rdb.child.as_ref().or(srv.aof.rewrite.child.as_ref())
}

/// A BGSAVE or AOF rewrite child and what it has told us.
pub struct ChildJob {
    pub child: fork::Child,
    pub started_unix: i64,
    /// Keys in the snapshot (current_save_keys_total).
    pub keys_total: u64,
    pub info: fork::ChildInfo,
    pub cow_peak: u64,
}

impl ChildJob {
    pub fn new(child: fork::Child, keys_total: u64) -> ChildJob {
        let started_unix = crate::server::unix_ms() / 1000;
        ChildJob { child, started_unix, keys_total, info: fork::ChildInfo::default(), cow_peak: 0 }
    }

    /// Takes in the child's reports and returns its exit if it ended
    /// (never blocks).
    pub fn poll(&mut self) -> Option<fork::Exit> {
        self.child.receive_info(&mut self.info);
        self.cow_peak = self.cow_peak.max(self.info.cow_bytes);
        let exit = self.child.try_reap()?;
        // Reports written just before the exit.
        self.child.receive_info(&mut self.info);
        Some(exit)
    }

    /// The copy-on-write size the child reported at its successful end.
    pub fn final_cow_size(&self) -> Option<u64> {
        self.info.done.then_some(self.info.cow_bytes)
    }
}

/// The start-up load in progress (INFO `loading:1` and its fields).
pub struct Loading {
    pub start_unix: i64,
    pub total_bytes: u64,
    pub loaded_bytes: Arc<AtomicU64>,
}

/// Snapshot bookkeeping; see the module comment.
pub struct RdbState {
    pub child: Option<ChildJob>,
    /// BGSAVE SCHEDULE (or BGSAVE in a transaction) waits for the running
    /// child: run it from the cron.
    pub bgsave_scheduled: bool,
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
            bgsave_scheduled: false,
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
