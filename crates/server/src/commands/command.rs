//! COMMAND and its subcommands (COUNT, INFO, DOCS, LIST, GETKEYS,
//! GETKEYSANDFLAGS, HELP): the command table described to clients in Redis
//! 7.0's reply shapes. Everything here is read from the table entries; key
//! positions come from `command::keys`.

use cinnabar_protocol::Reply;
use cinnabar_storage::glob;

use crate::command::context::errors;
use crate::command::keys::{self, KeyRef};
use crate::command::table::{effective_acl_categories, Command};
use crate::command::{
    acl, arg_flags, doc_flags, flags, flags::*, key_flags, Arg, ArgType, BeginSearch, CmdResult, CommandId,
    CommandSpec, CommandTable, Ctx, FindKeys, KeySpec,
};
use crate::commands::server::reply_help;

const ALL_COMMANDS_TIP: &[&str] = &["nondeterministic_output_order"];
const COMMAND_NAMES: &[Arg] = &[Arg::string("command-name").optional().multiple()];

/// Subcommand defaults: COMMAND's subcommands share flags, categories and group.
const SUB: CommandSpec =
    CommandSpec { flags: LOADING | STALE, acl: acl::CONNECTION, group: "server", ..CommandSpec::DEFAULT };

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "command",
    arity: -1,
    tips: ALL_COMMANDS_TIP,
    handler: Some(command_all),
    since: "2.8.13",
    summary: "Describe every command of the server",
    complexity: "O(N) where N is the total number of Redis commands",
    subcommands: &[
        CommandSpec {
            name: "count",
            arity: 2,
            handler: Some(count),
            since: "2.8.13",
            summary: "Count the commands of the server",
            complexity: "O(1)",
            ..SUB
        },
        CommandSpec {
            name: "docs",
            arity: -2,
            tips: ALL_COMMANDS_TIP,
            handler: Some(docs),
            since: "7.0.0",
            summary: "Describe the documentation of some or all commands",
            complexity: "O(N) where N is the number of commands to look up",
            args: COMMAND_NAMES,
            ..SUB
        },
        CommandSpec {
            name: "getkeys",
            arity: -4,
            handler: Some(getkeys),
            since: "2.8.13",
            summary: "List the key arguments of a full command",
            complexity: "O(N) where N is the number of arguments to the command",
            ..SUB
        },
        CommandSpec {
            name: "getkeysandflags",
            arity: -4,
            handler: Some(getkeys_and_flags),
            since: "7.0.0",
            summary: "List the key arguments of a full command with their access flags",
            complexity: "O(N) where N is the number of arguments to the command",
            ..SUB
        },
        CommandSpec {
            name: "help",
            arity: 2,
            handler: Some(help),
            since: "5.0.0",
            summary: "Explain the COMMAND subcommands",
            complexity: "O(1)",
            ..SUB
        },
        CommandSpec {
            name: "info",
            arity: -2,
            tips: ALL_COMMANDS_TIP,
            handler: Some(info),
            since: "2.8.13",
            summary: "Describe some or all commands",
            complexity: "O(N) where N is the number of commands to look up",
            history: &[("7.0.0", "Without arguments, describes every command.")],
            args: COMMAND_NAMES,
            ..SUB
        },
        CommandSpec {
            name: "list",
            arity: -2,
            tips: ALL_COMMANDS_TIP,
            handler: Some(list),
            since: "7.0.0",
            summary: "List command names, optionally filtered",
            complexity: "O(N) where N is the total number of Redis commands",
            args: &[Arg::one_of(
                "filterby",
                &[
                    Arg::string("module-name").token("MODULE"),
                    Arg::string("category").token("ACLCAT"),
                    Arg::pattern("pattern").token("PATTERN"),
                ],
            )
            .token("FILTERBY")
            .optional()],
            ..SUB
        },
    ],
    ..SUB
}];

fn command_all(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let Ctx { srv, client, .. } = ctx;
    let table = &srv.commands;
    client.reply.array(table.len_top_level());
    for (id, _) in table.top_level() {
        reply_info(&mut client.reply, table, id);
    }
    Ok(())
}

fn count(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let n = ctx.srv.commands.len_top_level() as i64;
    ctx.reply().int(n);
    Ok(())
}

fn info(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv.len() == 2 {
        return command_all(ctx, argv);
    }
    let Ctx { srv, client, .. } = ctx;
    let table = &srv.commands;
    client.reply.array(argv.len() - 2);
    for name in &argv[2..] {
        match find_by_fullname(table, name) {
            Some(id) => reply_info(&mut client.reply, table, id),
            None => client.reply.null(),
        }
    }
    Ok(())
}

