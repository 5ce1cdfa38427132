//! The replication buffer: the recent bytes of the replication stream, shared
//! by the backlog (what a reconnecting replica may resume from) and by every
//! replica's pending output (what it has not been sent yet).
//!
//! Redis 7.0 shares one buffer between its backlog and its replicas' output
//! for the same reason: a write is copied once, however many replicas there
//! are. Here each replica is a reader with a position; the buffer keeps a
//! byte while the backlog size covers it or some reader still needs it, and
//! drops whole blocks from the front otherwise.
//!
//! Offsets are absolute counts of stream bytes since the replication id was
//! born (`master_repl_offset` is the end). Redis calls the first byte held
//! `repl_backlog_first_byte_offset` and numbers bytes from 1; `first_byte`
//! follows that convention, everything else counts from 0.

use std::collections::VecDeque;
use std::rc::Rc;

use tokio::sync::Notify;

/// Bytes per block: appends fill the last block, trimming frees whole ones.
const BLOCK_SIZE: usize = 16 * 1024;

/// Names a reader (a replica being fed from the buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReaderId(u64);

pub struct Backlog {
    blocks: VecDeque<Vec<u8>>,
    /// Absolute offset of the first byte of `blocks[0]`.
    start: u64,
    /// Absolute offset just past the last byte (master_repl_offset).
    end: u64,
    /// How much history to keep for partial resyncs (repl-backlog-size).
    size: u64,
    /// Positions of the readers still to be fed: the next byte each needs.
    readers: Vec<(ReaderId, u64)>,
    /// What wakes each reader's task when bytes arrive.
    wakers: Vec<Rc<Notify>>,
    next_reader: u64,
}

impl Backlog {
    /// A buffer whose stream continues at absolute offset `end`.
    pub fn new(size: u64, end: u64) -> Backlog {
        Backlog {
            blocks: VecDeque::new(),
            start: end,
            end,
            size: size.max(1),
            readers: Vec::new(),
            wakers: Vec::new(),
            next_reader: 0,
        }
    }

    /// master_repl_offset: bytes of stream produced so far.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Bytes of history held (repl_backlog_histlen), capped at the backlog
    /// size as Redis reports it.
    pub fn histlen(&self) -> u64 {
        (self.end - self.start).min(self.size)
    }

