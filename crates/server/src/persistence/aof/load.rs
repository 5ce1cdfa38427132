//! Start-up with the AOF, as Redis 7.0 does it: read the manifest (a bad one
//! stops the server), migrate an old single-file `appendonly.aof` into the
//! directory, load the base then the incr files by running their commands
//! through the dispatcher with an internal client (nothing is propagated:
//! the AOF sink is not attached yet), cut a truncated tail when
//! `aof-load-truncated` allows it, then open the incr file to append to,
//! creating the base first when there was no AOF at all.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;
use std::time::Instant;

use cinnabar_persistence::aof::manifest::{manifest_name, Manifest};
use cinnabar_persistence::aof::reader::{CommandReader, ReadError};
use cinnabar_persistence::aof::RDB_SIGNATURE;

use super::rewrite::{delete_history, persist_logged, write_base};
use super::{aof_dir, open_for_append, start_appending};
use crate::client::Client;
use crate::command::dispatch;
use crate::config::strerror;
use crate::log::log_at;
use crate::server::Server;

/// Reads the manifest and, with `appendonly yes`, loads the dataset from the
/// AOF and opens it for appending. Ok(true) when the AOF provided the
/// dataset (the RDB is then not read), Ok(false) with `appendonly no`.
/// Err when the server must not start.
pub fn load_at_startup(srv: &mut Server) -> Result<bool, StartupFailed> {
    load_and_open(srv).map_err(|()| StartupFailed)
}

/// The server must not start; the reason was logged.
#[derive(Debug)]
pub struct StartupFailed;

fn load_and_open(srv: &mut Server) -> Result<bool, ()> {
    srv.aof.manifest = read_manifest(srv)?;
    if !srv.config.appendonly {
        return Ok(false);
    }
    let started = Instant::now();
    srv.loading = true;
    let loaded = load_files(srv);
    srv.loading = false;
    if loaded? != Loaded::NothingToLoad {
        log_at!(Notice, "DB loaded from append only file: {:.3} seconds", started.elapsed().as_secs_f32());
    }
    // Loading ran commands: they are not the clients' statistics.
    srv.stats.reset();
    srv.commands.reset_stats();
    open_at_startup(srv)?;
    Ok(true)
}

