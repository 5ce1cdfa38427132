//! CLIENT and its subcommands: naming and identifying connections, listing
//! and killing them, CLIENT PAUSE/UNPAUSE, CLIENT REPLY and NO-EVICT.
//!
//! CLIENT UNBLOCK releases clients blocked on keys (see blocking.rs).
//! Tracking (CACHING, TRACKING, TRACKINGINFO, GETREDIR's real answer)
//! belongs with client-side caching.

use cinnabar_protocol::numbers::parse_i64;

use crate::blocking::{release, Release};
use crate::client::{Client, ClientType, PauseMode, ReplyMode};
use crate::command::context::errors;
use crate::command::{acl, flags::*, Arg, CmdResult, CommandSpec, Ctx};

const ADMIN_FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
const PLAIN_FLAGS: u32 = NOSCRIPT | LOADING | STALE;

/// A CLIENT subcommand entry with the fields they all share.
const fn sub(
    name: &'static str,
    arity: i32,
    flags: u32,
    handler: crate::command::Handler,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        acl: acl::CONNECTION,
        handler: Some(handler),
        group: "connection",
        since,
        summary,
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    }
}

/// COMMAND DOCS arguments of CLIENT LIST: the TYPE and ID filters.
const LIST_ARGS: &[Arg] = &[
    Arg::one_of(
        "normal_master_replica_pubsub",
        &[
            Arg::pure_token("normal", "NORMAL"),
            Arg::pure_token("master", "MASTER"),
            Arg::pure_token("replica", "REPLICA"),
            Arg::pure_token("pubsub", "PUBSUB"),
        ],
    )
    .token("TYPE")
    .since("5.0.0")
    .optional(),
    Arg::block("id", &[Arg::integer("client-id").multiple()]).token("ID").since("6.2.0").optional(),
];

/// COMMAND DOCS arguments of CLIENT KILL: the old `ip:port` form or filters.
const KILL_ARGS: &[Arg] = &[Arg::one_of(
    "filter",
    &[
        Arg::string("ip:port").deprecated_since("2.8.12"),
        Arg::one_of(
            "new-format",
            &[
                Arg::integer("client-id").token("ID").since("2.8.12").optional(),
                Arg::one_of(
                    "normal_master_slave_pubsub",
                    &[
                        Arg::pure_token("normal", "NORMAL"),
                        Arg::pure_token("master", "MASTER").since("3.2.0"),
                        Arg::pure_token("slave", "SLAVE"),
                        Arg::pure_token("replica", "REPLICA").since("5.0.0"),
                        Arg::pure_token("pubsub", "PUBSUB"),
                    ],
                )
                .token("TYPE")
                .since("2.8.12")
                .optional(),
                Arg::string("username").token("USER").optional(),
                Arg::string("ip:port").token("ADDR").optional(),
                Arg::string("ip:port").token("LADDR").since("6.2.0").optional(),
                Arg::string("yes/no").token("SKIPME").optional(),
            ],
        )
        .multiple(),
    ],
)];

