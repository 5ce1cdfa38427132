//! DEBUG: the subcommands test suites rely on — SLEEP, OBJECT, POPULATE,
//! DIGEST and DIGEST-VALUE (Redis's dataset digest, so datasets can be
//! compared across servers), PROTOCOL (one reply of each RESP type),
//! SET-ACTIVE-EXPIRE, PAUSE-CRON, QUICKLIST-PACKED-THRESHOLD, HTSTATS, ERROR,
//! LOG, LOADAOF (the reload itself is in `persistence::aof`) and RELOAD (a
//! save and load round trip through the RDB driver).
//!
//! DEBUG is reachable only when `enable-debug-command` allows it (checked by
//! the dispatcher through the PROTECTED flag). Nothing here is propagated:
//! like Redis, DEBUG POPULATE does not count as a change to the dataset.

use cinnabar_protocol::numbers::{parse_f64, parse_i64};
use cinnabar_storage::{Entry, Hash, Set, SmallBytes, StrValue, StreamId, TableStats, Value};
use sha1::{Digest, Sha1};

use crate::command::context::errors;
use crate::command::{doc_flags, flags::*, CmdError, CmdResult, CommandSpec, Ctx};
use crate::commands::server::reply_help;
use crate::log::log_at;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "debug",
    arity: -2,
    flags: ADMIN | NOSCRIPT | LOADING | STALE | PROTECTED,
    handler: Some(debug),
    group: "server",
    summary: "Debugging and testing helpers",
    complexity: "Depends on subcommand.",
    doc_flags: doc_flags::SYSCMD,
    ..CommandSpec::DEFAULT
}];

fn debug(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let sub = argv[1].to_ascii_lowercase();
    match (sub.as_slice(), argv.len()) {
        (b"help", 2) => help(ctx, argv[0]),
        (b"sleep", 3) => sleep(ctx, argv[2]),
        (b"object", 3) => object(ctx, argv[2])?,
        (b"populate", 3..=5) => populate(ctx, &argv[2..])?,
        (b"digest", 2) => digest(ctx),
        (b"loadaof", 2) => {
            crate::persistence::aof::reload(ctx.srv);
            ctx.reply().ok();
        }
        (b"digest-value", _) => digest_values(ctx, &argv[2..]),
        (b"protocol", 3) => protocol(ctx, argv[2])?,
        (b"set-active-expire", 3) => {
            ctx.srv.active_expire_enabled = atoi(argv[2]) != 0;
            ctx.reply().ok();
        }
        (b"pause-cron", 3) => {
            ctx.srv.cron_paused = atoi(argv[2]) != 0;
            ctx.reply().ok();
        }
        (b"quicklist-packed-threshold", 3) => quicklist_packed_threshold(ctx, argv[2])?,
        (b"htstats", 3) => htstats(ctx, argv[2])?,
        (b"reload", _) => reload(ctx, &argv[2..])?,
        // Sent as a reply, not raised: Redis does not count it as a failed call.
        (b"error", 3) => ctx.reply().error(&String::from_utf8_lossy(argv[2])),
        (b"log", 3) => {
            log_at!(Warning, "DEBUG LOG: {}", String::from_utf8_lossy(argv[2]));
            ctx.reply().ok();
        }
        _ => {
            return Err(format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
                String::from_utf8_lossy(&argv[1][..argv[1].len().min(128)])
            )
            .into())
        }
    }
    Ok(())
}

