//! The AOF's background thread (Redis's bio jobs for the AOF): fsyncs for
//! `appendfsync everysec`, and unlinking history files, so neither stalls
//! the main thread. Files travel as `Arc<File>`: an incr file replaced at a
//! rewrite stays open until its last pending fsync is done.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;

use crate::log::log_at;

enum Job {
    Fsync(Arc<File>),
    Unlink(PathBuf),
}

pub struct Background {
    jobs: Sender<Job>,
    /// Fsyncs queued or running (INFO aof_pending_bio_fsync).
    pending_fsyncs: Arc<AtomicU64>,
    /// The errno of the last background fsync if it failed, 0 if it worked.
    fsync_errno: Arc<AtomicI32>,
}

impl Background {
    pub fn start() -> Background {
        let (jobs, queue) = channel::<Job>();
        let pending_fsyncs = Arc::new(AtomicU64::new(0));
        let fsync_errno = Arc::new(AtomicI32::new(0));
        let (pending, errno) = (pending_fsyncs.clone(), fsync_errno.clone());
        std::thread::Builder::new()
            .name("aof-bio".into())
            .spawn(move || {
                for job in queue {
                    match job {
                        Job::Fsync(file) => {
                            let result = file.sync_data();
                            if let Err(e) = &result {
                                // Logged here: the main thread only sees the errno.
                                log_at!(Warning, "Fail to fsync the AOF file: {}", crate::config::strerror(e));
                            }
                            let code = result.err().map_or(0, |e| e.raw_os_error().unwrap_or(libc::EIO));
                            errno.store(code, Ordering::Release);
                            pending.fetch_sub(1, Ordering::AcqRel);
                        }
                        Job::Unlink(path) => {
                            let _ = std::fs::remove_file(path);
                        }
                    }
                }
            })
            .expect("aof background thread");
        Background { jobs, pending_fsyncs, fsync_errno }
    }

    pub fn fsync(&self, file: Arc<File>) {
        self.pending_fsyncs.fetch_add(1, Ordering::AcqRel);
        if self.jobs.send(Job::Fsync(file)).is_err() {
            self.pending_fsyncs.fetch_sub(1, Ordering::AcqRel);
        }
    }

    pub fn unlink(&self, path: PathBuf) {
        let _ = self.jobs.send(Job::Unlink(path));
    }

    pub fn pending_fsyncs(&self) -> u64 {
        self.pending_fsyncs.load(Ordering::Acquire)
    }

    pub fn fsync_in_progress(&self) -> bool {
        self.pending_fsyncs() > 0
    }

    /// The error of the last background fsync, if it failed.
    pub fn last_fsync_error(&self) -> Option<std::io::Error> {
        match self.fsync_errno.load(Ordering::Acquire) {
            0 => None,
            errno => Some(std::io::Error::from_raw_os_error(errno)),
        }
    }
}
