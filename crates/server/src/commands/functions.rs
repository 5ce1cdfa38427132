//! FCALL, FCALL_RO and FUNCTION (LOAD, DELETE, FLUSH, LIST, DUMP, RESTORE,
//! STATS, KILL, HELP) over `crate::scripting::functions`.

use crate::command::{acl, flags::*, Arg, CmdResult, CommandSpec, Ctx};
use crate::commands::monitor;
use crate::commands::scripting::{
    eval_spec, is_flush_mode, kill_running, EVAL_FLAGS, EVAL_RO_FLAGS, RO_KEYS, RO_NOTES, RW_KEYS, RW_NOTES,
};
use crate::commands::server::reply_help;
use crate::scripting::{self, busy, script_flags, Invocation};
use crate::server::Server;
use cinnabar_storage::glob;

const FCALL_ARGS: [Arg; 4] = [
    Arg::string("function"),
    Arg::integer("numkeys"),
    Arg::key("key", 0).optional().multiple(),
    Arg::string("arg").optional().multiple(),
];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        handler: Some(fcall),
        request_flags: Some(fcall_request_flags),
        since: "7.0.0",
        summary: "Invoke a function",
        complexity: "Depends on the function that is executed.",
        ..eval_spec("fcall", EVAL_FLAGS, &[RW_KEYS.with_notes(RW_NOTES)], &FCALL_ARGS)
    },
    CommandSpec {
        handler: Some(fcall_ro),
        request_flags: Some(fcall_request_flags),
        since: "7.0.0",
        summary: "Invoke a read-only function",
        complexity: "Depends on the function that is executed.",
        ..eval_spec("fcall_ro", EVAL_RO_FLAGS, &[RO_KEYS.with_notes(RO_NOTES)], &FCALL_ARGS)
    },
    CommandSpec {
        name: "function",
        arity: -2,
        subcommands: SUBCOMMANDS,
        group: "scripting",
        since: "7.0.0",
        summary: "A container for function commands",
        complexity: "Depends on subcommand.",
        ..CommandSpec::DEFAULT
    },
];

const ALL_SHARDS_SUCCEEDED: &[&str] = &["request_policy:all_shards", "response_policy:all_succeeded"];

const fn subcommand(name: &'static str, arity: i32, flags: u32, summary: &'static str) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        acl: acl::SCRIPTING,
        group: "scripting",
        since: "7.0.0",
        summary,
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    }
}

static SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec {
        tips: ALL_SHARDS_SUCCEEDED,
        handler: Some(function_delete),
        args: &[Arg::string("library-name")],
        ..subcommand("delete", 3, WRITE | NOSCRIPT, "Delete a function by name")
    },
    CommandSpec {
        handler: Some(function_dump),
        complexity: "O(N) where N is the number of functions",
        ..subcommand("dump", 2, NOSCRIPT, "Dump all functions into a serialized binary payload")
    },
    CommandSpec {
        tips: ALL_SHARDS_SUCCEEDED,
        handler: Some(function_flush),
        complexity: "O(N) where N is the number of functions deleted",
        args: &[Arg::one_of("async", &[Arg::pure_token("async", "ASYNC"), Arg::pure_token("sync", "SYNC")]).optional()],
        ..subcommand("flush", -2, WRITE | NOSCRIPT, "Deleting all functions")
    },
    CommandSpec {
        handler: Some(function_help),
        ..subcommand("help", 2, LOADING | STALE, "Show helpful text about the different subcommands")
    },
    CommandSpec {
        tips: &["request_policy:all_shards", "response_policy:one_succeeded"],
        handler: Some(function_kill),
        ..subcommand("kill", 2, NOSCRIPT | ALLOW_BUSY, "Kill the function currently in execution.")
    },
    CommandSpec {
        tips: &["nondeterministic_output_order"],
        handler: Some(function_list),
        complexity: "O(N) where N is the number of functions",
        args: &[
            Arg::string("library-name-pattern").token("LIBRARYNAME").optional(),
            Arg::pure_token("withcode", "WITHCODE").optional(),
        ],
        ..subcommand("list", -2, NOSCRIPT, "List information about all the functions")
    },
    CommandSpec {
        tips: ALL_SHARDS_SUCCEEDED,
        handler: Some(function_load),
        complexity: "O(1) (considering compilation time is redundant)",
        args: &[Arg::pure_token("replace", "REPLACE").optional(), Arg::string("function-code")],
        ..subcommand(
            "load",
            -3,
            WRITE | DENYOOM | NOSCRIPT,
            "Create a function with the given arguments (name, code, description)",
        )
    },
    CommandSpec {
        tips: ALL_SHARDS_SUCCEEDED,
        handler: Some(function_restore),
        complexity: "O(N) where N is the number of functions on the payload",
        args: &[
            Arg::string("serialized-value"),
            Arg::one_of(
                "policy",
                &[
                    Arg::pure_token("flush", "FLUSH"),
                    Arg::pure_token("append", "APPEND"),
                    Arg::pure_token("replace", "REPLACE"),
                ],
            )
            .optional(),
        ],
        ..subcommand("restore", -3, WRITE | DENYOOM | NOSCRIPT, "Restore all the functions on the given payload")
    },
    CommandSpec {
        tips: &["nondeterministic_output", "request_policy:all_shards", "response_policy:special"],
        handler: Some(function_stats),
        ..subcommand(
            "stats",
            2,
            NOSCRIPT | ALLOW_BUSY,
            "Return information about the function currently running (name, description, duration)",
        )
    },
];

