//! Configuration: the directive table, redis.conf / command-line parsing, and the
//! get/set primitives CONFIG GET/SET/REWRITE are built on.
//!
//! Each directive is one row of `DIRECTIVES`: its name, an optional alias, how its
//! value is parsed and printed, its default (in the text form a config file would
//! use), flags, and the `Config` field it lives in. Reading a setting on the hot
//! path is a plain field access. The table holds every parameter redis-server
//! 7.0.15 knows, including those whose subsystem Cinnabar does not have yet: they
//! are validated, stored and reported, so tools that read them keep working.
//!
//! Submodules: `values` (number, enum and multi-argument value formats),
//! `load` (config files and the command line), `rewrite` (CONFIG REWRITE),
//! `open_files` (maxclients against the open-files limit), `process` (OOM
//! score, THP, jemalloc background thread).

mod load;
mod open_files;
mod process;
mod rewrite;
mod values;

pub use load::{from_args, load_text, ConfigError, Invocation};
pub use open_files::{fit_maxclients, OpenFiles};
pub use process::apply_process_settings;
pub use rewrite::rewrite_file;
pub use values::{notify, parse_memory, strerror, ObufLimit, Special};

/// Settings, one field per directive (see `DIRECTIVES`).
#[derive(Debug, Default, Clone)]
pub struct Config {
    pub port: i64,
    /// Listening addresses separated by spaces (a `-` prefix: optional).
    pub bind: String,
    pub databases: i64,
    pub daemonize: bool,
    pub loglevel: String,
    pub logfile: String,
    pub pidfile: String,
    /// The working directory, absolute once set (the process also chdirs to it).
    pub dir: String,
    pub protected_mode: bool,
    pub maxclients: i64,
    pub timeout: i64,
    pub tcp_backlog: i64,
    pub tcp_keepalive: i64,
    pub proto_max_bulk_len: i64,
    pub client_query_buffer_limit: i64,
    pub hz: i64,
    pub requirepass: String,
    pub always_show_logo: bool,
    pub latency_monitor_threshold: i64,
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: i64,
    pub lazyfree_lazy_user_del: bool,
    pub lazyfree_lazy_user_flush: bool,
    pub active_expire_effort: i64,
    /// Bytes (an unsigned value stored in an i64's bits, as Redis's `unsigned long long`).
    pub maxmemory: i64,
    pub maxmemory_policy: String,
    /// The config file the server was started with, absolute ("" if none), for CONFIG REWRITE.
    pub config_file: String,

    // Persistence.
    /// `save` points: (seconds, changes).
    pub save: Vec<(i64, i64)>,
    pub stop_writes_on_bgsave_error: bool,
    pub rdbcompression: bool,
    pub rdbchecksum: bool,
    pub rdb_del_sync_files: bool,
    pub rdb_save_incremental_fsync: bool,
    pub dbfilename: String,
    pub appendonly: bool,
    pub appendfilename: String,
    pub appenddirname: String,
    pub appendfsync: String,
    pub no_appendfsync_on_rewrite: bool,
    pub auto_aof_rewrite_percentage: i64,
    pub auto_aof_rewrite_min_size: i64,
    pub aof_load_truncated: bool,
    pub aof_use_rdb_preamble: bool,
    pub aof_timestamp_enabled: bool,
    pub aof_rewrite_incremental_fsync: bool,
    pub aof_disable_auto_gc: bool,
    pub sanitize_dump_payload: String,
    pub rdb_key_save_delay: i64,
    pub key_load_delay: i64,
    pub loading_process_events_interval_bytes: i64,

    // Replication.
    /// `replicaof host port`, None for a master.
    pub replicaof: Option<(String, i64)>,
    pub masterauth: String,
    pub masteruser: String,
    pub replica_serve_stale_data: bool,
    pub replica_read_only: bool,
    pub replica_lazy_flush: bool,
    pub replica_ignore_maxmemory: bool,
    pub replica_announced: bool,
    pub replica_ignore_disk_write_errors: bool,
    pub replica_priority: i64,
    pub replica_announce_ip: String,
    pub replica_announce_port: i64,
    pub repl_diskless_sync: bool,
    pub repl_diskless_sync_delay: i64,
    pub repl_diskless_sync_max_replicas: i64,
    pub repl_diskless_load: String,
    pub repl_ping_replica_period: i64,
    pub repl_timeout: i64,
    pub repl_disable_tcp_nodelay: bool,
    pub repl_backlog_size: i64,
    pub repl_backlog_ttl: i64,
    pub min_replicas_to_write: i64,
    pub min_replicas_max_lag: i64,
    pub propagation_error_behavior: String,

    // Cluster.
    pub cluster_enabled: bool,
    pub cluster_config_file: String,
    pub cluster_node_timeout: i64,
    pub cluster_port: i64,
    pub cluster_replica_validity_factor: i64,
    pub cluster_migration_barrier: i64,
    pub cluster_allow_replica_migration: bool,
    pub cluster_require_full_coverage: bool,
    pub cluster_replica_no_failover: bool,
    pub cluster_allow_reads_when_down: bool,
    pub cluster_allow_pubsubshard_when_down: bool,
    pub cluster_announce_ip: String,
    pub cluster_announce_hostname: String,
    pub cluster_announce_port: i64,
    pub cluster_announce_bus_port: i64,
    pub cluster_announce_tls_port: i64,
    pub cluster_preferred_endpoint_type: String,
    pub cluster_link_sendbuf_limit: i64,

