//! ACL across connections and files, against the real redis-server where the
//! bytes must match: users with different command, key and channel rights,
//! ACL LOG entries, the ACL file (load, save, reload), `user` directives,
//! clients dropped when their user is deleted or reloaded, and `requirepass`
//! as the default user's password.

mod common;

use std::time::Duration;

use common::{Kind, RawConn, ServerProcess};

/// Runs `commands` on a fresh connection to each server; the replies must
/// be byte-identical. Returns Cinnabar's replies.
fn same_replies(servers: &[ServerProcess; 2], commands: &[&[&str]]) -> Vec<String> {
    same_replies_with(servers, commands, |_, reply| reply)
}

/// `same_replies`, comparing the replies as `normalize(server index, reply)`
/// rewrites them (e.g. to hide each server's own file path).
fn same_replies_with(
    servers: &[ServerProcess; 2],
    commands: &[&[&str]],
    normalize: impl Fn(usize, String) -> String,
) -> Vec<String> {
    let mut conns: Vec<RawConn> = servers.iter().map(ServerProcess::raw).collect();
    let mut ours = Vec::new();
    for command in commands {
        let replies: Vec<String> = conns.iter_mut().enumerate().map(|(i, c)| normalize(i, c.cmd(command))).collect();
        assert_eq!(replies[0], replies[1], "{command:?}");
        ours.push(replies[0].clone());
    }
    ours
}

