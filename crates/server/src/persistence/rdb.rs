//! The RDB driver: SAVE, BGSAVE in a forked child, `save` points checked by
//! the cron, the final save at shutdown, FLUSHALL's fresh dump, DEBUG
//! RELOAD, and loading `dir/dbfilename` at start-up on a separate thread.
//!
//! Every save writes `temp-<pid>.rdb`, fsyncs it, renames it over
//! `dbfilename` and fsyncs the directory: a good dump is only ever replaced
//! by a complete one. The snapshot itself is `save_snapshot` over the
//! databases as they are at that instant (in a child, the memory it forked
//! with), so another driver could hand it any consistent view.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cinnabar_persistence::rdb::{self, AccessMeta, Aux, LoadOptions, Loaded, RdbError, SaveOptions};
use cinnabar_storage::hash::HashLimits;
use cinnabar_storage::{Db, Entry, ZsetLimits};

use super::{fork, ChildJob, Loading};
use crate::access::AccessPolicy;
use crate::config::Config;
use crate::log::log_at;
use crate::server::{unix_ms, Server};

/// Seconds before a failed BGSAVE is retried by a save point.
const BGSAVE_RETRY_DELAY: i64 = 5;

fn unix_now() -> i64 {
    unix_ms() / 1000
}

pub fn save_options(config: &Config) -> SaveOptions {
    SaveOptions { compress: config.rdbcompression, checksum: config.rdbchecksum }
}

/// The encoding limits loaded values are built with. `expire` drops keys
/// whose TTL passed (a master loading its own data).
pub fn load_options(config: &Config, expire_before_ms: Option<i64>) -> LoadOptions {
    LoadOptions {
        hash: HashLimits {
            max_listpack_entries: config.hash_max_listpack_entries as usize,
            max_listpack_value: config.hash_max_listpack_value as usize,
        },
        zset: ZsetLimits {
            max_entries: config.zset_max_listpack_entries as usize,
            max_value: config.zset_max_listpack_value as usize,
        },
        set_max_intset_entries: config.set_max_intset_entries as usize,
        list_fill: config.list_max_listpack_size,
        databases: config.databases as usize,
        expire_before_ms,
        verify_checksum: config.rdbchecksum,
    }
}

/// What a snapshot records about a key's accesses: an idle time under an
/// LRU eviction policy, a frequency under an LFU one, nothing otherwise.
fn access_meta(policy: AccessPolicy, lru: bool, entry: &Entry) -> Option<AccessMeta> {
    if policy.is_lfu() {
        Some(AccessMeta::Freq(policy.lfu_counter(entry.access) as u8))
    } else if lru {
        Some(AccessMeta::IdleSeconds(u64::from(policy.idle_seconds(entry.access))))
    } else {
        None
    }
}

/// The access stamp of a key loaded with `meta` (Redis's `objectSetLRUOrLFU`).
pub fn loaded_stamp(policy: AccessPolicy, meta: Option<AccessMeta>) -> u32 {
    match (policy.is_lfu(), meta) {
        (true, Some(AccessMeta::Freq(freq))) => policy.with_counter(freq),
        (false, Some(AccessMeta::IdleSeconds(idle))) => policy.idle_for(idle),
        _ => policy.fresh(),
    }
}

/// Everything a save needs, detached from `Server` so a forked child can
/// run it on the memory it inherited.
struct Snapshot<'a> {
    dbs: &'a [Db],
    /// The code of every function library (FUNCTION LOAD).
    functions: Vec<Vec<u8>>,
    aux: Aux,
    opts: SaveOptions,
    policy: AccessPolicy,
    lru: bool,
    key_delay_us: i64,
    filename: String,
}

