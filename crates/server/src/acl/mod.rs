//! Access control lists as Redis 7.0 has them: the users registry (with the
//! `default` user every connection starts as), what a user and its selectors
//! allow, and the permission checks run before every command.
//!
//! Submodules: `rules` (parsing ACL rules into users and describing users back
//! as rules), `log` (ACL LOG), `file` (the `aclfile`: load and save).
//!
//! Entry points for other subsystems:
//! - `check_command`: dispatch's check for a client's own command (a
//!   MULTI queue or EXEC passes `Context::Multi`);
//! - `permission` and `log_script_denial`: the same check for commands a
//!   script runs, as its caller's user (the script words its own error,
//!   see `Denial::reason`, and logs with context `lua`);
//! - `check_channel`: whether a user may use a Pub/Sub channel (PUBLISH,
//!   SUBSCRIBE, PSUBSCRIBE with `is_pattern`), e.g. to drop subscribers
//!   whose channels ACL SETUSER revoked. Commands that name channels declare
//!   `CommandSpec::get_channels`, and `check_command` then checks them.
//!
//! The checks only read users; changing users (ACL SETUSER/DELUSER/LOAD) goes
//! through `Acl` and disconnects clients where Redis does.

pub mod file;
pub mod log;
pub mod rules;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use cinnabar_storage::glob;

use crate::client::Client;
use crate::command::keys::{self, KeyRef};
use crate::command::{key_flags, CommandId, CommandTable};
use crate::server::Server;

/// A user, shared by the registry and the clients authenticated as it (so a
/// change by ACL SETUSER applies to them at once, as in Redis).
pub type UserRef = Rc<RefCell<User>>;

/// User flags (`on`, `off`, `nopass`, payload sanitizing), as Redis lists them.
pub mod user_flags {
    pub const ENABLED: u8 = 1 << 0;
    pub const DISABLED: u8 = 1 << 1;
    pub const NOPASS: u8 = 1 << 2;
    pub const SKIP_SANITIZE_PAYLOAD: u8 = 1 << 3;
    pub const SANITIZE_PAYLOAD: u8 = 1 << 4;

    /// Names in the order ACL GETUSER and ACL LIST print them.
    pub const NAMES: [(u8, &str); 5] = [
        (ENABLED, "on"),
        (DISABLED, "off"),
        (NOPASS, "nopass"),
        (SKIP_SANITIZE_PAYLOAD, "skip-sanitize-payload"),
        (SANITIZE_PAYLOAD, "sanitize-payload"),
    ];
}

/// Key pattern permissions (`%R~`, `%W~`, `~` = both).
pub const KEY_READ: u8 = 1;
pub const KEY_WRITE: u8 = 2;
pub const KEY_ALL: u8 = KEY_READ | KEY_WRITE;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPattern {
    pub perms: u8,
    pub pattern: Vec<u8>,
}

/// One set of permissions: commands, key patterns and channel patterns. A
/// user has a root selector plus any number of `(...)` selectors; a command
/// runs if one selector allows all of it.
#[derive(Clone, Debug, Default)]
pub struct Selector {
    pub root: bool,
    pub all_keys: bool,
    pub all_channels: bool,
    /// Every command may run without looking at the bitmap (`+@all` and
    /// nothing removed since).
    pub all_commands: bool,
    /// Commands added later would be allowed: set by `+@all`, cleared only by
    /// `-@all` (Redis's reserved command bit); decides `+@all`/`-@all` first
    /// in the rules description.
    pub future_commands: bool,
    /// One bit per command id of the table.
    pub allowed: Vec<u64>,
    /// First arguments allowed for a command whose bit is off (`+select|0`).
    pub first_args: HashMap<CommandId, Vec<Vec<u8>>>,
    pub patterns: Vec<KeyPattern>,
    pub channels: Vec<Vec<u8>>,
}

impl Selector {
    /// An empty selector: no commands, no keys, channels as
    /// `acl-pubsub-default` says.
    pub fn new(root: bool, command_count: usize, all_channels: bool) -> Selector {
        Selector { root, all_channels, allowed: vec![0; command_count.div_ceil(64)], ..Selector::default() }
    }

    pub fn command_bit(&self, id: CommandId) -> bool {
        self.allowed[id / 64] & (1 << (id % 64)) != 0
    }

