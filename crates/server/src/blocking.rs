//! Clients blocked on keys (BLPOP, BZPOPMIN and friends; later XREAD BLOCK):
//! who waits on which key of which database, in arrival order, with what
//! deadline, and the serving of waiters once a write makes a key ready.
//!
//! A command that cannot be served now calls `Ctx::block`; dispatch then
//! parks the client here and its connection stops processing input. Writes
//! that may make a key ready call `Ctx::signal_key_ready` (`Ctx::set_key`
//! does it for every key it creates, as Redis's `dbAdd`). After each command,
//! `serve_ready_keys` re-runs the blocked command of each waiter of each
//! ready key, first come first served, in "serving" mode: the handler only
//! looks at the ready key and either completes (it is then propagated and
//! counted like any command) or asks to stay blocked (the key is gone, empty,
//! or of another type: Redis 7.0 leaves such clients blocked, except that
//! XREADGROUP is told with an error; a deleted stream is signalled for it).
//!
//! Timeouts are driven by the connection task's timer (`deadline_of`), which
//! calls `expire_if_due`; disconnection forgets the client (`forget`).

use std::collections::{HashMap, VecDeque};

use cinnabar_protocol::numbers::parse_f64;

use crate::client::{Client, ClientId};
use crate::command::{dispatch, CmdError};
use crate::server::Server;

/// What a blocked client waits for.
#[derive(Debug)]
pub struct BlockedOn {
    pub db: usize,
    pub keys: Vec<Vec<u8>>,
    /// Unix milliseconds; 0 waits forever.
    pub deadline_ms: i64,
    /// The command to re-run when one of the keys is ready.
    pub argv: Vec<Vec<u8>>,
    /// How long the run that blocked took, added to the served run's duration.
    pub blocked_run_us: u64,
}

impl BlockedOn {
    /// XREADGROUP: it must hear that its stream was deleted.
    fn waits_for_a_group(&self) -> bool {
        self.argv[0].eq_ignore_ascii_case(b"xreadgroup")
    }
}

/// How a blocked client is released without being served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// As if its timeout passed: the null reply.
    Timeout,
    /// CLIENT UNBLOCK ... ERROR.
    Error,
}

/// The blocked-clients registry; see the module comment.
#[derive(Default)]
pub struct Blocking {
    waiters: HashMap<(usize, Vec<u8>), VecDeque<ClientId>>,
    clients: HashMap<ClientId, BlockedOn>,
    /// Keys signalled since the last serving pass, in signal order, once each.
    ready: Vec<(usize, Vec<u8>)>,
}

impl Blocking {
    /// How many clients are blocked on keys.
    pub fn count(&self) -> usize {
        self.clients.len()
    }

    /// How many blocked clients have a deadline (INFO clients_in_timeout_table).
    pub fn with_deadline(&self) -> usize {
        self.clients.values().filter(|b| b.deadline_ms != 0).count()
    }

    /// The client's deadline in unix milliseconds, if it is blocked with one.
    pub fn deadline_of(&self, id: ClientId) -> Option<i64> {
        self.clients.get(&id).map(|b| b.deadline_ms).filter(|&d| d != 0)
    }

    pub fn block(&mut self, id: ClientId, on: BlockedOn) {
        for key in &on.keys {
            let queue = self.waiters.entry((on.db, key.clone())).or_default();
            // BLPOP k k waits once per key.
            if !queue.contains(&id) {
                queue.push_back(id);
            }
        }
        self.clients.insert(id, on);
    }

    /// Removes the client from every queue it is in.
    pub fn forget(&mut self, id: ClientId) -> Option<BlockedOn> {
        let on = self.clients.remove(&id)?;
        for key in &on.keys {
            let slot = (on.db, key.clone());
            if let Some(queue) = self.waiters.get_mut(&slot) {
                queue.retain(|&c| c != id);
                if queue.is_empty() {
                    self.waiters.remove(&slot);
                }
            }
        }
        Some(on)
    }

    /// Notes that `key` in `db` may now serve its waiters, if it has any.
    pub fn signal(&mut self, db: usize, key: &[u8]) {
        if self.waiters.is_empty() || !self.waiters.contains_key(&(db, key.to_vec())) {
            return;
        }
        if !self.ready.iter().any(|(d, k)| *d == db && k == key) {
            self.ready.push((db, key.to_vec()));
        }
    }

