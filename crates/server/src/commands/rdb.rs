//! Snapshot commands: SAVE and BGSAVE (LASTSAVE lives with the other server
//! commands). The work is the RDB driver's (`persistence::rdb`).

use crate::command::{acl, flags::*, Arg, CmdResult, CommandSpec, Ctx};
use crate::persistence::rdb;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "save",
        arity: 1,
        flags: ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI,
        acl: acl::ADMIN | acl::DANGEROUS,
        handler: Some(save),
        group: "server",
        since: "1.0.0",
        summary: "Write a snapshot of the dataset to disk and wait for it",
        complexity: "O(N) where N is the total number of keys in all databases",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "bgsave",
        arity: -1,
        flags: ADMIN | NOSCRIPT | NO_ASYNC_LOADING,
        acl: acl::ADMIN | acl::DANGEROUS,
        handler: Some(bgsave),
        group: "server",
        since: "1.0.0",
        summary: "Write a snapshot of the dataset to disk from a forked child",
        complexity: "O(1)",
        history: &[("3.2.2", "Added the `SCHEDULE` option.")],
        args: &[Arg::pure_token("schedule", "SCHEDULE").since("3.2.2").optional()],
        ..CommandSpec::DEFAULT
    },
];

const IN_PROGRESS: &str = "ERR Background save already in progress";

fn save(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    if crate::persistence::rdb_child_running(ctx.srv) {
        return Err(IN_PROGRESS.into());
    }
    ctx.srv.rdb.saves += 1;
    if !rdb::save(ctx.srv) {
        return Err("ERR".into());
    }
    ctx.reply().ok();
    Ok(())
}

/// BGSAVE [SCHEDULE]: while another kind of child (an AOF rewrite) runs, or
/// inside a transaction, SCHEDULE lets the cron start it later.
fn bgsave(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let schedule = match argv {
        [_] => false,
        [_, opt] if opt.eq_ignore_ascii_case(b"schedule") => true,
        _ => return Err(crate::command::context::errors::SYNTAX.into()),
    };
    let in_exec = ctx.client.multi.is_some();
    if crate::persistence::rdb_child_running(ctx.srv) {
        return Err(IN_PROGRESS.into());
    }
    if crate::persistence::child_running(ctx.srv) || in_exec {
        if !(schedule || in_exec) {
            return Err("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.".into());
        }
        ctx.srv.rdb.bgsave_scheduled = true;
        ctx.reply().simple("Background saving scheduled");
        return Ok(());
    }
    if !rdb::bgsave(ctx.srv) {
        return Err("ERR".into());
    }
    ctx.reply().simple("Background saving started");
    Ok(())
}
