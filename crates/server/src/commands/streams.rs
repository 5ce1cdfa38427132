//! Stream commands: XADD, XLEN, XRANGE, XREVRANGE, XREAD, XDEL, XTRIM,
//! XSETID, XINFO, XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM.
//!
//! The data structure lives in `cinnabar_storage::stream`; this file parses
//! arguments, replies, and decides what goes to the replication stream
//! (generated IDs and effective trim thresholds are written out, and group
//! reads become XCLAIM / XGROUP SETID / XGROUP CREATECONSUMER as in Redis 7.0).
//!
//! XREAD/XREADGROUP BLOCK with nothing to read park the client on its keys
//! (`Ctx::block`); an XADD (or anything that signals the key) re-runs the
//! read for the ready key only, as Redis 7.0 serves blocked stream readers.

use cinnabar_protocol::numbers::parse_i64;
use cinnabar_protocol::Reply;
use cinnabar_storage::stream::{ConsumerGroup, Fields, NodeLimits, TrimTo, ENTRIES_READ_INVALID};
use cinnabar_storage::{Stream, StreamId, Value};

use super::server::{reply_help, subcommand_syntax_error};
use crate::command::context::errors;
use crate::command::{
    acl, flags::*, key_flags::*, BeginSearch, CmdError, CmdResult, CommandSpec, Ctx, FindKeys, KeySpec, ModifiedKeys,
};
use crate::notify;
use crate::server::Server;

const KEY_AT_1: &[KeySpec] = &[KeySpec::single(1, RW | UPDATE)];
const STREAMS_KEYS: FindKeys = FindKeys::Range { last_key: -1, step: 1, limit: 2 };

const fn cmd() -> CommandSpec {
    CommandSpec { acl: acl::STREAM, group: "stream", since: "5.0.0", complexity: "O(1)", ..CommandSpec::DEFAULT }
}

const READ_AT_2: &[KeySpec] = &[KeySpec::single(2, RO | ACCESS)];
const DELETE_AT_2: &[KeySpec] = &[KeySpec::single(2, RW | DELETE)];
const INSERT_AT_2: &[KeySpec] = &[KeySpec::single(2, RW | INSERT)];
const UPDATE_AT_2: &[KeySpec] = &[KeySpec::single(2, RW | UPDATE)];

const fn sub_at_2(flags: u32, key_specs: &'static [KeySpec]) -> CommandSpec {
    CommandSpec { flags, key_specs, ..cmd() }
}

const fn help_sub() -> CommandSpec {
    CommandSpec { name: "help", arity: 2, flags: LOADING | STALE, ..cmd() }
}

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "xadd",
        history: &[("6.2.0", "NOMKSTREAM, MINID trimming and LIMIT."), ("7.0.0", "Explicit `<ms>-*` ids.")],
        arity: -5,
        flags: WRITE | DENYOOM | FAST,
        key_specs: &[KeySpec::single(1, RW | UPDATE)
            .with_notes("UPDATE instead of INSERT because of the optional trimming feature")],
        tips: &["nondeterministic_output"],
        handler: Some(xadd),
        summary: "Append an entry to a stream, creating it if needed",
        complexity: "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.",
        ..cmd()
    },
    CommandSpec {
        name: "xlen",
        arity: 2,
        flags: READONLY | FAST,
        key_specs: &[KeySpec::single(1, RO)],
        handler: Some(xlen),
        summary: "Count the entries of a stream",
        ..cmd()
    },
    CommandSpec {
        name: "xrange",
        history: &[("6.2.0", "Exclusive range bounds.")],
        arity: -4,
        flags: READONLY,
        key_specs: &[KeySpec::single(1, RO | ACCESS)],
        handler: Some(xrange),
        summary: "List stream entries between two IDs, oldest first",
        complexity: "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
        ..cmd()
    },
    CommandSpec {
        name: "xrevrange",
        history: &[("6.2.0", "Exclusive range bounds.")],
        arity: -4,
        flags: READONLY,
        key_specs: &[KeySpec::single(1, RO | ACCESS)],
        handler: Some(xrevrange),
        summary: "List stream entries between two IDs, newest first",
        complexity: "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
        ..cmd()
    },
    CommandSpec {
        name: "xread",
        arity: -4,
        flags: READONLY | BLOCKING | MOVABLE_KEYS,
        key_specs: &[KeySpec {
            flags: RO | ACCESS,
            begin: BeginSearch::Keyword { keyword: "STREAMS", start_from: 1 },
            find: STREAMS_KEYS,
            notes: "",
        }],
        handler: Some(xread),
        summary: "Read entries newer than given IDs from one or more streams",
        complexity: "For each stream mentioned: O(N) with N being the number of elements being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, XADD will pay O(M) time in order to serve the M clients blocked on the stream getting new data.",
        ..cmd()
    },
    CommandSpec {
        name: "xdel",
        arity: -3,
        flags: WRITE | FAST,
        key_specs: &[KeySpec::single(1, RW | DELETE)],
        handler: Some(xdel),
        summary: "Delete entries of a stream by ID",
        complexity: "O(1) for each single item to delete in the stream, regardless of the stream size.",
        ..cmd()
    },
    CommandSpec {
        name: "xtrim",
        history: &[("6.2.0", "MINID trimming and LIMIT.")],
        arity: -4,
        flags: WRITE,
        key_specs: &[KeySpec::single(1, RW | DELETE)],
        tips: &["nondeterministic_output"],
        handler: Some(xtrim),
        summary: "Drop the oldest entries of a stream by length or ID",
        complexity: "O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation.",
        ..cmd()
    },
    CommandSpec {
        name: "xsetid",
        // Redis 7.0 does not count consumer-group changes as key modifications.
        modified_keys: ModifiedKeys::ReportedByHandler,
        history: &[("7.0.0", "ENTRIESADDED and MAXDELETEDID.")],
        arity: -3,
        flags: WRITE | DENYOOM | FAST,
        key_specs: KEY_AT_1,
        handler: Some(xsetid),
        summary: "Set a stream's last ID and counters (internal use)",
        ..cmd()
    },
    CommandSpec {
        name: "xinfo",
        acl: 0,
        arity: -2,
        subcommands: &[
            CommandSpec {
                name: "consumers",
                arity: 4,
                tips: &["nondeterministic_output"],
                handler: Some(xinfo),
                summary: "List a group's consumers",
                ..sub_at_2(READONLY, READ_AT_2)
            },
            CommandSpec {
                name: "stream",
                history: &[("6.0.0", "The FULL form."), ("7.0.0", "Reports entries-added, max-deleted-entry-id, recorded-first-entry-id, entries-read and lag.")],
                arity: -3,
                handler: Some(xinfo),
                summary: "Describe a stream",
                ..sub_at_2(READONLY, READ_AT_2)
            },
            CommandSpec {
                name: "groups",
                history: &[("7.0.0", "Reports entries-read and lag.")],
                arity: 3,
                handler: Some(xinfo),
                summary: "List a stream's consumer groups",
                ..sub_at_2(READONLY, READ_AT_2)
            },
            CommandSpec { handler: Some(xinfo), summary: "Show XINFO's subcommands", ..help_sub() },
        ],
        summary: "Inspect streams, groups and consumers",
        complexity: "Depends on subcommand.",
        ..cmd()
    },
    CommandSpec {
        name: "xgroup",
        acl: 0,
        arity: -2,
        subcommands: &[
            CommandSpec {
                name: "createconsumer",
                // Redis 7.0 does not count consumer-group changes as key modifications.
                modified_keys: ModifiedKeys::ReportedByHandler,
                arity: 5,
                handler: Some(xgroup),
                since: "6.2.0",
                summary: "Add a consumer to a group",
                ..sub_at_2(WRITE | DENYOOM, INSERT_AT_2)
            },
            CommandSpec {
                name: "destroy",
                // Redis 7.0 does not count consumer-group changes as key modifications.
                modified_keys: ModifiedKeys::ReportedByHandler,
                arity: 4,
                handler: Some(xgroup),
                summary: "Remove a consumer group",
                complexity: "O(N) where N is the number of entries in the group's pending entries list (PEL).",
                ..sub_at_2(WRITE, DELETE_AT_2)
            },
            CommandSpec {
                name: "create",
                // Redis 7.0 does not count consumer-group changes as key modifications.
                modified_keys: ModifiedKeys::ReportedByHandler,
                history: &[("7.0.0", "The ENTRIESREAD argument.")],
                arity: -5,
                handler: Some(xgroup),
                summary: "Add a consumer group to a stream",
                ..sub_at_2(WRITE | DENYOOM, INSERT_AT_2)
            },
            CommandSpec {
                name: "setid",
                // Redis 7.0 does not count consumer-group changes as key modifications.
                modified_keys: ModifiedKeys::ReportedByHandler,
                history: &[("7.0.0", "The ENTRIESREAD argument.")],
                arity: -5,
                handler: Some(xgroup),
                summary: "Move a group's last delivered ID",
                ..sub_at_2(WRITE, UPDATE_AT_2)
            },
            CommandSpec { handler: Some(xgroup), summary: "Show XGROUP's subcommands", ..help_sub() },
            CommandSpec {
                name: "delconsumer",
                // Redis 7.0 does not count consumer-group changes as key modifications.
                modified_keys: ModifiedKeys::ReportedByHandler,
                arity: 5,
                handler: Some(xgroup),
                summary: "Remove a consumer from a group",
                ..sub_at_2(WRITE, DELETE_AT_2)
            },
        ],
        summary: "Manage consumer groups",
        complexity: "Depends on subcommand.",
        ..cmd()
    },
    CommandSpec {
        name: "xreadgroup",
        arity: -7,
        flags: WRITE | BLOCKING | MOVABLE_KEYS,
        key_specs: &[KeySpec {
            flags: RO | ACCESS,
            begin: BeginSearch::Keyword { keyword: "STREAMS", start_from: 4 },
            find: STREAMS_KEYS,
            notes: "",
        }],
        handler: Some(xread),
        summary: "Read stream entries on behalf of a group's consumer",
        complexity: "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.",
        ..cmd()
    },
    CommandSpec {
        name: "xack",
        // Redis 7.0 does not count consumer-group changes as key modifications.
        modified_keys: ModifiedKeys::ReportedByHandler,
        arity: -4,
        flags: WRITE | FAST,
        key_specs: KEY_AT_1,
        handler: Some(xack),
        summary: "Acknowledge pending entries of a group",
        complexity: "O(1) for each message ID processed.",
        ..cmd()
    },
    CommandSpec {
        name: "xpending",
        history: &[("6.2.0", "IDLE and exclusive range bounds.")],
        arity: -3,
        flags: READONLY,
        key_specs: &[KeySpec::single(1, RO | ACCESS)],
        tips: &["nondeterministic_output"],
        handler: Some(xpending),
        summary: "Inspect a group's pending entries",
        complexity: "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.",
        ..cmd()
    },
    CommandSpec {
        name: "xclaim",
        // Redis 7.0 does not count consumer-group changes as key modifications.
        modified_keys: ModifiedKeys::ReportedByHandler,
        arity: -6,
        flags: WRITE | FAST,
        key_specs: KEY_AT_1,
        tips: &["nondeterministic_output"],
        handler: Some(xclaim),
        summary: "Take over pending entries from other consumers",
        complexity: "O(log N) with N being the number of messages in the PEL of the consumer group.",
        ..cmd()
    },
    CommandSpec {
        name: "xautoclaim",
        // Redis 7.0 does not count consumer-group changes as key modifications.
        modified_keys: ModifiedKeys::ReportedByHandler,
        history: &[("7.0.0", "The reply lists the deleted ids it removed from the PEL.")],
        arity: -6,
        flags: WRITE | FAST,
        key_specs: &[KeySpec::single(1, RW | DELETE)],
        tips: &["nondeterministic_output"],
        handler: Some(xautoclaim),
        since: "6.2.0",
        summary: "Take over idle pending entries, scanning the PEL",
        complexity: "O(1) if COUNT is small.",
        ..cmd()
    },
];

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// How an ID argument may be written.
#[derive(Clone, Copy, PartialEq)]
enum IdSyntax {
    /// `-` and `+` allowed (range bounds).
    Range,
    /// Only `ms` or `ms-seq`.
    Strict,
}

