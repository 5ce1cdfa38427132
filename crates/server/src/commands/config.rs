//! CONFIG and its subcommands: GET (names and glob patterns), SET (several
//! pairs, all applied or none), RESETSTAT, REWRITE and HELP, over the directive
//! table in `crate::config`.

use crate::command::context::errors;
use crate::command::{flags::*, Arg, CmdResult, CommandSpec, Ctx};
use crate::config::{self, Directive, IMMUTABLE, PROTECTED};
use crate::log::log_at;
use cinnabar_storage::glob;

const ADMIN_FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
const PER_PARAMETER: &str = "O(N) when N is the number of configuration parameters provided";

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "config",
    arity: -2,
    subcommands: SUBCOMMANDS,
    group: "server",
    since: "2.0.0",
    summary: "Inspect and change the server configuration",
    complexity: "Depends on subcommand.",
    ..CommandSpec::DEFAULT
}];

static SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "rewrite",
        arity: 2,
        flags: ADMIN_FLAGS,
        handler: Some(rewrite),
        group: "server",
        since: "2.8.0",
        summary: "Write the running configuration back to the config file",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "set",
        arity: -4,
        flags: ADMIN_FLAGS,
        tips: &["request_policy:all_nodes", "response_policy:all_succeeded"],
        handler: Some(set),
        group: "server",
        since: "2.0.0",
        summary: "Change configuration parameters",
        complexity: PER_PARAMETER,
        history: &[("7.0.0", "Several parameters may be set at once.")],
        args: &[Arg::block("parameter_value", &[Arg::string("parameter"), Arg::string("value")]).multiple()],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "get",
        arity: -3,
        flags: ADMIN_FLAGS,
        handler: Some(get),
        group: "server",
        since: "2.0.0",
        summary: "Read configuration parameters",
        complexity: PER_PARAMETER,
        history: &[("7.0.0", "Several patterns may be given.")],
        args: &[Arg::block("parameter", &[Arg::string("parameter")]).multiple()],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "resetstat",
        arity: 2,
        flags: ADMIN_FLAGS,
        handler: Some(resetstat),
        group: "server",
        since: "2.0.0",
        summary: "Zero the statistics INFO reports",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "help",
        arity: 2,
        flags: LOADING | STALE,
        handler: Some(help),
        group: "server",
        since: "5.0.0",
        summary: "List the CONFIG subcommands",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
];