    /// Sets one command's bit; clearing one ends `all_commands`.
    pub fn set_command_bit(&mut self, id: CommandId, allowed: bool) {
        if allowed {
            self.allowed[id / 64] |= 1 << (id % 64);
        } else {
            self.allowed[id / 64] &= !(1 << (id % 64));
            self.all_commands = false;
        }
    }

    /// Whether this selector lets `id` run with these arguments, commands only.
    fn allows_command(&self, commands: &CommandTable, id: CommandId, argv: &[&[u8]]) -> bool {
        if self.all_commands || self.command_bit(id) {
            return true;
        }
        let Some(allowed) = self.first_args.get(&id) else { return false };
        let index = if commands.get(id).parent.is_some() { 2 } else { 1 };
        argv.get(index).is_some_and(|arg| allowed.iter().any(|a| a.eq_ignore_ascii_case(arg)))
    }

    /// Whether this selector may touch `key` the way `spec_flags` (key-spec
    /// flags) say.
    fn allows_key(&self, key: &[u8], spec_flags: u32) -> bool {
        if self.all_keys {
            return true;
        }
        let needed = key_permissions(spec_flags);
        self.patterns.iter().any(|p| p.perms & needed == needed && glob::matches(&p.pattern, key, false))
    }

    /// Whether this selector may use `channel` (literally, when it is a pattern
    /// given to PSUBSCRIBE).
    pub fn allows_channel(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.all_channels
            || self.channels.iter().any(|p| if is_pattern { p == channel } else { glob::matches(p, channel, false) })
    }

    /// Checks a whole request against this selector.
    fn check(&self, commands: &CommandTable, id: CommandId, argv: &[&[u8]], keys: &mut KeyCache) -> Result<(), Denial> {
        let spec = commands.get(id).spec;
        if spec.flags & crate::command::flags::NO_AUTH == 0 && !self.allows_command(commands, id, argv) {
            return Err(Denial::Command);
        }
        if !self.all_keys && keys::has_keys(spec) {
            for key in keys.get(commands, id, argv) {
                if !self.allows_key(argv[key.pos], key.flags) {
                    return Err(Denial::Key(key.pos));
                }
            }
        }
        if let (false, Some(get_channels)) = (self.all_channels, spec.get_channels) {
            let mut channels = Vec::new();
            get_channels(argv, &mut channels);
            if let Some(refused) = channels.iter().find(|c| !self.allows_channel(argv[c.pos], c.is_pattern)) {
                return Err(Denial::Channel(refused.pos));
            }
        }
        Ok(())
    }
}

/// The read/write permissions a key-spec's flags ask for.
fn key_permissions(spec_flags: u32) -> u8 {
    let mut perms = 0;
    if spec_flags & key_flags::ACCESS != 0 {
        perms |= KEY_READ;
    }
    if spec_flags & (key_flags::INSERT | key_flags::DELETE | key_flags::UPDATE) != 0 {
        perms |= KEY_WRITE;
    }
    perms
}

/// The keys of the request, found once for all selectors.
#[derive(Default)]
struct KeyCache {
    keys: Option<Vec<KeyRef>>,
}

impl KeyCache {
    fn get(&mut self, commands: &CommandTable, id: CommandId, argv: &[&[u8]]) -> &[KeyRef] {
        self.keys.get_or_insert_with(|| {
            let mut out = Vec::new();
            keys::command_keys(commands.get(id).spec, argv, &mut out);
            out
        })
    }
}

#[derive(Clone, Debug)]
pub struct User {
    pub name: Vec<u8>,
    pub flags: u8,
    /// SHA-256 hashes of the passwords, lower-case hex.
    pub passwords: Vec<String>,
    /// The root selector first.
    pub selectors: Vec<Selector>,
}

impl User {
    /// A new user as `ACL SETUSER name` creates it: off, no password, no rights.
    pub fn new(name: &[u8], command_count: usize, all_channels: bool) -> User {
        User {
            name: name.to_vec(),
            flags: user_flags::DISABLED,
            passwords: Vec::new(),
            selectors: vec![Selector::new(true, command_count, all_channels)],
        }
    }

    pub fn root(&self) -> &Selector {
        &self.selectors[0]
    }

