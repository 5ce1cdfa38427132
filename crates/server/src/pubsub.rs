//! Pub/Sub delivery: the server-wide registry of who listens to which channel,
//! pattern and shard channel, each client's own subscriptions, and publishing
//! a message to every listener.
//!
//! Subscribers are kept in subscription order per channel and pattern (Redis
//! keeps lists), so a message reaches a channel's subscribers in the order
//! they subscribed, then the pattern subscribers. A message is encoded once
//! per protocol and appended to each receiver's output buffer; the receiver's
//! connection task is woken to write it. Publishing never waits for a
//! receiver: a receiver that does not read grows its buffer until its output
//! buffer limit closes it (`Client::enforce_output_limit`).
//!
//! This module owns no commands (see `commands/pubsub.rs`) and no keyspace
//! events (see `notify.rs`).

use std::collections::{HashMap, HashSet};

use cinnabar_protocol::RespVersion;
use cinnabar_storage::glob;

use crate::client::{Client, ClientId};
use crate::server::Server;

/// The three subscription spaces. Patterns apply to global channels only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    /// The first element of the confirmation a client gets for subscribing.
    fn subscribe_verb(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"subscribe",
            Kind::Pattern => b"psubscribe",
            Kind::Shard => b"ssubscribe",
        }
    }

    fn unsubscribe_verb(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"unsubscribe",
            Kind::Pattern => b"punsubscribe",
            Kind::Shard => b"sunsubscribe",
        }
    }
}

/// What one client listens to.
#[derive(Default, Debug)]
pub struct Subscriptions {
    channels: HashSet<Vec<u8>>,
    /// In subscription order: PUNSUBSCRIBE without arguments replies in it.
    patterns: Vec<Vec<u8>>,
    shard_channels: HashSet<Vec<u8>>,
}

impl Subscriptions {
    /// True while the client is in subscribed mode (Redis's CLIENT_PUBSUB).
    pub fn is_subscribed(&self) -> bool {
        !(self.channels.is_empty() && self.patterns.is_empty() && self.shard_channels.is_empty())
    }

    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// True if `allowed(name, is_pattern)` holds for every channel, shard
    /// channel and pattern subscribed to.
    pub fn all_allowed(&self, allowed: impl Fn(&[u8], bool) -> bool) -> bool {
        self.channels.iter().chain(&self.shard_channels).all(|c| allowed(c, false))
            && self.patterns.iter().all(|p| allowed(p, true))
    }

    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    pub fn shard_count(&self) -> usize {
        self.shard_channels.len()
    }

    /// The count a (un)subscribe confirmation carries: channels and patterns
    /// together, shard channels on their own (as Redis 7.0 counts them).
    fn confirmation_count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Channel | Kind::Pattern => self.channels.len() + self.patterns.len(),
            Kind::Shard => self.shard_channels.len(),
        }
    }

    fn add(&mut self, kind: Kind, name: &[u8]) -> bool {
        match kind {
            Kind::Channel => self.channels.insert(name.to_vec()),
            Kind::Shard => self.shard_channels.insert(name.to_vec()),
            Kind::Pattern if self.patterns.iter().any(|p| p == name) => false,
            Kind::Pattern => {
                self.patterns.push(name.to_vec());
                true
            }
        }
    }

    fn remove(&mut self, kind: Kind, name: &[u8]) -> bool {
        match kind {
            Kind::Channel => self.channels.remove(name),
            Kind::Shard => self.shard_channels.remove(name),
            Kind::Pattern => {
                let before = self.patterns.len();
                self.patterns.retain(|p| p != name);
                self.patterns.len() != before
            }
        }
    }

    fn names(&self, kind: Kind) -> Vec<Vec<u8>> {
        match kind {
            Kind::Channel => self.channels.iter().cloned().collect(),
            Kind::Pattern => self.patterns.clone(),
            Kind::Shard => self.shard_channels.iter().cloned().collect(),
        }
    }
}

/// Every subscription on the server: name -> subscribers in subscription order.
#[derive(Default)]
pub struct Registry {
    channels: HashMap<Vec<u8>, Vec<ClientId>>,
    patterns: HashMap<Vec<u8>, Vec<ClientId>>,
    shard_channels: HashMap<Vec<u8>, Vec<ClientId>>,
}