/// Parses `ms[-seq]` (seq defaults to `missing_seq`), or `-`/`+` for ranges.
fn parse_id(arg: &[u8], missing_seq: u64, syntax: IdSyntax) -> Result<StreamId, CmdError> {
    parse_id_or_auto_seq(arg, missing_seq, syntax, false).map(|(id, _)| id)
}

/// As `parse_id`; with `auto_seq`, `ms-*` is accepted and returns false as
/// the second value (the sequence is to be chosen).
fn parse_id_or_auto_seq(
    arg: &[u8],
    missing_seq: u64,
    syntax: IdSyntax,
    auto_seq: bool,
) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 127 {
        return Err(INVALID_ID.into());
    }
    match (arg, syntax) {
        (b"-", IdSyntax::Range) => return Ok((StreamId::MIN, true)),
        (b"+", IdSyntax::Range) => return Ok((StreamId::MAX, true)),
        (b"-" | b"+", IdSyntax::Strict) => return Err(INVALID_ID.into()),
        _ => {}
    }
    let (ms, seq) = match arg.iter().position(|&b| b == b'-') {
        Some(dash) => (&arg[..dash], Some(&arg[dash + 1..])),
        None => (arg, None),
    };
    let ms = parse_u64_like_redis(ms).ok_or(CmdError::from(INVALID_ID))?;
    match seq {
        None => Ok((StreamId::new(ms, missing_seq), true)),
        Some(b"*") if auto_seq => Ok((StreamId::new(ms, 0), false)),
        Some(seq) => Ok((StreamId::new(ms, parse_u64_like_redis(seq).ok_or(CmdError::from(INVALID_ID))?), true)),
    }
}

/// Redis's `string2ull`: a canonical integer (negative ones refused), or
/// else whatever C's `strtoull` takes whole: leading spaces, a sign,
/// leading zeros; a `-` there negates modulo 2^64.
fn parse_u64_like_redis(s: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64(s) {
        return u64::try_from(v).ok();
    }
    let trimmed = s.iter().position(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')).map(|i| &s[i..])?;
    let (negative, digits) = match trimmed.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, trimmed),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits.iter().try_fold(0u64, |acc, d| acc.checked_mul(10)?.checked_add(u64::from(d - b'0')))?;
    Some(if negative { value.wrapping_neg() } else { value })
}

fn parse_count(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(errors::NOT_INTEGER.into())
}

fn node_limits(srv: &Server) -> NodeLimits {
    NodeLimits {
        max_bytes: srv.config.stream_node_max_bytes.try_into().unwrap_or(usize::MAX),
        max_entries: srv.config.stream_node_max_entries.try_into().unwrap_or(usize::MAX),
    }
}

/// The stream at `key` once the lookup rules ran; WRONGTYPE for other types.
fn stream_at<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<Option<&'a mut Stream>, CmdError> {
    match srv.dbs[db].get_mut(key) {
        None => Ok(None),
        Some(entry) => entry.value.as_stream_mut().map(Some).ok_or(errors::WRONGTYPE.into()),
    }
}

fn read_stream<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a mut Stream>, CmdError> {
    ctx.lookup_read(key);
    let db = ctx.client.db;
    stream_at(ctx.srv, db, key)
}

fn write_stream<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a mut Stream>, CmdError> {
    ctx.lookup_write(key);
    let db = ctx.client.db;
    stream_at(ctx.srv, db, key)
}

fn reply_id(r: &mut Reply, id: StreamId) {
    r.bulk(&id.to_bytes());
}

fn reply_entry(r: &mut Reply, id: StreamId, fields: Fields) {
    r.array(2);
    reply_id(r, id);
    r.array(fields.len());
    for f in fields {
        r.bulk(f);
    }
}

/// Trimming options shared by XADD and XTRIM.
#[derive(Default)]
struct TrimArgs {
    to: Option<TrimTo>,
    approx: bool,
    limit: u64,
    /// Index of the threshold argument, rewritten for propagation.
    threshold_at: usize,
}