    // Clients, limits and networking.
    pub client_output_buffer_limit: [ObufLimit; 3],
    pub maxmemory_clients: i64,
    pub maxmemory_samples: i64,
    pub maxmemory_eviction_tenacity: i64,
    pub lazyfree_lazy_eviction: bool,
    pub lazyfree_lazy_expire: bool,
    pub lazyfree_lazy_server_del: bool,
    pub unixsocket: String,
    pub unixsocketperm: i64,
    pub socket_mark_id: i64,
    pub bind_source_addr: String,
    pub io_threads: i64,
    pub io_threads_do_reads: bool,
    pub busy_reply_threshold: i64,
    pub shutdown_timeout: i64,
    pub shutdown_on_sigint: String,
    pub shutdown_on_sigterm: String,
    pub tracking_table_max_keys: i64,
    pub enable_protected_configs: String,
    pub enable_debug_command: String,
    pub enable_module_command: String,

    // Security.
    pub aclfile: String,
    pub acllog_max_len: i64,
    pub acl_pubsub_default: String,

    // Events and monitoring.
    /// `notify-keyspace-events` as `notify::*` flags.
    pub notify_keyspace_events: u32,
    pub latency_tracking: bool,
    pub latency_tracking_info_percentiles: Vec<f64>,

    // Encodings of small values.
    pub hash_max_listpack_entries: i64,
    pub hash_max_listpack_value: i64,
    pub list_max_listpack_size: i64,
    pub list_compress_depth: i64,
    pub set_max_intset_entries: i64,
    pub zset_max_listpack_entries: i64,
    pub zset_max_listpack_value: i64,
    pub hll_sparse_max_bytes: i64,
    pub stream_node_max_bytes: i64,
    pub stream_node_max_entries: i64,
    pub activerehashing: bool,

    // Memory management.
    pub activedefrag: bool,
    pub active_defrag_ignore_bytes: i64,
    pub active_defrag_threshold_lower: i64,
    pub active_defrag_threshold_upper: i64,
    pub active_defrag_cycle_min: i64,
    pub active_defrag_cycle_max: i64,
    pub active_defrag_max_scan_fields: i64,
    pub jemalloc_bg_thread: bool,
    pub lfu_log_factor: i64,
    pub lfu_decay_time: i64,
    pub dynamic_hz: bool,
    pub oom_score_adj: String,
    pub oom_score_adj_values: [i64; 3],
    pub disable_thp: bool,

    // Process.
    pub supervised: String,
    pub syslog_enabled: bool,
    pub syslog_ident: String,
    pub syslog_facility: String,
    pub set_proc_title: bool,
    pub proc_title_template: String,
    pub crash_log_enabled: bool,
    pub crash_memcheck_enabled: bool,
    pub use_exit_on_panic: bool,
    pub watchdog_period: i64,
    pub ignore_warnings: String,
    pub server_cpulist: String,
    pub bio_cpulist: String,
    pub aof_rewrite_cpulist: String,
    pub bgsave_cpulist: String,

    // TLS.
    pub tls_port: i64,
    pub tls_cert_file: String,
    pub tls_key_file: String,
    pub tls_key_file_pass: String,
    pub tls_client_cert_file: String,
    pub tls_client_key_file: String,
    pub tls_client_key_file_pass: String,
    pub tls_dh_params_file: String,
    pub tls_ca_cert_file: String,
    pub tls_ca_cert_dir: String,
    pub tls_protocols: String,
    pub tls_ciphers: String,
    pub tls_ciphersuites: String,
    pub tls_auth_clients: String,
    pub tls_replication: bool,
    pub tls_cluster: bool,
    pub tls_prefer_server_ciphers: bool,
    pub tls_session_caching: bool,
    pub tls_session_cache_size: i64,
    pub tls_session_cache_timeout: i64,

    /// True if the command line had any argument: Redis then logs
    /// "Configuration loaded" instead of the no-config-file warning.
    pub loaded_from_arguments: bool,
    /// `rename-command old new` lines, in order (new "" removes the command).
    pub renamed_commands: Vec<(String, String)>,
    /// `user ...` lines, for ACL.
    pub users: Vec<Vec<String>>,
}

/// How a number is written and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Decimal in canonical form.
    Plain,
    /// Bytes, with optional `k`/`kb`/`m`/`mb`/`g`/`gb` units; printed as bytes.
    Memory,
    /// A memory value or `N%` (stored as -N).
    MemoryOrPercent,
    /// Octal digits.
    Octal,
}

/// A numeric directive's range and format. `unsigned` mirrors Redis's unsigned
/// C types, whose bounds are checked on the value read as unsigned.
#[derive(Debug, Clone, Copy)]
pub struct Numeric {
    pub min: i128,
    pub max: i128,
    pub format: Format,
    pub unsigned: bool,
}

/// Extra validity checks of some directives; the error is Redis's reason.
pub type BoolCheck = fn(bool) -> Result<(), &'static str>;
pub type StrCheck = fn(&str) -> Result<(), &'static str>;
pub type FlagsCheck = fn(u32) -> Result<(), &'static str>;

/// How a directive's value is parsed and printed.
#[derive(Clone, Copy)]
pub enum Kind {
    Bool {
        check: Option<BoolCheck>,
    },
    Number(Numeric),
    /// `nullable`: an empty value means "unset" (left out by CONFIG REWRITE).
    Str {
        nullable: bool,
        check: Option<StrCheck>,
    },
    /// Named values; several names combine as flags for `MULTI_ARG` directives.
    Enum {
        names: &'static [(&'static str, u32)],
        check: Option<FlagsCheck>,
    },
    /// A value with its own parser, printer and rewriter (save, bind, ...).
    Special(&'static Special),
}

#[derive(Clone, Copy)]
enum Field {
    Bool(fn(&Config) -> &bool, fn(&mut Config) -> &mut bool),
    Int(fn(&Config) -> &i64, fn(&mut Config) -> &mut i64),
    Str(fn(&Config) -> &String, fn(&mut Config) -> &mut String),
    /// Special kinds reach their fields themselves.
    Own,
}

