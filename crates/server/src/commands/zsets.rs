//! Sorted-set commands: ZADD/ZINCRBY, lookups (ZSCORE, ZMSCORE, ZCARD, ZRANK,
//! ZCOUNT, ZLEXCOUNT), the ZRANGE family (rank, score and lex ranges, REV,
//! LIMIT, ZRANGESTORE and the legacy ZREV*/Z*BY* forms), removals (ZREM,
//! ZREMRANGEBY*, ZPOPMIN/ZPOPMAX, ZMPOP and the blocking BZPOPMIN/BZPOPMAX/
//! BZMPOP, which wait through `Ctx::block` like the list ones), ZRANDMEMBER, the set algebra
//! (ZUNION/ZINTER/ZDIFF, their STORE forms, ZINTERCARD) and ZSCAN.
//!
//! Every ordered query becomes a rank range over `Zset` (see storage's zset
//! module): a score or lex bound is turned into "how many elements come
//! before it", so each command is one or two O(log N) descents plus the walk
//! over what it returns. Argument parsing mirrors Redis's order of checks, so
//! the same bad command fails with the same error.

use std::collections::HashMap;

use cinnabar_protocol::numbers::parse_i64;
use cinnabar_storage::zset::{cmp_key, Added};
use cinnabar_storage::{Value, Zset, ZsetLimits};

use super::keyspace::{parse_cursor, parse_scan_options};
use crate::blocking::{parse_timeout, TIMEOUT_HISTORY};
use crate::command::context::errors;
use crate::command::{
    acl, doc_flags, flags::*, key_flags::*, Arg, BeginSearch, CmdError, CmdResult, CommandSpec, Ctx, FindKeys, KeySpec,
    ModifiedKeys,
};
use crate::notify;

/// Members with their scores, in order.
type Elements = Vec<(Vec<u8>, f64)>;

const NAN_RESULT: &str = "ERR resulting score is not a number (NaN)";
const BAD_SCORE_RANGE: &str = "ERR min or max is not a float";
const BAD_LEX_RANGE: &str = "ERR min or max not valid string range item";
const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";

const RANGE_COMPLEXITY: &str =
    "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.";
const LIMITED_RANGE_COMPLEXITY: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).";
const REMOVE_RANGE_COMPLEXITY: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.";
const COUNT_COMPLEXITY: &str = "O(log(N)) with N being the number of elements in the sorted set.";
const POP_COMPLEXITY: &str =
    "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.";
const UNION_COMPLEXITY: &str = "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.";
const INTER_COMPLEXITY: &str = "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.";
const DIFF_COMPLEXITY: &str = "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.";

/// Keys from a `numkeys` argument at `index` (ZUNION, ZMPOP, ...).
const fn numkeys_spec(index: i32, flags: u32) -> KeySpec {
    KeySpec::new(flags, BeginSearch::Index(index), FindKeys::Keynum { keynum_idx: 0, first_key: 1, step: 1 })
}

const ALGEBRA_SPECS: &[KeySpec] = &[numkeys_spec(1, RO | ACCESS)];
const STORE_SPECS: &[KeySpec] = &[KeySpec::single(1, OW | UPDATE), numkeys_spec(2, RO | ACCESS)];

/// A sorted-set command on one key; the fields that differ are given.
macro_rules! zset_command {
    ($name:literal, $arity:expr, $flags:expr, $keyflags:expr, $handler:ident, $since:literal, $summary:literal, $complexity:expr) => {
        zset_command!(
            $name,
            $arity,
            $flags,
            &[KeySpec::single(1, $keyflags)],
            $handler,
            $since,
            $summary,
            $complexity,
            &[]
        )
    };
    ($name:literal, $arity:expr, $flags:expr, $specs:expr, $handler:ident, $since:literal, $summary:literal, $complexity:expr, $history:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            acl: acl::SORTEDSET,
            key_specs: $specs,
            handler: Some($handler),
            group: "sorted-set",
            since: $since,
            summary: $summary,
            complexity: $complexity,
            history: $history,
            ..CommandSpec::DEFAULT
        }
    };
}

