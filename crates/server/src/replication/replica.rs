//! The replica side of replication: the link to our master (REPLICAOF),
//! Redis's handshake (PING, AUTH, REPLCONF, PSYNC), the snapshot of a full
//! sync (`$<len>` or EOF-marked), and the stream the master sends, run as
//! the "master client" whose replies are never sent.
//!
//! The link is one task on the main thread. It keeps our dataset on every
//! failure and reconnects a second later, asking to continue where it was
//! (PSYNC with our replid and offset): after a restart the RDB's aux fields
//! tell where that is. What the master sends is applied command by command;
//! each command's bytes then go unchanged into our replication buffer, so
//! our own replicas see the same stream with the same offsets.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use cinnabar_protocol::{Limits, RequestParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::ClientId;
use crate::command::dispatch::{self, Outcome};
use crate::log::log_at;
use crate::server::Server;

/// How far the link got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Waiting to (re)connect.
    Connect,
    Connecting,
    Handshake,
    /// Receiving the snapshot of a full sync.
    Transfer,
    Connected,
}

impl LinkState {
    /// ROLE's name for it.
    pub fn role_name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Transfer => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// Progress of a snapshot transfer.
#[derive(Clone, Copy, Debug, Default)]
pub struct Transfer {
    /// -1 while unknown (EOF-marked transfer).
    pub total: i64,
    pub read: u64,
    pub last_io_ms: i64,
}

/// Our master and the state of the link to it.
pub struct MasterLink {
    pub host: String,
    pub port: u16,
    pub state: LinkState,
    /// Bumped by every REPLICAOF: a link task of an older epoch stops.
    pub epoch: u64,
    pub master_client: Option<ClientId>,
    /// Unix ms of the last bytes from the master.
    pub last_io_ms: i64,
    /// Unix ms since when the link is down (0: never up yet).
    pub down_since_ms: i64,
    pub transfer: Option<Transfer>,
    /// Stream bytes received, applied or not (slave_read_repl_offset).
    pub read_offset: u64,
    /// Ask the master to hand over (FAILOVER): PSYNC ... FAILOVER.
    pub failover: bool,
    /// Offsets REPLCONF GETACK asked to acknowledge, not yet sent.
    pub acks_owed: Vec<u64>,
}

impl MasterLink {
    pub fn is_connected(&self) -> bool {
        self.state == LinkState::Connected
    }
}

/// Why the link ended.
type LinkResult = Result<(), String>;

/// REPLICAOF host port: follows a new master (keeping the dataset until
/// the sync replaces it or continues it).
pub fn follow(srv: &mut Server, host: String, port: u16) {
    let was_master = srv.repl.link.is_none();
    let epoch = srv.repl.link.as_ref().map_or(0, |l| l.epoch) + 1;
    drop_master_client(srv);
    if was_master {
        // Our own history is a place to continue from (PSYNC2).
        srv.repl.psync_from_own_history = true;
    }
    // Our replicas must hear about the change of history; they reconnect.
    disconnect_replicas(srv);
    crate::log::set_role('S');
    log_at!(Notice, "Connecting to MASTER {host}:{port}");
    srv.repl.link = Some(MasterLink {
        host,
        port,
        state: LinkState::Connect,
        epoch,
        master_client: None,
        last_io_ms: 0,
        down_since_ms: srv.now_ms,
        transfer: None,
        read_offset: srv.propagation.repl_offset(),
        failover: false,
        acks_owed: Vec::new(),
    });
    if let Some(server) = srv.handle.upgrade() {
        tokio::task::spawn_local(run_link(server, epoch));
    }
}

/// REPLICAOF NO ONE: becomes a master, keeping the history as PSYNC2 says
/// (the old id stays valid up to our offset, for the other replicas).
pub fn promote(srv: &mut Server) {
    if srv.repl.link.take().is_none() {
        return;
    }
    drop_master_client(srv);
    crate::log::set_role('M');
    let offset = srv.propagation.repl_offset();
    srv.repl.shift_replid(offset);
    let size = srv.config.repl_backlog_size as u64;
    srv.propagation.start_backlog(size);
    srv.propagation.applying_master_stream = false;
    srv.propagation.reselect();
    disconnect_replicas(srv);
    log_at!(
        Notice,
        "Setting secondary replication ID to {}, valid up to offset: {}. New replication ID is {}",
        srv.repl.replid2,
        srv.repl.second_replid_offset,
        srv.repl.replid
    );
    log_at!(Notice, "MASTER MODE enabled");
}

/// REPLCONF GETACK from our master: acknowledge the offset applied so far
/// (before the GETACK itself, as Redis counts it) once the batch is done.
pub fn ack_requested(srv: &mut Server) {
    let offset = srv.propagation.repl_offset();
    if let Some(link) = srv.repl.link.as_mut() {
        link.acks_owed.push(offset);
    }
}

/// PSYNC <our replid> <offset> FAILOVER from our master: it asks us to take
/// over (the FAILOVER command). Accepted only if it follows our history.
pub fn accept_failover(srv: &mut Server, replid: &[u8]) -> Result<(), String> {
    if srv.repl.link.is_none() {
        return Err("ERR PSYNC FAILOVER can't be sent to a master.".into());
    }
    if replid != srv.repl.replid.as_bytes() {
        return Err("ERR PSYNC FAILOVER replid must match my replid.".into());
    }
    log_at!(Notice, "Failover request received for replid {}.", srv.repl.replid);
    promote(srv);
    Ok(())
}

fn disconnect_replicas(srv: &mut Server) {
    let ids: Vec<ClientId> = srv.repl.master_side.replicas.keys().copied().collect();
    for id in ids {
        if let Some(client) = srv.clients.get(&id) {
            if let Ok(mut client) = client.try_borrow_mut() {
                client.kill();
            }
        }
    }
}

fn drop_master_client(srv: &mut Server) {
    let id = srv.repl.link.as_mut().and_then(|l| l.master_client.take());
    if let Some(id) = id {
        if let Some(db) = srv.clients.get(&id).and_then(|c| c.try_borrow().ok()).map(|c| c.db) {
            srv.repl.stream_db = db;
        }
        srv.remove_client(id);
    }
}

fn current(server: &Rc<RefCell<Server>>, epoch: u64) -> bool {
    server.borrow().repl.link.as_ref().is_some_and(|l| l.epoch == epoch)
}

fn set_state(server: &Rc<RefCell<Server>>, state: LinkState) {
    if let Some(link) = server.borrow_mut().repl.link.as_mut() {
        link.state = state;
    }
}

/// The link's life: connect, sync, follow the stream; on any failure keep
/// the dataset and try again a second later.
async fn run_link(server: Rc<RefCell<Server>>, epoch: u64) {
    while current(&server, epoch) {
        let outcome = sync_and_follow(&server, epoch).await;
        if !current(&server, epoch) {
            return;
        }
        {
            let mut srv = server.borrow_mut();
            let was_up = srv.repl.link.as_ref().is_some_and(|l| l.is_connected());
            if was_up {
                srv.repl.psync_from_own_history = true;
                log_at!(Notice, "Connection with master lost.");
            }
            if let Err(reason) = &outcome {
                log_at!(Warning, "Master link: {reason}");
            }
            drop_master_client(&mut srv);
            let now = srv.now_ms;
            if let Some(link) = srv.repl.link.as_mut() {
                if was_up {
                    link.down_since_ms = now;
                }
                link.state = LinkState::Connect;
                link.transfer = None;
            }
            // A snapshot being loaded when the link broke is abandoned.
            srv.rdb.loading = None;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The byte stream to the master: a plain socket, or a TLS session on one
/// (`tls-replication yes`).
trait LinkIo: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> LinkIo for T {}

/// A connection to the master with its read buffer.
struct Conn {
    stream: Box<dyn LinkIo>,
    /// The socket's descriptor and addresses, for the master client.
    fd: i32,
    peer: String,
    local: String,
    buf: Vec<u8>,
    timeout: Duration,
}

impl Conn {
    /// Reads more bytes, failing after `repl-timeout` without any.
    async fn fill(&mut self) -> LinkResult {
        self.buf.reserve(64 * 1024);
        let read = tokio::time::timeout(self.timeout, self.stream.read_buf(&mut self.buf)).await;
        match read {
            Err(_) => Err("Timeout connecting to the MASTER...".into()),
            Ok(Ok(0)) => Err("the master closed the connection".into()),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("error reading from the master: {e}")),
        }
    }

    /// One line without its CRLF.
    async fn line(&mut self) -> Result<String, String> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                return Ok(String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_string());
            }
            self.fill().await?;
        }
    }

