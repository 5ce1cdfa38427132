//! The master side of replication: a connection that sent PSYNC (or SYNC)
//! becomes a replica, continues from the backlog when its history allows
//! (partial resync) or gets a snapshot first (full resync), then is fed the
//! replication stream and acknowledges what it applied.
//!
//! A full sync's snapshot is made by a forked child: on disk (a BGSAVE whose
//! file is then sent as `$<len>`), or diskless (`repl-diskless-sync`, the
//! child writes into a pipe, a thread reads it and every replica of that
//! snapshot gets it framed as `$EOF:<mark>` ... `<mark>`). Either way the
//! replica becomes a reader of the replication buffer at the offset of the
//! fork, so the stream written meanwhile waits for it there.
//!
//! WAIT, `min-replicas-to-write` and the periodic duties (PING, timeouts, the
//! backlog's time to live, keep-alive newlines) live here too.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::os::fd::FromRawFd;
use std::rc::Rc;
use std::sync::Arc;

use cinnabar_protocol::RequestParser;
use tokio::sync::{mpsc, Notify};

use super::backlog::ReaderId;
use crate::client::{Client, ClientId};
use crate::log::log_at;
use crate::net::Transport;
use crate::persistence::fork;
use crate::server::Server;

/// What a connection said about itself with REPLCONF before its PSYNC.
#[derive(Clone, Debug, Default)]
pub struct ReplicaHello {
    /// `listening-port`: where the replica accepts clients (INFO, ROLE).
    pub listening_port: u16,
    /// `ip-address` (replica-announce-ip).
    pub announced_ip: Option<String>,
    /// `capa eof`: takes a diskless, EOF-marked snapshot.
    pub capa_eof: bool,
    /// `capa psync2`: understands `+CONTINUE <replid>`.
    pub capa_psync2: bool,
}

/// Where a replica is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Waits for a snapshot to start (a child busy, the diskless delay).
    WaitSnapshotStart,
    /// Its snapshot is being made; the stream since the fork is kept.
    WaitSnapshotEnd,
    /// Receiving the snapshot.
    SendSnapshot,
    Online,
}

impl Phase {
    /// INFO's `state=`.
    fn info_name(self) -> &'static str {
        match self {
            Phase::WaitSnapshotStart | Phase::WaitSnapshotEnd => "wait_bgsave",
            Phase::SendSnapshot => "send_bulk",
            Phase::Online => "online",
        }
    }
}

/// A piece of a diskless snapshot on its way from the child.
pub enum Chunk {
    Data(Arc<[u8]>),
    /// The child finished: true if it succeeded.
    End(bool),
}

/// A replica of ours.
pub struct Replica {
    pub hello: ReplicaHello,
    /// Its address as we see it (or as it announced).
    pub ip: String,
    pub phase: Phase,
    /// Its snapshot comes EOF-marked from a child, not from the dump file.
    pub diskless: bool,
    /// It asked with SYNC: no +FULLRESYNC line before the snapshot.
    pub old_protocol: bool,
    /// Its position in the replication buffer, once it has one.
    pub reader: Option<ReaderId>,
    pub ack_offset: u64,
    /// Unix ms of its last acknowledgement (or of the sync's start).
    pub ack_time_ms: i64,
    /// The diskless snapshot's pieces, while it is sent.
    pub snapshot: Option<mpsc::UnboundedReceiver<Chunk>>,
    /// Woken when its phase changes or stream bytes arrive.
    pub wake: Rc<Notify>,
    /// The answer to its PSYNC (+CONTINUE, +FULLRESYNC), to send first.
    pub greeting: Vec<u8>,
    /// Since when (unix s) its pending output is past the soft limit.
    pub soft_limit_since_s: std::cell::Cell<Option<i64>>,
}

/// A client blocked in WAIT.
pub struct Waiter {
    pub client: ClientId,
    pub offset: u64,
    pub replicas: i64,
}

/// A diskless snapshot child (a disk snapshot is an ordinary BGSAVE).
pub struct SnapshotChild {
    pub child: fork::Child,
    /// Set by the relay thread once it reaped the child.
    pub finished: Arc<std::sync::atomic::AtomicBool>,
}

/// Master-side state.
#[derive(Default)]
pub struct MasterState {
    pub replicas: BTreeMap<ClientId, Replica>,
    pub waiters: Vec<Waiter>,
    pub diskless_child: Option<SnapshotChild>,
    /// Unix ms since when no replica is connected (repl-backlog-ttl).
    pub alone_since_ms: i64,
    /// Unix seconds of the last PING sent to replicas.
    pub last_ping_s: i64,
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
    pub net_output_bytes: u64,
}

