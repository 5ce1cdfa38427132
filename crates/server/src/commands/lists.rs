//! List commands: pushes and pops at either end (with counts), LLEN, LRANGE,
//! LINDEX, LSET, LINSERT, LREM, LTRIM, LPOS, LMOVE/RPOPLPUSH, LMPOP, and the
//! blocking BLPOP, BRPOP, BLMOVE, BRPOPLPUSH and BLMPOP.
//!
//! A blocking command that finds nothing asks `Ctx::block`; when re-run for a
//! ready key (`Ctx::serving_key`) it only looks at that key and stays blocked
//! if the key is not a non-empty list (Redis 7.0 leaves such waiters blocked).
//! Blocking commands always propagate their non-blocking form (BLPOP as LPOP,
//! BLMOVE as LMOVE, BLMPOP as LPOP/RPOP key count). Inside MULTI or a script
//! (`BlockMode::Forbidden`, to be set by that code) they answer at once with
//! the timeout reply. Lists emptied by a command are deleted.

use cinnabar_protocol::numbers::parse_i64;
use cinnabar_protocol::Reply;
use cinnabar_storage::list::{lp_eq, End};
use cinnabar_storage::listpack::LpValue;
use cinnabar_storage::{List, Value};

use crate::blocking::{parse_timeout, TIMEOUT_HISTORY};
use crate::command::context::errors;
use crate::command::{
    acl, doc_flags, flags::*, key_flags::*, Arg, BeginSearch, CmdError, CmdResult, CommandSpec, Ctx, FindKeys, KeySpec,
    ModifiedKeys,
};
use crate::notify;
use crate::server::Server;

const PUSH_COMPLEXITY: &str =
    "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.";
const POP_COMPLEXITY: &str = "O(N) where N is the number of elements returned";
const MPOP_COMPLEXITY: &str = "O(N+M) where N is the number of provided keys and M is the number of elements returned.";

const SRC_SPEC: KeySpec = KeySpec::single(1, RW | ACCESS | DELETE);
const DST_SPEC: KeySpec = KeySpec::single(2, RW | INSERT);

/// A list command entry with the fields they all share.
macro_rules! list_command {
    ($name:literal, $arity:expr, $flags:expr, $key_specs:expr, $handler:ident, $since:literal, $summary:literal, $complexity:expr $(,)?) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            acl: acl::LIST,
            key_specs: $key_specs,
            handler: Some($handler),
            group: "list",
            since: $since,
            summary: $summary,
            complexity: $complexity,
            ..CommandSpec::DEFAULT
        }
    };
}

