//! What the browser tests share: Chromium and chromedriver found (or the test skipped, a failure in CI),
//! `vaxcert up` and chromedriver started and killed with their process groups, a headless session,
//! screenshots in the artefacts folder, bounded waiting, a page's steps and messages, and the one-time
//! code read from the development outbox.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::future::Future;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use super::{command, http, temp_dir};

/// How long chromedriver may take to answer its first `/status`.
const DRIVER_DEADLINE: Duration = Duration::from_secs(20);

/// How long a page may take to show a step's answer, and the outbox to receive a code.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A phone's screen in CSS pixels (a common 6.1-inch phone).
pub const PHONE: (u32, u32) = (390, 844);

/// A child process killed, with its whole process group (chromedriver's Chromium), when dropped.
pub struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        // The group was created for this child alone (`process_group(0)`): its id is the child's.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A program on `PATH`, the first of `names` found.
pub fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Straight to stderr, past the test harness's capture: a skip must be seen.
pub fn skipped(message: &str) {
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// Chromium and chromedriver, or `None` (with a message) when either is missing; a failure in CI.
pub fn browser() -> Option<(PathBuf, PathBuf)> {
    let chromium = on_path(&["chromium", "chromium-browser"]);
    let driver = on_path(&["chromedriver"]);
    match (chromium, driver) {
        (Some(chromium), Some(driver)) => Some((chromium, driver)),
        (chromium, driver) => {
            let missing = [
                ("chromium", chromium.is_none()),
                ("chromedriver", driver.is_none()),
            ]
            .iter()
            .filter(|(_, missing)| *missing)
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(" and ");
            assert!(
                std::env::var_os("CI").is_none(),
                "{missing} not found: CI must run scripts/install-browser first"
            );
            skipped(&format!(
                "browser tests skipped: {missing} not on PATH (scripts/install-browser installs them)"
            ));
            None
        }
    }
}

/// Where screenshots go: `$VAXCERT_ARTEFACTS_DIR`, else `browser-artefacts/` in the target directory.
pub fn artefacts_dir() -> PathBuf {
    let dir = std::env::var_os("VAXCERT_ARTEFACTS_DIR").map_or_else(
        || {
            Path::new(env!("CARGO_TARGET_TMPDIR"))
                .parent()
                .unwrap()
                .join("browser-artefacts")
        },
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running `vaxcert up` with its own data directory, on a free port: the process and its base URL.
pub fn start_up(data: &Path) -> (Killed, String) {
    let mut child = command(&[
        "up",
        "--data",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .process_group(0)
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let up = Killed(child);
    let mut base = None;
    let mut seen = Vec::new();
    while let Some(Ok(line)) = lines.next() {
        if let Some(url) = line.strip_prefix("vaxcert up: listening on ") {
            base = Some(url.to_owned());
        }
        let ready = line.starts_with("vaxcert up: ready");
        seen.push(line);
        if ready {
            break;
        }
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let base = base.unwrap_or_else(|| panic!("no address printed: {seen:?}"));
    (up, base)
}

/// chromedriver on a free loopback port, answering `/status`: the process and its URL.
pub fn start_driver(driver: &Path, log: &Path) -> (Killed, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .arg(format!("--log-path={}", log.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let guard = Killed(child);
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        let ready = http()
            .get(format!("{url}/status"))
            .call()
            .ok()
            .and_then(|response| response.into_body().read_to_string().ok())
            .and_then(|body| serde_json::from_str::<Value>(&body).ok())
            .is_some_and(|status| status["value"]["ready"] == true);
        if ready {
            return (guard, url);
        }
        assert!(
            started.elapsed() < DRIVER_DEADLINE,
            "chromedriver did not start; its log: {}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What a browser test starts from: a fresh folder, `vaxcert up` on its own data, chromedriver, and a
/// runtime to drive the browser on. The processes are killed when their fields are dropped.
pub struct BrowserTest {
    /// Chromium.
    pub chromium: PathBuf,
    /// The test's folder.
    pub dir: PathBuf,
    /// `vaxcert up`'s data folder in it.
    pub data: PathBuf,
    /// Where screenshots go.
    pub artefacts: PathBuf,
    /// `vaxcert up`.
    pub up: Killed,
    /// `vaxcert up`'s base URL.
    pub base: String,
    /// chromedriver.
    pub driver: Killed,
    /// chromedriver's URL.
    pub driver_url: String,
    /// A current-thread runtime.
    pub runtime: tokio::runtime::Runtime,
}

impl BrowserTest {
    /// Starts everything in a new folder named after `label`; `None` (the test skipped, a failure in CI)
    /// when Chromium or chromedriver is missing.
    pub fn start(label: &str) -> Option<BrowserTest> {
        let (chromium, driver) = browser()?;
        let artefacts = artefacts_dir();
        let dir = temp_dir(label);
        std::fs::create_dir_all(&dir).unwrap();
        let data = dir.join("data");
        let (up, base) = start_up(&data);
        let (driver, driver_url) = start_driver(&driver, &dir.join("chromedriver.log"));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Some(BrowserTest {
            chromium,
            dir,
            data,
            artefacts,
            up,
            base,
            driver,
            driver_url,
            runtime,
        })
    }

    /// A desktop session (1024 × 900), opened at `url`.
    pub async fn desktop(&self, url: &str) -> Client {
        let client = session(&self.driver_url, &self.chromium, Session::Desktop).await;
        client.set_window_size(1024, 900).await.unwrap();
        client.goto(url).await.unwrap();
        client
    }

    /// Stops `vaxcert up` and chromedriver, says where the screenshots are and removes the folder.
    pub fn finish(self) {
        let BrowserTest {
            dir,
            artefacts,
            up,
            driver,
            ..
        } = self;
        drop((up, driver));
        eprintln!("screenshots in {}", artefacts.display());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// What a browser session is.
pub enum Session<'a> {
    /// A desktop window.
    Desktop,
    /// A phone's screen ([`PHONE`], touch, a phone's user agent) whose camera shows this Y4M video,
    /// allowed without asking.
    PhoneWithCamera(&'a Path),
}

/// A new headless Chromium session, in Vietnamese.
pub async fn session(driver: &str, chromium: &Path, kind: Session<'_>) -> Client {
    let mut args = vec![
        "--headless=new".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--lang=vi".to_owned(),
    ];
    let mut options = json!({"binary": chromium});
    if let Session::PhoneWithCamera(video) = kind {
        args.push("--use-fake-ui-for-media-stream".to_owned());
        args.push("--use-fake-device-for-media-stream".to_owned());
        args.push(format!(
            "--use-file-for-fake-video-capture={}",
            video.display()
        ));
        options["mobileEmulation"] = json!({
            "deviceMetrics": {"width": PHONE.0, "height": PHONE.1, "pixelRatio": 2, "touch": true, "mobile": true},
        });
    }
    options["args"] = json!(args);
    let capabilities = json!({"browserName": "chrome", "goog:chromeOptions": options});
    let Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(driver)
        .await
        .unwrap()
}

/// Saves a PNG screenshot of the window as `name` in the artefacts folder `dir`.
pub async fn screenshot(client: &Client, dir: &Path, name: &str) {
    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    std::fs::write(dir.join(name), png).unwrap();
}

/// The page fits the window's width: no sideways scrolling.
pub async fn assert_fits_width(client: &Client) {
    let widths = client
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .unwrap();
    let (scroll, inner) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
    assert!(
        scroll <= inner,
        "{scroll} px of page in a {inner} px window"
    );
}

/// Asks `probe` every 100 ms until it answers `Some`, for at most `deadline`: its answer, or `None` when
/// the time ran out (the caller asserts, with what the page shows).
pub async fn wait_until<T, F, Fut>(deadline: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(answer) = probe().await {
            return Some(answer);
        }
        if started.elapsed() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The element `id` of the page.
pub async fn by_id(client: &Client, id: &str) -> Element {
    client
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|_| panic!("no #{id} on the page"))
}

/// Types `text` into the emptied input `id`.
pub async fn type_into(client: &Client, id: &str, text: &str) {
    let input = by_id(client, id).await;
    input.clear().await.unwrap();
    input.send_keys(text).await.unwrap();
}

/// A page's steps (shown one at a time) and message areas, to say what the page shows when an assertion
/// fails.
pub struct Page {
    /// Elements shown or hidden (the `hidden` attribute).
    pub steps: &'static [&'static str],
    /// Elements whose class and text matter.
    pub messages: &'static [&'static str],
}

impl Page {
    /// What the page shows: each step's visibility, each message's class and text.
    pub async fn shown(&self, client: &Client) -> String {
        let mut parts = Vec::new();
        for id in self.steps {
            let hidden = by_id(client, id)
                .await
                .attr("hidden")
                .await
                .unwrap()
                .is_some();
            parts.push(format!("#{id} {}", if hidden { "hidden" } else { "shown" }));
        }
        for id in self.messages {
            let element = by_id(client, id).await;
            let class = element.attr("class").await.unwrap().unwrap_or_default();
            let text = element.text().await.unwrap();
            parts.push(format!("#{id} [{class}] {text:?}"));
        }
        parts.join("; ")
    }

    /// Waits (bounded) until the element `id` is shown (no `hidden` attribute).
    pub async fn wait_shown(&self, client: &Client, id: &str) {
        let element = &by_id(client, id).await;
        let in_time = wait_until(DEADLINE, move || async move {
            element
                .attr("hidden")
                .await
                .unwrap()
                .is_none()
                .then_some(())
        })
        .await;
        assert!(
            in_time.is_some(),
            "#{id} not shown: {}",
            self.shown(client).await
        );
    }
}

/// The lines of the development outbox, none if it is not there yet.
pub fn outbox_lines(outbox: &Path) -> Vec<String> {
    std::fs::read_to_string(outbox)
        .map(|text| text.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The same phone number: the last nine digits agree (`+84912345678` and `0912345678`).
pub fn same_phone(a: &str, b: &str) -> bool {
    let digits = |text: &str| {
        text.chars()
            .filter(char::is_ascii_digit)
            .collect::<Vec<_>>()
    };
    let (a, b) = (digits(a), digits(b));
    a.len() >= 9 && b.len() >= 9 && a[a.len() - 9..] == b[b.len() - 9..]
}

/// The 6-digit code in the latest `one_time_code` message to `phone` after line `after` of the
/// development outbox, once there. Intake's sender writes the number as `phone`, the portal's as `to`.
pub async fn code_from_outbox(outbox: &Path, after: usize, phone: &str) -> String {
    let message = wait_until(DEADLINE, || async {
        outbox_lines(outbox)
            .iter()
            .skip(after)
            .rev()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|message| {
                let to = message["phone"].as_str().or(message["to"].as_str());
                message["kind"] == "one_time_code" && to.is_some_and(|to| same_phone(to, phone))
            })
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "no one_time_code message for the phone in {} within {DEADLINE:?}: {:?}",
            outbox.display(),
            outbox_lines(outbox)
        )
    });
    message["text"]
        .as_str()
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .find(|part| part.len() == 6)
        .unwrap_or_else(|| panic!("no 6-digit code in {message}"))
        .to_owned()
}
