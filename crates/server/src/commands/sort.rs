//! SORT and SORT_RO: sorting the elements of a list, set or sorted set,
//! numerically or by bytes, optionally by weights read from other keys
//! (`BY`), fetching values from other keys (`GET`), and for SORT storing the
//! result as a list (`STORE`), with Redis 7.0's exact rules for LIMIT, ties,
//! and the unsorted (`BY nosort`) shortcuts.

use std::cmp::Ordering;

use cinnabar_protocol::numbers::parse_i64;
use cinnabar_storage::Value;

use crate::command::context::errors;
use crate::command::keys::KeyRef;
use crate::command::{
    acl, flags::*, key_flags::*, Arg, BeginSearch, CmdError, CmdResult, CommandSpec, Ctx, FindKeys, KeySpec,
};
use crate::notify;

const COMPLEXITY: &str = "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).";
const ACL: u64 = acl::SET | acl::SORTEDSET | acl::LIST | acl::DANGEROUS;

const SOURCE_SPEC: KeySpec = KeySpec::single(1, RO | ACCESS);
const PATTERN_SPEC: KeySpec = KeySpec::new(RO | ACCESS, BeginSearch::Unknown, FindKeys::Unknown)
    .with_notes("For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort");
const STORE_SPEC: KeySpec = KeySpec::new(OW | UPDATE, BeginSearch::Unknown, FindKeys::Unknown)
    .with_notes("For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array");

const ORDER: Arg = Arg::one_of("order", &[Arg::pure_token("asc", "ASC"), Arg::pure_token("desc", "DESC")]).optional();
const LIMIT: Arg =
    Arg::block("offset_count", &[Arg::integer("offset"), Arg::integer("count")]).token("LIMIT").optional();
const SORT_RO_ARGS: &[Arg] = &[
    Arg::key("key", 0),
    Arg::key_pattern("pattern", 1).token("BY").optional(),
    LIMIT,
    Arg::key_pattern("pattern", 1).token("GET").optional().multiple().multiple_token(),
    ORDER,
    Arg::pure_token("sorting", "ALPHA").optional(),
];
const SORT_ARGS: &[Arg] = &[
    SORT_RO_ARGS[0],
    SORT_RO_ARGS[1],
    SORT_RO_ARGS[2],
    SORT_RO_ARGS[3],
    SORT_RO_ARGS[4],
    SORT_RO_ARGS[5],
    Arg::key("destination", 2).token("STORE").optional(),
];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "sort",
        arity: -2,
        flags: WRITE | DENYOOM,
        acl: ACL,
        key_specs: &[SOURCE_SPEC, PATTERN_SPEC, STORE_SPEC],
        handler: Some(sort),
        summary: "Sort a list, set or sorted set, optionally storing the result",
        complexity: COMPLEXITY,
        get_keys: Some(sort_keys),
        args: SORT_ARGS,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sort_ro",
        arity: -2,
        flags: READONLY,
        acl: ACL,
        key_specs: &[SOURCE_SPEC, PATTERN_SPEC],
        handler: Some(sort_ro),
        since: "7.0.0",
        summary: "Sort a list, set or sorted set without storing (read-only SORT)",
        complexity: COMPLEXITY,
        get_keys: Some(sort_ro_keys),
        args: SORT_RO_ARGS,
        ..CommandSpec::DEFAULT
    },
];

/// SORT's keys (Redis's `sortGetKeys`): the source, and the destination of
/// the last STORE, skipping the arguments of LIMIT, GET and BY.
fn sort_keys(argv: &[&[u8]], out: &mut Vec<KeyRef>) {
    out.push(KeyRef { pos: 1, flags: RO | ACCESS });
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let arg = argv[i];
        if arg.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else if arg.eq_ignore_ascii_case(b"store") && i + 1 < argv.len() {
            store = Some(i + 1);
        } else if arg.eq_ignore_ascii_case(b"get") || arg.eq_ignore_ascii_case(b"by") {
            i += 1;
        }
        i += 1;
    }
    if let Some(pos) = store {
        out.push(KeyRef { pos, flags: OW | UPDATE });
    }
}