    async fn send(&mut self, argv: &[&[u8]]) -> LinkResult {
        let mut request = Vec::new();
        cinnabar_protocol::request::encode_command(&mut request, argv);
        let written = async {
            self.stream.write_all(&request).await?;
            // A TLS session may hold the record until flushed.
            self.stream.flush().await
        };
        written.await.map_err(|e| format!("error writing to the master: {e}"))
    }

    /// Sends a command and returns its one-line reply.
    async fn call(&mut self, argv: &[&[u8]]) -> Result<String, String> {
        self.send(argv).await?;
        self.line().await
    }
}

/// Connects to the master, over TLS with `tls-replication yes`.
async fn connect(server: &Rc<RefCell<Server>>, host: &str, port: u16, timeout: Duration) -> Result<Conn, String> {
    let tcp = TcpStream::connect((host, port)).await.map_err(|e| format!("Error condition on socket for SYNC: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let fd = std::os::fd::AsRawFd::as_raw_fd(&tcp);
    let peer = tcp.peer_addr().map(|a| crate::net::format_addr(&a)).unwrap_or_default();
    let local = tcp.local_addr().map(|a| crate::net::format_addr(&a)).unwrap_or_default();
    let config = server.borrow().config.tls_replication.then(|| server.borrow().config.clone());
    let stream: Box<dyn LinkIo> = match config {
        Some(config) => Box::new(crate::tls::connect_to_master(&config, tcp, host).await?),
        None => Box::new(tcp),
    };
    Ok(Conn { stream, fd, peer, local, buf: Vec::new(), timeout })
}

async fn sync_and_follow(server: &Rc<RefCell<Server>>, epoch: u64) -> LinkResult {
    let (host, port, timeout) = {
        let srv = server.borrow();
        let link = srv.repl.link.as_ref().ok_or("no master")?;
        (link.host.clone(), link.port, Duration::from_secs(srv.config.repl_timeout.max(1) as u64))
    };
    set_state(server, LinkState::Connecting);
    let mut conn = tokio::time::timeout(timeout, connect(server, &host, port, timeout))
        .await
        .map_err(|_| "Timeout connecting to the MASTER...".to_string())??;
    log_at!(Notice, "MASTER <-> REPLICA sync started");
    set_state(server, LinkState::Handshake);
    let reply = handshake(server, &mut conn).await?;
    if !current(server, epoch) {
        return Ok(());
    }
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC ") {
        let mut words = rest.split_whitespace();
        let replid = words.next().unwrap_or_default().to_string();
        let offset = words.next().and_then(|o| o.parse::<u64>().ok()).unwrap_or(0);
        log_at!(Notice, "Full resync from master: {replid}:{offset}");
        full_sync(server, &mut conn, replid, offset).await?;
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        continue_history(server, rest.trim());
        log_at!(Notice, "Successful partial resynchronization with master.");
    } else {
        return Err(format!("Unexpected reply to PSYNC from master: {reply}"));
    }
    follow_stream(server, conn, epoch).await
}

/// PING, AUTH, REPLCONF and PSYNC; returns the PSYNC reply line.
async fn handshake(server: &Rc<RefCell<Server>>, conn: &mut Conn) -> Result<String, String> {
    let pong = conn.call(&[b"PING"]).await?;
    let auth_errors = ["-NOAUTH", "-NOPERM", "-ERR operation not permitted"];
    if pong.starts_with('-') && !auth_errors.iter().any(|e| pong.starts_with(e)) {
        return Err(format!("Error reply to PING from master: '{pong}'"));
    }
    let (user, pass, port, ip, psync) = {
        let srv = server.borrow();
        let port = if srv.config.replica_announce_port > 0 {
            srv.config.replica_announce_port as u16
        } else {
            srv.listening_port
        };
        let psync = if srv.repl.psync_from_own_history {
            (srv.repl.replid.clone(), (srv.propagation.repl_offset() + 1).to_string())
        } else {
            ("?".to_string(), "-1".to_string())
        };
        let failover = srv.repl.link.as_ref().is_some_and(|l| l.failover);
        let psync = (psync.0, psync.1, failover);
        (
            srv.config.masteruser.clone(),
            srv.config.masterauth.clone(),
            port,
            srv.config.replica_announce_ip.clone(),
            psync,
        )
    };
    if !pass.is_empty() {
        let reply = if user.is_empty() {
            conn.call(&[b"AUTH", pass.as_bytes()]).await?
        } else {
            conn.call(&[b"AUTH", user.as_bytes(), pass.as_bytes()]).await?
        };
        if reply.starts_with('-') {
            return Err(format!("Unable to AUTH to MASTER: {reply}"));
        }
    }
    // Errors here are not fatal: old masters do not know every option.
    let port = port.to_string();
    conn.call(&[b"REPLCONF", b"listening-port", port.as_bytes()]).await?;
    if !ip.is_empty() {
        conn.call(&[b"REPLCONF", b"ip-address", ip.as_bytes()]).await?;
    }
    conn.call(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]).await?;
    let (replid, offset, failover) = psync;
    log_at!(Notice, "Trying a partial resynchronization (request {replid}:{offset}).");
    if failover {
        conn.send(&[b"PSYNC", replid.as_bytes(), offset.as_bytes(), b"FAILOVER"]).await?;
    } else {
        conn.send(&[b"PSYNC", replid.as_bytes(), offset.as_bytes()]).await?;
    }
    loop {
        // Masters send newlines while they prepare: keep-alives.
        let line = conn.line().await?;
        if !line.is_empty() {
            if failover {
                super::failover::handed_over(&mut server.borrow_mut(), !line.starts_with('-'));
            }
            return Ok(line);
        }
    }
}

