//! Server-wide counters reported by INFO stats and errorstats, the sampled
//! rates (instantaneous_*) and the allocator/process memory figures.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Default)]
pub struct Stats {
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub rejected_connections: u64,
    pub expired_keys: u64,
    /// Keys deleted to stay under maxmemory.
    pub evicted_keys: u64,
    /// Connections closed by `maxmemory-clients` (INFO evicted_clients).
    pub evicted_clients: u64,
    /// Microseconds memory stayed over maxmemory in finished episodes
    /// (total_eviction_exceeded_time), and when the current one began.
    pub eviction_exceeded_us: u64,
    pub eviction_exceeded_since: Option<Instant>,
    pub expired_stale_perc: f64,
    pub expired_time_cap_reached_count: u64,
    pub expire_cycle_cpu_milliseconds: u64,
    /// Microseconds spent in active expiry (the source of the milliseconds above,
    /// so short cycles are not rounded away).
    pub expire_cycle_time_used_us: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub net_input_bytes: u64,
    /// Bytes read from our master (total_net_repl_input_bytes).
    pub net_repl_input_bytes: u64,
    pub net_output_bytes: u64,
    pub total_error_replies: u64,
    /// Error replies by code (`ERR`, `WRONGTYPE`, ...): INFO errorstats.
    pub errors_by_code: BTreeMap<String, u64>,
    pub unexpected_error_replies: u64,
    /// Shared with the lazy-free thread, which updates it as it frees.
    pub lazyfree: Arc<LazyfreeCounters>,
    /// Socket reads and writes (total_reads_processed / total_writes_processed).
    pub total_reads_processed: u64,
    pub total_writes_processed: u64,
    /// Highest `used_memory` seen (used_memory_peak).
    pub peak_memory: usize,
    /// Allocator and process memory as of the last cron sample.
    pub memory: MemorySample,
    /// instantaneous_ops_per_sec and the kbps figures.
    pub ops_per_sec: InstantaneousMetric,
    pub net_input_per_sec: InstantaneousMetric,
    pub net_output_per_sec: InstantaneousMetric,
    /// When `sample` last took its figures (unix ms).
    last_sample_ms: i64,
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

    /// The cron's sampling (Redis's `trackInstantaneousMetric` and memory
    /// sampling): called every tick, it takes figures every 100 ms whatever
    /// `hz` is, as Redis does, so the rates average over the same window.
    pub fn sample(&mut self, now_ms: i64) {
        if now_ms - self.last_sample_ms < SAMPLE_PERIOD_MS {
            return;
        }
        self.last_sample_ms = now_ms;
        self.ops_per_sec.track(self.total_commands_processed, now_ms);
        self.net_input_per_sec.track(self.net_input_bytes, now_ms);
        self.net_output_per_sec.track(self.net_output_bytes, now_ms);
        self.memory = MemorySample::read();
        self.note_memory_use(used_memory());
    }

    /// Tracks how long memory stays over maxmemory: an eviction attempt
    /// that left it `over` starts (or continues) an episode; one that got
    /// under ends it.
    pub fn note_eviction_outcome(&mut self, over: bool) {
        match (over, self.eviction_exceeded_since) {
            (true, None) => self.eviction_exceeded_since = Some(Instant::now()),
            (false, Some(since)) => {
                self.eviction_exceeded_us += since.elapsed().as_micros() as u64;
                self.eviction_exceeded_since = None;
            }
            _ => {}
        }
    }

    /// Milliseconds of the episode under way (current_eviction_exceeded_time)
    /// and of all of them (total_eviction_exceeded_time).
    pub fn eviction_exceeded_ms(&self) -> (u64, u64) {
        let current = self.eviction_exceeded_since.map_or(0, |since| since.elapsed().as_micros() as u64);
        (current / 1000, (self.eviction_exceeded_us + current) / 1000)
    }

    /// Raises the recorded peak if `used` exceeds it.
    pub fn note_memory_use(&mut self, used: usize) {
        self.peak_memory = self.peak_memory.max(used);
    }
}

/// Milliseconds between two samples of the rates and memory figures.
const SAMPLE_PERIOD_MS: i64 = 100;

/// Samples averaged by an instantaneous metric (Redis's STATS_METRIC_SAMPLES).
const METRIC_SAMPLES: usize = 16;

/// A per-second rate of a growing counter, averaged over the last samples.
#[derive(Debug, Default, Clone)]
pub struct InstantaneousMetric {
    samples: [u64; METRIC_SAMPLES],
    next: usize,
    last_ms: i64,
    last_reading: u64,
}

impl InstantaneousMetric {
    /// Adds the rate since the previous call.
    pub fn track(&mut self, reading: u64, now_ms: i64) {
        let elapsed = now_ms - self.last_ms;
        if self.last_ms != 0 && elapsed > 0 {
            let delta = reading.saturating_sub(self.last_reading);
            self.samples[self.next] = delta * 1000 / elapsed as u64;
            self.next = (self.next + 1) % METRIC_SAMPLES;
        }
        self.last_ms = now_ms;
        self.last_reading = reading;
    }

    /// The average rate per second.
    pub fn per_sec(&self) -> u64 {
        self.samples.iter().sum::<u64>() / METRIC_SAMPLES as u64
    }
}

/// What the allocator and the kernel say about our memory.
#[derive(Debug, Default, Clone, Copy)]
pub struct MemorySample {
    /// Bytes handed out by the allocator (used_memory).
    pub allocated: usize,
    /// Bytes in pages the allocator has in use.
    pub active: usize,
    /// Bytes the allocator holds in physical memory.
    pub resident: usize,
    /// The process's resident set size.
    pub process_rss: usize,
}

impl MemorySample {
    /// Reads fresh figures (advancing jemalloc's statistics epoch first).
    pub fn read() -> MemorySample {
        let _ = tikv_jemalloc_ctl::epoch::advance();
        MemorySample {
            allocated: tikv_jemalloc_ctl::stats::allocated::read().unwrap_or(0),
            active: tikv_jemalloc_ctl::stats::active::read().unwrap_or(0),
            resident: tikv_jemalloc_ctl::stats::resident::read().unwrap_or(0),
            process_rss: process_rss(),
        }
    }
}

/// Resident set size from /proc/self/statm (pages, second field).
fn process_rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(0) as usize;
    pages * page_size
}

pub use crate::allocator::used_memory;

/// Lazy-free counters, written by the main thread (handing work over) and the
/// lazy-free thread (finishing it).
#[derive(Debug, Default)]
pub struct LazyfreeCounters {
    pub pending: AtomicU64,
    pub freed: AtomicU64,
}
