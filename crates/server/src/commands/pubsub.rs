//! Pub/Sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE,
//! SSUBSCRIBE, SUNSUBSCRIBE, PUBLISH, SPUBLISH and PUBSUB's introspection
//! subcommands, plus the rule that a RESP2 client in subscribed mode may only
//! run the commands flagged `SUBSCRIBED_CONTEXT`.
//!
//! The registry and delivery live in `crate::pubsub`; without cluster mode a
//! shard channel is simply a channel in its own namespace, as in Redis 7.0.

use super::server::subcommand_syntax_error;
use crate::client::Client;
use crate::command::keys::ChannelRef;
use crate::command::table::Command;
use crate::command::{acl, flags::*, key_flags::*, Arg, CmdResult, CommandSpec, Ctx, KeySpec};
use crate::commands::server::reply_help;
use crate::pubsub::{self, Kind};

const SUBSCRIBE_FLAGS: u32 = PUBSUB | NOSCRIPT | LOADING | STALE | SENTINEL | SUBSCRIBED_CONTEXT;
const PUBLISH_FLAGS: u32 = PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE;
/// Shard channels are declared as keys (for cluster slot routing), never keys of the keyspace.
const SHARD_CHANNELS: &[KeySpec] = &[KeySpec::range(1, -1, 1, NOT_KEY)];

/// A (un)subscribe command; the fields that differ are given.
macro_rules! subscription_command {
    ($name:literal, $arity:expr, $flags:expr, $keys:expr, $channels:expr, $handler:ident, $since:literal, $summary:literal, $complexity:literal, $args:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            acl: acl::PUBSUB,
            key_specs: $keys,
            get_channels: $channels,
            handler: Some($handler),
            group: "pubsub",
            since: $since,
            summary: $summary,
            complexity: $complexity,
            args: $args,
            ..CommandSpec::DEFAULT
        }
    };
}

/// The channel PUBLISH and SPUBLISH send to, for ACL checks.
fn first_argument_a_channel(_argv: &[&[u8]], out: &mut Vec<ChannelRef>) {
    out.push(ChannelRef { pos: 1, is_pattern: false });
}

/// SUBSCRIBE and SSUBSCRIBE name only channels, for ACL checks.
fn every_argument_a_channel(argv: &[&[u8]], out: &mut Vec<ChannelRef>) {
    out.extend((1..argv.len()).map(|pos| ChannelRef { pos, is_pattern: false }));
}

/// PSUBSCRIBE's patterns must each be granted literally (ACL `&pattern`).
fn every_argument_a_pattern(argv: &[&[u8]], out: &mut Vec<ChannelRef>) {
    out.extend((1..argv.len()).map(|pos| ChannelRef { pos, is_pattern: true }));
}

/// A PUBSUB introspection subcommand.
macro_rules! introspection {
    ($name:literal, $arity:expr, $handler:ident, $since:literal, $summary:literal, $complexity:literal, $args:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: PUBSUB | LOADING | STALE,
            acl: acl::PUBSUB,
            handler: Some($handler),
            group: "pubsub",
            since: $since,
            summary: $summary,
            complexity: $complexity,
            args: $args,
            ..CommandSpec::DEFAULT
        }
    };
}