    pub fn root_mut(&mut self) -> &mut Selector {
        &mut self.selectors[0]
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    pub fn name_lossy(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }

    /// The cheap case checked first on every command: the root selector
    /// allows every command, key and channel.
    pub fn unrestricted(&self) -> bool {
        let root = self.root();
        root.all_commands && root.all_keys && root.all_channels
    }

    /// Whether this user may run the request; the error picks the denial
    /// Redis reports: a command denial only if no selector got past the
    /// command, else the key or channel denial at the highest position.
    pub fn may_run(&self, commands: &CommandTable, id: CommandId, argv: &[&[u8]]) -> Result<(), Denial> {
        if self.unrestricted() {
            return Ok(());
        }
        let mut keys = KeyCache::default();
        let mut worst = Denial::Command;
        for selector in &self.selectors {
            match selector.check(commands, id, argv, &mut keys) {
                Ok(()) => return Ok(()),
                Err(denial) if denial.outranks(&worst) => worst = denial,
                Err(_) => {}
            }
        }
        Err(worst)
    }

    /// Whether any selector lets this user use `channel`.
    pub fn may_use_channel(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.selectors.iter().any(|s| s.allows_channel(channel, is_pattern))
    }

    /// Whether `password` is one of this user's (any password for `nopass`).
    pub fn password_matches(&self, password: &[u8]) -> bool {
        if self.has(user_flags::NOPASS) {
            return true;
        }
        let hashed = rules::hash_password(password);
        // Compare every stored hash fully, so timing does not tell which one
        // (or how much of one) matched.
        self.passwords.iter().fold(false, |found, p| found | constant_time_eq(p.as_bytes(), hashed.as_bytes()))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Why a command was refused, with the argument position of the key or
/// channel that was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    Command,
    Key(usize),
    Channel(usize),
}

impl Denial {
    /// Redis ranks command < key < channel, then the later argument.
    fn rank(&self) -> (u8, usize) {
        match *self {
            Denial::Command => (1, 0),
            Denial::Key(pos) => (2, pos),
            Denial::Channel(pos) => (4, pos),
        }
    }

    fn outranks(&self, other: &Denial) -> bool {
        self.rank() > other.rank()
    }

    /// The argument that was refused, if a key or channel.
    pub fn position(&self) -> Option<usize> {
        match *self {
            Denial::Command => None,
            Denial::Key(pos) | Denial::Channel(pos) => Some(pos),
        }
    }

    /// The short reason Redis gives inside scripts ("The user executing the
    /// script " + this).
    pub fn reason(&self) -> &'static str {
        match self {
            Denial::Command => "can't run this command or subcommand",
            Denial::Key(_) => "can't access at least one of the keys mentioned in the command arguments",
            Denial::Channel(_) => "can't publish to the channel mentioned in the command",
        }
    }

    /// The NOPERM error a client gets for its own command.
    pub fn noperm_error(&self, fullname: &str) -> String {
        match self {
            Denial::Command => format!("NOPERM this user has no permissions to run the '{fullname}' command"),
            Denial::Key(_) => "NOPERM this user has no permissions to access one of the keys used as arguments".into(),
            Denial::Channel(_) => {
                "NOPERM this user has no permissions to access one of the channels used as arguments".into()
            }
        }
    }
}

/// The registry of users, the ACL LOG, and the settings that shape new users.
pub struct Acl {
    users: BTreeMap<Vec<u8>, UserRef>,
    /// The `default` user; the same object for the server's whole life (ACL
    /// LOAD copies new rules into it), so its clients keep it.
    pub default_user: UserRef,
    /// Interior mutability lets the permission check, which only reads the
    /// server, record what it refused.
    pub log: RefCell<log::AclLog>,
    /// How many command ids the table has (bitmap size).
    pub command_count: usize,
}

impl Acl {
    /// The registry with only the default user: on, nopass, every command,
    /// key and channel.
    pub fn new(commands: &CommandTable) -> Acl {
        let command_count = commands.all().count();
        let default_user = Rc::new(RefCell::new(fresh_default_user(commands)));
        let mut users = BTreeMap::new();
        users.insert(b"default".to_vec(), default_user.clone());
        Acl { users, default_user, log: RefCell::new(log::AclLog::default()), command_count }
    }

    pub fn get(&self, name: &[u8]) -> Option<&UserRef> {
        self.users.get(name)
    }

    /// Users in name order (ACL LIST, ACL USERS, ACL SAVE).
    pub fn users(&self) -> impl Iterator<Item = &UserRef> {
        self.users.values()
    }

    /// Stores `user` under its name: an existing user is updated in place
    /// (its clients see the change), a new one is added.
    pub fn put(&mut self, user: User) {
        match self.users.get(&user.name) {
            Some(existing) => *existing.borrow_mut() = user,
            None => {
                self.users.insert(user.name.clone(), Rc::new(RefCell::new(user)));
            }
        }
    }

