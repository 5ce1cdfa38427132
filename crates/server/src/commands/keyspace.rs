//! Generic keyspace commands: DEL, EXISTS, DBSIZE.

use crate::command::{acl, flags::*, key_flags::*, Arg, CmdResult, CommandSpec, Ctx, KeySpec};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "del",
        arity: -2,
        flags: WRITE,
        acl: acl::KEYSPACE,
        key_specs: &[KeySpec::range(1, -1, 1, RM | DELETE)],
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        args: &[Arg::key("key", 0).multiple()],
        handler: Some(del),
        summary: "Delete a key",
        complexity: "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "exists",
        arity: -2,
        flags: READONLY | FAST,
        acl: acl::KEYSPACE,
        key_specs: &[KeySpec::range(1, -1, 1, RO)],
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        args: &[Arg::key("key", 0).multiple()],
        handler: Some(exists),
        summary: "Determine if a key exists",
        complexity: "O(N) where N is the number of keys to check.",
        history: &[("3.0.3", "Several keys may be given.")],
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
        summary: "Return the number of keys in the selected database",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
];

fn del(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut deleted = 0;
    for key in &argv[1..] {
        if ctx.delete_key(key) {
            deleted += 1;
        }
    }
    ctx.mark_dirty(deleted as u64);
    ctx.reply().int(deleted);
    Ok(())
}

fn exists(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut count = 0;
    for key in &argv[1..] {
        if ctx.lookup_read(key).is_some() {
            count += 1;
        }
    }
    ctx.reply().int(count);
    Ok(())
}

fn dbsize(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let n = ctx.db().len() as i64;
    ctx.reply().int(n);
    Ok(())
}