/// +CONTINUE [newid]: the master's history goes on, perhaps under a new id
/// (it was promoted): ours follows, the old id staying valid up to here.
fn continue_history(server: &Rc<RefCell<Server>>, new_replid: &str) {
    let mut srv = server.borrow_mut();
    if !new_replid.is_empty() && new_replid != srv.repl.replid {
        let offset = srv.propagation.repl_offset();
        srv.repl.replid2 = std::mem::replace(&mut srv.repl.replid, new_replid.to_string());
        srv.repl.second_replid_offset = offset as i64 + 1;
        log_at!(Notice, "Master replication ID changed to {new_replid}");
        disconnect_replicas(&mut srv);
    }
    let size = srv.config.repl_backlog_size as u64;
    srv.propagation.start_backlog(size);
}

/// Receives the snapshot and replaces the dataset with it.
async fn full_sync(server: &Rc<RefCell<Server>>, conn: &mut Conn, replid: String, offset: u64) -> LinkResult {
    set_state(server, LinkState::Transfer);
    let header = loop {
        let line = conn.line().await?;
        if !line.is_empty() {
            break line;
        }
    };
    let payload = if let Some(mark) = header.strip_prefix("$EOF:") {
        receive_until_mark(server, conn, mark.as_bytes()).await?
    } else if let Some(len) = header.strip_prefix('$').and_then(|l| l.parse::<usize>().ok()) {
        receive_exactly(server, conn, len).await?
    } else {
        return Err(format!("Bad protocol from MASTER, the first byte is not '$' (we received '{header}')"));
    };
    log_at!(Notice, "MASTER <-> REPLICA sync: receiving {} bytes from master", payload.len());
    let keep_file = server.borrow().config.repl_diskless_load == "disabled";
    if keep_file {
        store_snapshot_file(server, &payload)?;
    }
    log_at!(Notice, "MASTER <-> REPLICA sync: Loading DB in memory");
    let loaded = crate::persistence::rdb::load_replicated(server, payload).await?;
    let loaded_stream_db = crate::persistence::rdb::replication_info(&loaded).map_or(0, |(_, _, db)| db);
    let mut srv = server.borrow_mut();
    crate::persistence::rdb::replace_dataset(&mut srv, loaded);
    // A new history: our replicas must sync again, from our new offsets.
    disconnect_replicas(&mut srv);
    srv.propagation.free_backlog();
    srv.propagation.set_repl_offset(offset);
    let size = srv.config.repl_backlog_size as u64;
    srv.propagation.start_backlog(size);
    srv.repl.replid = replid;
    srv.repl.clear_replid2();
    srv.repl.psync_from_own_history = true;
    srv.repl.stream_db = loaded_stream_db;
    if let Some(link) = srv.repl.link.as_mut() {
        link.transfer = None;
        link.read_offset = offset;
    }
    log_at!(Notice, "MASTER <-> REPLICA sync: Finished with success");
    Ok(())
}