    /// Removes a user; the caller disconnects its clients.
    pub fn remove(&mut self, name: &[u8]) -> Option<UserRef> {
        self.users.remove(name)
    }

    /// Replaces every user but `default` (whose rules are copied into the
    /// kept object); returns the users dropped, whose clients must go.
    pub fn replace_all(&mut self, mut users: BTreeMap<Vec<u8>, User>, commands: &CommandTable) -> Vec<UserRef> {
        let default = users.remove(&b"default"[..]).unwrap_or_else(|| fresh_default_user(commands));
        *self.default_user.borrow_mut() = default;
        let mut fresh = BTreeMap::new();
        fresh.insert(b"default".to_vec(), self.default_user.clone());
        for (name, user) in users {
            fresh.insert(name, Rc::new(RefCell::new(user)));
        }
        let old = std::mem::replace(&mut self.users, fresh);
        old.into_iter().filter(|(name, _)| name != b"default").map(|(_, u)| u).collect()
    }

    /// True while new connections must authenticate: the default user needs
    /// a password or is off.
    pub fn auth_required(&self) -> bool {
        let default = self.default_user.borrow();
        !default.has(user_flags::NOPASS) || default.has(user_flags::DISABLED)
    }

    /// The user `name` if it exists, is on and `password` is one of its.
    pub fn authenticate(&self, name: &[u8], password: &[u8]) -> Option<UserRef> {
        let user = self.users.get(name)?;
        let u = user.borrow();
        (!u.has(user_flags::DISABLED) && u.password_matches(password)).then(|| user.clone())
    }

    /// `requirepass` sets the default user's only password ("" = nopass).
    pub fn set_default_password(&mut self, password: &str, commands: &CommandTable) {
        let mut default = self.default_user.borrow_mut();
        let rule = if password.is_empty() { "nopass".to_string() } else { format!(">{password}") };
        for rule in ["resetpass", rule.as_str()] {
            rules::apply(&mut default, rule.as_bytes(), commands, false).expect("password rules are valid");
        }
    }
}

/// The `default` user as a server starts with it: on, nopass, every
/// command, key and channel.
pub fn fresh_default_user(commands: &CommandTable) -> User {
    let mut default = User::new(b"default", commands.all().count(), false);
    for rule in ["+@all", "~*", "&*", "on", "nopass"] {
        rules::apply(&mut default, rule.as_bytes(), commands, false).expect("default user rules are valid");
    }
    default
}

/// Where a refused command was running, for ACL LOG.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    Toplevel,
    Multi,
    Lua,
}

/// The permission check dispatch runs before a client's own command: the
/// client's current user must allow the command, its keys and channels.
/// On refusal, logs it (ACL LOG) and returns the NOPERM error.
pub fn check_command(
    srv: &Server,
    client: &Client,
    id: CommandId,
    argv: &[&[u8]],
    context: Context,
) -> Result<(), String> {
    permission(srv, client, id, argv).map_err(|denial| {
        log_denial(srv, client, denial, context, id, argv, (id, argv));
        denial.noperm_error(&srv.commands.get(id).fullname)
    })
}

/// Whether `client`'s current user may run request `argv` of command `id`.
pub fn permission(srv: &Server, client: &Client, id: CommandId, argv: &[&[u8]]) -> Result<(), Denial> {
    // Internal clients without a user may run anything, as in Redis.
    let Some(user) = &client.user else { return Ok(()) };
    let user = user.borrow();
    // The default user's case: one flag test.
    if user.unrestricted() {
        return Ok(());
    }
    user.may_run(&srv.commands, id, argv)
}

/// Logs (ACL LOG, context `lua`) that a script run by `caller` was refused
/// request `argv` of command `id` (see `permission`): the entry describes
/// the caller running its own command, `caller_argv`, as Redis does.
pub fn log_script_denial(
    srv: &Server,
    caller: &Client,
    denial: Denial,
    id: CommandId,
    argv: &[&[u8]],
    caller_argv: &[&[u8]],
) {
    let running = caller.last_command_id.unwrap_or(id);
    log_denial(srv, caller, denial, Context::Lua, id, argv, (running, caller_argv));
}

/// Whether `user` may use `channel`: PUBLISH and SUBSCRIBE match it against
/// the user's channel patterns, PSUBSCRIBE (`is_pattern`) needs the very
/// same pattern to be allowed.
pub fn check_channel(user: &User, channel: &[u8], is_pattern: bool) -> bool {
    user.may_use_channel(channel, is_pattern)
}