pub static COMMANDS: &[CommandSpec] = &[
    subscription_command!(
        "subscribe",
        -2,
        SUBSCRIBE_FLAGS,
        &[],
        Some(every_argument_a_channel),
        subscribe,
        "2.0.0",
        "Receive the messages published to channels",
        "O(N) where N is the number of channels to subscribe to.",
        &[Arg::string("channel").multiple()]
    ),
    subscription_command!(
        "unsubscribe",
        -1,
        SUBSCRIBE_FLAGS,
        &[],
        None,
        unsubscribe,
        "2.0.0",
        "Stop receiving the messages of channels (all of them by default)",
        "O(N) where N is the number of clients already subscribed to a channel.",
        &[Arg::string("channel").optional().multiple()]
    ),
    subscription_command!(
        "psubscribe",
        -2,
        SUBSCRIBE_FLAGS,
        &[],
        Some(every_argument_a_pattern),
        psubscribe,
        "2.0.0",
        "Receive the messages published to channels matching glob patterns",
        "O(N) where N is the number of patterns the client is already subscribed to.",
        &[Arg::block("pattern", &[Arg::pattern("pattern")]).multiple()]
    ),
    subscription_command!(
        "punsubscribe",
        -1,
        SUBSCRIBE_FLAGS,
        &[],
        None,
        punsubscribe,
        "2.0.0",
        "Stop receiving the messages of patterns (all of them by default)",
        "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total \
         patterns subscribed in the system (by any client).",
        &[Arg::pattern("pattern").optional().multiple()]
    ),
    subscription_command!(
        "ssubscribe",
        -2,
        SUBSCRIBE_FLAGS & !SENTINEL,
        SHARD_CHANNELS,
        Some(every_argument_a_channel),
        ssubscribe,
        "7.0.0",
        "Receive the messages published to shard channels",
        "O(N) where N is the number of shard channels to subscribe to.",
        &[Arg::string("shardchannel").multiple()]
    ),
    subscription_command!(
        "sunsubscribe",
        -1,
        SUBSCRIBE_FLAGS & !SENTINEL,
        SHARD_CHANNELS,
        None,
        sunsubscribe,
        "7.0.0",
        "Stop receiving the messages of shard channels (all of them by default)",
        "O(N) where N is the number of clients already subscribed to a shard channel.",
        &[Arg::string("shardchannel").optional().multiple()]
    ),
    subscription_command!(
        "publish",
        3,
        PUBLISH_FLAGS | SENTINEL,
        &[],
        Some(first_argument_a_channel),
        publish,
        "2.0.0",
        "Send a message to a channel's subscribers",
        "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of \
         subscribed patterns (by any client).",
        &[Arg::string("channel"), Arg::string("message")]
    ),
    subscription_command!(
        "spublish",
        3,
        PUBLISH_FLAGS,
        &[KeySpec::single(1, NOT_KEY)],
        Some(first_argument_a_channel),
        spublish,
        "7.0.0",
        "Send a message to a shard channel's subscribers",
        "O(N) where N is the number of clients subscribed to the receiving shard channel.",
        &[Arg::string("shardchannel"), Arg::string("message")]
    ),
    CommandSpec {
        name: "pubsub",
        arity: -2,
        subcommands: &[
            introspection!(
                "channels",
                -2,
                channels,
                "2.8.0",
                "List the channels that have subscribers",
                "O(N) where N is the number of active channels, and assuming constant time pattern matching \
                 (relatively short channels and patterns)",
                &[Arg::pattern("pattern").optional()]
            ),
            CommandSpec {
                name: "help",
                arity: 2,
                flags: LOADING | STALE,
                handler: Some(help),
                group: "pubsub",
                since: "6.2.0",
                summary: "List the PUBSUB subcommands",
                complexity: "O(1)",
                ..CommandSpec::DEFAULT
            },
            introspection!("numpat", 2, numpat, "2.8.0", "Count the distinct patterns subscribed to", "O(1)", &[]),
            introspection!(
                "numsub",
                -2,
                numsub,
                "2.8.0",
                "Count the subscribers of channels",
                "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
                &[Arg::string("channel").optional().multiple()]
            ),
            introspection!(
                "shardchannels",
                -2,
                shardchannels,
                "7.0.0",
                "List the shard channels that have subscribers",
                "O(N) where N is the number of active shard channels, and assuming constant time pattern matching \
                 (relatively short shard channels).",
                &[Arg::pattern("pattern").optional()]
            ),
            introspection!(
                "shardnumsub",
                -2,
                shardnumsub,
                "7.0.0",
                "Count the subscribers of shard channels",
                "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
                &[Arg::string("shardchannel").optional().multiple()]
            ),
        ],
        group: "pubsub",
        since: "2.8.0",
        summary: "Introspect the Pub/Sub state",
        complexity: "Depends on subcommand.",
        ..CommandSpec::DEFAULT
    },
];

/// Redis 7.0's refusal of a command a RESP2 client in subscribed mode may
/// not run (it can only read pushes, so replies would be ambiguous).
pub fn subscribed_mode_refusal(client: &Client, command: &Command) -> Option<String> {
    if !client.subscriptions.is_subscribed() || client.reply.is_resp3() || command.spec.flags & SUBSCRIBED_CONTEXT != 0
    {
        return None;
    }
    Some(format!(
        "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this \
         context",
        command.fullname
    ))
}

