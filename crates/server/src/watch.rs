//! WATCH's registry: which clients watch which keys of which database, and
//! which clients saw a watched key change since (their next EXEC fails,
//! Redis's CLIENT_DIRTY_CAS).
//!
//! Changes reach it through the server's hooks: `Server::signal_modified_key`
//! for one key (`touch`), and for whole databases FLUSHDB/FLUSHALL and SWAPDB
//! (`touch_replaced_db`). With nobody watching, every hook returns after one
//! `is_empty` check. It owns no keys and never reads the keyspace on its own:
//! callers pass what it needs to know about the databases.
//!
//! A key that was already expired (but not yet deleted) when watched is
//! remembered as such: its later deletion changes nothing a client could
//! observe, so it does not fail EXEC. A watched key that expires after WATCH
//! does, even before anything deletes it (`expired_since_watch`, checked by
//! EXEC), as in Redis 7.0.

use std::collections::{HashMap, HashSet};

use cinnabar_storage::Db;

use crate::client::ClientId;

/// One client watching one key.
struct Watcher {
    client: ClientId,
    /// The key had expired (still present, logically gone) when watched.
    expired_at_watch: bool,
}

/// The registry; see the module comment.
#[derive(Default)]
pub struct Watches {
    /// Per database: each watched key's watchers, in WATCH order.
    by_db: Vec<HashMap<Vec<u8>, Vec<Watcher>>>,
    /// Each watching client's keys, as (database, key).
    by_client: HashMap<ClientId, Vec<(usize, Vec<u8>)>>,
    /// Clients whose watched keys changed since they watched them.
    touched: HashSet<ClientId>,
}

impl Watches {
    /// True if no client watches any key: changes need not be reported.
    pub fn is_empty(&self) -> bool {
        self.by_client.is_empty()
    }

    /// `client` watches `key` of `db` (again: nothing changes). `expired`
    /// says the key is present but its TTL has passed.
    pub fn watch(&mut self, client: ClientId, db: usize, key: &[u8], expired: bool) {
        let keys = self.by_client.entry(client).or_default();
        if keys.iter().any(|(d, k)| *d == db && k == key) {
            return;
        }
        keys.push((db, key.to_vec()));
        if self.by_db.len() <= db {
            self.by_db.resize_with(db + 1, HashMap::new);
        }
        self.by_db[db].entry(key.to_vec()).or_default().push(Watcher { client, expired_at_watch: expired });
    }

    /// How many keys `client` watches.
    pub fn count(&self, client: ClientId) -> usize {
        self.by_client.get(&client).map_or(0, Vec::len)
    }

    /// True if a key `client` watched changed since (its EXEC must fail).
    pub fn is_touched(&self, client: ClientId) -> bool {
        self.touched.contains(&client)
    }

    /// Forgets everything about `client`: its watched keys and whether they
    /// changed (UNWATCH, EXEC, DISCARD, RESET, disconnection).
    pub fn unwatch(&mut self, client: ClientId) {
        self.drop_keys(client);
        self.touched.remove(&client);
    }

    /// Stops watching `client`'s keys, keeping whether they changed.
    fn drop_keys(&mut self, client: ClientId) {
        let Some(keys) = self.by_client.remove(&client) else { return };
        for (db, key) in keys {
            let watchers = self.by_db[db].get_mut(&key).expect("watched keys are indexed both ways");
            watchers.retain(|w| w.client != client);
            if watchers.is_empty() {
                self.by_db[db].remove(&key);
            }
        }
    }

    /// `key` of `db` changed; `exists` says whether it is present now.
    /// Its watchers are touched, and stop watching anything (their EXEC fails
    /// whatever happens next), except those that watched it already expired
    /// and now see it deleted: that deletion is no visible change.
    pub fn touch(&mut self, db: usize, key: &[u8], exists: bool) {
        let Some(watchers) = self.by_db.get_mut(db).and_then(|keys| keys.get_mut(key)) else { return };
        let mut touched = Vec::new();
        for watcher in watchers.iter_mut() {
            if watcher.expired_at_watch && !exists {
                // From now on it watches a missing key, like any other.
                watcher.expired_at_watch = false;
                continue;
            }
            touched.push(watcher.client);
        }
        for client in touched {
            self.touched.insert(client);
            self.drop_keys(client);
        }
    }

