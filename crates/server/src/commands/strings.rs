//! String commands: GET/SET and their variants (SETNX, SETEX, PSETEX, GETEX,
//! GETDEL, GETSET), MGET/MSET/MSETNX, APPEND, STRLEN, GETRANGE/SUBSTR,
//! SETRANGE, the INCR/DECR family, INCRBYFLOAT and LCS.
//!
//! Values are stored in the encoding Redis would pick (`StrValue::from_bytes`
//! for values taken from arguments, `raw` after in-place edits), and writes
//! whose effect differs from their text are propagated as that effect
//! (relative expiry as an absolute PXAT/PEXPIREAT, INCRBYFLOAT as SET ... KEEPTTL).

use cinnabar_protocol::numbers::{parse_i64, push_i64};
use cinnabar_storage::value::EMBSTR_MAX;
use cinnabar_storage::{SmallBytes, StrValue, Value};

use super::long_double;
use crate::command::context::errors;
use crate::command::keys::KeyRef;
use crate::command::{acl, doc_flags, flags::*, key_flags::*, Arg, CmdError, CmdResult, CommandSpec, Ctx, KeySpec};
use crate::notify;

const RANGE_COMPLEXITY: &str = "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.";

/// COMMAND DOCS argument lists shared by several string commands.
const KEY: &[Arg] = &[Arg::key("key", 0)];
const KEY_VALUE: &[Arg] = &[Arg::key("key", 0), Arg::string("value")];
const KEY_START_END: &[Arg] = &[Arg::key("key", 0), Arg::integer("start"), Arg::integer("end")];
const KEY_VALUE_PAIRS: &[Arg] = &[Arg::block("key_value", &[Arg::key("key", 0), Arg::string("value")]).multiple()];

/// SET's arguments: condition, GET and expiration, each with the version that added it.
const SET_ARGS: &[Arg] = &[
    Arg::key("key", 0),
    Arg::string("value"),
    Arg::one_of("condition", &[Arg::pure_token("nx", "NX"), Arg::pure_token("xx", "XX")]).since("2.6.12").optional(),
    Arg::pure_token("get", "GET").since("6.2.0").optional(),
    Arg::one_of(
        "expiration",
        &[
            Arg::integer("seconds").token("EX").since("2.6.12"),
            Arg::integer("milliseconds").token("PX").since("2.6.12"),
            Arg::unix_time("unix-time-seconds").token("EXAT").since("6.2.0"),
            Arg::unix_time("unix-time-milliseconds").token("PXAT").since("6.2.0"),
            Arg::pure_token("keepttl", "KEEPTTL").since("6.0.0"),
        ],
    )
    .optional(),
];

/// GETEX's arguments: a new expiration or PERSIST.
const GETEX_ARGS: &[Arg] = &[
    Arg::key("key", 0),
    Arg::one_of(
        "expiration",
        &[
            Arg::integer("seconds").token("EX"),
            Arg::integer("milliseconds").token("PX"),
            Arg::unix_time("unix-time-seconds").token("EXAT"),
            Arg::unix_time("unix-time-milliseconds").token("PXAT"),
            Arg::pure_token("persist", "PERSIST"),
        ],
    )
    .optional(),
];

/// A one-key string command; the fields that differ are given.
macro_rules! string_command {
    (
        $name:literal,
        $arity:expr,
        $flags:expr,
        $keyflags:expr,
        $handler:ident,
        $since:literal,
        $summary:literal,
        $complexity:expr,
        $args:expr $(,)?
    ) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            acl: acl::STRING,
            key_specs: &[KeySpec::single(1, $keyflags)],
            handler: Some($handler),
            group: "string",
            since: $since,
            summary: $summary,
            complexity: $complexity,
            args: $args,
            ..CommandSpec::DEFAULT
        }
    };
}