/// May not be changed with CONFIG SET.
pub const IMMUTABLE: u16 = 1;
/// Holds a secret (kept out of logs).
pub const SENSITIVE: u16 = 2;
/// CONFIG SET needs `enable-protected-configs`.
pub const PROTECTED: u16 = 4;
/// CONFIG SET refused while loading the dataset.
pub const DENY_LOADING: u16 = 8;
/// Left out of CONFIG GET patterns; only an exact name shows it.
pub const HIDDEN: u16 = 16;
/// Takes several arguments (`save 3600 1 300 100`).
pub const MULTI_ARG: u16 = 32;

/// Runs after CONFIG SET stored a new value, for settings that must act at once.
pub type Apply = fn(&mut Config) -> Result<(), String>;

/// One row of the directive table.
pub struct Directive {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub kind: Kind,
    pub default: &'static str,
    pub flags: u16,
    field: Field,
    pub apply: Option<Apply>,
}

impl Directive {
    const fn with_apply(self, apply: Apply) -> Directive {
        Directive { apply: Some(apply), ..self }
    }
}

macro_rules! field {
    (bool $f:ident) => {
        Field::Bool(|c| &c.$f, |c| &mut c.$f)
    };
    (int $f:ident) => {
        Field::Int(|c| &c.$f, |c| &mut c.$f)
    };
    (str $f:ident) => {
        Field::Str(|c| &c.$f, |c| &mut c.$f)
    };
    (own) => {
        Field::Own
    };
}

macro_rules! directive {
    ($name:literal, $alias:expr, $kind:expr, $default:literal, $flags:expr, $($field:tt)+) => {
        Directive {
            name: $name,
            alias: $alias,
            kind: $kind,
            default: $default,
            flags: $flags,
            field: field!($($field)+),
            apply: None,
        }
    };
}

const fn num(min: i128, max: i128, format: Format, unsigned: bool) -> Kind {
    Kind::Number(Numeric { min, max, format, unsigned })
}

/// A signed integer in `min..=max`.
const fn int(min: i64, max: i64) -> Kind {
    num(min as i128, max as i128, Format::Plain, false)
}

/// An unsigned integer in `min..=max`.
const fn uint(min: i128, max: i128) -> Kind {
    num(min, max, Format::Plain, true)
}

/// A signed memory value.
const fn memory(min: i64, max: i64) -> Kind {
    num(min as i128, max as i128, Format::Memory, false)
}

/// An unsigned memory value.
const fn umemory(min: i128, max: i128) -> Kind {
    num(min, max, Format::Memory, true)
}

const BOOL: Kind = Kind::Bool { check: None };
/// A string where "" is a value of its own.
const STR: Kind = Kind::Str { nullable: false, check: None };
/// A string where "" means unset.
const NULLABLE: Kind = Kind::Str { nullable: true, check: None };

const fn checked_str(check: StrCheck) -> Kind {
    Kind::Str { nullable: false, check: Some(check) }
}

const fn one_of(names: &'static [(&'static str, u32)]) -> Kind {
    Kind::Enum { names, check: None }
}

const INT_MAX: i64 = i32::MAX as i64;
const INT_MIN: i64 = i32::MIN as i64;
const UINT_MAX: i128 = u32::MAX as i128;
const LONG_MAX: i64 = i64::MAX;
const ULLONG_MAX: i128 = u64::MAX as i128;
const ULONG: i128 = i64::MAX as i128;

const LOGLEVELS: &[(&str, u32)] = &[("debug", 0), ("verbose", 1), ("notice", 2), ("warning", 3)];
const POLICIES: &[(&str, u32)] = &[
    ("volatile-lru", 0),
    ("volatile-lfu", 1),
    ("volatile-random", 2),
    ("volatile-ttl", 3),
    ("allkeys-lru", 4),
    ("allkeys-lfu", 5),
    ("allkeys-random", 6),
    ("noeviction", 7),
];
const SYSLOG_FACILITIES: &[(&str, u32)] = &[
    ("user", 0),
    ("local0", 1),
    ("local1", 2),
    ("local2", 3),
    ("local3", 4),
    ("local4", 5),
    ("local5", 6),
    ("local6", 7),
    ("local7", 8),
];
const SUPERVISED: &[(&str, u32)] = &[("upstart", 1), ("systemd", 2), ("auto", 3), ("no", 0)];
const FSYNC: &[(&str, u32)] = &[("everysec", 1), ("always", 2), ("no", 0)];
const DISKLESS_LOAD: &[(&str, u32)] = &[("disabled", 0), ("on-empty-db", 1), ("swapdb", 2)];
const TLS_AUTH: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("optional", 2)];
// "yes" and "relative" are the same setting; CONFIG GET prints the first name.
const OOM_SCORE_ADJ: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)];
const PUBSUB_DEFAULT: &[(&str, u32)] = &[("allchannels", 1), ("resetchannels", 0)];
const SANITIZE: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("clients", 2)];
const PROTECTED_ACTION: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("local", 2)];
const ENDPOINT_TYPE: &[(&str, u32)] = &[("ip", 0), ("hostname", 1), ("unknown-endpoint", 2)];
const PROPAGATION_ERROR: &[(&str, u32)] = &[("ignore", 0), ("panic", 1), ("panic-on-replicas", 2)];
const SHUTDOWN_ON_SIGNAL: Kind = Kind::Enum {
    names: &[("default", 0), ("save", 1), ("nosave", 2), ("now", 4), ("force", 8)],
    check: Some(values::check_shutdown_flags),
};

