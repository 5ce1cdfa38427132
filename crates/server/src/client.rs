//! A connected client's state: identity, selected database, protocol version,
//! pending output, and the flags that control its connection.
//!
//! The state lives in the server's client registry so commands can see and act
//! on other clients (CLIENT LIST/KILL, and later pub/sub and blocking pops that
//! write into another client's output); the connection task only moves bytes.

use std::rc::Rc;

use cinnabar_protocol::{Reply, RespVersion};
use tokio::sync::Notify;

use crate::log::log_at;

pub type ClientId = u64;

/// CLIENT REPLY mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    SkipNext,
    /// Skipping the reply of the command being executed now.
    Skipping,
}

pub struct Client {
    pub id: ClientId,
    /// `ip:port` of the peer, as CLIENT LIST prints it.
    pub addr: String,
    /// `ip:port` of our end of the connection.
    pub laddr: String,
    pub fd: i32,
    /// The connection is TLS: its socket must not be read or written raw
    /// (as a busy script's loop does), only through its session.
    pub tls: bool,
    pub name: Option<Vec<u8>>,
    pub lib_name: Option<Vec<u8>>,
    pub lib_ver: Option<Vec<u8>>,
    pub db: usize,
    pub reply: Reply,
    pub reply_mode: ReplyMode,
    pub authenticated: bool,
    /// The ACL user its commands are checked against; None for internal
    /// clients, which may run anything (as in Redis).
    pub user: Option<crate::acl::UserRef>,
    /// Creation time and last command time, unix milliseconds.
    pub created_ms: i64,
    pub last_interaction_ms: i64,
    /// The last command run (CLIENT LIST `cmd=`).
    pub last_command_id: Option<crate::command::CommandId>,
    /// Bytes waiting in the query buffer, as of the last read.
    pub query_buffer_len: usize,
    /// Close once pending output is written (QUIT, protocol errors).
    pub close_after_reply: bool,
    /// Close now, discarding output (CLIENT KILL, timeouts, limits).
    pub close_asap: bool,
    /// Wakes the connection task when someone else changed this client.
    pub wake: Rc<Notify>,
    /// In MONITOR mode: receives every command others run.
    pub monitor: bool,
    /// CLIENT NO-EVICT ON.
    pub no_evict: bool,
    /// Its next command waits for CLIENT PAUSE to end (shown as blocked).
    pub postponed: bool,
    /// Waiting on keys (BLPOP...; the details are in `Server::blocking`): its
    /// further input waits until it is served, times out or is unblocked.
    pub blocked: bool,
    /// Spare capacity of the query buffer, as of the last read.
    pub query_buffer_free: usize,
    /// Channels, patterns and shard channels it listens to (subscribed mode
    /// while any).
    pub subscriptions: crate::pubsub::Subscriptions,
    /// Output taken from `reply` by the connection task and not yet written
    /// to the socket: still pending output for limits and CLIENT LIST.
    pub output_in_flight: usize,
    /// When pending output first went past the soft limit (unix seconds),
    /// while it stays past it.
    pub soft_limit_since_s: Option<i64>,
    /// Pub/Sub pushes to this client made by its own command while CLIENT
    /// REPLY OFF/SKIP silences that command: they survive the silencing
    /// (Redis's CLIENT_PUSHING) and are appended once the command ends.
    pub silenced_pushes: Vec<u8>,
    /// Between MULTI and EXEC/DISCARD: the commands queued so far.
    pub multi: Option<Transaction>,
    /// Bytes read from the socket while a busy script ran (see
    /// `scripting::busy`): they follow the connection task's own buffer.
    pub pending_input: Vec<u8>,
    /// A replica of ours (after SYNC/PSYNC): fed by `replication::master`.
    pub is_replica: bool,
    /// Our master's connection (replica side): runs the replication stream.
    pub is_master: bool,
    /// The internal client replaying the AOF at start-up (DEBUG LOADAOF):
    /// like the master link, obeyed without the checks clients get.
    pub replays_aof: bool,
    /// What a would-be replica said in REPLCONF before its PSYNC.
    pub replica_hello: crate::replication::master::ReplicaHello,
    /// master_repl_offset after this client's last command: the offset
    /// WAIT needs replicas to reach.
    pub woff: u64,
}

/// A transaction being queued between MULTI and EXEC.
#[derive(Default)]
pub struct Transaction {
    queued: Vec<QueuedCommand>,
    /// How many commands were queued; kept while EXEC runs them.
    count: usize,
    /// The union of the queued commands' flags.
    flags: u32,
    /// Queued arguments' size as Redis counts it (CLIENT LIST `multi-mem`):
    /// their bytes plus a pointer per argument.
    mem: usize,
    /// A command was refused while queuing: EXEC answers EXECABORT.
    pub aborted: bool,
}

