//! Networking on the main thread: listeners (bind; maxclients, protected mode
//! and TCP keepalive at accept) and one task per connection that reads, parses
//! every complete request in its buffer, runs each to completion, and writes
//! the replies. A request held by CLIENT PAUSE stays in the buffer, and the
//! task stops reading until the pause ends. A client blocked on keys (BLPOP)
//! keeps reading, to notice a disconnection, but runs nothing until it is
//! served (woken), times out (its timer) or is unblocked.
//!
//! No borrow of the server is held across an `.await`: a task borrows the
//! server only between reading and writing.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::Arc;

use cinnabar_protocol::{Limits, RequestParser};
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Notify;

use crate::client::{quoted_repr, Client};
use crate::command::dispatch::{self, Outcome};
use crate::log::log_at;
use crate::server::Server;
use crate::tls::TlsConn;

/// Bytes read from a socket at a time (Redis's PROTO_IOBUF_LEN).
pub const READ_CHUNK: usize = 16 * 1024;

/// Opens a listener for each `bind` address. An address prefixed with `-` is
/// optional: it is skipped if unavailable on this host.
pub fn bind_all(bind: &str, port: u16, backlog: u32) -> std::io::Result<Vec<TcpListener>> {
    let mut listeners = Vec::new();
    for word in bind.split_whitespace() {
        let (optional, addr) = match word.strip_prefix('-') {
            Some(a) => (true, a),
            None => (false, word),
        };
        let addr = if addr == "*" { "0.0.0.0" } else { addr };
        let ip: std::net::IpAddr = match addr.parse() {
            Ok(ip) => ip,
            Err(_) if optional => continue,
            Err(e) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)),
        };
        let sock_addr = SocketAddr::new(ip, port);
        let socket = if ip.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        socket.set_reuseaddr(true)?;
        let bound = socket.bind(sock_addr).and_then(|_| socket.listen(backlog));
        match bound {
            Ok(listener) => listeners.push(listener),
            Err(e) if optional && matches!(e.raw_os_error(), Some(libc::EADDRNOTAVAIL) | Some(libc::EAFNOSUPPORT)) => {
                log_at!(Warning, "Warning: Could not create server TCP listening socket {}:{}: {}", addr, port, e);
            }
            Err(e) => {
                log_at!(
                    Warning,
                    "Warning: Could not create server TCP listening socket {}:{}: bind: {}",
                    addr,
                    port,
                    e
                );
                return Err(e);
            }
        }
    }
    Ok(listeners)
}

/// Accepts connections forever, refusing them past `maxclients`; on a TLS
/// listener, each connection's task starts with the TLS handshake under the
/// server's current TLS context.
pub async fn accept_loop(listener: TcpListener, server: Rc<RefCell<Server>>, tls: bool) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                log_at!(Warning, "Accepting client connection: {}", e);
                continue;
            }
        };
        let local = stream.local_addr().map(|a| format_addr(&a)).unwrap_or_default();
        let _ = stream.set_nodelay(true);
        let registered = register(&mut server.borrow_mut(), stream.as_raw_fd(), &peer, local);
        let client = match registered {
            Ok(client) => client,
            Err(refusal) => {
                // Best effort, as Redis: the connection closes either way.
                let _ = stream.try_write(refusal);
                continue;
            }
        };
        log_at!(Verbose, "Accepted {}", format_addr(&peer));
        let context = if tls { server.borrow().tls_context.clone() } else { None };
        match context {
            None => tokio::task::spawn_local(serve(Transport::Plain(stream), server.clone(), client)),
            Some(config) => {
                client.borrow_mut().tls = true;
                tokio::task::spawn_local(serve_tls(stream, config, server.clone(), client))
            }
        };
    }
}

/// The life of a TLS connection: the handshake, then the requests. A failed
/// handshake (a plain-text client, an unknown certificate) closes it.
async fn serve_tls(
    stream: TcpStream,
    config: Arc<ServerConfig>,
    server: Rc<RefCell<Server>>,
    client: Rc<RefCell<Client>>,
) {
    match TlsConn::accept(stream, config).await {
        Ok(conn) => serve(Transport::Tls(Box::new(conn)), server, client).await,
        Err(e) => {
            log_at!(Verbose, "Error accepting a client connection: {}", e);
            let id = client.borrow().id;
            server.borrow_mut().remove_client(id);
        }
    }
}

/// A client connection's byte stream: a plain socket, or a TLS session on
/// one; both are read and written on the socket's readiness.
pub enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsConn>),
}