const CHUNK: usize = 64 * 1024;

/// REPLCONF options a would-be replica sends, and ACK/GETACK.
pub fn replconf(srv: &mut Server, client: &mut Client, argv: &[&[u8]]) -> Result<bool, String> {
    if argv.len().is_multiple_of(2) {
        return Err("ERR syntax error".into());
    }
    for pair in argv[1..].chunks(2) {
        let (option, value) = (pair[0], pair[1]);
        match option.to_ascii_lowercase().as_slice() {
            b"listening-port" => {
                let port = parse_number(value).ok_or("ERR value is not an integer or out of range")?;
                client.replica_hello.listening_port = port as u16;
            }
            b"ip-address" => client.replica_hello.announced_ip = Some(String::from_utf8_lossy(value).into_owned()),
            b"capa" => {
                if value.eq_ignore_ascii_case(b"eof") {
                    client.replica_hello.capa_eof = true;
                } else if value.eq_ignore_ascii_case(b"psync2") {
                    client.replica_hello.capa_psync2 = true;
                }
            }
            b"ack" | b"fack" => {
                // Only replicas acknowledge, and they get no reply.
                if option.eq_ignore_ascii_case(b"ack") && client.is_replica {
                    if let Some(offset) = parse_number(value) {
                        acknowledge(srv, client.id, offset);
                    }
                }
                return Ok(false);
            }
            b"getack" => {
                if client.is_master {
                    super::replica::ack_requested(srv);
                }
                return Ok(false);
            }
            b"rdb-only" | b"rdb-filter-only" => {}
            _ => {
                return Err(format!("ERR Unrecognized REPLCONF option: {}", String::from_utf8_lossy(option)));
            }
        }
    }
    Ok(true)
}

fn parse_number(value: &[u8]) -> Option<u64> {
    cinnabar_protocol::numbers::parse_i64(value).and_then(|n| u64::try_from(n).ok())
}

/// PSYNC replid offset / SYNC: answers `+CONTINUE` or `+FULLRESYNC` (the
/// latter possibly later, when its snapshot starts) and marks the client
/// to become a replica once the command returns.
pub fn psync(srv: &mut Server, client: &mut Client, argv: &[&[u8]]) -> Result<(), String> {
    if client.is_replica {
        return Ok(());
    }
    let psync = argv[0].eq_ignore_ascii_case(b"psync");
    if psync && argv.len() > 3 {
        if !argv[3].eq_ignore_ascii_case(b"failover") {
            return Err("ERR syntax error".into());
        }
        // Our master hands over: we become the master, then serve its PSYNC.
        super::replica::accept_failover(srv, argv[1])?;
    }
    if srv.repl.link.as_ref().is_some_and(|l| !l.is_connected()) {
        return Err("NOMASTERLINK Can't SYNC while not connected with my master".into());
    }
    if !client.reply.is_empty() {
        return Err("ERR SYNC and PSYNC are invalid with pending output".into());
    }
    let ip = client.addr.rsplit_once(':').map_or(client.addr.as_str(), |(ip, _)| ip).to_string();
    let hello = client.replica_hello.clone();
    let shown_ip = hello.announced_ip.clone().unwrap_or(ip);
    client.is_replica = true;
    srv.repl.master_side.alone_since_ms = 0;
    let mut replica = Replica {
        diskless: hello.capa_eof && srv.config.repl_diskless_sync,
        old_protocol: !psync,
        hello,
        ip: shown_ip,
        phase: Phase::WaitSnapshotStart,
        reader: None,
        ack_offset: 0,
        ack_time_ms: srv.now_ms,
        snapshot: None,
        wake: client.wake.clone(),
        greeting: Vec::new(),
        soft_limit_since_s: Default::default(),
    };
    if psync {
        let replid = String::from_utf8_lossy(argv[1]).into_owned();
        let offset = std::str::from_utf8(argv[2]).ok().and_then(|o| o.parse::<i64>().ok()).unwrap_or(-1);
        if let Some(from) = partial_start(srv, &replid, offset) {
            let line = if replica.hello.capa_psync2 {
                format!("+CONTINUE {}\r\n", srv.repl.replid)
            } else {
                "+CONTINUE\r\n".to_string()
            };
            replica.greeting = line.into_bytes();
            let backlog = srv.propagation.backlog.as_mut().expect("partial needs a backlog");
            replica.reader = Some(backlog.add_reader(from, client.wake.clone()));
            replica.phase = Phase::Online;
            replica.ack_offset = from;
            srv.repl.master_side.sync_partial_ok += 1;
            log_at!(
                Notice,
                "Partial resynchronization request from {} accepted. Sending {} bytes of backlog starting from offset {}.",
                client.addr,
                srv.propagation.repl_offset() - from,
                from + 1
            );
            srv.repl.master_side.replicas.insert(client.id, replica);
            return Ok(());
        }
        if replid != "?" {
            srv.repl.master_side.sync_partial_err += 1;
        }
        log_at!(Notice, "Full resync requested by replica {}", client.addr);
    } else {
        log_at!(Notice, "Replica {} asks for synchronization", client.addr);
        // The old protocol has no EOF framing.
        replica.diskless = false;
    }
    srv.repl.master_side.sync_full += 1;
    if srv.propagation.backlog.is_none() {
        // A new history starts: nobody may continue an old one with us.
        srv.repl.change_replid();
        srv.repl.clear_replid2();
        srv.propagation.start_backlog(srv.config.repl_backlog_size as u64);
    }
    srv.repl.master_side.replicas.insert(client.id, replica);
    attach_to_running_disk_snapshot(srv, client);
    start_snapshots(srv);
    Ok(())
}