/// A command waiting for EXEC.
pub struct QueuedCommand {
    pub id: crate::command::CommandId,
    pub argv: Vec<Vec<u8>>,
}

impl Transaction {
    pub fn queue(&mut self, id: crate::command::CommandId, argv: &[&[u8]], flags: u32) {
        let bytes: usize = argv.iter().map(|a| a.len()).sum();
        self.mem += bytes + argv.len() * std::mem::size_of::<usize>();
        self.flags |= flags;
        self.count += 1;
        self.queued.push(QueuedCommand { id, argv: argv.iter().map(|a| a.to_vec()).collect() });
    }

    /// The queued commands, handed to EXEC to run (the count stays).
    pub fn take_queued(&mut self) -> Vec<QueuedCommand> {
        std::mem::take(&mut self.queued)
    }

    /// The union of the queued commands' flags.
    pub fn flags(&self) -> u32 {
        self.flags
    }
}

impl Client {
    pub fn new(id: ClientId, addr: String, laddr: String, fd: i32, now_ms: i64) -> Self {
        Client {
            id,
            addr,
            laddr,
            fd,
            tls: false,
            name: None,
            lib_name: None,
            lib_ver: None,
            db: 0,
            reply: Reply::new(RespVersion::Resp2),
            reply_mode: ReplyMode::On,
            authenticated: false,
            user: None,
            created_ms: now_ms,
            last_interaction_ms: now_ms,
            last_command_id: None,
            query_buffer_len: 0,
            close_after_reply: false,
            close_asap: false,
            wake: Rc::new(Notify::new()),
            monitor: false,
            no_evict: false,
            postponed: false,
            blocked: false,
            query_buffer_free: 0,
            subscriptions: Default::default(),
            output_in_flight: 0,
            soft_limit_since_s: None,
            silenced_pushes: Vec::new(),
            multi: None,
            pending_input: Vec::new(),
            is_replica: false,
            is_master: false,
            replays_aof: false,
            replica_hello: Default::default(),
            woff: 0,
        }
    }

    /// Asks the connection task to close this client as soon as it runs.
    pub fn kill(&mut self) {
        self.close_asap = true;
        self.wake.notify_one();
    }

    /// The memory this connection holds (CLIENT LIST `tot-mem` without the
    /// running command's arguments): what client eviction weighs.
    pub fn memory(&self) -> usize {
        let multi_mem = self.multi.as_ref().map_or(0, |t| t.mem);
        CLIENT_STRUCT_SIZE + self.query_buffer_len + self.query_buffer_free + self.pending_output() + multi_mem
    }

    /// Output bytes not yet written to the socket.
    pub fn pending_output(&self) -> usize {
        self.reply.len() + self.output_in_flight
    }

    /// Applies the `client-output-buffer-limit` of this client's class, as
    /// Redis does whenever output is added: past the hard limit, or past the
    /// soft limit for longer than its seconds, the client is logged and
    /// closed at once, and its pending output dropped. Returns true if it
    /// closed the client.
    pub fn enforce_output_limit(&mut self, srv: &crate::server::Server) -> bool {
        let limit = srv.config.client_output_buffer_limit[self.client_type().limit_class()];
        let pending = self.pending_output() as u64;
        let exceeded = limit.exceeded(pending, &mut self.soft_limit_since_s, srv.now_ms / 1000);
        if !exceeded || self.close_asap {
            return false;
        }
        log_at!(
            Warning,
            "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
            self.info_line(srv, 0)
        );
        self.reply.truncate(0);
        self.kill();
        true
    }

    /// True if replies to the current command are to be discarded (CLIENT REPLY).
    pub fn replies_suppressed(&self) -> bool {
        matches!(self.reply_mode, ReplyMode::Off | ReplyMode::Skipping)
    }

    /// Writes a Pub/Sub push produced by this client's own command: kept
    /// aside while CLIENT REPLY silences the command, so it still arrives.
    pub fn push_from_own_command(&mut self, frame: &[u8]) {
        if self.replies_suppressed() {
            self.silenced_pushes.extend_from_slice(frame);
        } else {
            self.reply.raw(frame);
        }
    }

    /// Writes a push (Pub/Sub message, invalidation) made while another
    /// client's command runs, and wakes this client's connection to send it.
    /// A client being closed for its output takes no more.
    pub fn deliver_push(&mut self, srv: &crate::server::Server, frame: &[u8]) {
        if self.close_asap {
            return;
        }
        self.reply.raw(frame);
        self.enforce_output_limit(srv);
        self.wake.notify_one();
    }
}

