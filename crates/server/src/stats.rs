//! Server-wide counters reported by INFO stats and errorstats.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct Stats {
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub rejected_connections: u64,
    pub expired_keys: u64,
    pub expired_stale_perc: f64,
    pub expired_time_cap_reached_count: u64,
    pub expire_cycle_cpu_milliseconds: u64,
    /// Microseconds spent in active expiry (the source of the milliseconds above,
    /// so short cycles are not rounded away).
    pub expire_cycle_time_used_us: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub total_error_replies: u64,
    /// Error replies by code (`ERR`, `WRONGTYPE`, ...): INFO errorstats.
    pub errors_by_code: BTreeMap<String, u64>,
    pub unexpected_error_replies: u64,
    /// Shared with the lazy-free thread, which updates it as it frees.
    pub lazyfree: Arc<LazyfreeCounters>,
}

impl Stats {
    /// Counts one error reply under its code, the text before the first space.
    pub fn record_error(&mut self, message: &str) {
        self.total_error_replies += 1;
        let code = message.split(' ').next().unwrap_or("ERR");
        *self.errors_by_code.entry(code.to_string()).or_insert(0) += 1;
    }

    /// INFO `lazyfree_pending_objects`: objects handed to the background thread
    /// and not freed yet.
    pub fn lazyfree_pending_objects(&self) -> u64 {
        self.lazyfree.pending.load(Ordering::Relaxed)
    }

    /// INFO `lazyfreed_objects`: objects freed in the background.
    pub fn lazyfreed_objects(&self) -> u64 {
        self.lazyfree.freed.load(Ordering::Relaxed)
    }

    /// CONFIG RESETSTAT. Pending lazy frees are work still under way, so only
    /// the freed count restarts (as in Redis).
    pub fn reset(&mut self) {
        let lazyfree = self.lazyfree.clone();
        lazyfree.freed.store(0, Ordering::Relaxed);
        *self = Stats { lazyfree, ..Stats::default() };
    }
}

/// Lazy-free counters, written by the main thread (handing work over) and the
/// lazy-free thread (finishing it).
#[derive(Debug, Default)]
pub struct LazyfreeCounters {
    pub pending: AtomicU64,
    pub freed: AtomicU64,
}
