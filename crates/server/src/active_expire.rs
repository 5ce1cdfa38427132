//! The active expire cycle: Redis's adaptive sampling of keys with a TTL, run
//! from the cron. Lazy expiry alone would keep keys that are never read again.
//!
//! Each database's expiry dictionary is walked with a SCAN cursor; a database
//! is revisited while more than the acceptable share of sampled keys had
//! expired, within a CPU budget of ~25% of the cron period (raised by
//! `active-expire-effort`).

use std::time::{Duration, Instant};

use cinnabar_storage::SmallBytes;

use crate::server::Server;

const KEYS_PER_LOOP: u64 = 20;
const ACCEPTABLE_STALE_PERCENT: u64 = 10;
const CPU_PERCENT: u64 = 25;
const DBS_PER_CALL: usize = 16;

/// Where the cycle resumes next time (Redis's static `current_db`).
#[derive(Default)]
pub struct ExpireCycleState {
    next_db: usize,
}

pub fn run(srv: &mut Server, state: &mut ExpireCycleState) {
    let effort = (srv.config.active_expire_effort - 1).clamp(0, 9) as u64;
    let keys_per_loop = KEYS_PER_LOOP + KEYS_PER_LOOP / 4 * effort;
    let acceptable_stale = ACCEPTABLE_STALE_PERCENT - effort;
    let hz = srv.config.hz.clamp(1, 500) as u64;
    let budget = Duration::from_micros((CPU_PERCENT + 2 * effort) * 1_000_000 / hz / 100);
    let started = Instant::now();
    let db_count = srv.dbs.len();
    let mut total_sampled = 0u64;
    let mut total_expired = 0u64;

    for _ in 0..db_count.min(DBS_PER_CALL) {
        let db = state.next_db % db_count;
        state.next_db = state.next_db.wrapping_add(1);
        loop {
            if srv.dbs[db].expires_len() == 0 {
                break;
            }
            srv.refresh_time();
            let (sampled, expired) = sample_once(srv, db, keys_per_loop);
            total_sampled += sampled;
            total_expired += expired;
            if started.elapsed() > budget {
                srv.stats.expired_time_cap_reached_count += 1;
                record_stale(srv, total_sampled, total_expired);
                srv.stats.expire_cycle_cpu_milliseconds += started.elapsed().as_millis() as u64;
                return;
            }
            if sampled == 0 || expired * 100 / sampled <= acceptable_stale {
                break;
            }
        }
    }
    record_stale(srv, total_sampled, total_expired);
    srv.stats.expire_cycle_cpu_milliseconds += started.elapsed().as_millis() as u64;
}

/// Samples up to `wanted` keys with a TTL from `db`, deleting the expired ones.
fn sample_once(srv: &mut Server, db: usize, wanted: u64) -> (u64, u64) {
    let now = srv.now_ms;
    let mut due: Vec<SmallBytes> = Vec::new();
    let mut sampled = 0u64;
    let mut ttl_sum = 0i64;
    let mut ttl_count = 0i64;
    let mut buckets = 0u64;
    let mut cursor = srv.dbs[db].expires_cursor;
    while sampled < wanted && buckets < wanted * 20 {
        cursor = srv.dbs[db].scan_expires(cursor, |key, &when| {
            sampled += 1;
            if when <= now {
                due.push(key.clone());
            } else {
                ttl_sum += when - now;
                ttl_count += 1;
            }
        });
        buckets += 1;
        if cursor == 0 {
            break;
        }
    }
    srv.dbs[db].expires_cursor = cursor;
    if ttl_count > 0 {
        let avg = ttl_sum / ttl_count;
        let d = &mut srv.dbs[db];
        // A running average that favours recent samples, as Redis keeps it.
        d.avg_ttl = if d.avg_ttl == 0 { avg } else { (d.avg_ttl / 50) * 49 + avg / 50 };
    }
    let expired = due.len() as u64;
    for key in due {
        srv.expire_key(db, &key);
    }
    (sampled, expired)
}

fn record_stale(srv: &mut Server, sampled: u64, expired: u64) {
    let current = if sampled > 0 { expired as f64 / sampled as f64 } else { 0.0 };
    srv.stats.expired_stale_perc = current * 0.05 + srv.stats.expired_stale_perc * 0.95;
}
