//! `Ctx`: what a command handler works with — the server, the calling client,
//! its reply buffer — plus the keyspace accessors that apply Redis's rules on
//! the way (lazy expiry, hit/miss counting, access time, dirty counting and
//! what to propagate).

use std::borrow::Cow;

use cinnabar_protocol::Reply;
use cinnabar_storage::{Db, Entry, Hash, List, Set, StrValue, Value, Zset};

use super::CommandId;
use crate::client::Client;
use crate::server::Server;

/// An error reply: the full text after `-`, code first (`ERR ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdError(pub Cow<'static, str>);

impl From<&'static str> for CmdError {
    fn from(s: &'static str) -> Self {
        CmdError(Cow::Borrowed(s))
    }
}

impl From<String> for CmdError {
    fn from(s: String) -> Self {
        CmdError(Cow::Owned(s))
    }
}

pub type CmdResult = Result<(), CmdError>;

/// Error texts shared by many commands, byte-identical to Redis's.
pub mod errors {
    pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
    pub const SYNTAX: &str = "ERR syntax error";
    pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
    pub const NOT_FLOAT: &str = "ERR value is not a valid float";
    pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
    pub const NO_SUCH_KEY: &str = "ERR no such key";
    pub const DB_INDEX: &str = "ERR DB index is out of range";
    pub const OUT_OF_RANGE: &str = "ERR index out of range";
    pub const NOAUTH: &str = "NOAUTH Authentication required.";
    pub const LOADING: &str = "LOADING Redis is loading the dataset in memory";
    pub const MISCONF: &str =
        "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist \
                               to disk. Commands that may modify the data set are disabled, because this instance is \
                               configured to report errors during writes if RDB snapshotting fails \
                               (stop-writes-on-bgsave-error option). Please check the Redis logs for details about \
                               the RDB error.";
}

/// Whether the running command may block its client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockMode {
    /// A client's own command: it may block.
    Allowed,
    /// Re-run for a blocked client because this key became ready: look only
    /// at this key; asking to block means "stay blocked".
    Serving(Vec<u8>),
    /// Inside MULTI/EXEC or a script: blocking behaves as an immediate timeout.
    Forbidden,
}

/// Keys and deadline a command asked to block on (see `Ctx::block`).
pub struct BlockRequest {
    pub keys: Vec<Vec<u8>>,
    /// Unix milliseconds; 0 = forever.
    pub deadline_ms: i64,
    /// The command to re-run when served, if not the one sent (XREAD's `$`
    /// must keep the ID it stood for when the client blocked).
    pub argv: Option<Vec<Vec<u8>>>,
}

/// What a write should put into the replication stream.
enum Propagation {
    /// The command as the client sent it (the usual case).
    AsSent,
    /// These commands instead (effects, e.g. SET ... PXAT for SET ... EX).
    Replaced(Vec<Vec<Vec<u8>>>),
}

pub struct Ctx<'a> {
    pub srv: &'a mut Server,
    pub client: &'a mut Client,
    pub cmd: CommandId,
    dirty: u64,
    propagation: Propagation,
    /// Propagate even if nothing changed (FLUSHALL on an empty server).
    forced: bool,
    /// True once an error reply was sent (failed_calls).
    pub failed: bool,
    /// Argument positions holding secrets, shown as `(redacted)` to MONITOR.
    pub redacted: Vec<usize>,
    /// Whether this run may block (MULTI/EXEC and scripts must set Forbidden).
    pub block_mode: BlockMode,
    /// Set by `block`: dispatch parks the client instead of finishing.
    pub block_request: Option<BlockRequest>,
}

impl<'a> Ctx<'a> {
    pub fn new(srv: &'a mut Server, client: &'a mut Client, cmd: CommandId) -> Self {
        Ctx {
            srv,
            client,
            cmd,
            dirty: 0,
            propagation: Propagation::AsSent,
            forced: false,
            failed: false,
            redacted: Vec::new(),
            block_mode: BlockMode::Allowed,
            block_request: None,
        }
    }