    /// The keys of `db` that clients wait on.
    pub fn keys_waited_in(&self, db: usize) -> Vec<Vec<u8>> {
        self.waiters.keys().filter(|(d, _)| *d == db).map(|(_, k)| k.clone()).collect()
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    fn waiters_of(&self, db: usize, key: &[u8]) -> Vec<ClientId> {
        self.waiters.get(&(db, key.to_vec())).map(|q| q.iter().copied().collect()).unwrap_or_default()
    }
}

/// COMMAND DOCS history of the blocking commands whose timeout was an integer
/// before 6.0 (BLPOP, BRPOP, BRPOPLPUSH, BZPOPMIN, BZPOPMAX).
pub const TIMEOUT_HISTORY: &[(&str, &str)] =
    &[("6.0.0", "`timeout` is interpreted as a double instead of an integer.")];

/// Parses a blocking command's timeout in seconds (fractions allowed) into a
/// deadline in unix milliseconds, 0 meaning forever, with Redis 7.0's errors.
pub fn parse_timeout(arg: &[u8], now_ms: i64) -> Result<i64, CmdError> {
    let seconds = parse_f64(arg).ok_or("ERR timeout is not a float or out of range")?;
    let ms = (seconds * 1000.0).ceil();
    // Redis 7.0 converts to an integer unchecked, so a value past the range
    // (inf included) comes out as LLONG_MIN: "negative".
    let ms = if ms < i64::MAX as f64 { ms as i64 } else { i64::MIN };
    if ms < 0 {
        return Err("ERR timeout is negative".into());
    }
    if ms == 0 {
        return Ok(0);
    }
    if ms > i64::MAX - now_ms {
        return Err("ERR timeout is out of range".into());
    }
    Ok(now_ms + ms)
}

/// Serves the waiters of every ready key, FIFO per key, until no key is
/// ready (a served BLMOVE may make its destination ready in turn).
pub fn serve_ready_keys(srv: &mut Server) {
    while srv.blocking.has_ready() {
        let ready = std::mem::take(&mut srv.blocking.ready);
        for (db, key) in ready {
            for id in srv.blocking.waiters_of(db, &key) {
                // XREADGROUP is told when its stream is gone; others wait on.
                let group_reader = srv.blocking.clients.get(&id).is_some_and(BlockedOn::waits_for_a_group);
                if !group_reader && !srv.dbs[db].contains(&key) {
                    continue;
                }
                serve_one(srv, id, &key);
            }
        }
    }
}

/// Re-runs the blocked command of client `id` against the ready `key`.
fn serve_one(srv: &mut Server, id: ClientId, key: &[u8]) {
    let Some(handle) = srv.clients.get(&id).cloned() else { return };
    // The client running the current command is borrowed by its connection; it
    // cannot be blocked.
    let Ok(mut client) = handle.try_borrow_mut() else { return };
    let Some((argv, blocked_run_us)) = srv.blocking.clients.get(&id).map(|b| (b.argv.clone(), b.blocked_run_us)) else {
        return;
    };
    let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    if dispatch::serve_blocked(srv, &mut client, &args, key, blocked_run_us) {
        srv.blocking.forget(id);
        wake(&mut client);
    }
}

fn wake(client: &mut Client) {
    client.blocked = false;
    client.wake.notify_one();
}

/// Releases `client` with a timeout reply if its deadline has passed.
pub fn expire_if_due(srv: &mut Server, client: &mut Client) {
    let due = srv.blocking.deadline_of(client.id).is_some_and(|d| srv.now_ms >= d);
    if due {
        release(srv, client, Release::Timeout);
    }
}

/// Unblocks `client` without serving it (timeout or CLIENT UNBLOCK). False if
/// it was not blocked on keys.
pub fn release(srv: &mut Server, client: &mut Client, how: Release) -> bool {
    if srv.blocking.forget(client.id).is_none() {
        return false;
    }
    let reply_mark = client.reply.len();
    match how {
        // Lists, sorted sets and streams all time out with the null array in 7.0.
        Release::Timeout => match crate::replication::master::wait_timed_out(srv, client.id) {
            // WAIT answers how many replicas got there.
            Some(acked) => client.reply.int(acked),
            None => client.reply.null_array(),
        },
        Release::Error => {
            const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";
            srv.stats.record_error(UNBLOCKED);
            client.reply.error(UNBLOCKED);
        }
    }
    dispatch::settle_reply_mode(client, reply_mark);
    if let Some(cmd) = client.last_command_id {
        let stats = &mut srv.commands.get_mut(cmd).stats;
        stats.calls += 1;
        if how == Release::Error {
            stats.failed_calls += 1;
        }
    }
    wake(client);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_like_redis() {
        assert_eq!(parse_timeout(b"0", 1000), Ok(0));
        assert_eq!(parse_timeout(b"1.5", 1000), Ok(2500));
        assert_eq!(parse_timeout(b"0.0001", 1000), Ok(1001));
        assert_eq!(parse_timeout(b"-1", 0), Err("ERR timeout is negative".into()));
        assert_eq!(parse_timeout(b"abc", 0), Err("ERR timeout is not a float or out of range".into()));
        assert_eq!(parse_timeout(b"inf", 0), Err("ERR timeout is negative".into()));
        assert_eq!(parse_timeout(b"1e20", 0), Err("ERR timeout is negative".into()));
    }

    #[test]
    fn waiters_are_fifo_and_forgotten() {
        let mut b = Blocking::default();
        let on = |keys: &[&[u8]]| BlockedOn {
            db: 0,
            keys: keys.iter().map(|k| k.to_vec()).collect(),
            deadline_ms: 0,
            argv: Vec::new(),
            blocked_run_us: 0,
        };
        b.block(3, on(&[b"a"]));
        b.block(1, on(&[b"a", b"b"]));
        b.block(2, on(&[b"a"]));
        assert_eq!(b.waiters_of(0, b"a"), vec![3, 1, 2]);
        b.forget(1);
        assert_eq!(b.waiters_of(0, b"a"), vec![3, 2]);
        assert!(b.waiters_of(0, b"b").is_empty());
        b.signal(0, b"b");
        assert!(!b.has_ready());
        b.signal(0, b"a");
        b.signal(0, b"a");
        assert_eq!(b.ready.len(), 1);
    }
}