impl<'a> Snapshot<'a> {
    fn of(srv: &'a Server) -> Snapshot<'a> {
        let aux = Aux {
            redis_ver: crate::REDIS_VERSION.to_string(),
            ctime: unix_now(),
            used_mem: crate::stats::used_memory() as u64,
            repl: replication_aux(srv),
            aof_base: false,
        };
        Snapshot {
            dbs: &srv.dbs,
            functions: srv.scripting.functions.libraries.values().map(|l| l.code.clone()).collect(),
            aux,
            opts: save_options(&srv.config),
            policy: srv.access_policy(),
            lru: srv.config.maxmemory_policy.ends_with("-lru"),
            key_delay_us: srv.config.rdb_key_save_delay,
            filename: srv.config.dbfilename.clone(),
        }
    }

    fn keys(&self) -> u64 {
        self.dbs.iter().map(|db| db.len() as u64).sum()
    }

    /// Writes the dump through a temp file; logs and returns false on error.
    /// `progress` is told how many keys are done.
    fn write(&self, progress: &mut dyn FnMut(u64)) -> bool {
        let tmp = format!("temp-{}.rdb", std::process::id());
        let file = match File::create(&tmp) {
            Ok(f) => f,
            Err(e) => {
                let cwd = std::env::current_dir().map_or("unknown".into(), |d| d.display().to_string());
                log_at!(
                    Warning,
                    "Failed opening the temp RDB file {tmp} (in server root dir {cwd}) for saving: {}",
                    os_error_text(&e)
                );
                return false;
            }
        };
        match self.write_to(file, progress) {
            Ok(()) => {}
            Err((op, e)) => {
                log_at!(Warning, "Write error saving DB on disk({op}): {e}");
                let _ = std::fs::remove_file(&tmp);
                return false;
            }
        }
        if let Err(e) = std::fs::rename(&tmp, &self.filename) {
            let cwd = std::env::current_dir().map_or("unknown".into(), |d| d.display().to_string());
            log_at!(
                Warning,
                "Error moving temp DB file {tmp} on the final destination {} (in server root dir {cwd}): {}",
                self.filename,
                os_error_text(&e)
            );
            let _ = std::fs::remove_file(&tmp);
            return false;
        }
        if let Err(e) = fsync_dir_of(&self.filename) {
            log_at!(Warning, "Write error saving DB on disk(fsyncFileDir): {}", os_error_text(&e));
            return false;
        }
        log_at!(Notice, "DB saved on disk");
        true
    }

    fn write_to(&self, file: File, progress: &mut dyn FnMut(u64)) -> Result<(), (&'static str, String)> {
        let file = self.serialize(file, progress).map_err(|e| ("rdbSaveRio", rdb_error_text(&e)))?;
        file.sync_all().map_err(|e| ("fsync", os_error_text(&e)))
    }

    /// Serializes the snapshot into `out`, pausing `rdb-key-save-delay`
    /// after each key; `progress` is told how many keys are done.
    fn serialize<W: std::io::Write>(&self, out: W, progress: &mut dyn FnMut(u64)) -> Result<W, RdbError> {
        let (policy, lru) = (self.policy, self.lru);
        let access = move |e: &Entry| access_meta(policy, lru, e);
        let mut keys = 0u64;
        let delay = self.key_delay_us;
        let mut after_key = || {
            keys += 1;
            progress(keys);
            if delay > 0 {
                std::thread::sleep(Duration::from_micros(delay as u64));
            }
        };
        rdb::save_snapshot(out, self.opts, &self.aux, &self.functions, self.dbs, &access, &mut after_key)
    }
}

/// The replication aux fields (repl-stream-db, repl-id, repl-offset) a
/// snapshot carries when this server has a replication history, as Redis's
/// `rdbPopulateSaveInfo`: a replica restarted from it continues with a
/// partial sync, in the database its master's stream had selected.
fn replication_aux(srv: &Server) -> Option<(i64, String, i64)> {
    srv.propagation.backlog.as_ref()?;
    let stream_db = match srv.repl.link.as_ref().and_then(|l| l.master_client) {
        Some(id) => srv.clients.get(&id).and_then(|c| c.try_borrow().ok()).map_or(0, |c| c.db),
        None => srv.propagation.selected_db().unwrap_or(0),
    };
    Some((stream_db as i64, srv.repl.replid.clone(), srv.propagation.repl_offset() as i64))
}

/// The history a loaded snapshot belongs to: (repl-id, repl-offset,
/// repl-stream-db), if its aux fields say.
pub fn replication_info(loaded: &Loaded) -> Option<(String, u64, usize)> {
    let text = |name| loaded.aux_field(name).map(|v| String::from_utf8_lossy(v).into_owned());
    let replid = text("repl-id").filter(|id| id.len() == 40)?;
    let offset = text("repl-offset")?.parse::<u64>().ok()?;
    let db = text("repl-stream-db").and_then(|d| d.parse::<usize>().ok()).unwrap_or(0);
    Some((replid, offset, db))
}

/// Writes the snapshot a full sync sends a replica (in a forked child).
pub fn write_replication_snapshot<W: std::io::Write>(srv: &Server, out: W) -> std::io::Result<W> {
    Snapshot::of(srv).serialize(out, &mut |_| {}).map_err(|e| std::io::Error::other(rdb_error_text(&e)))
}

/// Parses a snapshot received from our master on a separate thread, while
/// clients get -LOADING. Keys keep their TTLs even if past: the master
/// sends the DELs.
pub async fn load_replicated(
    server: &std::rc::Rc<std::cell::RefCell<Server>>,
    payload: Vec<u8>,
) -> Result<Loaded, String> {
    let (opts, policy) = {
        let srv = server.borrow();
        (load_options(&srv.config, None), srv.access_policy())
    };
    let loaded_bytes = Arc::new(AtomicU64::new(0));
    server.borrow_mut().rdb.loading =
        Some(Loading { start_unix: unix_now(), total_bytes: payload.len() as u64, loaded_bytes: loaded_bytes.clone() });
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new().name("rdb-load".into()).spawn(move || {
        let stamp = move |meta| loaded_stamp(policy, meta);
        let progress = |offset| loaded_bytes.store(offset, Ordering::Relaxed);
        let mut progress = progress;
        let _ = tx.send(rdb::load_snapshot(std::io::Cursor::new(payload), &opts, &stamp, &mut progress));
    });
    let result = match spawned {
        Ok(_) => rx.await.map_err(|_| "the loader thread died".to_string()),
        Err(e) => Err(e.to_string()),
    };
    server.borrow_mut().rdb.loading = None;
    match result? {
        Ok(loaded) => Ok(loaded),
        Err(e) => Err(format!("Failed trying to load the MASTER synchronization DB from socket: {e}")),
    }
}

/// Replaces the whole dataset, functions included, with a loaded one (a
/// full sync).
pub fn replace_dataset(srv: &mut Server, loaded: Loaded) {
    srv.scripting.functions.flush();
    for index in 0..srv.dbs.len() {
        srv.signal_flushed_db(index);
        let old = srv.dbs[index].take_all();
        srv.lazyfree.free_db(old);
    }
    install(srv, loaded, false);
}

/// Writes the dataset as an AOF base in RDB format (aux `aof-base 1`, as
/// Redis 7.0 writes `<name>.<n>.base.rdb`); `progress` is told how many
/// keys are done (and pauses `rdb-key-save-delay` itself, as the rewrite's
/// command form has to). Returns the sink.
pub fn write_aof_base<W: std::io::Write>(srv: &Server, out: W, progress: &mut dyn FnMut(u64)) -> std::io::Result<W> {
    let mut snapshot = Snapshot::of(srv);
    snapshot.aux.aof_base = true;
    snapshot.key_delay_us = 0;
    snapshot.serialize(out, progress).map_err(|e| std::io::Error::other(rdb_error_text(&e)))
}

/// Parses the RDB part of an AOF base (or an old file's preamble) at
/// `path`; runs on any thread. The error text says why it failed.
pub fn parse_aof_base(path: &Path, opts: &LoadOptions, policy: AccessPolicy) -> Result<Loaded, String> {
    let file = File::open(path).map_err(|e| os_error_text(&e))?;
    let stamp = move |meta| loaded_stamp(policy, meta);
    // The reader buffers by itself.
    rdb::load_snapshot(file, opts, &stamp, &mut |_| {}).map_err(|e| e.to_string())
}

/// Installs a parsed AOF base into the (empty) databases. Returns the
/// length of its RDB part: the commands after it are the rest of the file.
pub fn install_aof_base(srv: &mut Server, loaded: Loaded) -> u64 {
    let length = loaded.length;
    install(srv, loaded, false);
    length
}

fn fsync_dir_of(filename: &str) -> std::io::Result<()> {
    let dir = Path::new(filename).parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

/// An OS error as `strerror` words it (without Rust's " (os error N)").
fn os_error_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

fn rdb_error_text(e: &RdbError) -> String {
    match e {
        RdbError::Io(io) => os_error_text(io),
        other => other.to_string(),
    }
}

/// SAVE (and the saves of SHUTDOWN, FLUSHALL, DEBUG RELOAD): a synchronous
/// save on the main thread. Returns true on success.
pub fn save(srv: &mut Server) -> bool {
    let ok = Snapshot::of(srv).write(&mut |_| {});
    if ok {
        srv.dirty = 0;
        srv.last_save = unix_now();
        srv.rdb.last_bgsave_ok = true;
    }
    ok
}

/// Starts a BGSAVE child. Returns false (and logs) if fork failed; the
/// caller checked no child is running.
pub fn bgsave(srv: &mut Server) -> bool {
    srv.rdb.saves += 1;
    srv.rdb.dirty_before_bgsave = srv.dirty;
    srv.rdb.last_bgsave_try = unix_now();
    let snapshot = Snapshot::of(srv);
    let keys_total = snapshot.keys();
    let spawned = fork::spawn(c"redis-rdb-bgsave", "RDB", |reporter| {
        let ok = snapshot.write(&mut |keys| {
            if keys & 1023 == 0 {
                reporter.progress(keys);
            }
        });
        (ok, keys_total)
    });
    let child = match spawned {
        Ok(child) => child,
        Err(e) => {
            srv.rdb.last_bgsave_ok = false;
            log_at!(Warning, "Can't save in background: fork: {}", os_error_text(&e));
            return false;
        }
    };
    super::record_fork(srv, &child);
    log_at!(Notice, "Background saving started by pid {}", child.pid);
    srv.rdb.child = Some(ChildJob::new(child, keys_total));
    super::child_changed(srv);
    true
}

/// True when writes must be refused with -MISCONF: the last BGSAVE failed,
/// save points exist and `stop-writes-on-bgsave-error` is on.
pub fn writes_denied(srv: &Server) -> bool {
    srv.config.stop_writes_on_bgsave_error && !srv.config.save.is_empty() && !srv.rdb.last_bgsave_ok
}

/// The cron's part: reap a finished child, or start a BGSAVE when one was
/// scheduled or a save point is due.
pub fn cron(srv: &mut Server) {
    if srv.rdb.child.is_some() {
        check_child(srv);
        return;
    }
    if super::child_running(srv) {
        return;
    }
    let now = unix_now();
    let may_retry = now - srv.rdb.last_bgsave_try > BGSAVE_RETRY_DELAY || srv.rdb.last_bgsave_ok;
    if srv.rdb.bgsave_scheduled && may_retry {
        if bgsave(srv) {
            srv.rdb.bgsave_scheduled = false;
        }
        return;
    }
    let due = srv
        .config
        .save
        .iter()
        .copied()
        .find(|&(seconds, changes)| srv.dirty >= changes as u64 && now - srv.last_save > seconds && may_retry);
    if let Some((seconds, changes)) = due {
        log_at!(Notice, "{changes} changes in {seconds} seconds. Saving...");
        bgsave(srv);
    }
}

fn check_child(srv: &mut Server) {
    let Some(running) = &mut srv.rdb.child else { return };
    let Some(exit) = running.poll() else { return };
    let running = srv.rdb.child.take().expect("checked above");
    finish_bgsave(srv, &running, exit);
}

fn finish_bgsave(srv: &mut Server, running: &ChildJob, exit: fork::Exit) {
    match exit {
        fork::Exit::Code(0) => {
            log_at!(Notice, "Background saving terminated with success");
            srv.dirty = srv.dirty.saturating_sub(srv.rdb.dirty_before_bgsave);
            srv.last_save = unix_now();
            srv.rdb.last_bgsave_ok = true;
            if let Some(cow) = running.final_cow_size() {
                srv.rdb.last_cow_size = cow;
            }
        }
        fork::Exit::Code(_) => {
            log_at!(Warning, "Background saving error");
            srv.rdb.last_bgsave_ok = false;
        }
        fork::Exit::Signal(sig) => {
            log_at!(Warning, "Background saving terminated by signal {sig}");
            remove_temp_file(running.child.pid);
            // SIGUSR1 is how we stop a child on purpose: not an error.
            if sig != libc::SIGUSR1 {
                srv.rdb.last_bgsave_ok = false;
            }
        }
    }
    srv.rdb.last_bgsave_time_sec = unix_now() - running.started_unix;
    super::child_changed(srv);
    let ok = srv.rdb.last_bgsave_ok && matches!(exit, fork::Exit::Code(0));
    crate::replication::master::disk_snapshot_done(srv, ok);
}

fn remove_temp_file(pid: libc::pid_t) {
    let _ = std::fs::remove_file(format!("temp-{pid}.rdb"));
}

/// Stops a running BGSAVE (SHUTDOWN, FLUSHALL) and cleans up after it.
pub fn kill_child(srv: &mut Server) {
    if let Some(running) = srv.rdb.child.take() {
        running.child.kill_and_wait();
        finish_bgsave(srv, &running, fork::Exit::Signal(libc::SIGUSR1));
    }
}

/// FLUSHALL's effect on the dump: a running BGSAVE is dropped and, when
/// save points exist, an empty dump replaces the old one at once (without
/// clearing the dirty count, so the flush is still propagated).
pub fn reset_after_flushall(srv: &mut Server) {
    kill_child(srv);
    if !srv.config.save.is_empty() {
        let dirty = srv.dirty;
        save(srv);
        srv.dirty = dirty;
    }
}

/// The save SHUTDOWN makes (`save`: SHUTDOWN SAVE; `nosave`: SHUTDOWN
/// NOSAVE; without either, when save points exist). Returns false when it
/// failed and `force` does not say to exit anyway.
pub fn shutdown_save(srv: &mut Server, save_flag: bool, nosave: bool, force: bool) -> bool {
    if srv.rdb.child.is_some() {
        log_at!(Warning, "There is a child saving an .rdb. Killing it!");
        kill_child(srv);
    }
    // Saving while the start-up load runs would replace the dump with part
    // of it: Redis never saves then.
    if (srv.config.save.is_empty() || nosave) && !save_flag || srv.rdb.loading.is_some() {
        return true;
    }
    log_at!(Notice, "Saving the final RDB snapshot before exiting.");
    if save(srv) {
        return true;
    }
    if force {
        log_at!(Warning, "Error trying to save the DB. Exit anyway.");
        true
    } else {
        log_at!(Warning, "Error trying to save the DB, can't exit.");
        false
    }
}

/// Why reading the dump failed.
pub enum LoadFailure {
    /// Not an RDB file we can read (bad signature or version): Redis's
    /// "Fatal error loading the DB: Invalid argument".
    Format(String),
    /// Corrupt or truncated data, at about `offset`.
    Corrupt {
        msg: String,
        offset: u64,
        eof: bool,
    },
    Io(std::io::Error),
}

/// Reads `path` into fresh databases; `Ok(None)` when there is no file.
/// `loaded_bytes` follows the progress; `key_delay_us` (the hidden
/// `key-load-delay`) slows loading down for tests.
pub fn read_file(
    path: &str,
    opts: &LoadOptions,
    policy: AccessPolicy,
    loaded_bytes: &AtomicU64,
    key_delay_us: i64,
) -> Result<Option<Loaded>, LoadFailure> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LoadFailure::Io(e)),
    };
    let stamp = move |meta| loaded_stamp(policy, meta);
    let mut progress = |offset| {
        loaded_bytes.store(offset, Ordering::Relaxed);
        if key_delay_us > 0 {
            std::thread::sleep(Duration::from_micros(key_delay_us as u64));
        }
    };
    // The reader buffers by itself.
    match rdb::load_snapshot(file, opts, &stamp, &mut progress) {
        Ok(loaded) => Ok(Some(loaded)),
        Err(RdbError::Io(e)) => Err(LoadFailure::Io(e)),
        Err(RdbError::Corrupt(msg)) if msg.starts_with("Wrong signature") || msg.starts_with("Can't handle") => {
            Err(LoadFailure::Format(msg))
        }
        Err(e) => Err(LoadFailure::Corrupt {
            eof: matches!(e, RdbError::UnexpectedEof),
            msg: e.to_string(),
            offset: loaded_bytes.load(Ordering::Relaxed),
        }),
    }
}

