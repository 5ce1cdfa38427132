//! Set commands: SADD, SREM, SMEMBERS, SISMEMBER/SMISMEMBER, SCARD, SPOP,
//! SRANDMEMBER, SMOVE, the SINTER/SUNION/SDIFF families (with their STORE
//! variants and SINTERCARD) and SSCAN.
//!
//! The intset/hashtable encodings live in `cinnabar_storage::set`; this file
//! applies Redis's rules: argument checks in Redis's order, keys created and
//! deleted with their sets, the result of a STORE built the way Redis builds
//! it (starting as an intset, so it ends in the encoding Redis would give),
//! and SPOP propagated as the SREMs (or DEL) it amounts to.

use cinnabar_protocol::numbers::parse_i64;
use cinnabar_protocol::Reply;
use cinnabar_storage::listpack::LpValue;
use cinnabar_storage::{Db, Set, Value};

use super::hashes::{
    parse_collection_scan, parse_sample_count, reply_element, reply_empty_scan, scan_cursor, SCAN_ARGS,
};
use crate::command::context::errors;
use crate::command::{
    acl, flags::*, key_flags::*, Arg, BeginSearch, CmdResult, CommandSpec, Ctx, FindKeys, KeySpec, ModifiedKeys,
};
use crate::notify;
use crate::server::deletion_verb;

const INTER_COMPLEXITY: &str =
    "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.";
const UNION_COMPLEXITY: &str = "O(N) where N is the total number of elements in all given sets.";

const KEY_ONLY: &[Arg] = &[Arg::key("key", 0)];
const KEY_MEMBER: &[Arg] = &[Arg::key("key", 0), Arg::string("member")];
const KEY_MEMBERS: &[Arg] = &[Arg::key("key", 0), Arg::string("member").multiple()];
const KEYS: &[Arg] = &[Arg::key("key", 0).multiple()];
const DEST_KEYS: &[Arg] = &[Arg::key("destination", 0), Arg::key("key", 1).multiple()];
const ALL_KEYS_READ: &[KeySpec] = &[KeySpec::range(1, -1, 1, RO | ACCESS)];

/// A set command; the fields that differ are given.
macro_rules! set_command {
    ($name:literal, $arity:expr, $flags:expr, $keys:expr, $handler:ident, $summary:literal, $complexity:expr, $args:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            acl: acl::SET,
            key_specs: $keys,
            handler: Some($handler),
            group: "set",
            summary: $summary,
            complexity: $complexity,
            args: $args,
            ..CommandSpec::DEFAULT
        }
    };
}

