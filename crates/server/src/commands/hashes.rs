//! Hash commands: HSET/HSETNX/HMSET, HGET/HMGET/HGETALL/HKEYS/HVALS, HLEN,
//! HEXISTS, HSTRLEN, HDEL, HINCRBY/HINCRBYFLOAT, HRANDFIELD and HSCAN.
//!
//! The data structure and its listpack/hashtable encodings live in
//! `cinnabar_storage::hash`; this file applies Redis's command rules around
//! it: argument checks in Redis's order, creating and deleting keys, the
//! encoding limits from the configuration, and what is propagated
//! (HINCRBYFLOAT as HSET with the resulting value). The collection SCAN
//! option parser shared with SSCAN lives here too.

use cinnabar_protocol::numbers::parse_i64;
use cinnabar_protocol::Reply;
use cinnabar_storage::glob;
use cinnabar_storage::listpack::LpValue;
use cinnabar_storage::{Hash, HashLimits, Value};

use super::keyspace::parse_cursor;
use super::long_double::{try_add, AddError};
use crate::command::context::errors;
use crate::command::{acl, doc_flags, flags::*, key_flags::*, Arg, CmdError, CmdResult, CommandSpec, Ctx, KeySpec};
use crate::notify;

const SCAN_COMPLEXITY: &str = "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..";

/// A one-key hash command; the fields that differ are given.
macro_rules! hash_command {
    ($name:literal, $arity:expr, $flags:expr, $keyflags:expr, $handler:ident, $summary:literal, $complexity:expr, $args:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            acl: acl::HASH,
            key_specs: &[KeySpec::single(1, $keyflags)],
            handler: Some($handler),
            group: "hash",
            since: "2.0.0",
            summary: $summary,
            complexity: $complexity,
            args: $args,
            ..CommandSpec::DEFAULT
        }
    };
}

const KEY_ONLY: &[Arg] = &[Arg::key("key", 0)];
const KEY_FIELD: &[Arg] = &[Arg::key("key", 0), Arg::string("field")];
const KEY_FIELDS: &[Arg] = &[Arg::key("key", 0), Arg::string("field").multiple()];
const FIELD_VALUES: &[Arg] =
    &[Arg::key("key", 0), Arg::block("field_value", &[Arg::string("field"), Arg::string("value")]).multiple()];