/// What CLIENT PAUSE stops: nothing, commands that may write, or everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum PauseMode {
    #[default]
    Off,
    Write,
    All,
}

/// The server-wide client pause (CLIENT PAUSE / UNPAUSE).
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientPause {
    pub mode: PauseMode,
    /// Unix milliseconds; the pause holds while `now <= end_ms`.
    pub end_ms: i64,
}

impl ClientPause {
    /// Starts a pause or, if one is active, widens it: the stricter mode and the
    /// later end win, as Redis merges overlapping pauses.
    pub fn pause(&mut self, mode: PauseMode, end_ms: i64, now_ms: i64) {
        if self.mode_at(now_ms) == PauseMode::Off {
            *self = ClientPause { mode, end_ms };
        } else {
            self.mode = self.mode.max(mode);
            self.end_ms = self.end_ms.max(end_ms);
        }
    }

    pub fn unpause(&mut self) {
        *self = ClientPause::default();
    }

    /// The mode in force at `now_ms` (Off once the end has passed).
    pub fn mode_at(&self, now_ms: i64) -> PauseMode {
        if now_ms > self.end_ms {
            PauseMode::Off
        } else {
            self.mode
        }
    }

    /// True if a command with these flags must wait. WRITE mode holds commands
    /// that write or may replicate (EVAL, PUBLISH, ...), as Redis does.
    pub fn holds(&self, command_flags: u32, now_ms: i64) -> bool {
        use crate::command::flags::{MAY_REPLICATE, WRITE};
        match self.mode_at(now_ms) {
            PauseMode::Off => false,
            PauseMode::Write => command_flags & (WRITE | MAY_REPLICATE) != 0,
            PauseMode::All => true,
        }
    }
}

impl Client {
    /// This client's line in CLIENT LIST / CLIENT INFO, in Redis 7.0's field
    /// order. `argv_mem` is the size of the arguments of the command it is
    /// running now (non-zero only for the caller).
    pub fn info_line(&self, srv: &crate::server::Server, argv_mem: usize) -> String {
        self.info_line_running(srv, self.last_command_id, argv_mem)
    }

    /// `info_line` showing `running` as its command (`cmd=`): ACL LOG
    /// describes a client with the command it was refused.
    pub fn info_line_running(
        &self,
        srv: &crate::server::Server,
        running: Option<crate::command::CommandId>,
        argv_mem: usize,
    ) -> String {
        let now_s = srv.now_ms / 1000;
        let cmd = running.map_or("NULL", |id| srv.commands.get(id).fullname.as_str());
        let (multi, multi_mem) = self.multi.as_ref().map_or((-1, 0), |t| (t.count as i64, t.mem));
        let user = self.user.as_ref().map_or_else(|| "(superuser)".to_string(), |u| u.borrow().name_lossy());
        let pending_output = self.pending_output();
        let events = if pending_output > 0 { "rw" } else { "r" };
        let tot_mem = self.memory() + argv_mem;
        let output = OutputShape::of(pending_output);
        let subs = &self.subscriptions;
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} \
             qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={} rbp={} obl={} oll={} omem={} tot-mem={} \
             events={} cmd={} user={} redir={} resp={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            String::from_utf8_lossy(self.name.as_deref().unwrap_or_default()),
            now_s - self.created_ms / 1000,
            now_s - self.last_interaction_ms / 1000,
            self.flags_text(srv.watches.is_touched(self.id), srv.tracking.mode(self.id)),
            self.db,
            subs.channel_count(),
            subs.pattern_count(),
            subs.shard_count(),
            multi,
            self.query_buffer_len,
            self.query_buffer_free,
            argv_mem,
            multi_mem,
            REPLY_CHUNK.max(pending_output),
            REPLY_CHUNK.max(pending_output),
            output.buffered,
            output.blocks,
            output.overflow,
            tot_mem,
            events,
            cmd,
            user,
            srv.tracking.mode(self.id).map_or(-1, |m| m.redirect as i64),
            if self.reply.is_resp3() { 3 } else { 2 },
        )
    }

    /// CLIENT LIST `flags=`: one letter per state, `N` for none.
    /// `watch_touched`: a key it watches changed (its EXEC will fail);
    /// `tracking`: its client-side caching mode, if on.
    fn flags_text(&self, watch_touched: bool, tracking: Option<&crate::tracking::Mode>) -> String {
        let mut flags = String::new();
        if self.is_replica {
            flags.push('S');
        }
        if self.is_master {
            flags.push('M');
        }
        if self.monitor {
            flags.push('O');
        }
        if self.subscriptions.is_subscribed() {
            flags.push('P');
        }
        if self.multi.is_some() {
            flags.push('x');
        }
        if self.postponed || self.blocked {
            flags.push('b');
        }
        if let Some(mode) = tracking {
            flags.push('t');
            if mode.broken_redirect {
                flags.push('R');
            }
            if mode.bcast {
                flags.push('B');
            }
        }
        if watch_touched {
            flags.push('d');
        }
        if self.close_after_reply {
            flags.push('c');
        }
        if self.close_asap {
            flags.push('A');
        }
        if self.no_evict {
            flags.push('e');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        flags
    }
}

