//! Expiry commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX|XX|GT|LT),
//! TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST.
//!
//! Setting a TTL propagates as PEXPIREAT with the absolute time, so replicas
//! and the AOF agree with the master whatever their clocks; a TTL already in
//! the past deletes the key and propagates that deletion instead.

use cinnabar_protocol::numbers::parse_i64;

use crate::command::context::errors;
use crate::command::{acl, flags::*, key_flags::*, Arg, CmdError, CmdResult, CommandSpec, Ctx, KeySpec};
use crate::notify;
use crate::server::deletion_verb;

/// Key spec shared by the commands that set or remove a TTL.
const UPDATES_KEY: &[KeySpec] = &[KeySpec::single(1, RW | UPDATE)];
/// Key spec shared by the commands that read a TTL.
const READS_KEY: &[KeySpec] = &[KeySpec::single(1, RO | ACCESS)];

/// The fields every expiry command shares.
const EXPIRY_COMMAND: CommandSpec =
    CommandSpec { flags: WRITE | FAST, acl: acl::KEYSPACE, complexity: "O(1)", ..CommandSpec::DEFAULT };

/// COMMAND DOCS history of the commands that set a TTL.
const NX_XX_GT_LT: &[(&str, &str)] = &[("7.0.0", "New NX, XX, GT and LT conditions.")];
/// COMMAND DOCS history of the commands that read a TTL.
const MISSING_KEY_REPLY: &[(&str, &str)] = &[("2.8.0", "A missing key gives -2 (no TTL still gives -1).")];

/// COMMAND DOCS arguments of the commands that only name a key.
const KEY: &[Arg] = &[Arg::key("key", 0)];
/// The optional condition of the commands that set a TTL.
const CONDITION: Arg = Arg::one_of(
    "condition",
    &[
        Arg::pure_token("nx", "NX"),
        Arg::pure_token("xx", "XX"),
        Arg::pure_token("gt", "GT"),
        Arg::pure_token("lt", "LT"),
    ],
)
.since("7.0.0")
.optional();

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "expire",
        arity: -3,
        key_specs: UPDATES_KEY,
        handler: Some(expire),
        summary: "Give a key a time to live in seconds",
        history: NX_XX_GT_LT,
        args: &[Arg::key("key", 0), Arg::integer("seconds"), CONDITION],
        ..EXPIRY_COMMAND
    },
    CommandSpec {
        name: "pexpire",
        arity: -3,
        key_specs: UPDATES_KEY,
        handler: Some(pexpire),
        since: "2.6.0",
        summary: "Give a key a time to live in milliseconds",
        history: NX_XX_GT_LT,
        args: &[Arg::key("key", 0), Arg::integer("milliseconds"), CONDITION],
        ..EXPIRY_COMMAND
    },
    CommandSpec {
        name: "expireat",
        arity: -3,
        key_specs: UPDATES_KEY,
        handler: Some(expireat),
        since: "1.2.0",
        summary: "Make a key expire at a Unix time in seconds",
        history: NX_XX_GT_LT,
        args: &[Arg::key("key", 0), Arg::unix_time("unix-time-seconds"), CONDITION],
        ..EXPIRY_COMMAND
    },
    CommandSpec {
        name: "pexpireat",
        arity: -3,
        key_specs: UPDATES_KEY,
        handler: Some(pexpireat),
        since: "2.6.0",
        summary: "Make a key expire at a Unix time in milliseconds",
        history: NX_XX_GT_LT,
        args: &[Arg::key("key", 0), Arg::unix_time("unix-time-milliseconds"), CONDITION],
        ..EXPIRY_COMMAND
    },
    CommandSpec {
        name: "persist",
        arity: 2,
        key_specs: UPDATES_KEY,
        handler: Some(persist),
        since: "2.2.0",
        summary: "Remove a key's time to live",
        args: KEY,
        ..EXPIRY_COMMAND
    },
    CommandSpec {
        name: "ttl",
        arity: 2,
        flags: READONLY | FAST,
        key_specs: READS_KEY,
        tips: &["nondeterministic_output"],
        handler: Some(ttl),
        summary: "Report a key's remaining time to live in seconds",
        history: MISSING_KEY_REPLY,
        args: KEY,
        ..EXPIRY_COMMAND
    },
    CommandSpec {
        name: "pttl",
        arity: 2,
        flags: READONLY | FAST,
        key_specs: READS_KEY,
        tips: &["nondeterministic_output"],
        handler: Some(pttl),
        since: "2.6.0",
        summary: "Report a key's remaining time to live in milliseconds",
        history: MISSING_KEY_REPLY,
        args: KEY,
        ..EXPIRY_COMMAND
    },
    CommandSpec {
        name: "expiretime",
        arity: 2,
        flags: READONLY | FAST,
        key_specs: READS_KEY,
        handler: Some(expiretime),
        since: "7.0.0",
        summary: "Report the Unix time in seconds at which a key expires",
        args: KEY,
        ..EXPIRY_COMMAND
    },
    CommandSpec {
        name: "pexpiretime",
        arity: 2,
        flags: READONLY | FAST,
        key_specs: READS_KEY,
        handler: Some(pexpiretime),
        since: "7.0.0",
        summary: "Report the Unix time in milliseconds at which a key expires",
        args: KEY,
        ..EXPIRY_COMMAND
    },
];

