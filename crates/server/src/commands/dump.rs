//! DUMP and RESTORE: a value serialized as Redis's DUMP payload (RDB type and
//! body, RDB version, CRC-64), interchangeable with redis-server's.

use cinnabar_persistence::rdb::{dump, AccessMeta};
use cinnabar_protocol::numbers::parse_i64;

use crate::command::context::errors;
use crate::command::{acl, flags::*, key_flags::*, Arg, CmdResult, CommandSpec, Ctx, KeySpec};
use crate::persistence::rdb;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "dump",
        arity: 2,
        flags: READONLY,
        acl: acl::KEYSPACE | acl::READ,
        tips: &["nondeterministic_output"],
        key_specs: &[KeySpec::single(1, RO | ACCESS)],
        handler: Some(dump_command),
        group: "generic",
        since: "2.6.0",
        summary: "Serialize the value at a key in Redis's DUMP format",
        complexity: "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).",
        args: &[Arg::key("key", 0)],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "restore",
        arity: -4,
        flags: WRITE | DENYOOM,
        acl: acl::KEYSPACE | acl::WRITE | acl::DANGEROUS,
        key_specs: &[KeySpec::single(1, OW | UPDATE)],
        handler: Some(restore),
        group: "generic",
        since: "2.6.0",
        summary: "Create a key from a DUMP payload",
        complexity: "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).",
        history: &[
            ("3.0.0", "Added the `REPLACE` modifier."),
            ("5.0.0", "Added the `ABSTTL` modifier."),
            ("5.0.0", "Added the `IDLETIME` and `FREQ` options."),
        ],
        args: &[
            Arg::key("key", 0),
            Arg::integer("ttl"),
            Arg::string("serialized-value"),
            Arg::pure_token("replace", "REPLACE").since("3.0.0").optional(),
            Arg::pure_token("absttl", "ABSTTL").since("5.0.0").optional(),
            Arg::integer("seconds").token("IDLETIME").since("5.0.0").optional(),
            Arg::integer("frequency").token("FREQ").since("5.0.0").optional(),
        ],
        ..CommandSpec::DEFAULT
    },
];

fn dump_command(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let compress = ctx.srv.config.rdbcompression;
    match ctx.lookup_read(argv[1]) {
        Some(entry) => {
            let payload = dump::dump_value(&entry.value, compress);
            ctx.reply().bulk(&payload);
        }
        None => ctx.reply().null(),
    }
    Ok(())
}

/// RESTORE's modifiers.
#[derive(Default)]
struct RestoreOptions {
    replace: bool,
    absttl: bool,
    access: Option<AccessMeta>,
}

fn parse_restore_options(argv: &[&[u8]]) -> Result<RestoreOptions, crate::command::CmdError> {
    let mut opts = RestoreOptions::default();
    let mut i = 4;
    while i < argv.len() {
        let has_value = i + 1 < argv.len();
        let arg = argv[i];
        if arg.eq_ignore_ascii_case(b"replace") {
            opts.replace = true;
        } else if arg.eq_ignore_ascii_case(b"absttl") {
            opts.absttl = true;
        } else if arg.eq_ignore_ascii_case(b"idletime")
            && has_value
            && !matches!(opts.access, Some(AccessMeta::Freq(_)))
        {
            let idle = parse_i64(argv[i + 1]).ok_or(errors::NOT_INTEGER)?;
            if idle < 0 {
                return Err("ERR Invalid IDLETIME value, must be >= 0".into());
            }
            opts.access = Some(AccessMeta::IdleSeconds(idle as u64));
            i += 1;
        } else if arg.eq_ignore_ascii_case(b"freq")
            && has_value
            && !matches!(opts.access, Some(AccessMeta::IdleSeconds(_)))
        {
            let freq = parse_i64(argv[i + 1]).ok_or(errors::NOT_INTEGER)?;
            if !(0..=255).contains(&freq) {
                return Err("ERR Invalid FREQ value, must be >= 0 and <= 255".into());
            }
            opts.access = Some(AccessMeta::Freq(freq as u8));
            i += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    Ok(opts)
}

fn restore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let (key, payload) = (argv[1], argv[3]);
    let opts = parse_restore_options(argv)?;
    if !opts.replace && ctx.lookup_write(key).is_some() {
        return Err("BUSYKEY Target key name already exists.".into());
    }
    let ttl = parse_i64(argv[2]).ok_or(errors::NOT_INTEGER)?;
    if ttl < 0 {
        return Err("ERR Invalid TTL value, must be >= 0".into());
    }
    if !dump::payload_is_valid(payload) {
        return Err("ERR DUMP payload version or checksum are wrong".into());
    }
    let load_opts = rdb::load_options(&ctx.srv.config, None);
    let Ok(Some(value)) = dump::restore_value(payload, &load_opts) else {
        return Err("ERR Bad data format".into());
    };
    let deleted = opts.replace && ctx.delete_key(key);
    let expire_at = match ttl {
        0 => None,
        t if opts.absttl => Some(t),
        t => Some(t.saturating_add(ctx.now_ms())),
    };
    if expire_at.is_some_and(|at| at <= ctx.now_ms()) {
        // Restoring an already expired key only deletes what was there.
        if deleted {
            ctx.mark_dirty(1);
            ctx.propagate_as(vec![b"DEL".to_vec(), key.to_vec()]);
        }
        ctx.reply().ok();
        return Ok(());
    }
    ctx.set_key(key, value, false);
    let stamp = rdb::loaded_stamp(ctx.srv.access_policy(), opts.access);
    let db = ctx.db();
    if let Some(entry) = db.get_mut(key) {
        entry.access = stamp;
    }
    if let Some(at) = expire_at {
        db.set_expire(key, at);
        if !opts.absttl {
            // Replicas get the absolute time, so their copy expires together.
            let mut rewritten: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
            rewritten[2] = at.to_string().into_bytes();
            rewritten.push(b"ABSTTL".to_vec());
            ctx.propagate_as(rewritten);
        }
    }
    ctx.mark_dirty(1);
    ctx.reply().ok();
    Ok(())
}
