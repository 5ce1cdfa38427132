//! The slow log: the most recent commands that ran for at least
//! `slowlog-log-slower-than` microseconds, newest first, at most
//! `slowlog-max-len` of them. Arguments are trimmed as Redis trims them so a
//! huge command costs little to remember.
//!
//! The dispatcher pushes entries; SLOWLOG (commands/server.rs) reads them.

use std::collections::VecDeque;

/// Arguments kept per entry; the last kept one says how many were dropped.
const MAX_ARGS: usize = 32;
/// Bytes kept per argument; the rest is summarized.
const MAX_ARG_BYTES: usize = 128;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlowlogEntry {
    pub id: u64,
    /// Unix time in seconds when the command finished.
    pub time: i64,
    pub duration_us: u64,
    pub argv: Vec<Vec<u8>>,
    /// `ip:port` of the client.
    pub peer: String,
    /// The client's name, empty if none.
    pub name: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct Slowlog {
    entries: VecDeque<SlowlogEntry>,
    next_id: u64,
}

/// What the dispatcher knows about a finished command.
pub struct FinishedCommand<'a> {
    pub argv: &'a [&'a [u8]],
    pub duration_us: u64,
    pub time: i64,
    pub peer: &'a str,
    pub name: Option<&'a [u8]>,
}

impl Slowlog {
    /// Logs the command if it was slow enough (a negative threshold disables
    /// the log), then trims the log to `max_len`.
    pub fn push_if_needed(&mut self, threshold_us: i64, max_len: i64, cmd: FinishedCommand) {
        if threshold_us < 0 {
            return;
        }
        if cmd.duration_us >= threshold_us as u64 {
            let entry = SlowlogEntry {
                id: self.next_id,
                time: cmd.time,
                duration_us: cmd.duration_us,
                argv: trimmed_args(cmd.argv),
                peer: cmd.peer.to_string(),
                name: cmd.name.unwrap_or_default().to_vec(),
            };
            self.next_id += 1;
            self.entries.push_front(entry);
        }
        self.entries.truncate(max_len.max(0) as usize);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries, newest first.
    pub fn iter(&self) -> impl Iterator<Item = &SlowlogEntry> {
        self.entries.iter()
    }

    /// SLOWLOG RESET: forgets the entries (ids keep counting up).
    pub fn reset(&mut self) {
        self.entries.clear();
    }
}

/// At most `MAX_ARGS` arguments of at most `MAX_ARG_BYTES` bytes each, with
/// Redis's `... (N more bytes)` / `... (N more arguments)` markers.
fn trimmed_args(argv: &[&[u8]]) -> Vec<Vec<u8>> {
    let kept = argv.len().min(MAX_ARGS);
    let mut out: Vec<Vec<u8>> = argv[..kept].iter().map(|a| trimmed_arg(a)).collect();
    if kept < argv.len() {
        out[kept - 1] = format!("... ({} more arguments)", argv.len() - kept + 1).into_bytes();
    }
    out
}

fn trimmed_arg(arg: &[u8]) -> Vec<u8> {
    if arg.len() <= MAX_ARG_BYTES {
        return arg.to_vec();
    }
    let mut out = arg[..MAX_ARG_BYTES].to_vec();
    out.extend_from_slice(format!("... ({} more bytes)", arg.len() - MAX_ARG_BYTES).as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(log: &mut Slowlog, argv: &[&[u8]], duration_us: u64) {
        log.push_if_needed(10, 3, FinishedCommand { argv, duration_us, time: 1, peer: "127.0.0.1:1", name: None });
    }

    #[test]
    fn logs_only_slow_commands_newest_first_and_trims_to_max_len() {
        let mut log = Slowlog::default();
        push(&mut log, &[b"fast"], 9);
        for i in 0..5u8 {
            push(&mut log, &[&[b'a' + i]], 10);
        }
        let ids: Vec<u64> = log.iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![4, 3, 2]);
        log.reset();
        assert!(log.is_empty());
        push(&mut log, &[b"x"], 50);
        assert_eq!(log.iter().next().map(|e| e.id), Some(5));
    }

    #[test]
    fn trims_arguments_like_redis() {
        let long = [b'x'; 130];
        let args: Vec<&[u8]> = std::iter::repeat_n(&long[..], 40).collect();
        let out = trimmed_args(&args);
        assert_eq!(out.len(), 32);
        assert_eq!(out[0].len(), 128 + "... (2 more bytes)".len());
        assert!(out[0].ends_with(b"... (2 more bytes)"));
        assert_eq!(out[31], b"... (9 more arguments)".to_vec());
    }
}
