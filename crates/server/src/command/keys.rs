//! Finding the keys of a request from its command's table entry: Redis 7.0's
//! key-spec search (`getKeysUsingKeySpecs`), the choice between key specs and
//! a command's own `get_keys` (`getKeysFromCommandWithSpecs`), and the legacy
//! (first, last, step) triple plus the derived `movablekeys` flag that COMMAND
//! INFO reports (`populateCommandLegacyRangeSpec`).
//!
//! COMMAND GETKEYS, dispatch (the keys a write reports to WATCH) and ACL key
//! checks use it (ACL also through the channel finders commands declare);
//! cluster slot checks are meant to use the same functions. This module only
//! reads arguments: it never looks at the keyspace.

use cinnabar_protocol::numbers::parse_i64;

use super::{flags, key_flags, BeginSearch, CommandSpec, FindKeys, KeySpec};

/// One key found in a request: its argument index and the key-spec flags
/// (`key_flags::*`) saying how the command uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyRef {
    pub pos: usize,
    pub flags: u32,
}

/// A command's own key finder (Redis's `getkeys_proc`): appends the keys of
/// `argv` (the full request, `argv[0]` being the command name) to `out`.
pub type GetKeysFn = fn(argv: &[&[u8]], out: &mut Vec<KeyRef>);

/// A Pub/Sub channel among a request's arguments: its position, and whether
/// it is a pattern (PSUBSCRIBE), which ACL matches literally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelRef {
    pub pos: usize,
    pub is_pattern: bool,
}

/// A command's channel finder: appends the channels `argv` publishes or
/// subscribes to (not those it leaves) to `out`.
pub type GetChannelsFn = fn(argv: &[&[u8]], out: &mut Vec<ChannelRef>);

/// How `keys_from_specs` treats specs it cannot follow to the end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SearchOptions {
    /// Also return arguments of specs flagged `not_key` (e.g. channels).
    pub include_not_keys: bool,
    /// Skip invalid and incomplete specs but keep the keys other specs found,
    /// instead of failing the whole search.
    pub partial: bool,
}

/// The key specs could not describe this request (unknown or incomplete spec,
/// or arguments that do not fit the spec).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidSpec;

/// Appends the keys `argv` holds according to `cmd`'s key specs, in spec
/// order. On error `out` is left as it was given.
pub fn keys_from_specs(
    cmd: &CommandSpec,
    argv: &[&[u8]],
    options: SearchOptions,
    out: &mut Vec<KeyRef>,
) -> Result<(), InvalidSpec> {
    let start_len = out.len();
    for spec in cmd.key_specs {
        if spec.flags & key_flags::NOT_KEY != 0 && !options.include_not_keys {
            continue;
        }
        let found = spec_keys(spec, argv, out);
        let complete = found.is_ok() && spec.flags & key_flags::INCOMPLETE == 0;
        if !complete && !options.partial {
            out.truncate(start_len);
            return Err(InvalidSpec);
        }
    }
    Ok(())
}

/// The keys of one spec, appended to `out` (nothing on error).
fn spec_keys(spec: &KeySpec, argv: &[&[u8]], out: &mut Vec<KeyRef>) -> Result<(), InvalidSpec> {
    let argc = argv.len() as i32;
    let Some(mut first) = begin_index(spec.begin, argv)? else {
        // A keyword that is absent just means this spec has no keys here.
        return Ok(());
    };
    let (last, step) = match spec.find {
        FindKeys::Range { last_key, step, limit } => {
            let last = if last_key >= 0 {
                first + last_key
            } else if limit == 0 {
                argc + last_key
            } else {
                first + ((argc - first) / limit + last_key)
            };
            (last, step)
        }
        FindKeys::Keynum { keynum_idx, first_key, step } => {
            if keynum_idx >= argc {
                return Err(InvalidSpec);
            }
            let numkeys = argv
                .get((first + keynum_idx) as usize)
                .and_then(|arg| parse_i64(arg))
                .filter(|&n| n >= 0)
                .ok_or(InvalidSpec)?;
            first += first_key;
            // Redis does this arithmetic in C ints; keep its truncation.
            (first.wrapping_add(numkeys as i32).wrapping_sub(1), step)
        }
        FindKeys::Unknown => return Err(InvalidSpec),
    };
    if last >= argc || last < first || first >= argc {
        return Err(InvalidSpec);
    }
    // A zero step would never advance; table specs always have step >= 1.
    let step = step.max(1) as usize;
    out.extend((first as usize..=last as usize).step_by(step).map(|pos| KeyRef { pos, flags: spec.flags }));
    Ok(())
}