/// A legacy range command that ZRANGE's options replaced.
macro_rules! deprecated_range {
    ($name:literal, $handler:ident, $since:literal, $summary:literal, $complexity:expr, $replaced_by:literal, $history:expr) => {
        CommandSpec {
            doc_flags: doc_flags::DEPRECATED,
            deprecated_since: "6.2.0",
            replaced_by: $replaced_by,
            ..zset_command!(
                $name,
                -4,
                READONLY,
                &[KeySpec::single(1, RO | ACCESS)],
                $handler,
                $since,
                $summary,
                $complexity,
                $history
            )
        }
    };
}

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec { args: ZADD_ARGS, ..zset_command!(
        "zadd",
        -4,
        WRITE | DENYOOM | FAST,
        &[KeySpec::single(1, RW | UPDATE)],
        zadd,
        "1.2.0",
        "Add members to a sorted set or update their scores",
        "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
        &[("2.4.0", "Takes several members at once."), ("3.0.2", "`XX`, `NX`, `CH` and `INCR` options."), ("6.2.0", "`GT` and `LT` options.")]
    ) },
    CommandSpec { args: ZINCRBY_ARGS, ..zset_command!("zincrby", 4, WRITE | DENYOOM | FAST, RW | ACCESS | UPDATE, zincrby, "1.2.0", "Add to a member's score", "O(log(N)) where N is the number of elements in the sorted set.") },
    CommandSpec { args: ZSCORE_ARGS, ..zset_command!("zscore", 3, READONLY | FAST, RO | ACCESS, zscore, "1.2.0", "Get a member's score", "O(1)") },
    CommandSpec { args: ZMSCORE_ARGS, ..zset_command!("zmscore", -3, READONLY | FAST, RO | ACCESS, zmscore, "6.2.0", "Get the scores of several members", "O(N) where N is the number of members being requested.") },
    CommandSpec { args: ZCARD_ARGS, ..zset_command!("zcard", 2, READONLY | FAST, RO, zcard, "1.2.0", "Count a sorted set's members", "O(1)") },
    CommandSpec { args: ZCOUNT_ARGS, ..zset_command!("zcount", 4, READONLY | FAST, RO | ACCESS, zcount, "2.0.0", "Count the members whose scores fall in a range", COUNT_COMPLEXITY) },
    CommandSpec { args: ZLEXCOUNT_ARGS, ..zset_command!("zlexcount", 4, READONLY | FAST, RO | ACCESS, zlexcount, "2.8.9", "Count the members in a lexicographical range", COUNT_COMPLEXITY) },
    CommandSpec { args: ZRANGE_ARGS, ..zset_command!(
        "zrange",
        -4,
        READONLY,
        &[KeySpec::single(1, RO | ACCESS)],
        zrange,
        "1.2.0",
        "Get members by rank, score or lexicographical range",
        RANGE_COMPLEXITY,
        &[("6.2.0", "`REV`, `BYSCORE`, `BYLEX` and `LIMIT` options.")]
    ) },
    CommandSpec { args: ZRANGESTORE_ARGS, ..zset_command!(
        "zrangestore",
        -5,
        WRITE | DENYOOM,
        &[KeySpec::single(1, OW | UPDATE), KeySpec::single(2, RO | ACCESS)],
        zrangestore,
        "6.2.0",
        "Store a range of a sorted set in another key",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.",
        &[]
    ) },
    CommandSpec { args: ZREVRANGE_ARGS, ..deprecated_range!("zrevrange", zrevrange, "1.2.0", "Get members by rank, highest score first", RANGE_COMPLEXITY, "`ZRANGE` with the `REV` argument", &[]) },
    CommandSpec { args: ZRANGEBYSCORE_ARGS, ..deprecated_range!(
        "zrangebyscore",
        zrangebyscore,
        "1.0.5",
        "Get members within a score range",
        LIMITED_RANGE_COMPLEXITY,
        "`ZRANGE` with the `BYSCORE` argument",
        &[("2.0.0", "`WITHSCORES` option.")]
    ) },
    CommandSpec { args: ZREVRANGEBYSCORE_ARGS, ..deprecated_range!(
        "zrevrangebyscore",
        zrevrangebyscore,
        "2.2.0",
        "Get members within a score range, highest score first",
        LIMITED_RANGE_COMPLEXITY,
        "`ZRANGE` with the `REV` and `BYSCORE` arguments",
        &[("2.1.6", "Exclusive `min` and `max`.")]
    ) },
    CommandSpec { args: ZRANGEBYLEX_ARGS, ..deprecated_range!(
        "zrangebylex",
        zrangebylex,
        "2.8.9",
        "Get members within a lexicographical range",
        LIMITED_RANGE_COMPLEXITY,
        "`ZRANGE` with the `BYLEX` argument",
        &[]
    ) },
    CommandSpec { args: ZREVRANGEBYLEX_ARGS, ..deprecated_range!(
        "zrevrangebylex",
        zrevrangebylex,
        "2.8.9",
        "Get members within a lexicographical range, highest first",
        LIMITED_RANGE_COMPLEXITY,
        "`ZRANGE` with the `REV` and `BYLEX` arguments",
        &[]
    ) },
    CommandSpec { args: ZRANK_ARGS, ..zset_command!("zrank", 3, READONLY | FAST, RO | ACCESS, zrank, "2.0.0", "Get a member's rank", "O(log(N))") },
    CommandSpec { args: ZREVRANK_ARGS, ..zset_command!("zrevrank", 3, READONLY | FAST, RO | ACCESS, zrevrank, "2.0.0", "Get a member's rank, highest score first", "O(log(N))") },
    CommandSpec { args: ZREM_ARGS, ..zset_command!(
        "zrem",
        -3,
        WRITE | FAST,
        &[KeySpec::single(1, RW | DELETE)],
        zrem,
        "1.2.0",
        "Remove members from a sorted set",
        "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.",
        &[("2.4.0", "Takes several members at once.")]
    ) },
    CommandSpec { args: ZREMRANGEBYRANK_ARGS, ..zset_command!("zremrangebyrank", 4, WRITE, RW | DELETE, zremrangebyrank, "2.0.0", "Remove the members in a rank range", REMOVE_RANGE_COMPLEXITY) },
    CommandSpec { args: ZREMRANGEBYSCORE_ARGS, ..zset_command!("zremrangebyscore", 4, WRITE, RW | DELETE, zremrangebyscore, "1.2.0", "Remove the members in a score range", REMOVE_RANGE_COMPLEXITY) },
    CommandSpec { args: ZREMRANGEBYLEX_ARGS, ..zset_command!("zremrangebylex", 4, WRITE, RW | DELETE, zremrangebylex, "2.8.9", "Remove the members in a lexicographical range", REMOVE_RANGE_COMPLEXITY) },
    CommandSpec { args: ZPOPMIN_ARGS, ..zset_command!("zpopmin", -2, WRITE | FAST, RW | ACCESS | DELETE, zpopmin, "5.0.0", "Remove and return the lowest-scored members", POP_COMPLEXITY) },
    CommandSpec { args: ZPOPMAX_ARGS, ..zset_command!("zpopmax", -2, WRITE | FAST, RW | ACCESS | DELETE, zpopmax, "5.0.0", "Remove and return the highest-scored members", POP_COMPLEXITY) },
    CommandSpec {
        // Only the key popped from changes.
        modified_keys: ModifiedKeys::ReportedByHandler,
        args: ZMPOP_ARGS, ..zset_command!(
            "zmpop",
            -4,
            WRITE | MOVABLE_KEYS,
            &[numkeys_spec(1, RW | ACCESS | DELETE)],
            zmpop,
            "7.0.0",
            "Pop the lowest- or highest-scored members of the first non-empty sorted set",
            "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
            &[]
        ) },
    CommandSpec {
        // Only the key popped from changes.
        modified_keys: ModifiedKeys::ReportedByHandler,
        args: BZPOP_ARGS, ..zset_command!(
        "bzpopmin",
        -3,
        WRITE | NOSCRIPT | FAST | BLOCKING,
        &[KeySpec::range(1, -2, 1, RW | ACCESS | DELETE)],
        bzpopmin,
        "5.0.0",
        "Pop the lowest-scored member of the first non-empty sorted set, waiting for one if needed",
        "O(log(N)) with N being the number of elements in the sorted set.",
        TIMEOUT_HISTORY
    ) },
    CommandSpec {
        // Only the key popped from changes.
        modified_keys: ModifiedKeys::ReportedByHandler,
        args: BZPOP_ARGS, ..zset_command!(
        "bzpopmax",
        -3,
        WRITE | NOSCRIPT | FAST | BLOCKING,
        &[KeySpec::range(1, -2, 1, RW | ACCESS | DELETE)],
        bzpopmax,
        "5.0.0",
        "Pop the highest-scored member of the first non-empty sorted set, waiting for one if needed",
        "O(log(N)) with N being the number of elements in the sorted set.",
        TIMEOUT_HISTORY
    ) },
    CommandSpec {
        // Only the key popped from changes.
        modified_keys: ModifiedKeys::ReportedByHandler,
        args: BZMPOP_ARGS, ..zset_command!(
        "bzmpop",
        -5,
        WRITE | BLOCKING | MOVABLE_KEYS,
        &[numkeys_spec(2, RW | ACCESS | DELETE)],
        bzmpop,
        "7.0.0",
        "ZMPOP, waiting for one of the sorted sets to have members",
        "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
        &[]
    ) },
    CommandSpec {
        tips: &["nondeterministic_output"],
        ..CommandSpec { args: ZRANDMEMBER_ARGS, ..zset_command!("zrandmember", -2, READONLY, RO | ACCESS, zrandmember, "6.2.0", "Get random members", "O(N) where N is the number of elements returned") }
    },
    CommandSpec { args: ZUNION_ARGS, ..algebra_command("zunion", -3, zunion, "6.2.0", "Union of sorted sets", UNION_COMPLEXITY) },
    CommandSpec { args: ZINTER_ARGS, ..algebra_command("zinter", -3, zinter, "6.2.0", "Intersection of sorted sets", INTER_COMPLEXITY) },
    CommandSpec { args: ZDIFF_ARGS, ..algebra_command("zdiff", -3, zdiff, "6.2.0", "Difference of sorted sets", DIFF_COMPLEXITY) },
    CommandSpec { args: ZUNIONSTORE_ARGS, ..store_command("zunionstore", zunionstore, "2.0.0", "Store the union of sorted sets", "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.") },
    CommandSpec { args: ZINTERSTORE_ARGS, ..store_command("zinterstore", zinterstore, "2.0.0", "Store the intersection of sorted sets", INTER_COMPLEXITY) },
    CommandSpec { args: ZDIFFSTORE_ARGS, ..store_command("zdiffstore", zdiffstore, "6.2.0", "Store the difference of sorted sets", DIFF_COMPLEXITY) },
    CommandSpec { args: ZINTERCARD_ARGS, ..algebra_command(
        "zintercard",
        -3,
        zintercard,
        "7.0.0",
        "Count the intersection of sorted sets",
        "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.",
    ) },
    CommandSpec {
        tips: &["nondeterministic_output"],
        ..CommandSpec { args: ZSCAN_ARGS, ..zset_command!(
            "zscan",
            -3,
            READONLY,
            RO | ACCESS,
            zscan,
            "2.8.0",
            "Iterate over a sorted set's members and scores",
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."
        ) }
    },
];

