//! The periodic task (Redis's `serverCron`), run `hz` times a second: active
//! expiry, incremental rehashing of the keyspace, idle-client timeouts.

use std::time::{Duration, Instant};

use crate::active_expire::{self, ExpireCycleState};
use crate::log::log_at;
use crate::server::Server;

/// Time spent moving buckets per database per tick.
const REHASH_BUDGET: Duration = Duration::from_millis(1);

#[derive(Default)]
pub struct CronState {
    expire: ExpireCycleState,
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
    if srv.active_expire_enabled {
        active_expire::run(srv, &mut state.expire);
    }
    rehash_databases(srv);
    close_idle_clients(srv);
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
        if srv.now_ms - c.last_interaction_ms > timeout_ms {
            log_at!(Verbose, "Closing idle client");
            c.kill();
        }
    }
}
