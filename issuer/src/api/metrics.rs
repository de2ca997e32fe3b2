//! `GET /metrics`: request counts by route template and status, in the Prometheus text format. Routes
//! are counted by their template (`/internal/v1/certificates/{uvci}`), never by a concrete UVCI.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Requests answered, by (route template, status).
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
}

impl Metrics {
    fn record(&self, route: &str, status: u16) {
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        *requests.entry((route.to_owned(), status)).or_default() += 1;
    }

    fn render(&self) -> String {
        let requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::from(
            "# HELP vaxcert_http_requests_total Requests answered, by route template and status.\n\
             # TYPE vaxcert_http_requests_total counter\n",
        );
        for ((route, status), count) in requests.iter() {
            let _ = writeln!(
                out,
                "vaxcert_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
        out
    }
}

/// Middleware: counts every answer under its route template (`unmatched` for unknown paths).
pub(crate) async fn count(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || String::from("unmatched"),
        |path| path.as_str().to_owned(),
    );
    let response = next.run(request).await;
    metrics.record(&route, response.status().as_u16());
    response
}

/// `GET /metrics`.
pub(crate) async fn render(State(metrics): State<Arc<Metrics>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.render(),
    )
        .into_response()
}