/// SORT_RO's key (Redis's `sortROGetKeys`): only the source.
fn sort_ro_keys(_argv: &[&[u8]], out: &mut Vec<KeyRef>) {
    out.push(KeyRef { pos: 1, flags: RO | ACCESS });
}

/// The options of one SORT request.
struct SortOptions<'a> {
    desc: bool,
    alpha: bool,
    limit_start: i64,
    limit_count: i64,
    by: Option<&'a [u8]>,
    /// BY a pattern without `*`: keep the input's own order.
    dont_sort: bool,
    gets: Vec<&'a [u8]>,
    store: Option<&'a [u8]>,
}

/// The bytes before the first NUL: what Redis's C string functions see.
fn c_str(s: &[u8]) -> &[u8] {
    s.split(|&b| b == 0).next().unwrap_or(s)
}

fn parse_options<'a>(argv: &[&'a [u8]], read_only: bool) -> Result<SortOptions<'a>, CmdError> {
    let mut o = SortOptions {
        desc: false,
        alpha: false,
        limit_start: 0,
        limit_count: -1,
        by: None,
        dont_sort: false,
        gets: Vec::new(),
        store: None,
    };
    let mut j = 2;
    while j < argv.len() {
        let arg = argv[j];
        let left = argv.len() - j - 1;
        if arg.eq_ignore_ascii_case(b"asc") {
            o.desc = false;
        } else if arg.eq_ignore_ascii_case(b"desc") {
            o.desc = true;
        } else if arg.eq_ignore_ascii_case(b"alpha") {
            o.alpha = true;
        } else if arg.eq_ignore_ascii_case(b"limit") && left >= 2 {
            o.limit_start = parse_i64(argv[j + 1]).ok_or(errors::NOT_INTEGER)?;
            o.limit_count = parse_i64(argv[j + 2]).ok_or(errors::NOT_INTEGER)?;
            j += 2;
        } else if !read_only && arg.eq_ignore_ascii_case(b"store") && left >= 1 {
            o.store = Some(argv[j + 1]);
            j += 1;
        } else if arg.eq_ignore_ascii_case(b"by") && left >= 1 {
            o.by = Some(argv[j + 1]);
            // Once any BY lacks a `*`, the request stays unsorted (as Redis).
            o.dont_sort |= !c_str(argv[j + 1]).contains(&b'*');
            j += 1;
        } else if arg.eq_ignore_ascii_case(b"get") && left >= 1 {
            o.gets.push(argv[j + 1]);
            j += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
        j += 1;
    }
    Ok(o)
}

fn sort(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    sort_generic(ctx, argv, false)
}

fn sort_ro(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    sort_generic(ctx, argv, true)
}

/// One element to sort with its sort key: a score (numeric) or the bytes of
/// its BY value (ALPHA with BY; `None` when the BY key is missing).
struct Item {
    element: Vec<u8>,
    score: f64,
    by_value: Option<Vec<u8>>,
}

/// What kind of collection is sorted, which decides the unsorted shortcuts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SourceKind {
    List,
    Set,
    Zset,
}