    pub fn reply(&mut self) -> &mut Reply {
        &mut self.client.reply
    }

    /// Sends an error reply from inside a handler that goes on (most handlers
    /// just return `Err`).
    pub fn error(&mut self, msg: &str) {
        self.failed = true;
        self.srv.stats.record_error(msg);
        self.client.reply.error(msg);
    }

    pub fn now_ms(&self) -> i64 {
        self.srv.now_ms
    }

    pub fn db_index(&self) -> usize {
        self.client.db
    }

    /// The selected database, without any expiry logic.
    pub fn db(&mut self) -> &mut Db {
        &mut self.srv.dbs[self.client.db]
    }

    /// Deletes the key if its TTL has passed. Returns true if it was expired.
    pub fn expire_if_needed(&mut self, key: &[u8]) -> bool {
        self.srv.expire_if_needed(self.client.db, key, Some(self.client))
    }

    /// Looks a key up for reading: expires it if due, counts a hit or miss and
    /// refreshes its access time.
    pub fn lookup_read(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.lookup_read_with(key, true)
    }

    /// As `lookup_read`, but leaves the access time alone (Redis's
    /// LOOKUP_NOTOUCH: EXISTS, TYPE, TTL and friends do not count as a use).
    pub fn lookup_read_no_touch(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.lookup_read_with(key, false)
    }

    fn lookup_read_with(&mut self, key: &[u8], touch: bool) -> Option<&mut Entry> {
        self.expire_if_needed(key);
        let access = self.srv.access_policy();
        // A miss that must be notified is found first: the entry borrowed
        // below would keep `self` borrowed in the miss arm too.
        let notify_miss = self.srv.config.notify_keyspace_events & crate::notify::KEY_MISS != 0;
        let hidden = self.srv.hides_expired(self.client.db, key, self.client);
        if hidden && !notify_miss {
            self.srv.stats.keyspace_misses += 1;
            return None;
        }
        if notify_miss && (hidden || !self.srv.dbs[self.client.db].contains(key)) {
            self.srv.stats.keyspace_misses += 1;
            self.notify(crate::notify::KEY_MISS, "keymiss", key);
            return None;
        }
        match self.srv.dbs[self.client.db].get_mut(key) {
            Some(entry) => {
                self.srv.stats.keyspace_hits += 1;
                if touch {
                    entry.access = access.touch(entry.access);
                }
                Some(entry)
            }
            None => {
                self.srv.stats.keyspace_misses += 1;
                None
            }
        }
    }

    /// Looks a key up to modify it: expires it if due and refreshes its access
    /// time, without touching the hit/miss counters.
    pub fn lookup_write(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.expire_if_needed(key);
        let access = self.srv.access_policy();
        let entry = self.srv.dbs[self.client.db].get_mut(key)?;
        entry.access = access.touch(entry.access);
        Some(entry)
    }

    /// The string at `key` for reading: `Ok(None)` if absent, WRONGTYPE if not a string.
    pub fn read_string(&mut self, key: &[u8]) -> Result<Option<&mut StrValue>, CmdError> {
        match self.lookup_read(key) {
            None => Ok(None),
            Some(entry) => entry.value.as_str_mut().map(Some).ok_or(errors::WRONGTYPE.into()),
        }
    }

    /// The string at `key` for writing: `Ok(None)` if absent, WRONGTYPE if not a string.
    pub fn write_string(&mut self, key: &[u8]) -> Result<Option<&mut StrValue>, CmdError> {
        match self.lookup_write(key) {
            None => Ok(None),
            Some(entry) => entry.value.as_str_mut().map(Some).ok_or(errors::WRONGTYPE.into()),
        }
    }

    /// The hash at `key` for reading: `Ok(None)` if absent, WRONGTYPE if not a hash.
    pub fn read_hash(&mut self, key: &[u8]) -> Result<Option<&mut Hash>, CmdError> {
        match self.lookup_read(key) {
            None => Ok(None),
            Some(entry) => entry.value.as_hash_mut().map(Some).ok_or(errors::WRONGTYPE.into()),
        }
    }