const LPUSH_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::string("element").multiple()];
const RPUSH_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::string("element").multiple()];
const LPUSHX_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::string("element").multiple()];
const RPUSHX_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::string("element").multiple()];
const LPOP_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::integer("count").since("6.2.0").optional()];
const RPOP_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::integer("count").since("6.2.0").optional()];
const LLEN_ARGS: &[Arg] = &[Arg::key("key", 0)];
const LRANGE_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::integer("start"), Arg::integer("stop")];
const LINDEX_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::integer("index")];
const LSET_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::integer("index"), Arg::string("element")];
const LINSERT_ARGS: &[Arg] = &[
    Arg::key("key", 0),
    Arg::one_of("where", &[Arg::pure_token("before", "BEFORE"), Arg::pure_token("after", "AFTER")]),
    Arg::string("pivot"),
    Arg::string("element"),
];
const LREM_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::integer("count"), Arg::string("element")];
const LTRIM_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::integer("start"), Arg::integer("stop")];
const LPOS_ARGS: &[Arg] = &[
    Arg::key("key", 0),
    Arg::string("element"),
    Arg::integer("rank").token("RANK").optional(),
    Arg::integer("num-matches").token("COUNT").optional(),
    Arg::integer("len").token("MAXLEN").optional(),
];
const LMOVE_ARGS: &[Arg] = &[
    Arg::key("source", 0),
    Arg::key("destination", 1),
    Arg::one_of("wherefrom", &[Arg::pure_token("left", "LEFT"), Arg::pure_token("right", "RIGHT")]),
    Arg::one_of("whereto", &[Arg::pure_token("left", "LEFT"), Arg::pure_token("right", "RIGHT")]),
];
const RPOPLPUSH_ARGS: &[Arg] = &[Arg::key("source", 0), Arg::key("destination", 1)];
const LMPOP_ARGS: &[Arg] = &[
    Arg::integer("numkeys"),
    Arg::key("key", 0).multiple(),
    Arg::one_of("where", &[Arg::pure_token("left", "LEFT"), Arg::pure_token("right", "RIGHT")]),
    Arg::integer("count").token("COUNT").optional(),
];
const BLPOP_ARGS: &[Arg] = &[Arg::key("key", 0).multiple(), Arg::double("timeout")];
const BRPOP_ARGS: &[Arg] = &[Arg::key("key", 0).multiple(), Arg::double("timeout")];
const BLMOVE_ARGS: &[Arg] = &[
    Arg::key("source", 0),
    Arg::key("destination", 1),
    Arg::one_of("wherefrom", &[Arg::pure_token("left", "LEFT"), Arg::pure_token("right", "RIGHT")]),
    Arg::one_of("whereto", &[Arg::pure_token("left", "LEFT"), Arg::pure_token("right", "RIGHT")]),
    Arg::double("timeout"),
];
const BRPOPLPUSH_ARGS: &[Arg] = &[Arg::key("source", 0), Arg::key("destination", 1), Arg::double("timeout")];
const BLMPOP_ARGS: &[Arg] = &[
    Arg::double("timeout"),
    Arg::integer("numkeys"),
    Arg::key("key", 0).multiple(),
    Arg::one_of("where", &[Arg::pure_token("left", "LEFT"), Arg::pure_token("right", "RIGHT")]),
    Arg::integer("count").token("COUNT").optional(),
];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        history: &[("2.4.0", "Accepts multiple `element` arguments.")],
        args: LPUSH_ARGS,
        ..list_command!(
            "lpush",
            -3,
            WRITE | DENYOOM | FAST,
            &[KeySpec::single(1, RW | INSERT)],
            lpush,
            "1.0.0",
            "Add elements at the head of a list",
            PUSH_COMPLEXITY,
        )
    },
    CommandSpec {
        history: &[("2.4.0", "Accepts multiple `element` arguments.")],
        args: RPUSH_ARGS,
        ..list_command!(
            "rpush",
            -3,
            WRITE | DENYOOM | FAST,
            &[KeySpec::single(1, RW | INSERT)],
            rpush,
            "1.0.0",
            "Add elements at the tail of a list",
            PUSH_COMPLEXITY,
        )
    },
    CommandSpec {
        history: &[("4.0.0", "Accepts multiple `element` arguments.")],
        args: LPUSHX_ARGS,
        ..list_command!(
            "lpushx",
            -3,
            WRITE | DENYOOM | FAST,
            &[KeySpec::single(1, RW | INSERT)],
            lpushx,
            "2.2.0",
            "Add elements at the head of an existing list",
            PUSH_COMPLEXITY,
        )
    },
    CommandSpec {
        history: &[("4.0.0", "Accepts multiple `element` arguments.")],
        args: RPUSHX_ARGS,
        ..list_command!(
            "rpushx",
            -3,
            WRITE | DENYOOM | FAST,
            &[KeySpec::single(1, RW | INSERT)],
            rpushx,
            "2.2.0",
            "Add elements at the tail of an existing list",
            PUSH_COMPLEXITY,
        )
    },
    CommandSpec {
        history: &[("6.2.0", "Added the `count` argument.")],
        args: LPOP_ARGS,
        ..list_command!("lpop", -2, WRITE | FAST, &[SRC_SPEC], lpop, "1.0.0", "Remove and return head elements", POP_COMPLEXITY)
    },
    CommandSpec {
        history: &[("6.2.0", "Added the `count` argument.")],
        args: RPOP_ARGS,
        ..list_command!("rpop", -2, WRITE | FAST, &[SRC_SPEC], rpop, "1.0.0", "Remove and return tail elements", POP_COMPLEXITY)
    },
    CommandSpec { args: LLEN_ARGS, ..list_command!("llen", 2, READONLY | FAST, &[KeySpec::single(1, RO)], llen, "1.0.0", "The length of a list", "O(1)") },
    CommandSpec { args: LRANGE_ARGS, ..list_command!(
        "lrange",
        4,
        READONLY,
        &[KeySpec::single(1, RO | ACCESS)],
        lrange,
        "1.0.0",
        "Elements of a list between two indexes",
        "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.",
    ) },
    CommandSpec { args: LINDEX_ARGS, ..list_command!(
        "lindex",
        3,
        READONLY,
        &[KeySpec::single(1, RO | ACCESS)],
        lindex,
        "1.0.0",
        "The element of a list at an index",
        "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).",
    ) },
    CommandSpec { args: LSET_ARGS, ..list_command!(
        "lset",
        4,
        WRITE | DENYOOM,
        &[KeySpec::single(1, RW | UPDATE)],
        lset,
        "1.0.0",
        "Replace the element of a list at an index",
        "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).",
    ) },
    CommandSpec { args: LINSERT_ARGS, ..list_command!(
        "linsert",
        5,
        WRITE | DENYOOM,
        &[KeySpec::single(1, RW | INSERT)],
        linsert,
        "2.2.0",
        "Insert an element next to the first occurrence of another",
        "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).",
    ) },
    CommandSpec { args: LREM_ARGS, ..list_command!(
        "lrem",
        4,
        WRITE,
        &[KeySpec::single(1, RW | DELETE)],
        lrem,
        "1.0.0",
        "Remove occurrences of an element",
        "O(N+M) where N is the length of the list and M is the number of elements removed.",
    ) },
    CommandSpec { args: LTRIM_ARGS, ..list_command!(
        "ltrim",
        4,
        WRITE,
        &[KeySpec::single(1, RW | DELETE)],
        ltrim,
        "1.0.0",
        "Keep only a range of a list",
        "O(N) where N is the number of elements to be removed by the operation.",
    ) },
    CommandSpec { args: LPOS_ARGS, ..list_command!(
        "lpos",
        -3,
        READONLY,
        &[KeySpec::single(1, RO | ACCESS)],
        lpos,
        "6.0.6",
        "Indexes of the elements equal to a value",
        "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.",
    ) },
    CommandSpec { args: LMOVE_ARGS, ..list_command!(
        "lmove",
        5,
        WRITE | DENYOOM,
        &[SRC_SPEC, DST_SPEC],
        lmove,
        "6.2.0",
        "Pop an element from one list and push it onto another",
        "O(1)",
    ) },
    CommandSpec {
        doc_flags: doc_flags::DEPRECATED,
        deprecated_since: "6.2.0",
        replaced_by: "`LMOVE` with the `RIGHT` and `LEFT` arguments",
        args: RPOPLPUSH_ARGS,
        ..list_command!(
            "rpoplpush",
            3,
            WRITE | DENYOOM,
            &[SRC_SPEC, DST_SPEC],
            rpoplpush,
            "1.2.0",
            "Pop the tail of one list and push it onto the head of another",
            "O(1)",
        )
    },
    CommandSpec {
        // Only the key popped from changes.
        modified_keys: ModifiedKeys::ReportedByHandler,
        flags: WRITE | MOVABLE_KEYS,
        args: LMPOP_ARGS,
        ..list_command!(
            "lmpop",
            -4,
            WRITE,
            &[mpop_spec(1)],
            lmpop,
            "7.0.0",
            "Pop elements from the first non-empty of several lists",
            MPOP_COMPLEXITY,
        )
    },
    CommandSpec {
        // Only the key popped from changes.
        modified_keys: ModifiedKeys::ReportedByHandler,
        history: TIMEOUT_HISTORY,
        args: BLPOP_ARGS,
        ..list_command!(
            "blpop",
            -3,
            WRITE | NOSCRIPT | BLOCKING,
            &[KeySpec::range(1, -2, 1, RW | ACCESS | DELETE)],
            blpop,
            "2.0.0",
            "Pop the head of the first non-empty list, waiting for one if needed",
            "O(N) where N is the number of provided keys.",
        )
    },
    CommandSpec {
        // Only the key popped from changes.
        modified_keys: ModifiedKeys::ReportedByHandler,
        history: TIMEOUT_HISTORY,
        args: BRPOP_ARGS,
        ..list_command!(
            "brpop",
            -3,
            WRITE | NOSCRIPT | BLOCKING,
            &[KeySpec::range(1, -2, 1, RW | ACCESS | DELETE)],
            brpop,
            "2.0.0",
            "Pop the tail of the first non-empty list, waiting for one if needed",
            "O(N) where N is the number of provided keys.",
        )
    },
    CommandSpec { args: BLMOVE_ARGS, ..list_command!(
        "blmove",
        6,
        WRITE | DENYOOM | NOSCRIPT | BLOCKING,
        &[SRC_SPEC, DST_SPEC],
        blmove,
        "6.2.0",
        "LMOVE, waiting for the source to have an element",
        "O(1)",
    ) },
    CommandSpec {
        doc_flags: doc_flags::DEPRECATED,
        deprecated_since: "6.2.0",
        replaced_by: "`BLMOVE` with the `RIGHT` and `LEFT` arguments",
        history: TIMEOUT_HISTORY,
        args: BRPOPLPUSH_ARGS,
        ..list_command!(
            "brpoplpush",
            4,
            WRITE | DENYOOM | NOSCRIPT | BLOCKING,
            &[SRC_SPEC, DST_SPEC],
            brpoplpush,
            "2.2.0",
            "RPOPLPUSH, waiting for the source to have an element",
            "O(1)",
        )
    },
    CommandSpec {
        // Only the key popped from changes.
        modified_keys: ModifiedKeys::ReportedByHandler,
        flags: WRITE | BLOCKING | MOVABLE_KEYS,
        args: BLMPOP_ARGS,
        ..list_command!(
            "blmpop",
            -5,
            WRITE,
            &[mpop_spec(2)],
            blmpop,
            "7.0.0",
            "LMPOP, waiting for one of the lists to have elements",
            MPOP_COMPLEXITY,
        )
    },
];