fn docs(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let Ctx { srv, client, .. } = ctx;
    let table = &srv.commands;
    let reply = &mut client.reply;
    if argv.len() == 2 {
        reply.map(table.len_top_level());
        for (id, command) in table.top_level() {
            reply.bulk_str(&command.fullname);
            reply_docs(reply, table, id);
        }
        return Ok(());
    }
    // Unknown names are left out, so the count is known only at the end.
    let found: Vec<CommandId> = argv[2..].iter().filter_map(|name| find_by_fullname(table, name)).collect();
    reply.map(found.len());
    for id in found {
        reply.bulk_str(&table.get(id).fullname);
        reply_docs(reply, table, id);
    }
    Ok(())
}

fn list(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let filter = parse_list_filter(&argv[2..])?;
    let Ctx { srv, client, .. } = ctx;
    let names: Vec<&str> =
        srv.commands.all().map(|(_, c)| c).filter(|c| filter.accepts(c)).map(|c| c.fullname.as_str()).collect();
    client.reply.array(names.len());
    for name in names {
        client.reply.bulk_str(name);
    }
    Ok(())
}

/// COMMAND LIST's optional `FILTERBY MODULE m | ACLCAT c | PATTERN p`.
enum ListFilter<'a> {
    All,
    /// No modules exist, so a module filter matches nothing.
    Module,
    /// None for an unknown category, which matches nothing.
    AclCategory(Option<u64>),
    Pattern(&'a [u8]),
}

impl ListFilter<'_> {
    fn accepts(&self, command: &Command) -> bool {
        match self {
            ListFilter::All => true,
            ListFilter::Module => false,
            ListFilter::AclCategory(category) => {
                category.is_some_and(|cat| effective_acl_categories(command.spec) & cat != 0)
            }
            ListFilter::Pattern(pattern) => glob::matches(pattern, command.fullname.as_bytes(), true),
        }
    }
}

fn parse_list_filter<'a>(options: &[&'a [u8]]) -> Result<ListFilter<'a>, &'static str> {
    // FILTERBY can only be the last three arguments, as in Redis.
    let (kind, arg) = match options {
        [] => return Ok(ListFilter::All),
        [filterby, kind, arg] if filterby.eq_ignore_ascii_case(b"filterby") => (kind, *arg),
        _ => return Err(errors::SYNTAX),
    };
    match kind.to_ascii_lowercase().as_slice() {
        b"module" => Ok(ListFilter::Module),
        b"aclcat" => Ok(ListFilter::AclCategory(acl_category_by_name(arg))),
        b"pattern" => Ok(ListFilter::Pattern(arg)),
        _ => Err(errors::SYNTAX),
    }
}

fn acl_category_by_name(name: &[u8]) -> Option<u64> {
    acl::NAMES.iter().find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(name)).map(|(bit, _)| *bit)
}

fn getkeys(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    reply_keys(ctx, argv, false)
}

fn getkeys_and_flags(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    reply_keys(ctx, argv, true)
}

/// COMMAND GETKEYS / GETKEYSANDFLAGS on the request in `argv[2..]`.
fn reply_keys(ctx: &mut Ctx, argv: &[&[u8]], with_flags: bool) -> CmdResult {
    let request = &argv[2..];
    let table = &ctx.srv.commands;
    let spec = table.resolve(request).map(|id| table.get(id).spec).ok_or("ERR Invalid command specified")?;
    if !keys::has_keys(spec) {
        return Err("ERR The command has no key arguments".into());
    }
    let argc = request.len() as i32;
    if (spec.arity > 0 && spec.arity != argc) || argc < -spec.arity {
        return Err("ERR Invalid number of arguments specified for command".into());
    }
    let mut found: Vec<KeyRef> = Vec::new();
    keys::command_keys(spec, request, &mut found);
    if found.is_empty() && spec.flags & flags::NO_MANDATORY_KEYS == 0 {
        return Err("ERR Invalid arguments specified for command".into());
    }
    let reply = ctx.reply();
    reply.array(found.len());
    for key in found {
        if with_flags {
            reply.array(2);
            reply.bulk(request[key.pos]);
            reply_flag_set(reply, key.flags, &key_flags::NAMES);
        } else {
            reply.bulk(request[key.pos]);
        }
    }
    Ok(())
}