/// Logs a failed load as Redis does before it exits.
pub fn log_load_failure(failure: &LoadFailure) {
    match failure {
        LoadFailure::Format(msg) => {
            log_at!(Warning, "{msg}");
            log_at!(Warning, "Fatal error loading the DB: Invalid argument. Exiting.");
        }
        LoadFailure::Corrupt { msg, offset, eof } => {
            if *eof {
                log_at!(Warning, "Short read or OOM loading DB. Unrecoverable error, aborting now.");
            }
            log_at!(Warning, "Internal error in RDB reading offset {offset}, function at rdb.c:0 -> {msg}");
            log_at!(Warning, "Terminating server after rdb file reading failure.");
        }
        LoadFailure::Io(e) => log_at!(Warning, "Fatal error loading the DB: {}. Exiting.", os_error_text(e)),
    }
}

/// Logs what the file's aux fields say, as Redis does while loading.
fn log_aux_fields(loaded: &Loaded) {
    let text = |name| loaded.aux_field(name).map(|v| String::from_utf8_lossy(v).into_owned());
    if let Some(version) = text("redis-ver") {
        log_at!(Notice, "Loading RDB produced by version {version}");
    }
    if let Some(ctime) = text("ctime").and_then(|t| t.parse::<i64>().ok()) {
        log_at!(Notice, "RDB age {} seconds", (unix_now() - ctime).max(0));
    }
    if let Some(mem) = text("used-mem").and_then(|t| t.parse::<i64>().ok()) {
        log_at!(Notice, "RDB memory usage when created {:.2} Mb", mem as f64 / (1024.0 * 1024.0));
    }
    if loaded.checksum_disabled {
        log_at!(Warning, "RDB file was saved with checksum disabled: no check performed.");
    }
}