/// Every directive the server knows, in Redis's names.
#[rustfmt::skip]
pub static DIRECTIVES: &[Directive] = &[
    // Network.
    directive!("port", None, int(0, 65535), "6379", 0, int port),
    directive!("bind", None, Kind::Special(&values::BIND), "127.0.0.1 -::1", MULTI_ARG, own).with_apply(values::check_bind),
    directive!("bind-source-addr", None, NULLABLE, "", 0, str bind_source_addr),
    directive!("protected-mode", None, BOOL, "yes", 0, bool protected_mode),
    directive!("tcp-backlog", None, int(0, INT_MAX), "511", IMMUTABLE, int tcp_backlog),
    directive!("tcp-keepalive", None, int(0, INT_MAX), "300", 0, int tcp_keepalive),
    directive!("unixsocket", None, NULLABLE, "", IMMUTABLE, str unixsocket),
    directive!("unixsocketperm", None, num(0, 0o777, Format::Octal, true), "0", IMMUTABLE, int unixsocketperm),
    directive!("socket-mark-id", None, uint(0, UINT_MAX), "0", IMMUTABLE, int socket_mark_id),
    directive!("timeout", None, int(0, INT_MAX), "0", 0, int timeout),
    directive!("maxclients", None, uint(1, UINT_MAX), "10000", 0, int maxclients).with_apply(open_files::apply_maxclients),
    directive!("io-threads", None, int(1, 128), "1", IMMUTABLE, int io_threads),
    directive!("io-threads-do-reads", None, BOOL, "no", IMMUTABLE, bool io_threads_do_reads),
    directive!("proto-max-bulk-len", None, memory(1024 * 1024, LONG_MAX), "536870912", 0, int proto_max_bulk_len),
    directive!("client-query-buffer-limit", None, umemory(1024 * 1024, ULONG), "1073741824", 0, int client_query_buffer_limit),
    directive!("client-output-buffer-limit", None, Kind::Special(&values::OBUF_LIMITS), "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", MULTI_ARG, own),
    directive!("maxmemory-clients", None, num(-100, isize::MAX as i128, Format::MemoryOrPercent, false), "0", 0, int maxmemory_clients),
    directive!("tracking-table-max-keys", None, uint(0, ULONG), "1000000", 0, int tracking_table_max_keys),
    directive!("busy-reply-threshold", Some("lua-time-limit"), int(0, LONG_MAX), "5000", 0, int busy_reply_threshold),

    // General.
    directive!("daemonize", None, BOOL, "no", IMMUTABLE, bool daemonize),
    directive!("supervised", None, one_of(SUPERVISED), "no", IMMUTABLE, str supervised),
    directive!("pidfile", None, NULLABLE, "", IMMUTABLE, str pidfile),
    directive!("loglevel", None, one_of(LOGLEVELS), "notice", 0, str loglevel).with_apply(values::apply_loglevel),
    directive!("logfile", None, STR, "", IMMUTABLE, str logfile),
    directive!("syslog-enabled", None, BOOL, "no", IMMUTABLE, bool syslog_enabled),
    directive!("syslog-ident", None, STR, "redis", IMMUTABLE, str syslog_ident),
    directive!("syslog-facility", None, one_of(SYSLOG_FACILITIES), "local0", IMMUTABLE, str syslog_facility),
    directive!("crash-log-enabled", None, BOOL, "yes", 0, bool crash_log_enabled),
    directive!("crash-memcheck-enabled", None, BOOL, "yes", 0, bool crash_memcheck_enabled),
    directive!("use-exit-on-panic", None, BOOL, "no", HIDDEN, bool use_exit_on_panic),
    directive!("watchdog-period", None, int(0, INT_MAX), "0", HIDDEN, int watchdog_period),
    directive!("databases", None, int(1, INT_MAX), "16", IMMUTABLE, int databases),
    directive!("always-show-logo", None, BOOL, "no", IMMUTABLE, bool always_show_logo),
    directive!("set-proc-title", None, BOOL, "yes", IMMUTABLE, bool set_proc_title),
    directive!("proc-title-template", None, checked_str(values::check_proc_title), "{title} {listen-addr} {server-mode}", 0, str proc_title_template),
    directive!("enable-protected-configs", None, one_of(PROTECTED_ACTION), "no", IMMUTABLE, str enable_protected_configs),
    directive!("enable-debug-command", None, one_of(PROTECTED_ACTION), "no", IMMUTABLE, str enable_debug_command),
    directive!("enable-module-command", None, one_of(PROTECTED_ACTION), "no", IMMUTABLE, str enable_module_command),
    directive!("ignore-warnings", None, STR, "", 0, str ignore_warnings),
    directive!("server_cpulist", None, NULLABLE, "", IMMUTABLE, str server_cpulist),
    directive!("bio_cpulist", None, NULLABLE, "", IMMUTABLE, str bio_cpulist),
    directive!("aof_rewrite_cpulist", None, NULLABLE, "", IMMUTABLE, str aof_rewrite_cpulist),
    directive!("bgsave_cpulist", None, NULLABLE, "", IMMUTABLE, str bgsave_cpulist),
    directive!("hz", None, int(0, INT_MAX), "10", 0, int hz).with_apply(values::clamp_hz),
    directive!("dynamic-hz", None, BOOL, "yes", 0, bool dynamic_hz),
    directive!("shutdown-timeout", None, int(0, INT_MAX), "10", 0, int shutdown_timeout),
    directive!("shutdown-on-sigint", None, SHUTDOWN_ON_SIGNAL, "default", MULTI_ARG, str shutdown_on_sigint),
    directive!("shutdown-on-sigterm", None, SHUTDOWN_ON_SIGNAL, "default", MULTI_ARG, str shutdown_on_sigterm),

    // Snapshotting.
    directive!("save", None, Kind::Special(&values::SAVE), "3600 1 300 100 60 10000", MULTI_ARG, own),
    directive!("stop-writes-on-bgsave-error", None, BOOL, "yes", 0, bool stop_writes_on_bgsave_error),
    directive!("rdbcompression", None, BOOL, "yes", 0, bool rdbcompression),
    directive!("rdbchecksum", None, BOOL, "yes", IMMUTABLE, bool rdbchecksum),
    directive!("sanitize-dump-payload", None, one_of(SANITIZE), "no", 0, str sanitize_dump_payload),
    directive!("dbfilename", None, checked_str(values::check_dbfilename), "dump.rdb", PROTECTED, str dbfilename),
    directive!("rdb-del-sync-files", None, BOOL, "no", 0, bool rdb_del_sync_files),
    directive!("rdb-save-incremental-fsync", None, BOOL, "yes", 0, bool rdb_save_incremental_fsync),
    directive!("rdb-key-save-delay", None, int(INT_MIN, INT_MAX), "0", HIDDEN, int rdb_key_save_delay),
    directive!("key-load-delay", None, int(INT_MIN, INT_MAX), "0", HIDDEN, int key_load_delay),
    directive!("loading-process-events-interval-bytes", None, int(1024, INT_MAX), "2097152", HIDDEN, int loading_process_events_interval_bytes),
    directive!("dir", None, Kind::Special(&values::DIR), "", PROTECTED | DENY_LOADING, own),

    // Replication.
    directive!("replicaof", Some("slaveof"), Kind::Special(&values::REPLICAOF), "", IMMUTABLE | MULTI_ARG, own),
    directive!("masterauth", None, NULLABLE, "", SENSITIVE, str masterauth),
    directive!("masteruser", None, NULLABLE, "", SENSITIVE, str masteruser),
    directive!("replica-serve-stale-data", Some("slave-serve-stale-data"), BOOL, "yes", 0, bool replica_serve_stale_data),
    directive!("replica-read-only", Some("slave-read-only"), BOOL, "yes", 0, bool replica_read_only),
    directive!("repl-diskless-sync", None, BOOL, "yes", 0, bool repl_diskless_sync),
    directive!("repl-diskless-sync-delay", None, int(0, INT_MAX), "5", 0, int repl_diskless_sync_delay),
    directive!("repl-diskless-sync-max-replicas", None, int(0, INT_MAX), "0", 0, int repl_diskless_sync_max_replicas),
    directive!("repl-diskless-load", None, one_of(DISKLESS_LOAD), "disabled", DENY_LOADING, str repl_diskless_load),
    directive!("repl-ping-replica-period", Some("repl-ping-slave-period"), int(1, INT_MAX), "10", 0, int repl_ping_replica_period),
    directive!("repl-timeout", None, int(1, INT_MAX), "60", 0, int repl_timeout),
    directive!("repl-disable-tcp-nodelay", None, BOOL, "no", 0, bool repl_disable_tcp_nodelay),
    directive!("repl-backlog-size", None, memory(1, LONG_MAX), "1048576", 0, int repl_backlog_size),
    directive!("repl-backlog-ttl", None, int(0, LONG_MAX), "3600", 0, int repl_backlog_ttl),
    directive!("replica-priority", Some("slave-priority"), int(0, INT_MAX), "100", 0, int replica_priority),
    directive!("replica-announced", None, BOOL, "yes", 0, bool replica_announced),
    directive!("min-replicas-to-write", Some("min-slaves-to-write"), int(0, INT_MAX), "0", 0, int min_replicas_to_write),
    directive!("min-replicas-max-lag", Some("min-slaves-max-lag"), int(0, INT_MAX), "10", 0, int min_replicas_max_lag),
    directive!("replica-announce-ip", Some("slave-announce-ip"), NULLABLE, "", 0, str replica_announce_ip),
    directive!("replica-announce-port", Some("slave-announce-port"), int(0, 65535), "0", 0, int replica_announce_port),
    directive!("replica-lazy-flush", Some("slave-lazy-flush"), BOOL, "no", 0, bool replica_lazy_flush),
    directive!("replica-ignore-maxmemory", Some("slave-ignore-maxmemory"), BOOL, "yes", 0, bool replica_ignore_maxmemory),
    directive!("replica-ignore-disk-write-errors", None, BOOL, "no", 0, bool replica_ignore_disk_write_errors),
    directive!("propagation-error-behavior", None, one_of(PROPAGATION_ERROR), "ignore", 0, str propagation_error_behavior),

    // Security.
    directive!("requirepass", None, NULLABLE, "", SENSITIVE, str requirepass),
    directive!("aclfile", None, STR, "", IMMUTABLE, str aclfile),
    directive!("acllog-max-len", None, int(0, LONG_MAX), "128", 0, int acllog_max_len),
    directive!("acl-pubsub-default", None, one_of(PUBSUB_DEFAULT), "resetchannels", 0, str acl_pubsub_default),

    // Memory management.
    directive!("maxmemory", None, umemory(0, ULLONG_MAX), "0", 0, int maxmemory),
    directive!("maxmemory-policy", None, one_of(POLICIES), "noeviction", 0, str maxmemory_policy),
    directive!("maxmemory-samples", None, int(1, INT_MAX), "5", 0, int maxmemory_samples),
    directive!("maxmemory-eviction-tenacity", None, int(0, 100), "10", 0, int maxmemory_eviction_tenacity),
    directive!("lazyfree-lazy-eviction", None, BOOL, "no", 0, bool lazyfree_lazy_eviction),
    directive!("lazyfree-lazy-expire", None, BOOL, "no", 0, bool lazyfree_lazy_expire),
    directive!("lazyfree-lazy-server-del", None, BOOL, "no", 0, bool lazyfree_lazy_server_del),
    directive!("lazyfree-lazy-user-del", None, BOOL, "no", 0, bool lazyfree_lazy_user_del),
    directive!("lazyfree-lazy-user-flush", None, BOOL, "no", 0, bool lazyfree_lazy_user_flush),
    directive!("oom-score-adj", None, one_of(OOM_SCORE_ADJ), "no", 0, str oom_score_adj).with_apply(process::apply_oom_score),
    directive!("oom-score-adj-values", None, Kind::Special(&values::OOM_VALUES), "0 200 800", MULTI_ARG, own).with_apply(process::apply_oom_score),
    directive!("disable-thp", None, BOOL, "yes", IMMUTABLE, bool disable_thp),
    directive!("jemalloc-bg-thread", None, BOOL, "yes", 0, bool jemalloc_bg_thread).with_apply(process::apply_jemalloc_bg_thread),
    directive!("activedefrag", None, Kind::Bool { check: Some(values::check_activedefrag) }, "no", 0, bool activedefrag),
    directive!("active-defrag-ignore-bytes", None, umemory(1, i64::MAX as i128), "104857600", 0, int active_defrag_ignore_bytes),
    directive!("active-defrag-threshold-lower", None, int(0, 1000), "10", 0, int active_defrag_threshold_lower),
    directive!("active-defrag-threshold-upper", None, int(0, 1000), "100", 0, int active_defrag_threshold_upper),
    directive!("active-defrag-cycle-min", None, int(1, 99), "1", 0, int active_defrag_cycle_min),
    directive!("active-defrag-cycle-max", None, int(1, 99), "25", 0, int active_defrag_cycle_max),
    directive!("active-defrag-max-scan-fields", None, int(1, LONG_MAX), "1000", 0, int active_defrag_max_scan_fields),
    directive!("active-expire-effort", None, int(1, 10), "1", 0, int active_expire_effort),
    directive!("lfu-log-factor", None, int(0, INT_MAX), "10", 0, int lfu_log_factor),
    directive!("lfu-decay-time", None, int(0, INT_MAX), "1", 0, int lfu_decay_time),
    directive!("activerehashing", None, BOOL, "yes", 0, bool activerehashing),

    // Append only file.
    directive!("appendonly", None, BOOL, "no", DENY_LOADING, bool appendonly),
    directive!("appendfilename", None, checked_str(values::check_aof_filename), "appendonly.aof", IMMUTABLE, str appendfilename),
    directive!("appenddirname", None, checked_str(values::check_aof_dirname), "appendonlydir", IMMUTABLE, str appenddirname),
    directive!("appendfsync", None, one_of(FSYNC), "everysec", 0, str appendfsync),
    directive!("no-appendfsync-on-rewrite", None, BOOL, "no", 0, bool no_appendfsync_on_rewrite),
    directive!("auto-aof-rewrite-percentage", None, int(0, INT_MAX), "100", 0, int auto_aof_rewrite_percentage),
    directive!("auto-aof-rewrite-min-size", None, memory(0, LONG_MAX), "67108864", 0, int auto_aof_rewrite_min_size),
    directive!("aof-load-truncated", None, BOOL, "yes", 0, bool aof_load_truncated),
    directive!("aof-use-rdb-preamble", None, BOOL, "yes", 0, bool aof_use_rdb_preamble),
    directive!("aof-timestamp-enabled", None, BOOL, "no", 0, bool aof_timestamp_enabled),
    directive!("aof-rewrite-incremental-fsync", None, BOOL, "yes", 0, bool aof_rewrite_incremental_fsync),
    directive!("aof-disable-auto-gc", None, BOOL, "no", 0, bool aof_disable_auto_gc),

    // Cluster.
    directive!("cluster-enabled", None, BOOL, "no", IMMUTABLE, bool cluster_enabled),
    directive!("cluster-config-file", None, STR, "nodes.conf", IMMUTABLE, str cluster_config_file),
    directive!("cluster-node-timeout", None, int(0, LONG_MAX), "15000", 0, int cluster_node_timeout),
    directive!("cluster-port", None, int(0, 65535), "0", IMMUTABLE, int cluster_port),
    directive!("cluster-replica-validity-factor", Some("cluster-slave-validity-factor"), int(0, INT_MAX), "10", 0, int cluster_replica_validity_factor),
    directive!("cluster-migration-barrier", None, int(0, INT_MAX), "1", 0, int cluster_migration_barrier),
    directive!("cluster-allow-replica-migration", None, BOOL, "yes", 0, bool cluster_allow_replica_migration),
    directive!("cluster-require-full-coverage", None, BOOL, "yes", 0, bool cluster_require_full_coverage),
    directive!("cluster-replica-no-failover", Some("cluster-slave-no-failover"), BOOL, "no", 0, bool cluster_replica_no_failover),
    directive!("cluster-allow-reads-when-down", None, BOOL, "no", 0, bool cluster_allow_reads_when_down),
    directive!("cluster-allow-pubsubshard-when-down", None, BOOL, "yes", 0, bool cluster_allow_pubsubshard_when_down),
    directive!("cluster-announce-ip", None, NULLABLE, "", 0, str cluster_announce_ip),
    directive!("cluster-announce-hostname", None, Kind::Str { nullable: true, check: Some(values::check_hostname) }, "", 0, str cluster_announce_hostname),
    directive!("cluster-announce-port", None, int(0, 65535), "0", 0, int cluster_announce_port),
    directive!("cluster-announce-bus-port", None, int(0, 65535), "0", 0, int cluster_announce_bus_port),
    directive!("cluster-announce-tls-port", None, int(0, 65535), "0", 0, int cluster_announce_tls_port),
    directive!("cluster-preferred-endpoint-type", None, one_of(ENDPOINT_TYPE), "ip", 0, str cluster_preferred_endpoint_type),
    directive!("cluster-link-sendbuf-limit", None, umemory(0, ULLONG_MAX), "0", 0, int cluster_link_sendbuf_limit),

    // Monitoring and events.
    directive!("slowlog-log-slower-than", None, int(-1, LONG_MAX), "10000", 0, int slowlog_log_slower_than),
    directive!("slowlog-max-len", None, int(0, LONG_MAX), "128", 0, int slowlog_max_len),
    directive!("latency-monitor-threshold", None, int(0, LONG_MAX), "0", 0, int latency_monitor_threshold),
    directive!("latency-tracking", None, BOOL, "yes", 0, bool latency_tracking),
    directive!("latency-tracking-info-percentiles", None, Kind::Special(&values::PERCENTILES), "50 99 99.9", MULTI_ARG, own),
    directive!("notify-keyspace-events", None, Kind::Special(&values::NOTIFY), "", 0, own),

    // Encodings.
    directive!("hash-max-listpack-entries", Some("hash-max-ziplist-entries"), uint(0, ULONG), "512", 0, int hash_max_listpack_entries),
    directive!("hash-max-listpack-value", Some("hash-max-ziplist-value"), umemory(0, ULONG), "64", 0, int hash_max_listpack_value),
    directive!("list-max-listpack-size", Some("list-max-ziplist-size"), int(INT_MIN, INT_MAX), "-2", 0, int list_max_listpack_size),
    directive!("list-compress-depth", None, int(0, INT_MAX), "0", 0, int list_compress_depth),
    directive!("set-max-intset-entries", None, uint(0, ULONG), "512", 0, int set_max_intset_entries),
    directive!("zset-max-listpack-entries", Some("zset-max-ziplist-entries"), uint(0, ULONG), "128", 0, int zset_max_listpack_entries),
    directive!("zset-max-listpack-value", Some("zset-max-ziplist-value"), umemory(0, ULONG), "64", 0, int zset_max_listpack_value),
    directive!("hll-sparse-max-bytes", None, umemory(0, ULONG), "3000", 0, int hll_sparse_max_bytes),
    directive!("stream-node-max-bytes", None, umemory(0, ULONG), "4096", 0, int stream_node_max_bytes),
    directive!("stream-node-max-entries", None, int(0, LONG_MAX), "100", 0, int stream_node_max_entries),

    // TLS.
    directive!("tls-port", None, int(0, 65535), "0", 0, int tls_port),
    directive!("tls-cert-file", None, NULLABLE, "", 0, str tls_cert_file),
    directive!("tls-key-file", None, NULLABLE, "", 0, str tls_key_file),
    directive!("tls-key-file-pass", None, NULLABLE, "", 0, str tls_key_file_pass),
    directive!("tls-client-cert-file", None, NULLABLE, "", 0, str tls_client_cert_file),
    directive!("tls-client-key-file", None, NULLABLE, "", 0, str tls_client_key_file),
    directive!("tls-client-key-file-pass", None, NULLABLE, "", 0, str tls_client_key_file_pass),
    directive!("tls-dh-params-file", None, NULLABLE, "", 0, str tls_dh_params_file),
    directive!("tls-ca-cert-file", None, NULLABLE, "", 0, str tls_ca_cert_file),
    directive!("tls-ca-cert-dir", None, NULLABLE, "", 0, str tls_ca_cert_dir),
    directive!("tls-protocols", None, NULLABLE, "", 0, str tls_protocols),
    directive!("tls-ciphers", None, NULLABLE, "", 0, str tls_ciphers),
    directive!("tls-ciphersuites", None, NULLABLE, "", 0, str tls_ciphersuites),
    directive!("tls-auth-clients", None, one_of(TLS_AUTH), "yes", 0, str tls_auth_clients),
    directive!("tls-replication", None, BOOL, "no", 0, bool tls_replication),
    directive!("tls-cluster", None, BOOL, "no", 0, bool tls_cluster),
    directive!("tls-prefer-server-ciphers", None, BOOL, "no", 0, bool tls_prefer_server_ciphers),
    directive!("tls-session-caching", None, BOOL, "yes", 0, bool tls_session_caching),
    directive!("tls-session-cache-size", None, int(0, INT_MAX), "20480", 0, int tls_session_cache_size),
    directive!("tls-session-cache-timeout", None, int(0, INT_MAX), "300", 0, int tls_session_cache_timeout),
];