/// LMPOP/BLMPOP's key spec: numkeys at `index`, keys right after.
const fn mpop_spec(index: i32) -> KeySpec {
    KeySpec::new(
        RW | ACCESS | DELETE,
        BeginSearch::Index(index),
        FindKeys::Keynum { keynum_idx: 0, first_key: 1, step: 1 },
    )
}

/// Sends one element as a bulk string.
fn reply_element(reply: &mut Reply, e: LpValue<'_>) {
    match e {
        LpValue::Int(i) => reply.bulk_i64(i),
        LpValue::Str(s) => reply.bulk(s),
    }
}

/// An empty list with the configured node size and compression depth.
pub(crate) fn new_list(srv: &Server) -> List {
    List::with_compress_depth(srv.config.list_max_listpack_size, srv.config.list_compress_depth as usize)
}

fn parse_index(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(errors::NOT_INTEGER.into())
}

/// LEFT or RIGHT, as LMOVE and LMPOP take them.
fn parse_end(arg: &[u8]) -> Result<End, CmdError> {
    if arg.eq_ignore_ascii_case(b"left") {
        Ok(End::Head)
    } else if arg.eq_ignore_ascii_case(b"right") {
        Ok(End::Tail)
    } else {
        Err(errors::SYNTAX.into())
    }
}