/// What XADD's arguments before the fields say.
#[derive(Default)]
struct AddArgs {
    trim: TrimArgs,
    nomkstream: bool,
    /// None for `*`; the bool is false for `ms-*`.
    id: Option<(StreamId, bool)>,
    id_at: usize,
}

fn parse_trim_threshold(argv: &[&[u8]], i: &mut usize, args: &mut TrimArgs, by_len: bool) -> CmdResult {
    if args.to.is_some() {
        return Err("ERR syntax error, MAXLEN and MINID options at the same time are not compatible".into());
    }
    let more = argv.len() - 1 - *i;
    args.approx = false;
    let next = argv[*i + 1];
    if more >= 2 && next == b"~" {
        args.approx = true;
        *i += 1;
    } else if more >= 2 && next == b"=" {
        *i += 1;
    }
    let value = argv[*i + 1];
    args.to = Some(if by_len {
        let n = parse_count(value)?;
        if n < 0 {
            return Err("ERR The MAXLEN argument must be >= 0.".into());
        }
        TrimTo::MaxLen(n as u64)
    } else {
        TrimTo::MinId(parse_id(value, 0, IdSyntax::Strict)?)
    });
    *i += 1;
    args.threshold_at = *i;
    Ok(())
}

/// Parses XADD's or XTRIM's options (Redis's `streamParseAddOrTrimArgsOrReply`).
fn parse_add_or_trim(ctx: &Ctx, argv: &[&[u8]], xadd: bool) -> Result<AddArgs, CmdError> {
    let mut trim = TrimArgs::default();
    let mut add = AddArgs::default();
    let mut limit_given = false;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = argv[i];
        if xadd && opt == b"*" {
            break;
        } else if opt.eq_ignore_ascii_case(b"maxlen") && more > 0 {
            parse_trim_threshold(argv, &mut i, &mut trim, true)?;
        } else if opt.eq_ignore_ascii_case(b"minid") && more > 0 {
            parse_trim_threshold(argv, &mut i, &mut trim, false)?;
        } else if opt.eq_ignore_ascii_case(b"limit") && more > 0 {
            let n = parse_count(argv[i + 1])?;
            if n < 0 {
                return Err("ERR The LIMIT argument must be >= 0.".into());
            }
            trim.limit = n as u64;
            limit_given = true;
            i += 1;
        } else if xadd && opt.eq_ignore_ascii_case(b"nomkstream") {
            add.nomkstream = true;
        } else if xadd {
            add.id = Some(parse_id_or_auto_seq(opt, 0, IdSyntax::Strict, true)?);
            break;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    if trim.limit != 0 && trim.to.is_none() {
        return Err("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy".into());
    }
    if !xadd && trim.to.is_none() {
        return Err("ERR syntax error, XTRIM must be called with a trimming strategy".into());
    }
    if limit_given {
        if !trim.approx {
            return Err("ERR syntax error, LIMIT cannot be used without the special ~ option".into());
        }
    } else if trim.approx {
        let limit = ctx.srv.config.stream_node_max_entries.saturating_mul(100);
        trim.limit = if limit <= 0 { 10_000 } else { limit.min(1_000_000) as u64 };
    }
    add.trim = trim;
    add.id_at = i;
    Ok(add)
}

/// Trims, and for `~` rewrites the propagated command to the exact form
/// (`=` and the threshold actually reached) so replicas trim the same.
fn trim_and_rewrite(stream: &mut Stream, trim: &TrimArgs, prop: &mut [Vec<u8>]) -> u64 {
    let Some(to) = trim.to else { return 0 };
    let removed = stream.trim(to, trim.approx, trim.limit);
    if trim.approx {
        prop[trim.threshold_at - 1] = b"=".to_vec();
        prop[trim.threshold_at] = match to {
            TrimTo::MaxLen(_) => stream.len().to_string().into_bytes(),
            TrimTo::MinId(_) => stream.first_id_with_tombstones().unwrap_or(StreamId::MAX).to_bytes(),
        };
    }
    removed
}

fn owned(argv: &[&[u8]]) -> Vec<Vec<u8>> {
    argv.iter().map(|a| a.to_vec()).collect()
}

fn xadd(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let args = parse_add_or_trim(ctx, argv, true)?;
    let fields = &argv[args.id_at + 1..];
    if fields.len() < 2 || !fields.len().is_multiple_of(2) {
        return Err("ERR wrong number of arguments for 'xadd' command".into());
    }
    if let Some((id, true)) = args.id {
        if id.is_zero() {
            return Err("ERR The ID specified in XADD must be greater than 0-0".into());
        }
    }
    let key = argv[1];
    if write_stream(ctx, key)?.is_none() {
        if args.nomkstream {
            ctx.reply().null();
            return Ok(());
        }
        ctx.set_key(key, Value::Stream(Box::default()), false);
    }
    let now = ctx.now_ms() as u64;
    let limits = node_limits(ctx.srv);
    let db = ctx.client.db;
    let stream = stream_at(ctx.srv, db, key)?.expect("created above");
    if stream.last_id == StreamId::MAX {
        return Err("ERR The stream has exhausted the last possible ID, unable to add more items".into());
    }
    let id = match args.id {
        None => match now > stream.last_id.ms {
            true => StreamId::new(now, 0),
            false => stream.last_id.next().expect("not exhausted"),
        },
        Some((id, true)) => id,
        Some((id, false)) if id.ms == stream.last_id.ms => match stream.last_id.next() {
            Some(next) if next.ms == id.ms => next,
            _ => return Err("ERR The ID specified in XADD is equal or smaller than the target stream top item".into()),
        },
        Some((id, false)) => id,
    };
    if id <= stream.last_id {
        return Err("ERR The ID specified in XADD is equal or smaller than the target stream top item".into());
    }
    if fields.iter().map(|f| f.len()).sum::<usize>() > cinnabar_storage::stream::LISTPACK_MAX_SIZE {
        return Err("ERR Elements are too large to be stored".into());
    }
    stream.append(id, fields, limits);
    let mut prop = owned(argv);
    let trimmed = trim_and_rewrite(stream, &args.trim, &mut prop);
    let id_bytes = id.to_bytes();
    ctx.client.reply.bulk(&id_bytes);
    if !matches!(args.id, Some((_, true))) {
        prop[args.id_at] = id_bytes;
    }
    ctx.mark_dirty(1);
    ctx.notify(notify::STREAM, "xadd", key);
    if trimmed > 0 {
        ctx.notify(notify::STREAM, "xtrim", key);
    }
    ctx.propagate_as(prop);
    ctx.signal_key_ready(key);
    Ok(())
}

fn xlen(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let len = read_stream(ctx, argv[1])?.map_or(0, |s| s.len());
    ctx.reply().int(len as i64);
    Ok(())
}

/// A range bound: `(` makes it exclusive.
fn parse_bound(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((parse_id(&arg[1..], missing_seq, IdSyntax::Strict)?, true))
    } else {
        Ok((parse_id(arg, missing_seq, IdSyntax::Range)?, false))
    }
}

fn parse_start(arg: &[u8]) -> Result<StreamId, CmdError> {
    match parse_bound(arg, 0)? {
        (id, true) => id.next().ok_or("ERR invalid start ID for the interval".into()),
        (id, false) => Ok(id),
    }
}

fn parse_end(arg: &[u8]) -> Result<StreamId, CmdError> {
    match parse_bound(arg, u64::MAX)? {
        (id, true) => id.prev().ok_or("ERR invalid end ID for the interval".into()),
        (id, false) => Ok(id),
    }
}

fn xrange(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    range_generic(ctx, argv, false)
}

fn xrevrange(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    range_generic(ctx, argv, true)
}

