//! AOF rewrites: BGREWRITEAOF, automatic rewrites on growth, and turning the
//! AOF on at run time (which is a rewrite, as in Redis).
//!
//! A rewrite has three steps: `begin` (flush, open a new incr file that
//! takes the writes from now on, persist the manifest), `write_base` (the
//! dataset into `temp-rewriteaof-bg-<pid>.aof`), run by a forked child on
//! the memory it inherited, and `install` once the cron reaped the child
//! (the temp file becomes the new base, the files it replaces become
//! history and are deleted, the manifest is swapped atomically). While the
//! AOF is being turned on (`AofState::WaitRewrite`) the writes made during
//! the rewrite go to a temp incr file that becomes the first incr file.
//! One child runs at a time: a rewrite asked for while a BGSAVE runs is
//! scheduled and started by the cron.

use std::path::{Path, PathBuf};

use cinnabar_persistence::aof::manifest::{BaseFormat, Manifest};
use cinnabar_persistence::aof::rewrite::write_dataset;

use super::{aof_dir, flush, start_appending, stop_appending, AofState};
use crate::config::strerror;
use crate::log::log_at;
use crate::persistence::{child_running, fork, ChildJob};
use crate::server::Server;

/// Rewrite bookkeeping for INFO persistence.
pub struct RewriteStats {
    /// BGREWRITEAOF arrived while a rewrite could not start: run it from cron.
    pub scheduled: bool,
    /// The child writing the new base.
    pub child: Option<ChildJob>,
    pub last_duration_s: i64,
    pub last_ok: bool,
    pub count: u64,
    pub failures_in_a_row: u64,
    /// Copy-on-write size of the last successful rewrite (aof_last_cow_size).
    pub last_cow_size: u64,
    /// Back-off of automatic rewrites after repeated failures.
    backoff_minutes: i64,
    retry_at_s: Option<i64>,
}

impl Default for RewriteStats {
    fn default() -> Self {
        RewriteStats {
            scheduled: false,
            child: None,
            last_duration_s: -1,
            last_ok: true,
            count: 0,
            failures_in_a_row: 0,
            last_cow_size: 0,
            backoff_minutes: 0,
            retry_at_s: None,
        }
    }
}

impl RewriteStats {
    pub fn in_progress(&self) -> bool {
        self.child.is_some()
    }
}

/// The format of the base a rewrite writes: RDB with
/// `aof-use-rdb-preamble yes` (Redis's default), commands otherwise.
pub(super) fn base_format(srv: &Server) -> BaseFormat {
    if srv.config.aof_use_rdb_preamble {
        BaseFormat::Rdb
    } else {
        BaseFormat::Aof
    }
}

/// With `aof-rewrite-incremental-fsync`, a base being written is fsynced
/// every this many bytes (Redis's REDIS_AUTOSYNC_BYTES), so the final fsync
/// does not have to push gigabytes at once.
const INCREMENTAL_FSYNC_BYTES: u64 = 4 * 1024 * 1024;

/// A file writer that fsyncs every `every` bytes (never when None).
struct IncrementalSync<'a> {
    file: &'a mut std::fs::File,
    every: Option<u64>,
    unsynced: u64,
    syncs: u64,
}

