//! Bitmap commands over string values: SETBIT, GETBIT, BITCOUNT, BITPOS,
//! BITOP, BITFIELD and BITFIELD_RO.
//!
//! Bits are numbered from the most significant bit of the first byte, as in
//! Redis. Commands that write leave the value `raw` (it is edited in place) and
//! grow it with zero bytes as needed, up to `proto-max-bulk-len`.

use cinnabar_protocol::numbers::parse_i64;
use cinnabar_storage::classbuf::ClassBuf;
use cinnabar_storage::{StrValue, Value};

use super::strings::stored_string_mut;
use crate::command::context::errors;
use crate::command::keys::KeyRef;
use crate::command::{acl, flags::*, key_flags::*, Arg, CmdError, CmdResult, CommandSpec, Ctx, KeySpec};
use crate::notify;

/// BITCOUNT's and BITPOS's optional unit for their range.
const INDEX_UNIT: Arg = Arg::one_of("index_unit", &[Arg::pure_token("byte", "BYTE"), Arg::pure_token("bit", "BIT")])
    .since("7.0.0")
    .optional();
/// When BITCOUNT and BITPOS gained that unit.
const INDEX_UNIT_HISTORY: &[(&str, &str)] =
    &[("7.0.0", "The range may be given in bits with BIT (BYTE is the default).")];
/// A BITFIELD/BITFIELD_RO read: GET <encoding> <offset>.
const GET_FIELD: Arg = Arg::block("encoding_offset", &[Arg::string("encoding"), Arg::integer("offset")]).token("GET");

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "setbit",
        arity: 4,
        flags: WRITE | DENYOOM,
        acl: acl::BITMAP,
        key_specs: &[KeySpec::single(1, RW | ACCESS | UPDATE)],
        handler: Some(setbit),
        group: "bitmap",
        since: "2.2.0",
        summary: "Set or clear one bit of a string",
        complexity: "O(1)",
        args: &[Arg::key("key", 0), Arg::integer("offset"), Arg::integer("value")],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "getbit",
        arity: 3,
        flags: READONLY | FAST,
        acl: acl::BITMAP,
        key_specs: &[KeySpec::single(1, RO | ACCESS)],
        handler: Some(getbit),
        group: "bitmap",
        since: "2.2.0",
        summary: "Read one bit of a string",
        complexity: "O(1)",
        args: &[Arg::key("key", 0), Arg::integer("offset")],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "bitcount",
        arity: -2,
        flags: READONLY,
        acl: acl::BITMAP,
        key_specs: &[KeySpec::single(1, RO | ACCESS)],
        handler: Some(bitcount),
        group: "bitmap",
        since: "2.6.0",
        summary: "Count the set bits of a string, optionally in a range",
        complexity: "O(N)",
        args: &[
            Arg::key("key", 0),
            Arg::block("index", &[Arg::integer("start"), Arg::integer("end"), INDEX_UNIT]).optional(),
        ],
        history: INDEX_UNIT_HISTORY,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "bitpos",
        arity: -3,
        flags: READONLY,
        acl: acl::BITMAP,
        key_specs: &[KeySpec::single(1, RO | ACCESS)],
        handler: Some(bitpos),
        group: "bitmap",
        since: "2.8.7",
        summary: "Find the first set or clear bit of a string",
        complexity: "O(N)",
        args: &[
            Arg::key("key", 0),
            Arg::integer("bit"),
            Arg::block(
                "index",
                &[Arg::integer("start"), Arg::block("end_index", &[Arg::integer("end"), INDEX_UNIT]).optional()],
            )
            .optional(),
        ],
        history: INDEX_UNIT_HISTORY,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "bitop",
        arity: -4,
        flags: WRITE | DENYOOM,
        acl: acl::BITMAP,
        key_specs: &[KeySpec::single(2, OW | UPDATE), KeySpec::range(3, -1, 1, RO | ACCESS)],
        handler: Some(bitop),
        group: "bitmap",
        since: "2.6.0",
        summary: "Combine strings bit by bit into a destination key",
        complexity: "O(N)",
        args: &[Arg::string("operation"), Arg::key("destkey", 0), Arg::key("key", 1).multiple()],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "bitfield",
        arity: -2,
        flags: WRITE | DENYOOM,
        acl: acl::BITMAP,
        key_specs: &[KeySpec::single(1, RW | ACCESS | UPDATE | VARIABLE_FLAGS)
            .with_notes("This command allows both access and modification of the key")],
        handler: Some(bitfield),
        group: "bitmap",
        since: "3.2.0",
        summary: "Read and write integers of any width at bit offsets of a string",
        complexity: "O(1) for each subcommand specified",
        args: &[
            Arg::key("key", 0),
            Arg::one_of(
                "operation",
                &[
                    GET_FIELD,
                    Arg::block(
                        "write",
                        &[
                            Arg::one_of(
                                "wrap_sat_fail",
                                &[
                                    Arg::pure_token("wrap", "WRAP"),
                                    Arg::pure_token("sat", "SAT"),
                                    Arg::pure_token("fail", "FAIL"),
                                ],
                            )
                            .token("OVERFLOW")
                            .optional(),
                            Arg::one_of(
                                "write_operation",
                                &[
                                    Arg::block(
                                        "encoding_offset_value",
                                        &[Arg::string("encoding"), Arg::integer("offset"), Arg::integer("value")],
                                    )
                                    .token("SET"),
                                    Arg::block(
                                        "encoding_offset_increment",
                                        &[Arg::string("encoding"), Arg::integer("offset"), Arg::integer("increment")],
                                    )
                                    .token("INCRBY"),
                                ],
                            ),
                        ],
                    ),
                ],
            )
            .optional()
            .multiple(),
        ],
        get_keys: Some(bitfield_keys),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "bitfield_ro",
        arity: -2,
        flags: READONLY | FAST,
        acl: acl::BITMAP,
        key_specs: &[KeySpec::single(1, RO | ACCESS)],
        handler: Some(bitfield_ro),
        group: "bitmap",
        since: "6.0.0",
        summary: "Read integers at bit offsets of a string",
        complexity: "O(1) for each subcommand specified",
        args: &[Arg::key("key", 0), GET_FIELD.optional().multiple().multiple_token()],
        ..CommandSpec::DEFAULT
    },
];

