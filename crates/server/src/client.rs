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
            created_ms: now_ms,
            last_interaction_ms: now_ms,
            last_command_id: None,
            query_buffer_len: 0,
            close_after_reply: false,
            close_asap: false,
            wake: Rc::new(Notify::new()),
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