/// Where a replica that followed `replid` up to `offset` (PSYNC's argument,
/// the next byte it needs) may continue from, if it may.
fn partial_start(srv: &Server, replid: &str, offset: i64) -> Option<u64> {
    let from = u64::try_from(offset.checked_sub(1)?).ok()?;
    let backlog = srv.propagation.backlog.as_ref()?;
    (srv.repl.follows_our_history(replid, from) && backlog.can_continue_from(from)).then_some(from)
}

/// A replica arriving while a disk snapshot for replication runs shares it
/// if the stream since that fork is still held for another replica.
fn attach_to_running_disk_snapshot(srv: &mut Server, client: &mut Client) {
    let replicas = &srv.repl.master_side.replicas;
    let Some(donor) = replicas.values().find(|r| !r.diskless && r.phase == Phase::WaitSnapshotEnd) else { return };
    let Some(donor_reader) = donor.reader else { return };
    let backlog = srv.propagation.backlog.as_mut().expect("replicas need a backlog");
    let Some(from) = backlog.position(donor_reader) else { return };
    let me = srv.repl.master_side.replicas.get_mut(&client.id).expect("just added");
    if me.diskless {
        return;
    }
    let reader = backlog.add_reader(from, client.wake.clone());
    me.reader = Some(reader);
    me.phase = Phase::WaitSnapshotEnd;
    me.greeting = full_resync_line(&srv.repl.replid, from, me.old_protocol).into_bytes();
}

fn full_resync_line(replid: &str, offset: u64, old_protocol: bool) -> String {
    if old_protocol {
        String::new()
    } else {
        format!("+FULLRESYNC {replid} {offset}\r\n")
    }
}

/// Starts the snapshots waiting replicas need, if the rules allow now: one
/// child at a time; diskless replicas wait `repl-diskless-sync-delay`
/// seconds for company unless `repl-diskless-sync-max-replicas` are there.
pub fn start_snapshots(srv: &mut Server) {
    if crate::persistence::child_running(srv) {
        return;
    }
    let waiting: Vec<(ClientId, bool, i64)> = srv
        .repl
        .master_side
        .replicas
        .iter()
        .filter(|(_, r)| r.phase == Phase::WaitSnapshotStart)
        .map(|(id, r)| (*id, r.diskless, r.ack_time_ms))
        .collect();
    let Some(&(_, diskless, _)) = waiting.first() else { return };
    let group: Vec<ClientId> = waiting.iter().filter(|w| w.1 == diskless).map(|w| w.0).collect();
    if diskless {
        let longest_wait_s = waiting.iter().map(|w| (srv.now_ms - w.2) / 1000).max().unwrap_or(0);
        let enough = srv.config.repl_diskless_sync_max_replicas > 0
            && group.len() as i64 >= srv.config.repl_diskless_sync_max_replicas;
        if longest_wait_s < srv.config.repl_diskless_sync_delay && !enough {
            return;
        }
        fork_diskless_snapshot(srv, &group);
    } else {
        log_at!(Notice, "Starting BGSAVE for SYNC with target: disk");
        begin_snapshot(srv, &group);
        if !crate::persistence::rdb::bgsave(srv) {
            log_at!(Warning, "BGSAVE for replication failed");
            drop_replicas(srv, &group);
        }
    }
}