fn help(ctx: &mut Ctx, name: &[u8]) {
    reply_help(
        ctx,
        name,
        &[
            "DIGEST",
            "    Return a digest of the whole dataset (40 zeros when it is empty).",
            "DIGEST-VALUE <key> [<key> ...]",
            "    Return a digest of the value at each key.",
            "ERROR <text>",
            "    Reply with the error <text>.",
            "HTSTATS <dbid>",
            "    Return hash table statistics of a database.",
            "LOADAOF",
            "    Write the AOF buffer to disk and load the dataset again from the AOF.",
            "LOG <message>",
            "    Write <message> to the server log.",
            "OBJECT <key>",
            "    Show low level information about the value at a key.",
            "PAUSE-CRON <0|1>",
            "    Stop or resume the periodic background task.",
            "POPULATE <count> [<prefix>] [<size>]",
            "    Create <count> string keys named <prefix>:<n> (default prefix 'key')",
            "    holding 'value:<n>', padded or cut to <size> bytes when given.",
            "PROTOCOL <type>",
            "    Reply with a sample of a RESP type: string|integer|double|bignum|null|",
            "    array|set|map|attrib|push|verbatim|true|false.",
            "QUICKLIST-PACKED-THRESHOLD <size>",
            "RELOAD [MERGE] [NOFLUSH] [NOSAVE]",
            "    Save the dataset to the RDB file, empty it and load the file back. NOSAVE",
            "    skips the save, NOFLUSH keeps the current keys, and MERGE lets loaded keys",
            "    replace them.",
            "    Set the size above which list elements are stored on their own.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Turn the active expiry of keys in the background off or on.",
            "SLEEP <seconds>",
            "    Block the server for <seconds> (a decimal number).",
        ],
    );
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: a save and load round trip.
fn reload(ctx: &mut Ctx, opts: &[&[u8]]) -> Result<(), CmdError> {
    let (mut merge, mut noflush, mut nosave) = (false, false, false);
    for opt in opts {
        let slot = match opt.to_ascii_lowercase().as_slice() {
            b"merge" => &mut merge,
            b"noflush" => &mut noflush,
            b"nosave" => &mut nosave,
            _ => return Err("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.".into()),
        };
        *slot = true;
    }
    crate::persistence::rdb::reload(ctx.srv, nosave, noflush, merge)?;
    ctx.reply().ok();
    Ok(())
}

/// C's `atoi`: optional blanks and sign, then digits; 0 when there are none.
fn atoi(arg: &[u8]) -> i64 {
    let text = String::from_utf8_lossy(arg);
    let text = text.trim_start();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let value = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |n, d| n.wrapping_mul(10).wrapping_add(i64::from(d - b'0')));
    if negative {
        -value
    } else {
        value
    }
}

/// DEBUG SLEEP: blocks the whole server, as Redis does. Unparsable or
/// negative durations do not sleep at all.
fn sleep(ctx: &mut Ctx, seconds: &[u8]) {
    let seconds = parse_f64(seconds).unwrap_or(0.0);
    if seconds.is_finite() && seconds > 0.0 {
        std::thread::sleep(std::time::Duration::from_secs_f64(seconds.min(u32::MAX as f64)));
    }
    ctx.reply().ok();
}

/// DEBUG OBJECT, in Redis's line format. The address is where the value
/// lives here, the serialized length is what an RDB would take without
/// compression.
fn object(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let lru_clock = ctx.srv.lru_clock();
    let shared_integers = shared_integers_allowed(ctx);
    let entry = ctx.db().get(key).ok_or(errors::NO_SUCH_KEY)?;
    let refcount = match &entry.value {
        Value::Str(StrValue::Int(i)) if shared_integers && (0..SHARED_INTEGERS).contains(i) => i32::MAX,
        _ => 1,
    };
    let mut line = format!(
        "Value at:{:p} refcount:{} encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        &entry.value,
        refcount,
        entry.value.encoding(),
        serialized_length(&entry.value),
        entry.access,
        idle_seconds(entry, lru_clock)
    );
    if let Value::List(list) = &entry.value {
        line.push_str(&quicklist_details(list));
    }
    ctx.reply().simple(&line);
    Ok(())
}

/// The quicklist fields Redis appends to DEBUG OBJECT: `ql_compressed`
/// says whether the list was created with a compression depth, and the
/// uncompressed size adds up the nodes' listpacks, compressed or not.
fn quicklist_details(list: &cinnabar_storage::List) -> String {
    let nodes = list.node_count();
    format!(
        " ql_nodes:{} ql_avg_node:{:.2} ql_listpack_max:{} ql_compressed:{} ql_uncompressed_size:{}",
        nodes,
        list.len() as f64 / nodes.max(1) as f64,
        list.fill(),
        i32::from(list.compress_depth() != 0),
        list.node_sizes().sum::<usize>()
    )
}

/// Redis shares the objects of small integers (refcount INT_MAX) unless an
/// LRU/LFU eviction policy needs per-object access times.
const SHARED_INTEGERS: i64 = 10000;

fn shared_integers_allowed(ctx: &Ctx) -> bool {
    let policy = &ctx.srv.config.maxmemory_policy;
    ctx.srv.config.maxmemory == 0 || !(policy.contains("lru") || policy.contains("lfu"))
}

/// Seconds since the entry was last accessed, on Redis's wrapping 24-bit
/// seconds clock.
fn idle_seconds(entry: &Entry, lru_clock: u32) -> u32 {
    const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;
    if lru_clock >= entry.access {
        lru_clock - entry.access
    } else {
        lru_clock + (LRU_CLOCK_MAX - entry.access)
    }
}

