//! The active expire cycle: Redis's adaptive sampling of keys with a TTL, run
//! from the cron (Redis's slow cycle). Lazy expiry alone would keep keys that
//! are never read again.
//!
//! Each call visits up to 16 databases (all of them after a call that ran out
//! of time), walking each one's expiry dictionary with a SCAN cursor that
//! persists across calls. A database is sampled again while more than the
//! acceptable share of the sampled keys had expired, within a CPU budget of
//! 25% of the cron period. `active-expire-effort` raises the keys sampled per
//! round, the budget and the ambition, as in Redis. INFO reports the outcome:
//! `expired_keys`, `expired_stale_perc`, `expired_time_cap_reached_count`,
//! `expire_cycle_cpu_milliseconds`, and each database's `avg_ttl`.

use std::time::{Duration, Instant};

use cinnabar_storage::SmallBytes;

use crate::server::Server;

const KEYS_PER_LOOP: u64 = 20;
const ACCEPTABLE_STALE_PERCENT: u64 = 10;
const CPU_PERCENT: u64 = 25;
const DBS_PER_CALL: usize = 16;
/// Redis's initial hash table size: smaller tables are never "sparse".
const INITIAL_BUCKETS: usize = 4;
/// The clock is read once per this many sampling rounds.
const ROUNDS_PER_TIME_CHECK: u64 = 16;

/// What the cycle carries from one call to the next.
#[derive(Default)]
pub struct ExpireCycleState {
    /// Where the next call starts (Redis's static `current_db`).
    next_db: usize,
    /// The previous call stopped on its time limit, so there is a backlog.
    hit_time_limit: bool,
}

/// The cycle's parameters for the configured `active-expire-effort`.
struct Tuning {
    keys_per_loop: u64,
    acceptable_stale: u64,
    budget: Duration,
}

impl Tuning {
    fn for_server(srv: &Server) -> Tuning {
        let effort = (srv.config.active_expire_effort - 1).clamp(0, 9) as u64;
        let hz = srv.config.hz.clamp(1, 500) as u64;
        Tuning {
            keys_per_loop: KEYS_PER_LOOP + KEYS_PER_LOOP / 4 * effort,
            acceptable_stale: ACCEPTABLE_STALE_PERCENT - effort,
            budget: Duration::from_micros(((CPU_PERCENT + 2 * effort) * 1_000_000 / hz / 100).max(1)),
        }
    }
}

/// The result of one sampling round.
#[derive(Default, Clone, Copy)]
struct Sample {
    sampled: u64,
    expired: u64,
}

impl Sample {
    /// True while the database still looks stale enough to sample again
    /// (or the round found nothing to judge by).
    fn worth_repeating(&self, acceptable_stale: u64) -> bool {
        self.sampled == 0 || self.expired * 100 / self.sampled > acceptable_stale
    }
}

pub fn run(srv: &mut Server, state: &mut ExpireCycleState) {
    let tuning = Tuning::for_server(srv);
    let started = Instant::now();
    let db_count = srv.dbs.len();
    let dbs_this_call = if state.hit_time_limit { db_count } else { db_count.min(DBS_PER_CALL) };
    state.hit_time_limit = false;
    let mut total = Sample::default();
    let mut rounds = 0u64;

    'databases: for _ in 0..dbs_this_call {
        let db = state.next_db % db_count;
        // Advance first, so running out of time here resumes at the next one.
        state.next_db = state.next_db.wrapping_add(1);
        loop {
            rounds += 1;
            if srv.dbs[db].expires_len() == 0 {
                srv.dbs[db].avg_ttl = 0;
                break;
            }
            if is_sparse(srv, db) {
                // Sampling would mostly hit empty buckets; the cron shrinks the table.
                break;
            }
            srv.refresh_time();
            let sample = sample_once(srv, db, tuning.keys_per_loop);
            total.sampled += sample.sampled;
            total.expired += sample.expired;
            if rounds.is_multiple_of(ROUNDS_PER_TIME_CHECK) && started.elapsed() > tuning.budget {
                state.hit_time_limit = true;
                srv.stats.expired_time_cap_reached_count += 1;
                break 'databases;
            }
            if !sample.worth_repeating(tuning.acceptable_stale) {
                break;
            }
        }
    }
    record_cycle(srv, total, started.elapsed());
}

/// Fewer than 1% of the expiry table's buckets are in use.
fn is_sparse(srv: &Server, db: usize) -> bool {
    let keys = srv.dbs[db].expires_len();
    let (_, buckets) = srv.dbs[db].bucket_count();
    buckets > INITIAL_BUCKETS && keys * 100 / buckets < 1
}

/// Samples up to `keys_per_loop` keys with a TTL from `db` (visiting at most
/// twenty buckets per wanted key), deleting the expired ones.
fn sample_once(srv: &mut Server, db: usize, keys_per_loop: u64) -> Sample {
    let now = srv.now_ms;
    let wanted = keys_per_loop.min(srv.dbs[db].expires_len() as u64);
    let mut due: Vec<SmallBytes> = Vec::new();
    let mut sample = Sample::default();
    let mut ttl_sum = 0i64;
    let mut ttl_count = 0i64;
    let mut cursor = srv.dbs[db].expires_cursor;
    let mut buckets = 0u64;
    while sample.sampled < wanted && buckets < wanted * 20 {
        cursor = srv.dbs[db].scan_expires(cursor, |key, &when| {
            sample.sampled += 1;
            if when < now {
                due.push(key.clone());
            } else {
                ttl_sum = ttl_sum.saturating_add(when - now);
                ttl_count += 1;
            }
        });
        buckets += 1;
    }
    srv.dbs[db].expires_cursor = cursor;
    if ttl_count > 0 {
        update_avg_ttl(&mut srv.dbs[db].avg_ttl, ttl_sum / ttl_count);
    }
    sample.expired = due.len() as u64;
    for key in due {
        srv.expire_key(db, &key, None);
    }
    sample
}

/// A running average weighing the newest sample at 2%, seeded by the first.
fn update_avg_ttl(avg: &mut i64, sample: i64) {
    if *avg == 0 {
        *avg = sample;
    }
    *avg = (*avg / 50) * 49 + sample / 50;
}

/// Updates the INFO counters after a call: time used, and the estimated share
/// of keys that are logically expired but still stored (a running average
/// weighing this call at 5%).
fn record_cycle(srv: &mut Server, total: Sample, elapsed: Duration) {
    let stats = &mut srv.stats;
    stats.expire_cycle_time_used_us += elapsed.as_micros() as u64;
    stats.expire_cycle_cpu_milliseconds = stats.expire_cycle_time_used_us / 1000;
    let current = if total.sampled > 0 { total.expired as f64 / total.sampled as f64 } else { 0.0 };
    stats.expired_stale_perc = current * 0.05 + stats.expired_stale_perc * 0.95;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avg_ttl_is_seeded_then_smoothed() {
        let mut avg = 0;
        update_avg_ttl(&mut avg, 1000);
        assert_eq!(avg, 1000);
        update_avg_ttl(&mut avg, 6000);
        assert_eq!(avg, 980 + 120);
    }

    #[test]
    fn an_empty_or_stale_round_repeats() {
        assert!(Sample { sampled: 0, expired: 0 }.worth_repeating(10));
        assert!(Sample { sampled: 20, expired: 3 }.worth_repeating(10));
        assert!(!Sample { sampled: 20, expired: 2 }.worth_repeating(10));
    }
}