/// Whether the server closed `conn` (a read sees the end within a second).
fn closed(conn: &mut RawConn) -> bool {
    conn.stream().set_read_timeout(Some(Duration::from_secs(1))).expect("timeout");
    let mut buf = [0u8; 64];
    match conn.read_some(&mut buf) {
        Ok(n) => n == 0,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

#[test]
fn users_with_different_rights_get_redis_replies() {
    let servers = ServerProcess::both(&[]);
    same_replies(
        &servers,
        &[
            &["ACL", "SETUSER", "reader", "on", ">r", "%R~data:*", "+@read", "+@connection"],
            &["ACL", "SETUSER", "writer", "on", ">w", "~data:*", "~tmp:*", "+@write", "+get", "-del"],
            &["ACL", "SETUSER", "sel", "on", ">s", "~a:*", "+get", "(~b:* +set +get)"],
            &["SET", "data:1", "x"],
            &["SET", "other", "y"],
        ],
    );
    let replies = same_replies(
        &servers,
        &[
            &["AUTH", "reader", "r"],
            &["GET", "data:1"],
            &["GET", "other"],
            &["SET", "data:1", "z"],
            &["MGET", "data:1", "data:2"],
            &["MGET", "data:1", "other"],
            &["EXISTS", "data:1"],
            &["ACL", "WHOAMI"],
            &["AUTH", "writer", "w"],
            &["SET", "data:2", "v"],
            &["SET", "nope", "v"],
            &["DEL", "data:2"],
            &["COPY", "data:1", "tmp:1"],
            &["RENAME", "tmp:1", "data:3"],
            &["LPUSH", "tmp:list", "a"],
            &["INCR", "other"],
            &["AUTH", "sel", "s"],
            &["GET", "a:1"],
            &["GET", "b:1"],
            &["SET", "b:1", "v"],
            &["SET", "a:1", "v"],
            &["MSET", "b:1", "v"],
            &["CLIENT", "INFO"],
        ],
    );
    assert!(replies[1].starts_with("$1\r\nx"));
    assert!(replies[2].starts_with("-NOPERM this user has no permissions to access one of the keys"));
    assert!(replies[3].starts_with("-NOPERM this user has no permissions to run the 'set' command"));
}

#[test]
fn client_list_names_the_user() {
    let server = ServerProcess::cinnabar(&[]);
    let mut admin = server.raw();
    admin.cmd(&["ACL", "SETUSER", "bob", "on", "nopass", "+@all", "~*"]);
    let mut bob = server.raw();
    assert_eq!(bob.cmd(&["AUTH", "bob", "anything"]), "+OK\r\n");
    let list = admin.cmd(&["CLIENT", "LIST"]);
    assert!(list.contains(" user=bob "), "{list}");
    assert!(list.contains(" user=default "), "{list}");
}

#[test]
fn acl_log_entries_match_redis() {
    let servers = ServerProcess::both(&[]);
    let setup: &[&[&str]] = &[&["ACL", "SETUSER", "u", "on", ">pw", "~k*", "+get", "+set", "+publish"]];
    same_replies(&servers, setup);
    let denials: &[&[&str]] = &[
        &["AUTH", "u", "pw"],
        &["GET", "x"],
        &["GET", "x"],
        &["INCR", "k"],
        &["PUBLISH", "chan", "m"],
        &["AUTH", "u", "bad"],
        &["HELLO", "2", "AUTH", "ghost", "x"],
    ];
    same_replies(&servers, denials);
    for server in &servers {
        let entries = acl_log(server);
        let summary: Vec<String> = entries.iter().map(|e| summarize(e)).collect();
        assert_eq!(
            summary,
            vec![
                "count=1 reason=auth context=toplevel object=HELLO username=ghost",
                "count=1 reason=auth context=toplevel object=AUTH username=u",
                "count=1 reason=channel context=toplevel object=chan username=u",
                "count=1 reason=command context=toplevel object=incr username=u",
                "count=2 reason=key context=toplevel object=x username=u",
            ],
            "{:?}",
            server.kind
        );
        let info = text(&entries[3][13]);
        assert!(info.contains(" cmd=incr user=u "), "{info}");
        let mut conn = server.client();
        let one: Vec<redis::Value> = redis::cmd("ACL").arg("LOG").arg(1).query(&mut conn).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(redis::cmd("ACL").arg("LOG").arg("RESET").query::<String>(&mut conn).unwrap(), "OK");
        assert!(redis::cmd("ACL").arg("LOG").query::<Vec<redis::Value>>(&mut conn).unwrap().is_empty());
    }
}

#[test]
fn commands_refused_to_scripts_are_logged_with_context_lua() {
    let servers = ServerProcess::both(&[]);
    same_replies(&servers, &[&["ACL", "SETUSER", "u", "on", ">pw", "~k*", "&ch*", "+@all", "-set"]]);
    let denials: &[&[&str]] = &[
        &["AUTH", "u", "pw"],
        &["EVAL", "return redis.pcall('set', 'k', 'v')", "0"],
        &["EVAL", "return redis.call('set', 'k', 'v')", "0"],
        &["EVAL", "return redis.call('get', 'x')", "0"],
        &["EVAL", "return redis.call('publish', 'news', 'm')", "0"],
        // redis.acl_check_cmd answers without logging.
        &["EVAL", "return redis.acl_check_cmd('get', 'x')", "0"],
    ];
    same_replies(&servers, denials);
    for server in &servers {
        let entries = acl_log(server);
        let summary: Vec<String> = entries.iter().map(|e| summarize(e)).collect();
        assert_eq!(
            summary,
            vec![
                "count=1 reason=channel context=lua object=news username=u",
                "count=1 reason=key context=lua object=x username=u",
                "count=2 reason=command context=lua object=set username=u",
            ],
            "{:?}",
            server.kind
        );
        // The entry describes the caller running its script.
        let info = text(&entries[1][13]);
        assert!(info.contains(" argv-mem=34 ") && info.contains(" cmd=eval user=u "), "{:?}: {info}", server.kind);
    }
}

/// ACL LOG's entries, each as its flat list of field names and values.
fn acl_log(server: &ServerProcess) -> Vec<Vec<redis::Value>> {
    let mut conn = server.client();
    let entries: Vec<redis::Value> = redis::cmd("ACL").arg("LOG").query(&mut conn).expect("ACL LOG");
    entries.into_iter().map(fields).collect()
}

fn fields(entry: redis::Value) -> Vec<redis::Value> {
    match entry {
        redis::Value::Array(items) => items,
        redis::Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        other => panic!("not an entry: {other:?}"),
    }
}

fn text(v: &redis::Value) -> String {
    match v {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::Int(i) => i.to_string(),
        other => format!("{other:?}"),
    }
}

/// The fields of a log entry that do not depend on time or connection.
fn summarize(entry: &[redis::Value]) -> String {
    let names: Vec<String> = entry.iter().step_by(2).map(text).collect();
    assert_eq!(names, ["count", "reason", "context", "object", "username", "age-seconds", "client-info"]);
    (0..5).map(|i| format!("{}={}", names[i], text(&entry[2 * i + 1]))).collect::<Vec<_>>().join(" ")
}

#[test]
fn deleting_a_user_disconnects_its_clients() {
    let server = ServerProcess::cinnabar(&[]);
    let mut admin = server.raw();
    admin.cmd(&["ACL", "SETUSER", "temp", "on", ">t", "+@all", "~*"]);
    let mut victim = server.raw();
    let mut bystander = server.raw();
    assert_eq!(victim.cmd(&["AUTH", "temp", "t"]), "+OK\r\n");
    assert_eq!(admin.cmd(&["ACL", "DELUSER", "temp"]), ":1\r\n");
    assert!(closed(&mut victim));
    assert_eq!(bystander.cmd(&["PING"]), "+PONG\r\n");
    // Deleting one's own user: the reply arrives, then the connection closes.
    admin.cmd(&["ACL", "SETUSER", "self", "on", ">s", "+@all", "~*"]);
    let mut own = server.raw();
    own.cmd(&["AUTH", "self", "s"]);
    assert_eq!(own.cmd(&["ACL", "DELUSER", "self"]), ":1\r\n");
    assert!(closed(&mut own));
}

#[test]
fn changed_rules_apply_to_connected_clients_at_once() {
    let server = ServerProcess::cinnabar(&[]);
    let mut admin = server.raw();
    admin.cmd(&["ACL", "SETUSER", "u", "on", ">p", "+get", "~*"]);
    let mut user = server.raw();
    user.cmd(&["AUTH", "u", "p"]);
    assert_eq!(user.cmd(&["GET", "k"]), "$-1\r\n");
    admin.cmd(&["ACL", "SETUSER", "u", "-get"]);
    assert_eq!(user.cmd(&["GET", "k"]), "-NOPERM this user has no permissions to run the 'get' command\r\n");
    // Turning the user off keeps its authenticated connections, as in Redis.
    admin.cmd(&["ACL", "SETUSER", "u", "off", "+get"]);
    assert_eq!(user.cmd(&["GET", "k"]), "$-1\r\n");
}

#[test]
fn aclfile_load_and_save_round_trip_like_redis() {
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let paths: Vec<String> = dirs.iter().map(|d| d.path().join("users.acl").display().to_string()).collect();
    let initial = "user default on nopass ~* &* +@all\nuser alice on #2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b ~cache:* resetchannels &feed -@all +@read\n";
    let servers: Vec<ServerProcess> = [Kind::Cinnabar, Kind::Redis]
        .iter()
        .zip(&paths)
        .map(|(&kind, path)| {
            std::fs::write(path, initial).unwrap();
            ServerProcess::start(kind, &["--aclfile", path])
        })
        .collect();
    let servers: [ServerProcess; 2] = servers.try_into().unwrap_or_else(|_| unreachable!());
    same_replies(
        &servers,
        &[
            &["ACL", "LIST"],
            &["AUTH", "alice", "secret"],
            &["GET", "cache:1"],
            &["GET", "other"],
            &["AUTH", "default", "x"],
            &["ACL", "SETUSER", "bob", "on", ">b", "%R~r:*", "(+set ~w:*)", "+get"],
            &["ACL", "SAVE"],
        ],
    );
    let saved: Vec<String> = paths.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    assert_eq!(saved[0], saved[1]);
    assert!(saved[0].contains("user bob on #"), "{}", saved[0]);

    // A client of a reloaded user is dropped, even when its rules stay.
    let mut alice: Vec<RawConn> = servers.iter().map(ServerProcess::raw).collect();
    for conn in &mut alice {
        assert_eq!(conn.cmd(&["AUTH", "alice", "secret"]), "+OK\r\n");
    }
    for path in &paths {
        std::fs::write(path, format!("{}user carol on nopass +ping\n", saved[0])).unwrap();
    }
    same_replies(&servers, &[&["ACL", "LOAD"], &["ACL", "USERS"], &["ACL", "GETUSER", "carol"]]);
    for conn in &mut alice {
        assert!(closed(conn));
    }

    // A bad file changes nothing and reports every problem.
    for path in &paths {
        std::fs::write(path, "user dave on +nosuch\nuser eve on bogus\nnotauser x\nuser dave on\n").unwrap();
    }
    let replies = same_replies_with(&servers, &[&["ACL", "LOAD"], &["ACL", "USERS"]], |i, reply| {
        reply.replace(&paths[i], "PATH")
    });
    assert!(replies[0].starts_with("-ERR PATH:1: Error in applying operation '+nosuch'"), "{}", replies[0]);
}

#[test]
fn user_directives_define_users_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("redis.conf");
    std::fs::write(&conf, "user default on >topsecret ~* &* +@all\nuser ops on nopass (~x +get) -@all +info\n")
        .unwrap();
    let conf = conf.display().to_string();
    let servers = [
        ServerProcess::start_with_file(Kind::Cinnabar, Some(&conf), &[]),
        ServerProcess::start_with_file(Kind::Redis, Some(&conf), &[]),
    ];
    same_replies(
        &servers,
        &[&["PING"], &["AUTH", "topsecret"], &["ACL", "LIST"], &["AUTH", "ops", "x"], &["GET", "x"], &["GET", "y"]],
    );
}

#[test]
fn users_in_both_the_config_and_an_aclfile_stop_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let acl = dir.path().join("users.acl");
    std::fs::write(&acl, "user default on nopass ~* &* +@all\n").unwrap();
    let conf = dir.path().join("redis.conf");
    std::fs::write(&conf, format!("aclfile {}\nuser ops on nopass +@all\n", acl.display())).unwrap();
    let port = common::free_port().to_string();
    let status = std::process::Command::new(common::cinnabar_binary())
        .args([conf.to_str().unwrap(), "--port", &port])
        .stdout(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&status.stdout).contains("but not both"));
}

