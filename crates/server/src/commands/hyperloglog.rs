//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.
//!
//! An HLL is an ordinary string value (TYPE says string, GET returns its
//! bytes); the representation and the estimator live in
//! `cinnabar_storage::hyperloglog`. This file finds and validates the strings,
//! applies Redis's replies and errors, and counts changes: PFCOUNT rewriting a
//! stale cached cardinality, and PFDEBUG converting to dense, are changes and
//! are propagated as sent, as Redis does.

use cinnabar_storage::classbuf::ClassBuf;
use cinnabar_storage::hyperloglog::{self as hll, Corrupted, Encoding, Union};
use cinnabar_storage::{StrValue, Value};

use crate::command::context::errors;
use crate::command::{acl, doc_flags, flags::*, key_flags::*, Arg, CmdError, CmdResult, CommandSpec, Ctx, KeySpec};
use crate::notify;

const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const CORRUPTED: &str = "INVALIDOBJ Corrupted HLL object detected";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "pfadd",
        arity: -2,
        flags: WRITE | DENYOOM | FAST,
        acl: acl::HYPERLOGLOG,
        key_specs: &[KeySpec::single(1, RW | INSERT)],
        handler: Some(pfadd),
        group: "hyperloglog",
        since: "2.8.9",
        summary: "Add elements to a HyperLogLog",
        complexity: "O(1) to add every element.",
        args: &[Arg::key("key", 0), Arg::string("element").optional().multiple()],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "pfcount",
        arity: -2,
        flags: READONLY,
        acl: acl::HYPERLOGLOG,
        // RW: counting one key may rewrite its cached cardinality.
        key_specs: &[KeySpec::range(1, -1, 1, RW | ACCESS)
            .with_notes("RW because it may change the internal representation of the key, and propagate to replicas")],
        handler: Some(pfcount),
        group: "hyperloglog",
        since: "2.8.9",
        summary: "Estimate the number of distinct elements seen by one or more HyperLogLogs",
        complexity: "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys.",
        args: &[Arg::key("key", 0).multiple()],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "pfmerge",
        arity: -2,
        flags: WRITE | DENYOOM,
        acl: acl::HYPERLOGLOG,
        key_specs: &[KeySpec::single(1, RW | ACCESS | INSERT), KeySpec::range(2, -1, 1, RO | ACCESS)],
        handler: Some(pfmerge),
        group: "hyperloglog",
        since: "2.8.9",
        summary: "Merge HyperLogLogs into one",
        complexity: "O(N) to merge N HyperLogLogs, but with high constant times.",
        args: &[Arg::key("destkey", 0), Arg::key("sourcekey", 1).multiple()],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "pfdebug",
        arity: 3,
        flags: WRITE | DENYOOM | ADMIN,
        acl: acl::HYPERLOGLOG,
        key_specs: &[KeySpec::single(2, RW | ACCESS)],
        handler: Some(pfdebug),
        group: "hyperloglog",
        since: "2.8.9",
        summary: "Inspect or convert the internals of a HyperLogLog value",
        complexity: "N/A",
        doc_flags: doc_flags::SYSCMD,
        args: &[Arg::string("subcommand"), Arg::key("key", 0)],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "pfselftest",
        arity: 1,
        flags: ADMIN,
        acl: acl::HYPERLOGLOG,
        handler: Some(pfselftest),
        group: "hyperloglog",
        since: "2.8.9",
        summary: "Run the HyperLogLog implementation's self test",
        complexity: "N/A",
        doc_flags: doc_flags::SYSCMD,
        ..CommandSpec::DEFAULT
    },
];

impl From<Corrupted> for CmdError {
    fn from(_: Corrupted) -> Self {
        CORRUPTED.into()
    }
}

/// How a command looks its keys up (which decides the hit/miss counters).
#[derive(Clone, Copy)]
enum Lookup {
    Read,
    Write,
}

/// The HLL bytes at `key`, converted to `raw` for editing in place (Redis
/// unshares the string first); `Ok(None)` if the key is absent.
fn hll_at<'c>(ctx: &'c mut Ctx, key: &[u8], lookup: Lookup) -> Result<Option<&'c mut ClassBuf<usize>>, CmdError> {
    let entry = match lookup {
        Lookup::Read => ctx.lookup_read(key),
        Lookup::Write => ctx.lookup_write(key),
    };
    entry.map(|entry| editable_hll(&mut entry.value)).transpose()
}

/// The HLL at `key` for writing, an empty one stored first if the key is
/// absent; true with it if it was created. One access to the key, as Redis's
/// single lookup.
fn hll_or_new<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<(&'c mut ClassBuf<usize>, bool), CmdError> {
    let created = ctx.lookup_write(key).is_none();
    if created {
        ctx.set_key(key, Value::Str(StrValue::raw(hll::new_sparse())), false);
    }
    let entry = ctx.db().get_mut(key).expect("looked up or stored just above");
    Ok((editable_hll(&mut entry.value)?, created))
}

