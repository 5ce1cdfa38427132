//! Client-side caching (CLIENT TRACKING): which clients read which keys, the
//! BCAST prefixes and the keys changed under them since the last broadcast,
//! each tracking client's mode, and sending invalidation messages.
//!
//! Keys are tracked by name only, across databases, as in Redis. A tracked
//! key's readers are forgotten once it is invalidated: they read it again to
//! be told of the next change. Invalidations go out as RESP3 `invalidate`
//! pushes, or, through a REDIRECT to a RESP2 client subscribed to
//! `__redis__:invalidate`, as messages on that channel.
//!
//! A message for the client whose command is running (it is borrowed by the
//! dispatcher) is deferred and sent right after that command's reply
//! (`flush_pending`), as Redis does so an invalidation never interleaves with
//! a reply. BCAST invalidations are batched per prefix and sent once the
//! current batch of input is processed (`broadcast`, Redis's beforeSleep).
//!
//! This module owns no command (see `commands/client.rs`); it learns of
//! changes through `Server::signal_modified_key` and the FLUSH* commands.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cinnabar_protocol::RespVersion;

use crate::client::{Client, ClientId};
use crate::server::Server;

/// The Pub/Sub channel a RESP2 redirect target receives invalidations on.
pub const CHANNEL: &[u8] = b"__redis__:invalidate";

/// One client's tracking mode (present while tracking is on).
#[derive(Default, Debug, Clone)]
pub struct Mode {
    /// The client that receives this client's invalidations (0: itself).
    pub redirect: ClientId,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// CLIENT CACHING YES (OPTIN) or NO (OPTOUT) applies to the next command.
    pub caching: bool,
    /// An invalidation found the redirect target gone.
    pub broken_redirect: bool,
    /// BCAST prefixes, in byte order.
    pub prefixes: BTreeSet<Vec<u8>>,
}

impl Mode {
    /// True if the keys read by the command being run are remembered:
    /// always, except OPTIN without CACHING YES and OPTOUT after CACHING NO.
    fn remembers_reads(&self) -> bool {
        if self.bcast {
            false
        } else if self.optin {
            self.caching
        } else {
            !(self.optout && self.caching)
        }
    }

    /// CLIENT TRACKINGINFO's flags, in Redis's order.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut names = vec!["on"];
        let optional = [
            (self.bcast, "bcast"),
            (self.optin, "optin"),
            (self.optin && self.caching, "caching-yes"),
            (self.optout, "optout"),
            (self.optout && self.caching, "caching-no"),
            (self.noloop, "noloop"),
            (self.broken_redirect, "broken_redirect"),
        ];
        names.extend(optional.iter().filter(|(on, _)| *on).map(|(_, name)| *name));
        names
    }
}

/// One BCAST prefix: who listens to it, and the keys under it changed since
/// the last broadcast with the client that changed each (for NOLOOP).
#[derive(Default)]
struct Prefix {
    clients: BTreeSet<ClientId>,
    changed: BTreeMap<Vec<u8>, Option<ClientId>>,
}

/// What an invalidation says.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Payload {
    /// One key.
    Key(Vec<u8>),
    /// An already encoded array of keys (a broadcast).
    Encoded(Vec<u8>),
    /// Everything (FLUSHDB, FLUSHALL): a null in the tracking client's protocol.
    All,
}

/// The registry; see the module comment.
#[derive(Default)]
pub struct Tracking {
    /// Tracked key -> clients that read it since its last invalidation.
    table: HashMap<Vec<u8>, BTreeSet<ClientId>>,
    /// Client ids summed over the table (INFO tracking_total_items).
    total_items: usize,
    prefixes: BTreeMap<Vec<u8>, Prefix>,
    clients: BTreeMap<ClientId, Mode>,
    /// The client whose command is running (NOLOOP compares with it).
    pub current: Option<ClientId>,
    /// Invalidations waiting for the running command to end: (tracking
    /// client, payload).
    pending: Vec<(ClientId, Payload)>,
    /// Consecutive cron runs that found the table over its limit.
    over_limit_runs: u32,
}