/// The fork is about to happen: each replica of `group` gets its
/// +FULLRESYNC with the offset the snapshot will hold, and a place in the
/// replication buffer from there.
fn begin_snapshot(srv: &mut Server, group: &[ClientId]) {
    // The stream after the snapshot starts with a SELECT.
    srv.propagation.reselect();
    let offset = srv.propagation.repl_offset();
    for id in group {
        let Some(replica) = srv.repl.master_side.replicas.get_mut(id) else { continue };
        replica.greeting = full_resync_line(&srv.repl.replid, offset, replica.old_protocol).into_bytes();
        let backlog = srv.propagation.backlog.as_mut().expect("replicas need a backlog");
        replica.reader = Some(backlog.add_reader(offset, replica.wake.clone()));
        replica.phase = Phase::WaitSnapshotEnd;
        replica.ack_time_ms = srv.now_ms;
        replica.wake.notify_one();
    }
}

/// Forks a child that writes the snapshot into a pipe; a thread reads it
/// and hands the pieces to every replica of `group`.
fn fork_diskless_snapshot(srv: &mut Server, group: &[ClientId]) {
    log_at!(Notice, "Starting BGSAVE for SYNC with target: replicas sockets");
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        log_at!(Warning, "Can't create the pipe for the diskless snapshot");
        drop_replicas(srv, group);
        return;
    }
    let (read_fd, write_fd) = (fds[0], fds[1]);
    begin_snapshot(srv, group);
    let spawned = {
        let snapshot_source: &Server = srv;
        fork::spawn_keeping(c"redis-rdb-to-slaves", "RDB", write_fd, move |_reporter| {
            // SAFETY: the child owns this descriptor from here on.
            let out = unsafe { std::fs::File::from_raw_fd(write_fd) };
            let ok = crate::persistence::rdb::write_replication_snapshot(snapshot_source, out).is_ok();
            (ok, 0)
        })
    };
    // SAFETY: the parent's copy of the write end is not needed.
    unsafe { libc::close(write_fd) };
    let child = match spawned {
        Ok(child) => child,
        Err(e) => {
            log_at!(Warning, "Can't save in background: fork: {e}");
            // SAFETY: our read end, unused.
            unsafe { libc::close(read_fd) };
            drop_replicas(srv, group);
            return;
        }
    };
    crate::persistence::record_fork(srv, &child);
    log_at!(Notice, "Background RDB transfer started by pid {}", child.pid);
    let mut senders = Vec::new();
    for id in group {
        let (tx, rx) = mpsc::unbounded_channel();
        senders.push(tx);
        if let Some(replica) = srv.repl.master_side.replicas.get_mut(id) {
            replica.snapshot = Some(rx);
            replica.phase = Phase::SendSnapshot;
            replica.wake.notify_one();
        }
    }
    let pid = child.pid;
    let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
    srv.repl.master_side.diskless_child = Some(SnapshotChild { child, finished: finished.clone() });
    crate::persistence::child_changed(srv);
    std::thread::Builder::new()
        .name("repl-snapshot".into())
        .spawn(move || relay_snapshot(read_fd, pid, senders, &finished))
        .map(drop)
        .unwrap_or_else(|e| log_at!(Warning, "Can't start the snapshot relay: {e}"));
}

/// The relay thread: reads the child's pipe until it closes, then waits for
/// the child and says whether it succeeded.
fn relay_snapshot(
    read_fd: libc::c_int,
    pid: libc::pid_t,
    senders: Vec<mpsc::UnboundedSender<Chunk>>,
    finished: &std::sync::atomic::AtomicBool,
) {
    use std::io::Read;
    // SAFETY: the read end is ours alone.
    let mut pipe = unsafe { std::fs::File::from_raw_fd(read_fd) };
    let mut buf = vec![0u8; CHUNK];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let piece: Arc<[u8]> = Arc::from(&buf[..n]);
                for tx in &senders {
                    let _ = tx.send(Chunk::Data(piece.clone()));
                }
            }
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child; the cron never reaps this one.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    finished.store(true, std::sync::atomic::Ordering::Release);
    for tx in &senders {
        let _ = tx.send(Chunk::End(ok));
    }
}

/// A BGSAVE finished: replicas waiting for a disk snapshot get the file
/// (or are dropped if it failed); others may start their own now.
pub fn disk_snapshot_done(srv: &mut Server, ok: bool) {
    let waiting: Vec<ClientId> = srv
        .repl
        .master_side
        .replicas
        .iter()
        .filter(|(_, r)| !r.diskless && r.phase == Phase::WaitSnapshotEnd)
        .map(|(id, _)| *id)
        .collect();
    if ok {
        for id in &waiting {
            if let Some(replica) = srv.repl.master_side.replicas.get_mut(id) {
                replica.phase = Phase::SendSnapshot;
                replica.wake.notify_one();
            }
        }
    } else {
        log_at!(Warning, "SYNC failed. BGSAVE child returned an error");
        drop_replicas(srv, &waiting);
    }
    start_snapshots(srv);
}