/// Adds refused request `argv` of command `id` to ACL LOG, attributed to
/// `client` running `running` (its command and arguments).
fn log_denial(
    srv: &Server,
    client: &Client,
    denial: Denial,
    context: Context,
    id: CommandId,
    argv: &[&[u8]],
    running: (CommandId, &[&[u8]]),
) {
    let object = match denial.position() {
        Some(pos) => argv[pos].to_vec(),
        None => srv.commands.get(id).fullname.as_bytes().to_vec(),
    };
    let reason = match denial {
        Denial::Command => log::Reason::Command,
        Denial::Key(_) => log::Reason::Key,
        Denial::Channel(_) => log::Reason::Channel,
    };
    let username = client.user.as_ref().map(|u| u.borrow().name.clone()).unwrap_or_default();
    record(srv, client, reason, context, object, username, running.0, running.1);
}

/// Adds a failed authentication to ACL LOG: the object is the command
/// (AUTH or HELLO) as sent, the username the one tried.
pub fn log_failed_auth(srv: &Server, client: &Client, id: CommandId, argv: &[&[u8]], username: &[u8]) {
    let (object, username) = (argv[0].to_vec(), username.to_vec());
    record(srv, client, log::Reason::Auth, Context::Toplevel, object, username, id, argv);
}

#[allow(clippy::too_many_arguments)]
fn record(
    srv: &Server,
    client: &Client,
    reason: log::Reason,
    context: Context,
    object: Vec<u8>,
    username: Vec<u8>,
    running: CommandId,
    argv: &[&[u8]],
) {
    let argv_mem = crate::commands::client::argv_mem(argv);
    let client_info = client.info_line_running(srv, Some(running), argv_mem);
    let entry = log::Entry { count: 1, reason, context, object, username, time_ms: srv.now_ms, client_info };
    srv.acl.log.borrow_mut().add(entry, srv.config.acllog_max_len.max(0) as usize);
}

/// Disconnects the subscribed clients whose user may no longer use one of
/// their channels or patterns (after ACL SETUSER or LOAD), as Redis 7.0
/// does: others at once, `caller` once its reply is written.
pub fn disconnect_revoked_subscribers(srv: &mut Server, caller: &mut Client) {
    let revoked = |c: &Client| {
        let Some(user) = c.user.as_ref() else { return false };
        let user = user.borrow();
        c.subscriptions.is_subscribed()
            && !c.subscriptions.all_allowed(|name, pattern| check_channel(&user, name, pattern))
    };
    if revoked(caller) {
        caller.close_after_reply = true;
    }
    let victims: Vec<_> = srv
        .clients
        .iter()
        .filter(|(&id, c)| id != caller.id && c.try_borrow().is_ok_and(|c| revoked(&c)))
        .map(|(&id, c)| (id, c.clone()))
        .collect();
    for (id, client) in victims {
        client.borrow_mut().kill();
        srv.remove_client(id);
    }
}