/// Deletes `key` if the command left its list empty.
fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) {
    let empty = ctx.db().get(key).and_then(|e| e.value.as_list()).is_some_and(List::is_empty);
    if empty {
        ctx.delete_key(key);
        ctx.notify(notify::GENERIC, "del", key);
    }
}

/// The keyspace event of a push or pop at `end`.
fn end_event(end: End, push: bool) -> &'static str {
    match (end, push) {
        (End::Head, true) => "lpush",
        (End::Tail, true) => "rpush",
        (End::Head, false) => "lpop",
        (End::Tail, false) => "rpop",
    }
}

/// Pushes `elements` at `end` of the list at `key`, creating it unless
/// `existing_only`. Returns the new length (0 if absent and not created).
fn push_elements(
    ctx: &mut Ctx,
    key: &[u8],
    elements: &[&[u8]],
    end: End,
    existing_only: bool,
) -> Result<usize, CmdError> {
    let len = if let Some(list) = ctx.write_list(key)? {
        elements.iter().for_each(|e| list.push(end, e));
        list.len()
    } else if existing_only {
        return Ok(0);
    } else {
        let mut list = new_list(ctx.srv);
        elements.iter().for_each(|e| list.push(end, e));
        let len = list.len();
        ctx.set_key(key, Value::List(Box::new(list)), false);
        len
    };
    ctx.notify(notify::LIST, end_event(end, true), key);
    Ok(len)
}

fn push_command(ctx: &mut Ctx, argv: &[&[u8]], end: End, existing_only: bool) -> CmdResult {
    let len = push_elements(ctx, argv[1], &argv[2..], end, existing_only)?;
    if len > 0 {
        ctx.mark_dirty((argv.len() - 2) as u64);
    }
    ctx.reply().int(len as i64);
    Ok(())
}

