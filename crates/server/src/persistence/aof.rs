//! The append-only file driver, Redis 7.0's multi-part AOF.
//!
//! The AOF is a sink of the replication stream (`propagate.rs`): every
//! propagated command lands in `Pending` (Redis's `aof_buf`). A flush pass
//! (`flush`) writes that buffer to the current incr file and fsyncs as
//! `appendfsync` says: `always` on the main thread before any reply leaves,
//! `everysec` on the background thread (`background.rs`) with Redis's
//! postponement when the previous fsync still runs, `no` never.
//!
//! Replies wait for the flush: a connection task notes how far the stream
//! went when its replies were produced and, before writing them, waits until
//! a flush pass covered that point (`wait_flushed`). One flusher task runs the
//! passes (`run_flusher`), so the writes of every client served in one
//! event-loop turn share one write and one fsync, as in Redis's beforeSleep.
//!
//! Submodules: `load` (start-up: manifest, upgrade of an old single file,
//! loading base and incr files), `rewrite` (BGREWRITEAOF, automatic rewrites,
//! turning the AOF on at run time), `background` (fsync and unlink thread).

mod background;
mod load;
mod rewrite;

use std::cell::RefCell;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use cinnabar_persistence::aof::manifest::Manifest;

use crate::config::{strerror, Config};
use crate::log::log_at;
use crate::propagate::{SinkId, StreamSink};
use crate::server::Server;

pub use load::{load_at_startup, reload, StartupFailed};
pub use rewrite::{bgrewriteaof, BgrewriteReply};

/// Whether the AOF is kept (Redis's `aof_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AofState {
    Off,
    /// Being turned on: the rewrite that makes its first base runs or is
    /// scheduled; writes made meanwhile go to a temp incr file.
    WaitRewrite,
    On,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    Always,
    Everysec,
    No,
}

impl FsyncPolicy {
    fn of(config: &Config) -> FsyncPolicy {
        match config.appendfsync.as_str() {
            "always" => FsyncPolicy::Always,
            "no" => FsyncPolicy::No,
            _ => FsyncPolicy::Everysec,
        }
    }
}

/// What the stream handed the AOF and no flush pass wrote yet.
#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    /// Bytes ever appended: the stream position replies wait for.
    appended: u64,
    /// `aof-timestamp-enabled`: a `#TS:<unix>` line whenever the second changed.
    timestamps: bool,
    last_timestamp: i64,
}

impl Pending {
    fn push(&mut self, bytes: &[u8]) {
        if self.timestamps {
            let now = crate::server::unix_ms() / 1000;
            if now > self.last_timestamp {
                self.last_timestamp = now;
                let line = format!("#TS:{now}\r\n");
                self.bytes.extend_from_slice(line.as_bytes());
                self.appended += line.len() as u64;
            }
        }
        self.bytes.extend_from_slice(bytes);
        self.appended += bytes.len() as u64;
    }
}

/// The AOF's end of the replication stream.
struct AofSink(Rc<RefCell<Pending>>);

impl StreamSink for AofSink {
    fn append(&mut self, bytes: &[u8]) {
        self.0.borrow_mut().push(bytes);
    }
}

/// The AOF's state (owned by the main thread, in `Server::aof`).
pub struct Aof {
    pub state: AofState,
    pending: Rc<RefCell<Pending>>,
    sink: Option<SinkId>,
    pub manifest: Manifest,
    /// The incr file being appended to; None while the AOF is off.
    file: Option<Arc<File>>,
    /// Size of the current incr file, and how much of it was fsynced.
    incr_size: u64,
    incr_fsynced: u64,
    /// aof_current_size and the size after the last rewrite (aof_base_size).
    pub current_size: u64,
    pub base_size: u64,
    last_fsync_s: i64,
    /// When a write was first postponed behind a running fsync (0: none).
    postponed_since_s: i64,
    pub delayed_fsync: u64,
    /// The errno of the last failed write, None when the last write worked.
    last_write_errno: Option<i32>,
    /// Unix seconds of the last write error logged (at most one per 30 s).
    last_error_log_s: i64,
    background: background::Background,
    /// The stream position the last flush pass covered.
    passed: u64,
    /// Wakes the flusher task, and tells waiting replies a pass finished.
    flush_wanted: Rc<tokio::sync::Notify>,
    flush_done: Rc<tokio::sync::Notify>,
    pub rewrite: rewrite::RewriteStats,
}

