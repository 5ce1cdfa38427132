//! ACL and its subcommands: users (SETUSER, GETUSER, DELUSER, USERS, LIST,
//! WHOAMI), categories (CAT), the ACL file (LOAD, SAVE), ACL LOG, DRYRUN,
//! GENPASS and HELP, over the registry in `crate::acl`.

use std::io::Read;

use crate::acl::{self, file, rules, Denial, Selector};
use crate::command::context::errors;
use crate::command::table::effective_acl_categories;
use crate::command::{acl as category, flags::*, Arg, CmdResult, CommandSpec, Ctx};
use crate::commands::server::{reply_help, subcommand_syntax_error};
use crate::log::log_at;
use cinnabar_protocol::numbers::parse_i64;

const ADMIN_FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
const PER_USER: &str = "O(N). Where N is the number of configured users.";
const SELECTORS_HISTORY: &str =
    "Added selectors and changed the format of key and channel patterns from a list to their rule representation.";

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "acl",
    arity: -2,
    subcommands: SUBCOMMANDS,
    group: "server",
    since: "6.0.0",
    summary: "Manage access control: users, their rules and the ACL log",
    complexity: "Depends on subcommand.",
    ..CommandSpec::DEFAULT
}];

/// A subcommand entry with the fields every ACL subcommand shares.
const fn sub(name: &'static str, arity: i32, flags: u32, handler: crate::command::Handler) -> CommandSpec {
    CommandSpec { name, arity, flags, handler: Some(handler), group: "server", since: "6.0.0", ..CommandSpec::DEFAULT }
}

static SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec {
        summary: "List the ACL categories, or the commands in one",
        complexity: "O(1) since the categories and commands are a fixed set.",
        args: &[Arg::string("categoryname").optional()],
        ..sub("cat", -2, NOSCRIPT | LOADING | STALE, cat)
    },
    CommandSpec {
        summary: "Delete users and disconnect their clients",
        complexity: "O(1) amortized time considering the typical user.",
        args: &[Arg::string("username").multiple()],
        ..sub("deluser", -3, ADMIN_FLAGS, deluser)
    },
    CommandSpec {
        summary: "Tell whether a user could run a command, without running it",
        since: "7.0.0",
        complexity: "O(1).",
        args: &[Arg::string("username"), Arg::string("command"), Arg::string("arg").optional().multiple()],
        ..sub("dryrun", -4, ADMIN_FLAGS, dryrun)
    },
    CommandSpec {
        summary: "Generate a random password",
        complexity: "O(1)",
        args: &[Arg::integer("bits").optional()],
        ..sub("genpass", -2, NOSCRIPT | LOADING | STALE, genpass)
    },
    CommandSpec {
        summary: "Show a user's flags, passwords and permissions",
        complexity: "O(N). Where N is the number of password, command and pattern rules that the user has.",
        history: &[("6.2.0", "Added Pub/Sub channel patterns."), ("7.0.0", SELECTORS_HISTORY)],
        args: &[Arg::string("username")],
        ..sub("getuser", 3, ADMIN_FLAGS, getuser)
    },
    CommandSpec { summary: "List the ACL subcommands", complexity: "O(1)", ..sub("help", 2, LOADING | STALE, help) },
    CommandSpec {
        summary: "List every user as ACL file rules",
        complexity: PER_USER,
        ..sub("list", 2, ADMIN_FLAGS, list)
    },
    CommandSpec {
        summary: "Replace the users with those of the ACL file",
        complexity: PER_USER,
        ..sub("load", 2, ADMIN_FLAGS, load)
    },
    CommandSpec {
        summary: "Show or clear the log of refused commands and authentications",
        complexity: "O(N) with N being the number of entries shown.",
        args: &[Arg::one_of("operation", &[Arg::integer("count"), Arg::pure_token("reset", "RESET")]).optional()],
        ..sub("log", -2, ADMIN_FLAGS, log)
    },
    CommandSpec {
        summary: "Write the users to the ACL file",
        complexity: PER_USER,
        ..sub("save", 2, ADMIN_FLAGS, save)
    },
    CommandSpec {
        summary: "Create a user or change its rules",
        complexity: "O(N). Where N is the number of rules provided.",
        history: &[
            ("6.2.0", "Added Pub/Sub channel patterns."),
            ("7.0.0", "Added selectors and key based permissions."),
        ],
        args: &[Arg::string("username"), Arg::string("rule").optional().multiple()],
        ..sub("setuser", -3, ADMIN_FLAGS, setuser)
    },
    CommandSpec { summary: "List the user names", complexity: PER_USER, ..sub("users", 2, ADMIN_FLAGS, users) },
    CommandSpec {
        summary: "Name the user this connection is authenticated as",
        complexity: "O(1)",
        ..sub("whoami", 2, NOSCRIPT | LOADING | STALE, whoami)
    },
];

