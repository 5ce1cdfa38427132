//! Generic keyspace commands: DEL, UNLINK, EXISTS, TYPE, TOUCH, RENAME,
//! RENAMENX, COPY, MOVE, SWAPDB, FLUSHDB, FLUSHALL, DBSIZE, KEYS, SCAN,
//! RANDOMKEY. They work on keys whatever their type; type-specific commands
//! live in their own families.

use cinnabar_protocol::numbers::parse_i64;
use cinnabar_storage::glob;
use cinnabar_storage::{Entry, SmallBytes};

use crate::command::context::errors;
use crate::command::{acl, flags::*, key_flags::*, Arg, CmdError, CmdResult, CommandSpec, Ctx, KeySpec, ModifiedKeys};
use crate::notify;
use crate::server::Server;

const MULTI_SHARD_SUM: &[&str] = &["request_policy:multi_shard", "response_policy:agg_sum"];
const ALL_SHARDS_SUCCEEDED: &[&str] = &["request_policy:all_shards", "response_policy:all_succeeded"];
const SAME_OBJECT: &str = "ERR source and destination objects are the same";

/// COMMAND DOCS arguments of RENAME and RENAMENX.
const RENAME_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::key("newkey", 1)];
/// COMMAND DOCS arguments of FLUSHDB and FLUSHALL.
const FLUSH_ARGS: &[Arg] = &[Arg::one_of(
    "async",
    &[Arg::pure_token("async", "ASYNC").since("4.0.0"), Arg::pure_token("sync", "SYNC").since("6.2.0")],
)
.optional()];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "del",
        arity: -2,
        flags: WRITE,
        acl: acl::KEYSPACE,
        key_specs: &[KeySpec::range(1, -1, 1, RM | DELETE)],
        // Only the keys that existed change.
        modified_keys: ModifiedKeys::ReportedByHandler,
        tips: MULTI_SHARD_SUM,
        args: &[Arg::key("key", 0).multiple()],
        handler: Some(del),
        summary: "Delete keys",
        complexity: "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "unlink",
        arity: -2,
        flags: WRITE | FAST,
        acl: acl::KEYSPACE,
        key_specs: &[KeySpec::range(1, -1, 1, RM | DELETE)],
        // Only the keys that existed change.
        modified_keys: ModifiedKeys::ReportedByHandler,
        tips: MULTI_SHARD_SUM,
        handler: Some(unlink),
        since: "4.0.0",
        summary: "Delete keys, reclaiming large values' memory in a background thread",
        complexity: "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.",
        args: &[
            Arg::key("key", 0).multiple(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "exists",
        arity: -2,
        flags: READONLY | FAST,
        acl: acl::KEYSPACE,
        key_specs: &[KeySpec::range(1, -1, 1, RO)],
        tips: MULTI_SHARD_SUM,
        args: &[Arg::key("key", 0).multiple()],
        handler: Some(exists),
        summary: "Count how many of the given keys exist",
        complexity: "O(N) where N is the number of keys to check.",
        history: &[("3.0.3", "Several keys may be given.")],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "type",
        arity: 2,
        flags: READONLY | FAST,
        acl: acl::KEYSPACE,
        key_specs: &[KeySpec::single(1, RO)],
        handler: Some(type_of),
        summary: "Report the type of the value at a key",
        complexity: "O(1)",
        args: &[
            Arg::key("key", 0),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "touch",
        arity: -2,
        flags: READONLY | FAST,
        acl: acl::KEYSPACE,
        key_specs: &[KeySpec::range(1, -1, 1, RO)],
        tips: MULTI_SHARD_SUM,
        handler: Some(touch),
        since: "3.2.1",
        summary: "Refresh the last access time of keys and count those that exist",
        complexity: "O(N) where N is the number of keys that will be touched.",
        args: &[
            Arg::key("key", 0).multiple(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "rename",
        arity: 3,
        flags: WRITE,
        acl: acl::KEYSPACE,
        key_specs: &[KeySpec::single(1, RW | ACCESS | DELETE), KeySpec::single(2, OW | UPDATE)],
        handler: Some(rename),
        summary: "Give a key a new name, replacing any key of that name",
        complexity: "O(1)",
        args: RENAME_ARGS,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "renamenx",
        arity: 3,
        flags: WRITE | FAST,
        acl: acl::KEYSPACE,
        key_specs: &[KeySpec::single(1, RW | ACCESS | DELETE), KeySpec::single(2, OW | INSERT)],
        handler: Some(renamenx),
        summary: "Give a key a new name unless that name is taken",
        complexity: "O(1)",
        history: &[("3.2.0", "Renaming a key to its own name is no longer an error.")],
        args: RENAME_ARGS,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "copy",
        arity: -3,
        flags: WRITE | DENYOOM,
        acl: acl::KEYSPACE,
        key_specs: &[KeySpec::single(1, RO | ACCESS), KeySpec::single(2, OW | UPDATE)],
        // The destination may be in another database.
        modified_keys: ModifiedKeys::ReportedByHandler,
        handler: Some(copy),
        since: "6.2.0",
        summary: "Duplicate a key's value and TTL under another name, possibly in another database",
        complexity: "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
        args: &[
            Arg::key("source", 0),
            Arg::key("destination", 1),
            Arg::integer("destination-db").token("DB").optional(),
            Arg::pure_token("replace", "REPLACE").optional(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "move",
        arity: 3,
        flags: WRITE | FAST,
        acl: acl::KEYSPACE,
        key_specs: &[KeySpec::single(1, RW | ACCESS | UPDATE)],
        // It changes the key in two databases.
        modified_keys: ModifiedKeys::ReportedByHandler,
        handler: Some(move_key),
        summary: "Transfer a key to another database",
        complexity: "O(1)",
        args: &[
            Arg::key("key", 0),
            Arg::integer("db"),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "swapdb",
        arity: 3,
        flags: WRITE | FAST,
        acl: acl::KEYSPACE | acl::DANGEROUS,
        handler: Some(swapdb),
        group: "server",
        since: "4.0.0",
        summary: "Exchange the contents of two databases",
        complexity: "O(N) where N is the count of clients watching or blocking on keys from both databases.",
        args: &[
            Arg::integer("index1"),
            Arg::integer("index2"),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "flushdb",
        arity: -1,
        flags: WRITE,
        acl: acl::KEYSPACE | acl::DANGEROUS,
        tips: ALL_SHARDS_SUCCEEDED,
        handler: Some(flushdb),
        group: "server",
        summary: "Delete every key of the selected database",
        complexity: "O(N) where N is the number of keys in the selected database",
        history: &[("4.0.0", "New ASYNC mode."), ("6.2.0", "New SYNC mode.")],
        args: FLUSH_ARGS,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "flushall",
        arity: -1,
        flags: WRITE,
        acl: acl::KEYSPACE | acl::DANGEROUS,
        tips: ALL_SHARDS_SUCCEEDED,
        handler: Some(flushall),
        group: "server",
        summary: "Delete every key of every database",
        complexity: "O(N) where N is the total number of keys in all databases",
        history: &[("4.0.0", "New ASYNC mode."), ("6.2.0", "New SYNC mode.")],
        args: FLUSH_ARGS,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "dbsize",
        arity: 1,
        flags: READONLY | FAST,
        acl: acl::KEYSPACE,
        tips: &["request_policy:all_shards", "response_policy:agg_sum"],
        handler: Some(dbsize),
        group: "server",
        summary: "Count the keys of the selected database",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "keys",
        arity: 2,
        flags: READONLY,
        acl: acl::KEYSPACE | acl::DANGEROUS,
        tips: &["request_policy:all_shards", "nondeterministic_output_order"],
        handler: Some(keys),
        summary: "List every key matching a glob pattern",
        complexity: "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
        args: &[
            Arg::pattern("pattern"),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "scan",
        arity: -2,
        flags: READONLY | TOUCHES_ARBITRARY_KEYS,
        acl: acl::KEYSPACE,
        tips: &["nondeterministic_output", "request_policy:special"],
        handler: Some(scan),
        since: "2.8.0",
        summary: "Walk the keyspace a few keys per call with a cursor",
        complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        history: &[("6.0.0", "New TYPE filter.")],
        args: &[
            Arg::integer("cursor"),
            Arg::pattern("pattern").token("MATCH").optional(),
            Arg::integer("count").token("COUNT").optional(),
            Arg::string("type").token("TYPE").since("6.0.0").optional(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "randomkey",
        arity: 1,
        flags: READONLY | TOUCHES_ARBITRARY_KEYS,
        acl: acl::KEYSPACE,
        tips: &["request_policy:all_shards", "nondeterministic_output"],
        handler: Some(randomkey),
        summary: "Pick a key at random",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
];

fn del(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let lazy = ctx.srv.config.lazyfree_lazy_user_del;
    delete_keys(ctx, &argv[1..], lazy)
}

fn unlink(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    delete_keys(ctx, &argv[1..], true)
}

/// DEL and UNLINK: they differ only in where large values are freed.
fn delete_keys(ctx: &mut Ctx, keys: &[&[u8]], lazy: bool) -> CmdResult {
    let db = ctx.db_index();
    let mut deleted = 0;
    for key in keys {
        ctx.expire_if_needed(key);
        if ctx.srv.remove_key(db, key, lazy) {
            deleted += 1;
            ctx.notify(notify::GENERIC, "del", key);
        }
    }
    ctx.mark_dirty(deleted);
    ctx.reply().int(deleted as i64);
    Ok(())
}

fn exists(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let count = argv[1..].iter().filter(|key| ctx.lookup_read_no_touch(key).is_some()).count();
    ctx.reply().int(count as i64);
    Ok(())
}

fn touch(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let count = argv[1..].iter().filter(|key| ctx.lookup_read(key).is_some()).count();
    ctx.reply().int(count as i64);
    Ok(())
}

fn type_of(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let name = type_name(ctx, argv[1]);
    ctx.reply().simple(name);
    Ok(())
}

/// The TYPE of a key ("none" if absent), looked up without counting as a use.
fn type_name(ctx: &mut Ctx, key: &[u8]) -> &'static str {
    ctx.lookup_read_no_touch(key).map_or("none", |entry| entry.value.type_name())
}

fn rename(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    rename_key(ctx, argv[1], argv[2], false)
}

fn renamenx(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    rename_key(ctx, argv[1], argv[2], true)
}

/// RENAME and RENAMENX: the value keeps its TTL and access time under the
/// new name.
fn rename_key(ctx: &mut Ctx, src: &[u8], dst: &[u8], nx: bool) -> CmdResult {
    if ctx.lookup_write(src).is_none() {
        return Err(errors::NO_SUCH_KEY.into());
    }
    if src == dst {
        reply_renamed(ctx, nx, false);
        return Ok(());
    }
    let db = ctx.db_index();
    if ctx.lookup_write(dst).is_some() {
        if nx {
            reply_renamed(ctx, nx, false);
            return Ok(());
        }
        let lazy = ctx.srv.config.lazyfree_lazy_server_del;
        ctx.srv.remove_key(db, dst, lazy);
    }
    let (entry, expire) = lift(ctx.srv, db, src);
    place(ctx, db, dst, entry, expire);
    ctx.mark_dirty(1);
    ctx.notify(notify::GENERIC, "rename_from", src);
    ctx.notify(notify::GENERIC, "rename_to", dst);
    reply_renamed(ctx, nx, true);
    Ok(())
}

/// RENAME always says OK; RENAMENX says whether it renamed.
fn reply_renamed(ctx: &mut Ctx, nx: bool, renamed: bool) {
    if nx {
        ctx.reply().int(i64::from(renamed));
    } else {
        ctx.reply().ok();
    }
}

/// Takes an existing `key` and its TTL out of database `db` to be placed
/// elsewhere (Redis's dbDelete, so the deletion is signalled).
fn lift(srv: &mut Server, db: usize, key: &[u8]) -> (Entry, Option<i64>) {
    let expire = srv.dbs[db].expire_at(key);
    let entry = srv.dbs[db].remove(key).expect("looked up by the caller");
    srv.signal_deleted(db, key, &entry.value);
    (entry, expire)
}

/// Stores `entry` at a free `key` of database `db`, with `expire` as its
/// TTL; clients blocked on the key may now be served, the key is announced
/// as new (Redis's dbAdd), and its watchers see it changed.
fn place(ctx: &mut Ctx, db: usize, key: &[u8], entry: Entry, expire: Option<i64>) {
    ctx.srv.dbs[db].set(key, entry, false);
    if let Some(when) = expire {
        ctx.srv.dbs[db].set_expire(key, when);
    }
    ctx.srv.blocking.signal(db, key);
    ctx.srv.signal_modified_key(db, key);
    ctx.notify_in(db, notify::NEW, "new", key);
}

fn copy(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let (src, dst) = (argv[1], argv[2]);
    let src_db = ctx.db_index();
    let mut dst_db = src_db;
    let mut replace = false;
    let mut i = 3;
    while i < argv.len() {
        if argv[i].eq_ignore_ascii_case(b"replace") {
            replace = true;
            i += 1;
        } else if argv[i].eq_ignore_ascii_case(b"db") && i + 1 < argv.len() {
            dst_db = parse_db_index(ctx.srv, argv[i + 1])?;
            i += 2;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    if src_db == dst_db && src == dst {
        return Err(SAME_OBJECT.into());
    }
    let Some(entry) = ctx.lookup_read(src) else {
        ctx.reply().int(0);
        return Ok(());
    };
    let value = entry.value.clone();
    let expire = ctx.srv.dbs[src_db].expire_at(src);
    ctx.srv.expire_if_needed(dst_db, dst, Some(ctx.client));
    if ctx.srv.dbs[dst_db].contains(dst) {
        if !replace {
            ctx.reply().int(0);
            return Ok(());
        }
        let lazy = ctx.srv.config.lazyfree_lazy_server_del;
        ctx.srv.remove_key(dst_db, dst, lazy);
    }
    let entry = Entry::new(value, ctx.srv.lru_clock());
    place(ctx, dst_db, dst, entry, expire);
    ctx.mark_dirty(1);
    ctx.notify_in(dst_db, notify::GENERIC, "copy_to", dst);
    ctx.reply().int(1);
    Ok(())
}

fn move_key(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let key = argv[1];
    let dst_db = parse_db_index(ctx.srv, argv[2])?;
    let src_db = ctx.db_index();
    if dst_db == src_db {
        return Err(SAME_OBJECT.into());
    }
    if ctx.lookup_write(key).is_none() {
        ctx.reply().int(0);
        return Ok(());
    }
    ctx.srv.expire_if_needed(dst_db, key, Some(ctx.client));
    if ctx.srv.dbs[dst_db].contains(key) {
        ctx.reply().int(0);
        return Ok(());
    }
    let (entry, expire) = lift(ctx.srv, src_db, key);
    place(ctx, dst_db, key, entry, expire);
    ctx.mark_dirty(1);
    ctx.notify_in(src_db, notify::GENERIC, "move_from", key);
    ctx.notify_in(dst_db, notify::GENERIC, "move_to", key);
    ctx.reply().int(1);
    Ok(())
}

/// A database number argument of MOVE and COPY, with Redis's errors for a
/// non-number, a number outside C's int, and a database that does not exist.
fn parse_db_index(srv: &Server, arg: &[u8]) -> Result<usize, CmdError> {
    let n = parse_i64(arg).ok_or(errors::NOT_INTEGER)?;
    let n = i32::try_from(n).map_err(|_| "ERR value is out of range, value must between -2147483648 and 2147483647")?;
    usize::try_from(n).ok().filter(|&i| i < srv.dbs.len()).ok_or_else(|| errors::DB_INDEX.into())
}

fn swapdb(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let as_int = |arg: &[u8]| parse_i64(arg).and_then(|n| i32::try_from(n).ok());
    let first = as_int(argv[1]).ok_or("ERR invalid first DB index")?;
    let second = as_int(argv[2]).ok_or("ERR invalid second DB index")?;
    let count = ctx.srv.dbs.len();
    let valid = |i: i32| usize::try_from(i).ok().filter(|&i| i < count);
    let (Some(first), Some(second)) = (valid(first), valid(second)) else {
        return Err(errors::DB_INDEX.into());
    };
    // Clients keep their selected index, so each now sees the other's data.
    let held_streams = [first, second].map(|db| waited_streams(ctx.srv, db));
    if first != second {
        ctx.srv.signal_swapped_dbs(first, second);
    }
    ctx.srv.dbs.swap(first, second);
    for (db, held_streams) in [first, second].into_iter().zip(held_streams) {
        signal_swapped_keys(ctx.srv, db, &held_streams);
    }
    ctx.mark_dirty(1);
    ctx.reply().ok();
    Ok(())
}

/// The keys of `db` that clients wait on and that hold streams.
fn waited_streams(srv: &Server, db: usize) -> Vec<Vec<u8>> {
    let holds_stream = |key: &Vec<u8>| srv.dbs[db].get(key).is_some_and(|e| e.value.type_name() == "stream");
    srv.blocking.keys_waited_in(db).into_iter().filter(holds_stream).collect()
}

/// After SWAPDB, as Redis 7.0: waited-on keys that now hold a type clients
/// block for are ready, and streams that went away tell their group readers.
fn signal_swapped_keys(srv: &mut Server, db: usize, held_streams: &[Vec<u8>]) {
    for key in srv.blocking.keys_waited_in(db) {
        let now = srv.dbs[db].get(&key).map(|e| e.value.type_name());
        let ready = matches!(now, Some("list" | "zset" | "stream"));
        let stream_gone = now != Some("stream") && held_streams.contains(&key);
        if ready || stream_gone {
            srv.blocking.signal(db, &key);
        }
    }
}

fn flushdb(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let lazy = flush_is_async(ctx, argv)?;
    let removed = empty_db(ctx.srv, ctx.client.db, lazy);
    crate::tracking::invalidate_all(ctx.srv);
    ctx.mark_dirty(removed);
    ctx.force_propagation();
    ctx.reply().ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let lazy = flush_is_async(ctx, argv)?;
    let removed: u64 = (0..ctx.srv.dbs.len()).map(|db| empty_db(ctx.srv, db, lazy)).sum();
    crate::persistence::rdb::reset_after_flushall(ctx.srv);
    crate::tracking::invalidate_all(ctx.srv);
    // Redis counts the flush itself as one more change.
    ctx.mark_dirty(removed + 1);
    ctx.force_propagation();
    ctx.reply().ok();
    Ok(())
}

/// FLUSHDB/FLUSHALL's optional ASYNC|SYNC; without it, lazyfree-lazy-user-flush decides.
fn flush_is_async(ctx: &Ctx, argv: &[&[u8]]) -> Result<bool, CmdError> {
    match argv {
        [_] => Ok(ctx.srv.config.lazyfree_lazy_user_flush),
        [_, mode] if mode.eq_ignore_ascii_case(b"sync") => Ok(false),
        [_, mode] if mode.eq_ignore_ascii_case(b"async") => Ok(true),
        _ => Err(errors::SYNTAX.into()),
    }
}

/// Empties one database, freeing its contents in the background if `lazy`.
/// Returns how many keys it held.
fn empty_db(srv: &mut Server, db: usize, lazy: bool) -> u64 {
    // Blocked group readers of a flushed stream are told it is gone.
    for key in waited_streams(srv, db) {
        srv.blocking.signal(db, &key);
    }
    srv.signal_flushed_db(db);
    let old = srv.dbs[db].take_all();
    let keys = old.len() as u64;
    if lazy {
        srv.lazyfree.free_db(old);
    }
    keys
}

fn dbsize(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let n = ctx.db().len() as i64;
    ctx.reply().int(n);
    Ok(())
}

fn keys(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let pattern = argv[1];
    let now = ctx.now_ms();
    let db = &ctx.srv.dbs[ctx.client.db];
    let reply = &mut ctx.client.reply;
    let header = reply.defer_array();
    let mut count = 0;
    for (key, _) in db.iter() {
        // Logically expired keys are hidden but left for expiry to delete.
        if pattern_matches(pattern, key) && !db.is_expired(key, now) {
            reply.bulk(key);
            count += 1;
        }
    }
    reply.finish(header, count);
    Ok(())
}

/// Glob matching as KEYS and SCAN MATCH apply it: a lone `*` matches every
/// key, the empty one included (the matcher alone would not).
fn pattern_matches(pattern: &[u8], key: &[u8]) -> bool {
    pattern == b"*" || glob::matches(pattern, key, false)
}

fn reply_keys(ctx: &mut Ctx, keys: &[SmallBytes]) {
    let reply = ctx.reply();
    reply.array(keys.len());
    for key in keys {
        reply.bulk(key);
    }
}

/// SCAN's options.
pub(crate) struct ScanOptions<'a> {
    pub count: u64,
    pub pattern: Option<&'a [u8]>,
    pub type_name: Option<&'a [u8]>,
}

fn scan(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let cursor = parse_cursor(argv[1]).ok_or("ERR invalid cursor")?;
    let options = parse_scan_options(&argv[2..])?;
    let db = ctx.db_index();
    let mut found: Vec<SmallBytes> = Vec::new();
    // Like Redis, visit at most ten empty buckets per wanted key, so a sparse
    // table cannot make one call slow.
    let mut budget = options.count.saturating_mul(10);
    let mut next = cursor;
    loop {
        next = ctx.srv.dbs[db].scan(next, |key, _| found.push(key.clone()));
        if next == 0 || budget == 0 || found.len() as u64 >= options.count {
            break;
        }
        budget -= 1;
    }
    found.retain(|key| scan_keeps(ctx, &options, key));
    let reply = ctx.reply();
    reply.array(2);
    reply.bulk(next.to_string().as_bytes());
    reply_keys(ctx, &found);
    Ok(())
}

pub(crate) fn parse_scan_options<'a>(args: &[&'a [u8]]) -> Result<ScanOptions<'a>, CmdError> {
    let mut options = ScanOptions { count: 10, pattern: None, type_name: None };
    let mut rest = args;
    while let [option, value, tail @ ..] = rest {
        if option.eq_ignore_ascii_case(b"count") {
            let count = parse_i64(value).ok_or(errors::NOT_INTEGER)?;
            options.count = u64::try_from(count).ok().filter(|&c| c >= 1).ok_or(errors::SYNTAX)?;
        } else if option.eq_ignore_ascii_case(b"match") {
            options.pattern = Some(*value).filter(|p| *p != b"*");
        } else if option.eq_ignore_ascii_case(b"type") {
            options.type_name = Some(*value);
        } else {
            return Err(errors::SYNTAX.into());
        }
        rest = tail;
    }
    if rest.is_empty() {
        Ok(options)
    } else {
        Err(errors::SYNTAX.into())
    }
}

/// Whether a key SCAN visited goes into the reply: it must match the pattern
/// and type, and not have expired (an expired key is deleted on the way).
fn scan_keeps(ctx: &mut Ctx, options: &ScanOptions, key: &[u8]) -> bool {
    if options.pattern.is_some_and(|p| !glob::matches(p, key, false)) {
        return false;
    }
    if let Some(wanted) = options.type_name {
        if !type_name(ctx, key).as_bytes().eq_ignore_ascii_case(wanted) {
            return false;
        }
    }
    !ctx.expire_if_needed(key)
}

/// A SCAN cursor, read as C's `strtoul` reads it (Redis relies on that): an
/// optional sign, where `-n` wraps around to 2^64 - n; an empty string is 0;
/// anything else that is not all digits, or does not fit 64 bits, is invalid.
pub(crate) fn parse_cursor(arg: &[u8]) -> Option<u64> {
    if arg.is_empty() {
        return Some(0);
    }
    let (negative, digits) = match arg[0] {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(if negative { value.wrapping_neg() } else { value })
}

fn randomkey(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    // Each expired pick is deleted, so this ends once a live key turns up or
    // the database is empty.
    loop {
        let Some(key) = ctx.db().random_key().cloned() else {
            ctx.reply().null();
            return Ok(());
        };
        if !ctx.expire_if_needed(&key) {
            ctx.reply().bulk(&key);
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_cursor;

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"17"), Some(17));
        assert_eq!(parse_cursor(b"+3"), Some(3));
        assert_eq!(parse_cursor(b"-0"), Some(0));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        for bad in [&b"18446744073709551616"[..], b"-", b"+", b" 1", b"1 ", b"1x", b"0x10"] {
            assert_eq!(parse_cursor(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
