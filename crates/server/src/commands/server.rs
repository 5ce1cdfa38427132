//! Server commands: TIME, LASTSAVE, BGREWRITEAOF, SHUTDOWN, and the SLOWLOG and LATENCY
//! containers that report what `slowlog.rs` and `latency.rs` recorded.

use cinnabar_protocol::numbers::parse_i64;

use crate::command::context::errors;
use crate::command::{acl, flags::*, Arg, CmdResult, CommandId, CommandSpec, CommandTable, Ctx};
use crate::config::Config;
use crate::latency::{render_graph, EventSeries, Histogram};
use crate::log::log_at;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "time",
        arity: 1,
        flags: LOADING | STALE | FAST,
        tips: &["nondeterministic_output"],
        handler: Some(time),
        group: "server",
        since: "2.6.0",
        summary: "Return the server's current time",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "lastsave",
        arity: 1,
        flags: LOADING | STALE | FAST,
        acl: acl::ADMIN | acl::DANGEROUS,
        tips: &["nondeterministic_output"],
        handler: Some(lastsave),
        group: "server",
        summary: "Return the unix time of the last successful save to disk",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "bgrewriteaof",
        arity: 1,
        flags: ADMIN | NOSCRIPT | NO_ASYNC_LOADING,
        handler: Some(bgrewriteaof),
        group: "server",
        since: "1.0.0",
        summary: "Asynchronously rewrite the append-only file",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "shutdown",
        arity: -1,
        flags: ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY,
        handler: Some(shutdown),
        group: "server",
        summary: "Stop the server, optionally saving first",
        complexity:
            "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
        history: &[("7.0.0", "New NOW, FORCE and ABORT modifiers.")],
        args: &[
            Arg::one_of("nosave_save", &[Arg::pure_token("nosave", "NOSAVE"), Arg::pure_token("save", "SAVE")])
                .optional(),
            Arg::pure_token("now", "NOW").since("7.0.0").optional(),
            Arg::pure_token("force", "FORCE").since("7.0.0").optional(),
            Arg::pure_token("abort", "ABORT").since("7.0.0").optional(),
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "slowlog",
        arity: -2,
        subcommands: &[
            CommandSpec {
                name: "get",
                arity: -2,
                flags: ADMIN | LOADING | STALE,
                tips: &["request_policy:all_nodes", "nondeterministic_output"],
                handler: Some(slowlog_get),
                summary: "Return the most recent slow log entries",
                complexity: "O(N) where N is the number of entries returned",
                history: &[("4.0.0", "Entries include the client's address and name.")],
                args: &[Arg::integer("count").optional()],
                ..slowlog_sub()
            },
            CommandSpec {
                name: "len",
                arity: 2,
                flags: ADMIN | LOADING | STALE,
                tips: &["request_policy:all_nodes", "response_policy:agg_sum", "nondeterministic_output"],
                handler: Some(slowlog_len),
                summary: "Return the number of entries in the slow log",
                ..slowlog_sub()
            },
            CommandSpec {
                name: "reset",
                arity: 2,
                flags: ADMIN | LOADING | STALE,
                tips: &["request_policy:all_nodes", "response_policy:all_succeeded"],
                handler: Some(slowlog_reset),
                summary: "Clear the slow log",
                complexity: "O(N) where N is the number of entries in the slowlog",
                ..slowlog_sub()
            },
            CommandSpec {
                name: "help",
                arity: 2,
                flags: LOADING | STALE,
                handler: Some(slowlog_help),
                summary: "Describe the SLOWLOG subcommands",
                since: "6.2.0",
                ..slowlog_sub()
            },
        ],
        complexity: "Depends on subcommand.",
        summary: "Inspect the log of slow commands",
        ..slowlog_sub()
    },
    CommandSpec {
        name: "latency",
        arity: -2,
        subcommands: &[
            CommandSpec {
                name: "doctor",
                arity: 2,
                tips: REPORT_TIPS,
                handler: Some(latency_doctor),
                summary: "Analyse the recorded latency events in plain language",
                ..latency_sub()
            },
            CommandSpec {
                name: "graph",
                arity: 3,
                tips: REPORT_TIPS,
                handler: Some(latency_graph),
                summary: "Draw an event's latency samples as an ASCII graph",
                args: &[Arg::string("event")],
                ..latency_sub()
            },
            CommandSpec {
                name: "histogram",
                arity: -2,
                tips: REPORT_TIPS,
                handler: Some(latency_histogram),
                summary: "Return per-command cumulative latency distributions",
                since: "7.0.0",
                complexity: "O(N) where N is the number of commands with latency information being retrieved.",
                args: &[Arg::string("command").optional().multiple()],
                ..latency_sub()
            },
            CommandSpec {
                name: "history",
                arity: 3,
                tips: REPORT_TIPS,
                handler: Some(latency_history),
                summary: "Return an event's recorded latency samples",
                args: &[Arg::string("event")],
                ..latency_sub()
            },
            CommandSpec {
                name: "latest",
                arity: 2,
                tips: REPORT_TIPS,
                handler: Some(latency_latest),
                summary: "Return the latest sample of every latency event",
                ..latency_sub()
            },
            CommandSpec {
                name: "reset",
                arity: -2,
                tips: &["request_policy:all_nodes", "response_policy:all_succeeded"],
                handler: Some(latency_reset),
                summary: "Forget the samples of some or all latency events",
                args: &[Arg::string("event").optional().multiple()],
                ..latency_sub()
            },
            CommandSpec {
                name: "help",
                arity: 2,
                flags: LOADING | STALE,
                handler: Some(latency_help),
                summary: "Describe the LATENCY subcommands",
                ..latency_sub()
            },
        ],
        flags: 0,
        complexity: "Depends on subcommand.",
        summary: "Inspect the latency monitor and per-command latency histograms",
        ..latency_sub()
    },
];

