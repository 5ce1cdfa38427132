//! Start-up with the AOF, as Redis 7.0 does it: read the manifest (a bad one
//! stops the server), migrate an old single-file `appendonly.aof` into the
//! directory, load the base then the incr files by running their commands
//! through the dispatcher with an internal client (nothing is propagated:
//! the AOF sink is not attached yet), cut a truncated tail when
//! `aof-load-truncated` allows it, then open the incr file to append to,
//! creating the base first when there was no AOF at all.
//!
//! `FilesLoad` does the loading in steps. At start-up the steps run from a
//! task that lets the event loop in between (every 1024 commands, as
//! Redis), so clients are accepted and answered `-LOADING` as Redis answers
//! them, and an RDB base is parsed on a thread; DEBUG LOADAOF runs the same
//! steps back to back.

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use cinnabar_persistence::aof::manifest::{manifest_name, Manifest};
use cinnabar_persistence::aof::reader::{CommandReader, ReadError};
use cinnabar_persistence::aof::RDB_SIGNATURE;
use cinnabar_persistence::rdb::Loaded as RdbLoaded;

use super::rewrite::{delete_history, persist_logged, write_base};
use super::{aof_dir, open_for_append, start_appending};
use crate::client::Client;
use crate::command::dispatch;
use crate::config::strerror;
use crate::log::log_at;
use crate::server::Server;

/// Reads the manifest and, with `appendonly yes`, loads the dataset from the
/// AOF and opens it for appending, while the event loop answers clients
/// `-LOADING`. Ok(true) when the AOF provided the dataset (the RDB is then
/// not read), Ok(false) with `appendonly no`. Err when the server must not
/// start.
pub async fn load_at_startup(server: &Rc<RefCell<Server>>) -> Result<bool, StartupFailed> {
    {
        let mut srv = server.borrow_mut();
        srv.aof.manifest = read_manifest(&srv).map_err(|()| StartupFailed)?;
        if !srv.config.appendonly {
            return Ok(false);
        }
    }
    let started = Instant::now();
    let loaded = load_in_steps(server).await;
    let mut srv = server.borrow_mut();
    srv.loading = false;
    srv.rdb.loading = None;
    if loaded.map_err(|()| StartupFailed)? != Loaded::NothingToLoad {
        log_at!(Notice, "DB loaded from append only file: {:.3} seconds", started.elapsed().as_secs_f32());
    }
    // Loading ran commands: they are not the clients' statistics.
    srv.stats.reset();
    srv.commands.reset_stats();
    open_at_startup(&mut srv).map_err(|()| StartupFailed)?;
    Ok(true)
}

/// The server must not start; the reason was logged.
#[derive(Debug)]
pub struct StartupFailed;

/// Runs the load's steps, letting the event loop in between; INFO shows
/// `loading:1` and its progress meanwhile.
async fn load_in_steps(server: &Rc<RefCell<Server>>) -> Result<Loaded, ()> {
    let (mut load, progress) = {
        let mut srv = server.borrow_mut();
        srv.loading = true;
        let load = FilesLoad::start(&mut srv)?;
        let progress = Arc::new(AtomicU64::new(0));
        srv.rdb.loading = Some(crate::persistence::Loading {
            start_unix: crate::server::unix_ms() / 1000,
            total_bytes: load.total,
            loaded_bytes: progress.clone(),
        });
        (load, progress)
    };
    loop {
        let step = load.step(&mut server.borrow_mut(), COMMANDS_PER_STEP)?;
        progress.store(load.progress(), Ordering::Relaxed);
        match step {
            Step::More => tokio::task::yield_now().await,
            Step::RdbBase(path) => {
                let parsed = parse_base_on_thread(server, path).await;
                load.base_parsed(&mut server.borrow_mut(), parsed)?;
            }
            Step::Done => return Ok(load.outcome),
        }
    }
}

/// Commands replayed between two turns of the event loop.
const COMMANDS_PER_STEP: u64 = 1024;