/// Puts a loaded dataset in place of (or, with `merge`, over) the current one.
fn install(srv: &mut Server, loaded: Loaded, merge: bool) {
    log_aux_fields(&loaded);
    srv.rdb.last_load_keys_loaded = loaded.keys_loaded;
    srv.rdb.last_load_keys_expired = loaded.keys_expired;
    let (keys, expired, skipped) = (loaded.keys_loaded, loaded.keys_expired, loaded.empty_keys_skipped);
    if skipped > 0 {
        log_at!(
            Warning,
            "Done loading RDB, keys loaded: {keys}, keys expired: {expired}, empty keys skipped: {skipped}."
        );
    } else {
        log_at!(Notice, "Done loading RDB, keys loaded: {keys}, keys expired: {expired}.");
    }
    for code in &loaded.functions {
        if let Err(e) = srv.scripting.functions.load(code, true) {
            log_at!(Warning, "Failed loading library from the RDB: {e}");
        }
    }
    for (index, db) in loaded.dbs.into_iter().enumerate() {
        if !merge || srv.dbs[index].is_empty() {
            srv.dbs[index] = db;
            continue;
        }
        for (key, entry) in db.iter() {
            srv.dbs[index].set(key, entry.clone(), false);
            if let Some(at) = db.expire_at(key) {
                srv.dbs[index].set_expire(key, at);
            }
        }
    }
}