impl std::io::Write for IncrementalSync<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.unsynced += n as u64;
        if self.every.is_some_and(|every| self.unsynced >= every) {
            self.file.sync_data()?;
            self.unsynced = 0;
            self.syncs += 1;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Writes the dataset of `srv` as a base file of `format` to `path`, fsynced
/// (also along the way with `incremental_fsync`); `progress` is told how
/// many keys are written after each one. Returns its size. This is the part
/// a forked child runs.
pub fn write_base(
    path: &Path,
    srv: &Server,
    format: BaseFormat,
    timestamp: Option<i64>,
    incremental_fsync: bool,
    progress: &mut dyn FnMut(u64),
) -> std::io::Result<u64> {
    let mut file = std::fs::File::create(path)?;
    let every = incremental_fsync.then_some(INCREMENTAL_FSYNC_BYTES);
    let mut out = IncrementalSync { file: &mut file, every, unsynced: 0, syncs: 0 };
    let size = match format {
        BaseFormat::Aof => write_dataset(&mut out, &srv.dbs, timestamp, progress)?,
        BaseFormat::Rdb => {
            crate::persistence::rdb::write_aof_base(srv, &mut out, progress)?;
            out.file.metadata()?.len()
        }
    };
    file.sync_all()?;
    Ok(size)
}

/// The reply BGREWRITEAOF gives.
pub enum BgrewriteReply {
    Started,
    Scheduled,
    AlreadyRunning,
    Failed,
}

/// BGREWRITEAOF: starts a rewrite child, or schedules one while another
/// child runs or inside a transaction (`in_exec`).
pub fn bgrewriteaof(srv: &mut Server, in_exec: bool) -> BgrewriteReply {
    if srv.aof.rewrite.in_progress() {
        return BgrewriteReply::AlreadyRunning;
    }
    if child_running(srv) || in_exec {
        srv.aof.rewrite.scheduled = true;
        // Asked for by hand: not held back by earlier failures.
        srv.aof.rewrite.failures_in_a_row = 0;
        return BgrewriteReply::Scheduled;
    }
    match start_child(srv) {
        Ok(()) => BgrewriteReply::Started,
        Err(()) => BgrewriteReply::Failed,
    }
}

/// CONFIG SET appendonly yes: a rewrite creates the base and the first incr
/// file; appending to the AOF proper starts when it succeeds. A running
/// rewrite is restarted (its base would lack the incr file); another kind
/// of child makes it wait.
pub fn start(srv: &mut Server) -> Result<(), ()> {
    if child_running(srv) && !srv.aof.rewrite.in_progress() {
        srv.aof.state = AofState::WaitRewrite;
        srv.aof.rewrite.scheduled = true;
        log_at!(Warning, "AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.");
        return Ok(());
    }
    if srv.aof.rewrite.in_progress() {
        log_at!(Warning, "AOF was enabled but there is already an AOF rewriting in background. Stopping background AOF and starting a rewrite now.");
        kill_child(srv);
    }
    srv.aof.state = AofState::WaitRewrite;
    if start_child(srv).is_err() {
        srv.aof.state = AofState::Off;
        log_at!(Warning, "Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.");
        return Err(());
    }
    Ok(())
}

/// The cron's part: reap a finished rewrite child; start a scheduled
/// rewrite, or an automatic one when the AOF grew by
/// `auto-aof-rewrite-percentage` over its size after the last rewrite.
pub fn cron(srv: &mut Server) {
    if let Some(job) = &mut srv.aof.rewrite.child {
        if let Some(exit) = job.poll() {
            let job = srv.aof.rewrite.child.take().expect("polled above");
            child_done(srv, &job, exit);
        }
        return;
    }
    if child_running(srv) {
        return;
    }
    if srv.aof.rewrite.scheduled {
        if !limited(srv) {
            let _ = start_child(srv);
        }
        return;
    }
    let (percentage, min_size) = (srv.config.auto_aof_rewrite_percentage, srv.config.auto_aof_rewrite_min_size);
    let aof = &srv.aof;
    if !aof.is_on() || percentage == 0 || aof.current_size as i64 <= min_size {
        return;
    }
    let base = aof.base_size.max(1) as i64;
    let growth = aof.current_size as i64 * 100 / base - 100;
    if growth >= percentage && !limited(srv) {
        log_at!(Notice, "Starting automatic rewriting of AOF on {}% growth", growth);
        let _ = start_child(srv);
    }
}

/// Failed rewrites in a row before automatic ones back off.
const FAILURES_BEFORE_BACKOFF: u64 = 3;
const MAX_BACKOFF_MINUTES: i64 = 60;

/// After repeated failures, automatic rewrites wait 1, 2, 4... up to 60
/// minutes between attempts (Redis's aofRewriteLimited).
fn limited(srv: &mut Server) -> bool {
    let now_s = srv.now_ms / 1000;
    let stats = &mut srv.aof.rewrite;
    if stats.failures_in_a_row < FAILURES_BEFORE_BACKOFF {
        stats.backoff_minutes = 0;
        stats.retry_at_s = None;
        return false;
    }
    if let Some(at) = stats.retry_at_s {
        if now_s < at {
            return true;
        }
        stats.retry_at_s = None;
        return false;
    }
    stats.backoff_minutes = (stats.backoff_minutes * 2).clamp(1, MAX_BACKOFF_MINUTES);
    stats.retry_at_s = Some(now_s + stats.backoff_minutes * 60);
    log_at!(
        Warning,
        "Background AOF rewrite has repeatedly failed and triggered the limit, will retry in {} minutes",
        stats.backoff_minutes
    );
    true
}

/// The temp file the child `pid` writes its base to (in the working
/// directory, as Redis names it).
fn temp_base_path(pid: u32) -> PathBuf {
    PathBuf::from(format!("temp-rewriteaof-bg-{pid}.aof"))
}

/// The incr file that takes the writes while the AOF is being turned on
/// (in the AOF directory).
fn temp_incr_name(srv: &Server) -> String {
    format!("temp-{}.incr", srv.config.appendfilename)
}

/// Starts a rewrite (Redis's rewriteAppendOnlyFileBackground): begin, then
/// fork a child that writes the base. The caller checked no child runs.
fn start_child(srv: &mut Server) -> Result<(), ()> {
    if begin(srv).is_err() {
        srv.aof.rewrite.last_ok = false;
        return Err(());
    }
    srv.aof.rewrite.count += 1;
    let format = base_format(srv);
    let timestamp = srv.config.aof_timestamp_enabled.then_some(srv.now_ms / 1000);
    let incremental = srv.config.aof_rewrite_incremental_fsync;
    let keys_total: u64 = srv.dbs.iter().map(|db| db.len() as u64).sum();
    let key_delay = std::time::Duration::from_micros(srv.config.rdb_key_save_delay.max(0) as u64);
    let view: &Server = srv;
    let parent = std::process::id();
    let spawned = fork::spawn(c"redis-aof-rewrite", "AOF rewrite", |reporter| {
        fork::die_with_parent(parent);
        let temp = temp_base_path(std::process::id());
        let mut progress = |keys: u64| {
            if keys & 1023 == 0 {
                reporter.progress(keys);
            }
            // `rdb-key-save-delay` slows rewrites down too (for tests).
            if !key_delay.is_zero() {
                std::thread::sleep(key_delay);
            }
        };
        match write_base(&temp, view, format, timestamp, incremental, &mut progress) {
            Ok(_) => {
                log_at!(Notice, "Successfully created the temporary AOF base file {}", temp.display());
                (true, keys_total)
            }
            Err(e) => {
                log_at!(Warning, "Write error writing append only file on disk: {}", strerror(&e));
                (false, 0)
            }
        }
    });
    let child = match spawned {
        Ok(child) => child,
        Err(e) => {
            srv.aof.rewrite.last_ok = false;
            log_at!(Warning, "Can't rewrite append only file in background: fork: {}", strerror(&e));
            abandon_temp_incr(srv);
            return Err(());
        }
    };
    crate::persistence::record_fork(srv, &child);
    log_at!(Notice, "Background append only file rewriting started by pid {}", child.pid);
    srv.aof.rewrite.scheduled = false;
    srv.aof.rewrite.child = Some(ChildJob::new(child, keys_total));
    crate::persistence::child_changed(srv);
    Ok(())
}

/// Flushes what is pending and opens the incr file that receives the writes
/// made while the base is written: the next incr file of the manifest when
/// the AOF is on, the temp incr file while it is being turned on, none
/// when it is off (BGREWRITEAOF then only writes a base).
fn begin(srv: &mut Server) -> Result<(), ()> {
    let dir = aof_dir(&srv.config);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        log_at!(Warning, "Can't open or create append-only dir {}: {}", dir.display(), strerror(&e));
        return Err(());
    }
    srv.propagation.reselect();
    flush(srv, true);
    let mut manifest = srv.aof.manifest.clone();
    let name = match srv.aof.state {
        AofState::Off => return Ok(()),
        AofState::On => manifest.new_incr(&srv.config.appendfilename),
        AofState::WaitRewrite => temp_incr_name(srv),
    };
    let file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(dir.join(&name));
    let file = match file {
        Ok(f) => f,
        Err(e) => {
            log_at!(Warning, "Can't open the append-only file {}: {}", name, strerror(&e));
            return Err(());
        }
    };
    if srv.aof.state == AofState::On {
        if let Err(e) = manifest.persist(&dir, &srv.config.appendfilename) {
            log_at!(Warning, "Can't persist the AOF manifest: {}", strerror(&e));
            return Err(());
        }
        log_at!(Notice, "Creating AOF incr file {} on background rewrite", name);
        srv.aof.manifest = manifest;
    }
    start_appending(srv, file, 0);
    Ok(())
}