impl Default for Aof {
    fn default() -> Self {
        Aof {
            state: AofState::Off,
            pending: Rc::default(),
            sink: None,
            manifest: Manifest::default(),
            file: None,
            incr_size: 0,
            incr_fsynced: 0,
            current_size: 0,
            base_size: 0,
            last_fsync_s: 0,
            postponed_since_s: 0,
            delayed_fsync: 0,
            last_write_errno: None,
            last_error_log_s: 0,
            background: background::Background::start(),
            passed: 0,
            flush_wanted: Rc::default(),
            flush_done: Rc::default(),
            rewrite: rewrite::RewriteStats::default(),
        }
    }
}

impl Aof {
    pub fn is_on(&self) -> bool {
        self.state == AofState::On
    }

    /// True while commands are appended to a file (the AOF is on, or a
    /// rewrite turning it on runs).
    fn is_appending(&self) -> bool {
        self.file.is_some()
    }

    /// The stream position a reply produced now must wait for.
    pub fn appended(&self) -> u64 {
        self.pending.borrow().appended
    }

    fn buffer_len(&self) -> usize {
        self.pending.borrow().bytes.len()
    }
}

/// The AOF directory, relative to the working directory (`dir`).
fn aof_dir(config: &Config) -> PathBuf {
    PathBuf::from(&config.appenddirname)
}

/// Opens (creating) `name` in the AOF directory for appending.
fn open_for_append(dir: &Path, name: &str) -> std::io::Result<File> {
    std::fs::OpenOptions::new().append(true).create(true).open(dir.join(name))
}

/// Starts appending to `file` (`size` bytes long already): attaches the
/// sink. A file replaced by a rewrite's new incr file is fsynced and closed
/// on the background thread.
fn start_appending(srv: &mut Server, file: File, size: u64) {
    let aof = &mut srv.aof;
    if let Some(previous) = aof.file.replace(Arc::new(file)) {
        aof.background.fsync(previous);
    }
    aof.incr_size = size;
    aof.incr_fsynced = size;
    aof.last_fsync_s = srv.now_ms / 1000;
    aof.pending.borrow_mut().timestamps = srv.config.aof_timestamp_enabled;
    attach_sink(srv);
}

/// Makes the AOF a consumer of the replication stream (once).
fn attach_sink(srv: &mut Server) {
    let aof = &mut srv.aof;
    if aof.sink.is_none() {
        aof.sink = Some(srv.propagation.attach(Box::new(AofSink(aof.pending.clone()))));
    }
}

/// Turns the AOF off (CONFIG SET appendonly no): flushes, fsyncs and closes
/// the incr file, detaches from the stream, and stops a running rewrite.
pub fn stop(srv: &mut Server) {
    if srv.aof.state == AofState::Off {
        return;
    }
    rewrite::abandon_temp_incr(srv);
    stop_appending(srv);
    srv.aof.state = AofState::Off;
    srv.aof.rewrite.scheduled = false;
    rewrite::kill_child(srv);
}

/// Flushes, fsyncs and closes the incr file and detaches from the stream.
fn stop_appending(srv: &mut Server) {
    flush(srv, true);
    if let Some(file) = srv.aof.file.take() {
        match file.sync_data() {
            Ok(()) => srv.aof.last_fsync_s = srv.now_ms / 1000,
            Err(e) => log_at!(Warning, "Fail to fsync the AOF file: {}", strerror(&e)),
        }
    }
    if let Some(id) = srv.aof.sink.take() {
        srv.propagation.detach(id);
    }
    let aof = &mut srv.aof;
    aof.pending.borrow_mut().bytes = Vec::new();
    aof.incr_size = 0;
    aof.incr_fsynced = 0;
    aof.passed = aof.appended();
    aof.flush_done.notify_waiters();
}

