//! Load generator for intake's `POST /intake/v1/registrations` (`scripts/bench-intake`): every request
//! a distinct person (a distinct 12-digit citizen ID), over plain HTTP/1.1 keep-alive connections on
//! loopback, each sending its next request as soon as the last answer is read.
//!
//! ```text
//! intake_load --addr 127.0.0.1:PORT --data DIR [--phones 1000] [--concurrency 32] [--duration 20]
//!             [--warmup 2] [--first-id 100000000000] [--first-phone 0] [--site DEV-0001]
//! ```
//!
//! First it opens one session per phone (`--phones` of them from `--first-phone`, numbers
//! `+8490xxxxxxx`; a phone gets one code a minute, so a following run takes other phones): asks for a code, reads it
//! from `<DIR>/outbox/sms.jsonl` (the development SMS outbox of `vaxcert up`), logs in and keeps the
//! `intake_session` cookie. Then `--concurrency` connections register people for `--warmup` seconds
//! (not counted) and `--duration` seconds (counted), request `i` under phone `i mod phones` with the
//! citizen ID `first-id + i`. It prints one line of `key=value` pairs: requests, requests/s, p50, p99
//! and max latency in ms, the count of answers other than 201 (and of connection errors), and
//! `next_id`, the first ID a following run may use.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The command line.
struct Options {
    addr: String,
    data: std::path::PathBuf,
    phones: u64,
    concurrency: u64,
    duration: Duration,
    warmup: Duration,
    first_id: u64,
    first_phone: u64,
    site: String,
}

