//! The replication stream: the one place writes leave the keyspace.
//!
//! Every write emits its effects here in execution order, as Redis commands in
//! RESP, with a SELECT whenever the database changes. Persistence (AOF) and
//! replication attach as sinks; until they exist no sink is attached and
//! nothing is encoded.

use cinnabar_protocol::numbers::push_i64;

/// A consumer of the stream (AOF buffer, replication backlog, replicas).
pub trait StreamSink {
    fn append(&mut self, bytes: &[u8]);
}

#[derive(Default)]
pub struct Propagator {
    sinks: Vec<Box<dyn StreamSink>>,
    /// The database the stream last SELECTed.
    selected_db: Option<usize>,
    encoded: Vec<u8>,
    /// Nesting depth of open atomic groups (EXEC, scripts).
    group_depth: usize,
    /// The open group's first command, held back until a second one shows
    /// the group needs MULTI/EXEC (a single command is atomic by itself, and
    /// Redis 7.0 propagates it bare).
    group_first: Option<(usize, Vec<Vec<u8>>)>,
    /// True once the open group emitted its MULTI: closing it emits EXEC.
    group_started: bool,
    /// While true nothing is emitted (a script's `redis.set_repl(REPL_NONE)`).
    muted: bool,
}

impl Propagator {
    pub fn attach(&mut self, sink: Box<dyn StreamSink>) {
        self.sinks.push(sink);
        // A new consumer must see a SELECT before its first command.
        self.selected_db = None;
    }

    /// Opens an atomic group: everything emitted until the matching
    /// `close_group` reaches consumers wrapped in one MULTI/EXEC, as Redis
    /// propagates a transaction or a script's effects. Groups nest; only the
    /// outermost one is wrapped, and a group that emits nothing emits nothing.
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
        if let Some((db, argv)) = self.group_first.take() {
            let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
            self.write(db, &args);
        }
        if self.group_started {
            self.group_started = false;
            let db = self.selected_db.unwrap_or(0);
            self.write(db, &[b"EXEC"]);
        }
    }

    /// Stops (or resumes) emitting: commands run meanwhile reach no consumer.
    pub fn mute(&mut self, muted: bool) {
        self.muted = muted;
    }

    /// Emits one command executed against `db`.
    pub fn emit(&mut self, db: usize, argv: &[&[u8]]) {
        if self.muted {
            return;
        }
        if self.group_depth > 0 && !self.group_started {
            match self.group_first.take() {
                None => {
                    self.group_first = Some((db, argv.iter().map(|a| a.to_vec()).collect()));
                    return;
                }
                Some((first_db, first)) => {
                    // MULTI goes to the first command's database.
                    self.group_started = true;
                    self.write(first_db, &[b"MULTI"]);
                    let args: Vec<&[u8]> = first.iter().map(Vec::as_slice).collect();
                    self.write(first_db, &args);
                }
            }
        }
        self.write(db, argv);
    }

    /// Encodes one command for the sinks, with a SELECT first if needed.
    fn write(&mut self, db: usize, argv: &[&[u8]]) {
        if self.sinks.is_empty() {
            return;
        }
        self.encoded.clear();
        if self.selected_db != Some(db) {
            let mut digits = Vec::new();
            push_i64(&mut digits, db as i64);
            encode_command(&mut self.encoded, &[b"SELECT", &digits]);
            self.selected_db = Some(db);
        }
        encode_command(&mut self.encoded, argv);
        for sink in &mut self.sinks {
            sink.append(&self.encoded);
        }
    }
}

/// Appends `argv` as a RESP multibulk request.
pub fn encode_command(out: &mut Vec<u8>, argv: &[&[u8]]) {
    out.push(b'*');
    push_i64(out, argv.len() as i64);
    out.extend_from_slice(b"\r\n");
    for arg in argv {
        out.push(b'$');
        push_i64(out, arg.len() as i64);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

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
        let expected = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$1\r\na\r\n\
*2\r\n$4\r\nINCR\r\n$1\r\nb\r\n*1\r\n$4\r\nEXEC\r\n";
        assert_eq!(String::from_utf8_lossy(&seen.borrow()), String::from_utf8_lossy(expected));
    }
}