/// COMMAND DOCS arguments of CLIENT TRACKING.
const TRACKING_ARGS: &[Arg] = &[
    Arg::one_of("status", &[Arg::pure_token("on", "ON"), Arg::pure_token("off", "OFF")]),
    Arg::integer("client-id").token("REDIRECT").optional(),
    Arg::string("prefix").token("PREFIX").optional().multiple().multiple_token(),
    Arg::pure_token("bcast", "BCAST").optional(),
    Arg::pure_token("optin", "OPTIN").optional(),
    Arg::pure_token("optout", "OPTOUT").optional(),
    Arg::pure_token("noloop", "NOLOOP").optional(),
];

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "client",
    arity: -2,
    group: "connection",
    since: "2.4.0",
    summary: "Inspect and control client connections",
    complexity: "Depends on subcommand.",
    subcommands: &[
        sub("id", 2, PLAIN_FLAGS, id, "5.0.0", "This connection's id"),
        CommandSpec {
            args: &[Arg::string("connection-name")],
            ..sub("setname", 3, PLAIN_FLAGS, setname, "2.6.9", "Name this connection")
        },
        sub("getname", 2, PLAIN_FLAGS, getname, "2.6.9", "This connection's name"),
        CommandSpec {
            tips: &["nondeterministic_output"],
            complexity: "O(N) where N is the number of client connections",
            history: &[
                ("2.8.12", "New id field."),
                ("5.0.0", "New TYPE filter."),
                ("6.0.0", "New user field."),
                ("6.2.0", "New argv-mem, tot-mem, laddr and redir fields; new ID filter."),
                ("7.0.0", "New resp, multi-mem, rbs and rbp fields."),
                ("7.0.3", "New ssub field."),
            ],
            args: LIST_ARGS,
            ..sub("list", -2, ADMIN_FLAGS, list, "2.4.0", "Describe the connected clients")
        },
        CommandSpec {
            tips: &["nondeterministic_output"],
            ..sub("info", 2, PLAIN_FLAGS, info, "6.2.0", "Describe this connection")
        },
        CommandSpec {
            complexity: "O(N) where N is the number of client connections",
            history: &[
                ("2.8.12", "Filters given as name/value pairs."),
                ("2.8.12", "New ID filter."),
                ("3.2.0", "TYPE accepts master."),
                ("5.0.0", "TYPE replica (slave still accepted)."),
                ("6.2.0", "New LADDR filter."),
            ],
            args: KILL_ARGS,
            ..sub("kill", -3, ADMIN_FLAGS, kill, "2.4.0", "Close client connections")
        },
        CommandSpec {
            history: &[("6.2.0", "New WRITE mode.")],
            args: &[
                Arg::integer("timeout"),
                Arg::one_of("mode", &[Arg::pure_token("write", "WRITE"), Arg::pure_token("all", "ALL")])
                    .since("6.2.0")
                    .optional(),
            ],
            ..sub("pause", -3, ADMIN_FLAGS, pause, "2.9.50", "Hold clients' commands for a while")
        },
        CommandSpec {
            complexity: "O(N) Where N is the number of paused clients",
            ..sub("unpause", 2, ADMIN_FLAGS, unpause, "6.2.0", "End a client pause")
        },
        CommandSpec {
            complexity: "O(log N) where N is the number of client connections",
            args: &[
                Arg::integer("client-id"),
                Arg::one_of(
                    "timeout_error",
                    &[Arg::pure_token("timeout", "TIMEOUT"), Arg::pure_token("error", "ERROR")],
                )
                .optional(),
            ],
            ..sub("unblock", -3, ADMIN_FLAGS, unblock, "5.0.0", "Release a client blocked on keys")
        },
        CommandSpec {
            args: &[Arg::one_of(
                "on_off_skip",
                &[Arg::pure_token("on", "ON"), Arg::pure_token("off", "OFF"), Arg::pure_token("skip", "SKIP")],
            )],
            ..sub("reply", 3, PLAIN_FLAGS, reply, "3.2.0", "Turn this connection's replies on or off")
        },
        CommandSpec {
            args: &[Arg::one_of("enabled", &[Arg::pure_token("on", "ON"), Arg::pure_token("off", "OFF")])],
            ..sub("no-evict", 3, ADMIN_FLAGS, no_evict, "7.0.0", "Exempt this connection from client eviction")
        },
        CommandSpec {
            tips: &["request_policy:all_nodes", "response_policy:all_succeeded"],
            ..sub("setinfo", 4, PLAIN_FLAGS | SENTINEL, setinfo, "7.2.0", "Record the client library's name or version")
        },
        CommandSpec {
            complexity: "O(1). Some options may introduce additional complexity.",
            args: TRACKING_ARGS,
            ..sub("tracking", -3, PLAIN_FLAGS, tracking, "6.0.0", "Turn client-side caching invalidations on or off")
        },
        CommandSpec {
            args: &[Arg::one_of("mode", &[Arg::pure_token("yes", "YES"), Arg::pure_token("no", "NO")])],
            ..sub("caching", 3, PLAIN_FLAGS, caching, "6.0.0", "Track, or not, the keys of the next command")
        },
        sub("getredir", 2, PLAIN_FLAGS, getredir, "6.0.0", "Where tracking invalidations are redirected"),
        sub("trackinginfo", 2, PLAIN_FLAGS, trackinginfo, "6.2.0", "Describe this connection's tracking mode"),
        sub("help", 2, LOADING | STALE, help, "5.0.0", "Describe the CLIENT subcommands"),
    ],
    ..CommandSpec::DEFAULT
}];

fn id(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let id = ctx.client.id as i64;
    ctx.reply().int(id);
    Ok(())
}

/// True if `text` may appear in CLIENT LIST: printable ASCII without spaces.
fn is_list_safe(text: &[u8]) -> bool {
    text.iter().all(|b| (b'!'..=b'~').contains(b))
}

