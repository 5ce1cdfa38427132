//! Networking on the main thread: listeners (bind, maxclients at accept) and
//! one task per connection that reads, parses every complete request in its
//! buffer, runs each to completion, and writes the replies.
//!
//! No borrow of the server is held across an `.await`: a task borrows the
//! server only between reading and writing.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use cinnabar_protocol::{Limits, RequestParser};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::client::Client;
use crate::command::dispatch;
use crate::log::log_at;
use crate::server::Server;

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

/// Accepts connections forever, refusing them past `maxclients`.
pub async fn accept_loop(listener: TcpListener, server: Rc<RefCell<Server>>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                log_at!(Warning, "Accepting client connection: {}", e);
                continue;
            }
        };
        let local = stream.local_addr().map(|a| format_addr(&a)).unwrap_or_default();
        let client = {
            let mut srv = server.borrow_mut();
            if srv.clients.len() as i64 >= srv.config.maxclients {
                srv.stats.rejected_connections += 1;
                drop(srv);
                let _ = stream.try_write(b"-ERR max number of clients reached\r\n");
                continue;
            }
            let _ = stream.set_nodelay(true);
            srv.add_client(format_addr(&peer), local, stream.as_raw_fd())
        };
        log_at!(Verbose, "Accepted {}", format_addr(&peer));
        tokio::task::spawn_local(serve(stream, server.clone(), client));
    }
}

/// `ip:port`, with IPv6 addresses unbracketed as Redis prints them.
fn format_addr(a: &SocketAddr) -> String {
    format!("{}:{}", a.ip(), a.port())
}

/// The life of one connection.
async fn serve(mut stream: TcpStream, server: Rc<RefCell<Server>>, client: Rc<RefCell<Client>>) {
    let (id, wake) = {
        let c = client.borrow();
        (c.id, c.wake.clone())
    };
    let mut input: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut parser = RequestParser::new();
    let mut spare: Vec<u8> = Vec::new();
    'conn: loop {
        tokio::select! {
            biased;
            _ = wake.notified() => {}
            ready = stream.readable() => {
                if ready.is_err() {
                    break 'conn;
                }
                input.reserve(READ_CHUNK);
                match stream.try_read_buf(&mut input) {
                    Ok(0) => break 'conn,
                    Ok(n) => {
                        let stats = &mut server.borrow_mut().stats;
                        stats.net_input_bytes += n as u64;
                        stats.total_reads_processed += 1;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue 'conn,
                    Err(_) => break 'conn,
                }
            }
        }
        let (output, close_after) = {
            let mut srv = server.borrow_mut();
            let mut c = client.borrow_mut();
            if c.close_asap {
                break 'conn;
            }
            process_input(&mut srv, &mut c, &mut parser, &mut input);
            if c.close_asap {
                break 'conn;
            }
            let out = c.reply.take();
            c.reply.restore_capacity(std::mem::take(&mut spare));
            srv.stats.net_output_bytes += out.len() as u64;
            if !out.is_empty() {
                srv.stats.total_writes_processed += 1;
            }
            (out, c.close_after_reply)
        };
        if !output.is_empty() && stream.write_all(&output).await.is_err() {
            break 'conn;
        }
        spare = output;
        if close_after {
            break 'conn;
        }
    }
    server.borrow_mut().remove_client(id);
}

/// Parses and runs every complete request in `input`, then drops the bytes
/// consumed. A protocol error answers and marks the client to close.
fn process_input(srv: &mut Server, client: &mut Client, parser: &mut RequestParser, input: &mut Vec<u8>) {
    let mut offset = 0;
    let mut spare_argv: Vec<&'static [u8]> = Vec::new();
    while !client.close_after_reply && !client.close_asap && offset < input.len() {
        let limits = Limits { max_bulk_len: srv.config.proto_max_bulk_len, auth_required: !client.authenticated };
        match parser.parse(&input[offset..], limits) {
            Ok(Some(consumed)) => {
                let mut argv = recycle(std::mem::take(&mut spare_argv));
                parser.argv(&input[offset..], &mut argv);
                if !argv.is_empty() {
                    dispatch::execute(srv, client, &argv);
                }
                spare_argv = recycle(argv);
                parser.reset();
                offset += consumed;
            }
            Ok(None) => break,
            Err(e) => {
                log_at!(
                    Verbose,
                    "Protocol error ({}) from client: id={} addr={}",
                    e.log_reason(),
                    client.id,
                    client.addr
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
    if input.len() as i64 > srv.config.client_query_buffer_limit {
        log_at!(
            Warning,
            "Closing client that reached max query buffer length: id={} addr={} qbuf={} (qbuf initial bytes: {:?})",
            client.id,
            client.addr,
            input.len(),
            String::from_utf8_lossy(&input[..input.len().min(64)])
        );
        client.close_asap = true;
    }
}

/// Empties an argument vector and reuses its allocation under a new lifetime,
/// so the request loop allocates no vector per command.
fn recycle<'b>(mut v: Vec<&[u8]>) -> Vec<&'b [u8]> {
    v.clear();
    v.into_iter().map(|_| unreachable!("the vector is empty")).collect()
}