/// Finds a directive by name or alias, ignoring case.
pub fn lookup(name: &str) -> Option<&'static Directive> {
    lookup_entry(name).map(|(d, _)| d)
}

/// Finds a directive and the name it is known by under `name` (its own name or
/// its alias), ignoring case. Redis treats an alias as an entry of its own in
/// CONFIG GET patterns and in CONFIG SET's duplicate check.
pub fn lookup_entry(name: &str) -> Option<(&'static Directive, &'static str)> {
    DIRECTIVES.iter().find_map(|d| {
        if d.name.eq_ignore_ascii_case(name) {
            Some((d, d.name))
        } else {
            d.alias.filter(|a| a.eq_ignore_ascii_case(name)).map(|a| (d, a))
        }
    })
}

/// Every (entry name, directive) pair: each directive under its name, then
/// under its alias.
pub fn entries() -> impl Iterator<Item = (&'static str, &'static Directive)> {
    DIRECTIVES.iter().flat_map(|d| std::iter::once((d.name, d)).chain(d.alias.map(|a| (a, d))))
}

impl Directive {
    pub fn is(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }

    /// The value as CONFIG GET prints it.
    pub fn get(&self, config: &Config) -> String {
        match (self.kind, self.field) {
            (Kind::Special(special), _) => (special.format)(config),
            (_, Field::Bool(get, _)) => if *get(config) { "yes" } else { "no" }.to_string(),
            (Kind::Number(n), Field::Int(get, _)) => values::format_number(*get(config), n.format),
            (_, Field::Str(get, _)) => get(config).clone(),
            _ => unreachable!("directive {} pairs a kind with the wrong field", self.name),
        }
    }

