//! AOF rewrites: BGREWRITEAOF, automatic rewrites on growth, and turning the
//! AOF on at run time (which is a rewrite, as in Redis).
//!
//! A rewrite has three steps, kept apart so a fork-based driver can run the
//! middle one in a child: `begin` (flush, open a new incr file that takes
//! the writes from now on, persist the manifest), `write_base` (the dataset,
//! passed as an argument, into a temp file), `finish` (the temp file becomes
//! the new base, the files it replaces become history and are deleted, the
//! manifest is swapped atomically). Until the fork machinery is merged the
//! middle step runs in-process on the live databases, so a rewrite blocks
//! the main thread for its duration.

use std::path::{Path, PathBuf};
use std::time::Instant;

use cinnabar_persistence::aof::manifest::{BaseFormat, Manifest};
use cinnabar_persistence::aof::rewrite::write_dataset;

use super::{aof_dir, flush, open_for_append, start_appending};
use crate::config::strerror;
use crate::log::log_at;
use crate::server::Server;

/// Rewrite bookkeeping for INFO persistence.
pub struct RewriteStats {
    /// BGREWRITEAOF arrived while a rewrite could not start: run it from cron.
    pub scheduled: bool,
    /// Unix seconds the running rewrite started (None: none running).
    pub started_s: Option<i64>,
    pub last_duration_s: i64,
    pub last_ok: bool,
    pub count: u64,
    pub failures_in_a_row: u64,
    /// Back-off of automatic rewrites after repeated failures.
    backoff_minutes: i64,
    retry_at_s: Option<i64>,
}

impl Default for RewriteStats {
    fn default() -> Self {
        RewriteStats {
            scheduled: false,
            started_s: None,
            last_duration_s: -1,
            last_ok: true,
            count: 0,
            failures_in_a_row: 0,
            backoff_minutes: 0,
            retry_at_s: None,
        }
    }
}