    /// The hash at `key` for writing: `Ok(None)` if absent, WRONGTYPE if not a hash.
    pub fn write_hash(&mut self, key: &[u8]) -> Result<Option<&mut Hash>, CmdError> {
        match self.lookup_write(key) {
            None => Ok(None),
            Some(entry) => entry.value.as_hash_mut().map(Some).ok_or(errors::WRONGTYPE.into()),
        }
    }

    /// The set at `key` for reading: `Ok(None)` if absent, WRONGTYPE if not a set.
    pub fn read_set(&mut self, key: &[u8]) -> Result<Option<&mut Set>, CmdError> {
        match self.lookup_read(key) {
            None => Ok(None),
            Some(entry) => entry.value.as_set_mut().map(Some).ok_or(errors::WRONGTYPE.into()),
        }
    }

    /// The set at `key` for writing: `Ok(None)` if absent, WRONGTYPE if not a set.
    pub fn write_set(&mut self, key: &[u8]) -> Result<Option<&mut Set>, CmdError> {
        match self.lookup_write(key) {
            None => Ok(None),
            Some(entry) => entry.value.as_set_mut().map(Some).ok_or(errors::WRONGTYPE.into()),
        }
    }

    /// The list at `key` for reading: `Ok(None)` if absent, WRONGTYPE if not a list.
    pub fn read_list(&mut self, key: &[u8]) -> Result<Option<&mut List>, CmdError> {
        match self.lookup_read(key) {
            None => Ok(None),
            Some(entry) => entry.value.as_list_mut().map(Some).ok_or(errors::WRONGTYPE.into()),
        }
    }

    /// The list at `key` for writing: `Ok(None)` if absent, WRONGTYPE if not a list.
    pub fn write_list(&mut self, key: &[u8]) -> Result<Option<&mut List>, CmdError> {
        match self.lookup_write(key) {
            None => Ok(None),
            Some(entry) => entry.value.as_list_mut().map(Some).ok_or(errors::WRONGTYPE.into()),
        }
    }

    /// The sorted set at `key` for reading: `Ok(None)` if absent, WRONGTYPE if not a zset.
    pub fn read_zset(&mut self, key: &[u8]) -> Result<Option<&mut Zset>, CmdError> {
        match self.lookup_read(key) {
            None => Ok(None),
            Some(entry) => entry.value.as_zset_mut().map(Some).ok_or(errors::WRONGTYPE.into()),
        }
    }

    /// The sorted set at `key` for writing: `Ok(None)` if absent, WRONGTYPE if not a zset.
    pub fn write_zset(&mut self, key: &[u8]) -> Result<Option<&mut Zset>, CmdError> {
        match self.lookup_write(key) {
            None => Ok(None),
            Some(entry) => entry.value.as_zset_mut().map(Some).ok_or(errors::WRONGTYPE.into()),
        }
    }

    /// Stores `value` at `key`, replacing any value (and its TTL unless
    /// `keep_ttl`); its watchers see it changed (Redis's setKey).
    pub fn set_key(&mut self, key: &[u8], value: Value, keep_ttl: bool) {
        let access = self.srv.access_policy();
        let db = &mut self.srv.dbs[self.client.db];
        // Under LFU an overwritten key keeps its counter (Redis's dbSetValue).
        let kept = if access.is_lfu() { db.get(key).map(|old| old.access) } else { None };
        let stamp = kept.unwrap_or_else(|| access.fresh());
        let replaced_stream = db.get(key).is_some_and(|old| matches!(old.value, Value::Stream(_)));
        let created = !db.contains(key);
        db.set(key, Entry::new(value, stamp), keep_ttl);
        self.signal_modified_key(key);
        // Redis 7.0 signals waiters when a key is created (dbAdd), not when a
        // value is overwritten (dbOverwrite): a client blocked on a string
        // key that ZUNIONSTORE replaces stays blocked. An overwritten stream
        // is a deleted one to its group readers, who are told it is gone.
        if created || replaced_stream {
            self.signal_key_ready(key);
        }
        if created {
            self.notify(crate::notify::NEW, "new", key);
        }
    }