    /// Parses and stores a value given as arguments (one for a single-value
    /// directive). `appending` is true when an earlier line of the same config
    /// load already set this directive. The error is the reason Redis gives.
    pub fn set(&self, config: &mut Config, args: &[String], appending: bool) -> Result<(), String> {
        let single = || -> Result<&str, String> {
            match args {
                [one] => Ok(one.as_str()),
                _ => Err("wrong number of arguments".to_string()),
            }
        };
        match (self.kind, self.field) {
            (Kind::Special(special), _) => (special.parse)(config, args, appending)?,
            (Kind::Bool { check }, Field::Bool(_, slot)) => {
                let value = match single()?.to_ascii_lowercase().as_str() {
                    "yes" => true,
                    "no" => false,
                    _ => return Err("argument must be 'yes' or 'no'".into()),
                };
                if let Some(check) = check {
                    check(value)?;
                }
                *slot(config) = value;
            }
            (Kind::Number(n), Field::Int(_, slot)) => *slot(config) = values::parse_number(single()?, n)?,
            (Kind::Str { check, .. }, Field::Str(_, slot)) => {
                let value = single()?;
                if let Some(check) = check {
                    check(value)?;
                }
                *slot(config) = value.to_string();
            }
            (Kind::Enum { names, check }, Field::Str(_, slot)) => {
                let multi = self.is(MULTI_ARG);
                let bits = values::parse_enum(names, args, multi)?;
                if let Some(check) = check {
                    check(bits)?;
                }
                *slot(config) = values::enum_name(names, bits, multi);
            }
            _ => unreachable!("directive {} pairs a kind with the wrong field", self.name),
        }
        Ok(())
    }