fn lpush(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    push_command(ctx, argv, End::Head, false)
}

fn rpush(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    push_command(ctx, argv, End::Tail, false)
}

fn lpushx(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    push_command(ctx, argv, End::Head, true)
}

fn rpushx(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    push_command(ctx, argv, End::Tail, true)
}

/// Pops up to `count` elements from `end` of the list at `key` (which must
/// exist as a list) and deletes the key if emptied.
fn pop_elements(ctx: &mut Ctx, key: &[u8], end: End, count: usize) -> Vec<Vec<u8>> {
    let popped = take_elements(ctx, key, end, count);
    if !popped.is_empty() {
        ctx.signal_modified_key(key);
    }
    finish_pop(ctx, key, end);
    popped
}

/// Pops up to `count` elements, leaving the list in place even if emptied.
fn take_elements(ctx: &mut Ctx, key: &[u8], end: End, count: usize) -> Vec<Vec<u8>> {
    let Some(list) = ctx.db().get_mut(key).and_then(|e| e.value.as_list_mut()) else { return Vec::new() };
    std::iter::from_fn(|| list.pop(end)).take(count).collect()
}

/// Announces a pop from `key` and deletes the list if it is now empty.
fn finish_pop(ctx: &mut Ctx, key: &[u8], end: End) {
    ctx.notify(notify::LIST, end_event(end, false), key);
    delete_if_empty(ctx, key);
}

fn pop_verb(end: End) -> &'static [u8] {
    match end {
        End::Head => b"LPOP",
        End::Tail => b"RPOP",
    }
}

/// LPOP/RPOP key [count].
fn pop_command(ctx: &mut Ctx, argv: &[&[u8]], end: End) -> CmdResult {
    if argv.len() > 3 {
        let name = String::from_utf8_lossy(argv[0]).to_lowercase();
        return Err(format!("ERR wrong number of arguments for '{name}' command").into());
    }
    let count = match argv.get(2) {
        None => None,
        Some(arg) => {
            Some(parse_i64(arg).filter(|n| *n >= 0).ok_or("ERR value is out of range, must be positive")? as usize)
        }
    };
    if ctx.write_list(argv[1])?.is_none() {
        match count {
            Some(_) => ctx.reply().null_array(),
            None => ctx.reply().null(),
        }
        return Ok(());
    }
    match count {
        None => {
            let v = pop_elements(ctx, argv[1], end, 1);
            ctx.reply().bulk(&v[0]);
        }
        Some(n) => {
            let popped = pop_elements(ctx, argv[1], end, n);
            let reply = ctx.reply();
            reply.array(popped.len());
            popped.iter().for_each(|v| reply.bulk(v));
            if popped.is_empty() {
                return Ok(());
            }
        }
    }
    ctx.mark_dirty(1);
    Ok(())
}

fn lpop(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    pop_command(ctx, argv, End::Head)
}

fn rpop(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    pop_command(ctx, argv, End::Tail)
}

fn llen(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let len = ctx.read_list(argv[1])?.map_or(0, |l| l.len());
    ctx.reply().int(len as i64);
    Ok(())
}

/// Redis's clamping of a start/stop pair against a length: None when the
/// range is empty, else inclusive in-range indexes.
fn clamp_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { (start + len).max(0) } else { start };
    let stop = if stop < 0 { stop + len } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((start as usize, stop.min(len - 1) as usize))
}

fn lrange(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let (start, stop) = (parse_index(argv[2])?, parse_index(argv[3])?);
    let len = ctx.read_list(argv[1])?.map_or(0, |l| l.len());
    let Some((from, to)) = clamp_range(start, stop, len) else {
        ctx.reply().array(0);
        return Ok(());
    };
    let list = stored_list(ctx.srv, ctx.client.db, argv[1]);
    let reply = &mut ctx.client.reply;
    reply.array(to - from + 1);
    list.range(from, to - from + 1).for_each(|e| reply_element(reply, e));
    Ok(())
}

/// The list at `key` once a typed lookup has found it, borrowing only the
/// keyspace so the reply buffer stays usable.
fn stored_list<'a>(srv: &'a Server, db: usize, key: &[u8]) -> &'a List {
    srv.dbs[db].get(key).and_then(|e| e.value.as_list()).expect("looked up as a list just before")
}