const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BAD_BIT: &str = "ERR bit is not an integer or out of range";

/// Parses a bit offset (Redis's `getBitOffsetFromArgument`). With `field_bits`,
/// `#N` means the N-th field of that width. Offsets must address a byte below
/// `proto-max-bulk-len`.
fn parse_bit_offset(ctx: &Ctx, arg: &[u8], field_bits: Option<u32>) -> Result<u64, CmdError> {
    let (by_field, digits) = match field_bits {
        Some(_) if arg.len() > 1 && arg[0] == b'#' => (true, &arg[1..]),
        _ => (false, arg),
    };
    let mut offset = parse_i64(digits).ok_or(BAD_OFFSET)?;
    if by_field {
        offset = offset.wrapping_mul(i64::from(field_bits.unwrap_or(1)));
    }
    if offset < 0 || (offset >> 3) >= ctx.srv.config.proto_max_bulk_len {
        return Err(BAD_OFFSET.into());
    }
    Ok(offset as u64)
}

/// Runs `f` on the bytes of the string at `key`, if there is one (WRONGTYPE otherwise).
fn with_string<R>(ctx: &mut Ctx, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>, CmdError> {
    Ok(ctx.read_string(key)?.map(|s| f(&s.as_bytes())))
}

/// The string at `key` made raw and at least long enough to hold bit
/// `max_bit`, created zero-filled if absent (Redis's `lookupStringForBitCommand`).
/// Also says whether it was created or grown (a change in itself).
fn bitmap_for_write<'c>(
    ctx: &'c mut Ctx,
    key: &[u8],
    max_bit: u64,
) -> Result<(&'c mut ClassBuf<usize>, bool), CmdError> {
    let needed = (max_bit >> 3) as usize + 1;
    let created = ctx.write_string(key)?.is_none();
    if created {
        ctx.set_key(key, Value::Str(StrValue::raw(vec![0; needed])), false);
    }
    let bytes = stored_string_mut(ctx, key).expect("exists or was just created").make_raw();
    let grown = bytes.len() < needed;
    if grown {
        bytes.resize(needed, 0);
    }
    Ok((bytes, created || grown))
}

