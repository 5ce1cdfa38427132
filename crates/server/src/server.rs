//! `Server`: all state owned by the main thread — configuration, databases,
//! clients, the command table, statistics and the replication stream — and the
//! small operations on it that many commands share (time, key expiry).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Instant;

use cinnabar_storage::Db;

use crate::access::AccessPolicy;
use crate::client::{Client, ClientId, ClientPause};
use crate::command::CommandTable;
use crate::config::Config;
use crate::lazyfree::LazyFree;
use crate::propagate::Propagator;
use crate::stats::Stats;

pub struct Server {
    pub config: Config,
    pub dbs: Vec<Db>,
    pub clients: BTreeMap<ClientId, Rc<RefCell<Client>>>,
    next_client_id: ClientId,
    pub commands: CommandTable,
    pub stats: Stats,
    pub propagation: Propagator,
    /// The background thread that frees what UNLINK and FLUSH* ASYNC drop.
    pub lazyfree: LazyFree,
    /// Unix time in milliseconds, refreshed before each command so a command
    /// sees one consistent "now" (as Redis's `server.mstime`).
    pub now_ms: i64,
    pub started: Instant,
    pub run_id: String,
    /// Writes since the last successful save (rdb_changes_since_last_save).
    pub dirty: u64,
    /// Unix time of the last successful save.
    pub last_save: i64,
    /// Notified by SHUTDOWN; the event loop then exits.
    pub shutdown_requested: Rc<tokio::sync::Notify>,
    /// The port actually listened on (config may say 0 = pick one).
    pub listening_port: u16,
    /// The listening sockets (a busy script accepts on them itself).
    pub listener_fds: Vec<i32>,
    /// The TLS context new `tls-port` connections get (CONFIG SET of the
    /// `tls-*` files replaces it; connections keep the one they began with).
    pub tls_context: Option<std::sync::Arc<rustls::ServerConfig>>,
    /// Memory of all counted clients at the last client-eviction pass
    /// (`client_eviction`).
    pub clients_memory_seen: usize,
    /// False after DEBUG SET-ACTIVE-EXPIRE 0: the cron stops expiring keys.
    pub active_expire_enabled: bool,
    /// True after DEBUG PAUSE-CRON 1: the periodic task does nothing.
    pub cron_paused: bool,
    /// List elements at least this big get a node of their own (DEBUG
    /// QUICKLIST-PACKED-THRESHOLD).
    pub quicklist_packed_threshold: u64,
    /// Replication identity and state (INFO replication, PSYNC).
    pub repl: crate::replication::Replication,
    pub slowlog: crate::slowlog::Slowlog,
    pub latency: crate::latency::LatencyMonitor,
    /// `used_memory` once start-up finished (used_memory_startup).
    pub startup_memory: usize,
    /// Clients in MONITOR mode, in the order they started.
    pub monitors: Vec<ClientId>,
    /// CLIENT PAUSE state, and the signal that wakes postponed clients when
    /// it ends early (CLIENT UNPAUSE).
    pub client_pause: ClientPause,
    pub client_pause_lifted: Rc<tokio::sync::Notify>,
    /// Clients blocked on keys (BLPOP, BLMOVE, ...).
    pub blocking: crate::blocking::Blocking,
    /// Pub/Sub subscriptions of every client.
    pub pubsub: crate::pubsub::Registry,
    /// Keys clients WATCH, and which clients saw theirs change.
    pub watches: crate::watch::Watches,
    /// The append-only file (a sink of `propagation` while it is on).
    pub aof: crate::persistence::aof::Aof,
    /// True while the dataset is loaded from disk at start-up.
    pub loading: bool,
    /// Lua scripts and functions.
    pub scripting: crate::scripting::Scripting,
    /// Snapshot state: BGSAVE child, last save status, loading progress.
    pub rdb: crate::persistence::RdbState,
    /// Client-side caching: tracked keys, BCAST prefixes, tracking clients.
    pub tracking: crate::tracking::Tracking,
    /// ACL users and the ACL LOG.
    pub acl: crate::acl::Acl,
    /// The eviction pool and the background eviction task's state.
    pub eviction: crate::evict::Eviction,
    /// The shared handle this server lives in, for commands that start
    /// tasks of their own (REPLICAOF's link to the master).
    pub handle: std::rc::Weak<RefCell<Server>>,
}