impl RewriteStats {
    pub fn in_progress(&self) -> bool {
        self.started_s.is_some()
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
/// (also along the way with `incremental_fsync`). Returns its size. This is
/// the part a forked child runs.
pub fn write_base(
    path: &Path,
    srv: &Server,
    format: BaseFormat,
    timestamp: Option<i64>,
    incremental_fsync: bool,
) -> std::io::Result<u64> {
    let mut file = std::fs::File::create(path)?;
    let every = incremental_fsync.then_some(INCREMENTAL_FSYNC_BYTES);
    let mut out = IncrementalSync { file: &mut file, every, unsynced: 0, syncs: 0 };
    let size = match format {
        BaseFormat::Aof => write_dataset(&mut out, &srv.dbs, timestamp)?,
        BaseFormat::Rdb => {
            crate::persistence::rdb::write_aof_base(srv, &mut out)?;
            out.file.metadata()?.len()
        }
    };
    file.sync_all()?;
    Ok(size)
}

/// The reply BGREWRITEAOF gives.
pub enum BgrewriteReply {
    Started,
    Failed,
}

/// BGREWRITEAOF: rewrites now (in-process, see the module comment).
/// A failure after the start is reported as Redis reports a failed child:
/// the reply says started, INFO says `aof_last_bgrewrite_status:err`.
pub fn bgrewriteaof(srv: &mut Server) -> BgrewriteReply {
    srv.aof.rewrite.failures_in_a_row = 0;
    match run(srv) {
        Rewrite::NotStarted => BgrewriteReply::Failed,
        Rewrite::Failed | Rewrite::Done => BgrewriteReply::Started,
    }
}

/// CONFIG SET appendonly yes: a rewrite creates the base and the first incr
/// file, then appending starts.
pub fn start(srv: &mut Server) -> Result<(), ()> {
    if run(srv) != Rewrite::Done {
        log_at!(Warning, "Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.");
        return Err(());
    }
    Ok(())
}

/// Scheduled rewrites, and automatic ones when the AOF grew by
/// `auto-aof-rewrite-percentage` over its size after the last rewrite.
pub fn cron(srv: &mut Server) {
    if srv.aof.rewrite.scheduled {
        run(srv);
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
        run(srv);
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

/// The temp file a rewrite writes its base to (in the working directory).
fn temp_base_path() -> PathBuf {
    PathBuf::from(format!("temp-rewriteaof-bg-{}.aof", std::process::id()))
}

/// How a rewrite went.
#[derive(Debug, PartialEq, Eq)]
enum Rewrite {
    /// It could not start (directory or new incr file).
    NotStarted,
    /// Writing or installing the new base failed.
    Failed,
    Done,
}

/// One whole rewrite: begin, write the base from the live databases, finish.
fn run(srv: &mut Server) -> Rewrite {
    srv.aof.rewrite.scheduled = false;
    if begin(srv).is_err() {
        srv.aof.rewrite.last_ok = false;
        return Rewrite::NotStarted;
    }
    let started = Instant::now();
    let temp = temp_base_path();
    let timestamp = srv.config.aof_timestamp_enabled.then_some(srv.now_ms / 1000);
    let incremental = srv.config.aof_rewrite_incremental_fsync;
    let result = write_base(&temp, srv, base_format(srv), timestamp, incremental);
    let outcome = match result {
        Ok(_) => {
            log_at!(Notice, "Successfully created the temporary AOF base file {}", temp.display());
            finish(srv, &temp)
        }
        Err(e) => {
            log_at!(Warning, "Write error writing append only file on disk: {}", strerror(&e));
            log_at!(Warning, "Background AOF rewrite terminated with error");
            Err(())
        }
    };
    let _ = std::fs::remove_file(&temp);
    let stats = &mut srv.aof.rewrite;
    stats.started_s = None;
    stats.last_duration_s = started.elapsed().as_secs() as i64;
    stats.last_ok = outcome.is_ok();
    if outcome.is_err() {
        stats.failures_in_a_row += 1;
        return Rewrite::Failed;
    }
    Rewrite::Done
}

/// Flushes what is pending and, when the AOF is on, opens the new incr file
/// that receives the writes made while the base is written.
fn begin(srv: &mut Server) -> Result<(), ()> {
    let dir = aof_dir(&srv.config);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        log_at!(Warning, "Can't open or create append-only dir {}: {}", dir.display(), strerror(&e));
        return Err(());
    }
    srv.propagation.reselect();
    flush(srv, true);
    if srv.aof.is_on() {
        let mut manifest = srv.aof.manifest.clone();
        let name = manifest.new_incr(&srv.config.appendfilename);
        let file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(dir.join(&name));
        let file = match file {
            Ok(f) => f,
            Err(e) => {
                log_at!(Warning, "Can't open the append-only file {}: {}", name, strerror(&e));
                return Err(());
            }
        };
        if let Err(e) = manifest.persist(&dir, &srv.config.appendfilename) {
            log_at!(Warning, "Can't persist the AOF manifest: {}", strerror(&e));
            return Err(());
        }
        log_at!(Notice, "Creating AOF incr file {} on background rewrite", name);
        srv.aof.manifest = manifest;
        start_appending(srv, file, 0);
    }
    srv.aof.rewrite.count += 1;
    srv.aof.rewrite.started_s = Some(srv.now_ms / 1000);
    log_at!(Notice, "Background append only file rewriting started");
    Ok(())
}

/// Installs the written base: renames it into the AOF directory under a new
/// base name, retires the files it covers, persists the manifest, deletes
/// the history files, and starts appending if the AOF was being turned on.
fn finish(srv: &mut Server, temp: &Path) -> Result<(), ()> {
    log_at!(Notice, "Background AOF rewrite terminated with success");
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
    let turning_on = srv.config.appendonly && !srv.aof.is_on();
    let new_incr = if turning_on {
        let name = manifest.new_incr(&aof_filename);
        match open_for_append(&dir, &name) {
            Ok(file) => Some(file),
            Err(e) => {
                log_at!(Warning, "Can't open the append-only file {}: {}", name, strerror(&e));
                let _ = std::fs::remove_file(dir.join(&base_name));
                return Err(());
            }
        }
    } else {
        None
    };
    manifest.retire_rewritten_incrs(srv.config.appendonly);
    if let Err(e) = manifest.persist(&dir, &aof_filename) {
        log_at!(Warning, "Can't persist the AOF manifest: {}", strerror(&e));
        let _ = std::fs::remove_file(dir.join(&base_name));
        return Err(());
    }
    srv.aof.manifest = manifest;
    if let Some(file) = new_incr {
        start_appending(srv, file, 0);
    }
    let base_size = std::fs::metadata(dir.join(&base_name)).map_or(0, |m| m.len());
    srv.aof.current_size = base_size + srv.aof.incr_size;
    srv.aof.base_size = srv.aof.current_size;
    delete_history(srv);
    log_at!(Notice, "Background AOF rewrite finished successfully");
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