    /// repl_backlog_first_byte_offset: the first byte a PSYNC may resume
    /// from, numbered from 1 as Redis does.
    pub fn first_byte(&self) -> u64 {
        self.end - self.histlen() + 1
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes held for the backlog and the readers together
    /// (mem_total_replication_buffers).
    pub fn memory(&self) -> u64 {
        self.blocks.iter().map(|b| b.capacity() as u64).sum()
    }

    /// Changes the history kept (CONFIG SET repl-backlog-size).
    pub fn resize(&mut self, size: u64) {
        self.size = size.max(1);
        self.trim();
    }

    /// True if a replica that has the stream up to `offset` can continue
    /// from here (PSYNC's test: the next byte it needs is held or is next).
    pub fn can_continue_from(&self, offset: u64) -> bool {
        offset >= self.end - self.histlen() && offset <= self.end
    }

    /// Appends stream bytes and wakes the readers' tasks (they run once the
    /// current batch of commands is done, so one wake-up covers many writes).
    pub fn append(&mut self, mut bytes: &[u8]) {
        self.end += bytes.len() as u64;
        for waker in &self.wakers {
            waker.notify_one();
        }
        while !bytes.is_empty() {
            let room = self.blocks.back().map_or(0, |b| b.capacity() - b.len());
            if room == 0 {
                self.blocks.push_back(Vec::with_capacity(BLOCK_SIZE));
                continue;
            }
            let take = room.min(bytes.len());
            self.blocks.back_mut().expect("a block with room").extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        self.trim();
    }

    /// Starts feeding a reader from absolute offset `from`, which must be
    /// held (`can_continue_from`) or be the end; `wake` is notified whenever
    /// bytes are appended.
    pub fn add_reader(&mut self, from: u64, wake: Rc<Notify>) -> ReaderId {
        debug_assert!(from >= self.start && from <= self.end);
        let id = ReaderId(self.next_reader);
        self.next_reader += 1;
        self.readers.push((id, from.clamp(self.start, self.end)));
        self.wakers.push(wake);
        id
    }

    pub fn remove_reader(&mut self, id: ReaderId) {
        if let Some(i) = self.readers.iter().position(|(r, _)| *r == id) {
            self.readers.remove(i);
            self.wakers.remove(i);
        }
        self.trim();
    }

    /// The reader's position: the next byte it needs.
    pub fn position(&self, id: ReaderId) -> Option<u64> {
        self.readers.iter().find(|(r, _)| *r == id).map(|(_, p)| *p)
    }

    /// Bytes the reader has still to be sent (its output buffer's size as
    /// the replica output-buffer limits see it).
    pub fn pending(&self, id: ReaderId) -> u64 {
        self.position(id).map_or(0, |p| self.end - p)
    }

    /// What the buffer keeps for this reader alone: its pending bytes past
    /// the history the backlog keeps anyway. The replica output-buffer
    /// limits apply to this (Redis counts all pending bytes, so a replica
    /// that resumes from deep in a large backlog is cut off at once and
    /// reconnects, in a loop).
    pub fn held_for(&self, id: ReaderId) -> u64 {
        self.pending(id).saturating_sub(self.size)
    }

    /// The next contiguous run of bytes the reader needs (empty when it is
    /// up to date). Call `advance` with how much of it was sent.
    pub fn unsent(&self, id: ReaderId) -> &[u8] {
        let Some(pos) = self.position(id) else { return &[] };
        self.slice_from(pos)
    }

    /// Marks `n` more bytes as sent to the reader.
    pub fn advance(&mut self, id: ReaderId, n: usize) {
        if let Some((_, pos)) = self.readers.iter_mut().find(|(r, _)| *r == id) {
            *pos = (*pos + n as u64).min(self.end);
        }
        self.trim();
    }

    /// The bytes from absolute offset `pos` to the end of the block holding it.
    fn slice_from(&self, pos: u64) -> &[u8] {
        let mut block_start = self.start;
        for block in &self.blocks {
            let block_end = block_start + block.len() as u64;
            if pos < block_end {
                return &block[(pos - block_start) as usize..];
            }
            block_start = block_end;
        }
        &[]
    }

    /// Frees front blocks that neither the backlog nor any reader needs.
    fn trim(&mut self) {
        let backlog_from = self.end.saturating_sub(self.size);
        let needed_from = self.readers.iter().map(|(_, p)| *p).fold(backlog_from, u64::min);
        while let Some(front) = self.blocks.front() {
            let front_end = self.start + front.len() as u64;
            if front_end > needed_from || self.blocks.len() == 1 {
                break;
            }
            self.start = front_end;
            self.blocks.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(b: &mut Backlog, r: ReaderId) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let chunk = b.unsent(r).to_vec();
            if chunk.is_empty() {
                return out;
            }
            b.advance(r, chunk.len());
            out.extend(chunk);
        }
    }

    #[test]
    fn offsets_follow_redis_conventions() {
        let mut b = Backlog::new(100, 0);
        assert_eq!((b.end(), b.histlen(), b.first_byte()), (0, 0, 1));
        b.append(b"hello");
        assert_eq!((b.end(), b.histlen(), b.first_byte()), (5, 5, 1));
        assert!(b.can_continue_from(0) && b.can_continue_from(5) && !b.can_continue_from(6));
    }

    #[test]
    fn history_is_bounded_by_the_backlog_size() {
        let mut b = Backlog::new(BLOCK_SIZE as u64, 1000);
        let chunk = vec![b'x'; 1000];
        for _ in 0..100 {
            b.append(&chunk);
        }
        assert_eq!(b.end(), 101_000);
        assert_eq!(b.histlen(), BLOCK_SIZE as u64);
        assert!(b.memory() <= 3 * BLOCK_SIZE as u64);
        assert!(!b.can_continue_from(1000));
        assert!(b.can_continue_from(b.end() - BLOCK_SIZE as u64));
    }

    #[test]
    fn a_slow_reader_keeps_what_it_has_not_been_sent() {
        let mut b = Backlog::new(10, 0);
        let r = b.add_reader(0, Rc::default());
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        for piece in data.chunks(777) {
            b.append(piece);
        }
        assert_eq!(b.pending(r), data.len() as u64);
        assert_eq!(drain(&mut b, r), data);
        assert_eq!(b.pending(r), 0);
        // Once sent, only the backlog's share stays.
        assert!(b.memory() <= 2 * BLOCK_SIZE as u64);
    }

    #[test]
    fn a_reader_may_start_inside_the_history() {
        let mut b = Backlog::new(1 << 20, 0);
        b.append(b"abcdef");
        let r = b.add_reader(2, Rc::default());
        b.append(b"gh");
        assert_eq!(drain(&mut b, r), b"cdefgh");
        b.remove_reader(r);
        assert_eq!(b.position(r), None);
    }

    #[test]
    fn a_reader_within_the_history_holds_nothing_of_its_own() {
        let mut b = Backlog::new(1000, 0);
        b.append(&[b'x'; 900]);
        let r = b.add_reader(0, Rc::default());
        assert_eq!((b.pending(r), b.held_for(r)), (900, 0));
        b.append(&[b'y'; 300]);
        assert_eq!((b.pending(r), b.held_for(r)), (1200, 200));
    }
}