/// The mask of bit `n` (0 = most significant) within its byte.
fn bit_mask(n: u64) -> u8 {
    0x80 >> (n & 7)
}

fn setbit(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let offset = parse_bit_offset(ctx, argv[2], None)?;
    let on = match parse_i64(argv[3]) {
        Some(v @ (0 | 1)) => v == 1,
        _ => return Err(BAD_BIT.into()),
    };
    let (bytes, grown) = bitmap_for_write(ctx, argv[1], offset)?;
    let byte = &mut bytes[(offset >> 3) as usize];
    let was_set = *byte & bit_mask(offset) != 0;
    if on {
        *byte |= bit_mask(offset);
    } else {
        *byte &= !bit_mask(offset);
    }
    // As Redis: setting a bit to the value it has is no change.
    if grown || was_set != on {
        ctx.mark_dirty(1);
        ctx.notify(notify::STRING, "setbit", argv[1]);
    }
    ctx.reply().int(i64::from(was_set));
    Ok(())
}

fn getbit(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let offset = parse_bit_offset(ctx, argv[2], None)?;
    let bit = with_string(ctx, argv[1], |s| s.get((offset >> 3) as usize).is_some_and(|b| b & bit_mask(offset) != 0))?;
    ctx.reply().int(i64::from(bit.unwrap_or(false)));
    Ok(())
}

/// Whether a BITCOUNT/BITPOS range counts bytes or bits.
fn parse_range_unit(arg: &[u8]) -> Result<bool, CmdError> {
    if arg.eq_ignore_ascii_case(b"bit") {
        Ok(true)
    } else if arg.eq_ignore_ascii_case(b"byte") {
        Ok(false)
    } else {
        Err(errors::SYNTAX.into())
    }
}

/// Resolves a start/end range (negative counts from the end) over a string of
/// `len` bytes into inclusive bit positions; None if it is empty.
fn resolve_range(mut start: i64, mut end: i64, len: usize, in_bits: bool) -> Option<(u64, u64)> {
    let total = if in_bits { len as i64 * 8 } else { len as i64 };
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    let start = start.max(0);
    let end = end.max(0).min(total - 1);
    if start > end {
        return None;
    }
    let (start, end) = (start as u64, end as u64);
    Some(if in_bits { (start, end) } else { (start * 8, end * 8 + 7) })
}

/// The bits of one byte from bit `from` to bit `to` (0 = most significant), inclusive.
fn byte_span_mask(from: u64, to: u64) -> u8 {
    (0xffu8 >> (from & 7)) & (0xffu8 << (7 - (to & 7)))
}

/// The set bits of `s` between bit positions `first` and `last`, inclusive.
fn count_bits(s: &[u8], first: u64, last: u64) -> u64 {
    let (first_byte, last_byte) = ((first >> 3) as usize, (last >> 3) as usize);
    if first_byte == last_byte {
        return u64::from((s[first_byte] & byte_span_mask(first, last)).count_ones());
    }
    let head = (s[first_byte] & byte_span_mask(first, 7)).count_ones();
    let tail = (s[last_byte] & byte_span_mask(0, last)).count_ones();
    let middle: u64 = s[first_byte + 1..last_byte].iter().map(|b| u64::from(b.count_ones())).sum();
    u64::from(head) + u64::from(tail) + middle
}

