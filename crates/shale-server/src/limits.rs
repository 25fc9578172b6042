//! Per-connection and per-request limits shared by the front ends.

use std::time::Duration;

use serde::Deserialize;

/// Limits that keep one client from hurting the server or the others.
///
/// A request that breaks one gets the protocol's own error; the connection is
/// closed only when the byte stream can no longer be trusted (for example a frame
/// header larger than `max_request_bytes`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Connected clients per front end; further connections get an error and are closed.
    pub max_clients: usize,
    /// Largest single request (a command with all its arguments, or a value) in bytes.
    pub max_request_bytes: usize,
    /// Most bytes of unanswered, buffered input a connection may hold (Redis's
    /// `client-query-buffer-limit`).
    pub query_buffer_limit: usize,
    /// Most keys or arguments in one command (`MGET`, `DEL`, `get k1 k2 …`).
    pub max_items_per_command: usize,
    /// Close a connection after this many seconds without a request (0 = never).
    pub idle_timeout_secs: u64,
    /// Most bytes of replies a connection may have waiting for a client that does
    /// not read them; beyond it the connection is closed (Redis's output buffer limit).
    pub max_pending_output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_clients: 10_000,
            max_request_bytes: 512 * 1024 * 1024,
            query_buffer_limit: 1024 * 1024 * 1024,
            max_items_per_command: 1_000_000,
            idle_timeout_secs: 0,
            max_pending_output_bytes: 256 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// The idle timeout, `None` when disabled.
    pub fn idle_timeout(&self) -> Option<Duration> {
        (self.idle_timeout_secs > 0).then(|| Duration::from_secs(self.idle_timeout_secs))
    }

    /// Checks that the limits make sense together.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_clients == 0 {
            return Err("max_clients must be at least 1".into());
        }
        if self.max_request_bytes == 0 || self.max_items_per_command == 0 {
            return Err("max_request_bytes and max_items_per_command must be positive".into());
        }
        if self.query_buffer_limit < self.max_request_bytes {
            return Err(format!(
                "query_buffer_limit ({}) must be at least max_request_bytes ({})",
                self.query_buffer_limit, self.max_request_bytes
            ));
        }
        if self.max_pending_output_bytes == 0 {
            return Err("max_pending_output_bytes must be positive".into());
        }
        Ok(())
    }
}