fn help(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    reply_help(
        ctx,
        argv[0],
        &[
            "(no subcommand)",
            "    Return details about all commands.",
            "COUNT",
            "    Return the number of commands.",
            "LIST",
            "    Return the names of all commands.",
            "INFO [<command-name> ...]",
            "    Return details about the given commands, or about all of them",
            "    when no name is given.",
            "DOCS [<command-name> ...]",
            "    Return documentation about the given commands, or about all of",
            "    them when no name is given.",
            "GETKEYS <full-command>",
            "    Return the keys of a full command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys of a full command with their access flags.",
        ],
    );
    Ok(())
}

/// Finds `name` or `container|sub` (Redis's strict `lookupCommandBySds`).
fn find_by_fullname(table: &CommandTable, name: &[u8]) -> Option<CommandId> {
    let mut parts = name.split(|&b| b == b'|');
    let base = table.find(parts.next()?)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(base),
        (Some(sub), None) if table.get(base).is_container() => table.find_subcommand(base, sub),
        _ => None,
    }
}

/// A set of status replies naming the bits of `flags`, in table order.
fn reply_flag_set<F: Copy + std::ops::BitAnd<Output = F> + PartialEq + Default>(
    reply: &mut Reply,
    flags: F,
    names: &[(F, &str)],
) {
    let present = || names.iter().filter(move |(bit, _)| flags & *bit != F::default());
    reply.set(present().count());
    for (_, name) in present() {
        reply.simple(name);
    }
}

/// One command's COMMAND INFO entry (Redis's `addReplyCommandInfo`).
fn reply_info(reply: &mut Reply, table: &CommandTable, id: CommandId) {
    let command = table.get(id);
    let spec = command.spec;
    let (range, _) = keys::legacy_range(spec);
    reply.array(10);
    reply.bulk_str(&command.fullname);
    reply.int(spec.arity.into());
    reply_flag_set(reply, keys::reported_flags(spec), &flags::NAMES);
    reply.int(range.first.into());
    reply.int(range.last.into());
    reply.int(range.step.into());
    let categories = effective_acl_categories(spec);
    let present = || acl::NAMES.iter().filter(|(bit, _)| categories & bit != 0);
    reply.set(present().count());
    for (_, name) in present() {
        reply.simple(&format!("@{name}"));
    }
    reply.set(spec.tips.len());
    for tip in spec.tips {
        reply.bulk_str(tip);
    }
    reply.set(spec.key_specs.len());
    for key_spec in spec.key_specs {
        reply_key_spec(reply, key_spec);
    }
    if command.is_container() {
        let subcommands = command.subcommand_ids();
        reply.array(subcommands.len());
        for sub in subcommands {
            reply_info(reply, table, sub);
        }
    } else {
        reply.set(0);
    }
}

fn reply_key_spec(reply: &mut Reply, spec: &KeySpec) {
    reply.map(if spec.notes.is_empty() { 3 } else { 4 });
    if !spec.notes.is_empty() {
        reply.bulk_str("notes");
        reply.bulk_str(spec.notes);
    }
    reply.bulk_str("flags");
    reply_flag_set(reply, spec.flags, &key_flags::NAMES);
    reply.bulk_str("begin_search");
    match spec.begin {
        BeginSearch::Index(index) => reply_search_type(reply, "index", &[("index", Value::Int(index))]),
        BeginSearch::Keyword { keyword, start_from } => reply_search_type(
            reply,
            "keyword",
            &[("keyword", Value::Text(keyword)), ("startfrom", Value::Int(start_from))],
        ),
        BeginSearch::Unknown => reply_search_type(reply, "unknown", &[]),
    }
    reply.bulk_str("find_keys");
    match spec.find {
        FindKeys::Range { last_key, step, limit } => reply_search_type(
            reply,
            "range",
            &[("lastkey", Value::Int(last_key)), ("keystep", Value::Int(step)), ("limit", Value::Int(limit))],
        ),
        FindKeys::Keynum { keynum_idx, first_key, step } => reply_search_type(
            reply,
            "keynum",
            &[
                ("keynumidx", Value::Int(keynum_idx)),
                ("firstkey", Value::Int(first_key)),
                ("keystep", Value::Int(step)),
            ],
        ),
        FindKeys::Unknown => reply_search_type(reply, "unknown", &[]),
    }
}