impl Transport {
    pub(crate) async fn readable(&self) -> std::io::Result<()> {
        match self {
            Transport::Plain(s) => s.readable().await,
            Transport::Tls(t) => t.readable().await,
        }
    }

    pub(crate) fn try_read_buf(&mut self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
        match self {
            Transport::Plain(s) => read_plain(s, buf),
            Transport::Tls(t) => t.try_read_buf(buf),
        }
    }

    pub(crate) async fn writable(&self) -> std::io::Result<()> {
        match self {
            Transport::Plain(s) => s.writable().await,
            Transport::Tls(t) => t.writable().await,
        }
    }

    pub(crate) fn try_write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Transport::Plain(s) => s.try_write(buf),
            Transport::Tls(t) => t.try_write(buf),
        }
    }

    /// Bytes accepted by `try_write` still wait to reach the socket.
    pub(crate) fn unflushed(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(t) => t.unflushed(),
        }
    }
}

/// Reads what the socket holds into `buf`'s spare capacity, once.
///
/// A read that returns less than the room it was given drained the socket,
/// so the readiness tokio keeps for it is cleared at once (by answering
/// `WouldBlock` inside `try_io`, which clears it only if no new data was
/// signalled meanwhile). Otherwise the connection task would wake straight
/// away for one more read that fails with EAGAIN: a wasted system call per
/// request, which is what `TcpStream::try_read_buf` costs an unpipelined
/// client (Redis reads once per readable event).
fn read_plain(stream: &TcpStream, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let fd = stream.as_raw_fd();
    let mut got = 0;
    let result = stream.try_io(tokio::io::Interest::READABLE, || {
        let room = buf.spare_capacity_mut();
        let room_len = room.len();
        // SAFETY: `room` is writable memory of `room_len` bytes owned by `buf`.
        let n = unsafe { libc::recv(fd, room.as_mut_ptr().cast(), room_len, 0) };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let n = n as usize;
        // SAFETY: recv initialised the first `n` bytes of the spare capacity.
        unsafe { buf.set_len(buf.len() + n) };
        got = n;
        if n > 0 && n < room_len {
            Err(std::io::ErrorKind::WouldBlock.into())
        } else {
            Ok(n)
        }
    });
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && got > 0 => Ok(got),
        other => other,
    }
}

/// Admits an accepted connection: refuses it past maxclients or by
/// protected mode (returning what to tell the peer), else sets keepalive and
/// registers its client.
pub fn register(
    srv: &mut Server,
    fd: i32,
    peer: &SocketAddr,
    local: String,
) -> Result<Rc<RefCell<Client>>, &'static [u8]> {
    if let Some(refusal) = refusal(srv, peer) {
        srv.stats.rejected_connections += 1;
        return Err(refusal);
    }
    if srv.config.tcp_keepalive > 0 {
        set_keepalive(fd, srv.config.tcp_keepalive as i32);
    }
    Ok(srv.add_client(format_addr(peer), local, fd))
}

/// Starts the connection tasks of clients accepted while a busy script ran
/// (see `scripting::busy`), now that tasks can run again.
fn spawn_accepted_while_busy(srv: &mut Server, server: &Rc<RefCell<Server>>) {
    for (stream, client) in std::mem::take(&mut srv.scripting.accepted_while_busy) {
        match TcpStream::from_std(stream) {
            Ok(stream) => {
                tokio::task::spawn_local(serve(Transport::Plain(stream), server.clone(), client));
            }
            Err(e) => {
                log_at!(Verbose, "Accepting client connection: {}", e);
                let id = client.borrow().id;
                srv.remove_client(id);
            }
        }
    }
}

const MAX_CLIENTS_REACHED: &[u8] = b"-ERR max number of clients reached\r\n";

/// Redis 7.0's answer to a non-loopback peer in protected mode.
const PROTECTED_MODE_DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled \
and no password is set for the default user. In this mode connections are only accepted from the loopback \
interface. If you want to connect from external computers to Redis you may adopt one of the following \
solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback \
interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not \
publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) \
Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the \
protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for \
testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the \
default user. NOTE: You only need to do one of the above things in order for the server to start accepting \
connections from the outside.\r\n";