/// FCALL's flags come from the function's, if it exists.
fn fcall_request_flags(srv: &Server, argv: &[&[u8]], table_flags: u32) -> u32 {
    match srv.scripting.functions.function(&String::from_utf8_lossy(argv[1])) {
        Some(function) => scripting::command_flags(table_flags, function.flags),
        None => table_flags,
    }
}

fn fcall(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    fcall_generic(ctx, argv, false)
}

fn fcall_ro(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    fcall_generic(ctx, argv, true)
}

fn fcall_generic(ctx: &mut Ctx, argv: &[&[u8]], read_only: bool) -> CmdResult {
    // Monitors see the call before the commands it runs.
    monitor::feed(ctx.srv, ctx.client, argv);
    let name = String::from_utf8_lossy(argv[1]).into_owned();
    let Some(function) = ctx.srv.scripting.functions.function(&name) else {
        return Err("ERR Function not found".into());
    };
    let (lua_ref, flags) = (function.lua_ref, function.flags);
    let (keys, args) = scripting::split_keys(&argv[3..], argv[2], "ERR Bad number of keys provided")?;
    let inv = Invocation { eval_mode: false, lua_ref, name, flags, read_only_command: read_only, keys, args };
    scripting::run(ctx, argv, inv)
}

fn function_load(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut replace = false;
    for option in &argv[2..argv.len() - 1] {
        if !option.eq_ignore_ascii_case(b"replace") {
            return Err(format!("ERR Unknown option given: {}", String::from_utf8_lossy(option)).into());
        }
        replace = true;
    }
    let code = argv[argv.len() - 1];
    let name = ctx.srv.scripting.functions.load(code, replace).map_err(|e| format!("ERR {e}"))?;
    ctx.mark_dirty(1);
    ctx.reply().bulk(name.as_bytes());
    Ok(())
}

fn function_delete(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if !ctx.srv.scripting.functions.delete(&String::from_utf8_lossy(argv[2])) {
        return Err("ERR Library not found".into());
    }
    ctx.mark_dirty(1);
    ctx.reply().ok();
    Ok(())
}

fn function_flush(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 {
        return Err(subcommand_syntax_error(argv));
    }
    if argv.len() == 3 && !is_flush_mode(argv[2]) {
        return Err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option".into());
    }
    ctx.srv.scripting.functions.flush();
    ctx.mark_dirty(1);
    ctx.reply().ok();
    Ok(())
}

/// Redis's `addReplySubcommandSyntaxError`.
fn subcommand_syntax_error(argv: &[&[u8]]) -> crate::command::CmdError {
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(argv[1]),
        String::from_utf8_lossy(argv[0]).to_uppercase()
    )
    .into()
}

fn function_kill(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    kill_running(ctx, false)
}