/// Disconnects every client authenticated as one of `users` (after ACL
/// DELUSER or LOAD): others at once, `caller` once its reply is written.
pub fn disconnect_users(srv: &mut Server, caller: &mut Client, users: &[UserRef]) {
    let is_gone = |u: &Option<UserRef>| u.as_ref().is_some_and(|u| users.iter().any(|g| Rc::ptr_eq(g, u)));
    if is_gone(&caller.user) {
        caller.user = Some(srv.acl.default_user.clone());
        caller.authenticated = false;
        caller.close_after_reply = true;
    }
    let victims: Vec<_> = srv
        .clients
        .iter()
        .filter(|(&id, c)| id != caller.id && c.try_borrow().is_ok_and(|c| is_gone(&c.user)))
        .map(|(&id, c)| (id, c.clone()))
        .collect();
    for (id, client) in victims {
        let mut client = client.borrow_mut();
        client.user = Some(srv.acl.default_user.clone());
        client.authenticated = false;
        client.kill();
        drop(client);
        srv.remove_client(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::keys::ChannelRef;
    use crate::command::{CommandSpec, KeySpec};

    fn publish_channels(_argv: &[&[u8]], out: &mut Vec<ChannelRef>) {
        out.push(ChannelRef { pos: 1, is_pattern: false });
    }

    fn psubscribe_channels(argv: &[&[u8]], out: &mut Vec<ChannelRef>) {
        out.extend((1..argv.len()).map(|pos| ChannelRef { pos, is_pattern: true }));
    }

    static FAMILY: &[CommandSpec] = &[
        CommandSpec {
            name: "get",
            arity: 2,
            key_specs: &[KeySpec::single(1, key_flags::RO | key_flags::ACCESS)],
            ..CommandSpec::DEFAULT
        },
        CommandSpec {
            name: "copy",
            arity: 3,
            key_specs: &[
                KeySpec::single(1, key_flags::RO | key_flags::ACCESS),
                KeySpec::single(2, key_flags::OW | key_flags::UPDATE),
            ],
            ..CommandSpec::DEFAULT
        },
        CommandSpec { name: "publish", arity: 3, get_channels: Some(publish_channels), ..CommandSpec::DEFAULT },
        CommandSpec { name: "psubscribe", arity: -2, get_channels: Some(psubscribe_channels), ..CommandSpec::DEFAULT },
        CommandSpec { name: "select", arity: 2, ..CommandSpec::DEFAULT },
    ];

    fn run(user: &User, commands: &CommandTable, request: &str) -> Result<(), Denial> {
        let argv: Vec<&[u8]> = request.split(' ').map(str::as_bytes).collect();
        user.may_run(commands, commands.resolve(&argv).expect("known command"), &argv)
    }

    fn user(commands: &CommandTable, rules: &[&str]) -> User {
        let args: Vec<&[u8]> = rules.iter().map(|r| r.as_bytes()).collect();
        rules::set_user(None, b"u", &args, commands, false).expect("valid rules")
    }

    #[test]
    fn keys_need_the_permission_their_spec_asks_for() {
        let commands = CommandTable::new(&[FAMILY]);
        let u = user(&commands, &["+@all", "%R~r*", "%W~w*", "~both"]);
        assert_eq!(run(&u, &commands, "get r1"), Ok(()));
        assert_eq!(run(&u, &commands, "get w1"), Err(Denial::Key(1)));
        assert_eq!(run(&u, &commands, "copy r1 w1"), Ok(()));
        assert_eq!(run(&u, &commands, "copy w1 r1"), Err(Denial::Key(1)));
        assert_eq!(run(&u, &commands, "copy both both"), Ok(()));
    }

    #[test]
    fn channels_are_matched_or_compared_literally_for_patterns() {
        let commands = CommandTable::new(&[FAMILY]);
        let u = user(&commands, &["+@all", "&news.*"]);
        assert_eq!(run(&u, &commands, "publish news.1 hi"), Ok(()));
        assert_eq!(run(&u, &commands, "publish other hi"), Err(Denial::Channel(1)));
        assert_eq!(run(&u, &commands, "psubscribe news.*"), Ok(()));
        assert_eq!(run(&u, &commands, "psubscribe news.* news.1"), Err(Denial::Channel(2)));
        assert!(check_channel(&u, b"news.x", false));
        assert!(!check_channel(&u, b"news.?", true));
    }

    #[test]
    fn the_worst_denial_of_all_selectors_is_reported() {
        let commands = CommandTable::new(&[FAMILY]);
        let u = user(&commands, &["+get", "~a", "(+copy ~b)"]);
        assert_eq!(run(&u, &commands, "get a"), Ok(()));
        assert_eq!(run(&u, &commands, "copy b b"), Ok(()));
        assert_eq!(run(&u, &commands, "copy b a"), Err(Denial::Key(2)));
        assert_eq!(run(&u, &commands, "publish c m"), Err(Denial::Command));
    }

    #[test]
    fn first_arguments_open_a_blocked_command() {
        let commands = CommandTable::new(&[FAMILY]);
        let u = user(&commands, &["-@all", "+select|0"]);
        assert_eq!(run(&u, &commands, "select 0"), Ok(()));
        assert_eq!(run(&u, &commands, "select 1"), Err(Denial::Command));
    }

    #[test]
    fn passwords_are_checked_against_their_hashes() {
        let commands = CommandTable::new(&[FAMILY]);
        let mut acl = Acl::new(&commands);
        acl.put(user(&commands, &["on", ">secret"]));
        assert!(acl.authenticate(b"u", b"secret").is_some());
        assert!(acl.authenticate(b"u", b"wrong").is_none());
        assert!(!acl.auth_required());
        acl.set_default_password("pw", &commands);
        assert!(acl.auth_required());
        assert!(acl.authenticate(b"default", b"pw").is_some());
    }
}