/// Whether new users and selectors start with every channel.
fn pubsub_all(ctx: &Ctx) -> bool {
    ctx.srv.config.acl_pubsub_default == "allchannels"
}

fn setuser(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    ctx.redacted.extend(2..argv.len());
    let name = argv[2];
    if rules::has_spaces(name) {
        return Err("ERR Usernames can't contain spaces or null characters".into());
    }
    let pubsub_all = pubsub_all(ctx);
    let existing = ctx.srv.acl.get(name).map(|u| u.borrow().clone());
    let user = rules::set_user(existing.as_ref(), name, &argv[3..], &ctx.srv.commands, pubsub_all)
        .map_err(|e| format!("ERR {e}"))?;
    ctx.srv.acl.put(user);
    acl::disconnect_revoked_subscribers(ctx.srv, ctx.client);
    ctx.reply().ok();
    Ok(())
}

fn deluser(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv[2..].iter().any(|name| *name == b"default") {
        return Err("ERR The 'default' user cannot be removed".into());
    }
    let removed: Vec<_> = argv[2..].iter().filter_map(|name| ctx.srv.acl.remove(name)).collect();
    acl::disconnect_users(ctx.srv, ctx.client, &removed);
    ctx.reply().int(removed.len() as i64);
    Ok(())
}

fn getuser(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let Some(user) = ctx.srv.acl.get(argv[2]).cloned() else {
        ctx.reply().null();
        return Ok(());
    };
    let user = user.borrow();
    let commands = &ctx.srv.commands;
    let reply = &mut ctx.client.reply;
    reply.map(6);
    reply.bulk_str("flags");
    let flags: Vec<&str> =
        acl::user_flags::NAMES.iter().filter(|(flag, _)| user.has(*flag)).map(|(_, name)| *name).collect();
    reply.set(flags.len());
    flags.iter().for_each(|f| reply.bulk_str(f));
    reply.bulk_str("passwords");
    reply.array(user.passwords.len());
    user.passwords.iter().for_each(|p| reply.bulk_str(p));
    write_selector(reply, user.root(), commands);
    reply.bulk_str("selectors");
    reply.array(user.selectors.len() - 1);
    for selector in &user.selectors[1..] {
        reply.map(3);
        write_selector(reply, selector, commands);
    }
    Ok(())
}

/// A selector's `commands`, `keys` and `channels` fields.
fn write_selector(reply: &mut cinnabar_protocol::Reply, selector: &Selector, commands: &crate::command::CommandTable) {
    reply.bulk_str("commands");
    reply.bulk_str(&rules::describe_commands(selector, commands));
    reply.bulk_str("keys");
    reply.bulk_str(&rules::describe_keys(selector));
    reply.bulk_str("channels");
    reply.bulk_str(&rules::describe_channels(selector));
}

fn list(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let lines: Vec<String> = file::render(&ctx.srv.acl, &ctx.srv.commands).lines().map(str::to_string).collect();
    let reply = ctx.reply();
    reply.array(lines.len());
    lines.iter().for_each(|l| reply.bulk_str(l));
    Ok(())
}

fn users(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let names: Vec<Vec<u8>> = ctx.srv.acl.users().map(|u| u.borrow().name.clone()).collect();
    let reply = ctx.reply();
    reply.array(names.len());
    names.iter().for_each(|n| reply.bulk(n));
    Ok(())
}

fn whoami(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    match ctx.client.user.clone() {
        Some(user) => ctx.reply().bulk(&user.borrow().name),
        None => ctx.reply().null(),
    }
    Ok(())
}

/// The configured ACL file, or the error LOAD and SAVE give without one.
fn aclfile(ctx: &Ctx) -> Result<String, crate::command::CmdError> {
    if ctx.srv.config.aclfile.is_empty() {
        return Err("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via \
                    the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration \
                    file set) in order to store users in the Redis configuration."
            .into());
    }
    Ok(ctx.srv.config.aclfile.clone())
}

fn load(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let path = aclfile(ctx)?;
    let users = file::load(&path, &ctx.srv.commands, pubsub_all(ctx)).map_err(|e| format!("ERR {e}"))?;
    let dropped = ctx.srv.acl.replace_all(users, &ctx.srv.commands);
    acl::disconnect_users(ctx.srv, ctx.client, &dropped);
    acl::disconnect_revoked_subscribers(ctx.srv, ctx.client);
    ctx.reply().ok();
    Ok(())
}

fn save(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let path = aclfile(ctx)?;
    file::save(&path, &ctx.srv.acl, &ctx.srv.commands, ctx.srv.now_ms).map_err(|reason| {
        log_at!(Warning, "{}", reason);
        "ERR There was an error trying to save the ACLs. Please check the server logs for more information"
    })?;
    ctx.reply().ok();
    Ok(())
}