pub static COMMANDS: &[CommandSpec] = &[
    string_command!(
        "get",
        2,
        READONLY | FAST,
        RO | ACCESS,
        get,
        "1.0.0",
        "Return the string stored at a key",
        "O(1)",
        KEY,
    ),
    CommandSpec {
        name: "set",
        arity: -3,
        flags: WRITE | DENYOOM,
        acl: acl::STRING,
        key_specs: &[KeySpec::single(1, RW | ACCESS | UPDATE | VARIABLE_FLAGS)
            .with_notes("RW and ACCESS due to the optional `GET` argument")],
        get_keys: Some(set_keys),
        handler: Some(set),
        group: "string",
        summary: "Set the string value of a key, with optional expiry and conditions",
        complexity: "O(1)",
        history: &[
            ("2.6.12", "New EX, PX, NX and XX options."),
            ("6.0.0", "New KEEPTTL option."),
            ("6.2.0", "New GET, EXAT and PXAT options."),
            ("7.0.0", "NX may be combined with GET."),
        ],
        args: SET_ARGS,
        ..CommandSpec::DEFAULT
    },
    string_command!(
        "setnx",
        3,
        WRITE | DENYOOM | FAST,
        OW | INSERT,
        setnx,
        "1.0.0",
        "Set a key only if it is absent",
        "O(1)",
        KEY_VALUE,
    ),
    string_command!(
        "setex",
        4,
        WRITE | DENYOOM,
        OW | UPDATE,
        setex,
        "2.0.0",
        "Set a key with a TTL in seconds",
        "O(1)",
        &[Arg::key("key", 0), Arg::integer("seconds"), Arg::string("value")],
    ),
    string_command!(
        "psetex",
        4,
        WRITE | DENYOOM,
        OW | UPDATE,
        psetex,
        "2.6.0",
        "Set a key with a TTL in milliseconds",
        "O(1)",
        &[Arg::key("key", 0), Arg::integer("milliseconds"), Arg::string("value")],
    ),
    CommandSpec {
        name: "getex",
        arity: -2,
        flags: WRITE | FAST,
        acl: acl::STRING,
        key_specs: &[KeySpec::single(1, RW | ACCESS | UPDATE).with_notes("RW and UPDATE because it changes the TTL")],
        handler: Some(getex),
        group: "string",
        since: "6.2.0",
        summary: "Get a key's value and change or remove its TTL",
        complexity: "O(1)",
        args: GETEX_ARGS,
        ..CommandSpec::DEFAULT
    },
    string_command!(
        "getdel",
        2,
        WRITE | FAST,
        RW | ACCESS | DELETE,
        getdel,
        "6.2.0",
        "Get a key's value and delete the key",
        "O(1)",
        KEY,
    ),
    CommandSpec {
        doc_flags: doc_flags::DEPRECATED,
        deprecated_since: "6.2.0",
        replaced_by: "`SET` with the `!GET` argument",
        ..string_command!(
            "getset",
            3,
            WRITE | DENYOOM | FAST,
            RW | ACCESS | UPDATE,
            getset,
            "1.0.0",
            "Replace a key's value and return the old one",
            "O(1)",
            KEY_VALUE,
        )
    },
    CommandSpec {
        name: "mget",
        arity: -2,
        flags: READONLY | FAST,
        acl: acl::STRING,
        key_specs: &[KeySpec::range(1, -1, 1, RO | ACCESS)],
        tips: &["request_policy:multi_shard"],
        handler: Some(mget),
        group: "string",
        summary: "Get the values of several keys",
        complexity: "O(N) where N is the number of keys to retrieve.",
        args: &[Arg::key("key", 0).multiple()],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "mset",
        arity: -3,
        flags: WRITE | DENYOOM,
        acl: acl::STRING,
        key_specs: &[KeySpec::range(1, -1, 2, OW | UPDATE)],
        tips: &["request_policy:multi_shard", "response_policy:all_succeeded"],
        handler: Some(mset),
        group: "string",
        since: "1.0.1",
        summary: "Set several keys at once",
        complexity: "O(N) where N is the number of keys to set.",
        args: KEY_VALUE_PAIRS,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "msetnx",
        arity: -3,
        flags: WRITE | DENYOOM,
        acl: acl::STRING,
        key_specs: &[KeySpec::range(1, -1, 2, OW | INSERT)],
        tips: &["request_policy:multi_shard", "response_policy:agg_min"],
        handler: Some(msetnx),
        group: "string",
        since: "1.0.1",
        summary: "Set several keys at once, only if none of them exists",
        complexity: "O(N) where N is the number of keys to set.",
        args: KEY_VALUE_PAIRS,
        ..CommandSpec::DEFAULT
    },
    string_command!(
        "append",
        3,
        WRITE | DENYOOM | FAST,
        RW | INSERT,
        append,
        "2.0.0",
        "Append bytes to a key's value",
        "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.",
        KEY_VALUE,
    ),
    string_command!("strlen", 2, READONLY | FAST, RO, strlen, "2.2.0", "Get the length of a key's value", "O(1)", KEY),
    string_command!(
        "getrange",
        4,
        READONLY,
        RO | ACCESS,
        getrange,
        "2.4.0",
        "Get a substring of a key's value",
        RANGE_COMPLEXITY,
        KEY_START_END,
    ),
    string_command!(
        "setrange",
        4,
        WRITE | DENYOOM,
        RW | UPDATE,
        setrange,
        "2.2.0",
        "Overwrite part of a key's value at an offset",
        "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
        &[Arg::key("key", 0), Arg::integer("offset"), Arg::string("value")],
    ),
    CommandSpec {
        doc_flags: doc_flags::DEPRECATED,
        deprecated_since: "2.0.0",
        replaced_by: "`GETRANGE`",
        ..string_command!(
            "substr",
            4,
            READONLY,
            RO | ACCESS,
            getrange,
            "1.0.0",
            "Get a substring of a key's value (old name)",
            RANGE_COMPLEXITY,
            KEY_START_END,
        )
    },
    string_command!(
        "incr",
        2,
        WRITE | DENYOOM | FAST,
        RW | ACCESS | UPDATE,
        incr,
        "1.0.0",
        "Add one to a key's integer",
        "O(1)",
        KEY,
    ),
    string_command!(
        "decr",
        2,
        WRITE | DENYOOM | FAST,
        RW | ACCESS | UPDATE,
        decr,
        "1.0.0",
        "Subtract one from a key's integer",
        "O(1)",
        KEY,
    ),
    string_command!(
        "incrby",
        3,
        WRITE | DENYOOM | FAST,
        RW | ACCESS | UPDATE,
        incrby,
        "1.0.0",
        "Add to a key's integer",
        "O(1)",
        &[Arg::key("key", 0), Arg::integer("increment")],
    ),
    string_command!(
        "decrby",
        3,
        WRITE | DENYOOM | FAST,
        RW | ACCESS | UPDATE,
        decrby,
        "1.0.0",
        "Subtract from a key's integer",
        "O(1)",
        &[Arg::key("key", 0), Arg::integer("decrement")],
    ),
    string_command!(
        "incrbyfloat",
        3,
        WRITE | DENYOOM | FAST,
        RW | ACCESS | UPDATE,
        incrbyfloat,
        "2.6.0",
        "Add a decimal number to a key's number",
        "O(1)",
        &[Arg::key("key", 0), Arg::double("increment")],
    ),
    CommandSpec {
        name: "lcs",
        arity: -3,
        flags: READONLY,
        acl: acl::STRING,
        key_specs: &[KeySpec::range(1, 1, 1, RO | ACCESS)],
        handler: Some(lcs),
        group: "string",
        since: "7.0.0",
        summary: "Find the longest common subsequence of two keys' values",
        complexity: "O(N*M) where N and M are the lengths of s1 and s2, respectively",
        args: &[
            Arg::key("key1", 0),
            Arg::key("key2", 0),
            Arg::pure_token("len", "LEN").optional(),
            Arg::pure_token("idx", "IDX").optional(),
            Arg::integer("len").token("MINMATCHLEN").optional(),
            Arg::pure_token("withmatchlen", "WITHMATCHLEN").optional(),
        ],
        ..CommandSpec::DEFAULT
    },
];