fn lindex(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if ctx.read_list(argv[1])?.is_none() {
        ctx.reply().null();
        return Ok(());
    }
    let index = parse_index(argv[2])?;
    let value = stored_list(ctx.srv, ctx.client.db, argv[1]).get(index);
    match value {
        Some(v) => ctx.reply().bulk(&v),
        None => ctx.reply().null(),
    }
    Ok(())
}

fn lset(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if ctx.write_list(argv[1])?.is_none() {
        return Err(errors::NO_SUCH_KEY.into());
    }
    let index = parse_index(argv[2])?;
    let list = ctx.write_list(argv[1])?.expect("checked just above");
    if !list.set(index, argv[3]) {
        return Err(errors::OUT_OF_RANGE.into());
    }
    ctx.mark_dirty(1);
    ctx.notify(notify::LIST, "lset", argv[1]);
    ctx.reply().ok();
    Ok(())
}

fn linsert(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let after = if argv[2].eq_ignore_ascii_case(b"after") {
        true
    } else if argv[2].eq_ignore_ascii_case(b"before") {
        false
    } else {
        return Err(errors::SYNTAX.into());
    };
    let Some(list) = ctx.write_list(argv[1])? else {
        ctx.reply().int(0);
        return Ok(());
    };
    let Some(pivot) = list.find(argv[3]) else {
        ctx.reply().int(-1);
        return Ok(());
    };
    list.insert(pivot, after, argv[4]);
    let len = list.len() as i64;
    ctx.mark_dirty(1);
    ctx.notify(notify::LIST, "linsert", argv[1]);
    ctx.reply().int(len);
    Ok(())
}

fn lrem(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let count = parse_index(argv[2])?;
    let Some(list) = ctx.write_list(argv[1])? else {
        ctx.reply().int(0);
        return Ok(());
    };
    let from = if count < 0 { End::Tail } else { End::Head };
    let removed = list.remove(argv[3], count.unsigned_abs() as usize, from);
    if removed > 0 {
        ctx.mark_dirty(removed as u64);
        ctx.notify(notify::LIST, "lrem", argv[1]);
        delete_if_empty(ctx, argv[1]);
    }
    ctx.reply().int(removed as i64);
    Ok(())
}

fn ltrim(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let (start, stop) = (parse_index(argv[2])?, parse_index(argv[3])?);
    if let Some(list) = ctx.write_list(argv[1])? {
        let before = list.len();
        match clamp_range(start, stop, before) {
            Some((from, to)) => list.trim(from, to),
            None => {
                list.delete_range(0, before);
            }
        }
        let removed = before - list.len();
        ctx.mark_dirty(removed as u64);
        ctx.notify(notify::LIST, "ltrim", argv[1]);
        // Redis counts even a trim that removed nothing as a modification.
        ctx.signal_modified_key(argv[1]);
        delete_if_empty(ctx, argv[1]);
    }
    ctx.reply().ok();
    Ok(())
}

/// LPOS's options.
struct PosOptions {
    rank: i64,
    /// None: reply with one index (or null) rather than an array.
    count: Option<i64>,
    maxlen: i64,
}