/// Disconnects replicas whose sync cannot go on.
fn drop_replicas(srv: &mut Server, ids: &[ClientId]) {
    for id in ids {
        if let Some(client) = srv.clients.get(id) {
            if let Ok(mut client) = client.try_borrow_mut() {
                client.kill();
            }
        }
    }
}

/// Forgets a replica whose connection ended.
pub fn forget_replica(srv: &mut Server, id: ClientId) {
    let Some(replica) = srv.repl.master_side.replicas.remove(&id) else { return };
    if let (Some(reader), Some(backlog)) = (replica.reader, srv.propagation.backlog.as_mut()) {
        backlog.remove_reader(reader);
    }
    if replica.phase == Phase::Online {
        log_at!(Notice, "Connection with replica {}:{} lost.", replica.ip, replica.hello.listening_port);
    }
    if srv.repl.master_side.replicas.is_empty() {
        srv.repl.master_side.alone_since_ms = srv.now_ms;
    }
}

/// A replica acknowledged `offset`: WAIT clients may be done.
pub fn acknowledge(srv: &mut Server, id: ClientId, offset: u64) {
    let now = srv.now_ms;
    if let Some(replica) = srv.repl.master_side.replicas.get_mut(&id) {
        replica.ack_offset = replica.ack_offset.max(offset);
        replica.ack_time_ms = now;
    }
    serve_waiters(srv);
}

/// How many online replicas acknowledged at least `offset`.
pub fn replicas_at(srv: &Server, offset: u64) -> i64 {
    srv.repl.master_side.replicas.values().filter(|r| r.phase == Phase::Online && r.ack_offset >= offset).count() as i64
}

/// Answers the WAIT clients whose replicas caught up.
fn serve_waiters(srv: &mut Server) {
    if srv.repl.master_side.waiters.is_empty() {
        return;
    }
    let waiters = std::mem::take(&mut srv.repl.master_side.waiters);
    for waiter in waiters {
        let acked = replicas_at(srv, waiter.offset);
        if acked < waiter.replicas {
            srv.repl.master_side.waiters.push(waiter);
            continue;
        }
        let Some(client) = srv.clients.get(&waiter.client).cloned() else { continue };
        let Ok(mut client) = client.try_borrow_mut() else {
            srv.repl.master_side.waiters.push(waiter);
            continue;
        };
        srv.blocking.forget(waiter.client);
        client.reply.int(acked);
        client.blocked = false;
        client.wake.notify_one();
    }
}

/// The reply of a WAIT whose timeout passed: how many replicas got there.
/// None if `id` is not in WAIT.
pub fn wait_timed_out(srv: &mut Server, id: ClientId) -> Option<i64> {
    let at = srv.repl.master_side.waiters.iter().position(|w| w.client == id)?;
    let waiter = srv.repl.master_side.waiters.remove(at);
    Some(replicas_at(srv, waiter.offset))
}

/// Forgets a WAIT client that went away.
pub fn forget_waiter(srv: &mut Server, id: ClientId) {
    srv.repl.master_side.waiters.retain(|w| w.client != id);
}

/// Replicas whose last acknowledgement is at most `min-replicas-max-lag`
/// seconds old (repl_good_slaves_count).
pub fn good_replicas(srv: &Server) -> i64 {
    let max_lag_ms = srv.config.min_replicas_max_lag * 1000;
    srv.repl
        .master_side
        .replicas
        .values()
        .filter(|r| r.phase == Phase::Online && srv.now_ms - r.ack_time_ms <= max_lag_ms)
        .count() as i64
}

/// `-NOREPLICAS` when `min-replicas-to-write` good replicas are missing.
pub fn write_refusal(srv: &Server) -> Option<&'static str> {
    let needed = srv.config.min_replicas_to_write;
    (needed > 0 && srv.config.min_replicas_max_lag > 0 && srv.repl.link.is_none() && good_replicas(srv) < needed)
        .then_some("NOREPLICAS Not enough good replicas to write.")
}

