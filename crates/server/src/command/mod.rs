//! The declarative command table: what a command is (name, arity, flags, key
//! specs, ACL categories, docs, handler), how the table is assembled from the
//! command families, and how a request finds its entry.
//!
//! Everything generic about commands (arity errors, COMMAND INFO/DOCS/GETKEYS,
//! NOAUTH, ACL, commandstats, and later READONLY, OOM, MULTI queuing, cluster
//! slot checks) is driven by these entries; no code outside a family's own
//! file tests for a command's name.

pub mod context;
pub mod dispatch;
pub mod keys;
pub mod table;

pub use context::{CmdError, CmdResult, Ctx};
pub use table::{CommandId, CommandTable};

/// Runs a command. `argv[0]` is the command name as the client sent it.
pub type Handler = fn(&mut Ctx, &[&[u8]]) -> CmdResult;

/// Derives a request's flags from its arguments and the table's flags.
pub type RequestFlagsFn = fn(&crate::server::Server, &[&[u8]], u32) -> u32;

/// The flags request `argv` of command `id` is judged by before it runs
/// (CLIENT PAUSE, OOM, disk errors, MULTI's queue): the table's, or those
/// the command derives from its arguments. Needs a request of valid arity.
pub fn request_flags(srv: &crate::server::Server, id: CommandId, argv: &[&[u8]]) -> u32 {
    let spec = srv.commands.get(id).spec;
    match spec.request_flags {
        Some(derive) => derive(srv, argv, spec.flags),
        None => spec.flags,
    }
}

