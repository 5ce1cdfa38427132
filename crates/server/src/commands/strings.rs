//! String commands: GET, SET.

use cinnabar_storage::{StrValue, Value};

use crate::command::keys::KeyRef;
use crate::command::{acl, flags::*, key_flags::*, Arg, CmdResult, CommandSpec, Ctx, KeySpec};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "get",
        arity: 2,
        flags: READONLY | FAST,
        acl: acl::STRING,
        key_specs: &[KeySpec::single(1, RO | ACCESS)],
        args: &[Arg::key("key", 0)],
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
        key_specs: &[KeySpec::single(1, RW | ACCESS | UPDATE | VARIABLE_FLAGS)
            .with_notes("RW and ACCESS due to the optional `GET` argument")],
        get_keys: Some(set_keys),
        args: &[
            Arg::key("key", 0),
            Arg::string("value"),
            Arg::one_of("condition", &[Arg::pure_token("nx", "NX"), Arg::pure_token("xx", "XX")])
                .since("2.6.12")
                .optional(),
            Arg::pure_token("get", "GET").since("6.2.0").optional(),
            Arg::one_of(
                "expiration",
                &[
                    Arg::integer("seconds").token("EX").since("2.6.12"),
                    Arg::integer("milliseconds").token("PX").since("2.6.12"),
                    Arg::unix_time("unix-time-seconds").token("EXAT").since("6.2.0"),
                    Arg::unix_time("unix-time-milliseconds").token("PXAT").since("6.2.0"),
                    Arg::pure_token("keepttl", "KEEPTTL").since("6.0.0"),
                ],
            )
            .optional(),
        ],
        handler: Some(set),
        group: "string",
        summary: "Set the string value of a key",
        complexity: "O(1)",
        history: &[
            ("2.6.12", "New options: EX, PX, NX, XX."),
            ("6.0.0", "New option: KEEPTTL."),
            ("6.2.0", "New options: GET, EXAT, PXAT."),
            ("7.0.0", "NX and GET may be combined."),
        ],
        ..CommandSpec::DEFAULT
    },
];

/// SET's key is read too only when GET is among its options.
fn set_keys(argv: &[&[u8]], out: &mut Vec<KeyRef>) {
    let reads = argv.iter().skip(3).any(|arg| arg.eq_ignore_ascii_case(b"get"));
    let flags = if reads { RW | ACCESS | UPDATE } else { OW | UPDATE };
    out.push(KeyRef { pos: 1, flags });
}

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