fn range_generic(ctx: &mut Ctx, argv: &[&[u8]], rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev { (argv[3], argv[2]) } else { (argv[2], argv[3]) };
    let start = parse_start(start_arg)?;
    let end = parse_end(end_arg)?;
    let mut count = -1i64;
    let mut j = 4;
    while j < argv.len() {
        if argv[j].eq_ignore_ascii_case(b"count") && j + 1 < argv.len() {
            count = parse_count(argv[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    ctx.lookup_read(argv[1]);
    let Some(stream) = stream_at(ctx.srv, ctx.client.db, argv[1])? else {
        ctx.reply().array(0);
        return Ok(());
    };
    let r = &mut ctx.client.reply;
    if count == 0 {
        r.null_array();
        return Ok(());
    }
    let entries = stream.range(start, end, rev, count.max(0) as usize);
    r.array(entries.len());
    for (id, fields) in entries {
        reply_entry(r, id, fields);
    }
    Ok(())
}

fn xdel(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let Some(_) = write_stream(ctx, argv[1])? else {
        ctx.reply().int(0);
        return Ok(());
    };
    let ids = argv[2..].iter().map(|a| parse_id(a, 0, IdSyntax::Strict)).collect::<Result<Vec<_>, _>>()?;
    let db = ctx.client.db;
    let stream = stream_at(ctx.srv, db, argv[1])?.expect("looked up above");
    let deleted = ids.into_iter().filter(|id| stream.delete(*id)).count();
    ctx.mark_dirty(deleted as u64);
    if deleted > 0 {
        ctx.notify(notify::STREAM, "xdel", argv[1]);
    }
    ctx.reply().int(deleted as i64);
    Ok(())
}

fn xtrim(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let args = parse_add_or_trim(ctx, argv, false)?;
    let Some(stream) = write_stream(ctx, argv[1])? else {
        ctx.reply().int(0);
        return Ok(());
    };
    let mut prop = owned(argv);
    let removed = trim_and_rewrite(stream, &args.trim, &mut prop);
    ctx.mark_dirty(removed);
    if removed > 0 {
        ctx.notify(notify::STREAM, "xtrim", argv[1]);
    }
    if args.trim.approx {
        ctx.propagate_as(prop);
    }
    ctx.reply().int(removed as i64);
    Ok(())
}

fn xsetid(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let id = parse_id(argv[2], 0, IdSyntax::Strict)?;
    let mut entries_added = -1i64;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        if argv[i].eq_ignore_ascii_case(b"entriesadded") && more > 0 {
            entries_added = parse_count(argv[i + 1])?;
            if entries_added < 0 {
                return Err("ERR entries_added must be positive".into());
            }
        } else if argv[i].eq_ignore_ascii_case(b"maxdeletedid") && more > 0 {
            max_deleted = parse_id(argv[i + 1], 0, IdSyntax::Strict)?;
            if id < max_deleted {
                return Err("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id".into());
            }
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 2;
    }
    let stream = write_stream(ctx, argv[1])?.ok_or(CmdError::from(errors::NO_SUCH_KEY))?;
    if let Some((top, _)) = stream.edge_entry(true) {
        if id < top {
            return Err("ERR The ID specified in XSETID is smaller than the target stream top item".into());
        }
        if entries_added != -1 && stream.len() > entries_added as u64 {
            return Err("ERR The entries_added specified in XSETID is smaller than the target stream length".into());
        }
    }
    stream.last_id = id;
    if entries_added != -1 {
        stream.entries_added = entries_added as u64;
    }
    if !max_deleted.is_zero() {
        stream.max_deleted_entry_id = max_deleted;
    }
    ctx.mark_dirty(1);
    ctx.notify(notify::STREAM, "xsetid", argv[1]);
    ctx.reply().ok();
    Ok(())
}

/// BLOCK's timeout in milliseconds, validated as Redis does, as a deadline
/// in unix milliseconds (0 waits forever).
fn parse_timeout(ctx: &Ctx, arg: &[u8]) -> Result<i64, CmdError> {
    let ms = parse_i64(arg).ok_or("ERR timeout is not an integer or out of range")?;
    if ms < 0 {
        return Err("ERR timeout is negative".into());
    }
    if ms == 0 {
        return Ok(0);
    }
    ms.checked_add(ctx.now_ms()).ok_or("ERR timeout is out of range".into())
}

/// Where a read starts for one stream.
#[derive(Clone, Copy)]
enum ReadFrom {
    /// Entries after this ID (XREAD, or XREADGROUP history from this ID).
    After(StreamId),
    /// XREADGROUP `>`: entries never delivered to the group.
    New,
}

struct GroupRead<'a> {
    group: &'a [u8],
    consumer: &'a [u8],
    noack: bool,
}

fn xread(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let xreadgroup = argv[0].len() == 10;
    let mut count = 0i64;
    let mut streams_at = 0;
    let mut group: Option<GroupRead> = None;
    let mut noack = false;
    let mut block = None;
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = argv[i];
        if opt.eq_ignore_ascii_case(b"block") && more > 0 {
            i += 1;
            block = Some(parse_timeout(ctx, argv[i])?);
        } else if opt.eq_ignore_ascii_case(b"count") && more > 0 {
            i += 1;
            count = parse_count(argv[i])?.max(0);
        } else if opt.eq_ignore_ascii_case(b"streams") && more > 0 {
            streams_at = i + 1;
            if !(argv.len() - streams_at).is_multiple_of(2) {
                return Err(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.".into(),
                );
            }
            break;
        } else if opt.eq_ignore_ascii_case(b"group") && more >= 2 {
            if !xreadgroup {
                return Err("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.".into());
            }
            group = Some(GroupRead { group: argv[i + 1], consumer: argv[i + 2], noack: false });
            i += 2;
        } else if opt.eq_ignore_ascii_case(b"noack") {
            if !xreadgroup {
                return Err("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.".into());
            }
            noack = true;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    if streams_at == 0 {
        return Err(errors::SYNTAX.into());
    }
    if xreadgroup && group.is_none() {
        return Err("ERR Missing GROUP option for XREADGROUP".into());
    }
    if let Some(g) = group.as_mut() {
        g.noack = noack;
    }
    let n = (argv.len() - streams_at) / 2;
    let keys = &argv[streams_at..streams_at + n];
    if let Some(ready) = ctx.serving_key().map(<[u8]>::to_vec) {
        let id_arg = keys.iter().position(|k| *k == ready.as_slice()).map(|at| argv[streams_at + n + at]);
        let read = BlockedRead { key: &ready, id_arg: id_arg.expect("served from one of its keys"), group, count };
        return serve_blocked_read(ctx, &read, keys, block.unwrap_or(0));
    }
    let mut from = Vec::with_capacity(n);
    for (key, arg) in keys.iter().zip(&argv[streams_at + n..]) {
        let stream = read_stream(ctx, key)?;
        if let Some(g) = &group {
            if stream.as_ref().and_then(|s| s.groups.get(g.group)).is_none() {
                return Err(format!(
                    "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                    lossy(key),
                    lossy(g.group)
                )
                .into());
            }
        }
        from.push(match *arg {
            b"$" if xreadgroup => return Err("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.".into()),
            b"$" => ReadFrom::After(stream.map_or(StreamId::MIN, |s| s.last_id)),
            b">" if !xreadgroup => return Err("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.".into()),
            b">" => ReadFrom::New,
            // The largest ID is how Redis encodes `>`, so it reads new entries.
            id => match parse_id(id, 0, IdSyntax::Strict)? {
                StreamId::MAX if xreadgroup => ReadFrom::New,
                id => ReadFrom::After(id),
            },
        });
    }
    let db = ctx.client.db;
    let now = ctx.now_ms();
    let mut served = 0;
    let mut body = Reply::new(ctx.client.reply.resp);
    let mut props: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut dirty = 0;
    let mut new_consumer_in = Vec::new();
    for (key, from) in keys.iter().zip(from) {
        // Redis looks each key up again here, which shows in keyspace_hits.
        ctx.lookup_read(key);
        let Some(stream) = stream_at(ctx.srv, db, key)? else { continue };
        let top = stream.edge_entry(true).map(|(id, _)| id);
        let serve = match (&group, from) {
            (Some(_), ReadFrom::After(_)) => true,
            (Some(g), ReadFrom::New) => top.is_some_and(|t| t > stream.groups[g.group].last_id),
            (None, ReadFrom::After(after)) => top.is_some_and(|t| t > after),
            (None, ReadFrom::New) => unreachable!("> is rejected for XREAD"),
        };
        if !serve {
            continue;
        }
        served += 1;
        if !body.is_resp3() {
            body.array(2);
        }
        body.bulk(key);
        match &group {
            None => {
                let ReadFrom::After(after) = from else { unreachable!() };
                let entries = match after.next() {
                    Some(start) => stream.range(start, StreamId::MAX, false, count as usize),
                    None => Vec::new(),
                };
                body.array(entries.len());
                for (id, fields) in entries {
                    reply_entry(&mut body, id, fields);
                }
            }
            Some(g) => {
                // Redis counts one change per stream served, one more for a new consumer.
                let created = read_for_group(stream, key, g, from, count as usize, now, &mut body, &mut props);
                dirty += 1 + u64::from(created);
                if created {
                    new_consumer_in.push(*key);
                }
            }
        }
    }
    if served == 0 {
        match block {
            Some(deadline) => ctx.block_as(keys, deadline, resolve_dollars(ctx, argv, streams_at + n)),
            None => ctx.reply().null_array(),
        }
        return Ok(());
    }
    let r = ctx.reply();
    if r.is_resp3() {
        r.map(served);
    } else {
        r.array(served);
    }
    r.raw(body.bytes());
    for key in new_consumer_in {
        notify_consumer_created(ctx, key);
    }
    propagate_group_effects(ctx, dirty, props);
    Ok(())
}

fn notify_consumer_created(ctx: &mut Ctx, key: &[u8]) {
    ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
}

/// The command to re-run for a blocked XREAD: the same with each `$` replaced
/// by the stream's last ID now (0-0 if it does not exist), as Redis keeps the
/// ID it resolved when the client blocked. None when there is no `$`.
fn resolve_dollars(ctx: &Ctx, argv: &[&[u8]], ids_at: usize) -> Option<Vec<Vec<u8>>> {
    let n = argv.len() - ids_at;
    if !argv[ids_at..].contains(&&b"$"[..]) {
        return None;
    }
    let db = &ctx.srv.dbs[ctx.client.db];
    let mut resolved = owned(argv);
    for (at, key) in (ids_at..argv.len()).zip(&argv[ids_at - n..ids_at]) {
        if argv[at] == b"$" {
            let last = db.get(key).and_then(|e| e.value.as_stream()).map_or(StreamId::MIN, |s| s.last_id);
            resolved[at] = last.to_bytes();
        }
    }
    Some(resolved)
}

/// What a blocked XREAD/XREADGROUP waits for on the key being served.
struct BlockedRead<'a> {
    key: &'a [u8],
    /// The ID argument for this key (`>` for a group; `$` was resolved).
    id_arg: &'a [u8],
    group: Option<GroupRead<'a>>,
    count: i64,
}

/// Serves a blocked reader from the ready key, as Redis 7.0 does: only that
/// key, once the stream's last ID passes the one waited for (for a group,
/// the group's last delivered ID now). A group reader whose stream or group
/// went away gets an error; otherwise the client stays blocked.
fn serve_blocked_read(ctx: &mut Ctx, read: &BlockedRead, keys: &[&[u8]], deadline: i64) -> CmdResult {
    let db = ctx.client.db;
    let now = ctx.now_ms();
    let stream = match (stream_at(ctx.srv, db, read.key), &read.group) {
        (Ok(Some(stream)), _) => stream,
        (_, Some(_)) => return Err("UNBLOCKED the stream key no longer exists".into()),
        (_, None) => {
            ctx.block(keys, deadline);
            return Ok(());
        }
    };
    let waited_for = match &read.group {
        Some(g) => match stream.groups.get(g.group) {
            Some(group) => group.last_id,
            None => return Err("NOGROUP the consumer group this client was blocked on no longer exists".into()),
        },
        None => parse_id(read.id_arg, 0, IdSyntax::Strict)?,
    };
    let Some(start) = waited_for.next().filter(|_| stream.last_id > waited_for) else {
        ctx.block(keys, deadline);
        return Ok(());
    };
    let mut body = Reply::new(ctx.client.reply.resp);
    let mut props = Vec::new();
    let mut dirty = 0;
    match &read.group {
        None => {
            let entries = stream.range(start, StreamId::MAX, false, read.count as usize);
            body.array(entries.len());
            for (id, fields) in entries {
                reply_entry(&mut body, id, fields);
            }
        }
        Some(g) => {
            let created =
                read_for_group(stream, read.key, g, ReadFrom::New, read.count as usize, now, &mut body, &mut props);
            // Served, Redis counts only a consumer it creates as a change,
            // yet still propagates the read's effects.
            dirty = u64::from(created);
            if created {
                notify_consumer_created(ctx, read.key);
            }
        }
    }
    let r = ctx.reply();
    if r.is_resp3() {
        r.map(1);
    } else {
        r.array(1);
        r.array(2);
    }
    r.bulk(read.key);
    r.raw(body.bytes());
    if read.group.is_some() {
        if !props.is_empty() {
            ctx.force_propagation();
        }
        propagate_group_effects(ctx, dirty, props);
    }
    Ok(())
}

/// A group command's changes go to replicas only as the effects it lists
/// (XCLAIM, XGROUP SETID/CREATECONSUMER), never as sent.
fn propagate_group_effects(ctx: &mut Ctx, dirty: u64, props: Vec<Vec<Vec<u8>>>) {
    ctx.suppress_propagation();
    ctx.mark_dirty(dirty);
    props.into_iter().for_each(|p| ctx.propagate_as(p));
}

/// One stream's part of XREADGROUP: new entries (`>`) or the consumer's own
/// pending history, with the PEL bookkeeping and what to propagate. Returns
/// whether the consumer was created.
#[allow(clippy::too_many_arguments)]
fn read_for_group(
    stream: &mut Stream,
    key: &[u8],
    g: &GroupRead,
    from: ReadFrom,
    count: usize,
    now: i64,
    body: &mut Reply,
    props: &mut Vec<Vec<Vec<u8>>>,
) -> bool {
    let group = stream.groups.get_mut(g.group).expect("checked by the caller");
    let created = match group.consumers.get_mut(g.consumer) {
        Some(c) => {
            c.seen_time = now;
            false
        }
        None => {
            group.consumers.insert(
                Box::from(g.consumer),
                cinnabar_storage::stream::Consumer { seen_time: now, ..Default::default() },
            );
            if g.noack {
                props.push(vec![
                    b"XGROUP".to_vec(),
                    b"CREATECONSUMER".to_vec(),
                    key.to_vec(),
                    g.group.to_vec(),
                    g.consumer.to_vec(),
                ]);
            }
            true
        }
    };
    match from {
        ReadFrom::After(after) => read_history(stream, g, after, count, now, body),
        ReadFrom::New => read_new(stream, key, g, count, now, body, props),
    }
    created
}

fn read_history(stream: &mut Stream, g: &GroupRead, after: StreamId, count: usize, now: i64, body: &mut Reply) {
    let Some(start) = after.next() else {
        body.array(0);
        return;
    };
    let group = &stream.groups[g.group];
    let ids: Vec<StreamId> = group.consumers[g.consumer]
        .pel
        .range(start..)
        .take(if count == 0 { usize::MAX } else { count })
        .copied()
        .collect();
    body.array(ids.len());
    for id in &ids {
        match stream.get(*id) {
            Some(fields) => reply_entry(body, *id, fields),
            None => {
                body.array(2);
                reply_id(body, *id);
                body.null_array();
            }
        }
    }
    let present: Vec<StreamId> = ids.into_iter().filter(|id| stream.get(*id).is_some()).collect();
    let group = stream.groups.get_mut(g.group).expect("checked by the caller");
    for id in present {
        if let Some(p) = group.pel.get_mut(&id) {
            p.delivery_time = now;
            p.delivery_count += 1;
        }
    }
}

fn read_new(
    stream: &mut Stream,
    key: &[u8],
    g: &GroupRead,
    count: usize,
    now: i64,
    body: &mut Reply,
    props: &mut Vec<Vec<Vec<u8>>>,
) {
    let last = stream.groups[g.group].last_id;
    let Some(start) = last.next() else {
        body.array(0);
        return;
    };
    let ids: Vec<StreamId> = stream.range(start, StreamId::MAX, false, count).into_iter().map(|(id, _)| id).collect();
    body.array(ids.len());
    let mut moved_cursor = false;
    for id in ids {
        let entries_read = next_entries_read(stream, &stream.groups[g.group], id);
        reply_entry(body, id, stream.get(id).expect("just listed"));
        let group = stream.groups.get_mut(g.group).expect("checked by the caller");
        group.entries_read = entries_read;
        group.last_id = id;
        moved_cursor = true;
        if !g.noack {
            group.assign(id, g.consumer, now, 1);
            props.push(xclaim_propagation(key, g.group, group, id));
        }
    }
    if g.noack && moved_cursor {
        let group = &stream.groups[g.group];
        props.push(setid_propagation(key, g.group, group));
    }
}

/// The group's read counter after delivering `id` (past its last ID).
fn next_entries_read(stream: &Stream, group: &ConsumerGroup, id: StreamId) -> i64 {
    if group.entries_read != ENTRIES_READ_INVALID && !stream.range_has_tombstones(id, StreamId::MAX) {
        group.entries_read + 1
    } else if stream.entries_added != 0 {
        stream.entries_read_up_to(id).map_or(ENTRIES_READ_INVALID, |n| n as i64)
    } else {
        group.entries_read
    }
}

/// The idempotent XCLAIM Redis propagates for a delivered or claimed entry.
fn xclaim_propagation(key: &[u8], group_name: &[u8], group: &ConsumerGroup, id: StreamId) -> Vec<Vec<u8>> {
    let (consumer, time, count) = match group.pel.get(&id) {
        Some(p) => (p.consumer.to_vec(), p.delivery_time, p.delivery_count),
        None => (Vec::new(), 0, 0),
    };
    vec![
        b"XCLAIM".to_vec(),
        key.to_vec(),
        group_name.to_vec(),
        consumer,
        b"0".to_vec(),
        id.to_bytes(),
        b"TIME".to_vec(),
        time.to_string().into_bytes(),
        b"RETRYCOUNT".to_vec(),
        count.to_string().into_bytes(),
        b"FORCE".to_vec(),
        b"JUSTID".to_vec(),
        b"LASTID".to_vec(),
        group.last_id.to_bytes(),
    ]
}

fn setid_propagation(key: &[u8], group_name: &[u8], group: &ConsumerGroup) -> Vec<Vec<u8>> {
    vec![
        b"XGROUP".to_vec(),
        b"SETID".to_vec(),
        key.to_vec(),
        group_name.to_vec(),
        group.last_id.to_bytes(),
        b"ENTRIESREAD".to_vec(),
        group.entries_read.to_string().into_bytes(),
    ]
}

const XGROUP_HELP: &[&str] = &[
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
];

fn xgroup(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let sub = argv[1].to_ascii_lowercase();
    if argv.len() == 2 && sub == b"help" {
        reply_help(ctx, argv[0], XGROUP_HELP);
        return Ok(());
    }
    if argv.len() < 4 {
        return Err(subcommand_syntax_error(argv));
    }
    let mut mkstream = false;
    let mut entries_read = ENTRIES_READ_INVALID;
    let mut i = 5;
    while i < argv.len() {
        if sub == b"create" && argv[i].eq_ignore_ascii_case(b"mkstream") {
            mkstream = true;
            i += 1;
        } else if (sub == b"create" || sub == b"setid")
            && argv[i].eq_ignore_ascii_case(b"entriesread")
            && i + 1 < argv.len()
        {
            entries_read = parse_count(argv[i + 1])?;
            if entries_read < 0 && entries_read != ENTRIES_READ_INVALID {
                return Err("ERR value for ENTRIESREAD must be positive or -1".into());
            }
            i += 2;
        } else {
            return Err(subcommand_syntax_error(argv));
        }
    }
    let (key, name) = (argv[2], argv[3]);
    let exists = write_stream(ctx, key)?.is_some();
    if !mkstream {
        if !exists {
            return Err("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.".into());
        }
        let db = ctx.client.db;
        let has_group = stream_at(ctx.srv, db, key)?.is_some_and(|s| s.groups.contains_key(name));
        if !has_group && matches!(&sub[..], b"setid" | b"createconsumer" | b"delconsumer") {
            return Err(
                format!("NOGROUP No such consumer group '{}' for key name '{}'", lossy(name), lossy(key)).into()
            );
        }
    }
    match &sub[..] {
        b"create" if (5..=8).contains(&argv.len()) => xgroup_create(ctx, argv, exists, entries_read),
        b"setid" if argv.len() == 5 || argv.len() == 7 => {
            let stream = write_stream(ctx, key)?.expect("checked above");
            let id = if argv[4] == b"$" { stream.last_id } else { parse_id(argv[4], 0, IdSyntax::Range)? };
            let group = stream.groups.get_mut(name).expect("checked above");
            group.last_id = id;
            group.entries_read = entries_read;
            ctx.mark_dirty(1);
            ctx.notify(notify::STREAM, "xgroup-setid", key);
            ctx.reply().ok();
            Ok(())
        }
        b"destroy" if argv.len() == 4 => {
            let removed = write_stream(ctx, key)?.expect("checked above").groups.remove(name).is_some();
            ctx.mark_dirty(u64::from(removed));
            ctx.reply().int(i64::from(removed));
            if removed {
                // Its blocked readers learn that the group is gone.
                ctx.signal_key_ready(key);
                ctx.notify(notify::STREAM, "xgroup-destroy", key);
            }
            Ok(())
        }
        b"createconsumer" if argv.len() == 5 => {
            let now = ctx.now_ms();
            let group = write_stream(ctx, key)?.expect("checked above").groups.get_mut(name).expect("checked above");
            let created = !group.consumers.contains_key(argv[4]);
            if created {
                group.consumers.insert(
                    Box::from(argv[4]),
                    cinnabar_storage::stream::Consumer { seen_time: now, ..Default::default() },
                );
            }
            ctx.mark_dirty(u64::from(created));
            ctx.reply().int(i64::from(created));
            if created {
                notify_consumer_created(ctx, key);
            }
            Ok(())
        }
        b"delconsumer" if argv.len() == 5 => {
            let group = write_stream(ctx, key)?.expect("checked above").groups.get_mut(name).expect("checked above");
            let pending = group.remove_consumer(argv[4]);
            ctx.mark_dirty(u64::from(pending.is_some()));
            if pending.is_some() {
                ctx.notify(notify::STREAM, "xgroup-delconsumer", key);
            }
            ctx.reply().int(pending.unwrap_or(0) as i64);
            Ok(())
        }
        _ => Err(subcommand_syntax_error(argv)),
    }
}

fn xgroup_create(ctx: &mut Ctx, argv: &[&[u8]], exists: bool, entries_read: i64) -> CmdResult {
    let key = argv[2];
    let id = if argv[4] == b"$" {
        let db = ctx.client.db;
        stream_at(ctx.srv, db, key)?.map_or(StreamId::MIN, |s| s.last_id)
    } else {
        parse_id(argv[4], 0, IdSyntax::Strict)?
    };
    if !exists {
        ctx.set_key(key, Value::Stream(Box::default()), false);
    }
    let db = ctx.client.db;
    let stream = stream_at(ctx.srv, db, key)?.expect("exists or just created");
    if stream.groups.contains_key(argv[3]) {
        return Err("BUSYGROUP Consumer Group name already exists".into());
    }
    stream.groups.insert(Box::from(argv[3]), ConsumerGroup::new(id, entries_read));
    ctx.mark_dirty(1);
    ctx.notify(notify::STREAM, "xgroup-create", key);
    ctx.reply().ok();
    Ok(())
}

const XINFO_HELP: &[&str] = &[
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
];

fn xinfo(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let sub = argv[1].to_ascii_lowercase();
    if sub == b"help" {
        if argv.len() != 2 {
            return Err(subcommand_syntax_error(argv));
        }
        reply_help(ctx, argv[0], XINFO_HELP);
        return Ok(());
    }
    if argv.len() < 3 {
        return Err(subcommand_syntax_error(argv));
    }
    let key = argv[2];
    let now = ctx.now_ms();
    read_stream(ctx, key)?.ok_or(CmdError::from(errors::NO_SUCH_KEY))?;
    let db = ctx.client.db;
    let stream = stream_at(ctx.srv, db, key)?.expect("checked above");
    let r = &mut ctx.client.reply;
    match &sub[..] {
        b"consumers" if argv.len() == 4 => {
            let group = stream.groups.get(argv[3]).ok_or_else(|| {
                CmdError::from(format!(
                    "NOGROUP No such consumer group '{}' for key name '{}'",
                    lossy(argv[3]),
                    lossy(key)
                ))
            })?;
            r.array(group.consumers.len());
            for (name, c) in &group.consumers {
                r.map(3);
                r.bulk(b"name");
                r.bulk(name);
                r.bulk(b"pending");
                r.int(c.pel.len() as i64);
                r.bulk(b"idle");
                r.int((now - c.seen_time).max(0));
            }
            Ok(())
        }
        b"groups" if argv.len() == 3 => {
            r.array(stream.groups.len());
            for (name, g) in &stream.groups {
                r.map(6);
                r.bulk(b"name");
                r.bulk(name);
                r.bulk(b"consumers");
                r.int(g.consumers.len() as i64);
                r.bulk(b"pending");
                r.int(g.pel.len() as i64);
                reply_group_cursor(r, stream, g);
            }
            Ok(())
        }
        b"stream" => xinfo_stream(r, stream, argv),
        _ => Err(subcommand_syntax_error(argv)),
    }
}

/// `last-delivered-id`, `entries-read` and `lag` of a group.
fn reply_group_cursor(r: &mut Reply, stream: &Stream, g: &ConsumerGroup) {
    r.bulk(b"last-delivered-id");
    reply_id(r, g.last_id);
    r.bulk(b"entries-read");
    match g.entries_read {
        ENTRIES_READ_INVALID => r.null(),
        n => r.int(n),
    }
    r.bulk(b"lag");
    match stream.group_lag(g) {
        Some(lag) => r.int(lag as i64),
        None => r.null(),
    }
}

fn xinfo_stream(r: &mut Reply, stream: &Stream, argv: &[&[u8]]) -> CmdResult {
    let opts = &argv[3..];
    let full = !opts.is_empty();
    let mut count = 10i64;
    if full {
        if (opts.len() != 1 && opts.len() != 3) || !opts[0].eq_ignore_ascii_case(b"full") {
            return Err(subcommand_syntax_error(argv));
        }
        if opts.len() == 3 {
            if !opts[1].eq_ignore_ascii_case(b"count") {
                return Err(subcommand_syntax_error(argv));
            }
            count = parse_count(opts[2])?;
            if count < 0 {
                count = 10;
            }
        }
    }
    r.map(if full { 9 } else { 10 });
    r.bulk(b"length");
    r.int(stream.len() as i64);
    r.bulk(b"radix-tree-keys");
    r.int(stream.node_count() as i64);
    r.bulk(b"radix-tree-nodes");
    r.int(stream.radix_tree_nodes() as i64);
    r.bulk(b"last-generated-id");
    reply_id(r, stream.last_id);
    r.bulk(b"max-deleted-entry-id");
    reply_id(r, stream.max_deleted_entry_id);
    r.bulk(b"entries-added");
    r.int(stream.entries_added as i64);
    r.bulk(b"recorded-first-entry-id");
    reply_id(r, stream.first_id);
    if !full {
        r.bulk(b"groups");
        r.int(stream.groups.len() as i64);
        for (label, last) in [(&b"first-entry"[..], false), (b"last-entry", true)] {
            r.bulk(label);
            match stream.edge_entry(last) {
                Some((id, fields)) => reply_entry(r, id, fields),
                None => r.null(),
            }
        }
        return Ok(());
    }
    let limit = if count == 0 { usize::MAX } else { count as usize };
    r.bulk(b"entries");
    let entries = stream.range(StreamId::MIN, StreamId::MAX, false, count as usize);
    r.array(entries.len());
    for (id, fields) in entries {
        reply_entry(r, id, fields);
    }
    r.bulk(b"groups");
    r.array(stream.groups.len());
    for (name, g) in &stream.groups {
        r.map(7);
        r.bulk(b"name");
        r.bulk(name);
        reply_group_cursor(r, stream, g);
        r.bulk(b"pel-count");
        r.int(g.pel.len() as i64);
        r.bulk(b"pending");
        r.array(g.pel.len().min(limit));
        for (id, p) in g.pel.iter().take(limit) {
            r.array(4);
            reply_id(r, *id);
            r.bulk(&p.consumer);
            r.int(p.delivery_time);
            r.int(p.delivery_count as i64);
        }
        r.bulk(b"consumers");
        r.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            r.map(4);
            r.bulk(b"name");
            r.bulk(cname);
            r.bulk(b"seen-time");
            r.int(c.seen_time);
            r.bulk(b"pel-count");
            r.int(c.pel.len() as i64);
            r.bulk(b"pending");
            r.array(c.pel.len().min(limit));
            for id in c.pel.iter().take(limit) {
                let p = &g.pel[id];
                r.array(3);
                reply_id(r, *id);
                r.int(p.delivery_time);
                r.int(p.delivery_count as i64);
            }
        }
    }
    Ok(())
}

fn xack(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let has_group = read_stream(ctx, argv[1])?.is_some_and(|s| s.groups.contains_key(argv[2]));
    if !has_group {
        ctx.reply().int(0);
        return Ok(());
    }
    let ids = argv[3..].iter().map(|a| parse_id(a, 0, IdSyntax::Strict)).collect::<Result<Vec<_>, _>>()?;
    let db = ctx.client.db;
    let group = stream_at(ctx.srv, db, argv[1])?.expect("checked").groups.get_mut(argv[2]).expect("checked");
    let acked = ids.into_iter().filter(|id| group.ack(*id)).count();
    ctx.mark_dirty(acked as u64);
    ctx.reply().int(acked as i64);
    Ok(())
}

fn no_group(key: &[u8], group: &[u8]) -> CmdError {
    format!("NOGROUP No such key '{}' or consumer group '{}'", lossy(key), lossy(group)).into()
}

fn xpending(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let summary = argv.len() == 3;
    if argv.len() != 3 && !(6..=9).contains(&argv.len()) {
        return Err(errors::SYNTAX.into());
    }
    let mut range = None;
    let mut consumer: Option<&[u8]> = None;
    let mut min_idle = 0i64;
    if !summary {
        let mut at = 3;
        if argv[3].eq_ignore_ascii_case(b"idle") {
            min_idle = parse_count(argv[4])?;
            if argv.len() < 8 {
                return Err(errors::SYNTAX.into());
            }
            at += 2;
        }
        let count = parse_count(argv[at + 2])?.max(0);
        let start = parse_start(argv[at])?;
        let end = parse_end(argv[at + 1])?;
        consumer = argv.get(at + 3).copied();
        range = Some((start, end, count));
    }
    let now = ctx.now_ms();
    let (key, name) = (argv[1], argv[2]);
    ctx.lookup_read(key);
    let stream = stream_at(ctx.srv, ctx.client.db, key)?;
    let group = stream.and_then(|s| s.groups.get(name)).ok_or_else(|| no_group(key, name))?;
    let r = &mut ctx.client.reply;
    let Some((start, end, count)) = range else {
        r.array(4);
        r.int(group.pel.len() as i64);
        match (group.pel.first_key_value(), group.pel.last_key_value()) {
            (Some((first, _)), Some((last, _))) => {
                reply_id(r, *first);
                reply_id(r, *last);
                let busy: Vec<_> = group.consumers.iter().filter(|(_, c)| !c.pel.is_empty()).collect();
                r.array(busy.len());
                for (cname, c) in busy {
                    r.array(2);
                    r.bulk(cname);
                    r.bulk_i64(c.pel.len() as i64);
                }
            }
            _ => {
                r.null();
                r.null();
                r.null_array();
            }
        }
        return Ok(());
    };
    let ids: Vec<StreamId> = match consumer {
        Some(c) => match group.consumers.get(c) {
            Some(c) => c.pel.range(start..).copied().collect(),
            None => {
                r.array(0);
                return Ok(());
            }
        },
        None => group.pel.range(start..).map(|(id, _)| *id).collect(),
    };
    let rows: Vec<_> = if start > end {
        Vec::new()
    } else {
        ids.into_iter()
            .take_while(|id| *id <= end)
            .map(|id| (id, &group.pel[&id]))
            .filter(|(_, p)| min_idle == 0 || now - p.delivery_time >= min_idle)
            .take(count as usize)
            .collect()
    };
    r.array(rows.len());
    for (id, p) in rows {
        r.array(4);
        reply_id(r, id);
        r.bulk(&p.consumer);
        r.int((now - p.delivery_time).max(0));
        r.int(p.delivery_count as i64);
    }
    Ok(())
}

/// Finds or creates the claiming consumer, refreshing its seen-time.
/// Returns whether it was created.
fn claiming_consumer(group: &mut ConsumerGroup, name: &[u8], now: i64) -> bool {
    let created = !group.consumers.contains_key(name);
    group.consumers.entry(Box::from(name)).or_default().seen_time = now;
    created
}

fn parse_claim_number(arg: &[u8], what: &str) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or_else(|| format!("ERR Invalid {what} argument for XCLAIM").into())
}

fn xclaim(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let (key, name, consumer) = (argv[1], argv[2], argv[3]);
    let stream = read_stream(ctx, key)?;
    if stream.and_then(|s| s.groups.get(name)).is_none() {
        return Err(no_group(key, name));
    }
    let min_idle = parse_i64(argv[4]).ok_or("ERR Invalid min-idle-time argument for XCLAIM")?.max(0);
    let now = ctx.now_ms();
    let mut ids = Vec::new();
    let mut j = 5;
    while j < argv.len() {
        match parse_id(argv[j], 0, IdSyntax::Strict) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let (mut force, mut justid) = (false, false);
    let mut delivery_time = -1i64;
    let mut retry_count = -1i64;
    let mut last_id = StreamId::MIN;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let opt = argv[j];
        if opt.eq_ignore_ascii_case(b"force") {
            force = true;
        } else if opt.eq_ignore_ascii_case(b"justid") {
            justid = true;
        } else if opt.eq_ignore_ascii_case(b"idle") && more > 0 {
            j += 1;
            delivery_time = now - parse_claim_number(argv[j], "IDLE option")?;
        } else if opt.eq_ignore_ascii_case(b"time") && more > 0 {
            j += 1;
            delivery_time = parse_claim_number(argv[j], "TIME option")?;
        } else if opt.eq_ignore_ascii_case(b"retrycount") && more > 0 {
            j += 1;
            retry_count = parse_claim_number(argv[j], "RETRYCOUNT option")?;
        } else if opt.eq_ignore_ascii_case(b"lastid") && more > 0 {
            j += 1;
            last_id = parse_id(argv[j], 0, IdSyntax::Strict)?;
        } else {
            return Err(format!("ERR Unrecognized XCLAIM option '{}'", lossy(opt)).into());
        }
        j += 1;
    }
    let delivery_time =
        if delivery_time == -1 || delivery_time < 0 || delivery_time > now { now } else { delivery_time };
    let db = ctx.client.db;
    let stream = stream_at(ctx.srv, db, key)?.expect("checked above");
    let mut props = Vec::new();
    let mut propagate_last_id = false;
    {
        let group = stream.groups.get_mut(name).expect("checked above");
        if last_id > group.last_id {
            group.last_id = last_id;
            propagate_last_id = true;
        }
    }
    let mut body = Reply::new(ctx.client.reply.resp);
    let mut claimed = 0;
    let mut consumer_ready = false;
    let mut created = false;
    for id in ids {
        let exists = stream.get(id).is_some();
        let group = stream.groups.get_mut(name).expect("checked above");
        let pending = group.pel.get(&id).cloned();
        if !exists {
            if pending.is_some() {
                props.push(xclaim_propagation(key, name, group, id));
                propagate_last_id = false;
                group.ack(id);
            }
            continue;
        }
        // FORCE makes a fresh pending entry (delivered once, to nobody yet).
        let delivery_count = match pending {
            Some(p) if min_idle != 0 && now - p.delivery_time < min_idle => continue,
            Some(p) => p.delivery_count,
            None if force => 1,
            None => continue,
        };
        if !consumer_ready {
            created = claiming_consumer(group, consumer, now);
            consumer_ready = true;
        }
        let count = if retry_count >= 0 { retry_count as u64 } else { delivery_count + u64::from(!justid) };
        group.assign(id, consumer, delivery_time, count);
        props.push(xclaim_propagation(key, name, group, id));
        propagate_last_id = false;
        if justid {
            reply_id(&mut body, id);
        } else {
            reply_entry(&mut body, id, stream.get(id).expect("exists"));
        }
        claimed += 1;
    }
    if propagate_last_id {
        props.push(setid_propagation(key, name, &stream.groups[name]));
    }
    let r = ctx.reply();
    r.array(claimed);
    r.raw(body.bytes());
    if created {
        notify_consumer_created(ctx, key);
    }
    // One change per propagated claim, deletion or cursor move, plus a new consumer.
    propagate_group_effects(ctx, props.len() as u64 + u64::from(created), props);
    Ok(())
}

fn xautoclaim(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let (key, name, consumer) = (argv[1], argv[2], argv[3]);
    let min_idle = parse_i64(argv[4]).ok_or("ERR Invalid min-idle-time argument for XAUTOCLAIM")?.max(0);
    let start = parse_start(argv[5])?;
    let mut count = 100i64;
    let mut justid = false;
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if argv[j].eq_ignore_ascii_case(b"count") && more > 0 {
            let max = i64::MAX / 16;
            count = parse_i64(argv[j + 1]).filter(|n| (1..=max).contains(n)).ok_or("ERR COUNT must be > 0")?;
            j += 1;
        } else if argv[j].eq_ignore_ascii_case(b"justid") {
            justid = true;
        } else {
            return Err(errors::SYNTAX.into());
        }
        j += 1;
    }
    let stream = read_stream(ctx, key)?;
    if stream.and_then(|s| s.groups.get(name)).is_none() {
        return Err(no_group(key, name));
    }
    let now = ctx.now_ms();
    let db = ctx.client.db;
    let stream = stream_at(ctx.srv, db, key)?.expect("checked above");
    let mut attempts = count.saturating_mul(10);
    let candidates: Vec<StreamId> = stream.groups[name].pel.range(start..).map(|(id, _)| *id).collect();
    let mut next = 0;
    let mut body = Reply::new(ctx.client.reply.resp);
    let mut claimed = 0;
    let mut deleted = Vec::new();
    let mut props = Vec::new();
    let mut consumer_ready = false;
    let mut created = false;
    while attempts > 0 && count > 0 && next < candidates.len() {
        attempts -= 1;
        let id = candidates[next];
        next += 1;
        let exists = stream.get(id).is_some();
        let group = stream.groups.get_mut(name).expect("checked above");
        if !exists {
            props.push(xclaim_propagation(key, name, group, id));
            group.ack(id);
            deleted.push(id);
            count -= 1;
            continue;
        }
        let pending = &group.pel[&id];
        if min_idle != 0 && now - pending.delivery_time < min_idle {
            continue;
        }
        let delivery_count = pending.delivery_count + u64::from(!justid);
        if !consumer_ready {
            created = claiming_consumer(group, consumer, now);
            consumer_ready = true;
        }
        group.assign(id, consumer, now, delivery_count);
        props.push(xclaim_propagation(key, name, group, id));
        if justid {
            reply_id(&mut body, id);
        } else {
            reply_entry(&mut body, id, stream.get(id).expect("exists"));
        }
        claimed += 1;
        count -= 1;
    }
    let cursor = candidates.get(next).copied().unwrap_or(StreamId::MIN);
    let r = ctx.reply();
    r.array(3);
    reply_id(r, cursor);
    r.array(claimed);
    r.raw(body.bytes());
    r.array(deleted.len());
    for id in deleted {
        reply_id(r, id);
    }
    if created {
        notify_consumer_created(ctx, key);
    }
    // One change per propagated claim, deletion or cursor move, plus a new consumer.
    propagate_group_effects(ctx, props.len() as u64 + u64::from(created), props);
    Ok(())
}