/// The arguments HSCAN and SSCAN share.
pub(crate) const SCAN_ARGS: &[Arg] = &[
    Arg::key("key", 0),
    Arg::integer("cursor"),
    Arg::pattern("pattern").token("MATCH").optional(),
    Arg::integer("count").token("COUNT").optional(),
];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        history: &[("4.0.0", "Takes several field/value pairs.")],
        ..hash_command!(
            "hset",
            -4,
            WRITE | DENYOOM | FAST,
            RW | UPDATE,
            hset,
            "Set fields of a hash",
            "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.",
            FIELD_VALUES
        )
    },
    hash_command!(
        "hsetnx",
        4,
        WRITE | DENYOOM | FAST,
        RW | INSERT,
        hsetnx,
        "Set a hash field only if it is absent",
        "O(1)",
        &[Arg::key("key", 0), Arg::string("field"), Arg::string("value")]
    ),
    CommandSpec {
        doc_flags: doc_flags::DEPRECATED,
        deprecated_since: "4.0.0",
        replaced_by: "`HSET` with multiple field-value pairs",
        ..hash_command!(
            "hmset",
            -4,
            WRITE | DENYOOM | FAST,
            RW | UPDATE,
            hmset,
            "Set fields of a hash, replying OK",
            "O(N) where N is the number of fields being set.",
            FIELD_VALUES
        )
    },
    hash_command!("hget", 3, READONLY | FAST, RO | ACCESS, hget, "Get the value of a hash field", "O(1)", KEY_FIELD),
    hash_command!(
        "hmget",
        -3,
        READONLY | FAST,
        RO | ACCESS,
        hmget,
        "Get the values of several hash fields",
        "O(N) where N is the number of fields being requested.",
        KEY_FIELDS
    ),
    CommandSpec {
        tips: &["nondeterministic_output_order"],
        ..hash_command!("hgetall", 2, READONLY, RO | ACCESS, hgetall, "Get every field and value of a hash", "O(N) where N is the size of the hash.", KEY_ONLY)
    },
    CommandSpec {
        tips: &["nondeterministic_output_order"],
        ..hash_command!("hkeys", 2, READONLY, RO | ACCESS, hkeys, "Get every field of a hash", "O(N) where N is the size of the hash.", KEY_ONLY)
    },
    CommandSpec {
        tips: &["nondeterministic_output_order"],
        ..hash_command!("hvals", 2, READONLY, RO | ACCESS, hvals, "Get every value of a hash", "O(N) where N is the size of the hash.", KEY_ONLY)
    },
    hash_command!("hlen", 2, READONLY | FAST, RO, hlen, "Count the fields of a hash", "O(1)", KEY_ONLY),
    hash_command!("hexists", 3, READONLY | FAST, RO, hexists, "Tell whether a hash field exists", "O(1)", KEY_FIELD),
    CommandSpec {
        history: &[("2.4.0", "Takes several fields.")],
        ..hash_command!(
            "hdel",
            -3,
            WRITE | FAST,
            RW | DELETE,
            hdel,
            "Remove fields from a hash",
            "O(N) where N is the number of fields to be removed.",
            KEY_FIELDS
        )
    },
    CommandSpec {
        since: "3.2.0",
        ..hash_command!("hstrlen", 3, READONLY | FAST, RO, hstrlen, "Get the length of a hash field's value", "O(1)", KEY_FIELD)
    },
    hash_command!(
        "hincrby",
        4,
        WRITE | DENYOOM | FAST,
        RW | ACCESS | UPDATE,
        hincrby,
        "Add an integer to a hash field",
        "O(1)",
        &[Arg::key("key", 0), Arg::string("field"), Arg::integer("increment")]
    ),
    CommandSpec {
        since: "2.6.0",
        ..hash_command!(
            "hincrbyfloat",
            4,
            WRITE | DENYOOM | FAST,
            RW | ACCESS | UPDATE,
            hincrbyfloat,
            "Add a floating point number to a hash field",
            "O(1)",
            &[Arg::key("key", 0), Arg::string("field"), Arg::double("increment")]
        )
    },
    CommandSpec {
        since: "6.2.0",
        tips: &["nondeterministic_output"],
        ..hash_command!(
            "hrandfield",
            -2,
            READONLY,
            RO | ACCESS,
            hrandfield,
            "Get random fields of a hash",
            "O(N) where N is the number of fields returned",
            &[
                Arg::key("key", 0),
                Arg::block(
                    "options",
                    &[Arg::integer("count"), Arg::pure_token("withvalues", "WITHVALUES").optional()]
                )
                .optional()
            ]
        )
    },
    CommandSpec {
        since: "2.8.0",
        tips: &["nondeterministic_output"],
        ..hash_command!("hscan", -3, READONLY, RO | ACCESS, hscan, "Iterate over the fields and values of a hash", SCAN_COMPLEXITY, SCAN_ARGS)
    },
];

/// Replies one stored element as a bulk string.
pub(crate) fn reply_element(reply: &mut Reply, v: LpValue) {
    match v {
        LpValue::Int(i) => reply.bulk_i64(i),
        LpValue::Str(s) => reply.bulk(s),
    }
}

fn limits(ctx: &Ctx) -> HashLimits {
    let config = &ctx.srv.config;
    HashLimits {
        max_listpack_entries: usize::try_from(config.hash_max_listpack_entries).unwrap_or(usize::MAX),
        max_listpack_value: usize::try_from(config.hash_max_listpack_value).unwrap_or(usize::MAX),
    }
}

