//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (LOAD, EXISTS, FLUSH,
//! KILL, DEBUG, HELP): the commands over `crate::scripting`'s script cache.

use crate::command::{acl, flags::*, key_flags, Arg, BeginSearch, CmdResult, CommandSpec, Ctx, FindKeys, KeySpec};
use crate::commands::monitor;
use crate::commands::server::reply_help;
use crate::scripting::{self, busy, Invocation, NOSCRIPT as NO_SUCH_SCRIPT};
use crate::server::Server;

pub const EVAL_FLAGS: u32 = NOSCRIPT | SKIP_MONITOR | MAY_REPLICATE | NO_MANDATORY_KEYS | STALE | MOVABLE_KEYS;
pub const EVAL_RO_FLAGS: u32 = READONLY | NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | MOVABLE_KEYS;
const KEYS_AFTER_NUMKEYS: FindKeys = FindKeys::Keynum { keynum_idx: 0, first_key: 1, step: 1 };
pub const RW_KEYS: KeySpec =
    KeySpec::new(key_flags::RW | key_flags::ACCESS | key_flags::UPDATE, BeginSearch::Index(2), KEYS_AFTER_NUMKEYS);
pub const RO_KEYS: KeySpec = KeySpec::new(key_flags::RO | key_flags::ACCESS, BeginSearch::Index(2), KEYS_AFTER_NUMKEYS);
pub const RW_NOTES: &str = "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE";
pub const RO_NOTES: &str = "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS";

/// The shape EVAL, EVALSHA, FCALL and their _RO forms share.
pub const fn eval_spec(
    name: &'static str,
    flags: u32,
    key_specs: &'static [KeySpec],
    args: &'static [Arg],
) -> CommandSpec {
    CommandSpec {
        name,
        arity: -3,
        flags,
        acl: acl::SCRIPTING,
        key_specs,
        group: "scripting",
        since: "2.6.0",
        summary: "Execute a Lua script server side",
        complexity: "Depends on the script that is executed.",
        args,
        ..CommandSpec::DEFAULT
    }
}

const EVAL_ARGS: [Arg; 4] = [
    Arg::string("script"),
    Arg::integer("numkeys"),
    Arg::key("key", 0).optional().multiple(),
    Arg::string("arg").optional().multiple(),
];
const EVALSHA_ARGS: [Arg; 4] = [
    Arg::string("sha1"),
    Arg::integer("numkeys"),
    Arg::key("key", 0).optional().multiple(),
    Arg::string("arg").optional().multiple(),
];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        handler: Some(eval),
        request_flags: Some(eval_request_flags),
        ..eval_spec("eval", EVAL_FLAGS, &[RW_KEYS.with_notes(RW_NOTES)], &EVAL_ARGS)
    },
    CommandSpec {
        handler: Some(evalsha),
        request_flags: Some(evalsha_request_flags),
        ..eval_spec("evalsha", EVAL_FLAGS, &[RW_KEYS], &EVALSHA_ARGS)
    },
    CommandSpec {
        handler: Some(eval_ro),
        request_flags: Some(eval_request_flags),
        since: "7.0.0",
        summary: "Execute a read-only Lua script server side",
        ..eval_spec("eval_ro", EVAL_RO_FLAGS, &[RO_KEYS.with_notes(RO_NOTES)], &EVAL_ARGS)
    },
    CommandSpec {
        handler: Some(evalsha_ro),
        request_flags: Some(evalsha_request_flags),
        since: "7.0.0",
        summary: "Execute a read-only Lua script server side",
        ..eval_spec("evalsha_ro", EVAL_RO_FLAGS, &[RO_KEYS], &EVALSHA_ARGS)
    },
    CommandSpec {
        name: "script",
        arity: -2,
        subcommands: SCRIPT_SUBCOMMANDS,
        group: "scripting",
        since: "2.6.0",
        summary: "A container for Lua scripts management commands",
        complexity: "Depends on subcommand.",
        ..CommandSpec::DEFAULT
    },
];

