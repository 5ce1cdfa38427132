//! String commands: GET, SET.

use cinnabar_storage::{StrValue, Value};

use crate::command::{acl, flags::*, key_flags::*, CmdResult, CommandSpec, Ctx, KeySpec};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "get",
        arity: 2,
        flags: READONLY | FAST,
        acl: acl::STRING,
        key_specs: &[KeySpec::single(1, RO | ACCESS)],
        handler: Some(get),
        group: "string",
        summary: "Get the value of a key",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "set",
        arity: -3,
        flags: WRITE | DENYOOM,
        acl: acl::STRING,
        key_specs: &[KeySpec::single(1, RW | ACCESS | UPDATE | VARIABLE_FLAGS)],
        handler: Some(set),
        group: "string",
        summary: "Set the string value of a key",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
];

fn get(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    match ctx.read_string(argv[1])? {
        None => ctx.reply().null(),
        Some(StrValue::Int(i)) => {
            let i = *i;
            ctx.reply().bulk_i64(i)
        }
        Some(s) => {
            let s = s.as_bytes().into_owned();
            ctx.reply().bulk(&s)
        }
    }
    Ok(())
}

fn set(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    ctx.set_key(argv[1], Value::Str(StrValue::from_bytes(argv[2])), false);
    ctx.mark_dirty(1);
    ctx.reply().ok();
    Ok(())
}