    /// Database `db`, holding `emptied`, is about to be emptied (FLUSHDB,
    /// FLUSHALL: `replaced_with` is None) or to receive the contents of
    /// `replaced_with` (SWAPDB). Watchers of keys present in either are
    /// touched, unless nothing visible changes for them: a key that was
    /// expired when watched and is now gone or still expired, or a missing
    /// key replaced by an expired one (which then counts as watched expired).
    pub fn touch_replaced_db(&mut self, db: usize, emptied: &Db, replaced_with: Option<&Db>, now_ms: i64) {
        let Some(keys) = self.by_db.get_mut(db) else { return };
        for (key, watchers) in keys.iter_mut() {
            let was_present = emptied.contains(key);
            let incoming = replaced_with.filter(|other| other.contains(key));
            if !was_present && incoming.is_none() {
                continue;
            }
            let incoming_expired = incoming.is_some_and(|other| other.is_expired(key, now_ms));
            for watcher in watchers.iter_mut() {
                if watcher.expired_at_watch {
                    if incoming.is_none() {
                        watcher.expired_at_watch = false;
                        continue;
                    }
                    if incoming_expired {
                        continue;
                    }
                } else if !was_present && incoming_expired {
                    watcher.expired_at_watch = true;
                    continue;
                }
                self.touched.insert(watcher.client);
            }
        }
    }

    /// True if a key `client` watched while it was live has expired since,
    /// deleted or not (EXEC then fails).
    pub fn expired_since_watch(&self, client: ClientId, dbs: &[Db], now_ms: i64) -> bool {
        let Some(keys) = self.by_client.get(&client) else { return false };
        keys.iter().any(|(db, key)| {
            let live_when_watched = self.by_db[*db][key].iter().any(|w| w.client == client && !w.expired_at_watch);
            live_when_watched && dbs[*db].is_expired(key, now_ms)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cinnabar_storage::{Entry, StrValue, Value};

    fn db_with(keys: &[(&[u8], Option<i64>)]) -> Db {
        let mut db = Db::new();
        for (key, expire) in keys {
            db.set(key, Entry::new(Value::Str(StrValue::from_bytes(b"v")), 0), false);
            if let Some(when) = expire {
                db.set_expire(key, *when);
            }
        }
        db
    }

    #[test]
    fn touching_a_key_touches_its_watchers_and_unwatches_them() {
        let mut w = Watches::default();
        assert!(w.is_empty());
        w.watch(1, 0, b"a", false);
        w.watch(1, 0, b"b", false);
        w.watch(2, 0, b"a", false);
        w.watch(3, 1, b"a", false);
        w.touch(0, b"a", true);
        assert!(w.is_touched(1) && w.is_touched(2) && !w.is_touched(3));
        assert_eq!((w.count(1), w.count(2), w.count(3)), (0, 0, 1));
        assert!(w.by_db[0].is_empty(), "b is no longer watched by anyone");
        w.unwatch(1);
        assert!(!w.is_touched(1));
    }

    #[test]
    fn deleting_a_key_watched_expired_is_no_change() {
        let mut w = Watches::default();
        w.watch(1, 0, b"k", true);
        w.touch(0, b"k", false); // expiry deleted it
        assert!(!w.is_touched(1));
        w.touch(0, b"k", true); // then it was written
        assert!(w.is_touched(1));
    }

    #[test]
    fn keys_expiring_after_watch_fail_exec() {
        let mut w = Watches::default();
        let dbs = [db_with(&[(b"live", Some(100)), (b"dead", Some(10))])];
        w.watch(1, 0, b"live", false);
        w.watch(2, 0, b"dead", true);
        assert!(!w.expired_since_watch(1, &dbs, 50));
        assert!(w.expired_since_watch(1, &dbs, 101));
        assert!(!w.expired_since_watch(2, &dbs, 101));
    }

    #[test]
    fn flushes_touch_only_present_keys() {
        let mut w = Watches::default();
        let db = db_with(&[(b"here", None), (b"dead", Some(10))]);
        w.watch(1, 0, b"here", false);
        w.watch(2, 0, b"missing", false);
        w.watch(3, 0, b"dead", true);
        w.touch_replaced_db(0, &db, None, 100);
        assert!(w.is_touched(1));
        assert!(!w.is_touched(2));
        assert!(!w.is_touched(3));
        assert_eq!(w.count(1), 1, "a flush marks watchers without unwatching them");
    }

    #[test]
    fn swaps_compare_both_databases() {
        let mut w = Watches::default();
        let mine = db_with(&[]);
        let theirs = db_with(&[(b"live", None), (b"dead", Some(10))]);
        w.watch(1, 0, b"live", false);
        w.watch(2, 0, b"dead", false);
        w.watch(3, 0, b"absent", false);
        w.touch_replaced_db(0, &mine, Some(&theirs), 100);
        assert!(w.is_touched(1));
        assert!(!w.is_touched(2), "a missing key replaced by an expired one looks unchanged");
        assert!(!w.is_touched(3));
        // ... and is watched as expired from then on.
        w.touch(0, b"dead", false);
        assert!(!w.is_touched(2));
    }
}