/// ZUNION, ZINTER, ZDIFF, ZINTERCARD: read-only, keys after `numkeys`.
const fn algebra_command(
    name: &'static str,
    arity: i32,
    handler: crate::command::Handler,
    since: &'static str,
    summary: &'static str,
    complexity: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags: READONLY | MOVABLE_KEYS,
        acl: acl::SORTEDSET,
        key_specs: ALGEBRA_SPECS,
        handler: Some(handler),
        group: "sorted-set",
        since,
        summary,
        complexity,
        ..CommandSpec::DEFAULT
    }
}

/// ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE: a destination, then `numkeys` sources.
const fn store_command(
    name: &'static str,
    handler: crate::command::Handler,
    since: &'static str,
    summary: &'static str,
    complexity: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity: -4,
        flags: WRITE | DENYOOM | MOVABLE_KEYS,
        acl: acl::SORTEDSET,
        key_specs: STORE_SPECS,
        handler: Some(handler),
        group: "sorted-set",
        since,
        summary,
        complexity,
        ..CommandSpec::DEFAULT
    }
}

// ---- argument parsing ----

/// C's `strtod` over the whole argument (up to a NUL, as Redis's C strings
/// end there): the value, whether it consumed everything, and ERANGE.
fn strtod(arg: &[u8]) -> (f64, bool, bool) {
    let text = arg.split(|&b| b == 0).next().unwrap_or(&[]);
    let Ok(c) = std::ffi::CString::new(text) else { return (0.0, false, false) };
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `c` is NUL-terminated and outlives the call; errno is this thread's.
    let (v, erange) = unsafe {
        *libc::__errno_location() = 0;
        let v = libc::strtod(c.as_ptr(), &mut end);
        (v, *libc::__errno_location() == libc::ERANGE)
    };
    let consumed = end as usize - c.as_ptr() as usize;
    (v, consumed == text.len() && text.len() == arg.len(), erange)
}

/// A score argument (Redis's `getDoubleFromObject`).
pub(crate) fn parse_score(arg: &[u8], error: &'static str) -> Result<f64, CmdError> {
    let (v, whole, erange) = strtod(arg);
    let overflow = erange && (v.is_infinite() || v == 0.0);
    if arg.is_empty() || arg[0].is_ascii_whitespace() || !whole || overflow || v.is_nan() {
        return Err(error.into());
    }
    Ok(v)
}

fn parse_long(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(errors::NOT_INTEGER.into())
}

/// One end of a score range: `(` makes it exclusive.
#[derive(Clone, Copy)]
struct ScoreBound {
    value: f64,
    exclusive: bool,
}

fn parse_score_bound(arg: &[u8]) -> Option<ScoreBound> {
    let (exclusive, text) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let (value, whole, _) = strtod(text);
    (whole && !value.is_nan()).then_some(ScoreBound { value, exclusive })
}

#[derive(Clone, Copy)]
struct ScoreRange {
    min: ScoreBound,
    max: ScoreBound,
}

impl ScoreRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
        match (parse_score_bound(min), parse_score_bound(max)) {
            (Some(min), Some(max)) => Ok(ScoreRange { min, max }),
            _ => Err(BAD_SCORE_RANGE.into()),
        }
    }

    /// The ranks `start..end` of the elements in the range.
    fn ranks(&self, z: &Zset) -> (usize, usize) {
        let (min, max) = (self.min, self.max);
        let start = z.count_while(|s, _| if min.exclusive { s <= min.value } else { s < min.value });
        let end = z.count_while(|s, _| if max.exclusive { s < max.value } else { s <= max.value });
        (start, end.max(start))
    }
}

/// One end of a lex range.
#[derive(Clone)]
enum LexBound {
    NegInf,
    PosInf,
    Inclusive(Vec<u8>),
    Exclusive(Vec<u8>),
}

impl LexBound {
    fn parse(arg: &[u8]) -> Option<LexBound> {
        match arg {
            b"+" => Some(LexBound::PosInf),
            b"-" => Some(LexBound::NegInf),
            [b'(', rest @ ..] => Some(LexBound::Exclusive(rest.to_vec())),
            [b'[', rest @ ..] => Some(LexBound::Inclusive(rest.to_vec())),
            _ => None,
        }
    }

    /// Whether `m` lies below this bound taken as a minimum.
    fn below_min(&self, m: &[u8]) -> bool {
        match self {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Inclusive(b) => m < b.as_slice(),
            LexBound::Exclusive(b) => m <= b.as_slice(),
        }
    }

    /// Whether `m` lies within this bound taken as a maximum.
    fn within_max(&self, m: &[u8]) -> bool {
        match self {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Inclusive(b) => m <= b.as_slice(),
            LexBound::Exclusive(b) => m < b.as_slice(),
        }
    }
}

struct LexRange {
    min: LexBound,
    max: LexBound,
}

impl LexRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
        match (LexBound::parse(min), LexBound::parse(max)) {
            (Some(min), Some(max)) => Ok(LexRange { min, max }),
            _ => Err(BAD_LEX_RANGE.into()),
        }
    }

    fn ranks(&self, z: &Zset) -> (usize, usize) {
        let start = z.count_while(|_, m| self.min.below_min(m));
        let end = z.count_while(|_, m| self.max.within_max(m));
        (start, end.max(start))
    }
}

/// Redis's rank sanitising: negative counts from the end; `None` when empty.
fn rank_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { (len + start).max(0) } else { start };
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize + 1))
}

pub(crate) fn limits(ctx: &Ctx) -> ZsetLimits {
    let c = &ctx.srv.config;
    ZsetLimits { max_entries: c.zset_max_listpack_entries as usize, max_value: c.zset_max_listpack_value as usize }
}

/// Replies with members (and scores): flat in RESP2, `[member, score]` pairs
/// in RESP3.
fn reply_elements(ctx: &mut Ctx, elements: &[(Vec<u8>, f64)], with_scores: bool) {
    let reply = ctx.reply();
    let pairs = with_scores && reply.is_resp3();
    reply.array(if with_scores && !pairs { elements.len() * 2 } else { elements.len() });
    for (m, s) in elements {
        if pairs {
            reply.array(2);
        }
        reply.bulk(m);
        if with_scores {
            reply.double(*s);
        }
    }
}

/// Deletes `key` if the command left its set empty.
fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) {
    if ctx.db().get(key).and_then(|e| e.value.as_zset()).is_some_and(Zset::is_empty) {
        ctx.db().remove(key);
        ctx.notify(notify::GENERIC, "del", key);
    }
}

// ---- ZADD / ZINCRBY ----

/// ZADD's options (GEOADD uses NX, XX and CH).
#[derive(Default)]
pub(crate) struct AddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub ch: bool,
    pub incr: bool,
}

fn zadd(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let mut f = AddFlags::default();
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i].to_ascii_lowercase();
        match a.as_slice() {
            b"nx" => f.nx = true,
            b"xx" => f.xx = true,
            b"gt" => f.gt = true,
            b"lt" => f.lt = true,
            b"ch" => f.ch = true,
            b"incr" => f.incr = true,
            _ => break,
        }
        i += 1;
    }
    zadd_generic(ctx, argv[1], &argv[i..], f)
}

