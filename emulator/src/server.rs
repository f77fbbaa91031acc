//! The HTTP/1.1 server: accepts connections, buffers each request, and can drop a connection mid-call.

use std::fmt;

use bytes::Bytes;
use http::Request;
use http_body_util::BodyExt;
use hyper::body::Incoming as Body;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::controls::Controls;
use crate::dispatch::{self, Reply};
use crate::wire::{HttpResponse, Incoming};

/// Returned to hyper to make it close the connection without answering.
#[derive(Debug)]
struct DropConnection;

impl fmt::Display for DropConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DropConnection {}

/// Accepts connections until `stop` changes, then aborts the connections still open.
pub(crate) async fn serve(
    listener: TcpListener,
    controls: Controls,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, controls.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "emulator accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

async fn serve_connection(stream: TcpStream, controls: Controls) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |req| {
        let controls = controls.clone();
        async move { handle(controls, req).await }
    });
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        tracing::debug!(error = %e, "emulator connection ended");
    }
}

async fn handle(controls: Controls, req: Request<Body>) -> Result<HttpResponse, DropConnection> {
    let (parts, body) = req.into_parts();
    let body: Bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Err(DropConnection),
    };
    let query = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let incoming = Incoming {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query,
        headers: parts.headers,
        body,
    };
    match dispatch::handle(&controls, incoming).await {
        Reply::Answer(resp) => Ok(resp),
        Reply::Drop => Err(DropConnection),
    }
}
