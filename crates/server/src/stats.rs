//! Server-wide counters reported by INFO stats and errorstats.

use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct Stats {
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub rejected_connections: u64,
    pub expired_keys: u64,
    pub expired_stale_perc: f64,
    pub expired_time_cap_reached_count: u64,
    pub expire_cycle_cpu_milliseconds: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub total_error_replies: u64,
    /// Error replies by code (`ERR`, `WRONGTYPE`, ...): INFO errorstats.
    pub errors_by_code: BTreeMap<String, u64>,
    pub unexpected_error_replies: u64,
    pub lazyfree_pending_objects: u64,
    pub lazyfreed_objects: u64,
}

impl Stats {
    /// Counts one error reply under its code, the text before the first space.
    pub fn record_error(&mut self, message: &str) {
        self.total_error_replies += 1;
        let code = message.split(' ').next().unwrap_or("ERR");
        *self.errors_by_code.entry(code.to_string()).or_insert(0) += 1;
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&mut self) {
        *self = Stats::default();
    }
}