/// The rewrite child ended (or was killed with SIGUSR1): install its base
/// if it succeeded, record how it went, clean up after it.
fn child_done(srv: &mut Server, job: &ChildJob, exit: fork::Exit) {
    let temp = temp_base_path(job.child.pid as u32);
    let ok = match exit {
        fork::Exit::Code(0) => {
            log_at!(Notice, "Background AOF rewrite terminated with success");
            install(srv, &temp).is_ok()
        }
        fork::Exit::Code(_) => {
            log_at!(Warning, "Background AOF rewrite terminated with error");
            false
        }
        fork::Exit::Signal(sig) => {
            log_at!(Warning, "Background AOF rewrite terminated by signal {}", sig);
            false
        }
    };
    let stats = &mut srv.aof.rewrite;
    if ok {
        stats.last_ok = true;
        stats.failures_in_a_row = 0;
        stats.last_cow_size = job.final_cow_size().unwrap_or(stats.last_cow_size);
    } else if exit != fork::Exit::Signal(libc::SIGUSR1) {
        // SIGUSR1 is how a child is stopped on purpose: not a failure.
        stats.last_ok = false;
        stats.failures_in_a_row += 1;
    }
    stats.last_duration_s = crate::server::unix_ms() / 1000 - job.started_unix;
    let _ = std::fs::remove_file(&temp);
    if srv.aof.state == AofState::WaitRewrite {
        // Still waiting: the writes kept for the failed attempt go, and
        // the cron tries again.
        abandon_temp_incr(srv);
        srv.aof.rewrite.scheduled = true;
    }
    crate::persistence::child_changed(srv);
}

