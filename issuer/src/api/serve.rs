//! The issuer's HTTP/1.1 server: its own accept loop around the router, so that slow and idle clients
//! cost a bounded amount.
//!
//! - Headers must arrive within [`ApiConfig::header_read_timeout`], counted from the moment the
//!   connection is accepted or the previous answer was sent: a connection that never finishes its
//!   headers is closed, and so is a keep-alive connection idle for as long.
//! - At most [`ApiConfig::max_connections`] connections are open at once. One over the limit is accepted
//!   and closed at once (the client sees the connection closed or reset and may retry); it never waits,
//!   so the connections being served — `/healthz` among them — are not slowed by a flood.
//! - Bodies are read by the handlers, after authentication, within [`ApiConfig::body_timeout`].
//! - Every request carries the peer's address as an [`axum::extract::ConnectInfo`]`<SocketAddr>`
//!   extension, for limits per client address.
//! - When `shutdown` resolves, the listener is closed, idle connections are closed and requests in
//!   flight are answered, for at most [`ApiConfig::request_timeout`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

use super::ApiConfig;

/// How long the loop pauses after a failed accept (out of file descriptors, typically).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `router` on `listener` under the connection limits of `config` until `shutdown` resolves, then
/// drains the requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: &ApiConfig,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(error = %error, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tracing::warn!(
                limit = config.max_connections,
                "connection closed: too many open connections"
            );
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service =
            router
                .clone()
                .map_request(move |mut request: Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(ConnectInfo::<SocketAddr>(peer));
                    request
                });
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(error = %error, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(config.request_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight at shutdown were dropped");
    }
}
