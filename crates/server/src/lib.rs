//! The Cinnabar server engine: configuration, the event loop, connections,
//! the command table and the command families, INFO and the cron.
//!
//! One thread owns all data (see `docs/architecture.md`): a tokio
//! current-thread runtime runs the listeners, every connection task and the
//! cron on the main thread, and commands execute one at a time to completion.

pub mod access;
pub mod acl;
pub mod active_expire;
pub mod allocator;
pub mod blocking;
pub mod client;
pub mod client_eviction;
pub mod command;
pub mod commands;
pub mod config;
pub mod cron;
pub mod evict;
pub mod latency;
pub mod lazyfree;
pub mod log;
pub mod net;
pub mod notify;
pub mod persistence;
pub mod propagate;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod slowlog;
pub mod stats;
pub mod tls;
pub mod tracking;
pub mod watch;

use std::cell::RefCell;
use std::rc::Rc;

use config::Config;
use log::log_at;
use server::Server;

/// The Redis version Cinnabar is compatible with and reports.
pub const REDIS_VERSION: &str = "7.0.15";
pub const CINNABAR_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Starts the server and runs it until shutdown. Returns the exit status.
pub fn run(mut config: Config) -> i32 {
    if config.daemonize {
        daemonize();
    }
    let level = log::Level::parse(&config.loglevel).unwrap_or(log::Level::Notice);
    log::configure(level, &config.logfile);
    log_startup(&config);
    if config::fit_maxclients(&mut config) == config::OpenFiles::TooLow {
        return 1;
    }
    config::apply_process_settings(&config);
    if !config.dir.is_empty() {
        if let Err(e) = std::env::set_current_dir(&config.dir) {
            log_at!(Warning, "Can't chdir to '{}': {}", config.dir, e);
            return 1;
        }
    }
    if !config.pidfile.is_empty() {
        if let Err(e) = std::fs::write(&config.pidfile, format!("{}\n", std::process::id())) {
            log_at!(Warning, "Failed to write PID file: {}", e);
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    // The server runs as a task of its own: the future `block_on` drives is
    // polled whenever any task wakes, and a join handle is cheap to poll
    // where `serve`'s signal-and-shutdown select is not.
    local.block_on(&runtime, async { tokio::task::spawn_local(serve(config)).await.unwrap_or(1) })
}

async fn serve(config: Config) -> i32 {
    let port = config.port as u16;
    let listeners = match net::bind_all(&config.bind, port, config.tcp_backlog as u32) {
        Ok(l) if !l.is_empty() || port == 0 => l,
        _ => {
            log_at!(Warning, "Failed listening on port {} (TCP), aborting.", port);
            return 1;
        }
    };
    let (tls_context, tls_listeners) = match bind_tls(&config) {
        Ok(tls) => tls,
        Err(()) => return 1,
    };
    let pidfile = config.pidfile.clone();
    let server = Rc::new(RefCell::new(Server::new(config)));
    server.borrow_mut().handle = Rc::downgrade(&server);
    server.borrow_mut().tls_context = tls_context;
    {
        let srv = &mut *server.borrow_mut();
        if let Err(reason) = acl::file::load_at_startup(&mut srv.acl, &srv.config, &srv.commands) {
            log_at!(Warning, "{}", reason);
            return 1;
        }
    }
    server.borrow_mut().listening_port = port;
    server.borrow_mut().startup_memory = stats::used_memory();
    log::set_role('M');
    log_at!(Notice, "Running mode=standalone, port={}.", port);
    log_at!(Warning, "Server initialized");
    tokio::task::spawn_local(persistence::aof::run_flusher(server.clone()));
    for listener in listeners {
        server.borrow_mut().listener_fds.push(std::os::fd::AsRawFd::as_raw_fd(&listener));
        tokio::task::spawn_local(net::accept_loop(listener, server.clone(), false));
    }
    // Not in listener_fds: a busy script's loop accepts plain connections only.
    for listener in tls_listeners {
        tokio::task::spawn_local(net::accept_loop(listener, server.clone(), true));
    }
    tokio::task::spawn_local(run_cron(server.clone()));
    tokio::task::spawn_local(evict::run_background(server.clone()));
    // Clients are served (-LOADING) while the dataset loads. With the AOF
    // on, it alone holds the dataset (as Redis: the RDB is ignored).
    match persistence::aof::load_at_startup(&server).await {
        Ok(true) => {}
        Ok(false) => persistence::rdb::load_at_startup(&server).await,
        Err(_) => return 1,
    }
    log_at!(Notice, "Ready to accept connections");
    let master = server.borrow().config.replicaof.clone();
    if let Some((host, port)) = master {
        replication::replica::follow(&mut server.borrow_mut(), host, port as u16);
    }

    let shutdown = server.borrow().shutdown_requested.clone();
    let mut sigterm =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).expect("SIGINT handler");
    loop {
        // SHUTDOWN saved (or failed and replied) before notifying; a signal
        // saves here and, if that fails, the server keeps running as Redis does.
        let signal_flags = tokio::select! {
            _ = sigterm.recv() => {
                log_at!(Warning, "Received SIGTERM scheduling shutdown...");
                server.borrow().config.shutdown_on_sigterm.clone()
            }
            _ = sigint.recv() => {
                log_at!(Warning, "Received SIGINT scheduling shutdown...");
                server.borrow().config.shutdown_on_sigint.clone()
            }
            _ = shutdown.notified() => break,
        };
        log_at!(Warning, "User requested shutdown...");
        let flag = |name: &str| signal_flags.split_whitespace().any(|w| w.eq_ignore_ascii_case(name));
        let (save, nosave, force) = (flag("save"), flag("nosave"), flag("force"));
        if persistence::rdb::shutdown_save(&mut server.borrow_mut(), save, nosave, force) {
            break;
        }
        log_at!(Warning, "Errors trying to shut down the server. Check the logs for more information.");
    }
    replication::master::kill_snapshot_child(&mut server.borrow_mut());
    persistence::aof::shutdown(&mut server.borrow_mut());
    if !pidfile.is_empty() {
        log_at!(Notice, "Removing the pid file.");
        let _ = std::fs::remove_file(&pidfile);
    }
    log_at!(Warning, "Redis is now ready to exit, bye bye...");
    0
}

/// The TLS context and the listeners of `tls-port`, if set.
type TlsListening = (Option<std::sync::Arc<rustls::ServerConfig>>, Vec<tokio::net::TcpListener>);

/// With a `tls-port`, builds the TLS context and binds its listeners, or
/// logs why not as Redis does.
fn bind_tls(config: &Config) -> Result<TlsListening, ()> {
    if config.tls_port == 0 {
        return Ok((None, Vec::new()));
    }
    let context = tls::server_config(config).map_err(|cause| tls::log_failure(&cause))?;
    let port = config.tls_port as u16;
    match net::bind_all(&config.bind, port, config.tcp_backlog as u32) {
        Ok(l) if !l.is_empty() => Ok((Some(context), l)),
        _ => {
            log_at!(Warning, "Failed listening on port {} (tls), aborting.", port);
            Err(())
        }
    }
}

async fn run_cron(server: Rc<RefCell<Server>>) {
    let mut state = cron::CronState::default();
    loop {
        let period = cron::period(&server.borrow());
        tokio::time::sleep(period).await;
        cron::tick(&mut server.borrow_mut(), &mut state);
    }
}

fn log_startup(config: &Config) {
    log_at!(Warning, "oO0OoO0OoO0Oo Cinnabar is starting oO0OoO0OoO0Oo");
    log_at!(
        Warning,
        "Cinnabar version={} (redis_version={}), bits=64, commit=00000000, modified=0, pid={}, just started",
        CINNABAR_VERSION,
        REDIS_VERSION,
        std::process::id()
    );
    if !config.loaded_from_arguments {
        log_at!(
            Warning,
            "Warning: no config file specified, using the default config. In order to specify a config file use cinnabar-server /path/to/redis.conf"
        );
    } else {
        log_at!(Warning, "Configuration loaded");
    }
    let tty = unsafe { libc::isatty(libc::STDOUT_FILENO) } == 1;
    if config.always_show_logo || tty {
        log_at!(Notice, "Cinnabar {} (Redis {} compatible) standalone", CINNABAR_VERSION, REDIS_VERSION);
        log_at!(Notice, "Port: {}", config.port);
        log_at!(Notice, "PID: {}", std::process::id());
    }
}

/// Detaches from the terminal like Redis's `daemonize`.
fn daemonize() {
    // SAFETY: called before any thread is started; the parent exits at once.
    unsafe {
        match libc::fork() {
            -1 => return,
            0 => {}
            _ => libc::_exit(0),
        }
        libc::setsid();
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if fd != -1 {
            libc::dup2(fd, libc::STDIN_FILENO);
            libc::dup2(fd, libc::STDOUT_FILENO);
            libc::dup2(fd, libc::STDERR_FILENO);
            if fd > libc::STDERR_FILENO {
                libc::close(fd);
            }
        }
    }
}
