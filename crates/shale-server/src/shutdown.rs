//! The server-wide "stop now" signal.

use tokio::sync::watch;

/// A cloneable signal: [`Shutdown::trigger`] once, every [`Shutdown::wait`] returns.
///
/// Accept loops stop accepting when it fires; connections finish the requests they
/// have read, answer them, and close.
#[derive(Clone, Debug)]
pub struct Shutdown {
    tx: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A signal that has not fired.
    pub fn new() -> Self {
        let (tx, _) = watch::channel(false);
        Shutdown { tx }
    }

    /// Fires the signal (idempotent).
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// True once the signal has fired.
    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves when the signal fires (at once if it already has).
    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        // An error means the sender is gone, which cannot happen while `self` lives.
        let _ = rx.wait_for(|fired| *fired).await;
    }
}