fn parse_lpos_options(args: &[&[u8]]) -> Result<PosOptions, CmdError> {
    let mut opts = PosOptions { rank: 1, count: None, maxlen: 0 };
    let mut i = 0;
    while i < args.len() {
        let (opt, value) = (args[i], args.get(i + 1));
        let Some(value) = value else { return Err(errors::SYNTAX.into()) };
        let n = parse_index(value)?;
        if opt.eq_ignore_ascii_case(b"rank") {
            if n == 0 {
                return Err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list".into());
            }
            opts.rank = n;
        } else if opt.eq_ignore_ascii_case(b"count") {
            if n < 0 {
                return Err("ERR COUNT can't be negative".into());
            }
            opts.count = Some(n);
        } else if opt.eq_ignore_ascii_case(b"maxlen") {
            if n < 0 {
                return Err("ERR MAXLEN can't be negative".into());
            }
            opts.maxlen = n;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 2;
    }
    Ok(opts)
}

/// LPOS key element [RANK r] [COUNT n] [MAXLEN m]. A negative rank scans
/// from the tail; Redis negates it without guarding i64::MIN, which then
/// accepts every match, and its arithmetic wraps: so does ours.
fn lpos(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let opts = parse_lpos_options(&argv[3..])?;
    let Some(list) = ctx.read_list(argv[1])? else {
        match opts.count {
            Some(_) => ctx.reply().array(0),
            None => ctx.reply().null(),
        }
        return Ok(());
    };
    let (rank, from_tail) = if opts.rank < 0 { (opts.rank.wrapping_neg(), true) } else { (opts.rank, false) };
    let len = list.len();
    let elements: Box<dyn Iterator<Item = LpValue<'_>>> =
        if from_tail { Box::new(list.iter_rev()) } else { Box::new(list.iter()) };
    let mut found = Vec::new();
    let mut matches: i64 = 0;
    for (scanned, e) in elements.enumerate() {
        if opts.maxlen != 0 && scanned as i64 >= opts.maxlen {
            break;
        }
        if !lp_eq(e, argv[2]) {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        found.push(if from_tail { len - 1 - scanned } else { scanned });
        match opts.count {
            None => break,
            Some(c) if c != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= c => break,
            Some(_) => {}
        }
    }
    let reply = &mut ctx.client.reply;
    match opts.count {
        None => match found.first() {
            Some(&i) => reply.int(i as i64),
            None => reply.null(),
        },
        Some(_) => {
            reply.array(found.len());
            found.iter().for_each(|&i| reply.int(i as i64));
        }
    }
    Ok(())
}

/// Whether `key` holds a non-empty list; WRONGTYPE if it holds another type.
fn has_elements(ctx: &mut Ctx, key: &[u8]) -> Result<bool, CmdError> {
    Ok(ctx.write_list(key)?.is_some_and(|l| !l.is_empty()))
}

/// The common part of LMOVE and its relatives, once `src` is known to hold
/// elements: type-checks `dst`, moves one element, replies with it.
fn move_element(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End) -> CmdResult {
    ctx.write_list(dst)?;
    // As Redis: the push is announced before the pop (and the source's deletion).
    let value = take_elements(ctx, src, from, 1).pop().expect("the source has elements");
    push_elements(ctx, dst, &[&value], to, false)?;
    finish_pop(ctx, src, from);
    ctx.mark_dirty(1);
    ctx.reply().bulk(&value);
    Ok(())
}

fn lmove_generic(ctx: &mut Ctx, argv: &[&[u8]], from: End, to: End) -> CmdResult {
    if !has_elements(ctx, argv[1])? {
        ctx.reply().null();
        return Ok(());
    }
    move_element(ctx, argv[1], argv[2], from, to)
}

fn lmove(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let (from, to) = (parse_end(argv[3])?, parse_end(argv[4])?);
    lmove_generic(ctx, argv, from, to)
}

fn rpoplpush(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    lmove_generic(ctx, argv, End::Tail, End::Head)
}

/// BLMOVE/BRPOPLPUSH: move now if the source has elements (propagated as
/// `propagated`), else block on the source.
fn blocking_move(ctx: &mut Ctx, argv: &[&[u8]], from: End, to: End, propagated: Vec<Vec<u8>>) -> CmdResult {
    let deadline = parse_timeout(argv[argv.len() - 1], ctx.now_ms())?;
    let src = argv[1];
    let ready = if ctx.serving_key().is_some() {
        // Served: a source of another type leaves the client blocked.
        ctx.write_list(src).ok().flatten().is_some_and(|l| !l.is_empty())
    } else {
        has_elements(ctx, src)?
    };
    if !ready && ctx.blocking_forbidden() {
        // Inside EXEC the answer is a null bulk, not the null array of a timeout.
        ctx.reply().null();
        return Ok(());
    }
    if !ready {
        ctx.block(&[src], deadline);
        return Ok(());
    }
    move_element(ctx, src, argv[2], from, to)?;
    ctx.propagate_as(propagated);
    Ok(())
}

fn blmove(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let (from, to) = (parse_end(argv[3])?, parse_end(argv[4])?);
    let propagated = [&b"LMOVE"[..], argv[1], argv[2], argv[3], argv[4]].iter().map(|a| a.to_vec()).collect();
    blocking_move(ctx, argv, from, to, propagated)
}

fn brpoplpush(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let propagated = [&b"RPOPLPUSH"[..], argv[1], argv[2]].iter().map(|a| a.to_vec()).collect();
    blocking_move(ctx, argv, End::Tail, End::Head, propagated)
}

/// The first of `keys` holding a non-empty list: WRONGTYPE if one before it
/// holds another type. When serving a blocked client, only the ready key is
/// considered, and a wrong type there just means "not ready".
fn first_ready_key<'a>(ctx: &mut Ctx, keys: &[&'a [u8]]) -> Result<Option<&'a [u8]>, CmdError> {
    if let Some(serving) = ctx.serving_key().map(<[u8]>::to_vec) {
        let key = keys.iter().find(|k| **k == serving.as_slice()).copied();
        return Ok(key.filter(|k| ctx.write_list(k).ok().flatten().is_some_and(|l| !l.is_empty())));
    }
    for &key in keys {
        if has_elements(ctx, key)? {
            return Ok(Some(key));
        }
    }
    Ok(None)
}

