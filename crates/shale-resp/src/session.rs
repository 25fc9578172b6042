//! Per-connection state: selected DB, protocol version, authentication, MULTI queue
//! and watched keys.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use bytes::Bytes;
use shale_server::ClientGuard;

use crate::store::DirtyFlag;

/// The state of one client connection.
pub struct Session {
    /// Registration in the server's client list.
    pub guard: ClientGuard,
    /// Selected database.
    pub db: usize,
    /// Reply protocol: 2 or 3.
    pub proto: u8,
    /// Authenticated (always true without `requirepass`).
    pub authed: bool,
    /// Commands queued since MULTI, `None` outside MULTI.
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A command failed to queue: EXEC aborts.
    pub multi_error: bool,
    /// Keys watched, by database.
    pub watched: Vec<(usize, Bytes)>,
    /// Expiry (ms) of each watched key that was live with a TTL when watched, in
    /// `watched` order (0: none). EXEC aborts if one of them has passed, as Redis 7.0
    /// does for watched keys that expire.
    pub watch_expiry: Vec<u64>,
    /// Set when a watched key is modified.
    pub dirty: DirtyFlag,
    /// Close after the reply (QUIT).
    pub close: bool,
}

impl Session {
    /// A new session for a connection.
    pub fn new(guard: ClientGuard, authed: bool) -> Session {
        Session {
            guard,
            db: 0,
            proto: 2,
            authed,
            multi: None,
            multi_error: false,
            watched: Vec::new(),
            watch_expiry: Vec::new(),
            dirty: Arc::new(AtomicBool::new(false)),
            close: false,
        }
    }

    /// The client id.
    pub fn id(&self) -> u64 {
        self.guard.id()
    }
}