static SCRIPT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "debug",
        arity: 3,
        flags: NOSCRIPT,
        acl: acl::SCRIPTING,
        handler: Some(script_debug),
        group: "scripting",
        since: "3.2.0",
        summary: "Set the debug mode for executed scripts.",
        complexity: "O(1)",
        args: &[Arg::one_of(
            "mode",
            &[Arg::pure_token("yes", "YES"), Arg::pure_token("sync", "SYNC"), Arg::pure_token("no", "NO")],
        )],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "exists",
        arity: -3,
        flags: NOSCRIPT,
        acl: acl::SCRIPTING,
        tips: &["request_policy:all_shards", "response_policy:agg_logical_and"],
        handler: Some(script_exists),
        group: "scripting",
        since: "2.6.0",
        summary: "Check existence of scripts in the script cache.",
        complexity:
            "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).",
        args: &[Arg::string("sha1").multiple()],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "flush",
        arity: -2,
        flags: NOSCRIPT,
        acl: acl::SCRIPTING,
        tips: &["request_policy:all_nodes", "response_policy:all_succeeded"],
        handler: Some(script_flush),
        group: "scripting",
        since: "2.6.0",
        summary: "Remove all the scripts from the script cache.",
        complexity: "O(N) with N being the number of scripts in cache",
        history: &[("6.2.0", "Added the `ASYNC` and `SYNC` flushing mode modifiers.")],
        args: &[Arg::one_of("async", &[Arg::pure_token("async", "ASYNC"), Arg::pure_token("sync", "SYNC")])
            .optional()
            .since("6.2.0")],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "help",
        arity: 2,
        flags: LOADING | STALE,
        acl: acl::SCRIPTING,
        handler: Some(script_help),
        group: "scripting",
        since: "5.0.0",
        summary: "Show helpful text about the different subcommands",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "kill",
        arity: 2,
        flags: NOSCRIPT | ALLOW_BUSY,
        acl: acl::SCRIPTING,
        tips: &["request_policy:all_shards", "response_policy:one_succeeded"],
        handler: Some(script_kill),
        group: "scripting",
        since: "2.6.0",
        summary: "Kill the script currently in execution.",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "load",
        arity: 3,
        flags: NOSCRIPT | STALE,
        acl: acl::SCRIPTING,
        tips: &["request_policy:all_nodes", "response_policy:all_succeeded"],
        handler: Some(script_load),
        group: "scripting",
        since: "2.6.0",
        summary: "Load the specified Lua script into the script cache.",
        complexity: "O(N) with N being the length in bytes of the script body.",
        args: &[Arg::string("script")],
        ..CommandSpec::DEFAULT
    },
];

/// EVAL's flags come from its script's shebang, if it has a valid one (the
/// cached script's flags were parsed from the same body).
fn eval_request_flags(_srv: &Server, argv: &[&[u8]], table_flags: u32) -> u32 {
    match scripting::parse_shebang(argv[1]) {
        Ok((script_flags, _)) => scripting::command_flags(table_flags, script_flags),
        Err(_) => table_flags,
    }
}

/// EVALSHA's flags come from the cached script, if there is one.
fn evalsha_request_flags(srv: &Server, argv: &[&[u8]], table_flags: u32) -> u32 {
    if argv[1].len() != 40 {
        return table_flags;
    }
    let Some(sha) = lowercase_sha(argv[1]) else { return table_flags };
    match std::str::from_utf8(&sha).ok().and_then(|sha| srv.scripting.script(sha)) {
        Some(script) => scripting::command_flags(table_flags, script.flags),
        None => table_flags,
    }
}

/// A script name as given (40 hex digits in any case), lower-cased without
/// allocating: EVALSHA looks its script up twice per call.
fn lowercase_sha(arg: &[u8]) -> Option<[u8; 40]> {
    let mut sha: [u8; 40] = arg.try_into().ok()?;
    sha.make_ascii_lowercase();
    Some(sha)
}

fn eval(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    eval_generic(ctx, argv, false, false)
}