fn note_transfer(server: &Rc<RefCell<Server>>, total: i64, read: u64) {
    let mut srv = server.borrow_mut();
    let now = crate::server::unix_ms();
    if let Some(link) = srv.repl.link.as_mut() {
        link.transfer = Some(Transfer { total, read, last_io_ms: now });
        link.last_io_ms = now;
    }
}

async fn receive_exactly(server: &Rc<RefCell<Server>>, conn: &mut Conn, len: usize) -> Result<Vec<u8>, String> {
    note_transfer(server, len as i64, 0);
    while conn.buf.len() < len {
        conn.fill().await?;
        note_transfer(server, len as i64, conn.buf.len().min(len) as u64);
    }
    Ok(conn.buf.drain(..len).collect())
}

async fn receive_until_mark(server: &Rc<RefCell<Server>>, conn: &mut Conn, mark: &[u8]) -> Result<Vec<u8>, String> {
    note_transfer(server, -1, 0);
    let mut payload = std::mem::take(&mut conn.buf);
    while !payload.ends_with(mark) {
        let before = payload.len();
        conn.buf = payload;
        conn.fill().await?;
        payload = std::mem::take(&mut conn.buf);
        if payload.len() > before {
            note_transfer(server, -1, payload.len() as u64);
        }
    }
    payload.truncate(payload.len() - mark.len());
    Ok(payload)
}

