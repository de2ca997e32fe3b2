//! Slow and idle clients against the real server (`issuer::api::serve` on a TCP port, SQLite ledger):
//! authentication before the body, body and header timeouts, the connection limit, `/healthz` under a
//! flood of idle connections, and the drain at shutdown.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use issuer::api::{ApiConfig, serve};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::fixtures::{TestSystem, confirmation_body, dose_event_id, system};
use super::{CONFIRMATIONS, logs, support};

/// A server on an ephemeral port; `stop` starts its graceful shutdown.
struct Server {
    address: SocketAddr,
    system: TestSystem,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(config: ApiConfig) -> Server {
        logs();
        let system = system(support::sqlite_ledger().await, config).await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let router = system.router.clone();
        let task = tokio::spawn(async move {
            serve(listener, router, &config, async {
                let _ = stopped.await;
            })
            .await;
        });
        Server {
            address,
            system,
            stop: Some(stop),
            task,
        }
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.address).await.unwrap()
    }

    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// One HTTP/1.1 answer: status and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: String,
}

/// Reads one answer (headers, then `Content-Length` bytes of body); `None` when the server closed the
/// connection (or reset it) before a whole answer.
async fn read_answer(stream: &mut TcpStream) -> Option<Answer> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        if let Some(at) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).to_string();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buffer.len() < header_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
        }
    }
    let body = String::from_utf8_lossy(&buffer[header_end..header_end + length]).to_string();
    Some(Answer { status, body })
}

/// Whether the server closes `stream` within `within`, sending nothing that reads as an answer.
async fn closed_without_answer(stream: &mut TcpStream, within: Duration) -> bool {
    matches!(
        tokio::time::timeout(within, read_answer(stream)).await,
        Ok(None)
    )
}

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: issuer\r\n\r\n";

/// `GET /healthz` on a fresh connection.
async fn health(address: SocketAddr) -> Option<Answer> {
    let mut stream = TcpStream::connect(address).await.ok()?;
    stream.write_all(HEALTH).await.ok()?;
    read_answer(&mut stream).await
}

/// The head of a dose confirmation announcing `length` bytes of body.
fn confirmation_head(token: &str, key: &str, length: usize) -> String {
    format!(
        "POST {CONFIRMATIONS} HTTP/1.1\r\nHost: issuer\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nIdempotency-Key: {key}\r\nContent-Length: {length}\r\n\r\n"
    )
}