/// Sets (or, with an empty name, clears) the connection's name. Shared with HELLO SETNAME.
pub fn set_name(ctx: &mut Ctx, name: &[u8]) -> CmdResult {
    if !is_list_safe(name) {
        return Err("ERR Client names cannot contain spaces, newlines or special characters.".into());
    }
    ctx.client.name = (!name.is_empty()).then(|| name.to_vec());
    Ok(())
}

fn setname(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    set_name(ctx, argv[2])?;
    ctx.reply().ok();
    Ok(())
}

fn getname(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    match ctx.client.name.clone() {
        Some(name) => ctx.reply().bulk(&name),
        None => ctx.reply().null(),
    }
    Ok(())
}

/// CLIENT LIST/KILL `TYPE` names.
fn parse_type(name: &[u8]) -> Result<ClientType, String> {
    let lower = name.to_ascii_lowercase();
    match lower.as_slice() {
        b"normal" => Ok(ClientType::Normal),
        b"slave" | b"replica" => Ok(ClientType::Replica),
        b"pubsub" => Ok(ClientType::PubSub),
        b"master" => Ok(ClientType::Master),
        _ => Err(format!("ERR Unknown client type '{}'", String::from_utf8_lossy(name))),
    }
}

/// The CLIENT LIST line of `other`, or of the caller when it is the caller
/// (whose state is borrowed by the context, not reachable through the registry).
fn line_of(ctx: &Ctx, other: &Client, argv_mem: usize) -> String {
    other.info_line(ctx.srv, argv_mem)
}

/// The size of a request's arguments, as CLIENT LIST `argv-mem` counts it.
pub fn argv_mem(argv: &[&[u8]]) -> usize {
    argv.iter().map(|a| a.len()).sum()
}

/// Appends the lines of the clients with these ids (all clients when None),
/// keeping those `keep` accepts.
fn list_lines(ctx: &Ctx, ids: Option<&[u64]>, keep: impl Fn(&Client) -> bool, caller_argv_mem: usize) -> String {
    let mut out = String::new();
    let mut push = |c: &Client| {
        if keep(c) {
            let mem = if c.id == ctx.client.id { caller_argv_mem } else { 0 };
            out.push_str(&line_of(ctx, c, mem));
            out.push('\n');
        }
    };
    let all: Vec<u64>;
    let ids = match ids {
        Some(ids) => ids,
        None => {
            all = ctx.srv.clients.keys().copied().collect();
            &all
        }
    };
    for &id in ids {
        if id == ctx.client.id {
            push(ctx.client);
        } else if let Some(c) = ctx.srv.clients.get(&id) {
            if let Ok(c) = c.try_borrow() {
                push(&c);
            }
        }
    }
    out
}

fn list(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mem = argv_mem(argv);
    let text = if argv.len() == 4 && argv[2].eq_ignore_ascii_case(b"type") {
        let wanted = parse_type(argv[3])?;
        list_lines(ctx, None, |c| c.client_type() == wanted, mem)
    } else if argv.len() > 3 && argv[2].eq_ignore_ascii_case(b"id") {
        let ids = argv[3..]
            .iter()
            .map(|a| parse_i64(a).map(|i| i as u64).ok_or("ERR Invalid client ID"))
            .collect::<Result<Vec<u64>, _>>()?;
        list_lines(ctx, Some(&ids), |_| true, mem)
    } else if argv.len() == 2 {
        list_lines(ctx, None, |_| true, mem)
    } else {
        return Err(errors::SYNTAX.into());
    };
    ctx.reply().verbatim(text.as_bytes());
    Ok(())
}

fn info(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut text = line_of(ctx, ctx.client, argv_mem(argv));
    text.push('\n');
    ctx.reply().verbatim(text.as_bytes());
    Ok(())
}

/// CLIENT KILL's filters; every given one must match.
#[derive(Default)]
struct KillFilter<'a> {
    addr: Option<&'a [u8]>,
    laddr: Option<&'a [u8]>,
    kind: Option<ClientType>,
    id: Option<u64>,
    user: Option<crate::acl::UserRef>,
    skip_me: bool,
}