/// The bytes an uncompressed RDB would use for the value (Redis's
/// `rdbSavedObjectLen`).
fn serialized_length(value: &Value) -> usize {
    match value {
        Value::Str(StrValue::Int(i)) => integer_length(*i).unwrap_or_else(|| string_length(i.to_string().as_bytes())),
        Value::Str(s) => string_length(&s.as_bytes()),
        Value::Zset(z) => match z.listpack() {
            Some(lp) => string_length(lp.as_bytes()),
            None => zset_serialized_length(z),
        },
        // RDB_TYPE_LIST_QUICKLIST_2: node count, then per node its container
        // kind and its listpack as a string; a compressed node is written as
        // its LZF blob (encoding byte, both lengths, data). Compression of
        // raw nodes by `rdbcompression` is not counted.
        Value::List(l) => {
            let node = |n: cinnabar_storage::list::NodeSize| match n.compressed {
                Some(lzf) => 1 + length_prefix(lzf) + length_prefix(n.raw) + lzf,
                None => length_prefix(n.raw) + n.raw,
            };
            length_prefix(l.node_count()) + l.node_footprints().map(|n| 1 + node(n)).sum::<usize>()
        }
        Value::Hash(h) => match h {
            Hash::Listpack(lp) => string_length(lp.as_bytes()),
            Hash::Table(_) => {
                length_prefix(h.len())
                    + h.iter().map(|(f, v)| string_length(&f.to_vec()) + string_length(&v.to_vec())).sum::<usize>()
            }
        },
        Value::Set(s) => match s {
            Set::Ints(ints) => string_length(ints.as_bytes()),
            Set::Table(_) => length_prefix(s.len()) + s.iter().map(|m| string_length(&m.to_vec())).sum::<usize>(),
        },
        // Only strings have an exact figure until RDB serialization exists;
        // for the rest the in-memory size stands in.
        other => other.heap_size(),
    }
}

/// A large sorted set in an RDB: its length, then each member followed by
/// its score as an 8-byte binary double.
fn zset_serialized_length(z: &cinnabar_storage::Zset) -> usize {
    let mut total = length_prefix(z.len());
    z.visit(0, usize::MAX, false, &mut |member, _| total += string_length(member) + 8);
    total
}

/// An RDB string: integers of up to 11 characters are stored encoded.
fn string_length(bytes: &[u8]) -> usize {
    if bytes.len() <= 11 {
        if let Some(len) = parse_i64(bytes).and_then(integer_length) {
            return len;
        }
    }
    length_prefix(bytes.len()) + bytes.len()
}

/// RDB integer encoding: a type byte plus 1, 2 or 4 bytes; None if too big.
fn integer_length(i: i64) -> Option<usize> {
    if i8::try_from(i).is_ok() {
        Some(2)
    } else if i16::try_from(i).is_ok() {
        Some(3)
    } else if i32::try_from(i).is_ok() {
        Some(5)
    } else {
        None
    }
}

fn length_prefix(len: usize) -> usize {
    match len {
        0..=63 => 1,
        64..=16383 => 2,
        _ if len <= u32::MAX as usize => 5,
        _ => 9,
    }
}

/// Redis's `getPositiveLongFromObjectOrReply`, which gives the same error
/// for a non-number as for a negative one.
fn positive_long(arg: &[u8]) -> Result<i64, &'static str> {
    parse_i64(arg).filter(|&n| n >= 0).ok_or("ERR value is out of range, must be positive")
}

/// Longest key DEBUG POPULATE writes: Redis formats names into 128 bytes.
const POPULATE_KEY_MAX: usize = 127;

/// DEBUG POPULATE count [prefix] [size]: keys that already exist are kept.
fn populate(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let count = positive_long(args[0])?;
    let prefix = args.get(1).copied().unwrap_or(b"key");
    let size = args.get(2).map(|s| positive_long(s)).transpose()?.unwrap_or(0) as usize;
    for n in 0..count {
        let mut key = prefix.to_vec();
        key.extend_from_slice(format!(":{n}").as_bytes());
        key.truncate(POPULATE_KEY_MAX);
        if ctx.lookup_write(&key).is_some() {
            continue;
        }
        let mut value = format!("value:{n}").into_bytes();
        if size > 0 {
            value.resize(size, 0);
        }
        ctx.set_key(&key, Value::Str(unencoded_string(value)), false);
    }
    ctx.reply().ok();
    Ok(())
}