/// SINTERSTORE, SUNIONSTORE, SDIFFSTORE: destination then sources.
macro_rules! store_command {
    ($name:literal, $dest_flags:expr, $handler:ident, $summary:literal, $complexity:expr) => {
        set_command!(
            $name,
            -3,
            WRITE | DENYOOM,
            &[KeySpec::single(1, $dest_flags), KeySpec::range(2, -1, 1, RO | ACCESS)],
            $handler,
            $summary,
            $complexity,
            DEST_KEYS
        )
    };
}

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        history: &[("2.4.0", "Takes several members.")],
        ..set_command!(
            "sadd",
            -3,
            WRITE | DENYOOM | FAST,
            &[KeySpec::single(1, RW | INSERT)],
            sadd,
            "Add members to a set",
            "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
            KEY_MEMBERS
        )
    },
    CommandSpec {
        history: &[("2.4.0", "Takes several members.")],
        ..set_command!(
            "srem",
            -3,
            WRITE | FAST,
            &[KeySpec::single(1, RW | DELETE)],
            srem,
            "Remove members from a set",
            "O(N) where N is the number of members to be removed.",
            KEY_MEMBERS
        )
    },
    CommandSpec {
        tips: &["nondeterministic_output_order"],
        ..set_command!(
            "smembers",
            2,
            READONLY,
            &[KeySpec::single(1, RO | ACCESS)],
            smembers,
            "Get every member of a set",
            "O(N) where N is the set cardinality.",
            KEY_ONLY
        )
    },
    set_command!("sismember", 3, READONLY | FAST, &[KeySpec::single(1, RO)], sismember, "Tell whether a value is a member of a set", "O(1)", KEY_MEMBER),
    CommandSpec {
        since: "6.2.0",
        ..set_command!(
            "smismember",
            -3,
            READONLY | FAST,
            &[KeySpec::single(1, RO | ACCESS)],
            smismember,
            "Tell which of several values are members of a set",
            "O(N) where N is the number of elements being checked for membership",
            KEY_MEMBERS
        )
    },
    set_command!("scard", 2, READONLY | FAST, &[KeySpec::single(1, RO)], scard, "Count the members of a set", "O(1)", KEY_ONLY),
    CommandSpec {
        tips: &["nondeterministic_output"],
        history: &[("3.2.0", "Takes a count.")],
        ..set_command!(
            "spop",
            -2,
            WRITE | FAST,
            &[KeySpec::single(1, RW | ACCESS | DELETE)],
            spop,
            "Remove and return random members of a set",
            "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
            &[Arg::key("key", 0), Arg::integer("count").since("3.2.0").optional()]
        )
    },
    CommandSpec {
        tips: &["nondeterministic_output"],
        history: &[("2.6.0", "Takes a count.")],
        ..set_command!(
            "srandmember",
            -2,
            READONLY,
            &[KeySpec::single(1, RO | ACCESS)],
            srandmember,
            "Get random members of a set",
            "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.",
            &[Arg::key("key", 0), Arg::integer("count").since("2.6.0").optional()]
        )
    },
    CommandSpec {
        // The destination changes only if it lacked the member.
        modified_keys: ModifiedKeys::ReportedByHandler,
        ..set_command!(
            "smove",
            4,
            WRITE | FAST,
            &[KeySpec::single(1, RW | ACCESS | DELETE), KeySpec::single(2, RW | INSERT)],
            smove,
            "Move a member from one set to another",
            "O(1)",
            &[Arg::key("source", 0), Arg::key("destination", 1), Arg::string("member")]
        )
    },
    CommandSpec {
        tips: &["nondeterministic_output_order"],
        ..set_command!("sinter", -2, READONLY, ALL_KEYS_READ, sinter, "Intersect sets", INTER_COMPLEXITY, KEYS)
    },
    CommandSpec {
        since: "7.0.0",
        ..set_command!(
            "sintercard",
            -3,
            READONLY,
            &[KeySpec::new(RO | ACCESS, BeginSearch::Index(1), FindKeys::Keynum { keynum_idx: 0, first_key: 1, step: 1 })],
            sintercard,
            "Count the members of the intersection of sets",
            INTER_COMPLEXITY,
            &[Arg::integer("numkeys"), Arg::key("key", 0).multiple(), Arg::integer("limit").token("LIMIT").optional()]
        )
    },
    store_command!("sinterstore", RW | UPDATE, sinterstore, "Intersect sets and store the result", INTER_COMPLEXITY),
    CommandSpec {
        tips: &["nondeterministic_output_order"],
        ..set_command!("sunion", -2, READONLY, ALL_KEYS_READ, sunion, "Unite sets", UNION_COMPLEXITY, KEYS)
    },
    store_command!("sunionstore", OW | UPDATE, sunionstore, "Unite sets and store the result", UNION_COMPLEXITY),
    CommandSpec {
        tips: &["nondeterministic_output_order"],
        ..set_command!("sdiff", -2, READONLY, ALL_KEYS_READ, sdiff, "Subtract sets from the first one", UNION_COMPLEXITY, KEYS)
    },
    store_command!("sdiffstore", OW | UPDATE, sdiffstore, "Subtract sets from the first one and store the result", UNION_COMPLEXITY),
    CommandSpec {
        since: "2.8.0",
        tips: &["nondeterministic_output"],
        ..set_command!(
            "sscan",
            -3,
            READONLY,
            &[KeySpec::single(1, RO | ACCESS)],
            sscan,
            "Iterate over the members of a set",
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
            SCAN_ARGS
        )
    },
];

fn max_intset(ctx: &Ctx) -> usize {
    usize::try_from(ctx.srv.config.set_max_intset_entries).unwrap_or(usize::MAX)
}