/// DEBUG RELOAD: save (unless `nosave`), empty the dataset (unless
/// `noflush`), load the dump back (`merge` lets loaded keys replace
/// existing ones).
pub fn reload(srv: &mut Server, nosave: bool, noflush: bool, merge: bool) -> Result<(), &'static str> {
    if !nosave && !save(srv) {
        return Err("ERR");
    }
    let opts = load_options(&srv.config, Some(srv.now_ms));
    let progress = AtomicU64::new(0);
    let loaded = match read_file(&srv.config.dbfilename, &opts, srv.access_policy(), &progress, 0) {
        Ok(Some(loaded)) => loaded,
        Ok(None) => return Err("ERR Error trying to load the RDB dump"),
        Err(failure) => {
            log_load_failure(&failure);
            return Err("ERR Error trying to load the RDB dump");
        }
    };
    let clash =
        noflush && !merge && loaded.dbs.iter().zip(&srv.dbs).any(|(new, old)| new.iter().any(|(k, _)| old.contains(k)));
    if clash {
        log_at!(Warning, "RDB has duplicated key in a DEBUG RELOAD NOFLUSH");
        return Err("ERR Error trying to load the RDB dump");
    }
    if !noflush {
        for db in &mut srv.dbs {
            let old = db.take_all();
            srv.lazyfree.free_db(old);
        }
    }
    install(srv, loaded, noflush);
    log_at!(Warning, "DB reloaded by DEBUG RELOAD");
    Ok(())
}