/// Why a new connection is refused, if it is: maxclients, then protected
/// mode. Redis 7.0 applies protected mode whatever `bind` says, whenever the
/// default user has no password, to every peer but 127.0.0.1 and ::1.
fn refusal(srv: &Server, peer: &SocketAddr) -> Option<&'static [u8]> {
    if srv.clients.len() as i64 >= srv.config.maxclients {
        return Some(MAX_CLIENTS_REACHED);
    }
    let loopback = match peer.ip() {
        std::net::IpAddr::V4(ip) => ip == std::net::Ipv4Addr::LOCALHOST,
        std::net::IpAddr::V6(ip) => ip == std::net::Ipv6Addr::LOCALHOST,
    };
    if srv.config.protected_mode && !srv.auth_required_by_default() && !loopback {
        return Some(PROTECTED_MODE_DENIED);
    }
    None
}

/// Turns on TCP keepalive probes like Redis's `anetKeepAlive`: first probe
/// after `interval` idle seconds, then every `interval / 3`, three probes.
/// Failures are ignored: keepalive is an optimisation of dead-peer detection.
fn set_keepalive(fd: i32, interval: i32) {
    let set = |level: i32, name: i32, value: i32| {
        // SAFETY: fd is an open socket owned by the caller; value outlives the call.
        unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                (&value as *const i32).cast(),
                std::mem::size_of::<i32>() as libc::socklen_t,
            )
        }
    };
    set(libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, interval);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, (interval / 3).max(1));
    set(libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 3);
}

/// `ip:port`, with IPv6 addresses unbracketed as Redis prints them.
pub fn format_addr(a: &SocketAddr) -> String {
    format!("{}:{}", a.ip(), a.port())
}

/// A connection task's wake-up signal (`Client::wake`), waited on through one
/// registration that lives until it fires: making and dropping a `Notified`
/// at every wait cost more than the rest of an unpipelined request's wait.
struct Wakeup<'a> {
    notify: &'a Notify,
    pending: std::pin::Pin<Box<tokio::sync::futures::Notified<'a>>>,
}

impl<'a> Wakeup<'a> {
    fn new(notify: &'a Notify) -> Wakeup<'a> {
        Wakeup { notify, pending: Box::pin(notify.notified()) }
    }

    /// Waits for the next notification. Cancel-safe: a wait abandoned by a
    /// `select!` keeps its registration for the next one.
    async fn wait(&mut self) {
        self.pending.as_mut().await;
        self.pending.set(self.notify.notified());
    }
}

/// The life of one connection.
async fn serve(mut stream: Transport, server: Rc<RefCell<Server>>, client: Rc<RefCell<Client>>) {
    let (id, wake) = {
        let c = client.borrow();
        (c.id, c.wake.clone())
    };
    let mut woken = Wakeup::new(&wake);
    let mut input: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut parser = RequestParser::new();
    let mut spare: Vec<u8> = Vec::new();
    'conn: loop {
        let (postponed, blocked, has_output) = {
            let c = client.borrow();
            (c.postponed, c.blocked, !c.reply.is_empty())
        };
        if has_output {
            // Others wrote to this client (pub/sub, a served BLPOP) while
            // its task was writing: send that before waiting again.
        } else if postponed {
            wait_for_unpause(&server, &mut woken).await;
        } else if blocked {
            let deadline = server.borrow().blocking.deadline_of(id);
            tokio::select! {
                biased;
                _ = woken.wait() => {}
                _ = sleep_until_unix_ms(deadline) => {}
                ready = stream.readable() => {
                    if ready.is_err() || !read_available(&mut stream, &mut input, &server, &client) {
                        break 'conn;
                    }
                }
            }
        } else {
            tokio::select! {
                biased;
                _ = woken.wait() => {}
                ready = stream.readable() => {
                    if ready.is_err() || !read_available(&mut stream, &mut input, &server, &client) {
                        break 'conn;
                    }
                }
            }
        }
        let (output, close_after, aof_target) = {
            let mut srv = server.borrow_mut();
            let mut c = client.borrow_mut();
            if c.close_asap {
                break 'conn;
            }
            if !c.pending_input.is_empty() {
                // Read for us while a busy script ran (scripting::busy).
                input.append(&mut c.pending_input);
            }
            if c.blocked {
                srv.refresh_time();
                crate::blocking::expire_if_due(&mut srv, &mut c);
            }
            process_input(&mut srv, &mut c, &mut parser, &mut input);
            // BCAST invalidations of this batch of input (Redis's beforeSleep).
            crate::tracking::broadcast(&mut srv, Some(&mut c));
            c.enforce_output_limit(&srv);
            if !srv.scripting.accepted_while_busy.is_empty() {
                spawn_accepted_while_busy(&mut srv, &server);
            }
            if c.close_asap {
                break 'conn;
            }
            if c.is_replica {
                drop(c);
                drop(srv);
                let task = crate::replication::master::feed_replica(stream, server.clone(), client.clone(), input);
                tokio::task::spawn_local(task);
                return;
            }
            let out = c.reply.take();
            c.output_in_flight = out.len();
            c.reply.restore_capacity(std::mem::take(&mut spare));
            srv.stats.net_output_bytes += out.len() as u64;
            if !out.is_empty() {
                srv.stats.total_writes_processed += 1;
            }
            (out, c.close_after_reply, srv.aof.appended())
        };
        if !output.is_empty() {
            // No reply leaves before the writes that preceded it reached the AOF.
            crate::persistence::aof::wait_flushed(&server, aof_target).await;
            if !write_output(&mut stream, &output, &client, &mut woken).await {
                break 'conn;
            }
        }
        spare = output;
        if close_after {
            break 'conn;
        }
    }
    server.borrow_mut().remove_client(id);
}