/// The error for a result longer than `proto-max-bulk-len`.
const TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

/// Checks that a string of `len + extra` bytes is allowed (Redis's `checkStringLength`).
fn check_string_length(ctx: &Ctx, len: u64, extra: u64) -> CmdResult {
    match len.checked_add(extra) {
        Some(total) if total <= ctx.srv.config.proto_max_bulk_len as u64 => Ok(()),
        _ => Err(TOO_LONG.into()),
    }
}

/// A string built by a command rather than taken from an argument: `embstr`
/// or `raw` by length, never `int` (Redis's `createStringObject`).
fn plain_string(b: &[u8]) -> StrValue {
    if b.len() <= EMBSTR_MAX {
        StrValue::Embstr(SmallBytes::new(b))
    } else {
        StrValue::Raw(cinnabar_storage::classbuf::ClassBuf::from_slice(b))
    }
}

/// The string stored at `key`, which the caller has already looked up: this
/// second access applies no expiry and touches neither statistics nor the
/// access stamp, so a command counts as one access (one LFU increment), as in Redis.
pub(super) fn stored_string_mut<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Option<&'c mut StrValue> {
    ctx.db().get_mut(key).and_then(|e| e.value.as_str_mut())
}

/// Replies as GET does: the string at `key` (looked up for reading, so with
/// lazy expiry, hit/miss counting and access time), or null. WRONGTYPE before
/// any reply if it is not a string. Returns whether the key exists.
fn reply_get(ctx: &mut Ctx, key: &[u8]) -> Result<bool, CmdError> {
    if ctx.read_string(key)?.is_none() {
        ctx.reply().null();
        return Ok(false);
    }
    reply_stored(ctx, key);
    Ok(true)
}

/// Replies with the string stored at `key`, which the caller has already
/// looked up (this lookup counts nothing), or null if there is none. The value
/// goes straight from the keyspace into the reply, without a copy in between.
fn reply_stored(ctx: &mut Ctx, key: &[u8]) {
    match ctx.srv.dbs[ctx.client.db].get(key).and_then(|e| e.value.as_str()) {
        Some(StrValue::Int(i)) => ctx.client.reply.bulk_i64(*i),
        Some(s) => ctx.client.reply.bulk(&s.as_bytes()),
        None => ctx.client.reply.null(),
    }
}

fn get(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    reply_get(ctx, argv[1])?;
    Ok(())
}

/// How an expiry argument is to be read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpireUnit {
    /// EX: seconds from now.
    Ex,
    /// PX: milliseconds from now.
    Px,
    /// EXAT: a unix time in seconds.
    ExAt,
    /// PXAT: a unix time in milliseconds.
    PxAt,
}

impl ExpireUnit {
    fn from_name(opt: &[u8]) -> Option<ExpireUnit> {
        [
            (&b"ex"[..], ExpireUnit::Ex),
            (b"px", ExpireUnit::Px),
            (b"exat", ExpireUnit::ExAt),
            (b"pxat", ExpireUnit::PxAt),
        ]
        .into_iter()
        .find(|(name, _)| opt.eq_ignore_ascii_case(name))
        .map(|(_, unit)| unit)
    }

    fn in_seconds(self) -> bool {
        matches!(self, ExpireUnit::Ex | ExpireUnit::ExAt)
    }

    fn is_relative(self) -> bool {
        matches!(self, ExpireUnit::Ex | ExpireUnit::Px)
    }
}

/// The options SET and GETEX take (Redis's `parseExtendedStringArgumentsOrReply`).
#[derive(Default)]
struct ExtendedOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    expire: Option<(ExpireUnit, &'a [u8])>,
}

/// Which command's options are being parsed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OptionsFor {
    Set,
    Getex,
}