fn options() -> Result<Options, Error> {
    let mut options = Options {
        addr: String::new(),
        data: std::path::PathBuf::new(),
        phones: 1000,
        concurrency: 32,
        duration: Duration::from_secs(20),
        warmup: Duration::from_secs(2),
        first_id: 100_000_000_000,
        first_phone: 0,
        site: "DEV-0001".to_owned(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => options.addr = value,
            "--data" => options.data = value.into(),
            "--phones" => options.phones = value.parse()?,
            "--concurrency" => options.concurrency = value.parse()?,
            "--duration" => options.duration = Duration::from_secs_f64(value.parse()?),
            "--warmup" => options.warmup = Duration::from_secs_f64(value.parse()?),
            "--first-id" => options.first_id = value.parse()?,
            "--first-phone" => options.first_phone = value.parse()?,
            "--site" => options.site = value,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    if options.addr.is_empty() || options.data.as_os_str().is_empty() {
        return Err("--addr and --data are required".into());
    }
    if options.phones == 0 || options.concurrency == 0 {
        return Err("--phones and --concurrency must be at least 1".into());
    }
    Ok(options)
}

/// An answer: the status, the `intake_session` cookie if one was set, the body.
struct Answer {
    status: u16,
    cookie: Option<String>,
    body: Vec<u8>,
}

/// One keep-alive HTTP/1.1 connection.
struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    async fn open(addr: &str) -> Result<Connection, Error> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            buffer: Vec::with_capacity(4096),
        })
    }

    /// Sends a JSON POST and reads the whole answer.
    async fn post(
        &mut self,
        path: &str,
        cookie: Option<&str>,
        body: &str,
    ) -> Result<Answer, Error> {
        let cookie = cookie
            .map(|token| format!("Cookie: intake_session={token}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             {cookie}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let mut rest = request.as_bytes();
        while !rest.is_empty() {
            self.stream.writable().await?;
            match self.stream.try_write(rest) {
                Ok(n) => rest = rest.get(n..).unwrap_or_default(),
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(error) => return Err(error.into()),
            }
        }
        self.read_answer().await
    }

    async fn read_answer(&mut self) -> Result<Answer, Error> {
        let head_end = loop {
            if let Some(at) = find(&self.buffer, b"\r\n\r\n") {
                break at;
            }
            self.fill().await?;
        };
        let head =
            String::from_utf8_lossy(self.buffer.get(..head_end).unwrap_or_default()).into_owned();
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .ok_or("no status line")?
            .parse()?;
        let mut length = 0usize;
        let mut cookie = None;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse()?;
            } else if name.eq_ignore_ascii_case("set-cookie") {
                cookie = value
                    .split(';')
                    .next()
                    .and_then(|pair| pair.strip_prefix("intake_session="))
                    .map(str::to_owned);
            }
        }
        let total = head_end + 4 + length;
        while self.buffer.len() < total {
            self.fill().await?;
        }
        let body = self
            .buffer
            .get(head_end + 4..total)
            .unwrap_or_default()
            .to_vec();
        self.buffer.drain(..total);
        Ok(Answer {
            status,
            cookie,
            body,
        })
    }

    async fn fill(&mut self) -> Result<(), Error> {
        // tokio's own readiness calls: the workspace builds tokio without `io-util`.
        let mut chunk = [0u8; 4096];
        let n = loop {
            self.stream.readable().await?;
            match self.stream.try_read(&mut chunk) {
                Ok(n) => break n,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(error) => return Err(error.into()),
            }
        };
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        self.buffer
            .extend_from_slice(chunk.get(..n).unwrap_or_default());
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn phone(index: u64) -> String {
    format!("+8490{:07}", index)
}

const FAMILY: &[&str] = &["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng"];
const GIVEN: &[&str] = &[
    "Bảo Duy",
    "Thị Lan",
    "Văn An",
    "Minh Châu",
    "Đức Anh",
    "Ngọc Ánh",
];

/// The registration form of person `id` (a valid adult, group `others`).
fn form(id: u64, site: &str) -> String {
    let day = 1 + id % 28;
    let month = 1 + (id / 28) % 12;
    let year = 1950 + (id / 336) % 50;
    serde_json::json!({
        "full_name": format!(
            "{} {}",
            FAMILY.get((id % 7) as usize).unwrap_or(&"Lê"),
            GIVEN.get((id / 7 % 6) as usize).unwrap_or(&"Văn An")
        ),
        "dob": format!("{year}-{month:02}-{day:02}"),
        "sex": "male",
        "id_kind": "citizen_id",
        "id_number": format!("{id:012}"),
        "occupation": "engineer",
        "address": {"province_code": "01", "commune_code": "00004", "admin_scheme": "2021"},
        "priority_group": "others",
        "preferred_site": site,
        "preferred_date": null,
        "health_insurance": null,
        "ethnicity": null,
        "nationality": "VN",
        "medical_history": {
            "severe_allergy": "no", "previous_dose_reaction": "no",
            "immunodeficiency_or_chemotherapy": "no", "pregnant": "no", "acute_illness": "no",
            "chronic_disease": "unknown", "bleeding_disorder_or_anticoagulants": "no",
            "covid_last_6_months": "no"
        },
        "consent": true
    })
    .to_string()
}

/// The latest one-time code sent to each phone, from the development SMS outbox.
fn codes(data: &std::path::Path) -> Result<HashMap<String, String>, Error> {
    let text = std::fs::read_to_string(data.join("outbox/sms.jsonl"))?;
    let mut out = HashMap::new();
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line)?;
        let field = |name: &str| value.get(name).and_then(serde_json::Value::as_str);
        if field("kind") != Some("one_time_code") {
            continue;
        }
        let (Some(to), Some(text)) = (field("to"), field("text")) else {
            continue;
        };
        if let Some(code) = text
            .split(|c: char| !c.is_ascii_digit())
            .find(|word| word.len() == 6)
        {
            out.insert(to.to_owned(), code.to_owned());
        }
    }
    Ok(out)
}

/// Runs `work(i)` for i in 0..n over `concurrency` connections.
async fn each<F>(options: &Options, n: u64, work: F) -> Result<Vec<(u64, Answer)>, Error>
where
    F: Fn(u64) -> (String, Option<String>, String) + Send + Sync + 'static,
{
    let next = Arc::new(AtomicU64::new(0));
    let work = Arc::new(work);
    let mut tasks = Vec::new();
    for _ in 0..options.concurrency.min(n) {
        let next = Arc::clone(&next);
        let work = Arc::clone(&work);
        let addr = options.addr.clone();
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(&addr).await?;
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, Error>(out);
                }
                let (path, cookie, body) = work(i);
                let answer = connection.post(&path, cookie.as_deref(), &body).await?;
                out.push((i, answer));
            }
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    Ok(all)
}