/// Writes `bytes` one a second, until they run out or the server closes the connection.
fn trickle(mut stream: TcpStream, bytes: Vec<u8>) -> JoinHandle<()> {
    tokio::spawn(async move {
        for byte in bytes {
            if stream.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

fn short_timeouts() -> ApiConfig {
    ApiConfig {
        header_read_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        ..ApiConfig::default()
    }
}

/// An unauthenticated client announcing 10,000 bytes and trickling them is answered 401 at once: the
/// body is never waited for.
#[tokio::test]
async fn an_unauthenticated_slow_body_is_401_at_once() {
    let server = Server::start(ApiConfig::default()).await;
    for token in ["", "vxc_wrong"] {
        let mut stream = server.connect().await;
        let head = confirmation_head(token, &dose_event_id(), 10_000);
        let started = Instant::now();
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(b"{\"dose").await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(5), read_answer(&mut stream))
            .await
            .expect("answered before the body arrived")
            .expect("an answer");
        assert_eq!(answer.status, 401, "{answer:?}");
        assert!(answer.body.contains("unauthenticated"), "{answer:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

/// An authenticated body that stalls is answered 408 once the body timeout passes, and nothing is
/// recorded; one announced over the limit is 413 before it is read.
#[tokio::test]
async fn an_authenticated_stalled_body_is_408_after_the_body_timeout() {
    let config = short_timeouts();
    let server = Server::start(config).await;
    let key = dose_event_id();
    let body = confirmation_body(&key).to_string();
    let mut stream = server.connect().await;
    let started = Instant::now();
    let head = confirmation_head(&server.system.tokens.registry, &key, body.len());
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
        .write_all(&body.as_bytes()[..body.len() / 2])
        .await
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(10), read_answer(&mut stream))
        .await
        .expect("answered within the test's patience")
        .expect("an answer");
    assert_eq!(answer.status, 408, "{answer:?}");
    assert!(answer.body.contains("body_timeout"), "{answer:?}");
    assert!(started.elapsed() >= config.body_timeout);
    assert!(
        server
            .system
            .ledger
            .dose_event(&key)
            .await
            .unwrap()
            .is_none()
    );

    let mut stream = server.connect().await;
    let head = confirmation_head(&server.system.tokens.registry, &key, 1_000_000);
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), read_answer(&mut stream))
        .await
        .expect("answered before the body arrived")
        .expect("an answer");
    assert_eq!(answer.status, 413, "{answer:?}");
}

/// A connection that never finishes its headers, or never starts them, is closed after the header
/// timeout; one that does gets its answer.
#[tokio::test]
async fn unfinished_headers_are_closed_after_the_header_timeout() {
    let server = Server::start(short_timeouts()).await;
    let mut partial = server.connect().await;
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: iss")
        .await
        .unwrap();
    let mut silent = server.connect().await;
    assert!(closed_without_answer(&mut partial, Duration::from_secs(10)).await);
    assert!(closed_without_answer(&mut silent, Duration::from_secs(10)).await);

    let answer = health(server.address).await.expect("an answer");
    assert_eq!(answer.status, 200, "{answer:?}");
}

/// 450 idle connections and 50 sending a header byte a second are open, and `/healthz` still answers
/// within a second — and so does one of the idle connections when it finally asks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_within_a_second_beside_500_slow_connections() {
    let server = Server::start(ApiConfig::default()).await;
    let mut idle = Vec::new();
    for _ in 0..450 {
        idle.push(server.connect().await);
    }
    let mut tricklers = Vec::new();
    for _ in 0..50 {
        let stream = server.connect().await;
        tricklers.push(trickle(stream, HEALTH.to_vec()));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    for _ in 0..3 {
        let answer = tokio::time::timeout(Duration::from_secs(1), health(server.address))
            .await
            .expect("/healthz within a second")
            .expect("an answer");
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    let mut first = idle.swap_remove(0);
    first.write_all(HEALTH).await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(1), read_answer(&mut first))
        .await
        .expect("the idle connection was kept and served")
        .expect("an answer");
    assert_eq!(answer.status, 200, "{answer:?}");
    for trickler in tricklers {
        trickler.abort();
    }
}

/// With room for 8 connections, the 9th is closed at once; once the 8 are gone a new one is served.
#[tokio::test]
async fn connections_over_the_limit_are_closed_and_the_limit_frees_up() {
    let server = Server::start(ApiConfig {
        max_connections: 8,
        ..ApiConfig::default()
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..8 {
        let mut stream = server.connect().await;
        stream.write_all(HEALTH).await.unwrap();
        let answer = read_answer(&mut stream).await.expect("an answer");
        assert_eq!(answer.status, 200);
        open.push(stream);
    }
    let mut ninth = server.connect().await;
    let _ = ninth.write_all(HEALTH).await;
    assert!(closed_without_answer(&mut ninth, Duration::from_secs(5)).await);

    drop(open);
    let mut answer = None;
    for _ in 0..50 {
        answer = health(server.address).await;
        if answer.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(answer.expect("served once the others closed").status, 200);
}

/// At shutdown the listener closes, and a request in flight is still answered.
#[tokio::test]
async fn shutdown_drains_the_request_in_flight() {
    let mut server = Server::start(ApiConfig::default()).await;
    let key = dose_event_id();
    let body = confirmation_body(&key).to_string();
    let mut stream = server.connect().await;
    let head = confirmation_head(&server.system.tokens.registry, &key, body.len());
    stream.write_all(head.as_bytes()).await.unwrap();
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    stream.write_all(first).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    server.stop();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        health(server.address).await.is_none(),
        "no new connection after the shutdown signal"
    );
    stream.write_all(rest).await.unwrap();
    let answer = read_answer(&mut stream).await.expect("an answer");
    assert_eq!(answer.status, 201, "{answer:?}");
    tokio::time::timeout(Duration::from_secs(5), server.task)
        .await
        .expect("serve returns once drained")
        .unwrap();
}