/// `repl-diskless-load disabled`: the snapshot becomes our dump file, as
/// Redis writes it (a restart then loads it and resumes from its aux fields).
fn store_snapshot_file(server: &Rc<RefCell<Server>>, payload: &[u8]) -> LinkResult {
    let path = server.borrow().config.dbfilename.clone();
    let tmp = format!("temp-{}.{}.rdb", crate::server::unix_ms() / 1000, std::process::id());
    let written = std::fs::write(&tmp, payload)
        .and_then(|_| std::fs::File::open(&tmp)?.sync_all())
        .and_then(|_| std::fs::rename(&tmp, &path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("Failed trying to rename the temp DB into {path} in MASTER <-> REPLICA synchronization: {e}")
    })
}

/// Applies the master's stream until the link fails or another REPLICAOF
/// replaces it; acknowledges the offset every second and when asked.
async fn follow_stream(server: &Rc<RefCell<Server>>, mut conn: Conn, epoch: u64) -> LinkResult {
    let master = {
        let mut srv = server.borrow_mut();
        let client = srv.add_client(conn.peer.clone(), conn.local.clone(), conn.fd);
        {
            let mut c = client.borrow_mut();
            c.is_master = true;
            c.authenticated = true;
            c.user = None;
            c.db = srv.repl.stream_db;
        }
        let now = srv.now_ms;
        let id = client.borrow().id;
        if let Some(link) = srv.repl.link.as_mut() {
            link.state = LinkState::Connected;
            link.master_client = Some(id);
            link.last_io_ms = now;
            link.down_since_ms = 0;
        }
        client
    };
    let mut parser = RequestParser::new();
    let mut input = std::mem::take(&mut conn.buf);
    let mut ack_timer = tokio::time::interval(Duration::from_secs(1));
    let wake = master.borrow().wake.clone();
    let mut last_read = std::time::Instant::now();
    loop {
        if !current(server, epoch) || master.borrow().close_asap {
            return Ok(());
        }
        let acks = apply_stream(server, &master, &mut parser, &mut input);
        for offset in acks {
            send_ack_on(&mut conn, offset).await?;
        }
        // Room for a large read: the stream comes in big batches.
        input.reserve(crate::net::READ_CHUNK);
        tokio::select! {
            read = conn.stream.read_buf(&mut input) => {
                match read {
                    Ok(0) => return Err("the master closed the connection".into()),
                    Err(e) => return Err(format!("error reading from the master: {e}")),
                    Ok(n) => {
                        last_read = std::time::Instant::now();
                        let mut srv = server.borrow_mut();
                        srv.stats.net_repl_input_bytes += n as u64;
                        let now = crate::server::unix_ms();
                        if let Some(link) = srv.repl.link.as_mut() {
                            link.read_offset += n as u64;
                            link.last_io_ms = now;
                        }
                    }
                }
            }
            _ = ack_timer.tick() => {
                if last_read.elapsed() > conn.timeout {
                    return Err("MASTER timeout: no data nor PING received...".into());
                }
                let offset = server.borrow().propagation.repl_offset();
                send_ack_on(&mut conn, offset).await?;
            }
            _ = wake.notified() => {}
        }
    }
}