/// How an expiry command's time argument is read.
#[derive(Clone, Copy)]
struct TimeArg {
    /// The command's name, for the overflow error.
    command: &'static str,
    /// Seconds (true) or milliseconds.
    seconds: bool,
    /// Relative to now (true) or a Unix time.
    relative: bool,
}

fn expire(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    set_expiry(ctx, argv, TimeArg { command: "expire", seconds: true, relative: true })
}

fn pexpire(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    set_expiry(ctx, argv, TimeArg { command: "pexpire", seconds: false, relative: true })
}

fn expireat(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    set_expiry(ctx, argv, TimeArg { command: "expireat", seconds: true, relative: false })
}

fn pexpireat(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    set_expiry(ctx, argv, TimeArg { command: "pexpireat", seconds: false, relative: false })
}

/// The NX|XX|GT|LT options: when a new expiry may replace the current one.
#[derive(Default)]
struct Condition {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl Condition {
    fn parse(args: &[&[u8]]) -> Result<Condition, CmdError> {
        let mut c = Condition::default();
        for arg in args {
            let flag = match arg.to_ascii_lowercase().as_slice() {
                b"nx" => &mut c.nx,
                b"xx" => &mut c.xx,
                b"gt" => &mut c.gt,
                b"lt" => &mut c.lt,
                _ => return Err(format!("ERR Unsupported option {}", String::from_utf8_lossy(arg)).into()),
            };
            *flag = true;
        }
        if c.nx && (c.xx || c.gt || c.lt) {
            return Err("ERR NX and XX, GT or LT options at the same time are not compatible".into());
        }
        if c.gt && c.lt {
            return Err("ERR GT and LT options at the same time are not compatible".into());
        }
        Ok(c)
    }