/// Defaults shared by SLOWLOG and its subcommands.
const fn slowlog_sub() -> CommandSpec {
    CommandSpec { group: "server", since: "2.2.12", complexity: "O(1)", ..CommandSpec::DEFAULT }
}

/// Defaults shared by LATENCY and its subcommands.
const fn latency_sub() -> CommandSpec {
    CommandSpec {
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        group: "server",
        since: "2.8.13",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    }
}

const REPORT_TIPS: &[&str] = &["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"];

/// A container's HELP reply: a header naming the command as sent, the
/// subcommand lines, and the HELP line every container ends with.
pub fn reply_help(ctx: &mut Ctx, command: &[u8], lines: &[&str]) {
    let name = String::from_utf8_lossy(command).to_uppercase();
    let r = ctx.reply();
    r.array(lines.len() + 3);
    r.simple(&format!("{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"));
    for line in lines {
        r.simple(line);
    }
    r.simple("HELP");
    r.simple("    Prints this help.");
}

/// BGREWRITEAOF (the rewrite itself is in `persistence::aof`).
fn bgrewriteaof(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    use crate::persistence::aof::BgrewriteReply;
    let in_exec = ctx.client.multi.is_some();
    match crate::persistence::aof::bgrewriteaof(ctx.srv, in_exec) {
        BgrewriteReply::Started => ctx.reply().simple("Background append only file rewriting started"),
        BgrewriteReply::Scheduled => ctx.reply().simple("Background append only file rewriting scheduled"),
        BgrewriteReply::AlreadyRunning => {
            return Err("ERR Background append only file rewriting already in progress".into())
        }
        BgrewriteReply::Failed => {
            return Err(
                "ERR Can't execute an AOF background rewriting. Please check the server logs for more information."
                    .into(),
            )
        }
    }
    Ok(())
}

fn time(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let r = ctx.reply();
    r.array(2);
    r.bulk_i64(now.as_secs() as i64);
    r.bulk_i64(now.subsec_micros() as i64);
    Ok(())
}

fn lastsave(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let last_save = ctx.srv.last_save;
    ctx.reply().int(last_save);
    Ok(())
}

/// SHUTDOWN's modifiers.
#[derive(Default)]
struct ShutdownFlags {
    nosave: bool,
    save: bool,
    now: bool,
    force: bool,
    abort: bool,
}

