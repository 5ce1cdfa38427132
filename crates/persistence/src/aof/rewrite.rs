//! Writes a dataset as the commands that rebuild it: the AOF-format base
//! file of a rewrite (`aof-use-rdb-preamble no`). The command set is Redis
//! 7.0's: SELECT per non-empty database, SET, RPUSH / SADD / ZADD / HMSET in
//! batches of `ITEMS_PER_COMMAND` elements, a stream as XADD per entry then
//! XSETID (ENTRIESADDED, MAXDELETEDID), XGROUP CREATE (ENTRIESREAD), XCLAIM
//! for each pending entry and XGROUP CREATECONSUMER for consumers without
//! one, and PEXPIREAT after a key with a TTL.
//!
//! The caller passes the view of the keyspace to write (a fork child's copy,
//! or the live databases while nothing else runs), so the same function serves
//! any driver.

use std::io::{self, Write};

use cinnabar_protocol::numbers::{format_g17, push_i64};
use cinnabar_protocol::request::encode_command;
use cinnabar_storage::listpack::LpValue;
use cinnabar_storage::stream::{Stream, StreamId};
use cinnabar_storage::{Db, Value};

/// Elements per RPUSH/SADD/ZADD/HMSET (Redis's AOF_REWRITE_ITEMS_PER_CMD).
pub const ITEMS_PER_COMMAND: usize = 64;

/// Output buffered before it is handed to the writer.
const FLUSH_AT: usize = 64 * 1024;

/// Writes every key of `dbs` (database index = position) to `out`, preceded
/// by a `#TS:<unix>` annotation when `timestamp` is given; `after_key` is
/// told how many keys are written after each one. Returns the bytes
/// written.
pub fn write_dataset<W: Write>(
    out: &mut W,
    dbs: &[Db],
    timestamp: Option<i64>,
    after_key: &mut dyn FnMut(u64),
) -> io::Result<u64> {
    let mut w = CommandWriter { out, buf: Vec::with_capacity(FLUSH_AT * 2), written: 0 };
    if let Some(ts) = timestamp {
        w.buf.extend_from_slice(format!("#TS:{ts}\r\n").as_bytes());
    }
    let mut keys = 0;
    for (index, db) in dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        w.command(&[b"SELECT", &decimal(index as i64)])?;
        for (key, entry) in db.iter() {
            write_value(&mut w, key, &entry.value)?;
            if let Some(when) = db.expire_at(key) {
                w.command(&[b"PEXPIREAT", key, &decimal(when)])?;
            }
            keys += 1;
            after_key(keys);
        }
    }
    w.flush()?;
    Ok(w.written)
}

struct CommandWriter<'a, W: Write> {
    out: &'a mut W,
    buf: Vec<u8>,
    written: u64,
}

