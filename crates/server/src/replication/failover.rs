//! FAILOVER: a coordinated switch from this master to one of its replicas
//! without losing writes. Writes are paused; once a replica acknowledged
//! everything (or the timeout passes with FORCE), this master becomes a
//! replica of it and asks it, with `PSYNC ... FAILOVER`, to take over; the
//! pause ends when it accepted (or the failover is aborted).

use cinnabar_protocol::numbers::parse_i64;

use crate::client::PauseMode;
use crate::command::context::errors::NOT_INTEGER;
use crate::log::log_at;
use crate::server::Server;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum State {
    #[default]
    None,
    /// Writes paused; waiting for a replica to reach our offset.
    WaitForSync,
    /// We follow the target and asked it to take over.
    InProgress,
}

impl State {
    /// INFO's `master_failover_state`.
    pub fn info_name(self) -> &'static str {
        match self {
            State::None => "no-failover",
            State::WaitForSync => "waiting-for-sync",
            State::InProgress => "failover-in-progress",
        }
    }
}

#[derive(Default)]
pub struct Failover {
    pub state: State,
    /// The chosen replica, if any yet.
    pub target: Option<(String, u16)>,
    /// Unix ms; 0 waits forever.
    pub end_ms: i64,
    pub force: bool,
}

/// FAILOVER [TO host port [FORCE]] [TIMEOUT ms] | ABORT.
pub fn command(srv: &mut Server, argv: &[&[u8]]) -> Result<(), String> {
    if argv.len() == 2 && argv[1].eq_ignore_ascii_case(b"abort") {
        if srv.repl.failover.state == State::None {
            return Err("ERR No failover in progress.".into());
        }
        abort(srv, "Failover manually aborted");
        return Ok(());
    }
    let (mut timeout_ms, mut force, mut target) = (0i64, false, None);
    let mut i = 1;
    while i < argv.len() {
        let word = argv[i];
        if word.eq_ignore_ascii_case(b"timeout") && i + 1 < argv.len() && timeout_ms == 0 {
            timeout_ms = parse_long(argv[i + 1])?;
            if timeout_ms <= 0 {
                return Err("ERR FAILOVER timeout must be greater than 0".into());
            }
            i += 2;
        } else if word.eq_ignore_ascii_case(b"to") && i + 2 < argv.len() && target.is_none() {
            let port = parse_long(argv[i + 2])?;
            target = Some((String::from_utf8_lossy(argv[i + 1]).into_owned(), port));
            i += 3;
        } else if word.eq_ignore_ascii_case(b"force") && !force {
            force = true;
            i += 1;
        } else {
            return Err("ERR syntax error".into());
        }
    }
    if srv.repl.failover.state != State::None {
        return Err("ERR FAILOVER already in progress.".into());
    }
    if srv.repl.link.is_some() {
        return Err("ERR FAILOVER is not valid when server is a replica.".into());
    }
    if srv.repl.master_side.replicas.is_empty() {
        return Err("ERR FAILOVER requires connected replicas.".into());
    }
    if force && (timeout_ms == 0 || target.is_none()) {
        return Err("ERR FAILOVER with force option requires both a timeout and target HOST and IP.".into());
    }
    if let Some((host, port)) = &target {
        let replica = srv
            .repl
            .master_side
            .replicas
            .values()
            .find(|r| r.ip.eq_ignore_ascii_case(host) && i64::from(r.hello.listening_port) == *port)
            .ok_or("ERR FAILOVER target HOST and PORT is not a replica.")?;
        if replica.phase != super::master::Phase::Online {
            return Err("ERR FAILOVER target replica is not online.".into());
        }
        log_at!(Notice, "FAILOVER requested to {host}:{port}.");
    } else {
        log_at!(Notice, "FAILOVER requested to any replica.");
    }
    let failover = &mut srv.repl.failover;
    failover.target = target.map(|(host, port)| (host, port as u16));
    failover.end_ms = if timeout_ms > 0 { srv.now_ms + timeout_ms } else { 0 };
    failover.force = force;
    failover.state = State::WaitForSync;
    srv.client_pause.pause(PauseMode::Write, i64::MAX, srv.now_ms);
    Ok(())
}

fn parse_long(arg: &[u8]) -> Result<i64, String> {
    parse_i64(arg).ok_or_else(|| NOT_INTEGER.to_string())
}

/// Ends the failover: the write pause is lifted.
fn clear(srv: &mut Server) {
    srv.repl.failover = Failover::default();
    srv.client_pause.unpause();
    srv.client_pause_lifted.notify_waiters();
}

/// Gives up: back to being a master if we already followed the target.
pub fn abort(srv: &mut Server, why: &str) {
    match &srv.repl.failover.target {
        Some((host, port)) => log_at!(Notice, "FAILOVER to {host}:{port} aborted: {why}"),
        None => log_at!(Notice, "FAILOVER to any replica aborted: {why}"),
    }
    if srv.repl.failover.state == State::InProgress {
        super::replica::promote(srv);
    }
    clear(srv);
}

/// The target answered our `PSYNC ... FAILOVER`: accepted, or refused.
pub fn handed_over(srv: &mut Server, accepted: bool) {
    if let Some(link) = srv.repl.link.as_mut() {
        link.failover = false;
    }
    if srv.repl.failover.state != State::InProgress {
        return;
    }
    if accepted {
        log_at!(Notice, "Failover target accepted the handover.");
        clear(srv);
    } else {
        abort(srv, "Target replica refused the failover");
    }
}

/// The cron's part: time out, or start the handover once a replica caught up.
pub fn cron(srv: &mut Server) {
    if srv.repl.failover.state != State::WaitForSync {
        return;
    }
    let failover = &srv.repl.failover;
    if failover.end_ms != 0 && failover.end_ms <= srv.now_ms {
        if failover.force {
            let (host, port) = failover.target.clone().expect("FORCE needs a target");
            log_at!(Notice, "FAILOVER to {host}:{port} time out exceeded, failing over.");
            hand_over(srv, host, port);
        } else {
            abort(srv, "Replica never caught up before timeout");
        }
        return;
    }
    let offset = srv.propagation.repl_offset();
    let caught_up = srv.repl.master_side.replicas.values().find(|r| {
        r.phase == super::master::Phase::Online
            && r.ack_offset == offset
            && failover
                .target
                .as_ref()
                .is_none_or(|(host, port)| r.ip.eq_ignore_ascii_case(host) && r.hello.listening_port == *port)
    });
    if let Some(replica) = caught_up {
        let (host, port) = (replica.ip.clone(), replica.hello.listening_port);
        log_at!(Notice, "Failover target {host}:{port} is synced, failing over.");
        hand_over(srv, host, port);
    } else if srv.repl.failover.target.is_none() {
        // Ask for fresh acknowledgements.
        srv.propagation.feed_replicas(&[b"REPLCONF", b"GETACK", b"*"]);
    }
}

fn hand_over(srv: &mut Server, host: String, port: u16) {
    srv.repl.failover.state = State::InProgress;
    srv.repl.failover.target = Some((host.clone(), port));
    super::replica::follow(srv, host, port);
    if let Some(link) = srv.repl.link.as_mut() {
        link.failover = true;
    }
}