/// Parses SET/GETEX options from `argv[first..]`. An option that conflicts
/// with one already given is a syntax error, as in Redis; repeating the same
/// one is allowed (the last expiry wins).
fn parse_extended_options<'a>(
    argv: &[&'a [u8]],
    first: usize,
    command: OptionsFor,
) -> Result<ExtendedOptions<'a>, CmdError> {
    let mut opts = ExtendedOptions::default();
    let is_set = command == OptionsFor::Set;
    let mut j = first;
    while j < argv.len() {
        let opt = argv[j];
        let next = argv.get(j + 1).copied();
        let expire_unit = opts.expire.map(|(unit, _)| unit);
        if opt.eq_ignore_ascii_case(b"nx") && !opts.xx && is_set {
            opts.nx = true;
        } else if opt.eq_ignore_ascii_case(b"xx") && !opts.nx && is_set {
            opts.xx = true;
        } else if opt.eq_ignore_ascii_case(b"get") && is_set {
            opts.get = true;
        } else if opt.eq_ignore_ascii_case(b"keepttl") && !opts.persist && expire_unit.is_none() && is_set {
            opts.keep_ttl = true;
        } else if opt.eq_ignore_ascii_case(b"persist") && !is_set && expire_unit.is_none() && !opts.keep_ttl {
            opts.persist = true;
        } else if let (Some(unit), Some(arg)) = (ExpireUnit::from_name(opt), next) {
            if opts.keep_ttl || opts.persist || expire_unit.is_some_and(|u| u != unit) {
                return Err(errors::SYNTAX.into());
            }
            opts.expire = Some((unit, arg));
            j += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
        j += 1;
    }
    Ok(opts)
}

/// The absolute expiry, in unix milliseconds, that an EX/PX/EXAT/PXAT argument
/// means, or Redis's error for `command` (`getExpireMillisecondsOrReply`).
fn expire_at_ms(ctx: &Ctx, arg: &[u8], unit: ExpireUnit, command: &str) -> Result<i64, CmdError> {
    let invalid = || CmdError::from(format!("ERR invalid expire time in '{command}' command"));
    let value = parse_i64(arg).ok_or(errors::NOT_INTEGER)?;
    if value <= 0 {
        return Err(invalid());
    }
    let mut ms = if unit.in_seconds() { value.checked_mul(1000).ok_or_else(invalid)? } else { value };
    if unit.is_relative() {
        ms = ms.checked_add(ctx.now_ms()).ok_or_else(invalid)?;
    }
    Ok(ms)
}

/// The SET family's common path (Redis's `setGenericCommand`). `replies` are
/// what to answer on success and when NX/XX prevents the write.
fn set_generic(
    ctx: &mut Ctx,
    argv: &[&[u8]],
    key: &[u8],
    value: &[u8],
    opts: &ExtendedOptions,
    expire_at: Option<i64>,
    replies: SetReplies,
) -> CmdResult {
    if opts.get {
        reply_get(ctx, key)?;
    }
    let found = ctx.lookup_write(key).is_some();
    if (opts.nx && found) || (opts.xx && !found) {
        if !opts.get {
            match replies {
                SetReplies::OkOrNull => ctx.reply().null(),
                SetReplies::OneOrZero => ctx.reply().int(0),
            }
        }
        return Ok(());
    }
    ctx.set_key(key, Value::Str(StrValue::from_bytes(value)), opts.keep_ttl);
    ctx.mark_dirty(1);
    ctx.notify(notify::STRING, "set", key);
    if let Some(when) = expire_at {
        ctx.db().set_expire(key, when);
        ctx.notify(notify::GENERIC, "expire", key);
        ctx.propagate_as(vec![b"SET".to_vec(), key.to_vec(), value.to_vec(), b"PXAT".to_vec(), ms_text(when)]);
    } else if opts.get {
        propagate_without_get(ctx, argv);
    }
    if !opts.get {
        match replies {
            SetReplies::OkOrNull => ctx.reply().ok(),
            SetReplies::OneOrZero => ctx.reply().int(1),
        }
    }
    Ok(())
}

/// What a SET-family command answers: SET says OK (or null when NX/XX stops
/// it), SETNX says 1 or 0.
#[derive(Clone, Copy)]
enum SetReplies {
    OkOrNull,
    OneOrZero,
}

fn ms_text(ms: i64) -> Vec<u8> {
    let mut v = Vec::with_capacity(20);
    push_i64(&mut v, ms);
    v
}

/// SET ... GET reaches replicas without its GET options, which they would not use.
fn propagate_without_get(ctx: &mut Ctx, argv: &[&[u8]]) {
    let kept = argv.iter().enumerate().filter(|(i, a)| *i < 3 || !a.eq_ignore_ascii_case(b"get"));
    ctx.propagate_as(kept.map(|(_, a)| a.to_vec()).collect());
}

fn set(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let opts = parse_extended_options(argv, 3, OptionsFor::Set)?;
    let expire_at = match opts.expire {
        Some((unit, arg)) => Some(expire_at_ms(ctx, arg, unit, "set")?),
        None => None,
    };
    set_generic(ctx, argv, argv[1], argv[2], &opts, expire_at, SetReplies::OkOrNull)
}