impl KillFilter<'_> {
    fn matches(&self, c: &Client, caller: u64) -> bool {
        self.addr.is_none_or(|a| a == c.addr.as_bytes())
            && self.laddr.is_none_or(|a| a == c.laddr.as_bytes())
            && self.kind.is_none_or(|k| k == c.client_type())
            && self.id.is_none_or(|id| id == c.id)
            && self.user.as_ref().is_none_or(|u| c.user.as_ref().is_some_and(|cu| std::rc::Rc::ptr_eq(u, cu)))
            && !(self.skip_me && c.id == caller)
    }
}

fn parse_kill_filters<'a>(argv: &[&'a [u8]], users: &crate::acl::Acl) -> Result<KillFilter<'a>, String> {
    let mut filter = KillFilter { skip_me: true, ..KillFilter::default() };
    for pair in argv[2..].chunks(2) {
        let [option, value] = pair else { return Err(errors::SYNTAX.into()) };
        match option.to_ascii_lowercase().as_slice() {
            b"id" => {
                let id = parse_i64(value).filter(|&i| i >= 1).ok_or("ERR client-id should be greater than 0")?;
                filter.id = Some(id as u64);
            }
            b"type" => filter.kind = Some(parse_type(value)?),
            b"addr" => filter.addr = Some(value),
            b"laddr" => filter.laddr = Some(value),
            b"user" => {
                let user =
                    users.get(value).ok_or_else(|| format!("ERR No such user '{}'", String::from_utf8_lossy(value)))?;
                filter.user = Some(user.clone());
            }
            b"skipme" => {
                filter.skip_me = match value.to_ascii_lowercase().as_slice() {
                    b"yes" => true,
                    b"no" => false,
                    _ => return Err(errors::SYNTAX.into()),
                }
            }
            _ => return Err(errors::SYNTAX.into()),
        }
    }
    Ok(filter)
}

/// CLIENT KILL addr (old form: `+OK` or "No such client", may kill the
/// caller) or CLIENT KILL <filter> <value> ... (new form: the count, skips
/// the caller unless SKIPME no). The caller is closed after its reply.
fn kill(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let old_form = argv.len() == 3;
    let filter = if old_form {
        KillFilter { addr: Some(argv[2]), ..KillFilter::default() }
    } else {
        parse_kill_filters(argv, &ctx.srv.acl)?
    };
    let caller = ctx.client.id;
    let mut killed = 0;
    let victims: Vec<u64> = ctx
        .srv
        .clients
        .iter()
        .filter(|(&id, c)| id != caller && c.try_borrow().is_ok_and(|c| filter.matches(&c, caller)))
        .map(|(&id, _)| id)
        .collect();
    for id in victims {
        if let Some(c) = ctx.srv.clients.get(&id).cloned() {
            c.borrow_mut().kill();
            ctx.srv.remove_client(id);
            killed += 1;
        }
    }
    let kill_caller = filter.matches(ctx.client, caller);
    if kill_caller {
        killed += 1;
    }
    if old_form {
        if killed == 0 {
            return Err("ERR No such client".into());
        }
        ctx.reply().ok();
    } else {
        ctx.reply().int(killed);
    }
    if kill_caller {
        ctx.client.close_after_reply = true;
    }
    Ok(())
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 if that client was blocked on keys
/// and is now released with the timeout reply (default) or an error.
fn unblock(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 4 {
        return Err("ERR unknown subcommand or wrong number of arguments for 'unblock'. Try CLIENT HELP.".into());
    }
    let id = parse_i64(argv[2]).ok_or(errors::NOT_INTEGER)?;
    let how = match argv.get(3) {
        None => Release::Timeout,
        Some(m) if m.eq_ignore_ascii_case(b"timeout") => Release::Timeout,
        Some(m) if m.eq_ignore_ascii_case(b"error") => Release::Error,
        Some(_) => return Err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR".into()),
    };
    let target = u64::try_from(id).ok().and_then(|id| ctx.srv.clients.get(&id).cloned());
    let released = match target {
        Some(handle) => match handle.try_borrow_mut() {
            Ok(mut client) => release(ctx.srv, &mut client, how),
            // The caller itself: it is running, so it is not blocked.
            Err(_) => false,
        },
        None => false,
    };
    ctx.reply().int(i64::from(released));
    Ok(())
}

/// CLIENT PAUSE timeout [WRITE|ALL]: commands of every client (this one
/// included) wait until the pause ends; none is rejected.
fn pause(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 4 {
        return Err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(argv[1])
        )
        .into());
    }
    let mode = match argv.get(3) {
        None => PauseMode::All,
        Some(m) if m.eq_ignore_ascii_case(b"write") => PauseMode::Write,
        Some(m) if m.eq_ignore_ascii_case(b"all") => PauseMode::All,
        Some(_) => return Err("ERR CLIENT PAUSE mode must be WRITE or ALL".into()),
    };
    let timeout = parse_i64(argv[2]).ok_or("ERR timeout is not an integer or out of range")?;
    if timeout < 0 {
        return Err("ERR timeout is negative".into());
    }
    // Redis adds the current time to a positive timeout without an overflow check.
    let end = if timeout > 0 { timeout.wrapping_add(crate::server::unix_ms()) } else { 0 };
    let now = ctx.now_ms();
    ctx.srv.client_pause.pause(mode, end, now);
    ctx.reply().ok();
    Ok(())
}