#[test]
fn requirepass_is_the_default_users_password() {
    let servers = ServerProcess::both(&["--requirepass", "foo"]);
    same_replies(
        &servers,
        &[
            &["GET", "k"],
            &["ACL", "WHOAMI"],
            &["AUTH", "bar"],
            &["AUTH", "foo"],
            &["ACL", "GETUSER", "default"],
            &["CONFIG", "SET", "requirepass", "baz"],
            &["ACL", "LIST"],
        ],
    );
    same_replies(&servers, &[&["PING"], &["AUTH", "foo"], &["AUTH", "default", "baz"], &["PING"]]);
    same_replies(
        &servers,
        &[&["AUTH", "baz"], &["CONFIG", "SET", "requirepass", ""], &["ACL", "LIST"], &["CONFIG", "GET", "requirepass"]],
    );
    same_replies(&servers, &[&["PING"], &["AUTH", "x"]]);
}

#[test]
fn config_rewrite_writes_the_users_like_redis() {
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let confs: Vec<String> = dirs.iter().map(|d| d.path().join("redis.conf").display().to_string()).collect();
    let servers: Vec<ServerProcess> = [Kind::Cinnabar, Kind::Redis]
        .iter()
        .zip(&confs)
        .map(|(&kind, conf)| {
            std::fs::write(conf, "user old on nopass +@all ~*\nuser default on nopass ~* &* +@all\n").unwrap();
            ServerProcess::start_with_file(kind, Some(conf), &[])
        })
        .collect();
    let servers: [ServerProcess; 2] = servers.try_into().unwrap_or_else(|_| unreachable!());
    same_replies(
        &servers,
        &[
            &["ACL", "DELUSER", "old"],
            &["ACL", "SETUSER", "new", "on", ">n", "%R~r*", "+@read"],
            &["CONFIG", "REWRITE"],
        ],
    );
    let users: Vec<Vec<String>> = confs
        .iter()
        .map(|c| {
            std::fs::read_to_string(c).unwrap().lines().filter(|l| l.starts_with("user ")).map(String::from).collect()
        })
        .collect();
    assert_eq!(users[0], users[1]);
    assert_eq!(users[0].len(), 2, "{:?}", users[0]);
}

