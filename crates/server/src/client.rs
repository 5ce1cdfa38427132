//! A connected client's state: identity, selected database, protocol version,
//! pending output, and the flags that control its connection.
//!
//! The state lives in the server's client registry so commands can see and act
//! on other clients (CLIENT LIST/KILL, and later pub/sub and blocking pops that
//! write into another client's output); the connection task only moves bytes.

use std::rc::Rc;

use cinnabar_protocol::{Reply, RespVersion};
use tokio::sync::Notify;

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
}

impl Client {
    pub fn new(id: ClientId, addr: String, laddr: String, fd: i32, now_ms: i64) -> Self {
        Client {
            id,
            addr,
            laddr,
            fd,
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
        }
    }

    /// Asks the connection task to close this client as soon as it runs.
    pub fn kill(&mut self) {
        self.close_asap = true;
        self.wake.notify_one();
    }

    /// True if replies to the current command are to be discarded (CLIENT REPLY).
    pub fn replies_suppressed(&self) -> bool {
        matches!(self.reply_mode, ReplyMode::Off | ReplyMode::Skipping)
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
    pub fn info_line(&self, now_ms: i64, commands: &crate::command::CommandTable, argv_mem: usize) -> String {
        self.info_line_running(now_ms, commands, self.last_command_id, argv_mem)
    }

    /// `info_line` showing `running` as its command (`cmd=`): ACL LOG
    /// describes a client with the command it was refused.
    pub fn info_line_running(
        &self,
        now_ms: i64,
        commands: &crate::command::CommandTable,
        running: Option<crate::command::CommandId>,
        argv_mem: usize,
    ) -> String {
        let now_s = now_ms / 1000;
        let cmd = running.map_or("NULL", |id| commands.get(id).fullname.as_str());
        let user = self.user.as_ref().map_or_else(|| "(superuser)".to_string(), |u| u.borrow().name_lossy());
        let pending_output = self.reply.len();
        let events = if pending_output > 0 { "rw" } else { "r" };
        let tot_mem = CLIENT_STRUCT_SIZE + self.query_buffer_len + self.query_buffer_free + pending_output + argv_mem;
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub=0 psub=0 ssub=0 multi=-1 \
             qbuf={} qbuf-free={} argv-mem={} multi-mem=0 rbs={} rbp={} obl={} oll=0 omem=0 tot-mem={} \
             events={} cmd={} user={} redir=-1 resp={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            String::from_utf8_lossy(self.name.as_deref().unwrap_or_default()),
            now_s - self.created_ms / 1000,
            now_s - self.last_interaction_ms / 1000,
            self.flags_text(),
            self.db,
            self.query_buffer_len,
            self.query_buffer_free,
            argv_mem,
            REPLY_CHUNK.max(pending_output),
            REPLY_CHUNK.max(pending_output),
            pending_output,
            tot_mem,
            events,
            cmd,
            user,
            if self.reply.is_resp3() { 3 } else { 2 },
        )
    }

    /// CLIENT LIST `flags=`: one letter per state, `N` for none.
    fn flags_text(&self) -> String {
        let mut flags = String::new();
        if self.monitor {
            flags.push('O');
        }
        if self.postponed || self.blocked {
            flags.push('b');
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
/// Approximate fixed memory of a connection, counted in `tot-mem`.
const CLIENT_STRUCT_SIZE: usize = std::mem::size_of::<Client>() + 1024;

/// `bytes` quoted the way Redis logs and MONITOR show arguments: in double
/// quotes, with `\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b` escaped and other
/// non-printable bytes as `\xHH`.
pub fn quoted_repr(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::quoted_repr;

    #[test]
    fn repr_escapes_like_redis() {
        assert_eq!(quoted_repr(b"a b"), "\"a b\"");
        assert_eq!(quoted_repr(b"\"\\\n\r\t\x07\x08"), "\"\\\"\\\\\\n\\r\\t\\a\\b\"");
        assert_eq!(quoted_repr(b"\x00\xff~"), "\"\\x00\\xff~\"");
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
    /// The connection's type. Every connection is normal until replication
    /// and pub/sub mark their clients (MONITOR clients are normal, as in Redis).
    pub fn client_type(&self) -> ClientType {
        ClientType::Normal
    }
}