/// The set stored at `key` in `db`, without any lookup rules.
fn set_in<'d>(db: &'d Db, key: &[u8]) -> Option<&'d Set> {
    db.get(key).and_then(|e| e.value.as_set())
}

/// Deletes the key if a command left its set empty.
fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) {
    if set_in(ctx.db(), key).is_some_and(Set::is_empty) {
        ctx.delete_key(key);
        ctx.notify(notify::GENERIC, "del", key);
    }
}

fn sadd(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let max = max_intset(ctx);
    if ctx.write_set(argv[1])?.is_none() {
        ctx.set_key(argv[1], Value::Set(Set::for_member(argv[2])), false);
    }
    let set = ctx.write_set(argv[1])?.expect("created above");
    let added = argv[2..].iter().filter(|m| set.add(m, max)).count();
    ctx.mark_dirty(added as u64);
    if added > 0 {
        ctx.notify(notify::SET, "sadd", argv[1]);
    }
    ctx.reply().int(added as i64);
    Ok(())
}

fn srem(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let Some(set) = ctx.write_set(argv[1])? else {
        ctx.reply().int(0);
        return Ok(());
    };
    let mut removed = 0;
    for member in &argv[2..] {
        if set.remove(member) {
            removed += 1;
            if set.is_empty() {
                break;
            }
        }
    }
    if removed > 0 {
        ctx.notify(notify::SET, "srem", argv[1]);
    }
    delete_if_empty(ctx, argv[1]);
    ctx.mark_dirty(removed);
    ctx.reply().int(removed as i64);
    Ok(())
}

fn smembers(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    inter_reply(ctx, &argv[1..2])
}

fn sismember(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let found = ctx.read_set(argv[1])?.is_some_and(|s| s.contains(argv[2]));
    ctx.reply().int(i64::from(found));
    Ok(())
}

fn smismember(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    ctx.read_set(argv[1])?;
    let Ctx { srv, client, .. } = ctx;
    let set = set_in(&srv.dbs[client.db], argv[1]);
    let reply = &mut client.reply;
    reply.array(argv.len() - 2);
    for member in &argv[2..] {
        reply.int(i64::from(set.is_some_and(|s| s.contains(member))));
    }
    Ok(())
}

fn scard(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let len = ctx.read_set(argv[1])?.map_or(0, |s| s.len());
    ctx.reply().int(len as i64);
    Ok(())
}

fn spop(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    match argv.len() {
        2 => spop_one(ctx, argv[1]),
        3 => spop_count(ctx, argv[1], argv[2]),
        _ => Err(errors::SYNTAX.into()),
    }
}

fn spop_one(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let Some(set) = ctx.write_set(key)? else {
        ctx.reply().null();
        return Ok(());
    };
    let member = set.pop_random().expect("stored sets are never empty");
    ctx.notify(notify::SET, "spop", key);
    delete_if_empty(ctx, key);
    ctx.mark_dirty(1);
    ctx.propagate_as(vec![b"SREM".to_vec(), key.to_vec(), member.clone()]);
    ctx.reply().bulk(&member);
    Ok(())
}

/// When at most this many times more members would stay than are popped,
/// SPOP builds the survivors as a new set instead of popping one by one.
const SPOP_MOVE_STRATEGY_MUL: usize = 5;