/// Parses an RDB base on its own thread while the event loop runs.
async fn parse_base_on_thread(server: &Rc<RefCell<Server>>, path: PathBuf) -> Result<RdbLoaded, String> {
    let (opts, policy) = {
        let srv = server.borrow();
        (crate::persistence::rdb::load_options(&srv.config, Some(crate::server::unix_ms())), srv.access_policy())
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("aof-base-load".into())
        .spawn(move || {
            let _ = tx.send(crate::persistence::rdb::parse_aof_base(&path, &opts, policy));
        })
        .map_err(|e| e.to_string())?;
    rx.await.unwrap_or_else(|_| Err("the loader thread died".to_string()))
}

/// Runs every step of a load at once (DEBUG LOADAOF).
fn load_now(srv: &mut Server) -> Result<Loaded, ()> {
    let mut load = FilesLoad::start(srv)?;
    loop {
        match load.step(srv, u64::MAX)? {
            Step::More => {}
            Step::RdbBase(path) => {
                let opts = crate::persistence::rdb::load_options(&srv.config, Some(crate::server::unix_ms()));
                let parsed = crate::persistence::rdb::parse_aof_base(&path, &opts, srv.access_policy());
                load.base_parsed(srv, parsed)?;
            }
            Step::Done => return Ok(load.outcome),
        }
    }
}

/// DEBUG LOADAOF: flushes the AOF, empties the dataset and loads it again
/// from the AOF files. The AOF stops listening to the stream meanwhile, so
/// the replayed commands are not appended a second time. A failure to load
/// ends the process, as in Redis.
pub fn reload(srv: &mut Server) {
    if srv.aof.is_appending() {
        super::flush(srv, true);
    }
    let listening = srv.aof.sink.take().map(|id| srv.propagation.detach(id)).is_some();
    for db in 0..srv.dbs.len() {
        let old = srv.dbs[db].take_all();
        srv.lazyfree.free_db(old);
    }
    let loaded = read_manifest(srv).and_then(|manifest| {
        srv.aof.manifest = manifest;
        delete_history(srv);
        srv.loading = true;
        let loaded = load_now(srv);
        srv.loading = false;
        loaded
    });
    if loaded.is_err() {
        std::process::exit(1);
    }
    if listening {
        super::attach_sink(srv);
    }
    srv.dirty = 0;
    log_at!(Warning, "Append Only File loaded by DEBUG LOADAOF");
}

fn read_manifest(srv: &Server) -> Result<Manifest, ()> {
    let path = aof_dir(&srv.config).join(manifest_name(&srv.config.appendfilename));
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Manifest::default()),
        Err(e) => {
            log_at!(
                Warning,
                "Fatal error: can't open the AOF manifest file {} for reading: {}",
                path.display(),
                strerror(&e)
            );
            return Err(());
        }
    };
    Manifest::parse(&text).map_err(|e| {
        log_at!(Warning, "*** FATAL AOF MANIFEST FILE ERROR ***");
        if let Some((number, line)) = &e.line {
            log_at!(Warning, "Reading the manifest file, at line {}", number);
            log_at!(Warning, ">>> '{}'", line);
        }
        log_at!(Warning, "{}", e.message);
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loaded {
    NothingToLoad,
    Empty,
    Data,
}

/// How loading one file ended.
#[derive(Debug, PartialEq, Eq)]
enum FileOutcome {
    Complete,
    /// Loaded up to a cut tail (allowed only for the last file).
    Truncated,
}

/// What the caller of `FilesLoad::step` does next.
enum Step {
    /// Commands ran and more remain.
    More,
    /// The next file starts with an RDB part: parse it
    /// (`rdb::parse_aof_base`) and hand the result to `base_parsed`.
    RdbBase(PathBuf),
    Done,
}

/// A file of the manifest to load, with its size when the load began.
#[derive(Clone)]
struct ToLoad {
    name: String,
    is_base: bool,
    size: u64,
}

/// A load of the manifest's base and incr files, in steps.
struct FilesLoad {
    dir: PathBuf,
    /// In loading order.
    files: Vec<ToLoad>,
    next: usize,
    current: Option<FileLoad>,
    /// Bytes of all files, and of the files already loaded.
    total: u64,
    done_bytes: u64,
    outcome: Loaded,
    /// The internal client the commands run as.
    client: Client,
}

/// The file being loaded: its commands, read in order.
struct FileLoad {
    name: String,
    is_base: bool,
    started: Instant,
    reader: CommandReader<BufReader<File>>,
    /// A MULTI seen and its queued commands: run at EXEC, dropped if the
    /// file ends first (the offset before MULTI is where it is then cut).
    transaction: Option<(u64, Vec<Vec<Vec<u8>>>)>,
}

impl FilesLoad {
    /// Migrates an old single file, checks every file of the manifest
    /// exists, and sums their sizes.
    fn start(srv: &mut Server) -> Result<FilesLoad, ()> {
        migrate_single_file(srv)?;
        let manifest = &srv.aof.manifest;
        let dir = aof_dir(&srv.config);
        let mut load = FilesLoad {
            files: Vec::new(),
            dir,
            next: 0,
            current: None,
            total: 0,
            done_bytes: 0,
            outcome: Loaded::NothingToLoad,
            client: loading_client(srv),
        };
        if manifest.is_empty() {
            return Ok(load);
        }
        for file in manifest.files_to_load() {
            let size = match std::fs::metadata(load.dir.join(&file.name)) {
                Ok(meta) => meta.len(),
                Err(e) => {
                    log_at!(Warning, "Unable to obtain the AOF file {} length. stat: {}", file.name, strerror(&e));
                    return Err(());
                }
            };
            load.total += size;
            load.files.push(ToLoad { name: file.name.clone(), is_base: manifest.base.as_ref() == Some(file), size });
        }
        load.outcome = if load.total == 0 { Loaded::Empty } else { Loaded::Data };
        if load.total == 0 {
            load.files.clear();
        }
        Ok(load)
    }

    /// Bytes loaded so far.
    fn progress(&self) -> u64 {
        self.done_bytes + self.current.as_ref().map_or(0, |f| f.reader.valid_up_to())
    }

    /// Runs up to `budget` commands, or opens the next file.
    fn step(&mut self, srv: &mut Server, budget: u64) -> Result<Step, ()> {
        let Some(file) = &mut self.current else {
            return self.open_next(srv);
        };
        let Some(outcome) = run_commands(srv, &mut self.client, file, &self.dir, budget)? else {
            return Ok(Step::More);
        };
        let last = self.next == self.files.len();
        if outcome == FileOutcome::Truncated && !last {
            log_at!(Warning, "Fatal error: the truncated file is not the last file");
            return Err(());
        }
        let kind = if file.is_base { "base" } else { "incr" };
        log_at!(
            Notice,
            "DB loaded from {} file {}: {:.3} seconds",
            kind,
            file.name,
            file.started.elapsed().as_secs_f32()
        );
        self.finish_file();
        Ok(Step::More)
    }

    fn finish_file(&mut self) {
        self.current = None;
        self.done_bytes += self.files[self.next - 1].size;
    }

    /// Opens the next file: an empty one is skipped, one starting with an
    /// RDB part first needs it parsed.
    fn open_next(&mut self, srv: &mut Server) -> Result<Step, ()> {
        let Some(file) = self.files.get(self.next) else {
            self.record_sizes(srv);
            return Ok(Step::Done);
        };
        let (path, empty) = (self.dir.join(&file.name), file.size == 0);
        let mut input = open_file(&path, &file.name)?;
        self.next += 1;
        if empty {
            self.finish_file();
            return Ok(Step::More);
        }
        if input.fill_buf().map(|b| b.starts_with(RDB_SIGNATURE)).unwrap_or(false) {
            log_at!(Notice, "Reading RDB base file on AOF loading...");
            return Ok(Step::RdbBase(path));
        }
        self.current = Some(self.file_load(input, 0));
        Ok(Step::More)
    }

    /// The RDB part of the file just opened was parsed: install it and go
    /// on with the commands after it.
    fn base_parsed(&mut self, srv: &mut Server, parsed: Result<RdbLoaded, String>) -> Result<(), ()> {
        let name = self.files[self.next - 1].name.clone();
        let loaded = parsed.map_err(|e| {
            log_at!(Warning, "Error reading the RDB base file {}, AOF loading aborted: {}", name, e);
        })?;
        let start = crate::persistence::rdb::install_aof_base(srv, loaded);
        let mut input = open_file(&self.dir.join(&name), &name)?;
        input.seek(SeekFrom::Start(start)).map_err(|e| {
            log_at!(Warning, "Unrecoverable error reading the append only file {}: {}", name, strerror(&e));
        })?;
        log_at!(Notice, "Reading the remaining AOF tail...");
        self.current = Some(self.file_load(input, start));
        Ok(())
    }

    fn file_load(&self, input: BufReader<File>, start: u64) -> FileLoad {
        let ToLoad { name, is_base, .. } = self.files[self.next - 1].clone();
        FileLoad { name, is_base, started: Instant::now(), reader: CommandReader::new(input, start), transaction: None }
    }

    /// aof_current_size and aof_base_size once everything is loaded.
    fn record_sizes(&self, srv: &mut Server) {
        if self.files.is_empty() {
            return;
        }
        srv.aof.current_size = self.total;
        srv.aof.base_size = self.files.iter().find(|f| f.is_base).map_or(0, |f| f.size);
    }
}

fn open_file(path: &Path, name: &str) -> Result<BufReader<File>, ()> {
    let file = File::open(path).map_err(|e| {
        log_at!(Warning, "Fatal error: can't open the append log file {} for reading: {}", name, strerror(&e));
    })?;
    Ok(BufReader::with_capacity(64 * 1024, file))
}

/// An `appendonly.aof` in the working directory and no AOF in the directory
/// yet: the file of a pre-7.0 server. It becomes the base of a new manifest
/// and moves into the directory (safe to redo if interrupted).
fn migrate_single_file(srv: &mut Server) -> Result<(), ()> {
    let name = srv.config.appendfilename.clone();
    let dir = aof_dir(&srv.config);
    if !Path::new(&name).is_file() {
        return Ok(());
    }
    let m = &srv.aof.manifest;
    let old_style_base = m.base.as_ref().is_some_and(|b| b.name == name) && m.incr.is_empty();
    if dir.is_dir() && !m.is_empty() && (!old_style_base || dir.join(&name).exists()) {
        return Ok(());
    }
    if let Err(e) = std::fs::create_dir_all(&dir) {
        log_at!(Warning, "Can't open or create append-only dir {}: {}", dir.display(), strerror(&e));
        return Err(());
    }
    let mut manifest = Manifest::default();
    manifest.base = Some(cinnabar_persistence::aof::manifest::AofFile {
        name: name.clone(),
        seq: 1,
        kind: cinnabar_persistence::aof::manifest::FileKind::Base,
    });
    manifest.base_seq = 1;
    if !persist_logged(&manifest, &dir, &name) {
        return Err(());
    }
    if let Err(e) = std::fs::rename(&name, dir.join(&name)) {
        log_at!(Warning, "Error trying to move the old AOF file {} into dir {}: {}", name, dir.display(), strerror(&e));
        return Err(());
    }
    srv.aof.manifest = manifest;
    log_at!(
        Notice,
        "Successfully migrated an old-style AOF file ({}) into the AOF directory ({}).",
        name,
        dir.display()
    );
    Ok(())
}

/// Runs up to `budget` of the file's commands: Ok(None) when more remain,
/// else how the file ended. The hidden `key-load-delay` slows each down
/// (for tests).
fn run_commands(
    srv: &mut Server,
    client: &mut Client,
    file: &mut FileLoad,
    dir: &Path,
    budget: u64,
) -> Result<Option<FileOutcome>, ()> {
    let name = file.name.as_str();
    let delay = std::time::Duration::from_micros(srv.config.key_load_delay.max(0) as u64);
    for _ in 0..budget {
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let before = file.reader.valid_up_to();
        match file.reader.next_command() {
            Ok(Some(argv)) => {
                let name_arg = argv[0].as_slice();
                if name_arg.eq_ignore_ascii_case(b"multi") {
                    file.transaction = Some((before, Vec::new()));
                } else if name_arg.eq_ignore_ascii_case(b"exec") && file.transaction.is_some() {
                    let (_, queued) = file.transaction.take().expect("checked");
                    for command in &queued {
                        execute(srv, client, command, name)?;
                    }
                } else if let Some((_, queued)) = &mut file.transaction {
                    check_known(srv, &argv, name)?;
                    queued.push(argv);
                } else {
                    execute(srv, client, &argv, name)?;
                }
            }
            Ok(None) => {
                return match file.transaction {
                    Some((before_multi, _)) => {
                        log_at!(Warning, "Revert incomplete MULTI/EXEC transaction in AOF file {}", name);
                        truncated(srv, &dir.join(name), name, before_multi).map(Some)
                    }
                    None => Ok(Some(FileOutcome::Complete)),
                };
            }
            Err(ReadError::Truncated) => {
                let valid =
                    file.transaction.as_ref().map_or(file.reader.valid_up_to(), |(before_multi, _)| *before_multi);
                return truncated(srv, &dir.join(name), name, valid).map(Some);
            }
            Err(ReadError::Format) => {
                log_at!(
                    Warning,
                    "Bad file format reading the append only file {}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>",
                    name
                );
                return Err(());
            }
            Err(ReadError::Io(e)) => {
                log_at!(Warning, "Unrecoverable error reading the append only file {}: {}", name, strerror(&e));
                return Err(());
            }
        }
    }
    Ok(None)
}

/// The file ends inside a command: cut it at `valid` if allowed.
fn truncated(srv: &Server, path: &Path, name: &str, valid: u64) -> Result<FileOutcome, ()> {
    if srv.config.aof_load_truncated {
        log_at!(Warning, "!!! Warning: short read while loading the AOF file {}!!!", name);
        log_at!(Warning, "!!! Truncating the AOF {} at offset {} !!!", name, valid);
        let cut = std::fs::OpenOptions::new().write(true).open(path).and_then(|f| f.set_len(valid));
        match cut {
            Ok(()) => {
                log_at!(Warning, "AOF {} loaded anyway because aof-load-truncated is enabled", name);
                return Ok(FileOutcome::Truncated);
            }
            Err(e) => log_at!(Warning, "Error truncating the AOF file {}: {}", name, strerror(&e)),
        }
    }
    log_at!(
        Warning,
        "Unexpected end of file reading the append only file {}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
        name
    );
    Err(())
}

/// The internal client the commands run as: authenticated, never connected.
fn loading_client(srv: &Server) -> Client {
    let mut client = Client::new(0, String::new(), String::new(), -1, srv.now_ms);
    client.authenticated = true;
    client.replays_aof = true;
    client
}

fn check_known(srv: &Server, argv: &[Vec<u8>], file: &str) -> Result<(), ()> {
    let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    if srv.commands.resolve(&args).is_some() {
        return Ok(());
    }
    log_at!(Warning, "Unknown command '{}' reading the append only file {}", String::from_utf8_lossy(&argv[0]), file);
    Err(())
}

fn execute(srv: &mut Server, client: &mut Client, argv: &[Vec<u8>], file: &str) -> Result<(), ()> {
    check_known(srv, argv, file)?;
    let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    dispatch::execute(srv, client, &args);
    // Nobody reads the internal client's replies.
    client.reply.take();
    Ok(())
}

/// Opens the incr file to append to; with no AOF at all, first writes a base
/// of the (empty or RDB-loaded) dataset, as Redis does on a fresh start.
fn open_at_startup(srv: &mut Server) -> Result<(), ()> {
    let dir = aof_dir(&srv.config);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        log_at!(Warning, "Can't open or create append-only dir {}: {}", dir.display(), strerror(&e));
        return Err(());
    }
    let aof_filename = srv.config.appendfilename.clone();
    let mut manifest = srv.aof.manifest.clone();
    if manifest.is_empty() {
        let base = manifest.new_base(&aof_filename, super::rewrite::base_format(srv));
        let timestamp = srv.config.aof_timestamp_enabled.then_some(srv.now_ms / 1000);
        let format = super::rewrite::base_format(srv);
        let incremental = srv.config.aof_rewrite_incremental_fsync;
        match write_base(&dir.join(&base), srv, format, timestamp, incremental, &mut |_| {}) {
            Ok(size) => {
                srv.aof.current_size = size;
                srv.aof.base_size = size;
            }
            Err(e) => {
                log_at!(Warning, "Write error writing append only file on disk: {}", strerror(&e));
                return Err(());
            }
        }
        log_at!(Notice, "Creating AOF base file {} on server start", base);
    }
    let had_incr = !manifest.incr.is_empty();
    let name = manifest.last_incr_or_new(&aof_filename);
    let file = open_for_append(&dir, &name).map_err(|e| {
        log_at!(Warning, "Can't open the append-only file {}: {}", name, strerror(&e));
    })?;
    if !persist_logged(&manifest, &dir, &aof_filename) {
        return Err(());
    }
    let size = file.metadata().map_or(0, |m| m.len());
    if had_incr {
        log_at!(Notice, "Opening AOF incr file {} on server start", name);
    } else {
        log_at!(Notice, "Creating AOF incr file {} on server start", name);
    }
    srv.aof.manifest = manifest;
    start_appending(srv, file, size);
    srv.aof.state = super::AofState::On;
    delete_history(srv);
    Ok(())
}
