//! The replication stream: the one place writes leave the keyspace.
//!
//! Every write emits its effects here in execution order, as Redis commands in
//! RESP, with a SELECT whenever the database changes, and MULTI/EXEC around
//! the effects of one atomic group (a command, a transaction, a script) when
//! there are several. Persistence (AOF) attaches as a sink; replication reads
//! the replication buffer (`backlog`), which exists once a replica ever
//! connected (or this server became a replica). While neither exists nothing
//! is encoded.

use cinnabar_protocol::numbers::push_i64;

use crate::replication::backlog::Backlog;

/// A consumer of the stream (AOF buffer, replication backlog, replicas).
pub trait StreamSink {
    fn append(&mut self, bytes: &[u8]);
}

/// Names an attached sink, to detach it later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SinkId(u64);

#[derive(Default)]
pub struct Propagator {
    sinks: Vec<(SinkId, Box<dyn StreamSink>)>,
    next_sink_id: u64,
    /// The database the stream last SELECTed.
    selected_db: Option<usize>,
    encoded: Vec<u8>,
    /// Nesting depth of open atomic groups (each command's run, EXEC,
    /// scripts): while above 0, commands are wrapped in MULTI/EXEC once there
    /// are two of them.
    group_depth: usize,
    /// True once the open group emitted its MULTI: closing it emits EXEC.
    group_started: bool,
    /// The open group's first command, encoded, and its database: held back
    /// until a second one comes (then MULTI precedes it) or the group closes
    /// (then it goes alone, as one command is atomic by itself).
    held: Option<(usize, Vec<u8>)>,
    /// The allocation of the last held command, for reuse.
    spare: Vec<u8>,
    /// While true nothing is emitted (a script's `redis.set_repl(REPL_NONE)`).
    muted: bool,
    /// The replication buffer: the backlog and what replicas still need.
    pub backlog: Option<Backlog>,
    /// master_repl_offset while there is no backlog.
    offset_at_rest: u64,
    /// True while a replica runs what its master sent: the effects go to the
    /// sinks (its AOF) only, because the replication buffer receives the
    /// master's bytes unchanged (`feed_from_master`), so sub-replicas see the
    /// same stream and offsets.
    pub applying_master_stream: bool,
}

impl Propagator {
    pub fn attach(&mut self, sink: Box<dyn StreamSink>) -> SinkId {
        let id = SinkId(self.next_sink_id);
        self.next_sink_id += 1;
        self.sinks.push((id, sink));
        // A new consumer must see a SELECT before its first command.
        self.reselect();
        id
    }

    pub fn detach(&mut self, id: SinkId) {
        self.sinks.retain(|(sink_id, _)| *sink_id != id);
    }

    /// Makes the next command go after a SELECT, for a consumer that starts
    /// a new file (the AOF's new incr file at a rewrite).
    pub fn reselect(&mut self) {
        self.selected_db = None;
    }

    /// Opens an atomic group: everything emitted until the matching
    /// `close_group` reaches consumers wrapped in one MULTI/EXEC, as Redis
    /// propagates a transaction or a script's effects. Groups nest; only the
    /// outermost one is wrapped; a group that emits one command emits it
    /// alone, and one that emits nothing emits nothing (as Redis 7.0).
    pub fn open_group(&mut self) {
        self.group_depth += 1;
    }

    /// Closes the group `open_group` opened. The EXEC goes to the database
    /// the stream is in by then, where the group's last command ran.
    pub fn close_group(&mut self) {
        self.group_depth = self.group_depth.saturating_sub(1);
        if self.group_depth > 0 {
            return;
        }
        if self.group_started {
            self.group_started = false;
            let db = self.selected_db.unwrap_or(0);
            self.send(db, &[b"EXEC"]);
        } else if let Some((db, held)) = self.held.take() {
            self.send_encoded(db, &held);
            self.spare = held;
        }
    }

    /// The database the stream last selected, if it selected one since it
    /// last had to start over (RDB's repl-stream-db).
    pub fn selected_db(&self) -> Option<usize> {
        self.selected_db
    }

    /// master_repl_offset: bytes of replication stream produced so far.
    pub fn repl_offset(&self) -> u64 {
        self.backlog.as_ref().map_or(self.offset_at_rest, Backlog::end)
    }

    /// Sets the offset the stream continues from (a replica adopting its
    /// master's offset at a full sync). Only without a backlog.
    pub fn set_repl_offset(&mut self, offset: u64) {
        debug_assert!(self.backlog.is_none());
        self.offset_at_rest = offset;
    }

    /// Creates the replication buffer if there is none, keeping
    /// `repl-backlog-size` bytes of history.
    pub fn start_backlog(&mut self, size: u64) {
        if self.backlog.is_none() {
            self.backlog = Some(Backlog::new(size, self.offset_at_rest));
            // Replicas must see a SELECT before the first command.
            self.reselect();
        }
    }

    /// Drops the replication buffer (the backlog's time to live passed with
    /// no replica); the offset is kept.
    pub fn free_backlog(&mut self) {
        if let Some(backlog) = self.backlog.take() {
            self.offset_at_rest = backlog.end();
        }
    }

    /// Appends bytes our master sent, unchanged, to the replication buffer.
    pub fn feed_from_master(&mut self, bytes: &[u8]) {
        match &mut self.backlog {
            Some(backlog) => backlog.append(bytes),
            None => self.offset_at_rest += bytes.len() as u64,
        }
    }

    /// Sends a command to replicas only, outside any database (the periodic
    /// PING, REPLCONF GETACK): no SELECT, no AOF.
    pub fn feed_replicas(&mut self, argv: &[&[u8]]) {
        if let Some(backlog) = &mut self.backlog {
            let mut command = std::mem::take(&mut self.encoded);
            command.clear();
            encode_command(&mut command, argv);
            backlog.append(&command);
            self.encoded = command;
        }
    }