/// The hash at `key` for writing, created empty if absent (Redis's
/// `hashTypeLookupWriteOrCreate`); the caller always adds a field to a new one.
fn hash_or_create<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<&'c mut Hash, CmdError> {
    if ctx.write_hash(key)?.is_none() {
        ctx.set_key(key, Value::Hash(Default::default()), false);
    }
    Ok(ctx.write_hash(key)?.expect("created above"))
}

/// Deletes the key if a command left its hash empty.
fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) {
    if ctx.db().get(key).and_then(|e| e.value.as_hash()).is_some_and(Hash::is_empty) {
        ctx.delete_key(key);
        ctx.notify(notify::GENERIC, "del", key);
    }
}

/// Sets the pairs in `argv[2..]`; returns how many fields were new.
fn set_pairs(ctx: &mut Ctx, argv: &[&[u8]], name: &str) -> Result<i64, CmdError> {
    if argv.len() % 2 == 1 {
        return Err(format!("ERR wrong number of arguments for '{name}' command").into());
    }
    let limits = limits(ctx);
    let hash = hash_or_create(ctx, argv[1])?;
    hash.prepare_for(&argv[2..], limits);
    let created = argv[2..].chunks(2).filter(|pair| hash.set(pair[0], pair[1], limits)).count() as i64;
    ctx.mark_dirty((argv.len() as u64 - 2) / 2);
    ctx.notify(notify::HASH, "hset", argv[1]);
    Ok(created)
}

fn hset(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let created = set_pairs(ctx, argv, "hset")?;
    ctx.reply().int(created);
    Ok(())
}

fn hmset(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    set_pairs(ctx, argv, "hmset")?;
    ctx.reply().ok();
    Ok(())
}

fn hsetnx(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let limits = limits(ctx);
    let hash = hash_or_create(ctx, argv[1])?;
    if hash.contains(argv[2]) {
        ctx.reply().int(0);
        return Ok(());
    }
    hash.prepare_for(&argv[2..4], limits);
    hash.set(argv[2], argv[3], limits);
    ctx.mark_dirty(1);
    ctx.notify(notify::HASH, "hset", argv[1]);
    ctx.reply().int(1);
    Ok(())
}

