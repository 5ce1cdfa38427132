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
//! The pass measures every connection: Redis keeps per-client memory in
//! buckets updated incrementally; a scan is simpler and costs nothing while
//! `maxmemory-clients` is 0 (the default).

use crate::client::{Client, ClientType};
use crate::log::log_at;
use crate::server::Server;

/// The limit in bytes, None when client eviction is off: 0, or a percentage
/// of an unset `maxmemory`.
fn limit(srv: &Server) -> Option<usize> {
    match srv.config.maxmemory_clients {
        0 => None,
        bytes if bytes > 0 => Some(bytes as usize),
        percent => {
            let maxmemory = srv.config.maxmemory as u128;
            (maxmemory > 0).then(|| (maxmemory * (-percent) as u128 / 100) as usize)
        }
    }
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
            log_at!(Verbose, "Evicting client: {}", c.info_line(srv, 0));
            c.kill();
            caller_evicted = true;
        } else if let Some(client) = srv.clients.get(&id).cloned() {
            let mut c = client.borrow_mut();
            log_at!(Verbose, "Evicting client: {}", c.info_line(srv, 0));
            c.kill();
        }
    }
    caller_evicted
}