fn shutdown(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut f = ShutdownFlags::default();
    for arg in &argv[1..] {
        let slot = match arg.to_ascii_lowercase().as_slice() {
            b"nosave" => &mut f.nosave,
            b"save" => &mut f.save,
            b"now" => &mut f.now,
            b"force" => &mut f.force,
            b"abort" => &mut f.abort,
            _ => return Err(errors::SYNTAX.into()),
        };
        *slot = true;
    }
    let modifiers = f.nosave || f.save || f.now || f.force;
    if (f.abort && modifiers) || (f.nosave && f.save) {
        return Err(errors::SYNTAX.into());
    }
    if f.abort {
        // With no replicas to wait for, a shutdown never stays in progress.
        return Err("ERR No shutdown in progress.".into());
    }
    log_at!(Warning, "User requested shutdown...");
    if !crate::persistence::rdb::shutdown_save(ctx.srv, f.save, f.nosave, f.force) {
        log_at!(Warning, "Errors trying to shut down the server. Check the logs for more information.");
        return Err("ERR Errors trying to SHUTDOWN. Check logs.".into());
    }
    ctx.srv.shutdown_requested.notify_one();
    // Run nothing more from this client: the process is exiting.
    ctx.client.close_asap = true;
    Ok(())
}

fn slowlog_get(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 {
        return Err(subcommand_syntax_error(argv));
    }
    let count = match argv.get(2) {
        None => 10,
        Some(arg) => match parse_i64(arg) {
            Some(-1) => usize::MAX,
            Some(n) if n >= 0 => n as usize,
            _ => return Err("ERR count should be greater than or equal to -1".into()),
        },
    };
    let entries: Vec<_> = ctx.srv.slowlog.iter().take(count).cloned().collect();
    let r = ctx.reply();
    r.array(entries.len());
    for e in entries {
        r.array(6);
        r.int(e.id as i64);
        r.int(e.time);
        r.int(e.duration_us as i64);
        r.array(e.argv.len());
        for arg in &e.argv {
            r.bulk(arg);
        }
        r.bulk(e.peer.as_bytes());
        r.bulk(&e.name);
    }
    Ok(())
}

/// Redis's reply when a subcommand gets arguments it does not take.
pub fn subcommand_syntax_error(argv: &[&[u8]]) -> crate::command::CmdError {
    let sub = String::from_utf8_lossy(&argv[1][..argv[1].len().min(128)]).into_owned();
    let name = String::from_utf8_lossy(argv[0]).to_uppercase();
    format!("ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {name} HELP.").into()
}

fn slowlog_len(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let len = ctx.srv.slowlog.len() as i64;
    ctx.reply().int(len);
    Ok(())
}

fn slowlog_reset(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    ctx.srv.slowlog.reset();
    ctx.reply().ok();
    Ok(())
}

fn slowlog_help(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    reply_help(
        ctx,
        argv[0],
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}

fn latency_latest(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let latest: Vec<(String, i64, u64, u64)> = ctx
        .srv
        .latency
        .events()
        .map(|(name, s)| (name.to_string(), s.latest().time, s.latest().latency, s.all_time_max))
        .collect();
    let r = ctx.reply();
    r.array(latest.len());
    for (name, time, latency, max) in latest {
        r.array(4);
        r.bulk(name.as_bytes());
        r.int(time);
        r.int(latency as i64);
        r.int(max as i64);
    }
    Ok(())
}

fn latency_history(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let samples: Vec<_> = ctx.srv.latency.get(argv[2]).map(|(_, s)| s.history().collect()).unwrap_or_default();
    let r = ctx.reply();
    r.array(samples.len());
    for s in samples {
        r.array(2);
        r.int(s.time);
        r.int(s.latency as i64);
    }
    Ok(())
}

fn latency_graph(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let now_secs = ctx.now_ms() / 1000;
    let Some((name, series)) = ctx.srv.latency.get(argv[2]) else {
        return Err(format!("ERR No samples available for event '{}'", String::from_utf8_lossy(argv[2])).into());
    };
    let graph = render_graph(name, series, now_secs);
    ctx.reply().verbatim(graph.as_bytes());
    Ok(())
}

fn latency_reset(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let resets = if argv.len() == 2 {
        ctx.srv.latency.reset(None)
    } else {
        argv[2..].iter().map(|event| ctx.srv.latency.reset(Some(event))).sum()
    };
    ctx.reply().int(resets as i64);
    Ok(())
}

fn latency_histogram(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let table = &ctx.srv.commands;
    let ids: Vec<_> = if argv.len() == 2 {
        table.all().map(|(id, _)| id).collect()
    } else {
        argv[2..]
            .iter()
            .filter_map(|name| find_by_fullname(table, name))
            .flat_map(|id| std::iter::once(id).chain(table.get(id).subcommand_ids()))
            .collect()
    };
    let histograms: Vec<(String, Histogram)> = ids
        .into_iter()
        .filter_map(|id| {
            let c = table.get(id);
            c.stats.latency_histogram.as_ref().map(|h| (c.fullname.clone(), (**h).clone()))
        })
        .collect();
    let r = ctx.reply();
    r.map(histograms.len());
    for (name, h) in histograms {
        let buckets = h.cumulative_buckets();
        r.bulk(name.as_bytes());
        r.map(2);
        r.bulk_str("calls");
        r.int(h.total() as i64);
        r.bulk_str("histogram_usec");
        r.map(buckets.len());
        for (usec, count) in buckets {
            r.int(usec as i64);
            r.int(count as i64);
        }
    }
    Ok(())
}

/// `get` or `config|get`, ignoring case.
fn find_by_fullname(table: &CommandTable, name: &[u8]) -> Option<CommandId> {
    let mut parts = name.split(|&b| b == b'|');
    let parent = table.find(parts.next()?)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(parent),
        (Some(sub), None) => table.find_subcommand(parent, sub),
        _ => None,
    }
}