impl<W: Write> CommandWriter<'_, W> {
    fn command(&mut self, argv: &[&[u8]]) -> io::Result<()> {
        encode_command(&mut self.buf, argv);
        if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes `verb key` followed by `items` (each one or more arguments),
    /// `ITEMS_PER_COMMAND` items per command.
    fn batched<I: Iterator<Item = Vec<Vec<u8>>>>(&mut self, verb: &[u8], key: &[u8], items: I) -> io::Result<()> {
        let mut args: Vec<Vec<u8>> = Vec::new();
        let mut count = 0;
        for item in items {
            args.extend(item);
            count += 1;
            if count == ITEMS_PER_COMMAND {
                self.with_prefix(verb, key, &args)?;
                args.clear();
                count = 0;
            }
        }
        if count > 0 {
            self.with_prefix(verb, key, &args)?;
        }
        Ok(())
    }

    fn with_prefix(&mut self, verb: &[u8], key: &[u8], args: &[Vec<u8>]) -> io::Result<()> {
        let mut argv: Vec<&[u8]> = Vec::with_capacity(args.len() + 2);
        argv.push(verb);
        argv.push(key);
        argv.extend(args.iter().map(Vec::as_slice));
        self.command(&argv)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
}

fn decimal(v: i64) -> Vec<u8> {
    let mut out = Vec::new();
    push_i64(&mut out, v);
    out
}

fn id_bytes(id: StreamId) -> Vec<u8> {
    id.to_bytes()
}

fn lp(v: LpValue<'_>) -> Vec<u8> {
    v.to_vec()
}

fn write_value<W: Write>(w: &mut CommandWriter<'_, W>, key: &[u8], value: &Value) -> io::Result<()> {
    match value {
        Value::Str(s) => w.command(&[b"SET", key, &s.as_bytes()]),
        Value::List(list) => w.batched(b"RPUSH", key, list.iter().map(|v| vec![lp(v)])),
        Value::Set(set) => w.batched(b"SADD", key, set.iter().map(|m| vec![lp(m)])),
        Value::Hash(hash) => w.batched(b"HMSET", key, hash.iter().map(|(f, v)| vec![lp(f), lp(v)])),
        Value::Zset(zset) => {
            let mut pairs = Vec::with_capacity(zset.len());
            zset.visit(0, zset.len(), false, &mut |member, score| {
                pairs.push(vec![format_g17(score).into_bytes(), member.to_vec()])
            });
            w.batched(b"ZADD", key, pairs.into_iter())
        }
        Value::Stream(stream) => write_stream(w, key, stream),
    }
}

fn write_stream<W: Write>(w: &mut CommandWriter<'_, W>, key: &[u8], s: &Stream) -> io::Result<()> {
    if s.is_empty() {
        // An empty stream cannot be made by XADD alone: add and trim at once.
        w.command(&[b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"])?;
    } else {
        for (id, fields) in s.range(StreamId::MIN, StreamId::MAX, false, usize::MAX) {
            let id = id_bytes(id);
            let mut argv: Vec<&[u8]> = vec![b"XADD", key, &id];
            argv.extend(fields.iter());
            w.command(&argv)?;
        }
    }
    w.command(&[
        b"XSETID",
        key,
        &id_bytes(s.last_id),
        b"ENTRIESADDED",
        &decimal(s.entries_added as i64),
        b"MAXDELETEDID",
        &id_bytes(s.max_deleted_entry_id),
    ])?;
    for (name, group) in &s.groups {
        w.command(&[
            b"XGROUP",
            b"CREATE",
            key,
            name,
            &id_bytes(group.last_id),
            b"ENTRIESREAD",
            &decimal(group.entries_read),
        ])?;
        for (consumer_name, consumer) in &group.consumers {
            if consumer.pel.is_empty() {
                w.command(&[b"XGROUP", b"CREATECONSUMER", key, name, consumer_name])?;
                continue;
            }
            for id in &consumer.pel {
                let Some(pending) = group.pel.get(id) else { continue };
                w.command(&[
                    b"XCLAIM",
                    key,
                    name,
                    consumer_name,
                    b"0",
                    &id_bytes(*id),
                    b"TIME",
                    &decimal(pending.delivery_time),
                    b"RETRYCOUNT",
                    &decimal(pending.delivery_count as i64),
                    b"JUSTID",
                    b"FORCE",
                ])?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aof::reader::CommandReader;
    use cinnabar_storage::{Entry, StrValue};

    fn commands(bytes: &[u8]) -> Vec<String> {
        let mut reader = CommandReader::new(bytes, 0);
        let mut out = Vec::new();
        while let Some(argv) = reader.next_command().unwrap() {
            out.push(argv.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" "));
        }
        out
    }

    #[test]
    fn strings_with_ttl_and_databases() {
        let mut dbs = vec![Db::new(), Db::new(), Db::new()];
        dbs[0].set(b"k", Entry::new(Value::Str(StrValue::from_bytes(b"v")), 0), false);
        dbs[2].set(b"n", Entry::new(Value::Str(StrValue::from_bytes(b"12")), 0), false);
        dbs[2].set_expire(b"n", 1_900_000_000_000);
        let mut out = Vec::new();
        write_dataset(&mut out, &dbs, Some(1700000000), &mut |_| {}).unwrap();
        assert!(out.starts_with(b"#TS:1700000000\r\n"));
        assert_eq!(commands(&out), ["SELECT 0", "SET k v", "SELECT 2", "SET n 12", "PEXPIREAT n 1900000000000"]);
    }

    #[test]
    fn lists_are_batched_by_64() {
        let mut list = cinnabar_storage::List::new(-2);
        for i in 0..130 {
            list.push(cinnabar_storage::list::End::Tail, format!("{i}").as_bytes());
        }
        let mut dbs = vec![Db::new()];
        dbs[0].set(b"l", Entry::new(Value::List(Box::new(list)), 0), false);
        let mut out = Vec::new();
        write_dataset(&mut out, &dbs, None, &mut |_| {}).unwrap();
        let cmds = commands(&out);
        let sizes: Vec<usize> = cmds[1..].iter().map(|c| c.split(' ').count() - 2).collect();
        assert_eq!(sizes, [64, 64, 2]);
        assert!(cmds[1].starts_with("RPUSH l 0 1 2"));
    }
}