/// A string stored as given, never as an integer (Redis's `createStringObject`).
fn unencoded_string(bytes: Vec<u8>) -> StrValue {
    if bytes.len() <= cinnabar_storage::value::EMBSTR_MAX {
        StrValue::Embstr(SmallBytes::new(&bytes))
    } else {
        StrValue::raw(bytes)
    }
}

/// SHA1 of `data`, xored into `digest`: order-independent accumulation.
fn xor_digest(digest: &mut [u8; 20], data: &[u8]) {
    let hash = Sha1::digest(data);
    digest.iter_mut().zip(hash.iter()).for_each(|(d, h)| *d ^= h);
}

/// `digest = SHA1(digest xor SHA1(data))`: order-dependent accumulation.
fn mix_digest(digest: &mut [u8; 20], data: &[u8]) {
    xor_digest(digest, data);
    *digest = Sha1::digest(*digest).into();
}

/// Redis's type codes, as the digest (and the RDB) number them.
fn type_code(value: &Value) -> u32 {
    match value {
        Value::Str(_) => 0,
        Value::Set(_) => 2,
        Value::Hash(_) => 4,
        Value::Stream(_) => 6,
        Value::List(_) => 1,
        Value::Zset(_) => 3,
    }
}

/// Mixes a value, and whether its key has a TTL, into `digest` (Redis's
/// `xorObjectDigest`).
fn value_digest(digest: &mut [u8; 20], value: &Value, has_expire: bool) {
    mix_digest(digest, &type_code(value).to_be_bytes());
    match value {
        Value::Str(s) => mix_digest(digest, &s.as_bytes()),
        // Each entry: its id as `ms.seq`, then its fields and values in order
        // (consumer groups are not part of the digest, as in Redis).
        Value::Stream(stream) => {
            for (id, fields) in stream.range(StreamId::MIN, StreamId::MAX, false, 0) {
                mix_digest(digest, format!("{}.{}", id.ms, id.seq).as_bytes());
                for field in fields {
                    mix_digest(digest, field);
                }
            }
        }
        // Members and pairs are xored in, so their order does not matter.
        Value::Set(set) => set.iter().for_each(|member| xor_digest(digest, &member.to_vec())),
        Value::Hash(hash) => {
            for (field, value) in hash.iter() {
                let mut pair = [0u8; 20];
                mix_digest(&mut pair, &field.to_vec());
                mix_digest(&mut pair, &value.to_vec());
                xor_digest(digest, &pair);
            }
        }
        Value::List(l) => l.iter().for_each(|e| mix_digest(digest, &e.to_vec())),
        Value::Zset(z) => zset_digest(digest, z),
    }
    if has_expire {
        xor_digest(digest, b"!!expire!!");
    }
}

/// Each member and its score (as `%.17g`) mixed into a fresh digest, xored
/// together so member order does not matter.
fn zset_digest(digest: &mut [u8; 20], z: &cinnabar_storage::Zset) {
    z.visit(0, usize::MAX, false, &mut |member, score| {
        let mut element = [0u8; 20];
        mix_digest(&mut element, member);
        mix_digest(&mut element, cinnabar_protocol::numbers::format_g17(score).as_bytes());
        xor_digest(digest, &element);
    });
}

fn hex(digest: &[u8; 20]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// DEBUG DIGEST: every database's index mixed in, then each key-value pair's
/// digest xored in, so key order does not matter.
fn digest(ctx: &mut Ctx) {
    let mut total = [0u8; 20];
    for (index, db) in ctx.srv.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        mix_digest(&mut total, &(index as u32).to_be_bytes());
        for (key, entry) in db.iter() {
            let mut pair = [0u8; 20];
            mix_digest(&mut pair, key);
            value_digest(&mut pair, &entry.value, db.expire_at(key).is_some());
            xor_digest(&mut total, &pair);
        }
    }
    ctx.reply().simple(&hex(&total));
}

/// DEBUG DIGEST-VALUE: per key, including logically expired ones; absent
/// keys give 40 zeros.
fn digest_values(ctx: &mut Ctx, keys: &[&[u8]]) {
    let db = &ctx.srv.dbs[ctx.client.db];
    let reply = &mut ctx.client.reply;
    reply.array(keys.len());
    for key in keys {
        let mut digest = [0u8; 20];
        if let Some(entry) = db.get(key) {
            value_digest(&mut digest, &entry.value, db.expire_at(key).is_some());
        }
        reply.simple(&hex(&digest));
    }
}