/// One session per phone.
async fn sessions(options: &Options) -> Result<Vec<String>, Error> {
    let first = options.first_phone;
    let asked = each(options, options.phones, move |i| {
        (
            "/intake/v1/phone-codes".to_owned(),
            None,
            serde_json::json!({"phone": phone(first + i)}).to_string(),
        )
    })
    .await?;
    if let Some((i, answer)) = asked.iter().find(|(_, answer)| answer.status != 202) {
        return Err(format!(
            "phone-codes for phone {i} answered {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        )
        .into());
    }
    let codes = Arc::new(codes(&options.data)?);
    let lookup = Arc::clone(&codes);
    let logged = each(options, options.phones, move |i| {
        let code = lookup.get(&phone(first + i)).cloned().unwrap_or_default();
        (
            "/intake/v1/sessions".to_owned(),
            None,
            serde_json::json!({"phone": phone(first + i), "code": code}).to_string(),
        )
    })
    .await?;
    let mut tokens = vec![String::new(); usize::try_from(options.phones)?];
    for (i, answer) in logged {
        let token = match (answer.status, answer.cookie) {
            (201, Some(token)) => token,
            (status, _) => return Err(format!("login of phone {i} answered {status}").into()),
        };
        if let Some(slot) = tokens.get_mut(usize::try_from(i)?) {
            *slot = token;
        }
    }
    Ok(tokens)
}

/// What the measured connections saw.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    not_created: u64,
    errors: u64,
    sample_error: Option<String>,
}

async fn load(
    options: &Options,
    tokens: Arc<Vec<String>>,
) -> Result<(Tally, u64, Duration), Error> {
    let next = Arc::new(AtomicU64::new(0));
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..options.concurrency {
        let (next, counting, stop) = (Arc::clone(&next), Arc::clone(&counting), Arc::clone(&stop));
        let tokens = Arc::clone(&tokens);
        let addr = options.addr.clone();
        let (first_id, site) = (options.first_id, options.site.clone());
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut connection = Connection::open(&addr).await?;
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let token = tokens
                    .get(usize::try_from(i % tokens.len() as u64)?)
                    .ok_or("no session")?;
                let body = form(first_id + i, &site);
                let started = Instant::now();
                let answer = connection
                    .post("/intake/v1/registrations", Some(token), &body)
                    .await;
                let elapsed = started.elapsed();
                if !counting.load(Ordering::Relaxed) {
                    if answer.is_err() {
                        connection = Connection::open(&addr).await?;
                    }
                    continue;
                }
                tally
                    .latencies_us
                    .push(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
                match answer {
                    Ok(answer) if answer.status == 201 => {}
                    Ok(answer) => {
                        tally.not_created += 1;
                        if tally.sample_error.is_none() {
                            tally.sample_error = Some(format!(
                                "{} {}",
                                answer.status,
                                String::from_utf8_lossy(&answer.body)
                            ));
                        }
                    }
                    Err(error) => {
                        tally.errors += 1;
                        tally.sample_error.get_or_insert_with(|| error.to_string());
                        connection = Connection::open(&addr).await?;
                    }
                }
            }
            Ok::<_, Error>(tally)
        }));
    }
    tokio::time::sleep(options.warmup).await;
    counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(options.duration).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let mut total = Tally::default();
    for task in tasks {
        let tally = task.await??;
        total.latencies_us.extend(tally.latencies_us);
        total.not_created += tally.not_created;
        total.errors += tally.errors;
        if total.sample_error.is_none() {
            total.sample_error = tally.sample_error;
        }
    }
    Ok((total, next.load(Ordering::Relaxed), elapsed))
}

fn percentile_ms(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let index = rank.saturating_sub(1).min(sorted.len() - 1);
    sorted.get(index).copied().unwrap_or_default() as f64 / 1000.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let options = options()?;
    let setup = Instant::now();
    let tokens = Arc::new(sessions(&options).await?);
    eprintln!(
        "intake_load: {} sessions opened in {:.1} s",
        tokens.len(),
        setup.elapsed().as_secs_f64()
    );
    let (mut tally, issued, elapsed) = load(&options, tokens).await?;
    tally.latencies_us.sort_unstable();
    let requests = tally.latencies_us.len();
    let rate = requests as f64 / elapsed.as_secs_f64();
    println!(
        "requests={requests} rps={rate:.0} p50_ms={:.2} p99_ms={:.2} max_ms={:.2} not_201={} errors={} next_id={}",
        percentile_ms(&tally.latencies_us, 50.0),
        percentile_ms(&tally.latencies_us, 99.0),
        percentile_ms(&tally.latencies_us, 100.0),
        tally.not_created,
        tally.errors,
        options.first_id + issued,
    );
    if let Some(sample) = tally.sample_error {
        eprintln!("intake_load: first failure: {sample}");
    }
    Ok(())
}