fn zincrby(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    zadd_generic(ctx, argv[1], &argv[2..], AddFlags { incr: true, ..AddFlags::default() })
}

/// ZADD on `key` with score/member `pairs` (arguments still unparsed).
pub(crate) fn zadd_generic(ctx: &mut Ctx, key: &[u8], pairs: &[&[u8]], f: AddFlags) -> CmdResult {
    if pairs.is_empty() || pairs.len() % 2 == 1 {
        return Err(errors::SYNTAX.into());
    }
    if f.nx && f.xx {
        return Err("ERR XX and NX options at the same time are not compatible".into());
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err("ERR GT, LT, and/or NX options at the same time are not compatible".into());
    }
    if f.incr && pairs.len() > 2 {
        return Err("ERR INCR option supports a single increment-element pair".into());
    }
    let scores =
        pairs.chunks(2).map(|p| parse_score(p[0], errors::NOT_FLOAT)).collect::<Result<Vec<f64>, CmdError>>()?;
    let limits = limits(ctx);
    let exists = ctx.write_zset(key)?.is_some();
    let (mut added, mut updated, mut processed, mut last_score) = (0, 0, 0, 0.0);
    if exists || !f.xx {
        if !exists {
            ctx.set_key(key, Value::Zset(Zset::for_first_member(limits, pairs[1].len())), false);
        }
        let z = ctx.db().get_mut(key).and_then(|e| e.value.as_zset_mut()).expect("just looked up");
        for (pair, &score) in pairs.chunks(2).zip(&scores) {
            let member = pair[1];
            let mut new_score = score;
            match z.score(member) {
                Some(current) => {
                    if f.nx {
                        continue;
                    }
                    if f.incr {
                        new_score += current;
                        if new_score.is_nan() {
                            return finish_zadd_error(ctx, key, added + updated);
                        }
                    }
                    if (f.lt && new_score >= current) || (f.gt && new_score <= current) {
                        continue;
                    }
                    if z.add(member, new_score, limits) == Added::Updated {
                        updated += 1;
                    }
                }
                None if f.xx => continue,
                None => {
                    z.add(member, new_score, limits);
                    added += 1;
                }
            }
            processed += 1;
            last_score = new_score;
        }
    }
    ctx.mark_dirty(added + updated);
    notify_added(ctx, key, added + updated, f.incr);
    if f.incr {
        if processed > 0 {
            ctx.reply().double(last_score);
        } else {
            ctx.reply().null();
        }
    } else {
        ctx.reply().int((if f.ch { added + updated } else { added }) as i64);
    }
    Ok(())
}

/// The NaN error after earlier pairs may already have changed the set.
fn finish_zadd_error(ctx: &mut Ctx, key: &[u8], changed: u64) -> CmdResult {
    notify_added(ctx, key, changed, true);
    delete_if_empty(ctx, key);
    ctx.mark_dirty(changed);
    Err(NAN_RESULT.into())
}

/// ZADD's event (`zincr` for INCR), sent only if members changed.
fn notify_added(ctx: &mut Ctx, key: &[u8], changed: u64, incr: bool) {
    if changed > 0 {
        ctx.notify(notify::ZSET, if incr { "zincr" } else { "zadd" }, key);
    }
}

// ---- lookups ----

fn zscore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    match ctx.read_zset(argv[1])?.and_then(|z| z.score(argv[2])) {
        Some(s) => ctx.reply().double(s),
        None => ctx.reply().null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let scores: Vec<Option<f64>> = match ctx.read_zset(argv[1])? {
        Some(z) => argv[2..].iter().map(|m| z.score(m)).collect(),
        None => vec![None; argv.len() - 2],
    };
    let reply = ctx.reply();
    reply.array(scores.len());
    for s in scores {
        match s {
            Some(s) => reply.double(s),
            None => reply.null(),
        }
    }
    Ok(())
}

fn zcard(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let n = ctx.read_zset(argv[1])?.map_or(0, |z| z.len());
    ctx.reply().int(n as i64);
    Ok(())
}

fn zcount(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let range = ScoreRange::parse(argv[2], argv[3])?;
    count_in_range(ctx, argv[1], |z| range.ranks(z))
}

fn zlexcount(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let range = LexRange::parse(argv[2], argv[3])?;
    count_in_range(ctx, argv[1], |z| range.ranks(z))
}

/// Replies how many members fall in the ranks `ranks` finds (0 for a missing key).
fn count_in_range(ctx: &mut Ctx, key: &[u8], ranks: impl Fn(&Zset) -> (usize, usize)) -> CmdResult {
    let n = ctx.read_zset(key)?.map_or(0, |z| {
        let (start, end) = ranks(z);
        end - start
    });
    ctx.reply().int(n as i64);
    Ok(())
}

fn zrank(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    rank_generic(ctx, argv, false)
}

fn zrevrank(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    rank_generic(ctx, argv, true)
}

fn rank_generic(ctx: &mut Ctx, argv: &[&[u8]], rev: bool) -> CmdResult {
    let found = ctx.read_zset(argv[1])?.and_then(|z| z.rank(argv[2]).map(|(r, _)| (r, z.len())));
    match found {
        Some((r, len)) => ctx.reply().int(if rev { len - 1 - r } else { r } as i64),
        None => ctx.reply().null(),
    }
    Ok(())
}

// ---- the ZRANGE family ----

#[derive(Clone, Copy, PartialEq)]
enum RangeKind {
    Auto,
    Rank,
    Score,
    Lex,
}

/// Runs a range query the way Redis's `zrangeGenericCommand` does. `src` is
/// the index of the source key; `dest` the destination for ZRANGESTORE.
fn range_generic(
    ctx: &mut Ctx,
    argv: &[&[u8]],
    src: usize,
    dest: Option<&[u8]>,
    mut kind: RangeKind,
    rev: Option<bool>,
) -> CmdResult {
    let (mut with_scores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut reverse = rev;
    let mut j = src + 3;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = argv[j].to_ascii_lowercase();
        match a.as_slice() {
            b"withscores" if dest.is_none() => with_scores = true,
            b"limit" if left >= 2 => {
                offset = parse_long(argv[j + 1])?;
                limit = parse_long(argv[j + 2])?;
                j += 2;
            }
            b"rev" if reverse.is_none() => reverse = Some(true),
            b"bylex" if kind == RangeKind::Auto => kind = RangeKind::Lex,
            b"byscore" if kind == RangeKind::Auto => kind = RangeKind::Score,
            _ => return Err(errors::SYNTAX.into()),
        }
        j += 1;
    }
    let rev = reverse.unwrap_or(false);
    if kind == RangeKind::Auto {
        kind = RangeKind::Rank;
    }
    if limit != -1 && kind == RangeKind::Rank {
        return Err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX".into());
    }
    if with_scores && kind == RangeKind::Lex {
        return Err("ERR syntax error, WITHSCORES not supported in combination with BYLEX".into());
    }
    let (mut lo, mut hi) = (argv[src + 1], argv[src + 2]);
    if rev && kind != RangeKind::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    enum Parsed {
        Rank(i64, i64),
        Score(ScoreRange),
        Lex(LexRange),
    }
    let parsed = match kind {
        RangeKind::Score => Parsed::Score(ScoreRange::parse(lo, hi)?),
        RangeKind::Lex => Parsed::Lex(LexRange::parse(lo, hi)?),
        _ => Parsed::Rank(parse_long(lo)?, parse_long(hi)?),
    };
    let elements = match ctx.read_zset(argv[src])? {
        None => Vec::new(),
        Some(z) => {
            let (start, end) = match &parsed {
                Parsed::Rank(a, b) => match rank_range(*a, *b, z.len()) {
                    None => (0, 0),
                    Some((a, b)) if rev => (z.len() - b, z.len() - a),
                    Some(r) => r,
                },
                Parsed::Score(r) => limit_ranks(r.ranks(z), offset, limit, rev),
                Parsed::Lex(r) => limit_ranks(r.ranks(z), offset, limit, rev),
            };
            let mut out = Vec::with_capacity(end - start);
            z.visit(start, end, rev, &mut |m, s| out.push((m.to_vec(), s)));
            out
        }
    };
    match dest {
        Some(dest) => store_result(ctx, dest, &elements, "zrangestore"),
        None => reply_elements(ctx, &elements, with_scores),
    }
    Ok(())
}