/// SET's key and its flags: only `SET ... GET` reads the old value.
fn set_keys(argv: &[&[u8]], out: &mut Vec<KeyRef>) {
    let reads = argv.iter().skip(3).any(|arg| arg.eq_ignore_ascii_case(b"get"));
    let flags = if reads { RW | ACCESS | UPDATE } else { OW | UPDATE };
    out.push(KeyRef { pos: 1, flags });
}

fn setnx(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let opts = ExtendedOptions { nx: true, ..Default::default() };
    set_generic(ctx, argv, argv[1], argv[2], &opts, None, SetReplies::OneOrZero)
}

/// SETEX and PSETEX: SET with a mandatory relative expiry.
fn set_with_expiry(ctx: &mut Ctx, argv: &[&[u8]], unit: ExpireUnit, command: &str) -> CmdResult {
    let expire_at = expire_at_ms(ctx, argv[2], unit, command)?;
    set_generic(ctx, argv, argv[1], argv[3], &ExtendedOptions::default(), Some(expire_at), SetReplies::OkOrNull)
}

fn setex(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    set_with_expiry(ctx, argv, ExpireUnit::Ex, "setex")
}

fn psetex(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    set_with_expiry(ctx, argv, ExpireUnit::Px, "psetex")
}

fn getex(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let key = argv[1];
    let opts = parse_extended_options(argv, 2, OptionsFor::Getex)?;
    if ctx.read_string(key)?.is_none() {
        ctx.reply().null();
        return Ok(());
    }
    let expire = match opts.expire {
        Some((unit, arg)) => Some((unit, expire_at_ms(ctx, arg, unit, "getex")?)),
        None => None,
    };
    reply_stored(ctx, key);
    match expire {
        // An absolute time already past deletes the key now.
        Some((unit, when)) if !unit.is_relative() && when <= ctx.now_ms() => {
            ctx.db().remove(key);
            ctx.propagate_as(vec![b"DEL".to_vec(), key.to_vec()]);
            ctx.mark_dirty(1);
            ctx.notify(notify::GENERIC, "del", key);
        }
        Some((_, when)) => {
            ctx.db().set_expire(key, when);
            ctx.propagate_as(vec![b"PEXPIREAT".to_vec(), key.to_vec(), ms_text(when)]);
            ctx.mark_dirty(1);
            ctx.notify(notify::GENERIC, "expire", key);
        }
        None if opts.persist && ctx.db().persist(key) => {
            ctx.propagate_as(vec![b"PERSIST".to_vec(), key.to_vec()]);
            ctx.mark_dirty(1);
            ctx.notify(notify::GENERIC, "persist", key);
        }
        None => {}
    }
    Ok(())
}

fn getdel(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let key = argv[1];
    if !reply_get(ctx, key)? {
        return Ok(());
    }
    ctx.db().remove(key);
    let verb: &[u8] = if ctx.srv.config.lazyfree_lazy_user_del { b"UNLINK" } else { b"DEL" };
    ctx.propagate_as(vec![verb.to_vec(), key.to_vec()]);
    ctx.mark_dirty(1);
    ctx.notify(notify::GENERIC, "del", key);
    Ok(())
}

fn getset(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    reply_get(ctx, argv[1])?;
    ctx.lookup_write(argv[1]);
    ctx.set_key(argv[1], Value::Str(StrValue::from_bytes(argv[2])), false);
    ctx.mark_dirty(1);
    ctx.notify(notify::STRING, "set", argv[1]);
    ctx.propagate_as(vec![b"SET".to_vec(), argv[1].to_vec(), argv[2].to_vec()]);
    Ok(())
}

fn mget(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    ctx.reply().array(argv.len() - 1);
    for key in &argv[1..] {
        // Keys of other types read as null, not as an error.
        ctx.lookup_read(key);
        reply_stored(ctx, key);
    }
    Ok(())
}

/// MSET and MSETNX: sets every pair; with `nx`, only if no key exists.
fn mset_generic(ctx: &mut Ctx, argv: &[&[u8]], nx: bool) -> CmdResult {
    // The name plus key/value pairs: an even count leaves a key without a value.
    if argv.len() % 2 != 1 {
        let name = if nx { "msetnx" } else { "mset" };
        return Err(format!("ERR wrong number of arguments for '{name}' command").into());
    }
    if nx {
        let mut any_exists = false;
        for pair in argv[1..].chunks(2) {
            any_exists |= ctx.lookup_write(pair[0]).is_some();
        }
        if any_exists {
            ctx.reply().int(0);
            return Ok(());
        }
    }
    for pair in argv[1..].chunks(2) {
        // Looked up first, as Redis's setKey does: an expired key is deleted
        // (and that DEL propagated) and an LFU counter is bumped before it is kept.
        ctx.lookup_write(pair[0]);
        ctx.set_key(pair[0], Value::Str(StrValue::from_bytes(pair[1])), false);
        ctx.notify(notify::STRING, "set", pair[0]);
    }
    ctx.mark_dirty((argv.len() as u64 - 1) / 2);
    if nx {
        ctx.reply().int(1);
    } else {
        ctx.reply().ok();
    }
    Ok(())
}

fn mset(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    mset_generic(ctx, argv, false)
}

fn msetnx(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    mset_generic(ctx, argv, true)
}