/// The periodic duties (called once a second by the cron).
pub fn cron(srv: &mut Server) {
    let now_s = srv.now_ms / 1000;
    let master = &mut srv.repl.master_side;
    let has_replicas = !master.replicas.is_empty();
    if has_replicas && now_s - master.last_ping_s >= srv.config.repl_ping_replica_period {
        master.last_ping_s = now_s;
        // A replica of a replica gets its master's PINGs instead.
        if srv.repl.link.is_none() {
            srv.propagation.feed_replicas(&[b"PING"]);
        }
    }
    drop_silent_replicas(srv);
    free_idle_backlog(srv);
    forget_finished_snapshot_child(srv);
    start_snapshots(srv);
}

/// Once the relay thread reaped the diskless child, another may start.
fn forget_finished_snapshot_child(srv: &mut Server) {
    let master = &mut srv.repl.master_side;
    if master.diskless_child.as_ref().is_some_and(|c| c.finished.load(std::sync::atomic::Ordering::Acquire)) {
        master.diskless_child = None;
        log_at!(Notice, "Background RDB transfer terminated with success");
        crate::persistence::child_changed(srv);
    }
}

/// Replicas online but silent for `repl-timeout` seconds are dropped; so
/// are snapshots that cannot be delivered for that long.
fn drop_silent_replicas(srv: &mut Server) {
    let timeout_ms = srv.config.repl_timeout * 1000;
    let silent: Vec<ClientId> = srv
        .repl
        .master_side
        .replicas
        .iter()
        .filter(|(_, r)| r.phase == Phase::Online && srv.now_ms - r.ack_time_ms > timeout_ms)
        .map(|(id, _)| *id)
        .collect();
    for id in &silent {
        if let Some(r) = srv.repl.master_side.replicas.get(id) {
            log_at!(Warning, "Disconnecting timedout replica (streaming sync): {}:{}", r.ip, r.hello.listening_port);
        }
    }
    drop_replicas(srv, &silent);
}

/// A master alone for `repl-backlog-ttl` seconds frees its backlog (and
/// starts a new history, as nobody can continue the old one with it).
fn free_idle_backlog(srv: &mut Server) {
    let ttl = srv.config.repl_backlog_ttl;
    let master = &srv.repl.master_side;
    if srv.repl.link.is_some() || ttl == 0 || !master.replicas.is_empty() || master.alone_since_ms == 0 {
        return;
    }
    if srv.propagation.backlog.is_some() && srv.now_ms - master.alone_since_ms >= ttl * 1000 {
        srv.repl.change_replid();
        srv.repl.clear_replid2();
        srv.propagation.free_backlog();
        log_at!(Notice, "Replication backlog freed after {ttl} seconds without connected replicas.");
    }
}

/// Stops a running diskless snapshot child (SHUTDOWN).
pub fn kill_snapshot_child(srv: &mut Server) {
    if let Some(running) = srv.repl.master_side.diskless_child.take() {
        // SAFETY: signalling our own child; the relay thread reaps it.
        unsafe { libc::kill(running.child.pid, libc::SIGUSR1) };
        crate::persistence::child_changed(srv);
    }
}

/// INFO replication's master part: connected_slaves and one line per replica.
pub fn info_lines(srv: &Server, out: &mut String) {
    use std::fmt::Write;
    let master = &srv.repl.master_side;
    let _ = write!(out, "connected_slaves:{}\r\n", master.replicas.len());
    let offset = srv.propagation.repl_offset();
    for (i, r) in master.replicas.values().enumerate() {
        let lag = (srv.now_ms - r.ack_time_ms) / 1000;
        let _ = write!(
            out,
            "slave{i}:ip={},port={},state={},offset={},lag={}\r\n",
            r.ip,
            r.hello.listening_port,
            r.phase.info_name(),
            r.ack_offset.min(offset),
            lag
        );
    }
}

/// ROLE's replica list: [ip, port, acknowledged offset] per online replica.
pub fn role_replicas(srv: &Server) -> Vec<(String, u16, u64)> {
    srv.repl
        .master_side
        .replicas
        .values()
        .filter(|r| r.phase == Phase::Online)
        .map(|r| (r.ip.clone(), r.hello.listening_port, r.ack_offset))
        .collect()
}

/// The life of a replica's connection after its PSYNC: its snapshot if it
/// needs one, then the stream, while its acknowledgements are read.
pub async fn feed_replica(
    mut stream: Transport,
    server: Rc<RefCell<Server>>,
    client: Rc<RefCell<Client>>,
    mut input: Vec<u8>,
) {
    let (id, wake) = {
        let c = client.borrow();
        (c.id, c.wake.clone())
    };
    let mut parser = RequestParser::new();
    let ok = run_replica_link(&mut stream, &server, &client, &wake, &mut parser, &mut input).await;
    if !ok {
        log_at!(Verbose, "Replica link {id} closed");
    }
    let mut srv = server.borrow_mut();
    forget_replica(&mut srv, id);
    srv.remove_client(id);
}

