//! Client eviction (`maxmemory-clients`, Redis 7.0): when the memory held by
//! all normal and pub/sub connections (their state, query and output
//! buffers, queued transactions: what CLIENT LIST reports as `tot-mem`)
//! reaches the limit, the connections using the most are closed until it is
//! under again. Our master's and our replicas' links and clients with
//! CLIENT NO-EVICT are never closed (their memory still counts, as in
//! Redis). Checked before each command (the caller's own memory included;
//! if the caller is the one evicted its command does not run) and by the
//! cron, which catches query buffers growing between commands.
//!
//! A pass measures every connection (Redis keeps per-client memory in
//! buckets updated incrementally; a scan is simpler). So that a command does
//! not pay for a scan each time, the total the last pass found is kept:
//! before a command the scan runs only when that total plus the caller's
//! memory now reaches the limit (the caller counted twice errs on the side
//! of scanning); the cron's pass keeps the total fresh. Nothing of this runs
//! while `maxmemory-clients` is 0 (the default).

use crate::client::{Client, ClientType};
use crate::log::log_at;
use crate::server::Server;

/// Redis never lets the limit go below this (a few clients' buffers).
const MIN_LIMIT: usize = 128 * 1024;

/// The limit in bytes, None when client eviction is off: 0, or a percentage
/// of an unset `maxmemory`.
fn limit(srv: &Server) -> Option<usize> {
    let bytes = match srv.config.maxmemory_clients {
        0 => return None,
        bytes if bytes > 0 => bytes as usize,
        percent => {
            let maxmemory = srv.config.maxmemory as u128;
            if maxmemory == 0 {
                return None;
            }
            (maxmemory * (-percent) as u128 / 100) as usize
        }
    };
    Some(bytes.max(MIN_LIMIT))
}

/// Whether the client's memory counts toward the limit.
fn counted(c: &Client) -> bool {
    matches!(c.client_type(), ClientType::Normal | ClientType::PubSub) && c.fd >= 0
}

/// Whether the client may be closed to get under the limit.
fn evictable(c: &Client) -> bool {
    counted(c) && !c.no_evict && !c.close_asap
}

/// Closes the biggest evictable connections while client memory is at or
/// over the limit. `caller` is the client running a command now (its state
/// is borrowed by the caller). Returns true if the caller was evicted.
pub fn evict_clients(srv: &mut Server, caller: Option<&mut Client>) -> bool {
    let Some(limit) = limit(srv) else { return false };
    if let Some(c) = caller.as_deref() {
        if srv.clients_memory_seen + c.memory() < limit {
            return false;
        }
    }
    let caller_id = caller.as_ref().map(|c| c.id);
    // (memory, id) of every counted client; the caller's measured directly.
    let mut candidates = Vec::new();
    let mut total = 0usize;
    for client in srv.clients.values() {
        let Ok(c) = client.try_borrow() else { continue };
        if Some(c.id) != caller_id && counted(&c) {
            total += c.memory();
            if evictable(&c) {
                candidates.push((c.memory(), c.id));
            }
        }
    }
    if let Some(c) = caller.as_deref() {
        if counted(c) {
            total += c.memory();
            if evictable(c) {
                candidates.push((c.memory(), c.id));
            }
        }
    }
    srv.clients_memory_seen = total;
    if total < limit {
        return false;
    }
    candidates.sort_unstable_by(|a, b| b.cmp(a));
    let mut caller = caller;
    let mut caller_evicted = false;
    for (memory, id) in candidates {
        if total < limit {
            break;
        }
        total -= memory;
        srv.stats.evicted_clients += 1;
        if Some(id) == caller_id {
            let c = caller.as_deref_mut().expect("the caller is a candidate");
            log_at!(Notice, "Evicting client: {}", c.info_line(srv, 0));
            c.kill();
            caller_evicted = true;
        } else if let Some(client) = srv.clients.get(&id).cloned() {
            let mut c = client.borrow_mut();
            log_at!(Notice, "Evicting client: {}", c.info_line(srv, 0));
            c.kill();
        }
    }
    srv.clients_memory_seen = total;
    if total >= limit {
        log_at!(Warning, "Over client maxmemory after evicting all evictable clients");
    }
    caller_evicted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn limit_for(maxmemory: i64, maxmemory_clients: i64) -> Option<usize> {
        let mut config = Config::new();
        config.maxmemory = maxmemory;
        config.maxmemory_clients = maxmemory_clients;
        limit(&Server::new(config))
    }

    #[test]
    fn the_limit_is_bytes_or_a_share_of_maxmemory_and_never_below_128k() {
        assert_eq!(limit_for(0, 0), None);
        assert_eq!(limit_for(0, 5 << 20), Some(5 << 20));
        assert_eq!(limit_for(0, 1000), Some(128 * 1024));
        assert_eq!(limit_for(100 << 20, -5), Some(5 << 20));
        // A percentage of no maxmemory is no limit.
        assert_eq!(limit_for(0, -5), None);
        assert_eq!(limit_for(1 << 20, -1), Some(128 * 1024));
    }
}