/// DEBUG LOADAOF: flushes the AOF, empties the dataset and loads it again
/// from the AOF files. The AOF stops listening to the stream meanwhile, so
/// the replayed commands are not appended a second time. A failure to load
/// ends the process, as in Redis.
pub fn reload(srv: &mut Server) {
    if srv.aof.is_on() {
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
        let loaded = load_files(srv);
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

#[derive(Debug, PartialEq, Eq)]
enum Loaded {
    NothingToLoad,
    Empty,
    Data,
}

/// How loading one file ended.
#[derive(Debug, PartialEq, Eq)]
enum FileOutcome {
    Complete,
    Empty,
    /// Loaded up to a cut tail (allowed only for the last file).
    Truncated,
}

fn load_files(srv: &mut Server) -> Result<Loaded, ()> {
    migrate_single_file(srv)?;
    let manifest = srv.aof.manifest.clone();
    if manifest.is_empty() {
        return Ok(Loaded::NothingToLoad);
    }
    let dir = aof_dir(&srv.config);
    let mut total = 0;
    for file in manifest.files_to_load() {
        match std::fs::metadata(dir.join(&file.name)) {
            Ok(meta) => total += meta.len(),
            Err(e) => {
                log_at!(Warning, "Unable to obtain the AOF file {} length. stat: {}", file.name, strerror(&e));
                return Err(());
            }
        }
    }
    if total == 0 {
        return Ok(Loaded::Empty);
    }
    let count = manifest.files_to_load().count();
    for (i, file) in manifest.files_to_load().enumerate() {
        let last = i + 1 == count;
        let started = Instant::now();
        let outcome = load_file(srv, &dir, &file.name)?;
        if outcome == FileOutcome::Truncated && !last {
            log_at!(Warning, "Fatal error: the truncated file is not the last file");
            return Err(());
        }
        if outcome != FileOutcome::Empty {
            let kind = if manifest.base.as_ref() == Some(file) { "base" } else { "incr" };
            log_at!(
                Notice,
                "DB loaded from {} file {}: {:.3} seconds",
                kind,
                file.name,
                started.elapsed().as_secs_f32()
            );
        }
    }
    let aof = &mut srv.aof;
    aof.current_size = total;
    aof.base_size =
        manifest.base.as_ref().and_then(|b| std::fs::metadata(dir.join(&b.name)).ok()).map_or(0, |m| m.len());
    Ok(Loaded::Data)
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

/// Loads one AOF file by running its commands.
fn load_file(srv: &mut Server, dir: &Path, name: &str) -> Result<FileOutcome, ()> {
    let path = dir.join(name);
    let file = File::open(&path).map_err(|e| {
        log_at!(Warning, "Fatal error: can't open the append log file {} for reading: {}", name, strerror(&e));
    })?;
    if file.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
        return Ok(FileOutcome::Empty);
    }
    let mut input = BufReader::with_capacity(64 * 1024, file);
    let starts_with_rdb = input.fill_buf().map(|b| b.starts_with(RDB_SIGNATURE)).unwrap_or(false);
    let mut start = 0;
    if starts_with_rdb {
        log_at!(Notice, "Reading RDB base file on AOF loading...");
        // The RDB reader reads ahead: the command tail is read from a
        // fresh handle positioned where the snapshot ended.
        start = crate::persistence::rdb::load_aof_base(srv, input).map_err(|e| {
            log_at!(Warning, "Error reading the RDB base file {}, AOF loading aborted: {}", name, e);
        })?;
        let mut file = File::open(&path).map_err(|e| {
            log_at!(Warning, "Unrecoverable error reading the append only file {}: {}", name, strerror(&e));
        })?;
        file.seek(SeekFrom::Start(start)).map_err(|e| {
            log_at!(Warning, "Unrecoverable error reading the append only file {}: {}", name, strerror(&e));
        })?;
        input = BufReader::with_capacity(64 * 1024, file);
        log_at!(Notice, "Reading the remaining AOF tail...");
    }
    let mut reader = CommandReader::new(input, start);
    let mut client = loading_client(srv);
    // A MULTI seen and its queued commands: run at EXEC, dropped if the file
    // ends first (the offset before MULTI is where the file is then cut).
    let mut transaction: Option<(u64, Vec<Vec<Vec<u8>>>)> = None;
    loop {
        let before = reader.valid_up_to();
        match reader.next_command() {
            Ok(Some(argv)) => {
                let name_arg = argv[0].as_slice();
                if name_arg.eq_ignore_ascii_case(b"multi") {
                    transaction = Some((before, Vec::new()));
                } else if name_arg.eq_ignore_ascii_case(b"exec") && transaction.is_some() {
                    let (_, queued) = transaction.take().expect("checked");
                    for command in &queued {
                        execute(srv, &mut client, command, name)?;
                    }
                } else if let Some((_, queued)) = &mut transaction {
                    check_known(srv, &argv, name)?;
                    queued.push(argv);
                } else {
                    execute(srv, &mut client, &argv, name)?;
                }
            }
            Ok(None) => match transaction {
                Some((before_multi, _)) => {
                    log_at!(Warning, "Revert incomplete MULTI/EXEC transaction in AOF file {}", name);
                    return truncated(srv, &path, name, before_multi);
                }
                None => return Ok(FileOutcome::Complete),
            },
            Err(ReadError::Truncated) => {
                let valid = transaction.map_or(reader.valid_up_to(), |(before_multi, _)| before_multi);
                return truncated(srv, &path, name, valid);
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
        match write_base(&dir.join(&base), srv, format, timestamp, incremental) {
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
    delete_history(srv);
    Ok(())
}