/// The current unix time in milliseconds.
pub fn unix_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Redis's LRU clock: seconds, wrapping at 24 bits.
pub fn lru_clock(now_ms: i64) -> u32 {
    ((now_ms / 1000) as u32) & ((1 << 24) - 1)
}

impl Server {
    pub fn new(config: Config) -> Server {
        let dbs = (0..config.databases).map(|_| Db::new()).collect();
        let mut commands = CommandTable::new(crate::commands::FAMILIES);
        for (from, to) in &config.renamed_commands {
            commands.rename(from, to);
        }
        let acl = crate::acl::Acl::new(&commands);
        let stats = Stats::default();
        let lazyfree = LazyFree::start(stats.lazyfree.clone());
        Server {
            config,
            dbs,
            clients: BTreeMap::new(),
            next_client_id: 1,
            commands,
            stats,
            propagation: Propagator::default(),
            lazyfree,
            now_ms: unix_ms(),
            started: Instant::now(),
            run_id: crate::replication::random_id(),
            dirty: 0,
            last_save: unix_ms() / 1000,
            shutdown_requested: Rc::new(tokio::sync::Notify::new()),
            listening_port: 0,
            listener_fds: Vec::new(),
            tls_context: None,
            clients_memory_seen: 0,
            active_expire_enabled: true,
            cron_paused: false,
            quicklist_packed_threshold: 1 << 30,
            repl: Default::default(),
            slowlog: Default::default(),
            latency: Default::default(),
            startup_memory: 0,
            monitors: Vec::new(),
            client_pause: ClientPause::default(),
            client_pause_lifted: Rc::new(tokio::sync::Notify::new()),
            blocking: Default::default(),
            pubsub: Default::default(),
            watches: Default::default(),
            aof: Default::default(),
            loading: false,
            scripting: Default::default(),
            rdb: Default::default(),
            tracking: Default::default(),
            acl,
            eviction: Default::default(),
            handle: std::rc::Weak::new(),
        }
    }

    /// Registers a new connection and returns its shared state.
    pub fn add_client(&mut self, addr: String, laddr: String, fd: i32) -> Rc<RefCell<Client>> {
        let id = self.next_client_id;
        self.next_client_id += 1;
        let mut client = Client::new(id, addr, laddr, fd, unix_ms());
        client.user = Some(self.acl.default_user.clone());
        client.authenticated = !self.auth_required_by_default();
        let client = Rc::new(RefCell::new(client));
        self.clients.insert(id, client.clone());
        self.stats.total_connections_received += 1;
        client
    }

    pub fn remove_client(&mut self, id: ClientId) {
        if let Some(client) = self.clients.remove(&id) {
            self.pubsub.forget(&mut client.borrow_mut());
        }
        self.monitors.retain(|&m| m != id);
        self.blocking.forget(id);
        crate::replication::master::forget_waiter(self, id);
        self.watches.unwatch(id);
        self.tracking.disable(id);
    }

    /// True while new clients must AUTH before other commands: the default
    /// user has a password or is off.
    pub fn auth_required_by_default(&self) -> bool {
        self.acl.auth_required()
    }

    pub fn refresh_time(&mut self) {
        self.now_ms = unix_ms();
    }

    pub fn lru_clock(&self) -> u32 {
        lru_clock(self.now_ms)
    }

    /// How keys' access stamps are made and read at this moment.
    pub fn access_policy(&self) -> AccessPolicy {
        AccessPolicy::new(&self.config, self.now_ms)
    }

    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Deletes `key` from `db` if its TTL has passed. Returns true if it did.
    /// `current` is the client running a command, if any (see `expire_key`).
    /// Nothing expires while the dataset loads: the commands being replayed
    /// saw the key alive (the cron expires it afterwards).
    pub fn expire_if_needed(&mut self, db: usize, key: &[u8], current: Option<&mut Client>) -> bool {
        // A replica never expires keys itself: its master sends the DEL
        // (reads hide logically expired keys meanwhile, see `hides_expired`).
        if self.loading || self.repl.is_replica() || !self.dbs[db].is_expired(key, self.now_ms) {
            return false;
        }
        self.expire_key(db, key, current);
        true
    }