fn subscribe_each(ctx: &mut Ctx, kind: Kind, names: &[&[u8]]) -> CmdResult {
    for name in names {
        ctx.srv.pubsub.subscribe(ctx.client, kind, name);
    }
    Ok(())
}

/// Unsubscribes from the names given, or from all of `kind` without any.
fn unsubscribe_each(ctx: &mut Ctx, kind: Kind, names: &[&[u8]]) -> CmdResult {
    if names.is_empty() {
        ctx.srv.pubsub.unsubscribe_all(ctx.client, kind);
    }
    for name in names {
        ctx.srv.pubsub.unsubscribe(ctx.client, kind, name);
    }
    Ok(())
}

fn subscribe(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    subscribe_each(ctx, Kind::Channel, &argv[1..])
}

fn psubscribe(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    subscribe_each(ctx, Kind::Pattern, &argv[1..])
}

fn ssubscribe(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    subscribe_each(ctx, Kind::Shard, &argv[1..])
}

fn unsubscribe(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    unsubscribe_each(ctx, Kind::Channel, &argv[1..])
}

fn punsubscribe(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    unsubscribe_each(ctx, Kind::Pattern, &argv[1..])
}

fn sunsubscribe(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    unsubscribe_each(ctx, Kind::Shard, &argv[1..])
}

fn publish_as(ctx: &mut Ctx, kind: Kind, argv: &[&[u8]]) -> CmdResult {
    // Replicas' subscribers hear it too (not the AOF), as Redis propagates
    // PUBLISH; what our own master sends reaches our replicas unchanged.
    if !ctx.client.is_master {
        ctx.srv.propagation.feed_replicas(argv);
    }
    let receivers = pubsub::publish(ctx.srv, Some(ctx.client), kind, argv[1], argv[2]);
    ctx.reply().int(receivers as i64);
    Ok(())
}

fn publish(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    publish_as(ctx, Kind::Channel, argv)
}

fn spublish(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    publish_as(ctx, Kind::Shard, argv)
}

/// PUBSUB CHANNELS / SHARDCHANNELS [pattern].
fn list_active(ctx: &mut Ctx, kind: Kind, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 {
        return Err(subcommand_syntax_error(argv));
    }
    let names = ctx.srv.pubsub.names_matching(kind, argv.get(2).copied());
    let reply = &mut ctx.client.reply;
    reply.array(names.len());
    names.iter().for_each(|name| reply.bulk(name));
    Ok(())
}

/// PUBSUB NUMSUB / SHARDNUMSUB [channel ...]: a flat channel, count list.
fn count_subscribers(ctx: &mut Ctx, kind: Kind, argv: &[&[u8]]) -> CmdResult {
    let channels = &argv[2..];
    let reply = &mut ctx.client.reply;
    reply.array(channels.len() * 2);
    for channel in channels {
        reply.bulk(channel);
        reply.int(ctx.srv.pubsub.subscriber_count(kind, channel) as i64);
    }
    Ok(())
}

fn channels(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    list_active(ctx, Kind::Channel, argv)
}

fn shardchannels(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    list_active(ctx, Kind::Shard, argv)
}

fn numsub(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    count_subscribers(ctx, Kind::Channel, argv)
}

fn shardnumsub(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    count_subscribers(ctx, Kind::Shard, argv)
}

fn numpat(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let patterns = ctx.srv.pubsub.active(Kind::Pattern);
    ctx.reply().int(patterns as i64);
    Ok(())
}

fn help(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    const LINES: &[&str] = &[
        "CHANNELS [<pattern>]",
        "    The channels that have subscribers, those matching <pattern> if given.",
        "NUMPAT",
        "    How many distinct patterns clients are subscribed to.",
        "NUMSUB [<channel> ...]",
        "    Each channel with its number of subscribers (pattern subscribers not counted).",
        "SHARDCHANNELS [<pattern>]",
        "    The shard channels that have subscribers, those matching <pattern> if given.",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Each shard channel with its number of subscribers.",
    ];
    reply_help(ctx, argv[0], LINES);
    Ok(())
}