/// Applies LIMIT to a rank range: a negative offset selects nothing, a
/// negative count means "all the rest". Reverse ranges count from the top.
fn limit_ranks((start, end): (usize, usize), offset: i64, limit: i64, rev: bool) -> (usize, usize) {
    if offset < 0 {
        return (0, 0);
    }
    let available = (end - start).saturating_sub(offset as usize);
    let take = if limit < 0 { available } else { available.min(limit as usize) };
    if rev {
        let top = end - (offset as usize).min(end - start);
        (top - take, top)
    } else {
        let first = start + (offset as usize).min(end - start);
        (first, first + take)
    }
}

/// Stores `elements` at `dest` (deleting it when empty), announces it as
/// `event` (or `del`) and replies with the count, as ZRANGESTORE and the
/// *STORE commands do.
fn store_result(ctx: &mut Ctx, dest: &[u8], elements: &[(Vec<u8>, f64)], event: &str) {
    if elements.is_empty() {
        if ctx.delete_key(dest) {
            ctx.mark_dirty(1);
            ctx.notify(notify::GENERIC, "del", dest);
        }
        ctx.reply().int(0);
        return;
    }
    let limits = limits(ctx);
    let mut z = Zset::for_first_member(limits, 0);
    for (m, s) in elements {
        z.add(m, *s, limits);
    }
    ctx.set_key(dest, Value::Zset(z), false);
    ctx.mark_dirty(1);
    ctx.notify(notify::ZSET, event, dest);
    ctx.reply().int(elements.len() as i64);
}

fn zrange(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    range_generic(ctx, argv, 1, None, RangeKind::Auto, None)
}

fn zrangestore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    range_generic(ctx, argv, 2, Some(argv[1]), RangeKind::Auto, None)
}

fn zrevrange(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    range_generic(ctx, argv, 1, None, RangeKind::Rank, Some(true))
}

fn zrangebyscore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    range_generic(ctx, argv, 1, None, RangeKind::Score, Some(false))
}

fn zrevrangebyscore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    range_generic(ctx, argv, 1, None, RangeKind::Score, Some(true))
}

fn zrangebylex(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    range_generic(ctx, argv, 1, None, RangeKind::Lex, Some(false))
}

fn zrevrangebylex(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    range_generic(ctx, argv, 1, None, RangeKind::Lex, Some(true))
}

// ---- removals ----

fn zrem(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let removed = match ctx.write_zset(argv[1])? {
        Some(z) => argv[2..].iter().filter(|m| z.remove(m).is_some()).count(),
        None => 0,
    };
    if removed > 0 {
        ctx.notify(notify::ZSET, "zrem", argv[1]);
    }
    delete_if_empty(ctx, argv[1]);
    ctx.mark_dirty(removed as u64);
    ctx.reply().int(removed as i64);
    Ok(())
}

fn zremrangebyrank(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let (start, end) = (parse_long(argv[2])?, parse_long(argv[3])?);
    remove_ranks(ctx, argv[1], "zremrangebyrank", |z| rank_range(start, end, z.len()).unwrap_or((0, 0)))
}

fn zremrangebyscore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let range = ScoreRange::parse(argv[2], argv[3])?;
    remove_ranks(ctx, argv[1], "zremrangebyscore", |z| range.ranks(z))
}

fn zremrangebylex(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let range = LexRange::parse(argv[2], argv[3])?;
    remove_ranks(ctx, argv[1], "zremrangebylex", |z| range.ranks(z))
}

fn remove_ranks(ctx: &mut Ctx, key: &[u8], event: &str, ranks: impl Fn(&Zset) -> (usize, usize)) -> CmdResult {
    let removed = match ctx.write_zset(key)? {
        Some(z) => {
            let (a, b) = ranks(z);
            z.remove_range(a, b)
        }
        None => 0,
    };
    if removed > 0 {
        ctx.notify(notify::ZSET, event, key);
    }
    delete_if_empty(ctx, key);
    ctx.mark_dirty(removed as u64);
    ctx.reply().int(removed as i64);
    Ok(())
}

fn zpopmin(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    zpop_command(ctx, argv, false)
}

fn zpopmax(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    zpop_command(ctx, argv, true)
}

fn zpop_command(ctx: &mut Ctx, argv: &[&[u8]], max: bool) -> CmdResult {
    if argv.len() > 3 {
        return Err(errors::SYNTAX.into());
    }
    let count = match argv.get(2) {
        None => None,
        Some(a) => Some(parse_i64(a).and_then(|c| u64::try_from(c).ok()).ok_or(MUST_BE_POSITIVE)?),
    };
    let nested = ctx.reply().is_resp3() && count.is_some();
    let Some(z) = ctx.write_zset(argv[1])? else {
        ctx.reply().array(0);
        return Ok(());
    };
    let popped = pop(z, count.unwrap_or(1), max);
    let reply = ctx.reply();
    reply.array(if nested { popped.len() } else { popped.len() * 2 });
    for (m, s) in &popped {
        if nested {
            reply.array(2);
        }
        reply.bulk(m);
        reply.double(*s);
    }
    notify_popped(ctx, argv[1], popped.len(), max);
    delete_if_empty(ctx, argv[1]);
    ctx.mark_dirty(popped.len() as u64);
    Ok(())
}

/// A pop's event, sent only if something was popped.
fn notify_popped(ctx: &mut Ctx, key: &[u8], popped: usize, max: bool) {
    if popped > 0 {
        ctx.notify(notify::ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
    }
}

/// Removes up to `count` elements from the low (or high) end.
fn pop(z: &mut Zset, count: u64, max: bool) -> Elements {
    let n = count.min(z.len() as u64) as usize;
    let (start, end) = if max { (z.len() - n, z.len()) } else { (0, n) };
    let mut out = Vec::with_capacity(n);
    z.visit(start, end, max, &mut |m, s| out.push((m.to_vec(), s)));
    z.remove_range(start, end);
    out
}

/// ZMPOP/BZMPOP's `numkeys key... MIN|MAX [COUNT n]`.
struct MpopArgs<'a> {
    keys: &'a [&'a [u8]],
    max: bool,
    count: u64,
}