fn hget(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let hash = ctx.read_hash(argv[1])?;
    let found = hash.and_then(|h| h.get(argv[2]).map(|v| v.to_vec()));
    match found {
        Some(v) => ctx.reply().bulk(&v),
        None => ctx.reply().null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    ctx.read_hash(argv[1])?;
    let Ctx { srv, client, .. } = ctx;
    let hash = srv.dbs[client.db].get(argv[1]).and_then(|e| e.value.as_hash());
    let reply = &mut client.reply;
    reply.array(argv.len() - 2);
    for field in &argv[2..] {
        match hash.and_then(|h| h.get(field)) {
            Some(v) => reply_element(reply, v),
            None => reply.null(),
        }
    }
    Ok(())
}

/// What HGETALL, HKEYS and HVALS return of each pair.
#[derive(Clone, Copy, PartialEq)]
enum Parts {
    Both,
    Fields,
    Values,
}

fn reply_all(ctx: &mut Ctx, key: &[u8], parts: Parts) -> CmdResult {
    ctx.read_hash(key)?;
    let Ctx { srv, client, .. } = ctx;
    let hash = srv.dbs[client.db].get(key).and_then(|e| e.value.as_hash());
    let reply = &mut client.reply;
    let len = hash.map_or(0, Hash::len);
    if parts == Parts::Both {
        reply.map(len);
    } else {
        reply.array(len);
    }
    for (field, value) in hash.into_iter().flat_map(|h| h.iter()) {
        if parts != Parts::Values {
            reply_element(reply, field);
        }
        if parts != Parts::Fields {
            reply_element(reply, value);
        }
    }
    Ok(())
}

fn hgetall(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    reply_all(ctx, argv[1], Parts::Both)
}

fn hkeys(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    reply_all(ctx, argv[1], Parts::Fields)
}

fn hvals(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    reply_all(ctx, argv[1], Parts::Values)
}

fn hlen(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let len = ctx.read_hash(argv[1])?.map_or(0, |h| h.len());
    ctx.reply().int(len as i64);
    Ok(())
}

fn hexists(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let found = ctx.read_hash(argv[1])?.is_some_and(|h| h.contains(argv[2]));
    ctx.reply().int(i64::from(found));
    Ok(())
}

fn hstrlen(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let len = ctx.read_hash(argv[1])?.and_then(|h| h.get(argv[2]).map(|v| v.to_vec().len())).unwrap_or(0);
    ctx.reply().int(len as i64);
    Ok(())
}

fn hdel(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let Some(hash) = ctx.write_hash(argv[1])? else {
        ctx.reply().int(0);
        return Ok(());
    };
    let mut deleted = 0;
    for field in &argv[2..] {
        if hash.remove(field) {
            deleted += 1;
            if hash.is_empty() {
                break;
            }
        }
    }
    if deleted > 0 {
        ctx.notify(notify::HASH, "hdel", argv[1]);
    }
    delete_if_empty(ctx, argv[1]);
    ctx.mark_dirty(deleted);
    ctx.reply().int(deleted as i64);
    Ok(())
}

fn hincrby(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let incr = parse_i64(argv[3]).ok_or(errors::NOT_INTEGER)?;
    let limits = limits(ctx);
    let hash = hash_or_create(ctx, argv[1])?;
    let old = match hash.get(argv[2]) {
        None => 0,
        Some(v) => v.as_i64().ok_or("ERR hash value is not an integer")?,
    };
    let new = old.checked_add(incr).ok_or(errors::OVERFLOW)?;
    hash.set(argv[2], new.to_string().as_bytes(), limits);
    ctx.mark_dirty(1);
    ctx.notify(notify::HASH, "hincrby", argv[1]);
    ctx.reply().int(new);
    Ok(())
}

fn hincrbyfloat(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let (key, field, incr) = (argv[1], argv[2], argv[3]);
    match try_add(b"0", incr) {
        Err(AddError::NotFinite) => return Err("ERR value is NaN or Infinity".into()),
        Err(_) => return Err(errors::NOT_FLOAT.into()),
        Ok(_) => {}
    }
    let limits = limits(ctx);
    let hash = hash_or_create(ctx, key)?;
    let old = hash.get(field).map_or_else(|| b"0".to_vec(), |v| v.to_vec());
    let new = try_add(&old, incr).map_err(|e| match e {
        AddError::NotFinite => "ERR increment would produce NaN or Infinity",
        _ => "ERR hash value is not a float",
    })?;
    hash.set(field, &new, limits);
    ctx.mark_dirty(1);
    ctx.notify(notify::HASH, "hincrbyfloat", key);
    ctx.propagate_as(vec![b"HSET".to_vec(), key.to_vec(), field.to_vec(), new.clone()]);
    ctx.reply().bulk(&new);
    Ok(())
}

/// A count argument as Redis's `getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX)` reads it.
pub(crate) fn parse_sample_count(arg: &[u8]) -> Result<i64, CmdError> {
    let count = parse_i64(arg).ok_or(errors::NOT_INTEGER)?;
    if count == i64::MIN {
        return Err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807".into());
    }
    Ok(count)
}

fn hrandfield(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv.len() == 2 {
        let pair = ctx.read_hash(argv[1])?.and_then(|h| h.random_pair().map(|(f, _)| f.to_vec()));
        match pair {
            Some(field) => ctx.reply().bulk(&field),
            None => ctx.reply().null(),
        }
        return Ok(());
    }
    let count = parse_sample_count(argv[2])?;
    let with_values = match argv.get(3) {
        None => false,
        Some(arg) if argv.len() == 4 && arg.eq_ignore_ascii_case(b"withvalues") => true,
        Some(_) => return Err(errors::SYNTAX.into()),
    };
    if with_values && !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
        return Err("ERR value is out of range".into());
    }
    ctx.read_hash(argv[1])?;
    let Ctx { srv, client, .. } = ctx;
    let hash = srv.dbs[client.db].get(argv[1]).and_then(|e| e.value.as_hash());
    let reply = &mut client.reply;
    let Some(hash) = hash.filter(|_| count != 0) else {
        reply.array(0);
        return Ok(());
    };
    let (len, pairs) = if count < 0 {
        let len = count.unsigned_abs() as usize;
        (len, hash.sample_with_repeats(len))
    } else {
        let pairs = hash.sample_unique(count as usize);
        (pairs.len(), Box::new(pairs.into_iter()) as Box<dyn Iterator<Item = _>>)
    };
    let resp3 = reply.is_resp3();
    reply.array(if with_values && !resp3 { len * 2 } else { len });
    for (field, value) in pairs {
        if with_values && resp3 {
            reply.array(2);
        }
        reply_element(reply, field);
        if with_values {
            reply_element(reply, value);
        }
    }
    Ok(())
}

