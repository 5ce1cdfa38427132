//! ACL LOG: the most recent refused commands, keys, channels and failed
//! authentications, newest first. As in Redis 7.0, a refusal like one of the
//! last ten entries (same reason, context, object and user, within a minute)
//! bumps that entry's count and moves it to the front instead of adding one;
//! the log keeps at most `acllog-max-len` entries.

use std::collections::VecDeque;

use cinnabar_protocol::Reply;

use super::Context;

/// What was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Command,
    Key,
    Channel,
    Auth,
}

impl Reason {
    fn name(&self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

fn context_name(context: Context) -> &'static str {
    match context {
        Context::Toplevel => "toplevel",
        Context::Multi => "multi",
        Context::Lua => "lua",
    }
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub count: u64,
    pub reason: Reason,
    pub context: Context,
    /// The command, key or channel refused (for auth: the command used).
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    /// Unix milliseconds of the last occurrence.
    pub time_ms: i64,
    /// CLIENT LIST line of the last client it happened to.
    pub client_info: String,
}

/// Occurrences this close together (milliseconds) share an entry.
const GROUPING_WINDOW_MS: i64 = 60_000;
/// How many recent entries are looked at for one to share.
const GROUPING_SCAN: usize = 10;

#[derive(Default)]
pub struct AclLog {
    entries: VecDeque<Entry>,
}

impl AclLog {
    /// Records an occurrence, keeping at most `max_len` entries.
    pub fn add(&mut self, entry: Entry, max_len: usize) {
        let similar = self.entries.iter().take(GROUPING_SCAN).position(|e| {
            e.reason == entry.reason
                && e.context == entry.context
                && (e.time_ms - entry.time_ms).abs() <= GROUPING_WINDOW_MS
                && e.object == entry.object
                && e.username == entry.username
        });
        match similar {
            Some(at) => {
                let mut existing = self.entries.remove(at).expect("position is in range");
                existing.count += 1;
                existing.time_ms = entry.time_ms;
                existing.client_info = entry.client_info;
                self.entries.push_front(existing);
            }
            None => {
                self.entries.push_front(entry);
                self.entries.truncate(max_len);
            }
        }
    }

    pub fn reset(&mut self) {
        self.entries.clear();
    }

    /// Writes the newest `count` entries as ACL LOG replies them.
    pub fn write(&self, reply: &mut Reply, count: usize, now_ms: i64) {
        let count = count.min(self.entries.len());
        reply.array(count);
        for entry in self.entries.iter().take(count) {
            reply.map(7);
            reply.bulk_str("count");
            reply.int(entry.count as i64);
            reply.bulk_str("reason");
            reply.bulk_str(entry.reason.name());
            reply.bulk_str("context");
            reply.bulk_str(context_name(entry.context));
            reply.bulk_str("object");
            reply.bulk(&entry.object);
            reply.bulk_str("username");
            reply.bulk(&entry.username);
            reply.bulk_str("age-seconds");
            reply.double((now_ms - entry.time_ms) as f64 / 1000.0);
            reply.bulk_str("client-info");
            reply.bulk_str(&entry.client_info);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(object: &str, time_ms: i64) -> Entry {
        Entry {
            count: 1,
            reason: Reason::Command,
            context: Context::Toplevel,
            object: object.as_bytes().to_vec(),
            username: b"u".to_vec(),
            time_ms,
            client_info: String::new(),
        }
    }

    #[test]
    fn similar_entries_are_grouped_within_a_minute() {
        let mut log = AclLog::default();
        log.add(entry("get", 0), 10);
        log.add(entry("set", 1), 10);
        log.add(entry("get", 2), 10);
        assert_eq!(log.entries.len(), 2);
        assert_eq!(log.entries[0].count, 2);
        log.add(entry("get", 70_000), 10);
        assert_eq!(log.entries.len(), 3);
    }

    #[test]
    fn the_oldest_entries_go_beyond_the_limit() {
        let mut log = AclLog::default();
        for (i, object) in ["a", "b", "c"].iter().enumerate() {
            log.add(entry(object, i as i64), 2);
        }
        assert_eq!(
            log.entries.iter().map(|e| e.object.clone()).collect::<Vec<_>>(),
            vec![b"c".to_vec(), b"b".to_vec()]
        );
    }
}
