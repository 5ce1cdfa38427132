//! Replication (PSYNC2): the identity of this server's history (replication
//! ids and offsets), the replication buffer replicas and the backlog share
//! (`backlog`), the master side that feeds replicas, and the replica side
//! that follows a master.
//!
//! The stream itself is produced by `propagate::Propagator`, which appends
//! every write's effects to the replication buffer; this module decides who
//! reads it and from where.

pub mod backlog;
pub mod failover;
pub mod master;
pub mod replica;

/// A replication id nobody has: replid2 before any failover.
pub const NO_REPLID: &str = "0000000000000000000000000000000000000000";

/// The identity of the history this server's dataset follows.
pub struct Replication {
    /// The id of the current history (master_replid).
    pub replid: String,
    /// The id of the history before the last promotion (master_replid2),
    /// valid up to `second_replid_offset`.
    pub replid2: String,
    /// The first offset *not* part of the replid2 history, or -1
    /// (second_repl_offset).
    pub second_replid_offset: i64,
    /// Our master, when we are a replica.
    pub link: Option<replica::MasterLink>,
    /// True when our replid and offset name a point of a history a master
    /// may continue (PSYNC replid offset, not `PSYNC ? -1`): once we were a
    /// master or synced, or the RDB we started from says so.
    pub psync_from_own_history: bool,
    /// The database our master's stream is in where we left it: a partial
    /// resync continues there without a SELECT.
    pub stream_db: usize,
    /// Our replicas, WAIT clients, snapshot children, sync counters.
    pub master_side: master::MasterState,
    pub failover: failover::Failover,
}

impl Default for Replication {
    fn default() -> Self {
        Replication {
            replid: random_id(),
            replid2: NO_REPLID.to_string(),
            second_replid_offset: -1,
            link: None,
            psync_from_own_history: false,
            stream_db: 0,
            master_side: Default::default(),
            failover: Default::default(),
        }
    }
}

/// A random 40-hex-digit id (replication ids, run_id).
pub fn random_id() -> String {
    (0..40).map(|_| char::from_digit(fastrand::u32(..16), 16).expect("hex digit")).collect()
}

/// Once a second: the master side's duties and the failover's progress.
pub fn cron(srv: &mut crate::server::Server) {
    master::cron(srv);
    failover::cron(srv);
}

impl Replication {
    /// Takes the history a snapshot loaded at start-up belongs to (its aux
    /// fields): a replica continues it with PSYNC; a master keeps it as its
    /// previous history, so its old replicas may continue (as Redis 7.0).
    pub fn restore(
        &mut self,
        propagation: &mut crate::propagate::Propagator,
        info: (String, u64, usize),
        replica: bool,
        backlog_size: u64,
    ) {
        let (replid, offset, stream_db) = info;
        propagation.set_repl_offset(offset);
        if replica {
            self.replid = replid;
            self.psync_from_own_history = true;
            self.stream_db = stream_db;
        } else {
            self.replid2 = replid;
            self.second_replid_offset = offset as i64 + 1;
            propagation.start_backlog(backlog_size);
        }
    }

    /// True while we follow a master.
    pub fn is_replica(&self) -> bool {
        self.link.is_some()
    }

    /// Starts a new history: replicas of the old one can no longer continue
    /// (a master creating its backlog, a replica after a full sync adopts its
    /// master's id instead).
    pub fn change_replid(&mut self) {
        self.replid = random_id();
    }

    /// Forgets the previous history.
    pub fn clear_replid2(&mut self) {
        self.replid2 = NO_REPLID.to_string();
        self.second_replid_offset = -1;
    }

    /// PSYNC2 at promotion: the current history becomes the previous one,
    /// valid up to `offset` (the replicated offset reached), and a new id
    /// continues it, so replicas of the old master may continue with us.
    pub fn shift_replid(&mut self, offset: u64) {
        self.replid2 = std::mem::replace(&mut self.replid, random_id());
        self.second_replid_offset = offset as i64 + 1;
    }

    /// True if a replica that followed history `replid` up to `offset` is on
    /// ours: the same id, or our previous one and not past where we left it.
    /// (Whether the bytes after `offset` are still held is the backlog's
    /// question.)
    pub fn follows_our_history(&self, replid: &str, offset: u64) -> bool {
        replid == self.replid
            || (replid == self.replid2 && self.second_replid_offset >= 0 && offset < self.second_replid_offset as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_promoted_replica_accepts_its_old_masters_history_up_to_the_switch() {
        let mut r = Replication::default();
        let old = r.replid.clone();
        r.shift_replid(100);
        assert_ne!(r.replid, old);
        assert_eq!((r.replid2.as_str(), r.second_replid_offset), (old.as_str(), 101));
        assert!(r.follows_our_history(&old, 100));
        assert!(!r.follows_our_history(&old, 101));
        assert!(r.follows_our_history(&r.replid.clone(), 5000));
        r.clear_replid2();
        assert!(!r.follows_our_history(&old, 50));
    }
}