fn unpause(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    ctx.srv.client_pause.unpause();
    ctx.srv.client_pause_lifted.notify_waiters();
    ctx.reply().ok();
    Ok(())
}

/// CLIENT REPLY ON|OFF|SKIP. Only ON answers; the dispatcher discards the
/// replies of commands run while OFF or skipping.
fn reply(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    match argv[2].to_ascii_lowercase().as_slice() {
        b"on" => {
            ctx.client.reply_mode = ReplyMode::On;
            ctx.reply().ok();
        }
        b"off" => ctx.client.reply_mode = ReplyMode::Off,
        b"skip" => {
            if ctx.client.reply_mode != ReplyMode::Off {
                ctx.client.reply_mode = ReplyMode::SkipNext;
            }
        }
        _ => return Err(errors::SYNTAX.into()),
    }
    Ok(())
}

fn no_evict(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    ctx.client.no_evict = match argv[2].to_ascii_lowercase().as_slice() {
        b"on" => true,
        b"off" => false,
        _ => return Err(errors::SYNTAX.into()),
    };
    ctx.reply().ok();
    Ok(())
}

/// CLIENT SETINFO LIB-NAME|LIB-VER value. Redis 7.2's; 7.0 answers "unknown
/// subcommand", but redis-py 5 and other clients send it on connect and
/// ignore either answer, so accepting it is harmless and more useful.
fn setinfo(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let (attr, value) = (argv[2], argv[3]);
    let attr_text = String::from_utf8_lossy(attr);
    let slot = match attr.to_ascii_lowercase().as_slice() {
        b"lib-name" => &mut ctx.client.lib_name,
        b"lib-ver" => &mut ctx.client.lib_ver,
        _ => return Err(format!("ERR Unrecognized option '{attr_text}'").into()),
    };
    if !is_list_safe(value) {
        return Err(format!("ERR {attr_text} cannot contain spaces, newlines or special characters.").into());
    }
    *slot = (!value.is_empty()).then(|| value.to_vec());
    ctx.reply().ok();
    Ok(())
}

/// True if command `id` leaves a CLIENT CACHING in force for the next
/// command: any CLIENT subcommand does (Redis resets it after the others).
pub fn keeps_tracking_caching(srv: &crate::server::Server, id: crate::command::CommandId) -> bool {
    let parent = srv.commands.get(id).parent.unwrap_or(id);
    srv.commands.get(parent).spec.name == COMMANDS[0].name
}

/// CLIENT TRACKING's options once parsed.
struct TrackingRequest<'a> {
    mode: crate::tracking::Mode,
    prefixes: Vec<&'a [u8]>,
}

/// Parses CLIENT TRACKING's options, in Redis's order of checks.
fn parse_tracking<'a>(ctx: &Ctx, argv: &[&'a [u8]]) -> Result<TrackingRequest<'a>, String> {
    let mut request = TrackingRequest { mode: Default::default(), prefixes: Vec::new() };
    let mut i = 3;
    while i < argv.len() {
        let has_value = i + 1 < argv.len();
        match argv[i].to_ascii_lowercase().as_slice() {
            b"redirect" if has_value => {
                i += 1;
                if request.mode.redirect != 0 {
                    return Err("ERR A client can only redirect to a single other client".into());
                }
                let target = parse_i64(argv[i]).ok_or(errors::NOT_INTEGER)?;
                if target <= 0 || !ctx.srv.clients.contains_key(&(target as u64)) {
                    return Err("ERR The client ID you want redirect to does not exist".into());
                }
                request.mode.redirect = target as u64;
            }
            b"prefix" if has_value => {
                i += 1;
                request.prefixes.push(argv[i]);
            }
            b"bcast" => request.mode.bcast = true,
            b"optin" => request.mode.optin = true,
            b"optout" => request.mode.optout = true,
            b"noloop" => request.mode.noloop = true,
            _ => return Err(errors::SYNTAX.into()),
        }
        i += 1;
    }
    Ok(request)
}