fn function_stats(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let running = ctx.srv.scripting.running.as_ref();
    if running.is_some_and(|r| r.eval_mode) {
        return Err(busy::SLOW_EVAL.into());
    }
    let running = running.map(|r| (r.name.clone(), r.caller_argv.clone(), r.started.elapsed().as_millis() as i64));
    let functions = &ctx.srv.scripting.functions;
    let (libraries, function_count) = (functions.libraries.len(), functions.function_count());
    let reply = ctx.reply();
    reply.map(2);
    reply.bulk(b"running_script");
    match running {
        None => reply.null(),
        Some((name, argv, duration_ms)) => {
            reply.map(3);
            reply.bulk(b"name");
            reply.bulk(name.as_bytes());
            reply.bulk(b"command");
            reply.array(argv.len());
            argv.iter().for_each(|a| reply.bulk(a));
            reply.bulk(b"duration_ms");
            reply.int(duration_ms);
        }
    }
    reply.bulk(b"engines");
    reply.map(1);
    reply.bulk(b"LUA");
    reply.map(2);
    reply.bulk(b"libraries_count");
    reply.int(libraries as i64);
    reply.bulk(b"functions_count");
    reply.int(function_count as i64);
    Ok(())
}

fn function_list(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 2;
    while i < argv.len() {
        let arg = argv[i];
        if !with_code && arg.eq_ignore_ascii_case(b"withcode") {
            with_code = true;
        } else if pattern.is_none() && arg.eq_ignore_ascii_case(b"libraryname") {
            if i >= argv.len() - 1 {
                return Err("ERR library name argument was not given".into());
            }
            i += 1;
            pattern = Some(argv[i]);
        } else {
            return Err(format!("ERR Unknown argument {}", String::from_utf8_lossy(arg)).into());
        }
        i += 1;
    }
    let libraries: Vec<_> = ctx
        .srv
        .scripting
        .functions
        .libraries
        .values()
        .filter(|lib| pattern.is_none_or(|p| glob::matches(p, lib.name.as_bytes(), true)))
        .collect();
    let reply = &mut ctx.client.reply;
    reply.array(libraries.len());
    for lib in libraries {
        reply.map(if with_code { 4 } else { 3 });
        reply.bulk(b"library_name");
        reply.bulk(lib.name.as_bytes());
        reply.bulk(b"engine");
        reply.bulk(b"LUA");
        reply.bulk(b"functions");
        reply.array(lib.functions.len());
        for function in lib.functions.values() {
            reply.map(3);
            reply.bulk(b"name");
            reply.bulk(function.name.as_bytes());
            reply.bulk(b"description");
            match &function.description {
                Some(d) => reply.bulk(d),
                None => reply.null(),
            }
            reply.bulk(b"flags");
            let names: Vec<&str> =
                script_flags::NAMES.iter().filter(|(bit, _)| function.flags & bit != 0).map(|(_, n)| *n).collect();
            reply.set(names.len());
            names.iter().for_each(|n| reply.simple(n));
        }
        if with_code {
            reply.bulk(b"library_code");
            reply.bulk(&lib.code);
        }
    }
    Ok(())
}

fn function_dump(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let payload = ctx.srv.scripting.functions.dump();
    ctx.reply().bulk(&payload);
    Ok(())
}

fn function_restore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 4 {
        return Err(subcommand_syntax_error(argv));
    }
    let policy = match argv.get(3) {
        None => scripting::functions::RestorePolicy::Append,
        Some(p) if p.eq_ignore_ascii_case(b"append") => scripting::functions::RestorePolicy::Append,
        Some(p) if p.eq_ignore_ascii_case(b"replace") => scripting::functions::RestorePolicy::Replace,
        Some(p) if p.eq_ignore_ascii_case(b"flush") => scripting::functions::RestorePolicy::Flush,
        Some(_) => {
            return Err("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.".into())
        }
    };
    ctx.srv.scripting.functions.restore(argv[2], policy).map_err(|e| format!("ERR {e}"))?;
    ctx.mark_dirty(1);
    ctx.reply().ok();
    Ok(())
}

fn function_help(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    const LINES: &[&str] = &[
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
    ];
    reply_help(ctx, argv[0], LINES);
    Ok(())
}