/// A value inside a key spec's `spec` map.
enum Value {
    Int(i32),
    Text(&'static str),
}

/// `{type: kind, spec: {field: value, ...}}`.
fn reply_search_type(reply: &mut Reply, kind: &str, fields: &[(&str, Value)]) {
    reply.map(2);
    reply.bulk_str("type");
    reply.bulk_str(kind);
    reply.bulk_str("spec");
    reply.map(fields.len());
    for (name, value) in fields {
        reply.bulk_str(name);
        match value {
            Value::Int(i) => reply.int((*i).into()),
            Value::Text(s) => reply.bulk_str(s),
        }
    }
}

/// One command's COMMAND DOCS entry (Redis's `addReplyCommandDocs`).
fn reply_docs(reply: &mut Reply, table: &CommandTable, id: CommandId) {
    let command = table.get(id);
    let spec = command.spec;
    let texts =
        [("summary", spec.summary), ("since", spec.since), ("group", spec.group), ("complexity", spec.complexity)];
    let texts: Vec<_> = texts.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let deprecation = [("deprecated_since", spec.deprecated_since), ("replaced_by", spec.replaced_by)];
    let deprecation: Vec<_> = deprecation.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let len = texts.len()
        + usize::from(spec.doc_flags != 0)
        + deprecation.len()
        + usize::from(!spec.history.is_empty())
        + usize::from(!spec.args.is_empty())
        + usize::from(command.is_container());
    reply.map(len);
    for (field, text) in texts {
        reply.bulk_str(field);
        reply.bulk_str(text);
    }
    if spec.doc_flags != 0 {
        reply.bulk_str("doc_flags");
        reply_flag_set(reply, spec.doc_flags, &doc_flags::NAMES);
    }
    for (field, text) in deprecation {
        reply.bulk_str(field);
        reply.bulk_str(text);
    }
    if !spec.history.is_empty() {
        reply.bulk_str("history");
        reply.set(spec.history.len());
        for (version, change) in spec.history {
            reply.array(2);
            reply.bulk_str(version);
            reply.bulk_str(change);
        }
    }
    if !spec.args.is_empty() {
        reply.bulk_str("arguments");
        reply_args(reply, spec.args);
    }
    if command.is_container() {
        reply.bulk_str("subcommands");
        let subcommands = command.subcommand_ids();
        reply.map(subcommands.len());
        for sub in subcommands {
            reply.bulk_str(&table.get(sub).fullname);
            reply_docs(reply, table, sub);
        }
    }
}

/// COMMAND DOCS `arguments` (Redis's `addReplyCommandArgList`).
fn reply_args(reply: &mut Reply, args: &[Arg]) {
    reply.array(args.len());
    for arg in args {
        let (kind, key_spec_index, nested) = match arg.kind {
            ArgType::String => ("string", None, None),
            ArgType::Integer => ("integer", None, None),
            ArgType::Double => ("double", None, None),
            ArgType::Key(index) => ("key", Some(index), None),
            ArgType::Pattern => ("pattern", None, None),
            ArgType::KeyPattern(index) => ("pattern", Some(index), None),
            ArgType::UnixTime => ("unix-time", None, None),
            ArgType::PureToken => ("pure-token", None, None),
            ArgType::OneOf(choices) => ("oneof", None, Some(choices)),
            ArgType::Block(parts) => ("block", None, Some(parts)),
        };
        let texts = [("token", arg.token), ("summary", arg.summary), ("since", arg.since)];
        let texts: Vec<_> = texts.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        let len = 2
            + usize::from(key_spec_index.is_some())
            + texts.len()
            + usize::from(!arg.deprecated_since.is_empty())
            + usize::from(arg.flags != 0)
            + usize::from(nested.is_some());
        reply.map(len);
        reply.bulk_str("name");
        reply.bulk_str(arg.name);
        reply.bulk_str("type");
        reply.bulk_str(kind);
        if let Some(index) = key_spec_index {
            reply.bulk_str("key_spec_index");
            reply.int(index.into());
        }
        for (field, text) in texts {
            reply.bulk_str(field);
            reply.bulk_str(text);
        }
        if !arg.deprecated_since.is_empty() {
            reply.bulk_str("deprecated_since");
            reply.bulk_str(arg.deprecated_since);
        }
        if arg.flags != 0 {
            reply.bulk_str("flags");
            reply_flag_set(reply, arg.flags, &arg_flags::NAMES);
        }
        if let Some(nested) = nested {
            reply.bulk_str("arguments");
            reply_args(reply, nested);
        }
    }
}
