//! The registry of connected clients (`CLIENT LIST`, `INFO clients`, `stats`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime};

/// What is known about one connected client.
#[derive(Clone, Debug)]
pub struct ClientInfo {
    /// Unique id, increasing from 1 over the server's life.
    pub id: u64,
    /// Front end it is connected to.
    pub protocol: &'static str,
    /// The peer's address.
    pub addr: SocketAddr,
    /// The server-side address.
    pub local_addr: SocketAddr,
    /// Name set by the client (`CLIENT SETNAME`), empty if none.
    pub name: String,
    /// When it connected.
    pub connected_at: Instant,
    /// When it last sent a command.
    pub last_command_at: Instant,
    /// The last command's name, lower case.
    pub last_command: String,
    /// Selected database (Redis `SELECT`), 0 elsewhere.
    pub db: u32,
    /// Wall-clock time of connection.
    pub connected_wall: SystemTime,
}

type Shared = Arc<Mutex<ClientInfo>>;

#[derive(Default)]
struct Inner {
    /// Each client's info behind its own lock, so that recording a command touches
    /// only that client.
    clients: BTreeMap<u64, Shared>,
}

fn lock(c: &Shared) -> std::sync::MutexGuard<'_, ClientInfo> {
    c.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Connected clients across all front ends.
#[derive(Default)]
pub struct Clients {
    next_id: AtomicU64,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients")
            .field("connected", &self.connected(None))
            .finish()
    }
}

impl Clients {
    /// An empty registry.
    pub fn new() -> Arc<Self> {
        Arc::new(Clients::default())
    }

    /// Registers a connection unless `protocol` already has `max` clients; the guard
    /// unregisters it when dropped.
    pub fn register(
        self: &Arc<Self>,
        protocol: &'static str,
        addr: SocketAddr,
        local_addr: SocketAddr,
        max: usize,
    ) -> Option<ClientGuard> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let current = inner
            .clients
            .values()
            .filter(|c| lock(c).protocol == protocol)
            .count();
        if current >= max {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let now = Instant::now();
        let info = Arc::new(Mutex::new(ClientInfo {
            id,
            protocol,
            addr,
            local_addr,
            name: String::new(),
            connected_at: now,
            last_command_at: now,
            last_command: String::new(),
            db: 0,
            connected_wall: SystemTime::now(),
        }));
        inner.clients.insert(id, Arc::clone(&info));
        Some(ClientGuard {
            id,
            info,
            clients: Arc::clone(self),
        })
    }

    /// Clients connected now, for one protocol or all.
    pub fn connected(&self, protocol: Option<&str>) -> usize {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner
            .clients
            .values()
            .filter(|c| protocol.is_none_or(|p| lock(c).protocol == p))
            .count()
    }

    /// A copy of every client's info, by id.
    pub fn list(&self) -> Vec<ClientInfo> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.clients.values().map(|c| lock(c).clone()).collect()
    }
}

/// One registered connection; unregisters on drop.
#[derive(Debug)]
pub struct ClientGuard {
    id: u64,
    info: Shared,
    clients: Arc<Clients>,
}

impl ClientGuard {
    /// The client's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Sets the client's name.
    pub fn set_name(&self, name: &str) {
        lock(&self.info).name = name.to_string();
    }

    /// Records the selected database.
    pub fn set_db(&self, db: u32) {
        lock(&self.info).db = db;
    }

    /// Records that a command arrived (for idle times and `CLIENT LIST`'s `cmd=`).
    pub fn touch(&self, command: &str) {
        let mut c = lock(&self.info);
        c.last_command_at = Instant::now();
        c.last_command.clear();
        c.last_command.push_str(command);
        c.last_command.make_ascii_lowercase();
    }

    /// This client's current info.
    pub fn info(&self) -> ClientInfo {
        lock(&self.info).clone()
    }
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        let mut inner = self
            .clients
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        inner.clients.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_and_unregister() {
        let clients = Clients::new();
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let g1 = clients.register("redis", a, a, 2).unwrap();
        let g2 = clients.register("redis", a, a, 2).unwrap();
        assert!(clients.register("redis", a, a, 2).is_none());
        let g3 = clients.register("memcache", a, a, 2).unwrap();
        assert_eq!(clients.connected(Some("redis")), 2);
        assert_eq!(clients.connected(None), 3);
        g1.set_name("worker");
        g1.touch("GET");
        let info = g1.info();
        assert_eq!(
            (info.name.as_str(), info.last_command.as_str()),
            ("worker", "get")
        );
        assert!(g2.id() > g1.id());
        drop(g1);
        assert!(clients.register("redis", a, a, 2).is_some());
        drop((g2, g3));
        assert_eq!(clients.connected(None), 0);
    }
}