    /// Sets from the single string CONFIG SET received; multi-argument
    /// directives split it at each space, as Redis does.
    pub fn set_from_text(&self, config: &mut Config, text: &str) -> Result<(), String> {
        let args: Vec<String> = if !self.is(MULTI_ARG) {
            vec![text.to_string()]
        } else if text.is_empty() {
            Vec::new()
        } else {
            text.split(' ').map(str::to_string).collect()
        };
        self.set(config, &args, false)
    }

    /// The lines CONFIG REWRITE writes for this directive, each with whether it
    /// must be written even where the file did not mention it (value not at its
    /// default). No lines: the directive is left out of the file.
    pub fn rewrite_lines(&self, config: &Config, defaults: &Config) -> Vec<(String, bool)> {
        let differs = self.get(config) != self.get(defaults);
        match self.kind {
            Kind::Special(special) => (special.rewrite)(config, self.name),
            Kind::Number(n) => {
                let Field::Int(get, _) = self.field else { unreachable!("numbers live in integer fields") };
                vec![(format!("{} {}", self.name, values::rewrite_number(*get(config), n.format)), differs)]
            }
            Kind::Str { nullable, .. } => {
                let value = self.get(config);
                if nullable && value.is_empty() {
                    return Vec::new();
                }
                vec![(format!("{} {}", self.name, values::repr(&value)), differs)]
            }
            Kind::Bool { .. } | Kind::Enum { .. } => vec![(format!("{} {}", self.name, self.get(config)), differs)],
        }
    }
}