    /// True when an emitted command reaches the replication buffer.
    fn feeds_backlog(&self) -> bool {
        self.backlog.is_some() && !self.applying_master_stream
    }

    /// Stops (or resumes) emitting: commands run meanwhile reach no consumer.
    pub fn mute(&mut self, muted: bool) {
        self.muted = muted;
    }

    /// Emits one command executed against `db`.
    pub fn emit(&mut self, db: usize, argv: &[&[u8]]) {
        if (self.sinks.is_empty() && !self.feeds_backlog()) || self.muted {
            return;
        }
        if self.group_depth > 0 && !self.group_started {
            let Some((held_db, held)) = self.held.take() else {
                let mut held = std::mem::take(&mut self.spare);
                held.clear();
                encode_command(&mut held, argv);
                self.held = Some((db, held));
                return;
            };
            self.group_started = true;
            // MULTI goes to the first command's database, so any SELECT precedes it.
            self.send(held_db, &[b"MULTI"]);
            self.send_encoded(held_db, &held);
            self.spare = held;
        }
        self.send(db, argv);
    }

    fn send(&mut self, db: usize, argv: &[&[u8]]) {
        let mut command = std::mem::take(&mut self.encoded);
        command.clear();
        encode_command(&mut command, argv);
        self.send_encoded(db, &command);
        self.encoded = command;
    }

    /// Appends an encoded command to every sink and the replication
    /// buffer, after a SELECT if `db` is not the stream's current database.
    fn send_encoded(&mut self, db: usize, command: &[u8]) {
        if self.selected_db != Some(db) {
            let mut digits = Vec::new();
            push_i64(&mut digits, db as i64);
            let mut select = Vec::new();
            encode_command(&mut select, &[b"SELECT", &digits]);
            self.selected_db = Some(db);
            self.append_everywhere(&select);
        }
        self.append_everywhere(command);
    }

    fn append_everywhere(&mut self, bytes: &[u8]) {
        for (_, sink) in &mut self.sinks {
            sink.append(bytes);
        }
        if self.feeds_backlog() {
            if let Some(backlog) = &mut self.backlog {
                backlog.append(bytes);
            }
        }
    }
}

pub use cinnabar_protocol::request::encode_command;

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    struct Recorder(Rc<RefCell<Vec<u8>>>);

    impl StreamSink for Recorder {
        fn append(&mut self, bytes: &[u8]) {
            self.0.borrow_mut().extend_from_slice(bytes);
        }
    }

    #[test]
    fn selects_database_only_on_change() {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let mut p = Propagator::default();
        p.emit(0, &[b"SET", b"lost", b"1"]); // no sink yet: nothing recorded
        p.attach(Box::new(Recorder(seen.clone())));
        p.emit(0, &[b"SET", b"a", b"1"]);
        p.emit(0, &[b"DEL", b"a"]);
        p.emit(3, &[b"DEL", b"b"]);
        let expected = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n\
*2\r\n$3\r\nDEL\r\n$1\r\na\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*2\r\n$3\r\nDEL\r\n$1\r\nb\r\n";
        assert_eq!(String::from_utf8_lossy(&seen.borrow()), String::from_utf8_lossy(expected));
    }

    #[test]
    fn a_group_of_one_command_is_not_wrapped() {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let mut p = Propagator::default();
        p.attach(Box::new(Recorder(seen.clone())));
        p.open_group();
        p.emit(0, &[b"INCR", b"a"]);
        p.close_group();
        let expected = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*2\r\n$4\r\nINCR\r\n$1\r\na\r\n";
        assert_eq!(String::from_utf8_lossy(&seen.borrow()), String::from_utf8_lossy(expected));
    }

    #[test]
    fn groups_wrap_their_commands_once_and_only_when_not_empty() {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let mut p = Propagator::default();
        p.attach(Box::new(Recorder(seen.clone())));
        p.open_group();
        p.close_group(); // nothing emitted: no MULTI/EXEC either
        p.open_group();
        p.emit(0, &[b"INCR", b"a"]);
        p.open_group(); // nested (a script inside EXEC): not wrapped again
        p.emit(0, &[b"INCR", b"b"]);
        p.close_group();
        p.close_group();
        p.open_group();
        p.emit(0, &[b"INCR", b"c"]); // alone in its group: not wrapped
        p.close_group();
        let expected = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$1\r\na\r\n\
*2\r\n$4\r\nINCR\r\n$1\r\nb\r\n*1\r\n$4\r\nEXEC\r\n*2\r\n$4\r\nINCR\r\n$1\r\nc\r\n";
        assert_eq!(String::from_utf8_lossy(&seen.borrow()), String::from_utf8_lossy(expected));
    }

    #[test]
    fn the_backlog_counts_the_stream_but_not_what_a_replica_applies() {
        let mut p = Propagator::default();
        p.emit(0, &[b"SET", b"a", b"1"]); // no backlog yet: not counted
        assert_eq!(p.repl_offset(), 0);
        p.start_backlog(1 << 20);
        p.emit(0, &[b"SET", b"a", b"1"]);
        let select_and_set = 23 + 27;
        assert_eq!(p.repl_offset(), select_and_set);
        p.feed_replicas(&[b"PING"]);
        assert_eq!(p.repl_offset(), select_and_set + 14);
        p.applying_master_stream = true;
        p.emit(0, &[b"SET", b"b", b"2"]);
        p.feed_from_master(b"*1\r\n$4\r\nPING\r\n");
        assert_eq!(p.repl_offset(), select_and_set + 28);
    }
}