impl Registry {
    fn space(&self, kind: Kind) -> &HashMap<Vec<u8>, Vec<ClientId>> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard_channels,
        }
    }

    fn space_mut(&mut self, kind: Kind) -> &mut HashMap<Vec<u8>, Vec<ClientId>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard_channels,
        }
    }

    /// Channels (or shard channels, or patterns) with at least one subscriber.
    pub fn active(&self, kind: Kind) -> usize {
        self.space(kind).len()
    }

    /// Subscribers of one channel, not counting pattern subscribers.
    pub fn subscriber_count(&self, kind: Kind, name: &[u8]) -> usize {
        self.space(kind).get(name).map_or(0, Vec::len)
    }

    /// Active names matching `pattern` (all of them for None).
    pub fn names_matching(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<&[u8]> {
        self.space(kind)
            .keys()
            .filter(|name| pattern.is_none_or(|p| glob::matches(p, name, false)))
            .map(Vec::as_slice)
            .collect()
    }

    /// Subscribes `client` (again is harmless) and replies with the confirmation.
    pub fn subscribe(&mut self, client: &mut Client, kind: Kind, name: &[u8]) {
        if client.subscriptions.add(kind, name) {
            self.space_mut(kind).entry(name.to_vec()).or_default().push(client.id);
        }
        let count = client.subscriptions.confirmation_count(kind);
        confirm(client, kind.subscribe_verb(), Some(name), count);
    }

    /// Unsubscribes `client` from one name, replying with the confirmation
    /// whether or not it was subscribed (as Redis does).
    pub fn unsubscribe(&mut self, client: &mut Client, kind: Kind, name: &[u8]) {
        self.remove(client, kind, name);
        let count = client.subscriptions.confirmation_count(kind);
        confirm(client, kind.unsubscribe_verb(), Some(name), count);
    }

    /// Unsubscribes `client` from every name of `kind`, one confirmation
    /// each, or a single confirmation with a null name if it had none.
    pub fn unsubscribe_all(&mut self, client: &mut Client, kind: Kind) {
        let names = client.subscriptions.names(kind);
        if names.is_empty() {
            let count = client.subscriptions.confirmation_count(kind);
            confirm(client, kind.unsubscribe_verb(), None, count);
        }
        for name in names {
            self.unsubscribe(client, kind, &name);
        }
    }

    /// Drops every subscription of `client` without telling it (RESET, disconnection).
    pub fn forget(&mut self, client: &mut Client) {
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            for name in client.subscriptions.names(kind) {
                self.remove(client, kind, &name);
            }
        }
    }

    fn remove(&mut self, client: &mut Client, kind: Kind, name: &[u8]) {
        if !client.subscriptions.remove(kind, name) {
            return;
        }
        let space = self.space_mut(kind);
        if let Some(subscribers) = space.get_mut(name) {
            subscribers.retain(|&id| id != client.id);
            if subscribers.is_empty() {
                space.remove(name);
            }
        }
    }
}

/// `[verb, name, count]` as a push: the (un)subscribe confirmation. A null
/// name answers an unsubscribe-all from a client that had no subscriptions.
fn confirm(client: &mut Client, verb: &[u8], name: Option<&[u8]>, count: usize) {
    let mut frame = cinnabar_protocol::Reply::new(client.reply.resp);
    frame.push(3);
    frame.bulk(verb);
    match name {
        Some(name) => frame.bulk(name),
        None => frame.null(),
    }
    frame.int(count as i64);
    client.push_from_own_command(frame.bytes());
}

/// A message encoded once per protocol, on first need.
struct Frame<'a> {
    parts: [&'a [u8]; 4],
    len: usize,
    resp2: Option<Vec<u8>>,
    resp3: Option<Vec<u8>>,
}