/// Parses ZMPOP/BZMPOP arguments from `args`, which starts at `numkeys`.
fn parse_mpop<'a>(args: &'a [&'a [u8]]) -> Result<MpopArgs<'a>, CmdError> {
    const NUMKEYS: &str = "ERR numkeys should be greater than 0";
    let numkeys = parse_i64(args[0]).filter(|&n| n >= 1).ok_or(NUMKEYS)? as usize;
    let where_idx = numkeys.checked_add(1).filter(|&w| w < args.len()).ok_or(errors::SYNTAX)?;
    let max = match args[where_idx].to_ascii_lowercase().as_slice() {
        b"min" => false,
        b"max" => true,
        _ => return Err(errors::SYNTAX.into()),
    };
    let mut count = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none() && args[j].eq_ignore_ascii_case(b"count") && j + 1 < args.len() {
            const COUNT: &str = "ERR count should be greater than 0";
            count = Some(parse_i64(args[j + 1]).filter(|&c| c >= 1).ok_or(COUNT)? as u64);
            j += 2;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    Ok(MpopArgs { keys: &args[1..where_idx], max, count: count.unwrap_or(1) })
}

/// The first of `keys` holding a sorted set: WRONGTYPE if one before it holds
/// another type. When serving a blocked client only the ready key counts, and
/// another type there just means "not ready" (Redis 7.0 keeps the client
/// blocked).
fn first_zset_key<'a>(ctx: &mut Ctx, keys: &[&'a [u8]]) -> Result<Option<&'a [u8]>, CmdError> {
    if let Some(serving) = ctx.serving_key().map(<[u8]>::to_vec) {
        let key = keys.iter().find(|k| **k == serving.as_slice()).copied();
        return Ok(key.filter(|k| ctx.write_zset(k).ok().flatten().is_some()));
    }
    for &key in keys {
        if ctx.write_zset(key)?.is_some() {
            return Ok(Some(key));
        }
    }
    Ok(None)
}

/// Pops from the first sorted set of `keys` and replies, false if there is
/// none. `count` None is BZPOPMIN/BZPOPMAX (one member, flat
/// `[key, member, score]`), else ZMPOP's `[key, [[member, score]...]]`. The
/// pop propagates as ZPOPMIN/ZPOPMAX (with the requested count for *MPOP).
fn pop_first(ctx: &mut Ctx, keys: &[&[u8]], max: bool, count: Option<u64>) -> Result<bool, CmdError> {
    let Some(key) = first_zset_key(ctx, keys)? else { return Ok(false) };
    let z = ctx.write_zset(key)?.expect("first_zset_key found it");
    let popped = pop(z, count.unwrap_or(1), max);
    let reply = ctx.reply();
    match count {
        Some(_) => {
            reply.array(2);
            reply.bulk(key);
            reply_pairs(reply, &popped);
        }
        None => {
            let (member, score) = &popped[0];
            reply.array(3);
            reply.bulk(key);
            reply.bulk(member);
            reply.double(*score);
        }
    }
    notify_popped(ctx, key, popped.len(), max);
    ctx.signal_modified_key(key);
    delete_if_empty(ctx, key);
    ctx.mark_dirty(popped.len() as u64);
    let verb: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
    let mut propagated = vec![verb.to_vec(), key.to_vec()];
    propagated.extend(count.map(|c| c.to_string().into_bytes()));
    ctx.propagate_as(propagated);
    Ok(true)
}

fn zmpop(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let args = parse_mpop(&argv[1..])?;
    if !pop_first(ctx, args.keys, args.max, Some(args.count))? {
        ctx.reply().null_array();
    }
    Ok(())
}

fn bzmpop(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    // Redis checks the timeout after the other arguments.
    let args = parse_mpop(&argv[2..])?;
    let deadline = parse_timeout(argv[1], ctx.now_ms())?;
    if !pop_first(ctx, args.keys, args.max, Some(args.count))? {
        ctx.block(args.keys, deadline);
    }
    Ok(())
}

/// BZPOPMIN/BZPOPMAX key... timeout.
fn blocking_zpop(ctx: &mut Ctx, argv: &[&[u8]], max: bool) -> CmdResult {
    let deadline = parse_timeout(argv[argv.len() - 1], ctx.now_ms())?;
    let keys = &argv[1..argv.len() - 1];
    if !pop_first(ctx, keys, max, None)? {
        ctx.block(keys, deadline);
    }
    Ok(())
}

fn bzpopmin(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    blocking_zpop(ctx, argv, false)
}

fn bzpopmax(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    blocking_zpop(ctx, argv, true)
}

/// `[member, score]` pairs, nested in both protocols (ZMPOP's shape).
fn reply_pairs(reply: &mut cinnabar_protocol::Reply, pairs: &[(Vec<u8>, f64)]) {
    reply.array(pairs.len());
    for (m, s) in pairs {
        reply.array(2);
        reply.bulk(m);
        reply.double(*s);
    }
}

// ---- ZRANDMEMBER ----

fn zrandmember(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 4 || (argv.len() == 4 && !argv[3].eq_ignore_ascii_case(b"withscores")) {
        return Err(errors::SYNTAX.into());
    }
    let count = match argv.get(2) {
        None => None,
        Some(a) => {
            let c = parse_long(a)?;
            if c == i64::MIN {
                return Err(
                    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807".into(),
                );
            }
            if argv.len() == 4 && !(-i64::MAX / 2..=i64::MAX / 2).contains(&c) {
                return Err("ERR value is out of range".into());
            }
            Some(c)
        }
    };
    let with_scores = argv.len() == 4;
    let Some(z) = ctx.read_zset(argv[1])? else {
        match count {
            None => ctx.reply().null(),
            Some(_) => ctx.reply().array(0),
        }
        return Ok(());
    };
    let len = z.len();
    let Some(count) = count else {
        let (m, _) = z.get(fastrand::usize(..len)).expect("non-empty set");
        ctx.reply().bulk(&m);
        return Ok(());
    };
    let picked: Elements = if count < 0 {
        (0..count.unsigned_abs()).filter_map(|_| z.get(fastrand::usize(..len))).collect()
    } else if count as usize >= len {
        z.to_vec(false)
    } else {
        let mut ranks: Vec<usize> = (0..len).collect();
        fastrand::shuffle(&mut ranks);
        ranks.truncate(count as usize);
        ranks.into_iter().filter_map(|r| z.get(r)).collect()
    };
    reply_elements(ctx, &picked, with_scores);
    Ok(())
}

// ---- ZUNION / ZINTER / ZDIFF ----

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    fn apply(self, target: &mut f64, value: f64) {
        match self {
            Aggregate::Sum => {
                *target += value;
                // inf + -inf: Redis settles on 0.
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => *target = target.min(value),
            Aggregate::Max => *target = target.max(value),
        }
    }
}

/// What a set-algebra command asked for.
struct AlgebraRequest {
    /// Each input's elements (empty for a missing key) and weight.
    inputs: Vec<(Elements, f64)>,
    aggregate: Aggregate,
    with_scores: bool,
    limit: usize,
}

