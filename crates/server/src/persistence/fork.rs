//! Forked children for background persistence (BGSAVE now, AOF rewrite
//! later): fork with the fork time measured, a child-info pipe through which
//! the child reports its copy-on-write size (as Redis's child info pipe),
//! non-blocking reaping from the cron, and killing.
//!
//! The child runs only the job it is given — serializing a snapshot of the
//! memory it inherited — and leaves with `_exit`: it never returns into the
//! tokio runtime, runs no destructors of the parent's state and talks to no
//! other thread (the lazyfree thread does not exist in the child).

use std::io;
use std::time::{Duration, Instant};

/// A running child process.
pub struct Child {
    pub pid: libc::pid_t,
    /// Read end of the child-info pipe (non-blocking).
    info_fd: libc::c_int,
    /// How long `fork()` took in the parent (latest_fork_usec).
    pub fork_time: Duration,
}

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

/// A child-info message: kind, keys processed, copy-on-write bytes.
const INFO_LEN: usize = 24;
const INFO_CURRENT: u64 = 0;
const INFO_FINAL: u64 = 1;

/// What the child last reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChildInfo {
    pub keys_processed: u64,
    pub cow_bytes: u64,
    /// True once the final report (sent on success) arrived.
    pub done: bool,
    /// When `cow_bytes` was measured.
    pub cow_updated: Option<Instant>,
}

/// The child's side of the info pipe: progress reports at most once a second.
pub struct Reporter {
    fd: libc::c_int,
    last_sent: Instant,
    what: &'static str,
}

impl Reporter {
    /// Reports progress if a second passed since the last report.
    pub fn progress(&mut self, keys_processed: u64) {
        if self.last_sent.elapsed() >= Duration::from_secs(1) {
            self.last_sent = Instant::now();
            self.send(INFO_CURRENT, keys_processed);
        }
    }

    fn send(&self, kind: u64, keys_processed: u64) {
        let cow = private_dirty_bytes();
        if kind == INFO_FINAL && cow > 0 {
            let mb = cow >> 20;
            crate::log::log_at!(Notice, "Fork CoW for {}: current {mb} MB, peak {mb} MB, average {mb} MB", self.what);
        }
        let mut msg = [0u8; INFO_LEN];
        msg[..8].copy_from_slice(&kind.to_le_bytes());
        msg[8..16].copy_from_slice(&keys_processed.to_le_bytes());
        msg[16..].copy_from_slice(&cow.to_le_bytes());
        // SAFETY: writing a small buffer we own to a pipe we own; a message
        // under PIPE_BUF is written whole or not at all.
        unsafe { libc::write(self.fd, msg.as_ptr().cast(), INFO_LEN) };
    }
}

/// Forks; the child runs `job` (true = success) and exits with status 0 or 1
/// after a final report of its copy-on-write size. `title` names the child
/// process, `what` names the job in the copy-on-write log line.
pub fn spawn(
    title: &std::ffi::CStr,
    what: &'static str,
    job: impl FnOnce(&mut Reporter) -> (bool, u64),
) -> io::Result<Child> {
    spawn_keeping(title, what, -1, job)
}

/// `spawn`, leaving descriptor `keep` open in the child (the pipe a
/// snapshot for replicas is written into); -1 keeps none.
pub fn spawn_keeping(
    title: &std::ffi::CStr,
    what: &'static str,
    keep: libc::c_int,
    job: impl FnOnce(&mut Reporter) -> (bool, u64),
) -> io::Result<Child> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } == -1 {
        return Err(io::Error::last_os_error());
    }
    let started = Instant::now();
    // SAFETY: the child only runs `job` (plain computation and file I/O on
    // memory it owns after the fork) and leaves through `_exit`.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: we are the single-threaded child; these calls only affect it.
        unsafe {
            close_inherited_descriptors(&[fds[1], keep]);
            libc::prctl(libc::PR_SET_NAME, title.as_ptr());
        }
        crate::log::set_role('C');
        let mut reporter = Reporter { fd: fds[1], last_sent: Instant::now(), what };
        let run = std::panic::AssertUnwindSafe(|| job(&mut reporter));
        let (ok, keys) = std::panic::catch_unwind(run).unwrap_or((false, 0));
        if ok {
            reporter.send(INFO_FINAL, keys);
        }
        // SAFETY: leaves at once without running the parent's destructors.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) }
    }
    let fork_time = started.elapsed();
    // SAFETY: closing our copy of the write end.
    unsafe { libc::close(fds[1]) };
    if pid == -1 {
        let err = io::Error::last_os_error();
        // SAFETY: the read end is ours and no longer needed.
        unsafe { libc::close(fds[0]) };
        return Err(err);
    }
    Ok(Child { pid, info_fd: fds[0], fork_time })
}