/// The first bit equal to `target` between positions `first` and `last`, inclusive.
fn find_bit(s: &[u8], first: u64, last: u64, target: bool) -> Option<u64> {
    let (first_byte, last_byte) = ((first >> 3) as usize, (last >> 3) as usize);
    (first_byte..=last_byte).find_map(|i| {
        let from = if i == first_byte { first } else { 0 };
        let to = if i == last_byte { last } else { 7 };
        let byte = if target { s[i] } else { !s[i] };
        let hits = byte & byte_span_mask(from, to);
        (hits != 0).then(|| i as u64 * 8 + u64::from(hits.leading_zeros()))
    })
}

fn bitcount(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    // A missing key counts zero whatever the other arguments say.
    let count = with_string(ctx, argv[1], |s| {
        let bits = match argv.len() {
            2 => resolve_range(0, -1, s.len(), false),
            4 | 5 => {
                let start = parse_i64(argv[2]).ok_or(errors::NOT_INTEGER)?;
                let end = parse_i64(argv[3]).ok_or(errors::NOT_INTEGER)?;
                let in_bits = argv.get(4).map(|a| parse_range_unit(a)).transpose()?.unwrap_or(false);
                // Both ends negative and crossed: empty, before clamping could make them meet.
                if start < 0 && end < 0 && start > end {
                    None
                } else {
                    resolve_range(start, end, s.len(), in_bits)
                }
            }
            _ => return Err(CmdError::from(errors::SYNTAX)),
        };
        Ok(bits.map_or(0, |(first, last)| count_bits(s, first, last)))
    })?;
    ctx.reply().int(count.transpose()?.unwrap_or(0) as i64);
    Ok(())
}

fn bitpos(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let target = match parse_i64(argv[2]).ok_or(errors::NOT_INTEGER)? {
        0 => false,
        1 => true,
        _ => return Err("ERR The bit argument must be 1 or 0.".into()),
    };
    let pos = with_string(ctx, argv[1], |s| {
        if argv.len() > 6 {
            return Err(CmdError::from(errors::SYNTAX));
        }
        let start = argv.get(3).map(|a| parse_i64(a).ok_or(errors::NOT_INTEGER)).transpose()?.unwrap_or(0);
        let in_bits = argv.get(5).map(|a| parse_range_unit(a)).transpose()?.unwrap_or(false);
        let end = argv.get(4).map(|a| parse_i64(a).ok_or(errors::NOT_INTEGER)).transpose()?;
        let range = resolve_range(start, end.unwrap_or(-1), s.len(), in_bits);
        let found = range.and_then(|(first, last)| find_bit(s, first, last, target));
        Ok(match (found, range) {
            (Some(pos), _) => pos as i64,
            // Past an open-ended range the string continues with zeros.
            (None, Some((_, last))) if !target && end.is_none() => last as i64 + 1,
            (None, _) => -1,
        })
    })?;
    // A missing key is an endless run of zeros.
    let pos = pos.transpose()?.unwrap_or(if target { -1 } else { 0 });
    ctx.reply().int(pos);
    Ok(())
}

/// BITOP's operations.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

fn bitop(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let op = [(&b"and"[..], BitOp::And), (b"or", BitOp::Or), (b"xor", BitOp::Xor), (b"not", BitOp::Not)]
        .into_iter()
        .find(|(name, _)| argv[1].eq_ignore_ascii_case(name))
        .map(|(_, op)| op)
        .ok_or(errors::SYNTAX)?;
    if op == BitOp::Not && argv.len() != 4 {
        return Err("ERR BITOP NOT must be called with a single source key.".into());
    }
    let mut sources = Vec::with_capacity(argv.len() - 3);
    for key in &argv[3..] {
        sources.push(with_string(ctx, key, <[u8]>::to_vec)?.unwrap_or_default());
    }
    let result = combine(op, &sources);
    let dest = argv[2];
    let len = result.len();
    if len > 0 {
        ctx.lookup_write(dest);
        ctx.set_key(dest, Value::Str(StrValue::raw(result)), false);
        ctx.mark_dirty(1);
        ctx.notify(notify::STRING, "set", dest);
    } else if ctx.db().remove(dest).is_some() {
        // Like Redis, an empty result removes the destination even if its TTL
        // has passed, counting it as this command's change rather than an expiry.
        ctx.mark_dirty(1);
        ctx.notify(notify::GENERIC, "del", dest);
    }
    ctx.reply().int(len as i64);
    Ok(())
}

