//! `GET /metrics` in the Prometheus text format, one [`Metrics`] registry per process shared by every
//! router it serves (`vaxcert up` mounts the issuer and the verifier on one):
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `vaxcert_http_requests_total` | counter | `route` (template), `status` |
//! | `vaxcert_http_request_duration_seconds` | histogram ([`LATENCY_BUCKETS_S`]) | `route` (template) |
//! | `vaxcert_verifications_total` | counter | `code` (the report's code: `OK`, `E_EXPIRED`, …) |
//! | `vaxcert_certificates_issued_total` | counter (issuer only) | — |
//! | `vaxcert_trust_list_age_seconds` | gauge (verifier only, once a list is loaded) | `list` |
//!
//! Routes are counted by their template (`/internal/v1/certificates/{uvci}`), never by a concrete UVCI;
//! no label carries a name, a UVCI or a token.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The upper bounds of the latency histogram's buckets, seconds (`+Inf` follows).
pub const LATENCY_BUCKETS_S: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The route label of requests no route matched.
const UNMATCHED: &str = "unmatched";

/// Reads the age of each trust list in use, seconds, by list name; called at every scrape.
pub type ListAges = Arc<dyn Fn() -> Vec<(&'static str, i64)> + Send + Sync>;

/// A latency histogram with the fixed buckets [`LATENCY_BUCKETS_S`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last one is `+Inf`.
    buckets: [u64; LATENCY_BUCKETS_S.len() + 1],
    sum_s: f64,
    count: u64,
}

impl Histogram {
    /// Adds one observation of `elapsed`.
    pub fn observe(&mut self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS_S
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS_S.len());
        if let Some(slot) = self.buckets.get_mut(bucket) {
            *slot += 1;
        }
        self.sum_s += seconds;
        self.count += 1;
    }

    /// Writes the histogram `name` with the label `labels` (`key="value"`) in the text format.
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        let bounds = LATENCY_BUCKETS_S
            .iter()
            .map(|bound| bound.to_string())
            .chain(std::iter::once(String::from("+Inf")));
        for (bound, count) in bounds.zip(self.buckets.iter()) {
            cumulative += count;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum_s);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// The registry: everything `/metrics` shows.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latencies: Mutex<BTreeMap<String, Histogram>>,
    verifications: Mutex<BTreeMap<&'static str, u64>>,
    issues_certificates: AtomicBool,
    certificates_issued: AtomicU64,
    list_ages: Mutex<Option<ListAges>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// An empty registry to share.
    pub fn shared() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    /// Counts one answer with `status` under the route template `route`, after `elapsed`.
    pub fn record_request(&self, route: &str, status: u16, elapsed: Duration) {
        {
            let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
            *requests.entry((route.to_owned(), status)).or_default() += 1;
        }
        let mut latencies = self
            .latencies
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        latencies
            .entry(route.to_owned())
            .or_default()
            .observe(elapsed);
    }

    /// Counts one verification report with `code` (`OK`, `E_EXPIRED`, …).
    pub fn record_verification(&self, code: &'static str) {
        let mut verifications = self
            .verifications
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *verifications.entry(code).or_default() += 1;
    }

    /// Shows `vaxcert_certificates_issued_total` (from zero): this process issues certificates.
    pub fn enable_certificates_issued(&self) {
        self.issues_certificates.store(true, Ordering::Relaxed);
    }

    /// Counts one certificate issued.
    pub fn record_certificate_issued(&self) {
        self.enable_certificates_issued();
        self.certificates_issued.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads the trust lists' ages from `ages` at every scrape (replacing any earlier source).
    pub fn set_list_ages(&self, ages: ListAges) {
        *self
            .list_ages
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(ages);
    }

    /// Everything, in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        {
            let requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
            header_lines(
                &mut out,
                "vaxcert_http_requests_total",
                "counter",
                "Requests answered, by route template and status.",
            );
            for ((route, status), count) in requests.iter() {
                let route = escape(route);
                let _ = writeln!(
                    out,
                    "vaxcert_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
                );
            }
        }
        {
            let latencies = self
                .latencies
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let name = "vaxcert_http_request_duration_seconds";
            header_lines(
                &mut out,
                name,
                "histogram",
                "Time to answer, seconds, by route template.",
            );
            for (route, histogram) in latencies.iter() {
                histogram.render(&mut out, name, &format!("route=\"{}\"", escape(route)));
            }
        }
        {
            let verifications = self
                .verifications
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            header_lines(
                &mut out,
                "vaxcert_verifications_total",
                "counter",
                "Verification reports, by result code.",
            );
            for (code, count) in verifications.iter() {
                let _ = writeln!(
                    out,
                    "vaxcert_verifications_total{{code=\"{}\"}} {count}",
                    escape(code)
                );
            }
        }
        if self.issues_certificates.load(Ordering::Relaxed) {
            header_lines(
                &mut out,
                "vaxcert_certificates_issued_total",
                "counter",
                "Certificates issued (dose confirmations answered 201).",
            );
            let _ = writeln!(
                out,
                "vaxcert_certificates_issued_total {}",
                self.certificates_issued.load(Ordering::Relaxed)
            );
        }
        let ages = self
            .list_ages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(ages) = ages {
            header_lines(
                &mut out,
                "vaxcert_trust_list_age_seconds",
                "gauge",
                "Age of each trust list in use, seconds since it was issued.",
            );
            for (list, age_s) in ages() {
                let _ = writeln!(
                    out,
                    "vaxcert_trust_list_age_seconds{{list=\"{}\"}} {age_s}",
                    escape(list)
                );
            }
        }
        out
    }
}

