//! Keyspace notifications (`notify-keyspace-events`): commands report what
//! they did to a key as `ctx.notify(class, "event", key)`, and, when the
//! class is enabled, the event is published as Redis does: the event name on
//! `__keyspace@<db>__:<key>` (flag K) and the key on
//! `__keyevent@<db>__:<event>` (flag E).
//!
//! A disabled class costs one mask test: nothing is formatted or looked up.
//! Event names and the order of events per command follow Redis 7.0 (checked
//! by `tests/notifications.rs` against redis-server).

use crate::client::Client;
use crate::command::Ctx;
use crate::config::notify::{KEYEVENT, KEYSPACE};
use crate::pubsub::{self, Kind};
use crate::server::Server;

pub use crate::config::notify::{EVICTED, EXPIRED, GENERIC, HASH, KEY_MISS, LIST, NEW, SET, STREAM, STRING, ZSET};

impl Ctx<'_> {
    /// Reports `event` of `class` on `key` in the selected database.
    #[inline]
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8]) {
        let db = self.client.db;
        self.notify_in(db, class, event, key);
    }

    /// Reports `event` of `class` on `key` in database `db` (MOVE, COPY ... DB).
    #[inline]
    pub fn notify_in(&mut self, db: usize, class: u32, event: &str, key: &[u8]) {
        if self.srv.config.notify_keyspace_events & class != 0 {
            publish_event(self.srv, Some(self.client), db, event, key);
        }
    }
}

/// Reports an event from outside a command (expiry); `current` is the client
/// running a command, if one is, so it receives its own notifications.
#[inline]
pub fn notify(srv: &Server, current: Option<&mut Client>, db: usize, class: u32, event: &str, key: &[u8]) {
    if srv.config.notify_keyspace_events & class != 0 {
        publish_event(srv, current, db, event, key);
    }
}

fn publish_event(srv: &Server, mut current: Option<&mut Client>, db: usize, event: &str, key: &[u8]) {
    let flags = srv.config.notify_keyspace_events;
    if flags & KEYSPACE != 0 {
        let mut channel = format!("__keyspace@{db}__:").into_bytes();
        channel.extend_from_slice(key);
        pubsub::publish(srv, current.as_deref_mut(), Kind::Channel, &channel, event.as_bytes());
    }
    if flags & KEYEVENT != 0 {
        let channel = format!("__keyevent@{db}__:{event}");
        pubsub::publish(srv, current, Kind::Channel, channel.as_bytes(), key);
    }
}