fn sort_generic(ctx: &mut Ctx, argv: &[&[u8]], read_only: bool) -> CmdResult {
    let mut o = parse_options(argv, read_only)?;
    let (kind, len) = match ctx.lookup_read(argv[1]) {
        None => (SourceKind::List, 0),
        Some(entry) => match &mut entry.value {
            Value::List(l) => (SourceKind::List, l.len()),
            Value::Set(s) => (SourceKind::Set, s.len()),
            // Redis converts a small sorted set for good before sorting it.
            Value::Zset(z) => {
                z.convert_to_skiplist();
                (SourceKind::Zset, z.len())
            }
            _ => return Err(errors::WRONGTYPE.into()),
        },
    };
    // A set has no order of its own: unsorted output stored (and so
    // replicated) must not depend on hashing, so it is sorted by bytes.
    if o.dont_sort && kind == SourceKind::Set && o.store.is_some() {
        o.dont_sort = false;
        o.alpha = true;
        o.by = None;
    }
    let len = len as i64;
    let (mut start, mut end) = limit_range(o.limit_start, o.limit_count, len);
    let elements = if o.dont_sort && kind != SourceKind::Set {
        // Lists and sorted sets are read in their own order, only the range.
        let all = ordered_elements(ctx, argv[1], o.desc);
        let picked = if end >= start { all[start as usize..=end as usize].to_vec() } else { Vec::new() };
        end -= start;
        start = 0;
        picked
    } else {
        all_elements(ctx, argv[1])
    };
    let mut items: Vec<Item> =
        elements.into_iter().map(|element| Item { element, score: 0.0, by_value: None }).collect();
    if !o.dont_sort {
        let convertible = load_sort_keys(ctx, &o, &mut items);
        let compare = comparator(&o);
        items.sort_by(|a, b| compare(a, b));
        if !convertible {
            return Err("ERR One or more scores can't be converted into double".into());
        }
    }
    let picked: &[Item] = if end >= start { &items[start as usize..=end as usize] } else { &[] };
    match o.store {
        None => reply_items(ctx, &o.gets, picked),
        Some(dest) => store_items(ctx, &o.gets, picked, dest),
    }
    Ok(())
}

/// Redis's LIMIT arithmetic: the inclusive output range `start..=end` (empty
/// when `end < start`) for a collection of `len` elements.
fn limit_range(limit_start: i64, limit_count: i64, len: i64) -> (i64, i64) {
    let mut start = limit_start.max(0);
    let mut end = if limit_count < 0 { len - 1 } else { start.wrapping_add(limit_count).wrapping_sub(1) };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    (start, end)
}

/// A list's or sorted set's elements in their own order (reversed for DESC).
fn ordered_elements(ctx: &mut Ctx, key: &[u8], desc: bool) -> Vec<Vec<u8>> {
    let Some(entry) = ctx.db().get_mut(key) else { return Vec::new() };
    match &entry.value {
        Value::List(l) if desc => l.iter_rev().map(|e| e.to_vec()).collect(),
        Value::List(l) => l.iter().map(|e| e.to_vec()).collect(),
        Value::Zset(z) => z.to_vec(desc).into_iter().map(|(m, _)| m).collect(),
        _ => Vec::new(),
    }
}

/// Every element, in the collection's iteration order.
fn all_elements(ctx: &mut Ctx, key: &[u8]) -> Vec<Vec<u8>> {
    let Some(entry) = ctx.db().get_mut(key) else { return Vec::new() };
    match &entry.value {
        Value::List(l) => l.iter().map(|e| e.to_vec()).collect(),
        Value::Set(s) => s.iter().map(|e| e.to_vec()).collect(),
        Value::Zset(z) => z.to_vec(false).into_iter().map(|(m, _)| m).collect(),
        _ => Vec::new(),
    }
}

/// Fills each item's sort key. Returns false if a numeric key was not a
/// valid double (Redis still sorts, then fails).
fn load_sort_keys(ctx: &mut Ctx, o: &SortOptions, items: &mut [Item]) -> bool {
    let mut convertible = true;
    for item in items.iter_mut() {
        let by_value = match o.by {
            Some(pattern) => match lookup_by_pattern(ctx, pattern, &item.element) {
                Some(v) => v,
                // A missing weight sorts as 0 (numeric) or first (ALPHA).
                None => continue,
            },
            None => item.element.clone(),
        };
        if o.alpha {
            if o.by.is_some() {
                item.by_value = Some(by_value);
            }
        } else {
            match score_of(&by_value) {
                Some(score) => item.score = score,
                None => convertible = false,
            }
        }
    }
    convertible
}

/// C's `strtod` over the value as SORT applies it: the whole C string must
/// be consumed, without overflow or underflow, and not be NaN.
fn score_of(value: &[u8]) -> Option<f64> {
    let text = c_str(value);
    let c = std::ffi::CString::new(text).ok()?;
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `c` is NUL-terminated and outlives the call; errno is this thread's.
    let (v, erange) = unsafe {
        *libc::__errno_location() = 0;
        let v = libc::strtod(c.as_ptr(), &mut end);
        (v, *libc::__errno_location() == libc::ERANGE)
    };
    let consumed = end as usize - c.as_ptr() as usize;
    (consumed == text.len() && !erange && !v.is_nan()).then_some(v)
}