impl Tracking {
    /// True if no client tracks and no key is tracked: changes need not be
    /// reported. (Keys read by clients that stopped tracking stay until
    /// changed, as in Redis.)
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty() && self.table.is_empty()
    }

    pub fn mode(&self, id: ClientId) -> Option<&Mode> {
        self.clients.get(&id)
    }

    pub fn mode_mut(&mut self, id: ClientId) -> Option<&mut Mode> {
        self.clients.get_mut(&id)
    }

    /// INFO's tracking_clients.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// INFO's tracking_total_keys.
    pub fn key_count(&self) -> usize {
        self.table.len()
    }

    /// INFO's tracking_total_items.
    pub fn item_count(&self) -> usize {
        self.total_items
    }

    /// INFO's tracking_total_prefixes.
    pub fn prefix_count(&self) -> usize {
        self.prefixes.len()
    }

    /// Turns tracking on for `id` (or changes its options), listening to
    /// `prefixes` in BCAST mode (all keys if none is given). The caller
    /// checked the options are compatible. A pending CLIENT CACHING and the
    /// prefixes already listened to stay.
    pub fn enable(&mut self, id: ClientId, mut mode: Mode, prefixes: &[&[u8]]) {
        if let Some(old) = self.clients.remove(&id) {
            mode.prefixes = old.prefixes;
            mode.caching = old.caching;
        }
        if mode.bcast {
            let wanted: Vec<&[u8]> = if prefixes.is_empty() { vec![b""] } else { prefixes.to_vec() };
            for prefix in wanted {
                self.prefixes.entry(prefix.to_vec()).or_default().clients.insert(id);
                mode.prefixes.insert(prefix.to_vec());
            }
        }
        self.clients.insert(id, mode);
    }

    /// Turns tracking off for `id` (CLIENT TRACKING OFF, RESET, disconnection).
    /// The keys it read stay in the table until changed, as in Redis.
    pub fn disable(&mut self, id: ClientId) {
        let Some(mode) = self.clients.remove(&id) else { return };
        for prefix in mode.prefixes {
            let Some(state) = self.prefixes.get_mut(&prefix) else { continue };
            state.clients.remove(&id);
            if state.clients.is_empty() {
                self.prefixes.remove(&prefix);
            }
        }
    }

    /// The first of `prefixes` overlapping one `id` already has or one given
    /// after it, as the error CLIENT TRACKING answers.
    pub fn prefix_collision(&self, id: ClientId, prefixes: &[&[u8]]) -> Option<String> {
        let overlap = |a: &[u8], b: &[u8]| {
            let n = a.len().min(b.len());
            a[..n] == b[..n]
        };
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let existing = self.clients.get(&id).map(|m| &m.prefixes);
        for (i, prefix) in prefixes.iter().enumerate() {
            if let Some(old) = existing.into_iter().flatten().find(|old| overlap(old, prefix)) {
                return Some(format!(
                    "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                    text(prefix),
                    text(old)
                ));
            }
            if let Some(later) = prefixes[i + 1..].iter().find(|later| overlap(prefix, later)) {
                return Some(format!(
                    "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                    text(prefix),
                    text(later)
                ));
            }
        }
        None
    }

    /// Remembers that `id` read `keys` with the command that just ran,
    /// unless its mode says not to.
    pub fn remember_reads<'k>(&mut self, id: ClientId, keys: impl Iterator<Item = &'k [u8]>) {
        if !self.clients.get(&id).is_some_and(Mode::remembers_reads) {
            return;
        }
        for key in keys {
            if self.table.entry(key.to_vec()).or_default().insert(id) {
                self.total_items += 1;
            }
        }
    }

    /// The command of `id` ended: a CLIENT CACHING given before it is used
    /// up, unless it was a CLIENT subcommand or it is queued in MULTI.
    pub fn end_command(&mut self, id: ClientId, keeps_caching: bool) {
        if let Some(mode) = self.clients.get_mut(&id) {
            mode.caching &= keeps_caching;
        }
    }

    /// Notes `key` for the BCAST prefixes it falls under, changed by `writer`.
    fn note_for_broadcast(&mut self, key: &[u8], writer: Option<ClientId>) {
        for (prefix, state) in self.prefixes.iter_mut() {
            if key.starts_with(prefix) {
                state.changed.insert(key.to_vec(), writer);
            }
        }
    }
}

/// Whether an invalidation could be sent now.
enum Sent {
    Done,
    /// A client it needs is the one running a command: retry after it.
    Deferred,
    /// The redirect target is gone.
    BrokenRedirect,
}

/// Borrows client `id`: `current` if it is that one, else from the registry.
/// None if it is gone or borrowed (running a command).
fn with_client<R>(
    srv: &Server,
    current: Option<&mut Client>,
    id: ClientId,
    f: impl FnOnce(&mut Client) -> R,
) -> Option<R> {
    if let Some(current) = current.filter(|c| c.id == id) {
        return Some(f(current));
    }
    let mut client = srv.clients.get(&id)?.try_borrow_mut().ok()?;
    Some(f(&mut client))
}