fn parse_algebra(
    ctx: &mut Ctx,
    argv: &[&[u8]],
    numkeys_idx: usize,
    op: SetOp,
    store: bool,
    card_only: bool,
) -> Result<AlgebraRequest, CmdError> {
    let setnum = parse_long(argv[numkeys_idx])?;
    if setnum < 1 {
        let name = String::from_utf8_lossy(argv[0]).to_lowercase();
        return Err(format!("ERR at least 1 input key is needed for '{name}' command").into());
    }
    let setnum = setnum as usize;
    if setnum > argv.len() - numkeys_idx - 1 {
        return Err(errors::SYNTAX.into());
    }
    let mut inputs = Vec::with_capacity(setnum);
    for &key in &argv[numkeys_idx + 1..numkeys_idx + 1 + setnum] {
        // Sources are reads even for the STORE variants (hits, misses and
        // keymiss events), as in Redis 7.0.
        let found = ctx.lookup_read(key);
        let elements = match found.map(|e| &e.value) {
            None => Vec::new(),
            Some(Value::Zset(z)) => z.to_vec(false),
            // Plain sets take part with every member scored 1, as in Redis.
            Some(Value::Set(set)) => set.iter().map(|m| (m.to_vec(), 1.0)).collect(),
            Some(_) => return Err(errors::WRONGTYPE.into()),
        };
        inputs.push((elements, 1.0));
    }
    let mut req = AlgebraRequest { inputs, aggregate: Aggregate::Sum, with_scores: false, limit: 0 };
    let mut j = numkeys_idx + 1 + setnum;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let a = argv[j].to_ascii_lowercase();
        let algebra_opts = op != SetOp::Diff && !card_only;
        if algebra_opts && remaining > setnum && a == b"weights" {
            for (i, w) in argv[j + 1..j + 1 + setnum].iter().enumerate() {
                req.inputs[i].1 = parse_score(w, "ERR weight value is not a float")?;
            }
            j += 1 + setnum;
        } else if algebra_opts && remaining >= 2 && a == b"aggregate" {
            req.aggregate = match argv[j + 1].to_ascii_lowercase().as_slice() {
                b"sum" => Aggregate::Sum,
                b"min" => Aggregate::Min,
                b"max" => Aggregate::Max,
                _ => return Err(errors::SYNTAX.into()),
            };
            j += 2;
        } else if !store && !card_only && a == b"withscores" {
            req.with_scores = true;
            j += 1;
        } else if card_only && remaining >= 2 && a == b"limit" {
            let limit = parse_long(argv[j + 1]).map_err(|_| CmdError::from("ERR LIMIT can't be negative"))?;
            req.limit = usize::try_from(limit).map_err(|_| "ERR LIMIT can't be negative")?;
            j += 2;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    Ok(req)
}

/// The result of the operation, ordered as a sorted set.
fn compute(req: &AlgebraRequest, op: SetOp) -> Elements {
    let weighted = |s: f64, w: f64| {
        let v = s * w;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    let mut result: Elements = match op {
        SetOp::Union => {
            let mut acc: HashMap<&[u8], f64> = HashMap::new();
            for (elements, w) in &req.inputs {
                for (m, s) in elements {
                    let v = weighted(*s, *w);
                    acc.entry(m).and_modify(|t| req.aggregate.apply(t, v)).or_insert(v);
                }
            }
            acc.into_iter().map(|(m, s)| (m.to_vec(), s)).collect()
        }
        SetOp::Inter => {
            let mut order: Vec<usize> = (0..req.inputs.len()).collect();
            order.sort_by_key(|&i| req.inputs[i].0.len());
            let lookups: Vec<HashMap<&[u8], f64>> =
                req.inputs.iter().map(|(e, _)| e.iter().map(|(m, s)| (m.as_slice(), *s)).collect()).collect();
            let (first, first_w) = &req.inputs[order[0]];
            let mut out = Vec::new();
            'members: for (m, s) in first {
                let mut score = weighted(*s, *first_w);
                for &i in &order[1..] {
                    match lookups[i].get(m.as_slice()) {
                        Some(v) => req.aggregate.apply(&mut score, *v * req.inputs[i].1),
                        None => continue 'members,
                    }
                }
                out.push((m.clone(), score));
            }
            out
        }
        SetOp::Diff => {
            let others: Vec<HashMap<&[u8], ()>> =
                req.inputs[1..].iter().map(|(e, _)| e.iter().map(|(m, _)| (m.as_slice(), ())).collect()).collect();
            req.inputs[0]
                .0
                .iter()
                .filter(|(m, _)| !others.iter().any(|o| o.contains_key(m.as_slice())))
                .cloned()
                .collect()
        }
    };
    result.sort_by(|a, b| cmp_key(a.1, &a.0, b.1, &b.0));
    result
}

fn algebra(ctx: &mut Ctx, argv: &[&[u8]], op: SetOp) -> CmdResult {
    let req = parse_algebra(ctx, argv, 1, op, false, false)?;
    let result = compute(&req, op);
    reply_elements(ctx, &result, req.with_scores);
    Ok(())
}

fn algebra_store(ctx: &mut Ctx, argv: &[&[u8]], op: SetOp) -> CmdResult {
    let req = parse_algebra(ctx, argv, 2, op, true, false)?;
    let result = compute(&req, op);
    // Redis builds the result large and shrinks it if it fits the listpack
    // limits, which ends in the same encoding as adding in order.
    let event = match op {
        SetOp::Union => "zunionstore",
        SetOp::Inter => "zinterstore",
        SetOp::Diff => "zdiffstore",
    };
    store_result(ctx, argv[1], &result, event);
    Ok(())
}

fn zunion(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    algebra(ctx, argv, SetOp::Union)
}

fn zinter(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    algebra(ctx, argv, SetOp::Inter)
}

fn zdiff(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    algebra(ctx, argv, SetOp::Diff)
}

fn zunionstore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    algebra_store(ctx, argv, SetOp::Union)
}

fn zinterstore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    algebra_store(ctx, argv, SetOp::Inter)
}

fn zdiffstore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    algebra_store(ctx, argv, SetOp::Diff)
}

fn zintercard(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let req = parse_algebra(ctx, argv, 1, SetOp::Inter, false, true)?;
    let n = compute(&req, SetOp::Inter).len();
    let n = if req.limit > 0 { n.min(req.limit) } else { n };
    ctx.reply().int(n as i64);
    Ok(())
}

// ---- ZSCAN ----

fn zscan(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let cursor = parse_cursor(argv[2]).ok_or("ERR invalid cursor")?;
    let Some(z) = ctx.read_zset(argv[1])? else {
        let reply = ctx.reply();
        reply.array(2);
        reply.bulk(b"0");
        reply.array(0);
        return Ok(());
    };
    let options = parse_scan_options(&argv[3..])?;
    if options.type_name.is_some() {
        return Err(errors::SYNTAX.into());
    }
    let mut found: Elements = Vec::new();
    let next = match z.scan(cursor, &mut |m, s| found.push((m.to_vec(), s))) {
        None => {
            found = z.to_vec(false);
            0
        }
        Some(mut next) => {
            let mut budget = options.count.saturating_mul(10);
            while next != 0 && budget > 0 && (found.len() as u64) < options.count {
                next = z.scan(next, &mut |m, s| found.push((m.to_vec(), s))).unwrap_or(0);
                budget -= 1;
            }
            next
        }
    };
    if let Some(p) = options.pattern {
        found.retain(|(m, _)| cinnabar_storage::glob::matches(p, m, false));
    }
    let reply = ctx.reply();
    reply.array(2);
    reply.bulk(next.to_string().as_bytes());
    reply.array(found.len() * 2);
    for (m, s) in &found {
        reply.bulk(m);
        reply.bulk(cinnabar_protocol::numbers::format_g17(*s).as_bytes());
    }
    Ok(())
}

// ---- COMMAND DOCS argument trees ----

const ZADD_ARGS: &[Arg] = &[
    Arg::key("key", 0),
    Arg::one_of("condition", &[Arg::pure_token("nx", "NX"), Arg::pure_token("xx", "XX")]).since("3.0.2").optional(),
    Arg::one_of("comparison", &[Arg::pure_token("gt", "GT"), Arg::pure_token("lt", "LT")]).since("6.2.0").optional(),
    Arg::pure_token("change", "CH").since("3.0.2").optional(),
    Arg::pure_token("increment", "INCR").since("3.0.2").optional(),
    Arg::block("score_member", &[Arg::double("score"), Arg::string("member")]).multiple(),
];