impl<'a> Frame<'a> {
    fn new(parts: &[&'a [u8]]) -> Frame<'a> {
        let mut all: [&[u8]; 4] = [b""; 4];
        all[..parts.len()].copy_from_slice(parts);
        Frame { parts: all, len: parts.len(), resp2: None, resp3: None }
    }

    fn bytes(&mut self, resp: RespVersion) -> &[u8] {
        let parts = &self.parts[..self.len];
        let slot = match resp {
            RespVersion::Resp2 => &mut self.resp2,
            RespVersion::Resp3 => &mut self.resp3,
        };
        slot.get_or_insert_with(|| {
            let mut reply = cinnabar_protocol::Reply::new(resp);
            reply.push(parts.len());
            parts.iter().for_each(|p| reply.bulk(p));
            reply.take()
        })
    }
}

/// Where a message goes: the registry's clients, and the client running the
/// command that published (borrowed by the caller, so it is written directly).
struct Receivers<'a> {
    srv: &'a Server,
    current: Option<&'a mut Client>,
}

impl Receivers<'_> {
    fn deliver(&mut self, id: ClientId, frame: &mut Frame) {
        if let Some(current) = self.current.as_deref_mut().filter(|c| c.id == id) {
            let resp = current.reply.resp;
            current.push_from_own_command(frame.bytes(resp));
            current.enforce_output_limit(self.srv);
            return;
        }
        let Some(client) = self.srv.clients.get(&id) else { return };
        let Ok(mut client) = client.try_borrow_mut() else { return };
        let resp = client.reply.resp;
        client.deliver_push(self.srv, frame.bytes(resp));
    }
}

/// Publishes `message` on `channel` (global channels with `Kind::Channel`,
/// shard channels with `Kind::Shard`): to the channel's subscribers, then,
/// for a global channel, to every client whose pattern matches it (once per
/// matching pattern). `current` is the client running the command, if any.
/// Returns how many deliveries were made.
pub fn publish(srv: &Server, current: Option<&mut Client>, kind: Kind, channel: &[u8], message: &[u8]) -> usize {
    let registry = &srv.pubsub;
    let mut receivers = Receivers { srv, current };
    let mut delivered = 0;
    if let Some(subscribers) = registry.space(kind).get(channel) {
        let verb: &[u8] = if kind == Kind::Shard { b"smessage" } else { b"message" };
        let mut frame = Frame::new(&[verb, channel, message]);
        for &id in subscribers {
            receivers.deliver(id, &mut frame);
        }
        delivered += subscribers.len();
    }
    if kind == Kind::Channel {
        for (pattern, subscribers) in &registry.patterns {
            if !glob::matches(pattern, channel, false) {
                continue;
            }
            let mut frame = Frame::new(&[b"pmessage", pattern, channel, message]);
            for &id in subscribers {
                receivers.deliver(id, &mut frame);
            }
            delivered += subscribers.len();
        }
    }
    delivered
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: ClientId) -> Client {
        Client::new(id, String::new(), String::new(), -1, 0)
    }

    #[test]
    fn counts_follow_redis() {
        let mut registry = Registry::default();
        let mut c = client(1);
        registry.subscribe(&mut c, Kind::Channel, b"a");
        registry.subscribe(&mut c, Kind::Pattern, b"p*");
        registry.subscribe(&mut c, Kind::Pattern, b"p*");
        registry.subscribe(&mut c, Kind::Shard, b"s");
        assert_eq!(
            c.reply.take(),
            b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:2\r\n\
              *3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:2\r\n*3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n"
        );
        assert_eq!(registry.active(Kind::Pattern), 1);
        assert_eq!(registry.subscriber_count(Kind::Pattern, b"p*"), 1);
        registry.forget(&mut c);
        assert!(!c.subscriptions.is_subscribed());
        assert_eq!(registry.active(Kind::Channel) + registry.active(Kind::Pattern) + registry.active(Kind::Shard), 0);
        assert!(c.reply.is_empty());
    }

    #[test]
    fn unsubscribe_all_without_subscriptions_names_null() {
        let mut registry = Registry::default();
        let mut c = client(1);
        registry.unsubscribe_all(&mut c, Kind::Pattern);
        assert_eq!(c.reply.take(), b"*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n");
    }

    #[test]
    fn frames_are_encoded_per_protocol() {
        let mut frame = Frame::new(&[b"message", b"ch", b"hi"]);
        assert_eq!(frame.bytes(RespVersion::Resp2), b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n");
        assert_eq!(frame.bytes(RespVersion::Resp3), b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n");
    }
}