/// One flush pass (Redis's `flushAppendOnlyFile`): writes the pending
/// commands to the incr file and fsyncs as the policy says. `force` writes
/// even when an everysec fsync is still running.
pub fn flush(srv: &mut Server, force: bool) {
    let policy = FsyncPolicy::of(&srv.config);
    let now_s = srv.now_ms / 1000;
    let aof = &mut srv.aof;
    aof.passed = aof.appended();
    let Some(file) = aof.file.clone() else { return };
    let sync_in_progress = policy == FsyncPolicy::Everysec && aof.background.fsync_in_progress();
    if aof.buffer_len() == 0 {
        // Data written earlier may still wait for its fsync.
        let unsynced = aof.incr_fsynced != aof.incr_size;
        let due = match policy {
            FsyncPolicy::Everysec => unsynced && now_s > aof.last_fsync_s && !sync_in_progress,
            FsyncPolicy::Always => unsynced,
            FsyncPolicy::No => false,
        };
        if due {
            fsync_as_policy(srv, policy, &file, now_s, sync_in_progress);
        }
        return;
    }
    if policy == FsyncPolicy::Everysec && !force && sync_in_progress {
        if aof.postponed_since_s == 0 {
            aof.postponed_since_s = now_s;
            return;
        }
        if now_s - aof.postponed_since_s < 2 {
            return;
        }
        aof.delayed_fsync += 1;
        log_at!(Notice, "Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete, this may slow down Redis.");
    }
    aof.postponed_since_s = 0;
    let bytes = std::mem::take(&mut aof.pending.borrow_mut().bytes);
    match (&*file).write_all(&bytes) {
        Ok(()) => {
            if aof.last_write_errno.take().is_some() {
                log_at!(Warning, "AOF write error looks solved, Redis can write again.");
            }
            aof.incr_size += bytes.len() as u64;
            aof.current_size += bytes.len() as u64;
            let mut reuse = bytes;
            reuse.clear();
            let mut pending = aof.pending.borrow_mut();
            if pending.bytes.is_empty() && reuse.capacity() < 4096 {
                pending.bytes = reuse;
            }
        }
        Err(e) => {
            write_failed(aof, &file, bytes, e, policy, now_s);
            return;
        }
    }
    fsync_as_policy(srv, policy, &file, now_s, sync_in_progress);
}