/// The payload's value part, for a tracking client speaking `resp`.
fn encode_value(payload: &Payload, resp: RespVersion, out: &mut cinnabar_protocol::Reply) {
    match payload {
        Payload::Key(key) => {
            out.array(1);
            out.bulk(key);
        }
        Payload::Encoded(bytes) => out.raw(bytes),
        Payload::All => out.raw(if resp == RespVersion::Resp3 { b"_\r\n" } else { b"$-1\r\n" }),
    }
}

/// Sends one invalidation owed to tracking client `tracker` (Redis's
/// sendTrackingMessage): to itself in RESP3, or to its redirect target as a
/// push (RESP3) or a `__redis__:invalidate` message (RESP2, subscribed).
fn send(srv: &Server, mut current: Option<&mut Client>, tracker: ClientId, payload: &Payload) -> Sent {
    let Some(mode) = srv.tracking.clients.get(&tracker) else { return Sent::Done };
    let Some(tracker_resp) = with_client(srv, current.as_deref_mut(), tracker, |c| c.reply.resp) else {
        return if srv.clients.contains_key(&tracker) { Sent::Deferred } else { Sent::Done };
    };
    let redirected = mode.redirect != 0;
    let target = if redirected { mode.redirect } else { tracker };
    if redirected && !srv.clients.contains_key(&target) {
        if tracker_resp == RespVersion::Resp3 {
            let mut frame = cinnabar_protocol::Reply::new(RespVersion::Resp3);
            frame.push(2);
            frame.bulk(b"tracking-redir-broken");
            frame.int(target as i64);
            if with_client(srv, current, tracker, |c| deliver(srv, c, frame.bytes())).is_none() {
                return Sent::Deferred;
            }
        }
        return Sent::BrokenRedirect;
    }
    let written = with_client(srv, current, target, |c| {
        let mut frame = cinnabar_protocol::Reply::new(c.reply.resp);
        if c.reply.resp == RespVersion::Resp3 {
            frame.push(2);
            frame.bulk(b"invalidate");
        } else if redirected && c.subscriptions.is_subscribed() {
            frame.array(3);
            frame.bulk(b"message");
            frame.bulk(CHANNEL);
        } else {
            // RESP2 has no pushes: nothing can reach this client.
            return;
        }
        encode_value(payload, tracker_resp, &mut frame);
        deliver(srv, c, frame.bytes());
    });
    if written.is_none() {
        Sent::Deferred
    } else {
        Sent::Done
    }
}

/// Appends a push to `client`'s output: directly if it is running a command
/// (it survives CLIENT REPLY OFF), else waking its connection to write it.
fn deliver(srv: &Server, client: &mut Client, frame: &[u8]) {
    if srv.tracking.current == Some(client.id) {
        client.push_from_own_command(frame);
        client.enforce_output_limit(srv);
    } else {
        client.deliver_push(srv, frame);
    }
}

/// Sends an invalidation now, or defers it until the running command ends.
fn send_or_defer(srv: &mut Server, current: Option<&mut Client>, tracker: ClientId, payload: Payload) {
    match send(srv, current, tracker, &payload) {
        Sent::Done => {}
        Sent::Deferred => srv.tracking.pending.push((tracker, payload)),
        Sent::BrokenRedirect => {
            if let Some(mode) = srv.tracking.clients.get_mut(&tracker) {
                mode.broken_redirect = true;
            }
        }
    }
}

/// `key` changed (Redis's trackingInvalidateKey): its readers are told and
/// forgotten, and BCAST prefixes covering it note it when `bcast`.
pub fn invalidate_key(srv: &mut Server, key: &[u8], bcast: bool) {
    let writer = srv.tracking.current;
    if bcast && !srv.tracking.prefixes.is_empty() {
        srv.tracking.note_for_broadcast(key, writer);
    }
    let Some(readers) = srv.tracking.table.remove(key) else { return };
    srv.tracking.total_items -= readers.len();
    for reader in readers {
        let Some(mode) = srv.tracking.clients.get(&reader) else { continue };
        if mode.bcast || (mode.noloop && writer == Some(reader)) {
            continue;
        }
        send_or_defer(srv, None, reader, Payload::Key(key.to_vec()));
    }
}