/// Stops a running rewrite (SHUTDOWN, CONFIG SET appendonly) without
/// counting it as a failure.
pub fn kill_child(srv: &mut Server) {
    if let Some(job) = srv.aof.rewrite.child.take() {
        log_at!(Notice, "Killing running AOF rewrite child: {}", job.child.pid);
        job.child.kill_and_wait();
        let _ = std::fs::remove_file(temp_base_path(job.child.pid as u32));
        crate::persistence::child_changed(srv);
    }
}

/// While the AOF is being turned on, forgets the temp incr file of a
/// rewrite that did not happen.
pub(super) fn abandon_temp_incr(srv: &mut Server) {
    if srv.aof.state != AofState::WaitRewrite {
        return;
    }
    stop_appending(srv);
    let _ = std::fs::remove_file(aof_dir(&srv.config).join(temp_incr_name(srv)));
}

/// Installs the written base: renames it into the AOF directory under a new
/// base name; while the AOF is being turned on, the temp incr file becomes
/// the first incr file and the AOF is on. The files the base covers become
/// history, the manifest is persisted, the history files are deleted.
fn install(srv: &mut Server, temp: &Path) -> Result<(), ()> {
    let dir = aof_dir(&srv.config);
    let aof_filename = srv.config.appendfilename.clone();
    let mut manifest = srv.aof.manifest.clone();
    let base_name = manifest.new_base(&aof_filename, base_format(srv));
    if let Err(e) = std::fs::rename(temp, dir.join(&base_name)) {
        log_at!(
            Warning,
            "Error trying to rename the temporary AOF base file {} into {}: {}",
            temp.display(),
            base_name,
            strerror(&e)
        );
        return Err(());
    }
    log_at!(Notice, "Successfully renamed the temporary AOF base file {} into {}", temp.display(), base_name);
    let turning_on = srv.aof.state == AofState::WaitRewrite;
    if turning_on {
        let temp_incr = temp_incr_name(srv);
        let name = manifest.new_incr(&aof_filename);
        if let Err(e) = std::fs::rename(dir.join(&temp_incr), dir.join(&name)) {
            log_at!(
                Warning,
                "Error trying to rename the temporary AOF incr file {} into {}: {}",
                temp_incr,
                name,
                strerror(&e)
            );
            let _ = std::fs::remove_file(dir.join(&base_name));
            return Err(());
        }
        log_at!(Notice, "Successfully renamed the temporary AOF incr file {} into {}", temp_incr, name);
    }
    manifest.retire_rewritten_incrs(srv.aof.file.is_some());
    if let Err(e) = manifest.persist(&dir, &aof_filename) {
        log_at!(Warning, "Can't persist the AOF manifest: {}", strerror(&e));
        let _ = std::fs::remove_file(dir.join(&base_name));
        return Err(());
    }
    srv.aof.manifest = manifest;
    if srv.aof.state != AofState::Off {
        let base_size = std::fs::metadata(dir.join(&base_name)).map_or(0, |m| m.len());
        srv.aof.current_size = base_size + srv.aof.incr_size;
        srv.aof.base_size = srv.aof.current_size;
    }
    delete_history(srv);
    log_at!(Notice, "Background AOF rewrite finished successfully");
    if turning_on {
        srv.aof.state = AofState::On;
    }
    Ok(())
}

