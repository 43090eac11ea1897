//! Graceful shutdown: SIGTERM or SIGINT flips a watch channel; runners finish the batch in flight,
//! flush, commit and return.

use tokio::sync::watch;

/// A receiver that becomes `true` when the process should stop.
pub type Shutdown = watch::Receiver<bool>;

/// Listen for SIGTERM and SIGINT (Ctrl-C). The returned sender can also trigger shutdown.
pub fn on_signals() -> (watch::Sender<bool>, Shutdown) {
    let (tx, rx) = watch::channel(false);
    let tx2 = tx.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = match signal(SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    return;
                }
            };
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: finishing in-flight work"),
                _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: finishing in-flight work"),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        let _ = tx2.send(true);
    });
    (tx, rx)
}

/// Wait until shutdown is requested.
pub async fn requested(rx: &mut Shutdown) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}