/// BLPOP/BRPOP key... timeout: replies [key, element].
fn blocking_pop(ctx: &mut Ctx, argv: &[&[u8]], end: End) -> CmdResult {
    let deadline = parse_timeout(argv[argv.len() - 1], ctx.now_ms())?;
    let keys = &argv[1..argv.len() - 1];
    let Some(key) = first_ready_key(ctx, keys)? else {
        ctx.block(keys, deadline);
        return Ok(());
    };
    let value = pop_elements(ctx, key, end, 1).pop().expect("the key has elements");
    let reply = ctx.reply();
    reply.array(2);
    reply.bulk(key);
    reply.bulk(&value);
    ctx.mark_dirty(1);
    ctx.propagate_as(vec![pop_verb(end).to_vec(), key.to_vec()]);
    Ok(())
}

fn blpop(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    blocking_pop(ctx, argv, End::Head)
}

fn brpop(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    blocking_pop(ctx, argv, End::Tail)
}

/// LMPOP/BLMPOP arguments after the timeout (if any).
struct MpopArgs<'a> {
    keys: &'a [&'a [u8]],
    end: End,
    count: usize,
}

/// Parses `numkeys key... LEFT|RIGHT [COUNT n]` from `args`.
fn parse_mpop<'a>(args: &'a [&'a [u8]]) -> Result<MpopArgs<'a>, CmdError> {
    const NUMKEYS: &str = "ERR numkeys should be greater than 0";
    let numkeys = parse_i64(args[0]).filter(|n| *n > 0).ok_or(NUMKEYS)?;
    if numkeys as u64 >= args.len() as u64 - 1 {
        return Err(errors::SYNTAX.into());
    }
    let numkeys = numkeys as usize;
    let keys = &args[1..=numkeys];
    let end = parse_end(args[numkeys + 1])?;
    let mut count = None;
    let mut rest = &args[numkeys + 2..];
    while let Some((opt, tail)) = rest.split_first() {
        match tail.first() {
            Some(value) if count.is_none() && opt.eq_ignore_ascii_case(b"count") => {
                let n = parse_i64(value).filter(|n| *n > 0).ok_or("ERR count should be greater than 0")?;
                count = Some(n as usize);
                rest = &tail[1..];
            }
            _ => return Err(errors::SYNTAX.into()),
        }
    }
    Ok(MpopArgs { keys, end, count: count.unwrap_or(1) })
}

/// Pops from the first non-empty list of `args`; false if there is none.
fn mpop_from_first(ctx: &mut Ctx, args: &MpopArgs) -> Result<bool, CmdError> {
    let Some(key) = first_ready_key(ctx, args.keys)? else { return Ok(false) };
    let popped = pop_elements(ctx, key, args.end, args.count);
    let reply = ctx.reply();
    reply.array(2);
    reply.bulk(key);
    reply.array(popped.len());
    popped.iter().for_each(|v| reply.bulk(v));
    ctx.mark_dirty(1);
    let mut count = Vec::new();
    cinnabar_protocol::numbers::push_i64(&mut count, popped.len() as i64);
    ctx.propagate_as(vec![pop_verb(args.end).to_vec(), key.to_vec(), count]);
    Ok(true)
}

fn lmpop(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let args = parse_mpop(&argv[1..])?;
    if !mpop_from_first(ctx, &args)? {
        ctx.reply().null_array();
    }
    Ok(())
}

fn blmpop(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    // Redis checks the timeout after the other arguments.
    let args = parse_mpop(&argv[2..])?;
    let deadline = parse_timeout(argv[1], ctx.now_ms())?;
    if !mpop_from_first(ctx, &args)? {
        ctx.block(args.keys, deadline);
    }
    Ok(())
}