    /// Whether `when` may replace `current`. No TTL counts as an infinite
    /// one: GT never beats it, LT always does.
    fn allows(&self, when: i64, current: Option<i64>) -> bool {
        !(self.nx && current.is_some()
            || self.xx && current.is_none()
            || self.gt && current.is_none_or(|c| when <= c)
            || self.lt && current.is_some_and(|c| when >= c))
    }
}

/// EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT.
fn set_expiry(ctx: &mut Ctx, argv: &[&[u8]], arg: TimeArg) -> CmdResult {
    let key = argv[1];
    let condition = Condition::parse(&argv[3..])?;
    let when = absolute_ms(parse_i64(argv[2]).ok_or(errors::NOT_INTEGER)?, arg, ctx.now_ms())
        .ok_or_else(|| format!("ERR invalid expire time in '{}' command", arg.command))?;
    if ctx.lookup_write(key).is_none() {
        ctx.reply().int(0);
        return Ok(());
    }
    let db = ctx.db_index();
    if !condition.allows(when, ctx.srv.dbs[db].expire_at(key)) {
        ctx.reply().int(0);
        return Ok(());
    }
    // A time already past deletes the key, except while loading (Redis's
    // checkAlreadyExpired): the replayed commands after it saw the key alive.
    if when <= ctx.now_ms() && !ctx.srv.loading {
        let lazy = ctx.srv.config.lazyfree_lazy_expire;
        ctx.srv.remove_key(db, key, lazy);
        ctx.propagate_as(vec![deletion_verb(lazy).to_vec(), key.to_vec()]);
        ctx.notify(notify::GENERIC, "del", key);
    } else {
        ctx.srv.dbs[db].set_expire(key, when);
        if arg.seconds || arg.relative {
            ctx.propagate_as(as_pexpireat(argv, when));
        }
        ctx.notify(notify::GENERIC, "expire", key);
    }
    ctx.mark_dirty(1);
    ctx.reply().int(1);
    Ok(())
}

/// The expiry as a Unix time in milliseconds, or None on overflow.
fn absolute_ms(value: i64, arg: TimeArg, now_ms: i64) -> Option<i64> {
    let ms = if arg.seconds { value.checked_mul(1000)? } else { value };
    if arg.relative {
        ms.checked_add(now_ms)
    } else {
        Some(ms)
    }
}

/// The command rewritten as PEXPIREAT with the absolute time, options kept.
fn as_pexpireat(argv: &[&[u8]], when: i64) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
    out[0] = b"PEXPIREAT".to_vec();
    out[2] = when.to_string().into_bytes();
    out
}

fn persist(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let removed = ctx.lookup_write(argv[1]).is_some() && ctx.db().persist(argv[1]);
    if removed {
        ctx.mark_dirty(1);
        ctx.notify(notify::GENERIC, "persist", argv[1]);
    }
    ctx.reply().int(i64::from(removed));
    Ok(())
}

fn ttl(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    report_expiry(ctx, argv[1], false, false)
}

fn pttl(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    report_expiry(ctx, argv[1], true, false)
}

fn expiretime(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    report_expiry(ctx, argv[1], false, true)
}

fn pexpiretime(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    report_expiry(ctx, argv[1], true, true)
}

/// TTL and friends: -2 if the key does not exist, -1 if it has no TTL,
/// otherwise the remaining time (or the Unix time) in seconds, rounded to
/// nearest, or milliseconds.
fn report_expiry(ctx: &mut Ctx, key: &[u8], millis: bool, absolute: bool) -> CmdResult {
    let reply = if ctx.lookup_read_no_touch(key).is_none() {
        -2
    } else {
        match ctx.db().expire_at(key) {
            None => -1,
            Some(when) => {
                let ms = if absolute { when } else { when - ctx.now_ms() }.max(0);
                // Wide arithmetic: Redis's rounding does not wrap near i64::MAX.
                if millis {
                    ms
                } else {
                    ((i128::from(ms) + 500) / 1000) as i64
                }
            }
        }
    };
    ctx.reply().int(reply);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Condition;

    #[test]
    fn conditions_treat_no_ttl_as_infinite() {
        let parse = |args: &[&[u8]]| Condition::parse(args).expect("valid options");
        assert!(parse(&[b"GT"]).allows(10, Some(5)));
        assert!(!parse(&[b"gt"]).allows(10, None));
        assert!(parse(&[b"lt"]).allows(10, None));
        assert!(!parse(&[b"lt"]).allows(10, Some(10)));
        assert!(!parse(&[b"nx"]).allows(10, Some(1)));
        assert!(!parse(&[b"xx"]).allows(10, None));
        assert!(parse(&[b"xx", b"gt"]).allows(10, Some(1)));
        assert!(Condition::parse(&[b"nx", b"lt"]).is_err());
        assert!(Condition::parse(&[b"gt", b"lt"]).is_err());
    }
}