/// HSCAN/SSCAN options (no TYPE: that is SCAN's alone).
pub(crate) struct CollectionScan<'a> {
    pub cursor: u64,
    pub count: usize,
    pub pattern: Option<&'a [u8]>,
}

impl CollectionScan<'_> {
    /// Whether an element (a hash field, a set member) goes into the reply.
    pub fn keeps(&self, element: &[u8]) -> bool {
        self.pattern.is_none_or(|p| glob::matches(p, element, false))
    }
}

/// Parses the options after the cursor, in Redis's order of checks.
pub(crate) fn parse_collection_scan<'a>(cursor: u64, args: &[&'a [u8]]) -> Result<CollectionScan<'a>, CmdError> {
    let mut scan = CollectionScan { cursor, count: 10, pattern: None };
    let mut rest = args;
    while let [option, tail @ ..] = rest {
        let [value, tail @ ..] = tail else {
            return Err(errors::SYNTAX.into());
        };
        if option.eq_ignore_ascii_case(b"count") {
            let count = parse_i64(value).ok_or(errors::NOT_INTEGER)?;
            scan.count = usize::try_from(count).ok().filter(|&c| c >= 1).ok_or(errors::SYNTAX)?;
        } else if option.eq_ignore_ascii_case(b"match") {
            scan.pattern = Some(*value).filter(|p| *p != b"*");
        } else {
            return Err(errors::SYNTAX.into());
        }
        rest = tail;
    }
    Ok(scan)
}

/// The reply to a SCAN-family command on a missing key.
pub(crate) fn reply_empty_scan(reply: &mut Reply) {
    reply.array(2);
    reply.bulk(b"0");
    reply.array(0);
}

/// Reads the cursor argument (checked before the key, as Redis does).
pub(crate) fn scan_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    parse_cursor(arg).ok_or_else(|| "ERR invalid cursor".into())
}

fn hscan(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let cursor = scan_cursor(argv[2])?;
    if ctx.read_hash(argv[1])?.is_none() {
        reply_empty_scan(ctx.reply());
        return Ok(());
    }
    let scan = parse_collection_scan(cursor, &argv[3..])?;
    let Ctx { srv, client, .. } = ctx;
    let hash = srv.dbs[client.db].get(argv[1]).and_then(|e| e.value.as_hash()).expect("checked above");
    let mut found: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut next = scan.cursor;
    // Like Redis, visit at most ten buckets per wanted element.
    let mut budget = scan.count * 10;
    loop {
        next = hash.scan(next, |(f, v)| found.push((f.to_vec(), v.to_vec())));
        budget -= 1;
        if next == 0 || budget == 0 || found.len() >= scan.count {
            break;
        }
    }
    found.retain(|(field, _)| scan.keeps(field));
    let reply = &mut client.reply;
    reply.array(2);
    reply.bulk(next.to_string().as_bytes());
    reply.array(found.len() * 2);
    for (field, value) in &found {
        reply.bulk(field);
        reply.bulk(value);
    }
    Ok(())
}