/// Where a spec's keys start: Ok(None) if its keyword is absent.
fn begin_index(begin: BeginSearch, argv: &[&[u8]]) -> Result<Option<i32>, InvalidSpec> {
    let argc = argv.len() as i32;
    match begin {
        BeginSearch::Index(pos) => Ok(Some(pos)),
        BeginSearch::Keyword { keyword, start_from } => {
            // Search forwards up to (not including) the last argument, or
            // backwards down to (not including) argument 1, as Redis does.
            let (start, end) = if start_from > 0 { (start_from, argc - 1) } else { (argc + start_from, 1) };
            let mut i = start;
            while i != end {
                if i >= argc || i < 1 {
                    break;
                }
                if argv[i as usize].eq_ignore_ascii_case(keyword.as_bytes()) {
                    return Ok(Some(i + 1));
                }
                i = if start <= end { i + 1 } else { i - 1 };
            }
            Ok(None)
        }
        BeginSearch::Unknown => Err(InvalidSpec),
    }
}

/// The keys of a request as Redis decides them for COMMAND GETKEYS, ACL and
/// cluster checks: key specs when they are reliable, else the command's own
/// `get_keys`. `out` is cleared first.
pub fn command_keys(cmd: &CommandSpec, argv: &[&[u8]], out: &mut Vec<KeyRef>) {
    out.clear();
    let has_key_spec = cmd.key_specs.iter().any(|s| s.flags & key_flags::NOT_KEY == 0);
    let has_variable_flags = cmd.key_specs.iter().any(|s| s.flags & key_flags::VARIABLE_FLAGS != 0);
    if has_key_spec && !has_variable_flags && keys_from_specs(cmd, argv, SearchOptions::default(), out).is_ok() {
        return;
    }
    if let Some(get_keys) = cmd.get_keys {
        get_keys(argv, out);
    }
}

/// True if the command may take keys at all (Redis's `doesCommandHaveKeys`).
pub fn has_keys(cmd: &CommandSpec) -> bool {
    cmd.get_keys.is_some() || cmd.key_specs.iter().any(|s| s.flags & key_flags::NOT_KEY == 0)
}

/// The legacy key positions COMMAND INFO prints as first, last, step:
/// `last` is absolute, or negative counting from the end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LegacyRange {
    pub first: i32,
    pub last: i32,
    pub step: i32,
}

/// The legacy range glued from the command's plain range specs, and whether
/// the command has keys that range does not cover (`movablekeys`).
pub fn legacy_range(cmd: &CommandSpec) -> (LegacyRange, bool) {
    let specs = cmd.key_specs;
    if let [only] = specs {
        if let (BeginSearch::Index(pos), FindKeys::Range { last_key, step, .. }) = (only.begin, only.find) {
            let last = if last_key >= 0 { pos + last_key } else { last_key };
            let movable = only.flags & key_flags::INCOMPLETE != 0;
            return (LegacyRange { first: pos, last, step }, movable);
        }
    }
    let mut movable = false;
    let mut first = i32::MAX;
    // Compared as unsigned, as Redis does, so a negative (from the end) last
    // key wins over any absolute one.
    let mut last: u32 = 0;
    let mut previous_last: u32 = 0;
    for spec in specs {
        let (BeginSearch::Index(pos), FindKeys::Range { last_key, step, .. }) = (spec.begin, spec.find) else {
            movable = true;
            continue;
        };
        if step != 1 || (previous_last != 0 && previous_last != (pos - 1) as u32) {
            movable = true;
            continue;
        }
        if spec.flags & key_flags::INCOMPLETE != 0 {
            movable = true;
        }
        first = first.min(pos);
        let absolute_last = if last_key >= 0 { last_key + pos } else { last_key };
        last = last.max(absolute_last as u32);
        previous_last = last;
    }
    if first == i32::MAX {
        // No plain range spec at all (each one skipped above set `movable`).
        return (LegacyRange::default(), movable);
    }
    (LegacyRange { first, last: last as i32, step: 1 }, movable)
}