/// Redis's `sortCompare` for these options.
fn comparator(o: &SortOptions) -> impl Fn(&Item, &Item) -> Ordering {
    let (alpha, by_pattern, store, desc) = (o.alpha, o.by.is_some(), o.store.is_some(), o.desc);
    move |a: &Item, b: &Item| {
        let cmp = if !alpha {
            a.score.partial_cmp(&b.score).unwrap_or(Ordering::Equal).then_with(|| a.element.cmp(&b.element))
        } else if by_pattern {
            match (&a.by_value, &b.by_value) {
                (Some(x), Some(y)) => text_cmp(x, y, store),
                (x, y) => x.is_some().cmp(&y.is_some()),
            }
        } else {
            text_cmp(&a.element, &b.element, store)
        };
        if desc {
            cmp.reverse()
        } else {
            cmp
        }
    }
}

/// Byte order; without STORE Redis collates C strings (`strcoll`, which in
/// the C locale compares up to the first NUL).
fn text_cmp(a: &[u8], b: &[u8], binary: bool) -> Ordering {
    if binary {
        a.cmp(b)
    } else {
        c_str(a).cmp(c_str(b))
    }
}

/// Redis's `lookupKeyByPattern`: `#` is the element itself; otherwise the
/// first `*` is replaced by the element and the string at that key is read,
/// or with a trailing `->field` that field of the hash at that key.
fn lookup_by_pattern(ctx: &mut Ctx, pattern: &[u8], element: &[u8]) -> Option<Vec<u8>> {
    let text = c_str(pattern);
    if text == b"#" {
        return Some(element.to_vec());
    }
    let star = text.iter().position(|&b| b == b'*')?;
    let arrow = text[star + 1..].windows(2).position(|w| w == b"->").map(|at| star + 1 + at);
    let field = arrow.filter(|&at| at + 2 < text.len());
    let key_end = field.unwrap_or(pattern.len());
    let mut key = Vec::with_capacity(pattern.len() + element.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    let entry = ctx.lookup_read(&key)?;
    match (field, &entry.value) {
        (Some(at), Value::Hash(h)) => h.get(&pattern[at + 2..]).map(|v| v.to_vec()),
        (None, Value::Str(s)) => Some(s.as_bytes().into_owned()),
        _ => None,
    }
}

/// The values one output element contributes: itself, or one per GET.
fn outputs(ctx: &mut Ctx, gets: &[&[u8]], element: &[u8]) -> Vec<Option<Vec<u8>>> {
    if gets.is_empty() {
        return vec![Some(element.to_vec())];
    }
    gets.iter().map(|pattern| lookup_by_pattern(ctx, pattern, element)).collect()
}

fn reply_items(ctx: &mut Ctx, gets: &[&[u8]], items: &[Item]) {
    let per_item = gets.len().max(1);
    ctx.reply().array(items.len() * per_item);
    for item in items {
        for value in outputs(ctx, gets, &item.element) {
            match value {
                Some(v) => ctx.reply().bulk(&v),
                None => ctx.reply().null(),
            }
        }
    }
}

/// STORE: the output as a list at `dest` (missing GET values as empty
/// strings); an empty output deletes `dest`. Replies with the length.
fn store_items(ctx: &mut Ctx, gets: &[&[u8]], items: &[Item], dest: &[u8]) {
    let mut list = super::lists::new_list(ctx.srv);
    for item in items {
        for value in outputs(ctx, gets, &item.element) {
            list.push(cinnabar_storage::list::End::Tail, &value.unwrap_or_default());
        }
    }
    let stored = list.len();
    if stored > 0 {
        ctx.set_key(dest, Value::List(Box::new(list)), false);
        ctx.mark_dirty(stored as u64);
        ctx.notify(notify::LIST, "sortstore", dest);
    } else if ctx.delete_key(dest) {
        ctx.mark_dirty(1);
        ctx.notify(notify::GENERIC, "del", dest);
    }
    ctx.reply().int(stored as i64);
}