/// A failed write: cut any partial write off the file, keep the commands
/// for the next pass. With `always` the contract cannot be kept: exit.
fn write_failed(aof: &mut Aof, file: &File, bytes: Vec<u8>, e: std::io::Error, policy: FsyncPolicy, now_s: i64) {
    if now_s - aof.last_error_log_s > 30 {
        aof.last_error_log_s = now_s;
        log_at!(Warning, "Error writing to the AOF file: {}", strerror(&e));
    }
    let _ = file.set_len(aof.incr_size);
    if policy == FsyncPolicy::Always {
        log_at!(Warning, "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
        std::process::exit(1);
    }
    aof.last_write_errno = Some(e.raw_os_error().unwrap_or(libc::EIO));
    let mut pending = aof.pending.borrow_mut();
    let newer = std::mem::replace(&mut pending.bytes, bytes);
    pending.bytes.extend_from_slice(&newer);
}

fn fsync_as_policy(srv: &mut Server, policy: FsyncPolicy, file: &Arc<File>, now_s: i64, sync_in_progress: bool) {
    if srv.config.no_appendfsync_on_rewrite && crate::persistence::child_running(srv) {
        return;
    }
    let aof = &mut srv.aof;
    match policy {
        FsyncPolicy::Always => {
            let started = std::time::Instant::now();
            if let Err(e) = file.sync_data() {
                log_at!(
                    Warning,
                    "Can't persist AOF for fsync error when the AOF fsync policy is 'always': {}. Exiting...",
                    strerror(&e)
                );
                std::process::exit(1);
            }
            let ms = started.elapsed().as_millis() as u64;
            srv.latency.add_if_needed(srv.config.latency_monitor_threshold, "aof-fsync-always", ms, now_s);
            aof.incr_fsynced = aof.incr_size;
            aof.last_fsync_s = now_s;
        }
        FsyncPolicy::Everysec if now_s > aof.last_fsync_s => {
            if !sync_in_progress {
                aof.background.fsync(file.clone());
                aof.incr_fsynced = aof.incr_size;
            }
            aof.last_fsync_s = now_s;
        }
        _ => {}
    }
}

/// The write or background fsync error the AOF is in, if any.
fn disk_error(aof: &Aof) -> Option<std::io::Error> {
    match aof.last_write_errno {
        Some(errno) => Some(std::io::Error::from_raw_os_error(errno)),
        None => aof.background.last_fsync_error(),
    }
}

/// Why write commands are refused, as Redis refuses them while the AOF
/// cannot be written (`-MISCONF`); None when they may run.
pub fn write_refusal(srv: &Server) -> Option<String> {
    if srv.aof.state == AofState::Off {
        return None;
    }
    disk_error(&srv.aof).map(|e| format!("MISCONF Errors writing to the AOF file: {}", strerror(&e)))
}

/// Waits, before a reply is written, until a flush pass covered the stream
/// up to `target` (with `appendfsync always`: until it is on disk).
pub async fn wait_flushed(server: &Rc<RefCell<Server>>, target: u64) {
    loop {
        let (wanted, done) = {
            let srv = server.borrow();
            if srv.aof.passed >= target || !srv.aof.is_appending() {
                return;
            }
            (srv.aof.flush_wanted.clone(), srv.aof.flush_done.clone())
        };
        let notified = done.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        wanted.notify_one();
        notified.await;
    }
}

/// The flusher task: runs a flush pass whenever a reply waits for one. Tasks
/// that became ready in the same turn run before it, so their commands share
/// the pass.
pub async fn run_flusher(server: Rc<RefCell<Server>>) {
    let (wanted, done) = {
        let srv = server.borrow();
        (srv.aof.flush_wanted.clone(), srv.aof.flush_done.clone())
    };
    loop {
        wanted.notified().await;
        let mut srv = server.borrow_mut();
        srv.refresh_time();
        flush(&mut srv, false);
        done.notify_waiters();
    }
}

/// The AOF's part of the cron: the pass that catches writes made outside
/// commands (active expiry) and due everysec fsyncs, a postponed write, a
/// retry after a write error, then scheduled and automatic rewrites.
pub fn cron(srv: &mut Server) {
    if srv.aof.is_appending() {
        flush(srv, false);
        srv.aof.flush_done.notify_waiters();
    }
    rewrite::cron(srv);
}

/// Stops a rewrite child, flushes and fsyncs everything before the process
/// exits.
pub fn shutdown(srv: &mut Server) {
    if srv.aof.rewrite.in_progress() {
        log_at!(Warning, "There is a child rewriting the AOF. Killing it!");
        rewrite::kill_child(srv);
    }
    if let Some(file) = srv.aof.file.clone() {
        log_at!(Notice, "Calling fsync() on the AOF file.");
        flush(srv, true);
        let _ = file.sync_data();
    }
}

/// Applies CONFIG SET to a running AOF: `appendonly` turns it on (by a
/// rewrite, as Redis does) or off; `aof-timestamp-enabled` takes effect.
pub fn config_changed(srv: &mut Server) -> Result<(), String> {
    srv.aof.pending.borrow_mut().timestamps = srv.config.aof_timestamp_enabled;
    match (srv.config.appendonly, srv.aof.state != AofState::Off) {
        (true, false) => {
            if srv.aof.last_write_errno.take().is_some() {
                log_at!(Warning, "AOF reopen, just ignore the last error.");
            }
            rewrite::start(srv).map_err(|()| "Unable to turn on AOF. Check server logs.".to_string())
        }
        (false, true) => {
            stop(srv);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// INFO lines as (name, value).
pub type InfoFields = Vec<(&'static str, String)>;

/// The AOF fields of INFO persistence, in Redis's order: the first group
/// always, the second only while `appendonly` is on.
pub fn info_fields(srv: &Server) -> (InfoFields, InfoFields) {
    let aof = &srv.aof;
    let r = &aof.rewrite;
    let now_s = srv.now_ms / 1000;
    let write_ok = disk_error(aof).is_none();
    let always = vec![
        ("aof_enabled", u8::from(aof.state != AofState::Off).to_string()),
        ("aof_rewrite_in_progress", u8::from(r.in_progress()).to_string()),
        ("aof_rewrite_scheduled", u8::from(r.scheduled).to_string()),
        ("aof_last_rewrite_time_sec", r.last_duration_s.to_string()),
        ("aof_current_rewrite_time_sec", r.child.as_ref().map_or(-1, |c| now_s - c.started_unix).to_string()),
        ("aof_last_bgrewrite_status", if r.last_ok { "ok" } else { "err" }.to_string()),
        ("aof_rewrites", r.count.to_string()),
        ("aof_rewrites_consecutive_failures", r.failures_in_a_row.to_string()),
        ("aof_last_write_status", if write_ok { "ok" } else { "err" }.to_string()),
    ];
    let enabled = if aof.state != AofState::Off {
        vec![
            ("aof_current_size", aof.current_size.to_string()),
            ("aof_base_size", aof.base_size.to_string()),
            ("aof_pending_rewrite", u8::from(r.scheduled).to_string()),
            ("aof_buffer_length", aof.buffer_len().to_string()),
            ("aof_pending_bio_fsync", aof.background.pending_fsyncs().to_string()),
            ("aof_delayed_fsync", aof.delayed_fsync.to_string()),
        ]
    } else {
        Vec::new()
    };
    (always, enabled)
}