/// Why tracking cannot be turned on with `new` options given the current
/// mode, as Redis checks.
fn tracking_refusal(ctx: &Ctx, request: &TrackingRequest) -> Option<String> {
    let new = &request.mode;
    if !new.bcast && !request.prefixes.is_empty() {
        return Some("ERR PREFIX option requires BCAST mode to be enabled".into());
    }
    let old = ctx.srv.tracking.mode(ctx.client.id);
    if old.is_some_and(|old| old.bcast != new.bcast) {
        return Some(
            "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then \
             re-enabling it with a different mode."
                .into(),
        );
    }
    if new.bcast && (new.optin || new.optout) {
        return Some("ERR OPTIN and OPTOUT are not compatible with BCAST".into());
    }
    if new.optin && new.optout {
        return Some("ERR You can't specify both OPTIN mode and OPTOUT mode".into());
    }
    if old.is_some_and(|old| (new.optin && old.optout) || (new.optout && old.optin)) {
        return Some(
            "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then \
             re-enabling it with a different mode."
                .into(),
        );
    }
    if new.bcast {
        return ctx.srv.tracking.prefix_collision(ctx.client.id, &request.prefixes);
    }
    None
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN]
/// [OPTOUT] [NOLOOP].
fn tracking(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let request = parse_tracking(ctx, argv)?;
    match argv[2].to_ascii_lowercase().as_slice() {
        b"on" => {
            if let Some(refusal) = tracking_refusal(ctx, &request) {
                return Err(refusal.into());
            }
            let id = ctx.client.id;
            ctx.srv.tracking.enable(id, request.mode, &request.prefixes);
        }
        b"off" => ctx.srv.tracking.disable(ctx.client.id),
        _ => return Err(errors::SYNTAX.into()),
    }
    ctx.reply().ok();
    Ok(())
}

/// CLIENT CACHING YES|NO: whether the next command's reads are tracked, in
/// OPTIN (YES) or OPTOUT (NO) mode.
fn caching(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let id = ctx.client.id;
    let Some(mode) = ctx.srv.tracking.mode_mut(id) else {
        return Err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT \
                    mode enabled"
            .into());
    };
    match argv[2].to_ascii_lowercase().as_slice() {
        b"yes" if mode.optin => mode.caching = true,
        b"yes" => return Err("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.".into()),
        b"no" if mode.optout => mode.caching = true,
        b"no" => return Err("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.".into()),
        _ => return Err(errors::SYNTAX.into()),
    }
    ctx.reply().ok();
    Ok(())
}

/// The client receiving this one's invalidations: 0 for itself, -1 when
/// tracking is off.
fn redirect_of(ctx: &Ctx) -> i64 {
    ctx.srv.tracking.mode(ctx.client.id).map_or(-1, |m| m.redirect as i64)
}

fn getredir(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let redirect = redirect_of(ctx);
    ctx.reply().int(redirect);
    Ok(())
}

/// CLIENT TRACKINGINFO: flags, redirect and prefixes.
fn trackinginfo(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let redirect = redirect_of(ctx);
    let mode = ctx.srv.tracking.mode(ctx.client.id).cloned();
    let flags = mode.as_ref().map_or(vec!["off"], |m| m.flag_names());
    let prefixes = mode.map(|m| m.prefixes).unwrap_or_default();
    let reply = ctx.reply();
    reply.map(3);
    reply.bulk(b"flags");
    reply.set(flags.len());
    flags.iter().for_each(|f| reply.bulk_str(f));
    reply.bulk(b"redirect");
    reply.int(redirect);
    reply.bulk(b"prefixes");
    reply.array(prefixes.len());
    prefixes.iter().for_each(|p| reply.bulk(p));
    Ok(())
}

/// The help lines, as Redis prints them (clients and people parse these).
const HELP: &[&str] = &[
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
];

fn help(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let command = String::from_utf8_lossy(argv[0]).to_uppercase();
    let reply = ctx.reply();
    reply.array(HELP.len() + 3);
    reply.simple(&format!("{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"));
    for line in HELP.iter().chain(&["HELP", "    Prints this help."]) {
        reply.simple(line);
    }
    Ok(())
}