/// Writes `output` to the socket, keeping the client's `output_in_flight`
/// current. False if the connection is over: writing failed, or the client
/// was closed meanwhile (its output buffer limit, CLIENT KILL), which must
/// not wait for a peer that may never read.
async fn write_output(stream: &mut Transport, output: &[u8], client: &RefCell<Client>, woken: &mut Wakeup<'_>) -> bool {
    let mut written = 0;
    loop {
        // Write at once: a socket almost always has room, and waiting for
        // its readiness first costs more than the write itself.
        if !write_some(stream, output, &mut written, client) {
            return false;
        }
        if written == output.len() && !stream.unflushed() {
            return true;
        }
        tokio::select! {
            biased;
            ready = stream.writable() => {
                if ready.is_err() {
                    return false;
                }
            }
            // New output is noticed after this write (the loop checks the
            // reply buffer before waiting); only a kill matters here.
            _ = woken.wait() => {
                if client.borrow().close_asap {
                    return false;
                }
            }
        }
    }
}

/// Writes what the socket takes of `output[*written..]`. False if writing
/// failed (logged).
fn write_some(stream: &mut Transport, output: &[u8], written: &mut usize, client: &RefCell<Client>) -> bool {
    match stream.try_write(&output[*written..]) {
        Ok(n) => {
            *written += n;
            client.borrow_mut().output_in_flight = output.len() - *written;
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => true,
        Err(e) => {
            log_at!(Verbose, "Error writing to client: {}", e);
            false
        }
    }
}

/// Appends what the socket has to `input`. False once the connection is over
/// (the peer closed it, or reading failed), which is logged as Redis does.
fn read_available(
    stream: &mut Transport,
    input: &mut Vec<u8>,
    server: &RefCell<Server>,
    client: &RefCell<Client>,
) -> bool {
    input.reserve(READ_CHUNK);
    match stream.try_read_buf(input) {
        Ok(0) => {
            if crate::log::enabled(crate::log::Level::Verbose) {
                let srv = server.borrow();
                let info = client.borrow().info_line(&srv, 0);
                log_at!(Verbose, "Client closed connection {}", info);
            }
            false
        }
        Ok(n) => {
            let stats = &mut server.borrow_mut().stats;
            stats.net_input_bytes += n as u64;
            stats.total_reads_processed += 1;
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => true,
        Err(e) => {
            log_at!(Verbose, "Reading from client: {}", e);
            false
        }
    }
}

/// Sleeps until the client pause ends (or is lifted, or the client is woken).
async fn wait_for_unpause(server: &Rc<RefCell<Server>>, woken: &mut Wakeup<'_>) {
    let (end_ms, lifted) = {
        let srv = server.borrow();
        (srv.client_pause.end_ms, srv.client_pause_lifted.clone())
    };
    let remaining = (end_ms - crate::server::unix_ms() + 1).max(0) as u64;
    tokio::select! {
        _ = woken.wait() => {}
        _ = lifted.notified() => {}
        _ = tokio::time::sleep(std::time::Duration::from_millis(remaining)) => {}
    }
}

/// Sleeps until a unix time in milliseconds (just past it, so the deadline
/// has passed when the task wakes), or forever for None.
async fn sleep_until_unix_ms(deadline: Option<i64>) {
    match deadline {
        Some(ms) => {
            let remaining = (ms - crate::server::unix_ms() + 1).max(0) as u64;
            tokio::time::sleep(std::time::Duration::from_millis(remaining)).await
        }
        None => std::future::pending().await,
    }
}

/// Parses and runs every complete request in `input`, then drops the bytes
/// consumed. A protocol error answers and marks the client to close.
fn process_input(srv: &mut Server, client: &mut Client, parser: &mut RequestParser, input: &mut Vec<u8>) {
    let mut offset = 0;
    let mut spare_argv: Vec<&'static [u8]> = Vec::new();
    // After PSYNC the connection belongs to the replication link: what
    // follows in the buffer is for it.
    while !client.close_after_reply
        && !client.close_asap
        && !client.blocked
        && !client.is_replica
        && offset < input.len()
    {
        let auth_required = !client.authenticated && srv.auth_required_by_default();
        let limits = Limits { max_bulk_len: srv.config.proto_max_bulk_len, auth_required };
        match parser.parse(&input[offset..], limits) {
            Ok(Some(consumed)) => {
                let mut argv = recycle(std::mem::take(&mut spare_argv));
                parser.argv(&input[offset..], &mut argv);
                client.query_buffer_len = input.len() - offset;
                let outcome = if argv.is_empty() { Outcome::Done } else { dispatch::execute(srv, client, &argv) };
                spare_argv = recycle(argv);
                parser.reset();
                if outcome == Outcome::Postponed {
                    break;
                }
                offset += consumed;
            }
            Ok(None) => break,
            Err(e) => {
                client.query_buffer_len = input.len() - offset;
                log_at!(
                    Verbose,
                    "Protocol error ({}) from client: {}. {}",
                    e.log_reason(),
                    client.info_line(srv, 0),
                    protocol_error_sample(&input[offset..])
                );
                client.reply.error(&format!("ERR {}", e.message()));
                srv.stats.record_error("ERR");
                client.close_after_reply = true;
                offset = input.len();
            }
        }
    }
    input.drain(..offset);
    client.query_buffer_len = input.len();
    client.query_buffer_free = input.capacity() - input.len();
    if input.len() as i64 > srv.config.client_query_buffer_limit {
        log_at!(
            Warning,
            "Closing client that reached max query buffer length: {} (qbuf initial bytes: {})",
            client.info_line(srv, 0),
            quoted_repr(&input[..input.len().min(64)])
        );
        client.close_asap = true;
    }
}

/// What Redis logs of the query buffer on a protocol error: all of it when
/// short, else both ends, with non-printable bytes shown as dots.
fn protocol_error_sample(pending: &[u8]) -> String {
    const DUMP: usize = 128;
    let text =
        |b: &[u8]| -> String { b.iter().map(|&c| if (0x20..0x7f).contains(&c) { c as char } else { '.' }).collect() };
    let sample = if pending.len() < DUMP {
        format!("Query buffer during protocol error: '{}'", text(pending))
    } else {
        format!(
            "Query buffer during protocol error: '{}' (... more {} bytes ...) '{}'",
            text(&pending[..DUMP / 2]),
            pending.len() - DUMP,
            text(&pending[pending.len() - DUMP / 2..])
        )
    };
    sample.chars().take(255).collect()
}

/// Empties an argument vector and reuses its allocation under a new lifetime,
/// so the request loop allocates no vector per command.
pub(crate) fn recycle<'b>(mut v: Vec<&[u8]>) -> Vec<&'b [u8]> {
    v.clear();
    v.into_iter().map(|_| unreachable!("the vector is empty")).collect()
}

#[cfg(test)]
mod tests {
    use super::set_keepalive;
    use std::os::fd::AsRawFd;

    fn get(fd: i32, level: i32, name: i32) -> i32 {
        let mut value: i32 = 0;
        let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
        // SAFETY: fd is an open socket; value and len are valid for the call.
        let rc = unsafe { libc::getsockopt(fd, level, name, (&mut value as *mut i32).cast(), &mut len) };
        assert_eq!(rc, 0);
        value
    }

    #[test]
    fn keepalive_is_configured_like_redis() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let fd = stream.as_raw_fd();
        set_keepalive(fd, 300);
        assert_eq!(get(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 1);
        assert_eq!(get(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE), 300);
        assert_eq!(get(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL), 100);
        assert_eq!(get(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT), 3);
        set_keepalive(fd, 2);
        assert_eq!(get(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL), 1);
    }
}
