//! Signals: SIGTERM and SIGINT cancel a token that everything
//! long-running takes as an argument (tests cancel it themselves); SIGHUP
//! becomes a reload request.

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tracing::info;

/// A token cancelled at the first SIGTERM or SIGINT.
pub fn on_signals() -> std::io::Result<CancellationToken> {
    let token = CancellationToken::new();
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let cancel = token.clone();
    tokio::spawn(async move {
        let which = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        info!(
            signal = which,
            "shutting down: letting rotations in flight finish"
        );
        cancel.cancel();
    });
    Ok(token)
}

/// One message per SIGHUP: a request to reload the policy.
pub fn reload_requests() -> std::io::Result<tokio::sync::mpsc::UnboundedReceiver<()>> {
    let mut hup = signal(SignalKind::hangup())?;
    let (requests, received) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            info!(signal = "SIGHUP", "reloading the policy");
            if requests.send(()).is_err() {
                break;
            }
        }
    });
    Ok(received)
}