/// DEBUG PROTOCOL <type>: a sample reply of each RESP type.
fn protocol(ctx: &mut Ctx, kind: &[u8]) -> CmdResult {
    let reply = ctx.reply();
    match kind.to_ascii_lowercase().as_slice() {
        b"string" => reply.bulk(b"Hello World"),
        b"integer" => reply.int(12345),
        // Redis's sample value, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        b"double" => reply.double(3.141),
        b"bignum" => reply.big_number(b"1234567999999999999999999999999999999"),
        b"null" => reply.null(),
        b"array" | b"set" => {
            if kind.eq_ignore_ascii_case(b"set") {
                reply.set(3);
            } else {
                reply.array(3);
            }
            (0..3).for_each(|i| reply.int(i));
        }
        b"map" => {
            reply.map(3);
            for i in 0..3 {
                reply.int(i);
                reply.bool(i == 1);
            }
        }
        b"attrib" => {
            if reply.is_resp3() {
                reply.raw(b"|1\r\n");
                reply.bulk(b"key-popularity");
                reply.array(2);
                reply.bulk(b"key:123");
                reply.int(90);
            }
            reply.bulk(b"Some real reply following the attribute");
        }
        b"push" => {
            if !reply.is_resp3() {
                return Err("ERR RESP2 is not supported by this command".into());
            }
            reply.push(2);
            reply.bulk(b"server-cpu-usage");
            reply.int(42);
            reply.bulk(b"Some real reply following the push reply");
        }
        b"true" => reply.bool(true),
        b"false" => reply.bool(false),
        b"verbatim" => reply.verbatim(b"This is a verbatim\nstring"),
        _ => {
            return Err("ERR Wrong protocol type name. Please use one of the following: \
                        string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false"
                .into())
        }
    }
    Ok(())
}

/// Largest threshold Redis accepts: just under 4GB.
const PACKED_THRESHOLD_MAX: u64 = (1 << 32) - (1 << 20);
/// What 0 restores.
const PACKED_THRESHOLD_DEFAULT: u64 = 1 << 30;

fn quicklist_packed_threshold(ctx: &mut Ctx, arg: &[u8]) -> CmdResult {
    let size = std::str::from_utf8(arg)
        .ok()
        .and_then(crate::config::parse_memory)
        .filter(|&n| n <= PACKED_THRESHOLD_MAX)
        .ok_or("ERR argument must be a memory value bigger than 1 and smaller than 4gb")?;
    ctx.srv.quicklist_packed_threshold = if size == 0 { PACKED_THRESHOLD_DEFAULT } else { size };
    ctx.reply().ok();
    Ok(())
}

/// DEBUG HTSTATS <dbid>: chain statistics of the key and expiry tables, in
/// Redis's layout (the numbers are Cinnabar's own tables').
fn htstats(ctx: &mut Ctx, arg: &[u8]) -> CmdResult {
    let index = parse_i64(arg).ok_or(errors::NOT_INTEGER)?;
    let db = usize::try_from(index).ok().and_then(|i| ctx.srv.dbs.get(i)).ok_or("ERR Out of range database")?;
    let (keys, expires) = db.table_stats();
    let mut text = String::from("[Dictionary HT]\n");
    keys.iter().enumerate().for_each(|(i, t)| text.push_str(&table_stats(i, t)));
    text.push_str("[Expires HT]\n");
    expires.iter().enumerate().for_each(|(i, t)| text.push_str(&table_stats(i, t)));
    ctx.reply().verbatim(text.as_bytes());
    Ok(())
}

/// One table's section (Redis's `_dictGetStatsHt`); Redis computes the
/// ratios in single precision.
fn table_stats(index: usize, stats: &TableStats) -> String {
    let role = if index == 0 { "main hash table" } else { "rehashing target" };
    let mut text = format!("Hash table {index} stats ({role}):\n");
    if stats.used == 0 {
        text.push_str("No stats available for empty dictionaries\n");
        return text;
    }
    let ratio = |a: usize, b: usize| a as f32 / b as f32;
    text.push_str(&format!(
        " table size: {}\n number of elements: {}\n different slots: {}\n max chain length: {}\n \
         avg chain length (counted): {:.2}\n avg chain length (computed): {:.2}\n Chain length distribution:\n",
        stats.size,
        stats.used,
        stats.slots,
        stats.max_chain,
        ratio(stats.total_chain, stats.slots),
        ratio(stats.used, stats.slots)
    ));
    for (chain, &count) in stats.histogram[..TableStats::HISTOGRAM_LEN - 1].iter().enumerate() {
        if count > 0 {
            text.push_str(&format!("   {chain}: {count} ({:.2}%)\n", ratio(count, stats.size) * 100.0));
        }
    }
    text
}