fn spop_count(ctx: &mut Ctx, key: &[u8], count: &[u8]) -> CmdResult {
    // Redis words a non-number and a negative count the same way here.
    let count =
        parse_i64(count).and_then(|c| usize::try_from(c).ok()).ok_or("ERR value is out of range, must be positive")?;
    let Some(set) = ctx.write_set(key)? else {
        ctx.reply().set(0);
        return Ok(());
    };
    if count == 0 {
        ctx.reply().set(0);
        return Ok(());
    }
    let size = set.len();
    if count >= size {
        let set = set_in(&ctx.srv.dbs[ctx.client.db], key).expect("looked up above");
        reply_members(&mut ctx.client.reply, set.iter().collect());
        let lazy = ctx.srv.config.lazyfree_lazy_server_del;
        ctx.srv.remove_key(ctx.client.db, key, lazy);
        ctx.mark_dirty(1);
        ctx.notify(notify::SET, "spop", key);
        ctx.notify(notify::GENERIC, "del", key);
        ctx.propagate_as(vec![deletion_verb(lazy).to_vec(), key.to_vec()]);
        return Ok(());
    }
    let remaining = size - count;
    let popped: Vec<Vec<u8>> = if remaining * SPOP_MOVE_STRATEGY_MUL > count {
        (0..count).map(|_| set.pop_random().expect("count < size")).collect()
    } else {
        let survivors = set.split_random(remaining);
        let popped = std::mem::replace(set, survivors);
        popped.iter().map(|m| m.to_vec()).collect()
    };
    let reply = ctx.reply();
    reply.set(popped.len());
    popped.iter().for_each(|m| reply.bulk(m));
    ctx.mark_dirty(count as u64);
    ctx.notify(notify::SET, "spop", key);
    for member in popped {
        ctx.propagate_as(vec![b"SREM".to_vec(), key.to_vec(), member]);
    }
    Ok(())
}

/// Replies `members` as a set.
fn reply_members(reply: &mut Reply, members: Vec<LpValue>) {
    reply.set(members.len());
    members.into_iter().for_each(|m| reply_element(reply, m));
}

fn srandmember(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    match argv.len() {
        2 => {
            let member = ctx.read_set(argv[1])?.and_then(|s| s.random().map(|m| m.to_vec()));
            match member {
                Some(m) => ctx.reply().bulk(&m),
                None => ctx.reply().null(),
            }
            Ok(())
        }
        3 => srandmember_count(ctx, argv[1], argv[2]),
        _ => Err(errors::SYNTAX.into()),
    }
}

fn srandmember_count(ctx: &mut Ctx, key: &[u8], count: &[u8]) -> CmdResult {
    let count = parse_sample_count(count)?;
    ctx.read_set(key)?;
    let Ctx { srv, client, .. } = ctx;
    let reply = &mut client.reply;
    let Some(set) = set_in(&srv.dbs[client.db], key).filter(|_| count != 0) else {
        reply.array(0);
        return Ok(());
    };
    if count < 0 {
        let len = count.unsigned_abs() as usize;
        reply.array(len);
        set.sample_with_repeats(len).for_each(|m| reply_element(reply, m));
    } else {
        let members = set.sample_unique(count as usize);
        reply.array(members.len());
        members.into_iter().for_each(|m| reply_element(reply, m));
    }
    Ok(())
}

fn smove(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let (src, dst, member) = (argv[1], argv[2], argv[3]);
    let src_exists = ctx.lookup_write(src).map(|e| e.value.as_set().is_some());
    let dst_exists = ctx.lookup_write(dst).map(|e| e.value.as_set().is_some());
    let Some(src_is_set) = src_exists else {
        ctx.reply().int(0);
        return Ok(());
    };
    if !src_is_set || dst_exists == Some(false) {
        return Err(errors::WRONGTYPE.into());
    }
    if src == dst {
        let found = set_in(ctx.db(), src).is_some_and(|s| s.contains(member));
        ctx.reply().int(i64::from(found));
        return Ok(());
    }
    let removed = ctx.write_set(src)?.is_some_and(|s| s.remove(member));
    if !removed {
        ctx.reply().int(0);
        return Ok(());
    }
    ctx.notify(notify::SET, "srem", src);
    ctx.signal_modified_key(src);
    delete_if_empty(ctx, src);
    ctx.mark_dirty(1);
    if dst_exists.is_none() {
        ctx.set_key(dst, Value::Set(Set::for_member(member)), false);
    }
    let max = max_intset(ctx);
    if ctx.write_set(dst)?.expect("exists or created above").add(member, max) {
        ctx.signal_modified_key(dst);
        ctx.mark_dirty(1);
        ctx.notify(notify::SET, "sadd", dst);
    }
    ctx.reply().int(1);
    Ok(())
}