fn text(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

/// CONFIG GET: exact names (any case, hidden ones too) and glob patterns over
/// names and aliases; each parameter once, in the order first matched.
fn get(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut found: Vec<(String, &'static Directive)> = Vec::new();
    let already = |found: &[(String, &Directive)], name: &str| found.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    for arg in &argv[2..] {
        let pattern = text(arg);
        if !arg.iter().any(|b| matches!(b, b'[' | b'*' | b'?')) {
            if !already(&found, &pattern) {
                if let Some(directive) = config::lookup(&pattern) {
                    found.push((pattern, directive));
                }
            }
            continue;
        }
        for (name, directive) in config::entries() {
            if !directive.is(config::HIDDEN) && !already(&found, name) && glob::matches(arg, name.as_bytes(), true) {
                found.push((name.to_string(), directive));
            }
        }
    }
    let values: Vec<String> = found.iter().map(|(_, d)| d.get(&ctx.srv.config)).collect();
    let reply = ctx.reply();
    reply.map(found.len());
    for ((name, _), value) in found.iter().zip(values) {
        reply.bulk_str(name);
        reply.bulk_str(&value);
    }
    Ok(())
}

/// True if `enable-protected-configs` lets this client change protected settings.
fn protected_allowed(ctx: &Ctx) -> bool {
    match ctx.srv.config.enable_protected_configs.as_str() {
        "yes" => true,
        "local" => is_local(&ctx.client.addr),
        _ => false,
    }
}

/// A loopback TCP peer or a unix socket.
fn is_local(addr: &str) -> bool {
    let ip = addr.rsplit_once(':').map_or(addr, |(ip, _)| ip);
    ip.parse::<std::net::IpAddr>().map_or(true, |ip| ip.is_loopback())
}

/// CONFIG SET name value [name value ...]: every pair is checked first, then
/// all are set; if one fails, those already set get their old values back.
fn set(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv.len() % 2 == 1 {
        return Err(errors::SYNTAX.into());
    }
    let pairs: Vec<(String, String)> = argv[2..].chunks(2).map(|p| (text(p[0]), text(p[1]))).collect();
    let mut chosen: Vec<(&'static Directive, &'static str)> = Vec::new();
    for (name, _) in &pairs {
        let Some((directive, entry)) = config::lookup_entry(name) else {
            return Err(format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'").into());
        };
        let refusal = if directive.is(IMMUTABLE) {
            Some("can't set immutable config")
        } else if directive.is(PROTECTED) && !protected_allowed(ctx) {
            Some("can't set protected config")
        } else if chosen.iter().any(|(d, e)| std::ptr::eq(*d, directive) && *e == entry) {
            Some("duplicate parameter")
        } else {
            None
        };
        // The first problem in argument order is the one reported.
        if let Some(reason) = refusal {
            return Err(set_failed(name, reason));
        }
        chosen.push((directive, entry));
    }
    let config = &mut ctx.srv.config;
    let old_maxmemory = config.maxmemory;
    let old: Vec<String> = chosen.iter().map(|(d, _)| d.get(config)).collect();
    for (i, ((directive, entry), (_, value))) in chosen.iter().zip(&pairs).enumerate() {
        if let Err(reason) = directive.set_from_text(config, value) {
            restore(config, &chosen[..=i], &old[..=i]);
            return Err(set_failed(entry, &reason));
        }
    }
    let mut applied: Vec<config::Apply> = Vec::new();
    for (directive, entry) in &chosen {
        let Some(apply) = directive.apply else { continue };
        if applied.iter().any(|a| *a as usize == apply as usize) {
            continue;
        }
        applied.push(apply);
        if let Err(reason) = apply(config) {
            log_at!(
                Warning,
                "Failed applying new configuration. Possibly related to new {} setting. Restoring previous settings.",
                directive.name
            );
            restore(config, &chosen, &old);
            for apply in &applied {
                let _ = apply(config);
            }
            return Err(set_failed(entry, &reason));
        }
    }
    // New TLS connections use a context rebuilt from the new files; when
    // that fails the old context and settings stay (Redis's applyTlsCfg).
    let tls_changed = chosen.iter().any(|(d, _)| crate::tls::CONTEXT_DIRECTIVES.contains(&d.name));
    if tls_changed && ctx.srv.tls_context.is_some() {
        match crate::tls::server_config(&ctx.srv.config) {
            Ok(context) => ctx.srv.tls_context = Some(context),
            Err(cause) => {
                crate::tls::log_failure(&cause);
                restore(&mut ctx.srv.config, &chosen, &old);
                let entry = chosen.iter().find(|(d, _)| crate::tls::CONTEXT_DIRECTIVES.contains(&d.name));
                let entry = entry.map_or("tls-cert-file", |(_, e)| e);
                return Err(set_failed(entry, "Unable to update TLS configuration. Check server logs."));
            }
        }
    }
    // The default user's password is `requirepass` (the ACL registry is not
    // part of `Config`, so its apply step happens here).
    if chosen.iter().any(|(d, _)| d.name == "requirepass") {
        let password = ctx.srv.config.requirepass.clone();
        ctx.srv.acl.set_default_password(&password, &ctx.srv.commands);
    }
    if ctx.srv.config.maxmemory != old_maxmemory {
        crate::evict::maxmemory_changed(ctx.srv);
    }
    let backlog_size = ctx.srv.config.repl_backlog_size as u64;
    if let Some(backlog) = ctx.srv.propagation.backlog.as_mut() {
        backlog.resize(backlog_size);
    }
    // Only turning the AOF on can fail here; the setting then goes back.
    if let Err(reason) = crate::persistence::aof::config_changed(ctx.srv) {
        restore(&mut ctx.srv.config, &chosen, &old);
        return Err(set_failed("appendonly", &reason));
    }
    ctx.reply().ok();
    Ok(())
}

fn set_failed(name: &str, reason: &str) -> crate::command::CmdError {
    format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}").into()
}

/// Puts back values saved before a failed CONFIG SET.
fn restore(config: &mut config::Config, chosen: &[(&'static Directive, &'static str)], old: &[String]) {
    for ((directive, _), value) in chosen.iter().zip(old) {
        if let Err(reason) = directive.set_from_text(config, value) {
            log_at!(
                Warning,
                "Failed restoring failed CONFIG SET command. Error setting {} to '{}': {}",
                directive.name,
                value,
                reason
            );
        }
    }
}

fn resetstat(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    ctx.srv.stats.reset();
    ctx.srv.commands.reset_stats();
    ctx.reply().ok();
    Ok(())
}

fn rewrite(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let path = ctx.srv.config.config_file.clone();
    if path.is_empty() {
        return Err("ERR The server is running without a config file".into());
    }
    // Users go to the config file unless an ACL file keeps them.
    let users: Vec<String> = if ctx.srv.config.aclfile.is_empty() {
        crate::acl::file::render(&ctx.srv.acl, &ctx.srv.commands).lines().map(str::to_string).collect()
    } else {
        Vec::new()
    };
    match config::rewrite_file(&path, &ctx.srv.config, &users) {
        Ok(()) => {
            log_at!(Warning, "CONFIG REWRITE executed with success.");
            ctx.reply().ok();
            Ok(())
        }
        Err(e) => {
            let reason = config::strerror(&e);
            log_at!(Warning, "CONFIG REWRITE failed: {}", reason);
            Err(format!("ERR Rewriting config file: {reason}").into())
        }
    }
}

fn help(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    const LINES: [&str; 11] = [
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return the parameters whose names match <pattern>, with their values.",
        "SET <directive> <value>",
        "    Change <directive> to <value>.",
        "RESETSTAT",
        "    Zero the statistics INFO reports.",
        "REWRITE",
        "    Write the running configuration back to the config file.",
        "HELP",
        "    Prints this help.",
    ];
    let reply = ctx.reply();
    reply.array(LINES.len());
    for line in LINES {
        reply.simple(line);
    }
    Ok(())
}