/// The reply buffer size reported as `rbs`/`rbp`: replies are gathered in one
/// growable buffer that starts at Redis's 16 KiB static buffer size.
const REPLY_CHUNK: usize = 16 * 1024;
/// Pending output described as Redis's CLIENT LIST sees it: the first
/// `REPLY_CHUNK` bytes in the static buffer (`obl`), the rest as a list of
/// chunk-sized blocks (`oll` blocks, `omem` bytes).
struct OutputShape {
    buffered: usize,
    blocks: usize,
    overflow: usize,
}

impl OutputShape {
    fn of(pending: usize) -> OutputShape {
        let buffered = pending.min(REPLY_CHUNK);
        let overflow = pending - buffered;
        OutputShape { buffered, blocks: overflow.div_ceil(REPLY_CHUNK), overflow }
    }
}

/// Approximate fixed memory of a connection, counted in `tot-mem`.
const CLIENT_STRUCT_SIZE: usize = std::mem::size_of::<Client>() + 1024;

pub use cinnabar_protocol::request::quoted_repr;

#[cfg(test)]
mod tests {
    use super::Client;
    use crate::config::{Config, ObufLimit};
    use crate::server::Server;

    fn server_with_normal_limit(hard: u64, soft: u64, soft_seconds: i64) -> Server {
        let mut config = Config::new();
        config.client_output_buffer_limit[0] = ObufLimit { hard, soft, soft_seconds };
        Server::new(config)
    }

    fn client_with_output(bytes: usize) -> Client {
        let mut client = Client::new(1, String::new(), String::new(), -1, 0);
        client.reply.raw(&vec![b'x'; bytes]);
        client
    }

    #[test]
    fn hard_limit_closes_at_once_and_drops_output() {
        let mut srv = server_with_normal_limit(100, 0, 0);
        srv.now_ms = 5_000;
        let mut client = client_with_output(99);
        assert!(!client.enforce_output_limit(&srv));
        client.output_in_flight = 1;
        assert!(client.enforce_output_limit(&srv));
        assert!(client.close_asap && client.reply.is_empty());
    }

    #[test]
    fn soft_limit_closes_only_after_its_seconds_have_passed() {
        let mut srv = server_with_normal_limit(0, 100, 2);
        let mut client = client_with_output(150);
        for (now_ms, closes) in [(10_000, false), (12_999, false), (13_000, true)] {
            srv.now_ms = now_ms;
            assert_eq!(client.enforce_output_limit(&srv), closes, "at {now_ms}");
        }
        // Dropping under the soft limit restarts the clock.
        let mut client = client_with_output(150);
        srv.now_ms = 10_000;
        client.enforce_output_limit(&srv);
        client.reply.truncate(10);
        client.enforce_output_limit(&srv);
        client.reply.raw(&[b'x'; 140]);
        srv.now_ms = 13_000;
        assert!(!client.enforce_output_limit(&srv));
    }
}

/// CLIENT LIST/KILL `TYPE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientType {
    Normal,
    Replica,
    PubSub,
    Master,
}

impl Client {
    /// The connection's type: our master's or a replica's link, else pub/sub
    /// while subscribed, else normal (MONITOR clients are normal, as in Redis).
    pub fn client_type(&self) -> ClientType {
        if self.is_master {
            ClientType::Master
        } else if self.is_replica {
            ClientType::Replica
        } else if self.subscriptions.is_subscribed() {
            ClientType::PubSub
        } else {
            ClientType::Normal
        }
    }
}

impl ClientType {
    /// Its row in `client-output-buffer-limit` (normal, replica, pubsub);
    /// a master's connection is never limited, as a normal client by default.
    fn limit_class(self) -> usize {
        match self {
            ClientType::Normal | ClientType::Master => 0,
            ClientType::Replica => 1,
            ClientType::PubSub => 2,
        }
    }
}