/// Looks every key up (expiring, counting hits and misses, checking types in
/// order) for a multi-set operation; missing keys are fine. Redis 7.0 reads
/// the sources of the STORE variants this way too.
fn check_sets(ctx: &mut Ctx, keys: &[&[u8]]) -> CmdResult {
    for key in keys {
        let entry = ctx.lookup_read(key);
        if entry.is_some_and(|e| e.value.as_set().is_none()) {
            return Err(errors::WRONGTYPE.into());
        }
    }
    Ok(())
}

/// Members of every set, in the order of the smallest (none if a set is
/// missing), stopping after `limit` (0: no limit).
fn intersection<'d>(sets: &[Option<&'d Set>], limit: usize) -> Vec<LpValue<'d>> {
    let Some(mut sets) = sets.iter().copied().collect::<Option<Vec<&Set>>>() else {
        return Vec::new();
    };
    sets.sort_by_key(|s| s.len());
    let (smallest, others) = sets.split_first().expect("at least one key");
    let mut found = Vec::new();
    for member in smallest.iter() {
        let bytes = member.to_vec();
        if others.iter().all(|s| s.contains(&bytes)) {
            found.push(member);
            if found.len() == limit {
                break;
            }
        }
    }
    found
}

fn inter_reply(ctx: &mut Ctx, keys: &[&[u8]]) -> CmdResult {
    check_sets(ctx, keys)?;
    let Ctx { srv, client, .. } = ctx;
    let db = &srv.dbs[client.db];
    let sets: Vec<Option<&Set>> = keys.iter().map(|k| set_in(db, k)).collect();
    reply_members(&mut client.reply, intersection(&sets, 0));
    Ok(())
}

fn sinter(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    inter_reply(ctx, &argv[1..])
}

fn sintercard(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let numkeys = parse_i64(argv[1]).filter(|&n| n > 0).ok_or("ERR numkeys should be greater than 0")?;
    if numkeys > argv.len() as i64 - 2 {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    let keys = &argv[2..2 + numkeys as usize];
    let mut limit = 0usize;
    let mut rest = &argv[2 + numkeys as usize..];
    while let [option, tail @ ..] = rest {
        match tail {
            [value, tail @ ..] if option.eq_ignore_ascii_case(b"limit") => {
                limit = parse_i64(value).and_then(|l| usize::try_from(l).ok()).ok_or("ERR LIMIT can't be negative")?;
                rest = tail;
            }
            _ => return Err(errors::SYNTAX.into()),
        }
    }
    check_sets(ctx, keys)?;
    let db = &ctx.srv.dbs[ctx.client.db];
    let sets: Vec<Option<&Set>> = keys.iter().map(|k| set_in(db, k)).collect();
    let cardinality = intersection(&sets, limit).len();
    ctx.reply().int(cardinality as i64);
    Ok(())
}

/// Stores a STORE command's result at `dest` (deleting `dest` when it is
/// empty), announces it as `event` (or `del`) and replies its size.
fn store_result(ctx: &mut Ctx, dest: &[u8], result: Set, event: &str) {
    let len = result.len();
    // An empty result changes (and propagates) something only if it deletes `dest`.
    let changed = if len > 0 {
        ctx.set_key(dest, Value::Set(result), false);
        ctx.notify(notify::SET, event, dest);
        true
    } else if ctx.delete_key(dest) {
        ctx.notify(notify::GENERIC, "del", dest);
        true
    } else {
        false
    };
    if changed {
        ctx.mark_dirty(1);
    }
    ctx.reply().int(len as i64);
}

/// A set built from `members` the way Redis builds a STORE result: starting
/// as an intset and converting when a member requires it.
fn build_set<'m>(members: impl Iterator<Item = LpValue<'m>>, max_intset: usize) -> Set {
    let mut set = Set::new_ints();
    for member in members {
        set.add(&member.to_vec(), max_intset);
    }
    set
}

fn sinterstore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let (dest, keys) = (argv[1], &argv[2..]);
    check_sets(ctx, keys)?;
    let max = max_intset(ctx);
    let db = &ctx.srv.dbs[ctx.client.db];
    let sets: Vec<Option<&Set>> = keys.iter().map(|k| set_in(db, k)).collect();
    let result = build_set(intersection(&sets, 0).into_iter(), max);
    store_result(ctx, dest, result, "sinterstore");
    Ok(())
}