/// Every key changed (FLUSHDB, FLUSHALL): each tracking client gets a null
/// invalidation and the table is emptied.
pub fn invalidate_all(srv: &mut Server) {
    let trackers: Vec<ClientId> = srv.tracking.clients.keys().copied().collect();
    for tracker in trackers {
        send_or_defer(srv, None, tracker, Payload::All);
    }
    srv.tracking.table.clear();
    srv.tracking.total_items = 0;
}

/// Sends what the command `client` just ran owed to it (or through it).
pub fn flush_pending(srv: &mut Server, client: &mut Client) {
    if srv.tracking.pending.is_empty() {
        return;
    }
    for (tracker, payload) in std::mem::take(&mut srv.tracking.pending) {
        send_or_defer(srv, Some(client), tracker, payload);
    }
}

/// Sends each BCAST prefix's changed keys to its clients, one array per
/// prefix, leaving out for NOLOOP clients the keys they changed themselves.
/// `current` is the client whose connection is being served, if any.
pub fn broadcast(srv: &mut Server, mut current: Option<&mut Client>) {
    if srv.tracking.prefixes.values().all(|p| p.changed.is_empty()) {
        return;
    }
    let batches: Vec<Prefix> = srv
        .tracking
        .prefixes
        .values_mut()
        .filter(|p| !p.changed.is_empty())
        .map(|p| Prefix { clients: p.clients.clone(), changed: std::mem::take(&mut p.changed) })
        .collect();
    for Prefix { clients, changed } in batches {
        for client in clients {
            let noloop = srv.tracking.clients.get(&client).is_some_and(|m| m.noloop);
            let keys: Vec<&[u8]> = changed
                .iter()
                .filter(|(_, writer)| !noloop || **writer != Some(client))
                .map(|(k, _)| k.as_slice())
                .collect();
            if keys.is_empty() {
                continue;
            }
            let mut array = cinnabar_protocol::Reply::new(RespVersion::Resp2);
            array.array(keys.len());
            keys.iter().for_each(|k| array.bulk(k));
            send_or_defer(srv, current.as_deref_mut(), client, Payload::Encoded(array.take()));
        }
    }
}

/// Keeps the table within `tracking-table-max-keys`, invalidating keys
/// (their readers are told) with an effort that grows while it stays over.
pub fn limit_table(srv: &mut Server) {
    let max = srv.config.tracking_table_max_keys.max(0) as usize;
    if max == 0 || srv.tracking.table.len() <= max {
        srv.tracking.over_limit_runs = 0;
        return;
    }
    let effort = 100 * (srv.tracking.over_limit_runs as usize + 1);
    for _ in 0..effort {
        let Some(key) = srv.tracking.table.keys().next().cloned() else { break };
        invalidate_key(srv, &key, false);
        if srv.tracking.table.len() <= max {
            srv.tracking.over_limit_runs = 0;
            return;
        }
    }
    srv.tracking.over_limit_runs += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_remembered_per_mode() {
        let mut t = Tracking::default();
        t.enable(1, Mode::default(), &[]);
        t.enable(2, Mode { optin: true, ..Default::default() }, &[]);
        t.remember_reads(1, [&b"a"[..], b"b"].into_iter());
        t.remember_reads(2, [&b"a"[..]].into_iter());
        assert_eq!((t.key_count(), t.item_count()), (2, 2));
        t.mode_mut(2).unwrap().caching = true;
        t.remember_reads(2, [&b"a"[..]].into_iter());
        assert_eq!(t.item_count(), 3);
        t.end_command(2, false);
        assert!(!t.mode(2).unwrap().caching);
    }

    #[test]
    fn prefixes_are_shared_and_released() {
        let mut t = Tracking::default();
        t.enable(1, Mode { bcast: true, ..Default::default() }, &[b"a", b"b"]);
        t.enable(2, Mode { bcast: true, ..Default::default() }, &[b"a"]);
        assert_eq!(t.prefix_count(), 2);
        assert!(t.prefix_collision(1, &[b"ab"]).unwrap().contains("existing prefix 'a'"));
        assert!(t.prefix_collision(3, &[b"x", b"xy"]).unwrap().contains("another provided prefix 'xy'"));
        t.disable(1);
        assert_eq!(t.prefix_count(), 1);
        t.disable(2);
        assert_eq!(t.prefix_count(), 0);
    }

    #[test]
    fn trackinginfo_flags_follow_redis_order() {
        let mode = Mode { optout: true, caching: true, noloop: true, broken_redirect: true, ..Default::default() };
        assert_eq!(mode.flag_names(), ["on", "optout", "caching-no", "noloop", "broken_redirect"]);
    }
}