#[test]
fn client_kill_user_kills_that_users_connections() {
    let servers = ServerProcess::both(&[]);
    same_replies(&servers, &[&["ACL", "SETUSER", "k", "on", "nopass", "+@all", "~*"]]);
    let mut victims: Vec<RawConn> = Vec::new();
    for server in &servers {
        for _ in 0..2 {
            let mut conn = server.raw();
            assert_eq!(conn.cmd(&["AUTH", "k", "x"]), "+OK\r\n");
            victims.push(conn);
        }
    }
    same_replies(&servers, &[&["CLIENT", "KILL", "USER", "k"], &["CLIENT", "KILL", "USER", "nosuch"]]);
    for conn in &mut victims {
        assert!(closed(conn));
    }
}

/// An ACL change that takes a channel or pattern away from a user
/// disconnects that user's clients subscribed to it, as Redis 7.0 does;
/// clients whose subscriptions are still allowed stay.
#[test]
fn revoking_channels_disconnects_their_subscribers() {
    for server in ServerProcess::both(&[]) {
        let mut admin = server.raw();
        assert_eq!(admin.cmd(&["ACL", "SETUSER", "u", "on", ">pw", "+@all", "~*", "&news*"]), "+OK\r\n");
        let subscribe = |verb: &str, name: &str| {
            let mut c = server.raw();
            assert_eq!(c.cmd(&["AUTH", "u", "pw"]), "+OK\r\n");
            c.cmd(&[verb, name]);
            c
        };
        let mut channel = subscribe("SUBSCRIBE", "news1");
        let mut pattern = subscribe("PSUBSCRIBE", "news*");
        let mut shard = subscribe("SSUBSCRIBE", "news2");
        admin.cmd(&["ACL", "SETUSER", "u", "resetchannels", "&news1", "&news2"]);
        assert!(closed(&mut pattern), "{:?}: the pattern is no longer allowed", server.kind);
        assert!(!closed(&mut channel), "{:?}", server.kind);
        assert!(!closed(&mut shard), "{:?}", server.kind);
        admin.cmd(&["ACL", "SETUSER", "u", "resetchannels", "&news2"]);
        assert!(closed(&mut channel), "{:?}", server.kind);
        assert!(!closed(&mut shard), "{:?}", server.kind);
    }
}