/// The command's flags as COMMAND INFO reports them: declared ones plus the
/// derived `movablekeys`.
pub fn reported_flags(cmd: &CommandSpec) -> u32 {
    let (_, movable) = legacy_range(cmd);
    if movable {
        cmd.flags | flags::MOVABLE_KEYS
    } else {
        cmd.flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::key_flags::*;

    const fn command(arity: i32, key_specs: &'static [KeySpec]) -> CommandSpec {
        CommandSpec { arity, key_specs, ..CommandSpec::DEFAULT }
    }

    fn positions(cmd: &CommandSpec, args: &str) -> Result<Vec<usize>, InvalidSpec> {
        let argv: Vec<&[u8]> = args.split(' ').map(str::as_bytes).collect();
        let mut out = Vec::new();
        keys_from_specs(cmd, &argv, SearchOptions::default(), &mut out)?;
        Ok(out.iter().map(|k| k.pos).collect())
    }

    static MSET: CommandSpec = command(-3, &[KeySpec::range(1, -1, 2, OW | UPDATE)]);
    static ZUNIONSTORE: CommandSpec = command(
        -4,
        &[
            KeySpec::single(1, OW | UPDATE),
            KeySpec::new(RO | ACCESS, BeginSearch::Index(2), FindKeys::Keynum { keynum_idx: 0, first_key: 1, step: 1 }),
        ],
    );
    static MIGRATE_LIKE: CommandSpec = command(
        -6,
        &[KeySpec::new(
            RW | INCOMPLETE,
            BeginSearch::Keyword { keyword: "KEYS", start_from: -2 },
            FindKeys::Range { last_key: -1, step: 1, limit: 0 },
        )],
    );
    static XREAD_LIKE: CommandSpec = command(
        -4,
        &[KeySpec::new(
            RO,
            BeginSearch::Keyword { keyword: "STREAMS", start_from: 1 },
            FindKeys::Range { last_key: -1, step: 1, limit: 2 },
        )],
    );

    #[test]
    fn ranges_and_steps() {
        assert_eq!(positions(&MSET, "mset a 1 b 2"), Ok(vec![1, 3]));
        assert_eq!(positions(&MSET, "mset a 1 b"), Ok(vec![1, 3]));
    }

    #[test]
    fn keynum() {
        assert_eq!(positions(&ZUNIONSTORE, "zunionstore d 2 a b"), Ok(vec![1, 3, 4]));
        assert_eq!(positions(&ZUNIONSTORE, "zunionstore d 3 a b"), Err(InvalidSpec));
        assert_eq!(positions(&ZUNIONSTORE, "zunionstore d 0 a"), Err(InvalidSpec));
        assert_eq!(positions(&ZUNIONSTORE, "zunionstore d x a"), Err(InvalidSpec));
        assert_eq!(positions(&ZUNIONSTORE, "zunionstore d -1 a"), Err(InvalidSpec));
    }

    #[test]
    fn keywords_from_the_end_and_limits() {
        // Incomplete specs fail unless a partial search is asked for.
        assert_eq!(positions(&MIGRATE_LIKE, "migrate h p \"\" 0 5 KEYS a b"), Err(InvalidSpec));
        let argv: Vec<&[u8]> = "migrate h p x 0 5 keys a b".split(' ').map(str::as_bytes).collect();
        let mut out = Vec::new();
        let partial = SearchOptions { partial: true, ..SearchOptions::default() };
        keys_from_specs(&MIGRATE_LIKE, &argv, partial, &mut out).unwrap();
        assert_eq!(out.iter().map(|k| k.pos).collect::<Vec<_>>(), vec![7, 8]);
        assert_eq!(positions(&XREAD_LIKE, "xread count 1 streams a b 0 0"), Ok(vec![4, 5]));
        // The keyword in the last position is never taken as a keyword.
        assert_eq!(positions(&XREAD_LIKE, "xread count 1 streams"), Ok(vec![]));
    }

    #[test]
    fn legacy_ranges() {
        assert_eq!(legacy_range(&MSET), (LegacyRange { first: 1, last: -1, step: 2 }, false));
        assert_eq!(legacy_range(&ZUNIONSTORE), (LegacyRange { first: 1, last: 1, step: 1 }, true));
        assert_eq!(legacy_range(&MIGRATE_LIKE), (LegacyRange::default(), true));
        static SMOVE: CommandSpec = command(4, &[KeySpec::single(1, RW), KeySpec::single(2, RW)]);
        assert_eq!(legacy_range(&SMOVE), (LegacyRange { first: 1, last: 2, step: 1 }, false));
        assert_eq!(legacy_range(&command(1, &[])), (LegacyRange::default(), false));
    }
}