/// Loads `dir/dbfilename` at start-up: parsed on its own thread while the
/// main thread already answers clients with -LOADING, then swapped in.
/// Exits the process, as Redis does, if the file cannot be loaded.
pub async fn load_at_startup(server: &std::rc::Rc<std::cell::RefCell<Server>>) {
    let (path, opts, policy, delay) = {
        let srv = server.borrow();
        let opts = load_options(&srv.config, Some(unix_ms()));
        (srv.config.dbfilename.clone(), opts, srv.access_policy(), srv.config.key_load_delay)
    };
    let Ok(meta) = std::fs::metadata(&path) else { return };
    let loaded_bytes = Arc::new(AtomicU64::new(0));
    server.borrow_mut().rdb.loading =
        Some(Loading { start_unix: unix_now(), total_bytes: meta.len(), loaded_bytes: loaded_bytes.clone() });
    let started = Instant::now();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new().name("rdb-load".into()).spawn(move || {
        let _ = tx.send(read_file(&path, &opts, policy, &loaded_bytes, delay));
    });
    let result = match spawned {
        Ok(_) => rx.await.unwrap_or_else(|_| Err(LoadFailure::Io(std::io::Error::other("loader thread died")))),
        Err(e) => Err(LoadFailure::Io(e)),
    };
    let mut srv = server.borrow_mut();
    srv.rdb.loading = None;
    match result {
        Ok(Some(loaded)) => {
            if let Some(info) = replication_info(&loaded) {
                let (replica, size) = (srv.config.replicaof.is_some(), srv.config.repl_backlog_size as u64);
                let srv = &mut *srv;
                srv.repl.restore(&mut srv.propagation, info, replica, size);
            }
            install(&mut srv, loaded, false);
            log_at!(Notice, "DB loaded from disk: {:.3} seconds", started.elapsed().as_secs_f64());
        }
        Ok(None) => {}
        Err(failure) => {
            log_load_failure(&failure);
            std::process::exit(1);
        }
    }
}
