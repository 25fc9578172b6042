//! Retrying optimistic transactions that lost a write conflict.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Transaction attempts before a write gives up on repeated conflicts.
pub const MAX_CONFLICT_ATTEMPTS: usize = 64;

/// Counts the attempts of one optimistic write and backs off between them, so
/// writers of one hot key take turns instead of retrying in lockstep until they
/// all run out of attempts.
///
/// ```
/// let mut retry = shale_server::ConflictRetry::new();
/// let mut tries = 0;
/// while retry.next_attempt() {
///     tries += 1;
///     if tries == 3 {
///         break; // committed
///     }
/// }
/// assert_eq!(tries, 3);
/// ```
#[derive(Debug, Default)]
pub struct ConflictRetry {
    attempt: usize,
}

impl ConflictRetry {
    /// A retry loop that has not made its first attempt yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// True if another attempt may be made, after waiting if it is a retry;
    /// false once [`MAX_CONFLICT_ATTEMPTS`] were made.
    pub fn next_attempt(&mut self) -> bool {
        if self.attempt >= MAX_CONFLICT_ATTEMPTS {
            return false;
        }
        if self.attempt > 0 {
            backoff(self.attempt);
        }
        self.attempt += 1;
        true
    }

    /// Attempts made so far.
    pub fn attempts(&self) -> usize {
        self.attempt
    }
}

/// Waits before retry `attempt` (from 1): a yield at first, then up to about a
/// millisecond, growing with the attempt and spread by the thread's own clock.
fn backoff(attempt: usize) {
    if attempt < 4 {
        std::thread::yield_now();
        return;
    }
    let jitter = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()) % 64);
    let micros = (8u64 << attempt.min(7)).min(1000) + jitter;
    std::thread::sleep(Duration::from_micros(micros));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_exactly_the_maximum_number_of_attempts() {
        let mut retry = ConflictRetry::new();
        let mut n = 0;
        while retry.next_attempt() {
            n += 1;
        }
        assert_eq!(n, MAX_CONFLICT_ATTEMPTS);
        assert_eq!(retry.attempts(), MAX_CONFLICT_ATTEMPTS);
        assert!(!retry.next_attempt(), "stays exhausted");
    }
}