/// Applies `op` across `sources`, shorter ones padded with zero bytes.
fn combine(op: BitOp, sources: &[Vec<u8>]) -> Vec<u8> {
    let len = sources.iter().map(Vec::len).max().unwrap_or(0);
    let byte_at = |s: &Vec<u8>, i: usize| s.get(i).copied().unwrap_or(0);
    (0..len)
        .map(|i| {
            let first = byte_at(&sources[0], i);
            let rest = sources[1..].iter().map(|s| byte_at(s, i));
            match op {
                BitOp::Not => !first,
                BitOp::And => rest.fold(first, |acc, b| acc & b),
                BitOp::Or => rest.fold(first, |acc, b| acc | b),
                BitOp::Xor => rest.fold(first, |acc, b| acc ^ b),
            }
        })
        .collect()
}

/// What BITFIELD does when a write leaves the field's range.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

/// A BITFIELD field type: signedness and width.
#[derive(Clone, Copy)]
struct FieldType {
    signed: bool,
    bits: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldOpKind {
    Get,
    Set,
    IncrBy,
}

/// One parsed BITFIELD operation.
struct FieldOp {
    kind: FieldOpKind,
    ty: FieldType,
    offset: u64,
    value: i64,
    overflow: Overflow,
}

fn parse_field_type(arg: &[u8]) -> Result<FieldType, CmdError> {
    const BAD_TYPE: &str =
        "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(BAD_TYPE.into()),
    };
    let max = if signed { 64 } else { 63 };
    match parse_i64(&arg[1..]) {
        Some(bits) if (1..=max).contains(&bits) => Ok(FieldType { signed, bits: bits as u32 }),
        _ => Err(BAD_TYPE.into()),
    }
}

/// Parses BITFIELD's operations, in order, with the OVERFLOW mode in force for each.
fn parse_field_ops(ctx: &Ctx, argv: &[&[u8]]) -> Result<Vec<FieldOp>, CmdError> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < argv.len() {
        let remaining = argv.len() - j - 1;
        let sub = argv[j];
        let kind = if sub.eq_ignore_ascii_case(b"get") && remaining >= 2 {
            FieldOpKind::Get
        } else if sub.eq_ignore_ascii_case(b"set") && remaining >= 3 {
            FieldOpKind::Set
        } else if sub.eq_ignore_ascii_case(b"incrby") && remaining >= 3 {
            FieldOpKind::IncrBy
        } else if sub.eq_ignore_ascii_case(b"overflow") && remaining >= 1 {
            let mode = argv[j + 1];
            overflow = if mode.eq_ignore_ascii_case(b"wrap") {
                Overflow::Wrap
            } else if mode.eq_ignore_ascii_case(b"sat") {
                Overflow::Sat
            } else if mode.eq_ignore_ascii_case(b"fail") {
                Overflow::Fail
            } else {
                return Err("ERR Invalid OVERFLOW type specified".into());
            };
            j += 2;
            continue;
        } else {
            return Err(errors::SYNTAX.into());
        };
        let ty = parse_field_type(argv[j + 1])?;
        let offset = parse_bit_offset(ctx, argv[j + 2], Some(ty.bits))?;
        let value = match kind {
            FieldOpKind::Get => 0,
            _ => parse_i64(argv[j + 3]).ok_or(errors::NOT_INTEGER)?,
        };
        ops.push(FieldOp { kind, ty, offset, value, overflow });
        j += if kind == FieldOpKind::Get { 3 } else { 4 };
    }
    Ok(ops)
}