fn header_lines(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value in the text format: backslash, quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `router` with every answer of its routes so far counted in `metrics` (add it after the routes).
pub fn count_requests<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    metrics: &Arc<Metrics>,
) -> Router<S> {
    router.route_layer(axum::middleware::from_fn_with_state(
        Arc::clone(metrics),
        count,
    ))
}

/// `GET /metrics` showing `metrics`.
pub fn metrics_router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .with_state(metrics)
}

/// Middleware: counts every answer under its route template (`unmatched` for unknown paths).
async fn count(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| String::from(UNMATCHED), |path| path.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.record_request(&route, response.status().as_u16(), started.elapsed());
    response
}

/// `GET /metrics`.
async fn render(State(metrics): State<Arc<Metrics>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of the sample line `series` (name and labels exactly) in `text`.
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|value| value.parse().ok())
    }

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let mut histogram = Histogram::default();
        histogram.observe(Duration::from_micros(500));
        histogram.observe(Duration::from_micros(501));
        histogram.observe(Duration::from_millis(40));
        histogram.observe(Duration::from_secs(9));
        let mut text = String::new();
        histogram.render(&mut text, "t", "route=\"/x\"");
        let bucket = |le: &str| sample(&text, &format!("t_bucket{{route=\"/x\",le=\"{le}\"}}"));
        assert_eq!(bucket("0.0005"), Some(1.0));
        assert_eq!(bucket("0.001"), Some(2.0));
        assert_eq!(bucket("0.025"), Some(2.0));
        assert_eq!(bucket("0.05"), Some(3.0));
        assert_eq!(bucket("5"), Some(3.0));
        assert_eq!(bucket("+Inf"), Some(4.0));
        assert_eq!(sample(&text, "t_count{route=\"/x\"}"), Some(4.0));
        let sum = sample(&text, "t_sum{route=\"/x\"}").unwrap();
        assert!((sum - 9.041_001).abs() < 1e-9, "{sum}");
        assert_eq!(text.lines().count(), LATENCY_BUCKETS_S.len() + 3);
    }

    #[test]
    fn the_registry_renders_every_family_with_help_and_type() {
        let metrics = Metrics::default();
        metrics.record_request("/v1/verify", 200, Duration::from_millis(3));
        metrics.record_request("/v1/verify", 200, Duration::from_millis(7));
        metrics.record_request("/v1/verify", 415, Duration::from_micros(100));
        metrics.record_verification("OK");
        metrics.record_verification("E_EXPIRED");
        metrics.record_verification("OK");
        let text = metrics.render();
        assert_eq!(
            sample(
                &text,
                "vaxcert_http_requests_total{route=\"/v1/verify\",status=\"200\"}"
            ),
            Some(2.0)
        );
        assert_eq!(
            sample(
                &text,
                "vaxcert_http_request_duration_seconds_count{route=\"/v1/verify\"}"
            ),
            Some(3.0)
        );
        assert_eq!(
            sample(&text, "vaxcert_verifications_total{code=\"OK\"}"),
            Some(2.0)
        );
        assert_eq!(
            sample(&text, "vaxcert_verifications_total{code=\"E_EXPIRED\"}"),
            Some(1.0)
        );
        assert!(text.contains("# TYPE vaxcert_http_request_duration_seconds histogram\n"));
        assert!(!text.contains("vaxcert_certificates_issued_total"));
        assert!(!text.contains("vaxcert_trust_list_age_seconds"));

        metrics.enable_certificates_issued();
        metrics.set_list_ages(Arc::new(|| vec![("trust_list", 120)]));
        let text = metrics.render();
        assert_eq!(
            sample(&text, "vaxcert_certificates_issued_total"),
            Some(0.0)
        );
        metrics.record_certificate_issued();
        let text = metrics.render();
        assert_eq!(
            sample(&text, "vaxcert_certificates_issued_total"),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "vaxcert_trust_list_age_seconds{list=\"trust_list\"}"),
            Some(120.0)
        );
        assert!(text.contains("# TYPE vaxcert_trust_list_age_seconds gauge\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