fn cat(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    match argv {
        [_, _] => {
            let reply = ctx.reply();
            reply.array(category::NAMES.len());
            category::NAMES.iter().for_each(|(_, name)| reply.bulk_str(name));
        }
        [_, _, name] => {
            let flag = category::NAMES
                .iter()
                .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(name))
                .map(|(flag, _)| *flag)
                .ok_or_else(|| {
                    format!("ERR Unknown category '{}'", String::from_utf8_lossy(&name[..name.len().min(128)]))
                })?;
            let names: Vec<&str> = ctx
                .srv
                .commands
                .all()
                .filter(|(_, c)| effective_acl_categories(c.spec) & flag != 0)
                .map(|(_, c)| c.fullname.as_str())
                .collect();
            let reply = &mut ctx.client.reply;
            reply.array(names.len());
            names.iter().for_each(|n| reply.bulk_str(n));
        }
        _ => return Err(subcommand_syntax_error(argv)),
    }
    Ok(())
}

/// The largest password ACL GENPASS makes, in bits.
const GENPASS_MAX_BITS: i64 = 4096;

fn genpass(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let bits = match argv {
        [_, _] => 256,
        [_, _, bits] => parse_i64(bits).ok_or(errors::NOT_INTEGER)?,
        _ => return Err(subcommand_syntax_error(argv)),
    };
    if bits <= 0 || bits > GENPASS_MAX_BITS {
        return Err(format!(
            "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to \
             {GENPASS_MAX_BITS}"
        )
        .into());
    }
    let chars = ((bits + 3) / 4) as usize;
    let hex = random_hex(chars).map_err(|e| format!("ERR {e}"))?;
    ctx.reply().bulk_str(&hex);
    Ok(())
}

/// `chars` hex digits from the system's secure random source.
fn random_hex(chars: usize) -> std::io::Result<String> {
    let mut bytes = vec![0u8; chars.div_ceil(2)];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    let mut hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex.truncate(chars);
    Ok(hex)
}

fn log(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let count = match argv {
        [_, _] => 10,
        [_, _, arg] if arg.eq_ignore_ascii_case(b"reset") => {
            ctx.srv.acl.log.borrow_mut().reset();
            ctx.reply().ok();
            return Ok(());
        }
        [_, _, arg] => parse_i64(arg).ok_or(errors::NOT_INTEGER)?.max(0),
        _ => return Err(subcommand_syntax_error(argv)),
    };
    let now_ms = ctx.srv.now_ms;
    ctx.srv.acl.log.borrow().write(&mut ctx.client.reply, count as usize, now_ms);
    Ok(())
}

fn dryrun(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let user = ctx.srv.acl.get(argv[2]).cloned().ok_or_else(|| format!("ERR User '{}' not found", text(argv[2])))?;
    let request = &argv[3..];
    let commands = &ctx.srv.commands;
    let id = commands.resolve(request).ok_or_else(|| format!("ERR Command '{}' not found", text(argv[3])))?;
    let command = commands.get(id);
    let (arity, argc) = (command.spec.arity, request.len() as i32);
    if (arity > 0 && arity != argc) || argc < -arity {
        return Err(format!("ERR wrong number of arguments for '{}' command", command.fullname).into());
    }
    let verdict = user.borrow().may_run(commands, id, request);
    let reply = &mut ctx.client.reply;
    match verdict {
        Ok(()) => reply.ok(),
        Err(Denial::Command) => {
            reply.bulk_str(&format!("This user has no permissions to run the '{}' command", command.fullname))
        }
        Err(Denial::Key(pos)) => {
            reply.bulk_str(&format!("This user has no permissions to access the '{}' key", text(request[pos])))
        }
        Err(Denial::Channel(pos)) => {
            reply.bulk_str(&format!("This user has no permissions to access the '{}' channel", text(request[pos])))
        }
    }
    Ok(())
}

fn help(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    const LINES: [&str; 24] = [
        "CAT [<category>]",
        "    List the ACL categories, or the commands in <category>.",
        "DELUSER <username> [<username> ...]",
        "    Delete users and disconnect their clients.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Tell whether the user could run the command, without running it.",
        "GETUSER <username>",
        "    Show the user's flags, passwords and permissions.",
        "GENPASS [<bits>]",
        "    Generate a random password of 256 bits, or of <bits> bits.",
        "LIST",
        "    List every user as ACL file rules.",
        "LOAD",
        "    Replace the users with those of the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the log of refused commands and authentications, or clear it.",
        "SAVE",
        "    Write the users to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create a user or change its rules.",
        "USERS",
        "    List the user names.",
        "WHOAMI",
        "    Name the user this connection is authenticated as.",
    ];
    reply_help(ctx, argv[0], &LINES);
    Ok(())
}