/// BITFIELD's key: only read when every operation is a complete GET or
/// OVERFLOW; a SET, INCRBY or anything unparsable makes it a write, as Redis's
/// `bitfieldGetKeys` assumes.
fn bitfield_keys(argv: &[&[u8]], out: &mut Vec<KeyRef>) {
    let mut read_only = true;
    let mut i = 2;
    while i < argv.len() {
        let remaining = argv.len() - i - 1;
        let op = argv[i];
        if op.eq_ignore_ascii_case(b"get") && remaining >= 2 {
            i += 3;
        } else if op.eq_ignore_ascii_case(b"overflow") && remaining >= 1 {
            i += 2;
        } else {
            read_only = false;
            break;
        }
    }
    let flags = if read_only { RO | ACCESS } else { RW | ACCESS | UPDATE };
    out.push(KeyRef { pos: 1, flags });
}

fn bitfield(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    bitfield_generic(ctx, argv, false)
}

fn bitfield_ro(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    bitfield_generic(ctx, argv, true)
}

fn bitfield_generic(ctx: &mut Ctx, argv: &[&[u8]], read_only_command: bool) -> CmdResult {
    let key = argv[1];
    let ops = parse_field_ops(ctx, argv)?;
    let highest_write =
        ops.iter().filter(|op| op.kind != FieldOpKind::Get).map(|op| op.offset + u64::from(op.ty.bits) - 1).max();
    let Some(highest_write) = highest_write else {
        let results = with_string(ctx, key, |s| ops.iter().map(|op| read_field(s, op.offset, op.ty)).collect())?;
        let results: Vec<i64> = results.unwrap_or_else(|| vec![0; ops.len()]);
        ctx.reply().array(results.len());
        for v in results {
            ctx.reply().int(v);
        }
        return Ok(());
    };
    if read_only_command {
        return Err("ERR BITFIELD_RO only supports the GET subcommand".into());
    }
    let (bytes, grown) = bitmap_for_write(ctx, key, highest_write)?;
    // As Redis, a write counts as a change if the string grew or the field
    // now holds another value.
    let mut changes = 0;
    let mut apply = |op: &FieldOp| {
        let before = read_field(bytes, op.offset, op.ty);
        let result = apply_field_op(bytes, op);
        let wrote = op.kind != FieldOpKind::Get && result.is_some();
        if wrote && (grown || read_field(bytes, op.offset, op.ty) != before) {
            changes += 1;
        }
        result
    };
    let results: Vec<Option<i64>> = ops.iter().map(&mut apply).collect();
    ctx.mark_dirty(changes);
    if changes > 0 {
        ctx.notify(notify::STRING, "setbit", key);
    }
    ctx.reply().array(results.len());
    for r in results {
        match r {
            Some(v) => ctx.reply().int(v),
            None => ctx.reply().null(),
        }
    }
    Ok(())
}

/// Runs one operation on a bitmap already long enough for every write.
/// None is the reply of a write refused by OVERFLOW FAIL.
fn apply_field_op(bytes: &mut [u8], op: &FieldOp) -> Option<i64> {
    let old = read_field(bytes, op.offset, op.ty);
    let (new, reply) = match op.kind {
        FieldOpKind::Get => return Some(old),
        FieldOpKind::Set => (field_overflow(op.value, 0, op.ty, op.overflow)?, old),
        FieldOpKind::IncrBy => {
            let new = field_overflow(old, op.value, op.ty, op.overflow)?;
            (new, new)
        }
    };
    write_field(bytes, op.offset, op.ty.bits, new as u64);
    Some(reply)
}

/// `value + incr` fitted to the field type under the overflow mode: Some(result),
/// or None when FAIL refuses it (Redis's check{Signed,Unsigned}BitfieldOverflow).
fn field_overflow(value: i64, incr: i64, ty: FieldType, mode: Overflow) -> Option<i64> {
    let (fits, saturated) =
        if ty.signed { signed_fit(value, incr, ty.bits) } else { unsigned_fit(value as u64, incr, ty.bits) };
    if fits {
        return Some(value.wrapping_add(incr));
    }
    match mode {
        Overflow::Fail => None,
        Overflow::Sat => Some(saturated),
        Overflow::Wrap => Some(wrap_to_field(value.wrapping_add(incr) as u64, ty)),
    }
}