/// For a child whose work only its parent can use (an AOF rewrite's base
/// is installed by the parent): the child is killed when `parent` dies.
/// A BGSAVE child is left to finish its dump, as Redis's is.
pub fn die_with_parent(parent: u32) {
    // SAFETY: prctl and getppid only concern the calling process; `_exit`
    // leaves at once, which is what a child whose parent is gone should do.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        // The parent may have died before the request was made.
        if libc::getppid() as u32 != parent {
            libc::_exit(1);
        }
    }
}

/// Closes every descriptor above stderr except those in `keep` (the info
/// pipe, a snapshot pipe), so the child does not hold the listening
/// sockets, client connections or the event loop's descriptors (a port
/// stays free if the parent dies first).
///
/// # Safety
/// Only for a freshly forked child that uses no other descriptor it inherited.
unsafe fn close_inherited_descriptors(keep: &[libc::c_int]) {
    let mut kept: Vec<libc::c_int> = keep.iter().copied().filter(|&fd| fd > 2).collect();
    kept.sort_unstable();
    let mut first = 3;
    for fd in kept.into_iter().chain(std::iter::once(libc::c_int::MAX)) {
        if first < fd {
            // close_range needs Linux 5.9; on older kernels descriptors stay
            // open, which is harmless apart from holding sockets a little longer.
            libc::syscall(libc::SYS_close_range, first as libc::c_uint, (fd - 1) as libc::c_uint, 0 as libc::c_uint);
        }
        first = fd.saturating_add(1);
    }
}

/// Sum of Private_Dirty over this process's mappings (Redis's
/// `zmalloc_get_private_dirty`), from /proc/self/smaps_rollup.
pub fn private_dirty_bytes() -> u64 {
    let text = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    text.lines()
        .filter_map(|l| l.strip_prefix("Private_Dirty:"))
        .filter_map(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .sum::<u64>()
        * 1024
}

impl Child {
    /// The child's exit, if it has ended (never blocks).
    pub fn try_reap(&self) -> Option<Exit> {
        let mut status = 0;
        // SAFETY: waiting on our own child without blocking.
        let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
        if r != self.pid {
            return None;
        }
        Some(if libc::WIFSIGNALED(status) {
            Exit::Signal(libc::WTERMSIG(status))
        } else {
            Exit::Code(libc::WEXITSTATUS(status))
        })
    }

    /// Kills the child with SIGUSR1 (Redis's way of saying "not an error")
    /// and waits for it.
    pub fn kill_and_wait(&self) {
        let mut status = 0;
        // SAFETY: signalling and reaping our own child.
        unsafe {
            libc::kill(self.pid, libc::SIGUSR1);
            libc::waitpid(self.pid, &mut status, 0);
        }
    }

    /// Folds every report waiting in the pipe into `info`.
    pub fn receive_info(&self, info: &mut ChildInfo) {
        let mut msg = [0u8; INFO_LEN];
        // SAFETY: reading into a buffer we own from our non-blocking pipe.
        while unsafe { libc::read(self.info_fd, msg.as_mut_ptr().cast(), INFO_LEN) } == INFO_LEN as isize {
            let field = |i: usize| u64::from_le_bytes(msg[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
            info.done |= field(0) == INFO_FINAL;
            info.keys_processed = field(1);
            info.cow_bytes = field(2);
            info.cow_updated = Some(Instant::now());
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours.
        unsafe { libc::close(self.info_fd) };
    }
}
