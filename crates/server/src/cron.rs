//! The periodic task (Redis's `serverCron`), run `hz` times a second: active
//! expiry (timed for the latency monitor), incremental rehashing of the
//! keyspace, idle-client timeouts and client eviction, sampling of rates
//! and memory, the AOF's periodic flush and rewrite checks, the snapshot
//! driver's reaping of BGSAVE children and `save` points, and once a second
//! replication's duties (PINGs, timeouts, pending full syncs, FAILOVER).

use std::time::{Duration, Instant};

use crate::active_expire::{self, ExpireCycleState};
use crate::log::log_at;
use crate::server::Server;

/// Time spent moving buckets per database per tick.
const REHASH_BUDGET: Duration = Duration::from_millis(1);

#[derive(Default)]
pub struct CronState {
    expire: ExpireCycleState,
    /// The unix second of the last once-a-second duties.
    last_second: i64,
}

/// The period between ticks for the configured `hz`.
pub fn period(srv: &Server) -> Duration {
    Duration::from_micros(1_000_000 / srv.config.hz.clamp(1, 500) as u64)
}

pub fn tick(srv: &mut Server, state: &mut CronState) {
    if srv.cron_paused {
        return;
    }
    srv.refresh_time();
    srv.stats.sample(srv.now_ms);
    // While the AOF replays, the dataset is half built: nothing may expire,
    // be saved or rewritten yet (Redis runs no serverCron while loading).
    if srv.loading {
        return;
    }
    let expire_started = Instant::now();
    // Replicas leave expiry to their master's DELs.
    if srv.active_expire_enabled && !srv.repl.is_replica() {
        active_expire::run(srv, &mut state.expire);
    }
    // Expired streams tell their blocked group readers (Redis's beforeSleep).
    if srv.blocking.has_ready() {
        crate::blocking::serve_ready_keys(srv);
    }
    // Keys expired by the cycle reach BCAST clients now (Redis's beforeSleep).
    crate::tracking::broadcast(srv, None);
    let expire_ms = expire_started.elapsed().as_millis() as u64;
    srv.latency.add_if_needed(srv.config.latency_monitor_threshold, "expire-cycle", expire_ms, srv.now_ms / 1000);
    rehash_databases(srv);
    crate::tracking::limit_table(srv);
    close_idle_clients(srv);
    crate::client_eviction::evict_clients(srv, None);
    crate::persistence::aof::cron(srv);
    crate::persistence::rdb::cron(srv);
    if srv.now_ms / 1000 != state.last_second {
        state.last_second = srv.now_ms / 1000;
        crate::replication::cron(srv);
    }
}

fn rehash_databases(srv: &mut Server) {
    for db in &mut srv.dbs {
        let started = Instant::now();
        while db.incremental_rehash(100) && started.elapsed() < REHASH_BUDGET {}
    }
}

fn close_idle_clients(srv: &mut Server) {
    let timeout_ms = srv.config.timeout * 1000;
    if timeout_ms == 0 {
        return;
    }
    for client in srv.clients.values() {
        let Ok(mut c) = client.try_borrow_mut() else { continue };
        // Monitors and clients waiting out a CLIENT PAUSE or blocked on keys
        // are exempt, as in Redis.
        if c.monitor || c.postponed || c.blocked {
            continue;
        }
        if srv.now_ms - c.last_interaction_ms > timeout_ms {
            log_at!(Verbose, "Closing idle client");
            c.kill();
        }
    }
}