fn evalsha(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    eval_generic(ctx, argv, true, false)
}

fn eval_ro(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    eval_generic(ctx, argv, false, true)
}

fn evalsha_ro(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    eval_generic(ctx, argv, true, true)
}

fn eval_generic(ctx: &mut Ctx, argv: &[&[u8]], by_sha: bool, read_only: bool) -> CmdResult {
    // Monitors see the script before the commands it runs.
    monitor::feed(ctx.srv, ctx.client, argv);
    if by_sha && argv[1].len() != 40 {
        return Err(NO_SUCH_SCRIPT.into());
    }
    let (keys, args) = scripting::split_keys(&argv[3..], argv[2], crate::command::context::errors::NOT_INTEGER)?;
    let sha = if by_sha {
        let known = lowercase_sha(argv[1]).and_then(|sha| String::from_utf8(sha.to_vec()).ok());
        match known {
            Some(sha) if ctx.srv.scripting.script(&sha).is_some() => sha,
            _ => return Err(NO_SUCH_SCRIPT.into()),
        }
    } else {
        ctx.srv.scripting.load_script(argv[1])?
    };
    let script = ctx.srv.scripting.script(&sha).expect("loaded above");
    let (flags, lua_ref) = (script.flags, script.lua_ref);
    let inv = Invocation { eval_mode: true, lua_ref, name: sha, flags, read_only_command: read_only, keys, args };
    scripting::run(ctx, argv, inv)
}

fn script_load(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let sha = ctx.srv.scripting.load_script(argv[2])?;
    ctx.reply().bulk(sha.as_bytes());
    Ok(())
}

fn script_exists(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let found: Vec<bool> = argv[2..].iter().map(|sha| ctx.srv.scripting.has_script(sha)).collect();
    let reply = ctx.reply();
    reply.array(found.len());
    found.into_iter().for_each(|f| reply.int(i64::from(f)));
    Ok(())
}

fn script_flush(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 || (argv.len() == 3 && !is_flush_mode(argv[2])) {
        return Err("ERR SCRIPT FLUSH only support SYNC|ASYNC option".into());
    }
    ctx.srv.scripting.flush_scripts();
    ctx.reply().ok();
    Ok(())
}

/// ASYNC or SYNC (freeing a script cache is quick either way).
pub fn is_flush_mode(arg: &[u8]) -> bool {
    arg.eq_ignore_ascii_case(b"async") || arg.eq_ignore_ascii_case(b"sync")
}

fn script_kill(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    kill_running(ctx, true)
}

/// SCRIPT KILL and FUNCTION KILL: asks the running script to stop, unless
/// it already wrote or is of the other kind.
pub fn kill_running(ctx: &mut Ctx, eval_mode: bool) -> CmdResult {
    let Some(run) = ctx.srv.scripting.running.as_mut() else {
        return Err("NOTBUSY No scripts in execution right now.".into());
    };
    if run.write_dirty {
        return Err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either \
                    wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
            .into());
    }
    if eval_mode && !run.eval_mode {
        return Err(busy::SLOW_FUNCTION.into());
    }
    if !eval_mode && run.eval_mode {
        return Err(busy::SLOW_EVAL.into());
    }
    run.killed = true;
    ctx.reply().ok();
    Ok(())
}

/// SCRIPT DEBUG: there is no Lua debugger; NO (leaving debug mode) is
/// accepted, YES and SYNC are refused.
fn script_debug(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mode = argv[2];
    if mode.eq_ignore_ascii_case(b"no") {
        ctx.reply().ok();
        return Ok(());
    }
    if mode.eq_ignore_ascii_case(b"yes") || mode.eq_ignore_ascii_case(b"sync") {
        return Err("ERR SCRIPT DEBUG is not supported: this server has no Lua debugger".into());
    }
    Err("ERR Use SCRIPT DEBUG YES/SYNC/NO".into())
}

fn script_help(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    const LINES: &[&str] = &[
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
    ];
    reply_help(ctx, argv[0], LINES);
    Ok(())
}