/// The HLL in `value`, `raw` for editing in place (the register code edits
/// it as a `Vec<u8>` through `ClassBuf::edit`).
fn editable_hll(value: &mut Value) -> Result<&mut ClassBuf<usize>, CmdError> {
    let value = value.as_str_mut().ok_or(CmdError::from(errors::WRONGTYPE))?;
    check_hll(value)?;
    Ok(value.make_raw())
}

/// Redis's test for an HLL string (magic, encoding, dense length).
fn check_hll(value: &StrValue) -> Result<(), CmdError> {
    let valid = !matches!(value, StrValue::Int(_)) && hll::validate(&value.as_bytes()).is_some();
    if valid {
        Ok(())
    } else {
        Err(NOT_HLL.into())
    }
}

fn sparse_max_bytes(ctx: &Ctx) -> usize {
    usize::try_from(ctx.srv.config.hll_sparse_max_bytes).unwrap_or(usize::MAX)
}

fn pfadd(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let max_bytes = sparse_max_bytes(ctx);
    let (hll, created) = hll_or_new(ctx, argv[1])?;
    // Creating the key is a change even with no elements.
    let mut updated = u64::from(created);
    for element in &argv[2..] {
        if hll::add(&mut hll.edit(), element, max_bytes)? {
            updated += 1;
        }
    }
    if updated > 0 {
        hll::invalidate_cache(hll);
        ctx.mark_dirty(updated);
        ctx.notify(notify::STRING, "pfadd", argv[1]);
    }
    ctx.reply().int(i64::from(updated > 0));
    Ok(())
}

fn pfcount(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let cardinality = match argv {
        [_, key] => count_one(ctx, key)?,
        _ => union_of(ctx, &argv[1..])?.count(),
    };
    ctx.reply().int(cardinality as i64);
    Ok(())
}

/// PFCOUNT of one key: the cached cardinality, or a fresh estimate written
/// back into the string (a change, so it is propagated).
fn count_one(ctx: &mut Ctx, key: &[u8]) -> Result<u64, CmdError> {
    let Some(hll) = hll_at(ctx, key, Lookup::Read)? else { return Ok(0) };
    if let Some(cached) = hll::cached_cardinality(hll) {
        return Ok(cached);
    }
    let cardinality = hll::count(hll)?;
    hll::store_cardinality(hll, cardinality);
    ctx.mark_dirty(1);
    Ok(cardinality)
}

/// The register-wise maximum of the HLLs at `keys` (absent keys are empty).
fn union_of(ctx: &mut Ctx, keys: &[&[u8]]) -> Result<Union, CmdError> {
    let mut union = Union::default();
    for key in keys {
        let Some(entry) = ctx.lookup_read(key) else { continue };
        let value = entry.value.as_str().ok_or(CmdError::from(errors::WRONGTYPE))?;
        check_hll(value)?;
        union.merge(&value.as_bytes())?;
    }
    Ok(union)
}

fn pfmerge(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let max_bytes = sparse_max_bytes(ctx);
    // The destination is a source too.
    let union = union_of(ctx, &argv[1..])?;
    let (dest, _) = hll_or_new(ctx, argv[1])?;
    union.store_into(&mut dest.edit(), max_bytes)?;
    ctx.mark_dirty(1);
    // Redis announces a merge as an add to the destination.
    ctx.notify(notify::STRING, "pfadd", argv[1]);
    ctx.reply().ok();
    Ok(())
}

fn pfdebug(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let sub = argv[1];
    let Some(hll) = hll_at(ctx, argv[2], Lookup::Write)? else {
        return Err("ERR The specified key does not exist".into());
    };
    if sub.eq_ignore_ascii_case(b"getreg") {
        let converted = hll::sparse_to_dense(&mut hll.edit())?;
        let registers: Vec<u8> = hll::dense_registers(hll).collect();
        if converted {
            ctx.mark_dirty(1);
        }
        let reply = ctx.reply();
        reply.array(registers.len());
        registers.into_iter().for_each(|r| reply.int(i64::from(r)));
    } else if sub.eq_ignore_ascii_case(b"decode") {
        if hll::validate(hll) != Some(Encoding::Sparse) {
            return Err("ERR HLL encoding is not sparse".into());
        }
        let decoded = hll::decode_sparse(hll);
        ctx.reply().bulk(decoded.as_bytes());
    } else if sub.eq_ignore_ascii_case(b"encoding") {
        let encoding = hll::validate(hll).expect("validated on lookup");
        ctx.reply().simple(encoding.name());
    } else if sub.eq_ignore_ascii_case(b"todense") {
        let converted = hll::sparse_to_dense(&mut hll.edit())?;
        if converted {
            ctx.mark_dirty(1);
        }
        ctx.reply().int(i64::from(converted));
    } else {
        // Redis prints the name as a C string: it ends at the first NUL.
        let name = sub.split(|&b| b == 0).next().unwrap_or_default();
        return Err(format!("ERR Unknown PFDEBUG subcommand '{}'", String::from_utf8_lossy(name)).into());
    }
    Ok(())
}

fn pfselftest(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    hll::self_test(fastrand::u64(..), sparse_max_bytes(ctx))?;
    ctx.reply().ok();
    Ok(())
}