fn latency_doctor(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let now_secs = ctx.now_ms() / 1000;
    let report = latency_report(ctx, now_secs);
    ctx.reply().verbatim(report.as_bytes());
    Ok(())
}

/// LATENCY DOCTOR, in our own words: one line per event with its statistics,
/// then advice for the kinds of events seen.
fn latency_report(ctx: &Ctx, now_secs: i64) -> String {
    let threshold = ctx.srv.config.latency_monitor_threshold;
    let monitor = &ctx.srv.latency;
    if monitor.is_empty() && threshold == 0 {
        return "Latency monitoring is disabled. Enable it with \
                CONFIG SET latency-monitor-threshold <milliseconds>.\n"
            .to_string();
    }
    if monitor.is_empty() {
        return "No latency spike was observed since the server started.\n".to_string();
    }
    let mut report = String::from("Latency spikes observed in this instance:\n\n");
    let mut advice: Vec<String> = Vec::new();
    for (n, (name, series)) in monitor.events().enumerate() {
        report.push_str(&event_line(n + 1, name, series, now_secs));
        for tip in event_advice(name, &ctx.srv.config) {
            if !advice.contains(&tip) {
                advice.push(tip);
            }
        }
    }
    if advice.is_empty() {
        report.push_str("\nNo simple remedy applies to these events.\n");
    } else {
        report.push_str("\nAdvice:\n\n");
        for tip in advice {
            report.push_str(&format!("- {tip}\n"));
        }
    }
    report
}

fn event_line(n: usize, name: &str, series: &EventSeries, now_secs: i64) -> String {
    let s = series.summarize(now_secs);
    format!(
        "{n}. {name}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.\n",
        s.samples,
        s.avg,
        s.mad,
        s.period as f64 / s.samples.max(1) as f64,
        series.all_time_max
    )
}

/// Advice for one kind of event, on the conditions Redis's doctor uses.
fn event_advice(event: &str, config: &Config) -> Vec<String> {
    let large_values = "Deleting, expiring or evicting very large values blocks the server; split large values into \
                        smaller keys."
        .to_string();
    match event {
        "command" => {
            let (slowlog_us, threshold_ms) = (config.slowlog_log_slower_than, config.latency_monitor_threshold);
            let mut tips = Vec::new();
            if slowlog_us < 0 || slowlog_us / 1000 > threshold_ms {
                tips.push(format!(
                    "Make the slow log record these commands: CONFIG SET slowlog-log-slower-than {}.",
                    threshold_ms * 1000
                ));
            }
            tips.push("SLOWLOG GET shows which commands were slow.".to_string());
            tips.push(large_values);
            tips
        }
        "fast-command" => {
            vec!["O(1) commands were slow: the host may be starving the server of CPU (load, noisy neighbours); \
             check the intrinsic latency with redis-cli --intrinsic-latency 100."
                .to_string()]
        }
        "expire-cycle" => {
            let mut tips = Vec::new();
            if config.hz < 100 {
                tips.push("Expire keys in smaller steps with CONFIG SET hz 100.".to_string());
            }
            tips.push(large_values);
            tips
        }
        _ => Vec::new(),
    }
}

fn latency_help(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    reply_help(
        ctx,
        argv[0],
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
    Ok(())
}