/// Runs every complete command in `input` as the master client; returns the
/// offsets its REPLCONF GETACKs asked to acknowledge.
fn apply_stream(
    server: &Rc<RefCell<Server>>,
    master: &Rc<RefCell<crate::client::Client>>,
    parser: &mut RequestParser,
    input: &mut Vec<u8>,
) -> Vec<u64> {
    let mut srv = server.borrow_mut();
    let mut client = master.borrow_mut();
    let limits = Limits { max_bulk_len: srv.config.proto_max_bulk_len, auth_required: false };
    let mut consumed = 0;
    let mut spare_argv: Vec<&'static [u8]> = Vec::new();
    while consumed < input.len() {
        let used = match parser.parse(&input[consumed..], limits) {
            Ok(Some(used)) => used,
            Ok(None) => break,
            Err(e) => {
                log_at!(Warning, "Protocol error from the master: {}", e.message());
                client.close_asap = true;
                break;
            }
        };
        let mut argv = crate::net::recycle(std::mem::take(&mut spare_argv));
        parser.argv(&input[consumed..], &mut argv);
        if !argv.is_empty() {
            srv.propagation.applying_master_stream = true;
            let outcome = dispatch::execute(&mut srv, &mut client, &argv);
            srv.propagation.applying_master_stream = false;
            if outcome == Outcome::Postponed {
                // CLIENT PAUSE holds the master too (as in Redis 7.0).
                break;
            }
        }
        client.reply.truncate(0);
        spare_argv = crate::net::recycle(argv);
        parser.reset();
        srv.propagation.feed_from_master(&input[consumed..consumed + used]);
        consumed += used;
    }
    input.drain(..consumed);
    srv.repl.link.as_mut().map(|l| std::mem::take(&mut l.acks_owed)).unwrap_or_default()
}

async fn send_ack_on(conn: &mut Conn, offset: u64) -> LinkResult {
    let offset = offset.to_string();
    conn.send(&[b"REPLCONF", b"ACK", offset.as_bytes()]).await
}

/// INFO replication's replica part (after `role:slave`).
pub fn info_lines(srv: &Server, link: &MasterLink, out: &mut String) {
    use std::fmt::Write;
    let now_ms = srv.now_ms;
    let last_io = if link.master_client.is_some() { (now_ms - link.last_io_ms) / 1000 } else { -1 };
    let offset = srv.propagation.repl_offset();
    let _ = write!(
        out,
        "master_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{}\r\n\
         master_sync_in_progress:{}\r\nslave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\n",
        link.host,
        link.port,
        if link.is_connected() { "up" } else { "down" },
        last_io,
        u8::from(link.state == LinkState::Transfer),
        link.read_offset.max(offset),
        offset
    );
    if let (LinkState::Transfer, Some(t)) = (link.state, link.transfer) {
        let perc = if t.total > 0 { t.read as f64 / t.total as f64 * 100.0 } else { 0.0 };
        let _ = write!(
            out,
            "master_sync_total_bytes:{}\r\nmaster_sync_read_bytes:{}\r\nmaster_sync_left_bytes:{}\r\n\
             master_sync_perc:{:.2}\r\nmaster_sync_last_io_seconds_ago:{}\r\n",
            t.total,
            t.read,
            t.total - t.read as i64,
            perc,
            (now_ms - t.last_io_ms) / 1000
        );
    }
    if !link.is_connected() {
        let down = if link.down_since_ms > 0 { (now_ms - link.down_since_ms) / 1000 } else { -1 };
        let _ = write!(out, "master_link_down_since_seconds:{down}\r\n");
    }
    let _ = write!(
        out,
        "slave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:{}\r\n",
        srv.config.replica_priority,
        u8::from(srv.config.replica_read_only),
        u8::from(srv.config.replica_announced)
    );
}