/// Deletes the history files in the background (unless
/// `aof-disable-auto-gc`) and drops them from the manifest.
pub fn delete_history(srv: &mut Server) {
    if srv.config.aof_disable_auto_gc || srv.aof.manifest.history.is_empty() {
        return;
    }
    let dir = aof_dir(&srv.config);
    for file in srv.aof.manifest.take_history() {
        log_at!(Notice, "Removing the history file {} in the background", file.name);
        srv.aof.background.unlink(dir.join(&file.name));
    }
    persist_logged(&srv.aof.manifest, &dir, &srv.config.appendfilename);
}

/// Persists `manifest`, logging a failure (the caller goes on either way).
pub fn persist_logged(manifest: &Manifest, dir: &Path, aof_filename: &str) -> bool {
    match manifest.persist(dir, aof_filename) {
        Ok(()) => true,
        Err(e) => {
            log_at!(Warning, "Can't persist the AOF manifest: {}", strerror(&e));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn incremental_fsync_syncs_every_few_megabytes_only_when_asked() {
        let path = std::env::temp_dir().join(format!("cinnabar-incremental-{}", std::process::id()));
        let chunk = vec![b'x'; 1024 * 1024];
        for (every, expected) in [(Some(INCREMENTAL_FSYNC_BYTES), 2), (None, 0)] {
            let mut file = std::fs::File::create(&path).unwrap();
            let mut out = IncrementalSync { file: &mut file, every, unsynced: 0, syncs: 0 };
            for _ in 0..10 {
                out.write_all(&chunk).unwrap();
            }
            assert_eq!(out.syncs, expected);
        }
        std::fs::remove_file(&path).unwrap();
    }
}