/// Which of SUNION and SDIFF.
#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Diff,
}

/// SUNION or SDIFF of `keys` (in `db`), built as Redis builds it.
fn union_or_diff(db: &Db, keys: &[&[u8]], op: SetOp, max_intset: usize) -> Set {
    let sets: Vec<Option<&Set>> = keys.iter().map(|k| set_in(db, k)).collect();
    let mut result = Set::new_ints();
    match op {
        SetOp::Union => {
            for member in sets.iter().flatten().flat_map(|s| s.iter()) {
                result.add(&member.to_vec(), max_intset);
            }
        }
        SetOp::Diff => {
            let Some(first) = sets[0] else {
                return result;
            };
            // A source that is the first key itself empties the difference.
            if keys[1..].iter().zip(&sets[1..]).any(|(k, s)| s.is_some() && *k == keys[0]) {
                return result;
            }
            // Redis picks whichever algorithm looks cheaper; which one runs
            // shows in the result's encoding, so the choice is kept.
            let present = sets.iter().flatten();
            let per_member_work = present.clone().count() * first.len() / 2;
            let per_set_work: usize = present.map(|s| s.len()).sum();
            if per_member_work <= per_set_work {
                for member in first.iter() {
                    let bytes = member.to_vec();
                    if !sets[1..].iter().flatten().any(|s| s.contains(&bytes)) {
                        result.add(&bytes, max_intset);
                    }
                }
            } else {
                first.iter().for_each(|m| {
                    result.add(&m.to_vec(), max_intset);
                });
                for set in sets[1..].iter().flatten() {
                    for member in set.iter() {
                        result.remove(&member.to_vec());
                    }
                    if result.is_empty() {
                        break;
                    }
                }
            }
        }
    }
    result
}

fn union_diff_reply(ctx: &mut Ctx, keys: &[&[u8]], op: SetOp) -> CmdResult {
    check_sets(ctx, keys)?;
    let max = max_intset(ctx);
    let result = union_or_diff(&ctx.srv.dbs[ctx.client.db], keys, op, max);
    reply_members(ctx.reply(), result.iter().collect());
    Ok(())
}

fn union_diff_store(ctx: &mut Ctx, argv: &[&[u8]], op: SetOp) -> CmdResult {
    let (dest, keys) = (argv[1], &argv[2..]);
    check_sets(ctx, keys)?;
    let max = max_intset(ctx);
    let result = union_or_diff(&ctx.srv.dbs[ctx.client.db], keys, op, max);
    let event = match op {
        SetOp::Union => "sunionstore",
        SetOp::Diff => "sdiffstore",
    };
    store_result(ctx, dest, result, event);
    Ok(())
}

fn sunion(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    union_diff_reply(ctx, &argv[1..], SetOp::Union)
}

fn sdiff(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    union_diff_reply(ctx, &argv[1..], SetOp::Diff)
}

fn sunionstore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    union_diff_store(ctx, argv, SetOp::Union)
}

fn sdiffstore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    union_diff_store(ctx, argv, SetOp::Diff)
}

fn sscan(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let cursor = scan_cursor(argv[2])?;
    if ctx.read_set(argv[1])?.is_none() {
        reply_empty_scan(ctx.reply());
        return Ok(());
    }
    let scan = parse_collection_scan(cursor, &argv[3..])?;
    let Ctx { srv, client, .. } = ctx;
    let set = set_in(&srv.dbs[client.db], argv[1]).expect("checked above");
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut next = scan.cursor;
    // Like Redis, visit at most ten buckets per wanted element.
    let mut budget = scan.count * 10;
    loop {
        next = set.scan(next, |m| found.push(m.to_vec()));
        budget -= 1;
        if next == 0 || budget == 0 || found.len() >= scan.count {
            break;
        }
    }
    found.retain(|m| scan.keeps(m));
    let reply = &mut client.reply;
    reply.array(2);
    reply.bulk(next.to_string().as_bytes());
    reply.array(found.len());
    found.iter().for_each(|m| reply.bulk(m));
    Ok(())
}