fn append(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let (key, suffix) = (argv[1], argv[2]);
    let current_len = match ctx.write_string(key)? {
        None => {
            let value = StrValue::from_bytes(suffix);
            let len = value.len();
            ctx.set_key(key, Value::Str(value), false);
            ctx.mark_dirty(1);
            ctx.notify(notify::STRING, "append", key);
            ctx.reply().int(len as i64);
            return Ok(());
        }
        Some(s) => s.len(),
    };
    check_string_length(ctx, current_len as u64, suffix.len() as u64)?;
    let s = stored_string_mut(ctx, key).expect("looked up just above").make_raw();
    s.extend_from_slice(suffix);
    let len = s.len();
    ctx.mark_dirty(1);
    ctx.notify(notify::STRING, "append", key);
    ctx.reply().int(len as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let len = ctx.read_string(argv[1])?.map_or(0, |s| s.len());
    ctx.reply().int(len as i64);
    Ok(())
}

/// GETRANGE and SUBSTR.
fn getrange(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut start = parse_i64(argv[2]).ok_or(errors::NOT_INTEGER)?;
    let mut end = parse_i64(argv[3]).ok_or(errors::NOT_INTEGER)?;
    if ctx.read_string(argv[1])?.is_none() {
        ctx.reply().bulk(b"");
        return Ok(());
    }
    let value = ctx.srv.dbs[ctx.client.db].get(argv[1]).and_then(|e| e.value.as_str()).expect("looked up just above");
    let value = value.as_bytes();
    let len = value.len() as i64;
    if start < 0 && end < 0 && start > end {
        ctx.client.reply.bulk(b"");
        return Ok(());
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0).min(len - 1);
    if start > end || len == 0 {
        ctx.client.reply.bulk(b"");
    } else {
        ctx.client.reply.bulk(&value[start as usize..=end as usize]);
    }
    Ok(())
}

fn setrange(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let (key, patch) = (argv[1], argv[3]);
    let offset = parse_i64(argv[2]).ok_or(errors::NOT_INTEGER)?;
    if offset < 0 {
        return Err("ERR offset is out of range".into());
    }
    let offset = offset as u64;
    let current_len = ctx.write_string(key)?.map(|s| s.len());
    if patch.is_empty() {
        ctx.reply().int(current_len.unwrap_or(0) as i64);
        return Ok(());
    }
    check_string_length(ctx, offset, patch.len() as u64)?;
    if current_len.is_none() {
        ctx.set_key(key, Value::Str(StrValue::raw(Vec::new())), false);
    }
    let s = stored_string_mut(ctx, key).expect("exists or was just created").make_raw();
    let offset = offset as usize;
    if s.len() < offset + patch.len() {
        s.resize(offset + patch.len(), 0);
    }
    s[offset..offset + patch.len()].copy_from_slice(patch);
    let len = s.len();
    ctx.mark_dirty(1);
    ctx.notify(notify::STRING, "setrange", key);
    ctx.reply().int(len as i64);
    Ok(())
}

/// INCR, DECR, INCRBY and DECRBY: adds `delta` to the integer at `key`.
fn incr_by(ctx: &mut Ctx, key: &[u8], delta: i64) -> CmdResult {
    let current = match ctx.write_string(key)? {
        None => 0,
        Some(s) => s.as_i64().ok_or(errors::NOT_INTEGER)?,
    };
    let value = current.checked_add(delta).ok_or(errors::OVERFLOW)?;
    match stored_string_mut(ctx, key) {
        Some(s) => *s = StrValue::Int(value),
        None => ctx.set_key(key, Value::Str(StrValue::Int(value)), false),
    }
    ctx.mark_dirty(1);
    ctx.notify(notify::STRING, "incrby", key);
    ctx.reply().int(value);
    Ok(())
}

fn incr(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    incr_by(ctx, argv[1], 1)
}

fn decr(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    incr_by(ctx, argv[1], -1)
}

fn incrby(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let delta = parse_i64(argv[2]).ok_or(errors::NOT_INTEGER)?;
    incr_by(ctx, argv[1], delta)
}

fn decrby(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let delta = parse_i64(argv[2]).ok_or(errors::NOT_INTEGER)?;
    if delta == i64::MIN {
        return Err("ERR decrement would overflow".into());
    }
    incr_by(ctx, argv[1], -delta)
}

fn incrbyfloat(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let key = argv[1];
    let current = ctx.write_string(key)?.map(|s| s.as_bytes().into_owned());
    let sum = long_double::add(current.as_deref().unwrap_or(b"0"), argv[2])?;
    let value = plain_string(&sum);
    match stored_string_mut(ctx, key) {
        Some(s) => *s = value,
        None => ctx.set_key(key, Value::Str(value), false),
    }
    ctx.mark_dirty(1);
    ctx.notify(notify::STRING, "incrbyfloat", key);
    ctx.reply().bulk(&sum);
    ctx.propagate_as(vec![b"SET".to_vec(), key.to_vec(), sum, b"KEEPTTL".to_vec()]);
    Ok(())
}

/// LCS options.
struct LcsOptions {
    len: bool,
    idx: bool,
    with_match_len: bool,
    min_match_len: i64,
}

fn parse_lcs_options(argv: &[&[u8]]) -> Result<LcsOptions, CmdError> {
    let mut opts = LcsOptions { len: false, idx: false, with_match_len: false, min_match_len: 0 };
    let mut j = 3;
    while j < argv.len() {
        let opt = argv[j];
        if opt.eq_ignore_ascii_case(b"idx") {
            opts.idx = true;
        } else if opt.eq_ignore_ascii_case(b"len") {
            opts.len = true;
        } else if opt.eq_ignore_ascii_case(b"withmatchlen") {
            opts.with_match_len = true;
        } else if opt.eq_ignore_ascii_case(b"minmatchlen") && j + 1 < argv.len() {
            opts.min_match_len = parse_i64(argv[j + 1]).ok_or(errors::NOT_INTEGER)?.max(0);
            j += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
        j += 1;
    }
    if opts.idx && opts.len {
        return Err("ERR If you want both the length and indexes, please just use IDX.".into());
    }
    Ok(opts)
}

/// A string for LCS: absent keys count as empty, other types are an error.
fn lcs_operand(ctx: &mut Ctx, key: &[u8]) -> Result<Option<Vec<u8>>, ()> {
    match ctx.lookup_read(key) {
        None => Ok(None),
        Some(e) => e.value.as_str().map(|s| Some(s.as_bytes().into_owned())).ok_or(()),
    }
}

/// One matching stretch found by LCS IDX: ranges in both strings, inclusive.
struct LcsMatch {
    a: (usize, usize),
    b: (usize, usize),
}

fn lcs(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let a = lcs_operand(ctx, argv[1]);
    let b = lcs_operand(ctx, argv[2]);
    let (Ok(a), Ok(b)) = (a, b) else {
        return Err("ERR The specified keys must contain string values".into());
    };
    let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
    let opts = parse_lcs_options(argv)?;
    if a.len() as u64 >= u64::from(u32::MAX) - 1 || b.len() as u64 >= u64::from(u32::MAX) - 1 {
        return Err("ERR String too long for LCS".into());
    }
    let table_bytes = (a.len() as u64 + 1) * (b.len() as u64 + 1) * 4;
    if table_bytes > ctx.srv.config.proto_max_bulk_len as u64 {
        return Err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len".into());
    }
    let table = LcsTable::build(&a, &b);
    if opts.len {
        ctx.reply().int(table.length() as i64);
        return Ok(());
    }
    let (common, matches) = table.walk_back(&a, &b);
    if !opts.idx {
        ctx.reply().bulk(&common);
        return Ok(());
    }
    ctx.reply().map(2);
    ctx.reply().bulk(b"matches");
    let shown: Vec<&LcsMatch> = matches.iter().filter(|m| (m.a.1 - m.a.0 + 1) as i64 >= opts.min_match_len).collect();
    ctx.reply().array(shown.len());
    for m in shown {
        ctx.reply().array(2 + usize::from(opts.with_match_len));
        for (start, end) in [m.a, m.b] {
            ctx.reply().array(2);
            ctx.reply().int(start as i64);
            ctx.reply().int(end as i64);
        }
        if opts.with_match_len {
            ctx.reply().int((m.a.1 - m.a.0 + 1) as i64);
        }
    }
    ctx.reply().bulk(b"len");
    ctx.reply().int(table.length() as i64);
    Ok(())
}

/// The dynamic-programming table: cell (i, j) is the LCS length of a[..i] and b[..j].
struct LcsTable {
    cells: Vec<u32>,
    width: usize,
    rows: usize,
}

impl LcsTable {
    fn build(a: &[u8], b: &[u8]) -> LcsTable {
        let width = b.len() + 1;
        let mut cells = vec![0u32; (a.len() + 1) * width];
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                cells[i * width + j] = if a[i - 1] == b[j - 1] {
                    cells[(i - 1) * width + j - 1] + 1
                } else {
                    cells[(i - 1) * width + j].max(cells[i * width + j - 1])
                };
            }
        }
        LcsTable { cells, width, rows: a.len() + 1 }
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }

    fn length(&self) -> u32 {
        self.at(self.rows - 1, self.width - 1)
    }

    /// Walks the table from the end as Redis does, returning the common
    /// subsequence and its matching stretches, last one first.
    fn walk_back(&self, a: &[u8], b: &[u8]) -> (Vec<u8>, Vec<LcsMatch>) {
        let mut common = vec![0u8; self.length() as usize];
        let mut remaining = common.len();
        let mut matches = Vec::new();
        let mut current: Option<LcsMatch> = None;
        let (mut i, mut j) = (a.len(), b.len());
        while i > 0 && j > 0 {
            let mut emit = false;
            if a[i - 1] == b[j - 1] {
                common[remaining - 1] = a[i - 1];
                remaining -= 1;
                match &mut current {
                    // Walking back diagonally always extends the stretch.
                    Some(m) => {
                        m.a.0 -= 1;
                        m.b.0 -= 1;
                    }
                    None => current = Some(LcsMatch { a: (i - 1, i - 1), b: (j - 1, j - 1) }),
                }
                let m = current.as_ref().expect("set just above");
                emit = m.a.0 == 0 || m.b.0 == 0;
                i -= 1;
                j -= 1;
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                emit |= current.is_some();
            }
            if emit {
                matches.extend(current.take());
            }
        }
        (common, matches)
    }
}