async fn run_replica_link(
    stream: &mut Transport,
    server: &Rc<RefCell<Server>>,
    client: &Rc<RefCell<Client>>,
    wake: &Rc<Notify>,
    parser: &mut RequestParser,
    input: &mut Vec<u8>,
) -> bool {
    let id = client.borrow().id;
    loop {
        // The answer to its PSYNC, once there is one.
        let greeting = {
            let mut srv = server.borrow_mut();
            srv.repl.master_side.replicas.get_mut(&id).map(|r| std::mem::take(&mut r.greeting)).unwrap_or_default()
        };
        if !greeting.is_empty() && !write_all(stream, &greeting).await {
            return false;
        }
        if client.borrow().close_asap {
            return false;
        }
        let phase = server.borrow().repl.master_side.replicas.get(&id).map(|r| r.phase);
        match phase {
            None => return false,
            Some(Phase::SendSnapshot) => {
                if !send_snapshot(stream, server, id).await {
                    return false;
                }
                let mut srv = server.borrow_mut();
                let now = srv.now_ms;
                if let Some(r) = srv.repl.master_side.replicas.get_mut(&id) {
                    r.phase = Phase::Online;
                    r.ack_time_ms = now;
                }
                log_at!(Notice, "Synchronization with replica {} succeeded", client.borrow().addr);
                continue;
            }
            Some(Phase::Online) => {
                if !send_stream(stream, server, id).await {
                    return false;
                }
            }
            Some(Phase::WaitSnapshotStart | Phase::WaitSnapshotEnd) => {}
        }
        let waiting = matches!(phase, Some(Phase::WaitSnapshotStart | Phase::WaitSnapshotEnd));
        tokio::select! {
            biased;
            _ = wake.notified() => {}
            ready = stream.readable() => {
                if ready.is_err() || !read_acks(stream, server, client, parser, input) {
                    return false;
                }
            }
            _ = keepalive_tick(waiting) => {
                if !write_all(stream, b"\n").await {
                    return false;
                }
            }
        }
    }
}

/// A second, while a replica waits for its snapshot: it then gets a
/// newline, so its link does not time out (as Redis does). Never otherwise:
/// an online replica's loop runs at every write and must not arm a timer.
async fn keepalive_tick(waiting: bool) {
    if waiting {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await
    } else {
        std::future::pending().await
    }
}

/// Writes what the replica has not been sent from the replication buffer,
/// straight from the buffer's blocks (no copy), until it is up to date or
/// its socket is full; then waits for room, giving up if the replica
/// passes its output limit or is dropped meanwhile.
async fn send_stream(stream: &mut Transport, server: &Rc<RefCell<Server>>, id: ClientId) -> bool {
    loop {
        match write_unsent(stream, server, id) {
            Sent::UpToDate => return true,
            Sent::Failed => return false,
            Sent::SocketFull => {}
        }
        let give_up = || {
            let mut srv = server.borrow_mut();
            srv.refresh_time();
            let killed = srv.clients.get(&id).and_then(|c| c.try_borrow().ok()).is_none_or(|c| c.close_asap);
            killed || replica_over_limit(&srv, id)
        };
        tokio::select! {
            ready = stream.writable() => {
                if ready.is_err() {
                    return false;
                }
            }
            _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {
                if give_up() {
                    return false;
                }
            }
        }
    }
}

enum Sent {
    UpToDate,
    SocketFull,
    Failed,
}

