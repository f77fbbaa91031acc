//! The running emulator: binds a port, serves the emulated services and the controls, stops on request.

use std::io;
use std::net::SocketAddr;
use std::ops::Deref;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::controls::Controls;
use crate::server;

/// A running emulator. Dropping it stops the server; [`Emulator::shutdown`] also waits for that.
///
/// Derefs to [`Controls`], so `emulator.truth()`, `emulator.inject(..)` and the seeding
/// methods work directly.
#[derive(Debug)]
pub struct Emulator {
    addr: SocketAddr,
    controls: Controls,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Binds `addr` (use `127.0.0.1:0` in tests) and starts serving with empty state.
    pub async fn start(addr: SocketAddr) -> io::Result<Emulator> {
        Emulator::start_with(addr, Controls::new()).await
    }

    /// Like [`Emulator::start`], serving existing (for example pre-seeded) state.
    pub async fn start_with(addr: SocketAddr, controls: Controls) -> io::Result<Emulator> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, controls.clone(), stopped));
        tracing::info!(%addr, "aws emulator listening");
        Ok(Emulator {
            addr,
            controls,
            stop,
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, for `endpoint_url` of every SDK client.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The test controls (seeding, faults, truth, calls).
    pub fn controls(&self) -> &Controls {
        &self.controls
    }

    /// Stops accepting, closes open connections and waits for the server task to end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Deref for Emulator {
    type Target = Controls;

    fn deref(&self) -> &Controls {
        &self.controls
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