impl Config {
    /// The defaults of every directive. Special directives without a default
    /// (`dir`, `replicaof`, `notify-keyspace-events`) keep their empty value.
    pub fn new() -> Config {
        let mut c = Config::default();
        for d in DIRECTIVES {
            if d.default.is_empty() && matches!(d.kind, Kind::Special(_)) {
                continue;
            }
            let args: Vec<String> = if d.is(MULTI_ARG) {
                d.default.split(' ').map(str::to_string).collect()
            } else {
                vec![d.default.to_string()]
            };
            d.set(&mut c, &args, false).expect("defaults are valid");
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_and_overrides() {
        let args = strings(&["--port", "7000", "--save", "", "--bind", "127.0.0.1", "::1"]);
        let Ok(Invocation::Run(c)) = from_args(&args) else { panic!("parses") };
        assert_eq!((c.port, c.bind.as_str(), c.databases), (7000, "127.0.0.1 ::1", 16));
        assert!(c.save.is_empty());
    }

    #[test]
    fn every_default_prints_as_written() {
        let c = Config::new();
        for d in DIRECTIVES.iter().filter(|d| d.name != "dir") {
            assert_eq!(d.get(&c), d.default, "{}", d.name);
        }
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = entries().map(|(n, _)| n).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }

    #[test]
    fn numbers_check_their_bounds() {
        let mut c = Config::new();
        let maxclients = lookup("maxclients").unwrap();
        assert_eq!(
            maxclients.set_from_text(&mut c, "-1").unwrap_err(),
            "argument must be between 1 and 4294967295 inclusive"
        );
        let maxmemory = lookup("maxmemory").unwrap();
        maxmemory.set_from_text(&mut c, "1gb").unwrap();
        assert_eq!(maxmemory.get(&c), "1073741824");
        let clients = lookup("maxmemory-clients").unwrap();
        clients.set_from_text(&mut c, "10%").unwrap();
        assert_eq!(clients.get(&c), "10%");
    }

    #[test]
    fn enums_print_their_first_name() {
        let mut c = Config::new();
        let oom = lookup("oom-score-adj").unwrap();
        oom.set_from_text(&mut c, "relative").unwrap();
        assert_eq!(oom.get(&c), "yes");
        let sigint = lookup("shutdown-on-sigint").unwrap();
        sigint.set_from_text(&mut c, "now save").unwrap();
        assert_eq!(sigint.get(&c), "save now");
    }
}