/// Command flags, as COMMAND INFO names them (see `FLAG_NAMES` for the order).
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const MODULE: u32 = 1 << 3;
    pub const ADMIN: u32 = 1 << 4;
    pub const PUBSUB: u32 = 1 << 5;
    pub const NOSCRIPT: u32 = 1 << 6;
    pub const BLOCKING: u32 = 1 << 7;
    pub const LOADING: u32 = 1 << 8;
    pub const STALE: u32 = 1 << 9;
    pub const SKIP_MONITOR: u32 = 1 << 10;
    pub const SKIP_SLOWLOG: u32 = 1 << 11;
    pub const ASKING: u32 = 1 << 12;
    pub const FAST: u32 = 1 << 13;
    pub const NO_AUTH: u32 = 1 << 14;
    pub const MAY_REPLICATE: u32 = 1 << 15;
    pub const SENTINEL: u32 = 1 << 16;
    pub const ONLY_SENTINEL: u32 = 1 << 17;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 18;
    pub const PROTECTED: u32 = 1 << 19;
    pub const NO_ASYNC_LOADING: u32 = 1 << 20;
    pub const NO_MULTI: u32 = 1 << 21;
    pub const MOVABLE_KEYS: u32 = 1 << 22;
    pub const ALLOW_BUSY: u32 = 1 << 23;
    /// Internal: may run while a RESP2 client is in Pub/Sub subscribed mode
    /// ((P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PING, QUIT, RESET).
    pub const SUBSCRIBED_CONTEXT: u32 = 1 << 24;
    /// Internal: runs at once inside MULTI instead of being queued (MULTI,
    /// EXEC, DISCARD, WATCH, QUIT, RESET).
    pub const RUNS_IN_MULTI: u32 = 1 << 25;
    /// Internal: runs the queued transaction (EXEC). A rejection aborts the
    /// transaction, and CLIENT PAUSE judges it by the queued commands.
    pub const RUNS_TRANSACTION: u32 = 1 << 26;
    /// Internal: may expire any number of keys (SCAN, RANDOMKEY), whose
    /// deletions propagate one by one rather than as one atomic group.
    pub const TOUCHES_ARBITRARY_KEYS: u32 = 1 << 27;

    /// Command flags as COMMAND INFO lists them; MAY_REPLICATE, SENTINEL,
    /// ONLY_SENTINEL, PROTECTED and SUBSCRIBED_CONTEXT are internal and never
    /// shown (as in Redis), nor are TOUCHES_ARBITRARY_KEYS (hidden in Redis
    /// too), RUNS_IN_MULTI and RUNS_TRANSACTION (Cinnabar's own).
    pub const NAMES: [(u32, &str); 20] = [
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (MODULE, "module"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLE_KEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// ACL categories a command declares explicitly. Redis adds the implied ones
/// (`@write` for write commands, `@fast`/`@slow`, ...) itself; see
/// `table::effective_acl_categories`.
pub mod acl {
    pub const KEYSPACE: u64 = 1 << 0;
    pub const READ: u64 = 1 << 1;
    pub const WRITE: u64 = 1 << 2;
    pub const SET: u64 = 1 << 3;
    pub const SORTEDSET: u64 = 1 << 4;
    pub const LIST: u64 = 1 << 5;
    pub const HASH: u64 = 1 << 6;
    pub const STRING: u64 = 1 << 7;
    pub const BITMAP: u64 = 1 << 8;
    pub const HYPERLOGLOG: u64 = 1 << 9;
    pub const GEO: u64 = 1 << 10;
    pub const STREAM: u64 = 1 << 11;
    pub const PUBSUB: u64 = 1 << 12;
    pub const ADMIN: u64 = 1 << 13;
    pub const FAST: u64 = 1 << 14;
    pub const SLOW: u64 = 1 << 15;
    pub const BLOCKING: u64 = 1 << 16;
    pub const DANGEROUS: u64 = 1 << 17;
    pub const CONNECTION: u64 = 1 << 18;
    pub const TRANSACTION: u64 = 1 << 19;
    pub const SCRIPTING: u64 = 1 << 20;

    /// Category names in the order Redis lists them.
    pub const NAMES: [(u64, &str); 21] = [
        (KEYSPACE, "keyspace"),
        (READ, "read"),
        (WRITE, "write"),
        (SET, "set"),
        (SORTEDSET, "sortedset"),
        (LIST, "list"),
        (HASH, "hash"),
        (STRING, "string"),
        (BITMAP, "bitmap"),
        (HYPERLOGLOG, "hyperloglog"),
        (GEO, "geo"),
        (STREAM, "stream"),
        (PUBSUB, "pubsub"),
        (ADMIN, "admin"),
        (FAST, "fast"),
        (SLOW, "slow"),
        (BLOCKING, "blocking"),
        (DANGEROUS, "dangerous"),
        (CONNECTION, "connection"),
        (TRANSACTION, "transaction"),
        (SCRIPTING, "scripting"),
    ];
}

/// Key-spec flags (COMMAND INFO key_specs `flags`).
pub mod key_flags {
    pub const RO: u32 = 1 << 0;
    pub const RW: u32 = 1 << 1;
    pub const OW: u32 = 1 << 2;
    pub const RM: u32 = 1 << 3;
    pub const ACCESS: u32 = 1 << 4;
    pub const UPDATE: u32 = 1 << 5;
    pub const INSERT: u32 = 1 << 6;
    pub const DELETE: u32 = 1 << 7;
    pub const NOT_KEY: u32 = 1 << 8;
    pub const INCOMPLETE: u32 = 1 << 9;
    pub const VARIABLE_FLAGS: u32 = 1 << 10;

    /// Flag names in the order Redis lists them.
    pub const NAMES: [(u32, &str); 11] = [
        (RO, "RO"),
        (RW, "RW"),
        (OW, "OW"),
        (RM, "RM"),
        (ACCESS, "access"),
        (UPDATE, "update"),
        (INSERT, "insert"),
        (DELETE, "delete"),
        (NOT_KEY, "not_key"),
        (INCOMPLETE, "incomplete"),
        (VARIABLE_FLAGS, "variable_flags"),
    ];
}

/// Where the search for keys starts.
#[derive(Clone, Copy, Debug)]
pub enum BeginSearch {
    /// At a fixed argument index.
    Index(i32),
    /// After `keyword`, searching from `start_from` (negative: from the end).
    Keyword { keyword: &'static str, start_from: i32 },
    /// Not describable (e.g. SORT's BY/GET/STORE keys); the command's
    /// `get_keys` finds such keys.
    Unknown,
}

/// How keys are found once the search has begun.
#[derive(Clone, Copy, Debug)]
pub enum FindKeys {
    /// `last_key` relative to the begin index (-1: the last argument), every `step`.
    Range { last_key: i32, step: i32, limit: i32 },
    /// The number of keys is at `keynum_idx`; keys start at `first_key`.
    Keynum { keynum_idx: i32, first_key: i32, step: i32 },
    /// Not describable; see `BeginSearch::Unknown`.
    Unknown,
}

/// One key spec of a command (Redis 7.0 key-specs).
#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    pub flags: u32,
    pub begin: BeginSearch,
    pub find: FindKeys,
    /// COMMAND INFO `notes` ("" for none).
    pub notes: &'static str,
}

impl KeySpec {
    /// Any spec; prefer the shorthands below for the common shapes.
    pub const fn new(flags: u32, begin: BeginSearch, find: FindKeys) -> KeySpec {
        KeySpec { flags, begin, find, notes: "" }
    }

    /// The common case: a single key at `index`.
    pub const fn single(index: i32, flags: u32) -> KeySpec {
        KeySpec::range(index, 0, 1, flags)
    }

    /// Keys from `index` to `last_key` (relative, -1 = last argument) every `step`.
    pub const fn range(index: i32, last_key: i32, step: i32, flags: u32) -> KeySpec {
        KeySpec::new(flags, BeginSearch::Index(index), FindKeys::Range { last_key, step, limit: 0 })
    }

    /// The same spec with COMMAND INFO `notes`.
    pub const fn with_notes(self, notes: &'static str) -> KeySpec {
        KeySpec { notes, ..self }
    }
}

/// Documentation flags (COMMAND DOCS `doc_flags`).
pub mod doc_flags {
    pub const DEPRECATED: u32 = 1 << 0;
    pub const SYSCMD: u32 = 1 << 1;

    /// Flag names in the order Redis lists them.
    pub const NAMES: [(u32, &str); 2] = [(DEPRECATED, "deprecated"), (SYSCMD, "syscmd")];
}

/// What a documented argument is (COMMAND DOCS `type`).
#[derive(Clone, Copy, Debug)]
pub enum ArgType {
    String,
    Integer,
    Double,
    /// A key, described by the command's key spec at this index.
    Key(i32),
    Pattern,
    /// A pattern that names keys, described by the key spec at this index
    /// (SORT's BY and GET).
    KeyPattern(i32),
    UnixTime,
    /// Just its token (e.g. `NX`).
    PureToken,
    /// Exactly one of these.
    OneOf(&'static [Arg]),
    /// These together.
    Block(&'static [Arg]),
}

/// Argument flags (COMMAND DOCS argument `flags`).
pub mod arg_flags {
    pub const OPTIONAL: u32 = 1 << 0;
    pub const MULTIPLE: u32 = 1 << 1;
    pub const MULTIPLE_TOKEN: u32 = 1 << 2;

    /// Flag names in the order Redis lists them.
    pub const NAMES: [(u32, &str); 3] =
        [(OPTIONAL, "optional"), (MULTIPLE, "multiple"), (MULTIPLE_TOKEN, "multiple_token")];
}

/// One documented argument of a command (COMMAND DOCS `arguments`). Build
/// with the constructors and chain the modifiers:
/// `Arg::integer("seconds").token("EX").since("2.6.12")`.
#[derive(Clone, Copy, Debug)]
pub struct Arg {
    pub name: &'static str,
    pub kind: ArgType,
    /// The keyword that introduces it ("" for none).
    pub token: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub deprecated_since: &'static str,
    pub flags: u32,
}

impl Arg {
    pub const fn new(name: &'static str, kind: ArgType) -> Arg {
        Arg { name, kind, token: "", summary: "", since: "", deprecated_since: "", flags: 0 }
    }
    pub const fn string(name: &'static str) -> Arg {
        Arg::new(name, ArgType::String)
    }
    pub const fn integer(name: &'static str) -> Arg {
        Arg::new(name, ArgType::Integer)
    }
    pub const fn double(name: &'static str) -> Arg {
        Arg::new(name, ArgType::Double)
    }
    pub const fn key(name: &'static str, key_spec_index: i32) -> Arg {
        Arg::new(name, ArgType::Key(key_spec_index))
    }
    pub const fn pattern(name: &'static str) -> Arg {
        Arg::new(name, ArgType::Pattern)
    }
    pub const fn key_pattern(name: &'static str, key_spec_index: i32) -> Arg {
        Arg::new(name, ArgType::KeyPattern(key_spec_index))
    }
    pub const fn unix_time(name: &'static str) -> Arg {
        Arg::new(name, ArgType::UnixTime)
    }
    /// A bare keyword argument.
    pub const fn pure_token(name: &'static str, token: &'static str) -> Arg {
        Arg::new(name, ArgType::PureToken).token(token)
    }
    pub const fn one_of(name: &'static str, choices: &'static [Arg]) -> Arg {
        Arg::new(name, ArgType::OneOf(choices))
    }
    pub const fn block(name: &'static str, parts: &'static [Arg]) -> Arg {
        Arg::new(name, ArgType::Block(parts))
    }
    pub const fn token(self, token: &'static str) -> Arg {
        Arg { token, ..self }
    }
    pub const fn summary(self, summary: &'static str) -> Arg {
        Arg { summary, ..self }
    }
    pub const fn since(self, since: &'static str) -> Arg {
        Arg { since, ..self }
    }
    pub const fn deprecated_since(self, deprecated_since: &'static str) -> Arg {
        Arg { deprecated_since, ..self }
    }
    pub const fn optional(self) -> Arg {
        Arg { flags: self.flags | arg_flags::OPTIONAL, ..self }
    }
    pub const fn multiple(self) -> Arg {
        Arg { flags: self.flags | arg_flags::MULTIPLE, ..self }
    }
    pub const fn multiple_token(self) -> Arg {
        Arg { flags: self.flags | arg_flags::MULTIPLE_TOKEN, ..self }
    }
}

/// Which keys a command that changed the dataset reports as modified (to
/// WATCH, through `Server::signal_modified_key`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModifiedKeys {
    /// After a run that changed something (dirty), every key its key specs
    /// mark as written (RW, OW, RM). Deletions and `Ctx::signal_modified_key`
    /// report keys too.
    WrittenKeySpecs,
    /// Only the keys its handler reports (`Ctx::signal_modified_key`, and
    /// deletions): its key specs name keys a run may leave alone (DEL of a
    /// missing key, BLPOP's keys it did not pop from), keys in another
    /// database (MOVE), or keys Redis does not count as modified (consumer
    /// group changes).
    ReportedByHandler,
}

/// One command (or subcommand) of the table.
pub struct CommandSpec {
    /// Lower-case name (for a subcommand, just the subcommand's name).
    pub name: &'static str,
    /// Positive: exact argc; negative: at least `-arity`.
    pub arity: i32,
    pub flags: u32,
    /// Explicit ACL categories (`acl::*`).
    pub acl: u64,
    pub key_specs: &'static [KeySpec],
    /// COMMAND INFO tips (`nondeterministic_output`, `request_policy:...`).
    pub tips: &'static [&'static str],
    pub subcommands: &'static [CommandSpec],
    /// None for containers such as CONFIG, which only dispatch to subcommands.
    pub handler: Option<Handler>,
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub complexity: &'static str,
    /// Command-specific key finding (Redis's `getkeys_proc`), for commands
    /// whose key specs cannot tell: variable flags, incomplete or unknown specs.
    pub get_keys: Option<keys::GetKeysFn>,
    /// The Pub/Sub channels a request publishes or subscribes to (Redis's
    /// `getChannelsFromCommand`), which ACL channel patterns must allow.
    pub get_channels: Option<keys::GetChannelsFn>,
    /// The flags one request is judged by before it runs, when they depend
    /// on its arguments (Redis's `getCommandFlags`: a script that declares
    /// its flags); see `request_flags`.
    pub request_flags: Option<RequestFlagsFn>,
    /// COMMAND DOCS extras: `doc_flags::*`, deprecation, and version history
    /// as (version, change) pairs.
    pub doc_flags: u32,
    pub deprecated_since: &'static str,
    pub replaced_by: &'static str,
    pub history: &'static [(&'static str, &'static str)],
    /// COMMAND DOCS `arguments` (empty: not documented).
    pub args: &'static [Arg],
    pub modified_keys: ModifiedKeys,
}

impl CommandSpec {
    /// Field defaults, for `..CommandSpec::DEFAULT` in table entries.
    pub const DEFAULT: CommandSpec = CommandSpec {
        name: "",
        arity: 0,
        flags: 0,
        acl: 0,
        key_specs: &[],
        tips: &[],
        subcommands: &[],
        handler: None,
        group: "generic",
        since: "1.0.0",
        summary: "",
        complexity: "",
        get_keys: None,
        get_channels: None,
        request_flags: None,
        doc_flags: 0,
        deprecated_since: "",
        replaced_by: "",
        history: &[],
        args: &[],
        modified_keys: ModifiedKeys::WrittenKeySpecs,
    };
}
