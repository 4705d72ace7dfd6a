//! The one shutdown path every command shares.
//!
//! A [`Shutdown`] is raised once, by SIGTERM, SIGINT or the command itself (the end of
//! `demo --duration`), and every part of a command sees it: threads that poll (the Kafka
//! consumer, the generator) ask [`Shutdown::is_raised`]; tasks wait for [`Shutdown::raised`].
//! What each part does then is its own order of work: the consumer stops reading, hands over
//! what it holds, waits for the final flush and commits; the HTTP server is stopped by the
//! command after that, so `/readyz` and `/metrics` answer until the offsets are committed.

use std::sync::Arc;

use tokio::sync::watch;
use tracing::{info, warn};

/// A flag raised once, seen by every clone.
#[derive(Debug, Clone)]
pub struct Shutdown {
    raised: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown { raised: Arc::new(watch::Sender::new(false)) }
    }

    /// Asks every part of the command to stop; raising again changes nothing.
    pub fn raise(&self) {
        self.raised.send_replace(true);
    }

    pub fn is_raised(&self) -> bool {
        *self.raised.borrow()
    }

    /// Returns once the shutdown is raised.
    pub async fn raised(&self) {
        let mut receiver = self.raised.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = receiver.wait_for(|raised| *raised).await;
    }

    /// Raises the shutdown on SIGTERM or SIGINT, for as long as the returned guard lives; the
    /// listening task ends with the guard, so none outlives the command.
    pub fn on_signals(&self, runtime: &tokio::runtime::Runtime) -> SignalListener {
        let shutdown = self.clone();
        let task = runtime.spawn(async move {
            wait_for_signal().await;
            shutdown.raise();
        });
        SignalListener { task }
    }
}

/// Listens for SIGTERM and SIGINT until dropped.
#[derive(Debug)]
pub struct SignalListener {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SignalListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Returns on SIGTERM or SIGINT.
async fn wait_for_signal() {
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(error) => {
            warn!(%error, "cannot listen for SIGTERM; SIGINT still stops errwatch");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = terminate.recv() => info!("SIGTERM received, shutting down"),
        _ = tokio::signal::ctrl_c() => info!("SIGINT received, shutting down"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_clone_sees_the_shutdown() {
        let shutdown = Shutdown::new();
        let seen_by_a_task = shutdown.clone();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        assert!(!seen_by_a_task.is_raised());
        let waiting = runtime.spawn(async move { seen_by_a_task.raised().await });
        shutdown.raise();
        runtime.block_on(waiting).unwrap();
        assert!(shutdown.is_raised());
        shutdown.raise();
        assert!(shutdown.is_raised());
    }
}