#[cfg(test)]
mod propagation_tests {
    //! What string writes put into the replication stream, checked on a
    //! server in this process with a sink that records the stream.

    use std::cell::RefCell;
    use std::rc::Rc;

    use crate::command::dispatch::execute;
    use crate::config::Config;
    use crate::propagate::{encode_command, StreamSink};
    use crate::server::Server;

    struct Recorder(Rc<RefCell<Vec<u8>>>);

    impl StreamSink for Recorder {
        fn append(&mut self, bytes: &[u8]) {
            self.0.borrow_mut().extend_from_slice(bytes);
        }
    }

    /// Runs `setup` unrecorded, then `commands`, and returns what was propagated.
    fn propagated(setup: &[&[&str]], commands: &[&[&str]]) -> String {
        let mut srv = Server::new(Config::new());
        let client = srv.add_client("test".into(), "test".into(), -1);
        let mut client = client.borrow_mut();
        let mut run = |srv: &mut Server, words: &[&str]| {
            let argv: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
            execute(srv, &mut client, &argv);
        };
        for words in setup {
            run(&mut srv, words);
        }
        // Lets keys set up with a 1 ms TTL expire.
        std::thread::sleep(std::time::Duration::from_millis(5));
        let seen = Rc::new(RefCell::new(Vec::new()));
        srv.propagation.attach(Box::new(Recorder(seen.clone())));
        for words in commands {
            run(&mut srv, words);
        }
        let bytes = seen.borrow().clone();
        String::from_utf8(bytes).unwrap()
    }