    /// True if `client` must not see `key` although it is still there: on a
    /// replica, a key whose TTL passed waits for the master's DEL, but
    /// clients other than the master read it as missing (as Redis 7.0).
    pub fn hides_expired(&self, db: usize, key: &[u8], client: &Client) -> bool {
        self.repl.is_replica() && !client.is_master && self.dbs[db].is_expired(key, self.now_ms)
    }

    /// Deletes `key` from `db` because its TTL passed, emitting the DEL (UNLINK
    /// under lazyfree-lazy-expire) that replicas and the AOF see instead of the
    /// expiry itself, and the `expired` keyspace event. `current` is the
    /// client running a command, if any: it is borrowed, so it gets its own
    /// notification through this reference.
    pub fn expire_key(&mut self, db: usize, key: &[u8], current: Option<&mut Client>) {
        let lazy = self.config.lazyfree_lazy_expire;
        self.remove_key(db, key, lazy);
        self.stats.expired_keys += 1;
        crate::notify::notify(self, current, db, crate::notify::EXPIRED, "expired", key);
        self.propagation.emit(db, &[deletion_verb(lazy), key]);
    }

    /// Notes that `key`, holding `value`, left `db`: a deletion is a
    /// modification, and as in Redis 7.0, a deleted stream's blocked group
    /// readers are told it is gone.
    pub fn signal_deleted(&mut self, db: usize, key: &[u8], value: &cinnabar_storage::Value) {
        self.signal_modified_key(db, key);
        if matches!(value, cinnabar_storage::Value::Stream(_)) {
            self.blocking.signal(db, key);
        }
    }

    /// Notes that `key` of `db` changed (Redis's `signalModifiedKey`): the
    /// clients that WATCH it will see their EXEC fail, and the clients that
    /// track it get an invalidation. Free when nobody watches or tracks.
    pub fn signal_modified_key(&mut self, db: usize, key: &[u8]) {
        if !self.tracking.is_empty() {
            crate::tracking::invalidate_key(self, key, true);
        }
        if self.watches.is_empty() {
            return;
        }
        let exists = self.dbs[db].contains(key);
        self.watches.touch(db, key, exists);
    }

    /// Database `db` is about to be emptied (FLUSHDB, FLUSHALL): its watched
    /// keys that exist change.
    pub fn signal_flushed_db(&mut self, db: usize) {
        if !self.watches.is_empty() {
            self.watches.touch_replaced_db(db, &self.dbs[db], None, self.now_ms);
        }
    }

    /// Databases `a` and `b` are about to swap contents (SWAPDB): the watched
    /// keys of each that exist on either side change.
    pub fn signal_swapped_dbs(&mut self, a: usize, b: usize) {
        if !self.watches.is_empty() {
            self.watches.touch_replaced_db(a, &self.dbs[a], Some(&self.dbs[b]), self.now_ms);
            self.watches.touch_replaced_db(b, &self.dbs[b], Some(&self.dbs[a]), self.now_ms);
        }
    }

    /// Removes a key and its TTL, freeing the value in the background when
    /// `lazy` and that is worth it. Returns true if the key existed.
    pub fn remove_key(&mut self, db: usize, key: &[u8], lazy: bool) -> bool {
        match self.dbs[db].remove(key) {
            Some(entry) => {
                self.signal_deleted(db, key, &entry.value);
                self.lazyfree.free_value(entry.value, lazy);
                true
            }
            None => false,
        }
    }
}

/// The command a deletion propagates as: UNLINK when it was freed lazily.
pub fn deletion_verb(lazy: bool) -> &'static [u8] {
    if lazy {
        b"UNLINK"
    } else {
        b"DEL"
    }
}
