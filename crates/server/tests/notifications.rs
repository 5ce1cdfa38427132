//! Keyspace notifications: a script of commands covering every command
//! family runs on Cinnabar and on the real redis-server 7.0, each with a
//! subscriber to `__key*__:*`, and both subscribers must see the same
//! messages in the same order.

mod common;

use common::{Kind, ServerProcess};

/// Commands, one per line in redis-cli quoting; `!sleep <ms>` pauses.
const SCRIPT: &str = r#"
SET s1 v
SET s1 v2 EX 100
SETNX s1 x
SETNX s2 x
SETEX s3 100 v
PSETEX s4 100000 v
MSET m1 a m2 b
MSETNX m3 a m4 b
APPEND s1 more
APPEND fresh more
SETRANGE s1 2 zz
INCR counter
DECR counter
INCRBY counter 5
DECRBY counter 2
INCRBYFLOAT counter 1.5
GETSET s1 new
GETDEL s2
GETEX s1 EX 100
GETEX s1 PERSIST
GET missing
STRLEN missing
SET s5 v KEEPTTL
SET s5 v NX
SET s5 v XX GET
LPUSH l1 a b c d e
RPUSH l1 f g
LPUSHX l1 h
RPUSHX l1 i
LPUSHX nolist h
LINSERT l1 BEFORE a z
LSET l1 0 y
LREM l1 1 z
LTRIM l1 0 5
LPOP l1
RPOP l1 2
RPOPLPUSH l1 l2
LMOVE l1 l2 LEFT RIGHT
LMPOP 1 l2 LEFT COUNT 10
LPOP l1 100
BLPOP l3 0.01
RPUSH l4 x
BLMOVE l4 l5 LEFT LEFT 0
HSET h1 a 1 b 2
HSETNX h1 c 3
HSETNX h1 c 3
HMSET h1 d 4
HINCRBY h1 a 5
HINCRBYFLOAT h1 b 1.5
HDEL h1 a nope
HDEL h1 b c d
HGET h1 a
SADD set1 a b c d
SREM set1 a
SADD set2 c d e
SMOVE set1 set2 b
SPOP set1
SINTERSTORE set3 set1 set2
SUNIONSTORE set3 set1 set2
SDIFFSTORE set3 set2 set1
SINTERSTORE set3 nothing set2
SPOP set2 10
ZADD z1 1 a 2 b 3 c 4 d 5 e
ZADD z1 INCR 1 a
ZINCRBY z1 2 b
ZREM z1 a
ZREMRANGEBYSCORE z1 0 3
ZREMRANGEBYRANK z1 0 0
ZADD z1 0 a 0 b 0 c 0 d
ZREMRANGEBYLEX z1 [a [b
ZADD z2 1 c 2 x
ZUNIONSTORE z3 2 z1 z2
ZINTERSTORE z3 2 z1 z2
ZDIFFSTORE z3 2 z1 z2
ZRANGESTORE z4 z1 0 -1
ZPOPMIN z1
ZPOPMAX z1
ZMPOP 1 z2 MIN COUNT 5
BZPOPMIN z3 0.01
ZINTERSTORE z3 2 nothing z2
XADD st1 1-1 f v
XADD st1 2-1 f v
XADD st1 MAXLEN 1 3-1 f v
XTRIM st1 MAXLEN 0
XADD st1 4-1 f v
XDEL st1 4-1
XGROUP CREATE st1 g1 $
XGROUP CREATE st2 g1 $ MKSTREAM
XGROUP CREATECONSUMER st1 g1 c1
XADD st1 5-1 f v
XREADGROUP GROUP g1 c2 COUNT 1 STREAMS st1 >
XCLAIM st1 g1 c3 0 5-1
XAUTOCLAIM st1 g1 c4 0 0
XGROUP DELCONSUMER st1 g1 c1
XGROUP SETID st1 g1 0
XGROUP DESTROY st1 g1
XSETID st1 10-1
SETBIT b1 3 1
SETBIT b1 3 1
BITOP OR b2 b1 s1
BITOP AND b3 nothing
BITFIELD b1 SET u8 0 255
BITFIELD b1 GET u8 0
PFADD hll a b c
PFADD hll a
PFADD hll2 z
PFMERGE hll3 hll hll2
PFCOUNT hll hll2
GEOADD geo 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
GEOSEARCHSTORE geo2 geo FROMLONLAT 15 37 BYRADIUS 200 km ASC
GEORADIUS geo 15 37 200 km STORE geo3
SORT l5 STORE sorted
SORT nolist STORE sorted
DEL s3 s4 missing
UNLINK m1
EXPIRE m2 100
PEXPIRE m2 100000
EXPIREAT m2 99999999999
PERSIST m2
EXPIRE m2 -1
SET m3 v
PEXPIREAT m3 1
SET e1 v PX 1
!sleep 20
GET e1
SET e2 v PX 1
!sleep 20
EXISTS e2
RENAME m4 r1
RENAMENX r1 r2
SET r3 v
RENAMENX r2 r3
COPY r2 c1
COPY r2 c1 REPLACE
COPY r2 c2 DB 1
MOVE c1 1
SELECT 1
SET indb1 v
SELECT 0
TYPE missing
GETEX s1 PXAT 1
SETEX sx 100 v
SET sx v GET
LPUSH wrongtype x
INCR l5
RPUSH bl a b
BRPOPLPUSH bl bl2 0
BLMPOP 0.01 1 bl RIGHT COUNT 5
ZADD bz 1 a 2 b
ZADD bz GT 0 a
ZADD bz GT CH 5 a
ZADD bz XX 1 zz
BZMPOP 0.01 1 bz MAX COUNT 1
ZRANGESTORE bz2 bz 5 10
ZRANGESTORE bz3 bz 0 -1
ZRANGESTORE bz3 bz 5 10
SADD ss1 a
SUNIONSTORE ss2 ss1
SDIFFSTORE ss2 ss1 ss1
GEOADD geo 13.583333 37.316667 Agrigento
GEORADIUSBYMEMBER geo Palermo 200 km STORE geo4
GEORADIUS geo 0 0 1 km STORE geo4
RPUSH tosort 3 1 2
SORT tosort STORE sorted
SORT tosort LIMIT 0 0 STORE sorted
BITOP NOT b4 b1
BITOP AND b4 nothing
LPUSH lx a
LPUSHX lx b
LREM lx 0 nope
LTRIM lx 0 -1
LTRIM lx 5 10
HINCRBY hx f 1
HINCRBYFLOAT hx f 0.5
HDEL hx nope
HSET hx f2 v
PFADD hx2
XADD sx2 NOMKSTREAM * f v
XADD sx2 * f v
XTRIM sx2 MAXLEN 10
XDEL sx2 1-1
XGROUP CREATECONSUMER sx2 nogroup c
OBJECT ENCODING nokey
MEMORY USAGE nokey
TTL nokey
PTTL nokey
EXPIRETIME nokey
TOUCH nokey
EXISTS nokey
MGET nokey s1
GETRANGE nokey 0 1
SUBSTR nokey 0 1
LCS nokey s1
BITCOUNT nokey
BITPOS nokey 1
GETBIT nokey 1
BITFIELD_RO nokey GET u8 0
PFCOUNT nokey
LRANGE nokey 0 1
LINDEX nokey 0
LPOS nokey a
LLEN nokey
SMEMBERS nokey
SISMEMBER nokey a
SMISMEMBER nokey a
SRANDMEMBER nokey
SCARD nokey
SINTER nokey s1
SINTERCARD 1 nokey
SUNION nokey
SDIFF nokey
ZRANGE nokey 0 1
ZSCORE nokey a
ZMSCORE nokey a
ZCARD nokey
ZCOUNT nokey 0 1
ZRANK nokey a
ZRANDMEMBER nokey
ZUNION 1 nokey
ZINTERCARD 1 nokey
HGETALL nokey
HGET nokey f
HMGET nokey f
HLEN nokey
HEXISTS nokey f
HSTRLEN nokey f
HRANDFIELD nokey
HKEYS nokey
HSCAN nokey 0
SSCAN nokey 0
ZSCAN nokey 0
GEOPOS nokey a
GEODIST nokey a b
GEOHASH nokey a
GEOSEARCH nokey FROMLONLAT 0 0 BYRADIUS 1 km
XRANGE nokey - +
XLEN nokey
XREAD STREAMS nokey 0
XINFO STREAM nokey
XPENDING nokey g
SORT tosort BY nosuch_* GET nokey_* GET #
SORT_RO nokey
SET ttlkey v PX 1
!sleep 20
RANDOMKEY
SCAN 0 COUNT 1000
KEYS *
DBSIZE
SWAPDB 0 1
SWAPDB 0 1
FLUSHDB
SET e3 v PX 1
!sleep 200
"#;

/// Runs `SCRIPT` on one server with `notify-keyspace-events` set to
/// `classes` and returns the notifications its subscriber received, one
/// `channel -> message` line each.
fn events(kind: Kind, classes: &str) -> Vec<String> {
    let server = ServerProcess::start(kind, &["--hz", "100"]);
    let mut subscriber = server.raw();
    subscriber.cmd(&["PSUBSCRIBE", "__key*__:*"]);
    let mut conn = server.raw();
    conn.cmd(&["CONFIG", "SET", "notify-keyspace-events", classes]);
    for line in SCRIPT.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(ms) = line.strip_prefix("!sleep ") {
            std::thread::sleep(std::time::Duration::from_millis(ms.parse().unwrap()));
            continue;
        }
        let argv = cinnabar_protocol::request::split_args(line.as_bytes()).expect("balanced quotes");
        let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        conn.call(&args);
    }
    // The PING's reply follows every notification already sent.
    subscriber.send_command(&[b"PING", b"end"]);
    let mut seen = Vec::new();
    loop {
        let frame = subscriber.read_reply();
        let text = String::from_utf8_lossy(&frame).into_owned();
        let parts: Vec<&str> = text.split("\r\n").collect();
        if parts.get(2) == Some(&"pong") {
            break;
        }
        // *4 $8 pmessage $n pattern $n channel $n message
        seen.push(format!("{} -> {}", parts[6], parts[8]));
    }
    seen
}

/// Both servers' notifications for `classes`, which must be equal.
fn compare(classes: &str) -> Vec<String> {
    let theirs = events(Kind::Redis, classes);
    let ours = events(Kind::Cinnabar, classes);
    if ours != theirs {
        let mut report = String::new();
        for i in 0..ours.len().max(theirs.len()) {
            let o = ours.get(i).map_or("", String::as_str);
            let t = theirs.get(i).map_or("", String::as_str);
            let mark = if o == t { "  " } else { "!!" };
            report.push_str(&format!("{mark} {i:4} cinnabar: {o:50} redis: {t}\n"));
        }
        panic!("notifications with {classes:?} differ:\n{report}");
    }
    theirs
}

#[test]
fn every_family_notifies_like_redis() {
    let events = compare("KEAnm");
    assert!(events.len() > 300, "the script should produce many events, got {}", events.len());
}

#[test]
fn only_the_enabled_classes_and_channels_notify() {
    let events = compare("Elx");
    assert!(events.iter().all(|e| e.starts_with("__keyevent@")), "{events:?}");
    assert!(events.iter().any(|e| e.contains("lpush")) && events.iter().any(|e| e.contains("expired")));
    assert!(!events.iter().any(|e| e.contains(":set ") || e.contains(":new ")), "{events:?}");
    assert!(compare("A").is_empty(), "without K or E nothing is published");
}