    fn stream(commands: &[&[&str]]) -> String {
        let mut out = Vec::new();
        encode_command(&mut out, &[b"SELECT", b"0"]);
        for words in commands {
            let argv: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
            encode_command(&mut out, &argv);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn absolute_expiry_times_propagate_as_given() {
        let got =
            propagated(&[], &[&["SET", "k", "v", "PXAT", "99999999999999"], &["set", "k", "v", "exat", "99999999999"]]);
        assert_eq!(
            got,
            stream(&[&["SET", "k", "v", "PXAT", "99999999999999"], &["SET", "k", "v", "PXAT", "99999999999000"]])
        );
    }

    #[test]
    fn relative_expiry_becomes_pxat() {
        for cmd in [&["SET", "k", "v", "EX", "100"][..], &["SETEX", "k", "100", "v"], &["PSETEX", "k", "100000", "v"]] {
            let got = propagated(&[], &[cmd]);
            let prefix = stream(&[]) + "*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$4\r\nPXAT\r\n$13\r\n";
            assert!(got.starts_with(&prefix), "{cmd:?}: {got:?}");
        }
    }

    #[test]
    fn set_get_drops_its_get_options() {
        let got = propagated(
            &[],
            &[&["SET", "k", "v", "GET", "NX", "get"], &["SET", "k", "v", "get", "EXAT", "99999999999"]],
        );
        assert_eq!(got, stream(&[&["SET", "k", "v", "NX"], &["SET", "k", "v", "PXAT", "99999999999000"]]));
    }

    #[test]
    fn refused_writes_propagate_nothing() {
        let got = propagated(
            &[&["SET", "k", "v"]],
            &[
                &["SET", "k", "v", "NX"],
                &["SET", "x", "v", "XX"],
                &["MSETNX", "k", "1"],
                &["GETEX", "k"],
                &["GETEX", "k", "PERSIST"],
            ],
        );
        assert_eq!(got, "");
    }

    #[test]
    fn getex_propagates_its_effect() {
        let got = propagated(
            &[&["SET", "k", "v", "PX", "100000"], &["SET", "gone", "v"]],
            &[&["GETEX", "k", "PERSIST"], &["GETEX", "k", "PXAT", "99999999999999"], &["GETEX", "gone", "EXAT", "1"]],
        );
        assert_eq!(got, stream(&[&["PERSIST", "k"], &["PEXPIREAT", "k", "99999999999999"], &["DEL", "gone"]]));
    }

    #[test]
    fn value_rewrites_propagate_as_set() {
        let got = propagated(
            &[&["SET", "k", "v"]],
            &[
                &["GETSET", "k", "w"],
                &["GETDEL", "k"],
                &["GETDEL", "k"],
                &["INCRBYFLOAT", "f", "10.5"],
                &["INCRBYFLOAT", "f", "0.1"],
            ],
        );
        assert_eq!(
            got,
            stream(&[
                &["SET", "k", "w"],
                &["DEL", "k"],
                &["SET", "f", "10.5", "KEEPTTL"],
                &["SET", "f", "10.6", "KEEPTTL"],
            ])
        );
    }

    #[test]
    fn writes_over_expired_keys_propagate_the_expiry_first() {
        let got = propagated(
            &[&["SET", "a", "1", "PX", "1"], &["SET", "b", "1", "PX", "1"], &["SET", "c", "1", "PX", "1"]],
            &[&["MSET", "a", "2"], &["GETSET", "b", "2"], &["INCR", "c"]],
        );
        assert_eq!(
            got,
            // Each write and the expiry it caused apply atomically (Redis 7.0.15's AOF).
            stream(&[
                &["MULTI"],
                &["DEL", "a"],
                &["MSET", "a", "2"],
                &["EXEC"],
                &["MULTI"],
                &["DEL", "b"],
                &["SET", "b", "2"],
                &["EXEC"],
                &["MULTI"],
                &["DEL", "c"],
                &["INCR", "c"],
                &["EXEC"]
            ])
        );
    }
}