const ZINCRBY_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::integer("increment"), Arg::string("member")];

const ZSCORE_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::string("member")];

const ZMSCORE_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::string("member").multiple()];

const ZCARD_ARGS: &[Arg] = &[Arg::key("key", 0)];

const ZCOUNT_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::double("min"), Arg::double("max")];

const ZLEXCOUNT_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::string("min"), Arg::string("max")];

const ZRANGE_ARGS: &[Arg] = &[
    Arg::key("key", 0),
    Arg::string("start"),
    Arg::string("stop"),
    Arg::one_of("sortby", &[Arg::pure_token("byscore", "BYSCORE"), Arg::pure_token("bylex", "BYLEX")])
        .since("6.2.0")
        .optional(),
    Arg::pure_token("rev", "REV").since("6.2.0").optional(),
    Arg::block("offset_count", &[Arg::integer("offset"), Arg::integer("count")])
        .token("LIMIT")
        .since("6.2.0")
        .optional(),
    Arg::pure_token("withscores", "WITHSCORES").optional(),
];

const ZRANGESTORE_ARGS: &[Arg] = &[
    Arg::key("dst", 0),
    Arg::key("src", 1),
    Arg::string("min"),
    Arg::string("max"),
    Arg::one_of("sortby", &[Arg::pure_token("byscore", "BYSCORE"), Arg::pure_token("bylex", "BYLEX")]).optional(),
    Arg::pure_token("rev", "REV").optional(),
    Arg::block("offset_count", &[Arg::integer("offset"), Arg::integer("count")]).token("LIMIT").optional(),
];

const ZREVRANGE_ARGS: &[Arg] = &[
    Arg::key("key", 0),
    Arg::integer("start"),
    Arg::integer("stop"),
    Arg::pure_token("withscores", "WITHSCORES").optional(),
];

const ZRANGEBYSCORE_ARGS: &[Arg] = &[
    Arg::key("key", 0),
    Arg::double("min"),
    Arg::double("max"),
    Arg::pure_token("withscores", "WITHSCORES").since("2.0.0").optional(),
    Arg::block("offset_count", &[Arg::integer("offset"), Arg::integer("count")]).token("LIMIT").optional(),
];

const ZREVRANGEBYSCORE_ARGS: &[Arg] = &[
    Arg::key("key", 0),
    Arg::double("max"),
    Arg::double("min"),
    Arg::pure_token("withscores", "WITHSCORES").optional(),
    Arg::block("offset_count", &[Arg::integer("offset"), Arg::integer("count")]).token("LIMIT").optional(),
];

const ZRANGEBYLEX_ARGS: &[Arg] = &[
    Arg::key("key", 0),
    Arg::string("min"),
    Arg::string("max"),
    Arg::block("offset_count", &[Arg::integer("offset"), Arg::integer("count")]).token("LIMIT").optional(),
];

const ZREVRANGEBYLEX_ARGS: &[Arg] = &[
    Arg::key("key", 0),
    Arg::string("max"),
    Arg::string("min"),
    Arg::block("offset_count", &[Arg::integer("offset"), Arg::integer("count")]).token("LIMIT").optional(),
];

const ZRANK_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::string("member")];

const ZREVRANK_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::string("member")];

const ZREM_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::string("member").multiple()];

const ZREMRANGEBYRANK_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::integer("start"), Arg::integer("stop")];

const ZREMRANGEBYSCORE_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::double("min"), Arg::double("max")];

const ZREMRANGEBYLEX_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::string("min"), Arg::string("max")];

const ZPOPMIN_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::integer("count").optional()];

const ZPOPMAX_ARGS: &[Arg] = &[Arg::key("key", 0), Arg::integer("count").optional()];

const ZMPOP_ARGS: &[Arg] = &[
    Arg::integer("numkeys"),
    Arg::key("key", 0).multiple(),
    Arg::one_of("where", &[Arg::pure_token("min", "MIN"), Arg::pure_token("max", "MAX")]),
    Arg::integer("count").token("COUNT").optional(),
];

const BZPOP_ARGS: &[Arg] = &[Arg::key("key", 0).multiple(), Arg::double("timeout")];

const BZMPOP_ARGS: &[Arg] = &[
    Arg::double("timeout"),
    Arg::integer("numkeys"),
    Arg::key("key", 0).multiple(),
    Arg::one_of("where", &[Arg::pure_token("min", "MIN"), Arg::pure_token("max", "MAX")]),
    Arg::integer("count").token("COUNT").optional(),
];

const ZRANDMEMBER_ARGS: &[Arg] = &[
    Arg::key("key", 0),
    Arg::block("options", &[Arg::integer("count"), Arg::pure_token("withscores", "WITHSCORES").optional()]).optional(),
];

const ZUNION_ARGS: &[Arg] = &[
    Arg::integer("numkeys"),
    Arg::key("key", 0).multiple(),
    Arg::integer("weight").token("WEIGHTS").optional().multiple(),
    Arg::one_of(
        "aggregate",
        &[Arg::pure_token("sum", "SUM"), Arg::pure_token("min", "MIN"), Arg::pure_token("max", "MAX")],
    )
    .token("AGGREGATE")
    .optional(),
    Arg::pure_token("withscores", "WITHSCORES").optional(),
];

const ZINTER_ARGS: &[Arg] = &[
    Arg::integer("numkeys"),
    Arg::key("key", 0).multiple(),
    Arg::integer("weight").token("WEIGHTS").optional().multiple(),
    Arg::one_of(
        "aggregate",
        &[Arg::pure_token("sum", "SUM"), Arg::pure_token("min", "MIN"), Arg::pure_token("max", "MAX")],
    )
    .token("AGGREGATE")
    .optional(),
    Arg::pure_token("withscores", "WITHSCORES").optional(),
];

const ZDIFF_ARGS: &[Arg] =
    &[Arg::integer("numkeys"), Arg::key("key", 0).multiple(), Arg::pure_token("withscores", "WITHSCORES").optional()];

const ZUNIONSTORE_ARGS: &[Arg] = &[
    Arg::key("destination", 0),
    Arg::integer("numkeys"),
    Arg::key("key", 1).multiple(),
    Arg::integer("weight").token("WEIGHTS").optional().multiple(),
    Arg::one_of(
        "aggregate",
        &[Arg::pure_token("sum", "SUM"), Arg::pure_token("min", "MIN"), Arg::pure_token("max", "MAX")],
    )
    .token("AGGREGATE")
    .optional(),
];

const ZINTERSTORE_ARGS: &[Arg] = &[
    Arg::key("destination", 0),
    Arg::integer("numkeys"),
    Arg::key("key", 1).multiple(),
    Arg::integer("weight").token("WEIGHTS").optional().multiple(),
    Arg::one_of(
        "aggregate",
        &[Arg::pure_token("sum", "SUM"), Arg::pure_token("min", "MIN"), Arg::pure_token("max", "MAX")],
    )
    .token("AGGREGATE")
    .optional(),
];

const ZDIFFSTORE_ARGS: &[Arg] = &[Arg::key("destination", 0), Arg::integer("numkeys"), Arg::key("key", 1).multiple()];

const ZINTERCARD_ARGS: &[Arg] =
    &[Arg::integer("numkeys"), Arg::key("key", 0).multiple(), Arg::integer("limit").token("LIMIT").optional()];

const ZSCAN_ARGS: &[Arg] = &[
    Arg::key("key", 0),
    Arg::integer("cursor"),
    Arg::pattern("pattern").token("MATCH").optional(),
    Arg::integer("count").token("COUNT").optional(),
];
