//! OBJECT: introspection of a key's value (ENCODING, REFCOUNT, IDLETIME, FREQ, HELP).
//!
//! Looking a key up here expires it if due and counts a keyspace hit or miss,
//! but never refreshes its access time, as Redis's `LOOKUP_NOTOUCH` lookups do:
//! asking how long a key has been idle must not reset the answer.

use cinnabar_storage::{Entry, StrValue, Value};

use crate::command::{acl, flags::*, key_flags::*, Arg, CmdResult, CommandSpec, Ctx, KeySpec};

/// A subcommand that takes one key and reports on its value.
macro_rules! key_subcommand {
    ($name:literal, $handler:ident, $since:literal, $summary:literal) => {
        CommandSpec {
            name: $name,
            arity: 3,
            flags: READONLY,
            acl: acl::KEYSPACE,
            key_specs: &[KeySpec::single(2, RO)],
            tips: &["nondeterministic_output"],
            handler: Some($handler),
            since: $since,
            summary: $summary,
            complexity: "O(1)",
            args: &[Arg::key("key", 0)],
            ..CommandSpec::DEFAULT
        }
    };
}

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "object",
    arity: -2,
    subcommands: &[
        key_subcommand!("encoding", encoding, "2.2.3", "Report how a key's value is stored internally"),
        key_subcommand!("freq", freq, "4.0.0", "Report a key's logarithmic access frequency counter"),
        CommandSpec {
            name: "help",
            arity: 2,
            flags: LOADING | STALE,
            acl: acl::KEYSPACE,
            handler: Some(help),
            since: "6.2.0",
            summary: "List the OBJECT subcommands",
            complexity: "O(1)",
            ..CommandSpec::DEFAULT
        },
        key_subcommand!("idletime", idletime, "2.2.3", "Report how long ago a key was last accessed"),
        key_subcommand!("refcount", refcount, "2.2.3", "Report how many references a key's value has"),
    ],
    since: "2.2.3",
    summary: "Introspect the values stored at keys",
    complexity: "Depends on subcommand.",
    ..CommandSpec::DEFAULT
}];

/// Integers Redis shares between keys instead of allocating each (0..9999).
const SHARED_INTEGERS: i64 = 10_000;
/// The reference count Redis reports for a shared object (INT_MAX).
const SHARED_REFCOUNT: i64 = i32::MAX as i64;

/// The key's entry looked up without touching its access time (see the module
/// comment); replies null and returns None if it does not exist.
fn lookup_or_null<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Option<&'c Entry> {
    ctx.expire_if_needed(key);
    let found = ctx.db().contains(key);
    if found {
        ctx.srv.stats.keyspace_hits += 1;
    } else {
        ctx.srv.stats.keyspace_misses += 1;
        ctx.reply().null();
        return None;
    }
    ctx.db().get(key)
}

/// True when small integers are shared: Redis stops sharing them once an LRU
/// or LFU policy with a memory limit needs per-key access data.
fn integers_shared(ctx: &Ctx) -> bool {
    let policy = &ctx.srv.config.maxmemory_policy;
    ctx.srv.config.maxmemory == 0 || !(policy.ends_with("-lru") || policy.ends_with("-lfu"))
}

fn encoding(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if let Some(entry) = lookup_or_null(ctx, argv[2]) {
        let name = entry.value.encoding();
        ctx.reply().bulk_str(name);
    }
    Ok(())
}

fn refcount(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let shared = integers_shared(ctx);
    if let Some(entry) = lookup_or_null(ctx, argv[2]) {
        let is_shared_integer =
            matches!(entry.value, Value::Str(StrValue::Int(i)) if (0..SHARED_INTEGERS).contains(&i));
        let count = if shared && is_shared_integer { SHARED_REFCOUNT } else { 1 };
        ctx.reply().int(count);
    }
    Ok(())
}

fn idletime(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let access = ctx.srv.access_policy();
    let Some(entry) = lookup_or_null(ctx, argv[2]) else {
        return Ok(());
    };
    if access.is_lfu() {
        return Err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into());
    }
    let idle = access.idle_seconds(entry.access);
    ctx.reply().int(i64::from(idle));
    Ok(())
}

fn freq(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let access = ctx.srv.access_policy();
    let Some(entry) = lookup_or_null(ctx, argv[2]) else {
        return Ok(());
    };
    if !access.is_lfu() {
        return Err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into());
    }
    let counter = access.lfu_counter(entry.access);
    ctx.reply().int(i64::from(counter));
    Ok(())
}

fn help(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    const LINES: &[&str] = &[
        "OBJECT <subcommand> <key>, where <subcommand> is one of:",
        "ENCODING <key>",
        "    Name the internal representation of the value stored at <key>.",
        "FREQ <key>",
        "    The logarithmic access frequency counter of <key> (LFU policies only).",
        "IDLETIME <key>",
        "    Seconds since <key> was last read or written (not with LFU policies).",
        "REFCOUNT <key>",
        "    How many references the value stored at <key> has.",
        "HELP",
        "    Print this help.",
    ];
    ctx.reply().array(LINES.len());
    for line in LINES {
        ctx.reply().simple(line);
    }
    Ok(())
}