/// Whether `value + incr` fits an unsigned field, and the bound it passed if not.
fn unsigned_fit(value: u64, incr: i64, bits: u32) -> (bool, i64) {
    let max = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = (value as i64).wrapping_neg();
    if value > max || (incr > 0 && incr > max_incr) {
        (false, max as i64)
    } else if incr < 0 && incr < min_incr {
        (false, 0)
    } else {
        (true, 0)
    }
}

/// Whether `value + incr` fits a signed field, and the bound it passed if not.
fn signed_fit(value: i64, incr: i64, bits: u32) -> (bool, i64) {
    let max = if bits == 64 { i64::MAX } else { (1i64 << (bits - 1)) - 1 };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    if value > max || (bits != 64 && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr) {
        (false, max)
    } else if value < min || (bits != 64 && incr < min_incr) || (value < 0 && incr < 0 && incr < min_incr) {
        (false, min)
    } else {
        (true, 0)
    }
}

/// Truncates `raw` to the field's width, sign-extending a signed field.
fn wrap_to_field(raw: u64, ty: FieldType) -> i64 {
    if ty.bits == 64 {
        return raw as i64;
    }
    let high = u64::MAX << ty.bits;
    let sign_bit = 1u64 << (ty.bits - 1);
    if ty.signed && raw & sign_bit != 0 {
        (raw | high) as i64
    } else {
        (raw & !high) as i64
    }
}

/// Reads a field; bytes past the end of `s` read as zero.
fn read_field(s: &[u8], offset: u64, ty: FieldType) -> i64 {
    let mut raw = 0u64;
    for bit in offset..offset + u64::from(ty.bits) {
        let set = s.get((bit >> 3) as usize).is_some_and(|b| b & bit_mask(bit) != 0);
        raw = (raw << 1) | u64::from(set);
    }
    if ty.signed {
        wrap_to_field(raw, ty)
    } else {
        raw as i64
    }
}

/// Writes the low `bits` bits of `value` at `offset`, most significant first.
fn write_field(s: &mut [u8], offset: u64, bits: u32, value: u64) {
    for i in 0..u64::from(bits) {
        let bit = offset + i;
        let byte = &mut s[(bit >> 3) as usize];
        if value & (1u64 << (u64::from(bits) - 1 - i)) != 0 {
            *byte |= bit_mask(bit);
        } else {
            *byte &= !bit_mask(bit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_finds_bits_in_ranges() {
        let s = [0b0000_1111u8, 0b1000_0000, 0];
        assert_eq!(count_bits(&s, 0, 23), 5);
        assert_eq!(count_bits(&s, 5, 8), 4);
        assert_eq!(find_bit(&s, 0, 23, true), Some(4));
        assert_eq!(find_bit(&s, 9, 23, true), None);
        assert_eq!(find_bit(&s, 4, 8, false), None);
    }

    #[test]
    fn fields_round_trip_and_overflow() {
        let mut s = [0u8; 3];
        let i5 = FieldType { signed: true, bits: 5 };
        write_field(&mut s, 3, 5, (-3i64) as u64);
        assert_eq!(read_field(&s, 3, i5), -3);
        assert_eq!(field_overflow(15, 1, i5, Overflow::Wrap), Some(-16));
        assert_eq!(field_overflow(15, 1, i5, Overflow::Sat), Some(15));
        assert_eq!(field_overflow(15, 1, i5, Overflow::Fail), None);
        let u8t = FieldType { signed: false, bits: 8 };
        assert_eq!(field_overflow(250, 10, u8t, Overflow::Wrap), Some(4));
        assert_eq!(field_overflow(5, -10, u8t, Overflow::Sat), Some(0));
    }
}