    /// Notes that `key` may now serve clients blocked on it (Redis's
    /// `signalKeyAsReady`); they are served after this command.
    pub fn signal_key_ready(&mut self, key: &[u8]) {
        self.srv.blocking.signal(self.client.db, key);
    }

    /// The key a blocked client is being served from, if this run serves one.
    pub fn serving_key(&self) -> Option<&[u8]> {
        match &self.block_mode {
            BlockMode::Serving(key) => Some(key),
            _ => None,
        }
    }

    /// Blocks the client on `keys` until `deadline_ms` (0 = forever); the
    /// handler must not reply. Where blocking is forbidden (MULTI, scripts),
    /// replies as a timeout would instead.
    pub fn block(&mut self, keys: &[&[u8]], deadline_ms: i64) {
        self.block_as(keys, deadline_ms, None);
    }

    /// `block`, re-running `argv` instead of the command as sent when served.
    pub fn block_as(&mut self, keys: &[&[u8]], deadline_ms: i64, argv: Option<Vec<Vec<u8>>>) {
        if self.block_mode == BlockMode::Forbidden {
            self.client.reply.null_array();
            return;
        }
        self.block_request = Some(BlockRequest { keys: keys.iter().map(|k| k.to_vec()).collect(), deadline_ms, argv });
    }

    /// Removes a key. Returns true if it existed (and had not expired).
    pub fn delete_key(&mut self, key: &[u8]) -> bool {
        self.expire_if_needed(key);
        let db = self.client.db;
        let Some(entry) = self.srv.dbs[db].remove(key) else { return false };
        self.srv.signal_deleted(db, key, &entry.value);
        true
    }

    /// Reports that `key` of the selected database changed, for commands
    /// whose key specs cannot tell (see `ModifiedKeys`).
    pub fn signal_modified_key(&mut self, key: &[u8]) {
        self.srv.signal_modified_key(self.client.db, key);
    }

    /// True inside EXEC (and scripts): a blocking command must answer now.
    pub fn blocking_forbidden(&self) -> bool {
        self.block_mode == BlockMode::Forbidden
    }

    /// Counts `n` changes to the dataset; a command with changes is propagated.
    pub fn mark_dirty(&mut self, n: u64) {
        self.dirty += n;
    }

    pub fn dirty(&self) -> u64 {
        self.dirty
    }

    /// Propagates this command even if it changed nothing (Redis's
    /// `forceCommandPropagation`).
    pub fn force_propagation(&mut self) {
        self.forced = true;
    }

    /// Propagates only what `propagate_as` adds, never the command as sent
    /// (Redis's `preventCommandPropagation`), while its changes still count
    /// as dirty.
    pub fn suppress_propagation(&mut self) {
        if let Propagation::AsSent = self.propagation {
            self.propagation = Propagation::Replaced(Vec::new());
        }
    }

    /// Propagates `argv` instead of the command as sent (may be called several
    /// times to emit several commands).
    pub fn propagate_as(&mut self, argv: Vec<Vec<u8>>) {
        match &mut self.propagation {
            Propagation::Replaced(list) => list.push(argv),
            p @ Propagation::AsSent => *p = Propagation::Replaced(vec![argv]),
        }
    }

    /// Sends this command's effects to the replication stream, if it changed anything.
    pub(super) fn finish_propagation(&mut self, argv: &[&[u8]]) {
        if self.dirty == 0 && !self.forced {
            return;
        }
        self.srv.dirty += self.dirty;
        let db = self.client.db;
        match std::mem::replace(&mut self.propagation, Propagation::AsSent) {
            Propagation::AsSent => self.srv.propagation.emit(db, argv),
            // Dispatch runs each command in a propagation group, so several
            // effects reach replicas wrapped in MULTI/EXEC, as in Redis 7.0.
            Propagation::Replaced(list) => {
                for cmd in list {
                    let args: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
                    self.srv.propagation.emit(db, &args);
                }
            }
        }
    }
}
