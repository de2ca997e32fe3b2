//! What every long-running command (`vaxcert up`, `vaxcert serve …`) shares around its routes: the async
//! runtime, the listener, one `/metrics` counting every route, and an OpenAPI document describing only
//! the routes a process serves.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use axum::Router;
use issuer::api::metrics::{Metrics, count_requests, metrics_router};
use serde_json::{Map, Value};
use tokio::net::TcpListener;

/// The multi-threaded runtime a service runs on.
///
/// # Errors
/// The runtime could not start.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Listens on `listen`; the listener and its base URL (`http://address`, the port chosen when `listen`
/// asked for port 0).
///
/// # Errors
/// The address cannot be bound.
pub async fn bind(listen: SocketAddr) -> Result<(TcpListener, String)> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let base = format!("http://{}", listener.local_addr()?);
    Ok((listener, base))
}

/// The ticks of a background refresher: every `every`, the first (immediate) tick already taken, a late
/// tick delayed rather than bunched with the next.
pub async fn ticks(every: Duration) -> tokio::time::Interval {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    ticks
}

/// `routes` with every request counted in `metrics`, and `GET /metrics` showing them.
pub fn with_metrics(routes: Router, metrics: Arc<Metrics>) -> Router {
    count_requests(routes, &metrics).merge(metrics_router(metrics))
}

/// `document` (OpenAPI 3.1 JSON) titled `title`, describing only the `paths` listed: a process that serves
/// part of a router describes only that part.
///
/// # Errors
/// `document` is not a JSON object.
pub fn openapi_subset(document: &str, title: &str, paths: &[&str]) -> Result<String> {
    let mut document: Map<String, Value> =
        serde_json::from_str(document).context("the OpenAPI document is not a JSON object")?;
    if let Some(Value::Object(info)) = document.get_mut("info") {
        info.insert(String::from("title"), Value::from(title));
    }
    if let Some(Value::Object(all)) = document.get_mut("paths") {
        all.retain(|path, _| paths.contains(&path.as_str()));
    }
    serde_json::to_string_pretty(&document).context("cannot write the OpenAPI document")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_openapi_subset_keeps_only_the_paths_served() {
        let subset = openapi_subset(
            issuer::api::OPENAPI,
            "vaxcert trust list",
            &["/trust-list", "/healthz"],
        )
        .unwrap_or_default();
        let subset: Value = serde_json::from_str(&subset).unwrap_or_default();
        let paths: Vec<&String> = subset
            .get("paths")
            .and_then(Value::as_object)
            .map(|paths| paths.keys().collect())
            .unwrap_or_default();
        assert_eq!(paths, ["/healthz", "/trust-list"]);
        assert_eq!(
            subset.pointer("/info/title"),
            Some(&Value::from("vaxcert trust list"))
        );
    }
}