/// Writes unsent stream bytes while the socket takes them.
fn write_unsent(stream: &mut Transport, server: &Rc<RefCell<Server>>, id: ClientId) -> Sent {
    let mut srv = server.borrow_mut();
    if replica_over_limit(&srv, id) {
        return Sent::Failed;
    }
    let Some(reader) = srv.repl.master_side.replicas.get(&id).and_then(|r| r.reader) else { return Sent::Failed };
    loop {
        let Some(backlog) = srv.propagation.backlog.as_mut() else { return Sent::Failed };
        let chunk = backlog.unsent(reader);
        if chunk.is_empty() && !stream.unflushed() {
            return Sent::UpToDate;
        }
        match stream.try_write(chunk) {
            Ok(n) => {
                backlog.advance(reader, n);
                srv.repl.master_side.net_output_bytes += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Sent::SocketFull,
            Err(_) => return Sent::Failed,
        }
    }
}

/// True (and logged) once a replica passed its output-buffer limit.
fn replica_over_limit(srv: &Server, id: ClientId) -> bool {
    let held = match (srv.repl.master_side.replicas.get(&id).and_then(|r| r.reader), &srv.propagation.backlog) {
        (Some(reader), Some(backlog)) => backlog.held_for(reader),
        _ => return false,
    };
    if !over_output_limit(srv, id, held) {
        return false;
    }
    log_at!(Warning, "Client id={id} (replica) scheduled to be closed ASAP for overcoming of output buffer limits.");
    true
}

/// `client-output-buffer-limit replica` on what the buffer holds for a
/// replica alone (`Backlog::held_for`).
fn over_output_limit(srv: &Server, id: ClientId, pending: u64) -> bool {
    let Some(replica) = srv.repl.master_side.replicas.get(&id) else { return false };
    let mut since = replica.soft_limit_since_s.get();
    let exceeded = srv.config.client_output_buffer_limit[1].exceeded(pending, &mut since, srv.now_ms / 1000);
    replica.soft_limit_since_s.set(since);
    exceeded
}

/// Sends the snapshot: the dump file (`$<len>`), or the child's pieces
/// framed with an EOF mark.
async fn send_snapshot(stream: &mut Transport, server: &Rc<RefCell<Server>>, id: ClientId) -> bool {
    let (diskless, receiver, path) = {
        let mut srv = server.borrow_mut();
        let path = srv.config.dbfilename.clone();
        let Some(r) = srv.repl.master_side.replicas.get_mut(&id) else { return false };
        (r.diskless, r.snapshot.take(), path)
    };
    if diskless {
        let Some(receiver) = receiver else { return false };
        send_diskless(stream, receiver).await
    } else {
        send_file(stream, &path).await
    }
}

async fn send_file(stream: &mut Transport, path: &str) -> bool {
    use std::io::Read;
    let opened = std::fs::File::open(path).and_then(|f| Ok((f.metadata()?.len(), f)));
    let Ok((len, mut file)) = opened else {
        log_at!(Warning, "SYNC failed. Can't open/stat DB after BGSAVE");
        return false;
    };
    if !write_all(stream, format!("${len}\r\n").as_bytes()).await {
        return false;
    }
    let mut buf = vec![0u8; CHUNK];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => {
                if !write_all(stream, &buf[..n]).await {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
}

async fn send_diskless(stream: &mut Transport, mut receiver: mpsc::UnboundedReceiver<Chunk>) -> bool {
    let mark = super::random_id();
    if !write_all(stream, format!("$EOF:{mark}\r\n").as_bytes()).await {
        return false;
    }
    loop {
        match receiver.recv().await {
            Some(Chunk::Data(piece)) => {
                if !write_all(stream, &piece).await {
                    return false;
                }
            }
            Some(Chunk::End(true)) => return write_all(stream, mark.as_bytes()).await,
            Some(Chunk::End(false)) | None => {
                log_at!(Warning, "Diskless rdb transfer failed: the child did not complete the snapshot");
                return false;
            }
        }
    }
}

/// Reads what the replica sent: REPLCONF ACK, mostly.
fn read_acks(
    stream: &mut Transport,
    server: &Rc<RefCell<Server>>,
    client: &Rc<RefCell<Client>>,
    parser: &mut RequestParser,
    input: &mut Vec<u8>,
) -> bool {
    input.reserve(4096);
    match stream.try_read_buf(input) {
        Ok(0) => return false,
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
        Err(_) => return false,
    }
    let limits =
        cinnabar_protocol::Limits { max_bulk_len: server.borrow().config.proto_max_bulk_len, auth_required: false };
    let mut consumed = 0;
    loop {
        match parser.parse(&input[consumed..], limits) {
            Ok(Some(used)) => {
                let mut argv = Vec::new();
                parser.argv(&input[consumed..], &mut argv);
                if argv.len() >= 3 && argv[0].eq_ignore_ascii_case(b"replconf") {
                    let mut srv = server.borrow_mut();
                    srv.refresh_time();
                    let mut c = client.borrow_mut();
                    let _ = replconf(&mut srv, &mut c, &argv);
                }
                parser.reset();
                consumed += used;
            }
            Ok(None) => break,
            Err(_) => return false,
        }
    }
    input.drain(..consumed);
    true
}

async fn write_all(stream: &mut Transport, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() || stream.unflushed() {
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if stream.writable().await.is_err() {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
    true
}
