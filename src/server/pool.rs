//! serve's connections to the state: one for an SQLite file (its writers
//! queue on the file's lock anyway, and one connection owns the WAL
//! checkpoints), several for PostgreSQL, so a slow transaction on one
//! does not hold up the reads of every other request.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};

use crate::error::Result;
use crate::store::{Engine, Store};

/// Connections a replica holds to a PostgreSQL state.
pub const PG_CONNECTIONS: usize = 4;

/// Open connections to one state, handed out one at a time.
pub struct Pool {
    stores: Vec<Mutex<Store>>,
    next: AtomicUsize,
}

impl Pool {
    /// A pool around `first`; on PostgreSQL, [`PG_CONNECTIONS`] in all, the
    /// others made by `open` (each set up as `first` was).
    pub fn new(first: Store, open: impl Fn() -> Result<Store>) -> Result<Pool> {
        let size = match first.engine() {
            Engine::Sqlite => 1,
            Engine::Postgres => PG_CONNECTIONS,
        };
        let mut stores = vec![Mutex::new(first)];
        for _ in 1..size {
            stores.push(Mutex::new(open()?));
        }
        Ok(Pool {
            stores,
            next: AtomicUsize::new(0),
        })
    }

    /// A free connection, or, when all are busy, a turn at the next one.
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        let n = self.stores.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            match self.stores[(start + i) % n].try_lock() {
                Ok(g) => return g,
                Err(TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.stores[start % n]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}
