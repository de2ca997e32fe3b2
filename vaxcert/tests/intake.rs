//! Intake end to end over real HTTP against `vaxcert up`: 1,000 generated people in several priority
//! groups register under 250 phones (codes read from the development outbox); a site publishes capacity
//! for 300; the round invites exactly the 300 that an independent ranking computed here — from the same
//! data, the published policy and the revealed seed — puts first, none twice; the 300 are checked in,
//! screened, dosed, attested and confirmed by the registry; intake's outbox delivers them to the issuer
//! over HTTP; the issuer's 300 certificates verify; the notification outbox holds what each person was
//! told.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use support::running::start_up;
use support::{command, http, ok, temp_dir, today_in_viet_nam, value_sets};

const PEOPLE: usize = 1_000;
const PER_PHONE: usize = 4;
const SLOTS: usize = 300;
const SITE: &str = "HN-0001";
const PRODUCT: &str = "EU/1/20/1528";

/// One generated person.
#[derive(Clone)]
struct Person {
    phone: String,
    full_name: String,
    dob: time::Date,
    id_number: String,
    group: &'static str,
    province: &'static str,
}

/// A small deterministic generator (the test must be reproducible, and not depend on the order of
/// anything but its own data).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn people() -> Vec<Person> {
    const GROUPS: &[&str] = &[
        "health-workers",
        "army",
        "teachers-public-facing",
        "chronic-disease-over-65",
        "enterprise-workers",
        "freelance-workers",
        "others",
    ];
    const FAMILY: &[&str] = &["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng"];
    const GIVEN: &[&str] = &[
        "Bảo Duy",
        "Thị Lan",
        "Văn An",
        "Minh Châu",
        "Đức Anh",
        "Ngọc Ánh",
    ];
    const PROVINCES: &[&str] = &["01", "79", "74", "31"];
    let mut random = Lcg(20_210_708);
    (0..PEOPLE)
        .map(|i| {
            let age_days = 18 * 366 + random.below(70 * 365);
            let dob =
                time::OffsetDateTime::now_utc().date() - time::Duration::days(age_days as i64);
            Person {
                phone: format!("+8491{:07}", i / PER_PHONE),
                full_name: format!(
                    "{} {}",
                    FAMILY[random.below(FAMILY.len() as u64) as usize],
                    GIVEN[random.below(GIVEN.len() as u64) as usize]
                ),
                dob,
                id_number: format!("0010{:08}", 10_000_000 + i),
                group: GROUPS[random.below(GROUPS.len() as u64) as usize],
                province: PROVINCES[random.below(PROVINCES.len() as u64) as usize],
            }
        })
        .collect()
}

fn form(person: &Person) -> Value {
    json!({
        "full_name": person.full_name,
        "dob": person.dob.to_string(),
        "sex": "female",
        "id_kind": "citizen_id",
        "id_number": person.id_number,
        "occupation": "teacher",
        "address": {"province_code": person.province, "commune_code": "00004", "admin_scheme": "2021"},
        "priority_group": person.group,
        "preferred_site": SITE,
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
}

/// The development outbox's lines (`<data>/outbox/sms.jsonl`).
fn outbox(data: &Path) -> Vec<Value> {
    std::fs::read_to_string(data.join("outbox/sms.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The six-digit code of the latest one-time-code message to `phone`.
fn latest_code(data: &Path, phone: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let code = outbox(data)
            .iter()
            .rev()
            .find(|line| line["to"] == phone && line["kind"] == "one_time_code")
            .and_then(|line| {
                // The first run of exactly six digits in the text.
                let text = line["text"].as_str()?;
                text.split(|c: char| !c.is_ascii_digit())
                    .find(|run| run.len() == 6)
                    .map(str::to_owned)
            });
        if let Some(code) = code {
            return code;
        }
        assert!(Instant::now() < deadline, "no code for {phone}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn post(url: &str, headers: &[(&str, &str)], body: &Value) -> (u16, Value, Option<String>) {
    let mut request = http().post(url).header("Content-Type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.send(body.to_string()).unwrap();
    let status = response.status().as_u16();
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(str::to_owned);
    let text = response.body_mut().read_to_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        cookie,
    )
}

fn get(url: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = http().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.call().unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn intake_cli(data: &Path, args: &[&str]) -> String {
    let mut all = vec!["intake"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--data", data.to_str().unwrap()]);
    let output = ok(command(&all).output().unwrap());
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Priority rank, outside an outbreak province, age band, lottery key: ascending is first.
type RankKey = (u16, bool, u8, Vec<u8>);

/// The independent ranking: policy rank, outbreak province, age band, then the lottery key
/// HMAC-SHA-256(seed, registration id) — computed here from the test's own data.
fn expected_invitees(
    people: &HashMap<String, Person>,
    seed: &[u8],
    day: time::Date,
) -> BTreeSet<String> {
    let policies = intake::policy::PolicyBook::builtin().unwrap();
    let policy = policies.in_force(day).unwrap();
    let mut keyed: Vec<(RankKey, &String)> = people
        .iter()
        .map(|(id, person)| {
            let age = age_on(person.dob, day);
            let mut mac = Hmac::<Sha256>::new_from_slice(seed).unwrap();
            mac.update(id.as_bytes());
            let key = mac.finalize().into_bytes().to_vec();
            (
                (
                    policy.rank(person.group).unwrap(),
                    !policy.is_outbreak_province(person.province),
                    policy.age_band(age),
                    key,
                ),
                id,
            )
        })
        .collect();
    keyed.sort();
    keyed
        .into_iter()
        .take(SLOTS)
        .map(|(_, id)| id.clone())
        .collect()
}

fn age_on(dob: time::Date, day: time::Date) -> u8 {
    let mut age = day.year() - dob.year();
    if (day.month() as u8, day.day()) < (dob.month() as u8, dob.day()) {
        age -= 1;
    }
    u8::try_from(age).unwrap()
}

#[test]
fn a_thousand_people_register_and_the_three_hundred_the_policy_ranks_first_get_verified_certificates()
 {
    let Some(value_sets) = value_sets() else {
        return;
    };
    let data = temp_dir("intake-e2e");
    let up = start_up(&data, &value_sets);
    let base = up.base.clone();
    intake_cli(
        &data,
        &[
            "site-add",
            SITE,
            "--name",
            "Trạm Y tế Phường Tràng Tiền",
            "--province",
            "01",
        ],
    );
    let site_token = intake_cli(
        &data,
        &[
            "token-create",
            "--role",
            "site",
            "--subject",
            SITE,
            "--name",
            "nurse-lan",
        ],
    );
    let registry_token = intake_cli(
        &data,
        &["token-create", "--role", "registry", "--name", "registry"],
    );
    let site_auth = format!("Bearer {site_token}");
    let registry_auth = format!("Bearer {registry_token}");

    // 1,000 people register, in an order unrelated to their rank.
    let everyone = people();
    let mut by_id: HashMap<String, Person> = HashMap::new();
    let mut cookies: HashMap<String, String> = HashMap::new();
    for phone_people in everyone.chunks(PER_PHONE).rev() {
        let phone = &phone_people[0].phone;
        let (status, _, _) = post(
            &format!("{base}/intake/v1/phone-codes"),
            &[],
            &json!({"phone": phone}),
        );
        assert_eq!(status, 202);
        let code = latest_code(&data, phone);
        let (status, _, cookie) = post(
            &format!("{base}/intake/v1/sessions"),
            &[],
            &json!({"phone": phone, "code": code}),
        );
        assert_eq!(status, 201);
        let cookie = cookie.expect("a session cookie");
        cookies.insert(phone.clone(), cookie.clone());
        for person in phone_people {
            let (status, answer, _) = post(
                &format!("{base}/intake/v1/registrations"),
                &[("Cookie", &cookie)],
                &form(person),
            );
            assert_eq!(status, 201, "{answer}");
            assert_eq!(answer["status"], "waiting");
            let id = answer["registration_id"].as_str().unwrap().to_owned();
            by_id.insert(id, person.clone());
        }
    }
    assert_eq!(by_id.len(), PEOPLE);

    // The site publishes capacity for 300; the round's seed hash is public before it runs.
    let today = today_in_viet_nam();
    let (status, capacity, _) = post(
        &format!("{base}/site/v1/capacity"),
        &[("Authorization", &site_auth)],
        &json!({"day": today.to_string(), "session": "morning", "product": PRODUCT, "slots": SLOTS}),
    );
    assert_eq!(status, 201, "{capacity}");
    let round_id = capacity["round_id"].as_str().unwrap();
    let seed_hash = capacity["seed_hash"].as_str().unwrap().to_owned();
    let (status, round) = get(&format!("{base}/intake/v1/rounds/{round_id}"), &[]);
    assert_eq!(status, 200);
    assert_eq!(round["seed_hash"], seed_hash.as_str());
    assert!(
        round["seed"].is_null(),
        "the seed stays secret until the round runs"
    );

    let (status, ran, _) = post(
        &format!("{base}/site/v1/rounds/{round_id}/run"),
        &[("Authorization", &site_auth)],
        &json!({}),
    );
    assert_eq!(status, 200, "{ran}");
    assert_eq!(ran["invited"], SLOTS);
    let (_, round) = get(&format!("{base}/intake/v1/rounds/{round_id}"), &[]);
    let seed = hex::decode(round["seed"].as_str().unwrap()).unwrap();
    assert_eq!(hex::encode(Sha256::digest(&seed)), seed_hash);

    // Exactly the 300 the policy ranks first, none twice.
    let (status, listed) = get(
        &format!("{base}/site/v1/appointments?day={today}"),
        &[("Authorization", &site_auth)],
    );
    assert_eq!(status, 200, "{listed}");
    let appointments = listed["appointments"].as_array().unwrap().clone();
    let invited: BTreeSet<String> = appointments
        .iter()
        .map(|a| a["registration_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(appointments.len(), SLOTS);
    assert_eq!(invited.len(), SLOTS, "someone was invited twice");
    assert_eq!(invited, expected_invitees(&by_id, &seed, today));

    // A registrant sees and confirms their invitation; another phone cannot touch it.
    let invitation = |id: &str| {
        let phone = &by_id[id].phone;
        let (status, mine) = get(
            &format!("{base}/intake/v1/appointments"),
            &[("Cookie", &cookies[phone])],
        );
        assert_eq!(status, 200);
        mine["appointments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["registration_id"] == id && a["status"] != "cancelled")
            .unwrap_or_else(|| panic!("no invitation listed for {id}: {mine}"))
            .clone()
    };
    let first = appointments[0]["registration_id"].as_str().unwrap();
    let code = invitation(first)["booking_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let stranger = cookies
        .iter()
        .find(|(phone, _)| **phone != by_id[first].phone)
        .map(|(_, cookie)| cookie.clone())
        .unwrap();
    let confirm = format!("{base}/intake/v1/appointments/{code}/confirmation");
    let (status, _, _) = post(&confirm, &[("Cookie", &stranger)], &json!({}));
    assert_eq!(status, 404, "another phone's booking code");
    let (status, confirmed, _) = post(
        &confirm,
        &[("Cookie", &cookies[&by_id[first].phone])],
        &json!({}),
    );
    assert_eq!(
        (status, confirmed["status"].as_str()),
        (200, Some("confirmed"))
    );

    // Another cancels (to come another day): the slot goes back, and the next round at the site
    // invites them again — cancelling keeps one's standing, it is not a way to jump ahead or fall back.
    let second = appointments[1]["registration_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = invitation(&second)["booking_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _, _) = post(
        &format!("{base}/intake/v1/appointments/{code}/cancellation"),
        &[("Cookie", &cookies[&by_id[&second].phone])],
        &json!({}),
    );
    assert_eq!(status, 200);
    let (status, again, _) = post(
        &format!("{base}/site/v1/capacity"),
        &[("Authorization", &site_auth)],
        &json!({"day": today.to_string(), "session": "morning", "product": PRODUCT, "slots": SLOTS}),
    );
    assert_eq!(status, 201, "{again}");
    let (status, ran, _) = post(
        &format!(
            "{base}/site/v1/rounds/{}/run",
            again["round_id"].as_str().unwrap()
        ),
        &[("Authorization", &site_auth)],
        &json!({}),
    );
    assert_eq!((status, ran["invited"].as_u64()), (200, Some(1)));
    assert_eq!(invitation(&second)["status"], "invited");
    let (_, listed) = get(
        &format!("{base}/site/v1/appointments?day={today}"),
        &[("Authorization", &site_auth)],
    );
    let appointments: Vec<Value> = listed["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["status"] == "invited" || a["status"] == "confirmed")
        .cloned()
        .collect();
    let live: BTreeSet<String> = appointments
        .iter()
        .map(|a| a["registration_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(live, invited, "the same 300, each once");
    assert_eq!(appointments.len(), SLOTS);

    // On the day: check-in, screening, the dose, the site's attestation, the registry's confirmation.
    let healthy = json!({
        "answers": {
            "severe_allergy_history": false, "reaction_previous_dose": false, "acute_illness": false,
            "immunodeficiency": false, "pregnancy": false, "covid_last_6_months": false,
            "bleeding_disorder": false, "uncontrolled_chronic_disease": false, "other": false
        },
        "vitals": {"temperature_c": 36.6, "pulse": 78, "systolic": 120, "diastolic": 80, "spo2": 98}
    });
    let mut dose_event_ids = Vec::new();
    for appointment in &appointments {
        let id = appointment["appointment_id"].as_str().unwrap();
        let site = [("Authorization", site_auth.as_str())];
        let (status, answer, _) = post(
            &format!("{base}/site/v1/appointments/{id}/check-in"),
            &site,
            &json!({}),
        );
        assert_eq!(status, 200, "{answer}");
        let (status, answer, _) = post(
            &format!("{base}/site/v1/appointments/{id}/screening"),
            &site,
            &healthy,
        );
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["outcome"], "eligible");
        let (status, dose, _) = post(
            &format!("{base}/site/v1/appointments/{id}/dose"),
            &site,
            &json!({"lot_number": "FF2587", "vaccinated_on": today.to_string(),
                    "dose_number": 1, "total_doses": 2}),
        );
        assert_eq!(status, 201, "{dose}");
        let dose_event_id = dose["dose_event_id"].as_str().unwrap().to_owned();
        dose_event_ids.push(dose_event_id.clone());
        let (status, answer, _) = post(
            &format!("{base}/site/v1/doses/{dose_event_id}/attestation"),
            &site,
            &json!({}),
        );
        assert_eq!(status, 200, "{answer}");
        let (status, answer, _) = post(
            &format!("{base}/registry/v1/doses/{dose_event_id}/confirmation"),
            &[("Authorization", registry_auth.as_str())],
            &json!({}),
        );
        assert_eq!(status, 200, "{answer}");
    }

    // Intake's outbox delivers the 300 to the issuer over HTTP; each person is told.
    let deadline = Instant::now() + Duration::from_secs(120);
    let count = |kind: &str| {
        outbox(&data)
            .iter()
            .filter(|line| line["kind"] == kind)
            .count()
    };
    while count("certificate_available") < SLOTS {
        assert!(
            Instant::now() < deadline,
            "{} of {SLOTS} certificates announced",
            count("certificate_available")
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let lines = outbox(&data);
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for line in &lines {
        *kinds
            .entry(line["kind"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(kinds.get("one_time_code"), Some(&(PEOPLE / PER_PHONE)));
    assert_eq!(kinds.get("registration_received"), Some(&PEOPLE));
    assert_eq!(
        kinds.get("invitation"),
        Some(&(SLOTS + 1)),
        "one person invited twice"
    );
    assert_eq!(kinds.get("cancelled"), Some(&1));
    assert_eq!(kinds.get("dose_recorded"), Some(&SLOTS));
    assert_eq!(
        kinds.get("next_dose_due"),
        Some(&SLOTS),
        "a first dose of two"
    );
    assert_eq!(kinds.get("certificate_available"), Some(&SLOTS));
    for line in &lines {
        let text = line["text"].as_str().unwrap();
        assert!(text.is_ascii(), "{text}");
        assert!(
            !everyone
                .iter()
                .any(|person| text.contains(&person.id_number)),
            "an ID number in an SMS: {text}"
        );
    }

    // The issuer's 300 certificates verify against this node's own trust list.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let certificates: Vec<String> = runtime.block_on(async {
        let ledger = issuer::ledger::Ledger::open(&format!(
            "sqlite:{}",
            data.join("ledger.sqlite").display()
        ))
        .await
        .unwrap();
        let (_, certificates) = ledger.counts().await.unwrap();
        assert_eq!(certificates, SLOTS as i64);
        let mut hc1s = Vec::new();
        for dose_event_id in &dose_event_ids {
            let records = ledger.certificates_of(dose_event_id).await.unwrap();
            assert_eq!(records.len(), 1, "one certificate per dose event");
            hc1s.extend(records.into_iter().map(|record| record.hc1));
        }
        ledger.close().await;
        hc1s
    });
    assert_eq!(certificates.len(), SLOTS);
    let mut holders = BTreeSet::new();
    for hc1 in &certificates {
        // Under the verifier's rate limit for one address (100/s).
        std::thread::sleep(Duration::from_millis(12));
        let (status, report, _) = post(&format!("{base}/v1/verify"), &[], &json!({"hc1": hc1}));
        assert_eq!(status, 200);
        assert_eq!(report["valid"], true, "{report}");
        holders.insert(report["holder"]["dob"].as_str().unwrap().to_owned());
    }
    assert!(
        holders.len() > 100,
        "the certificates are of different people"
    );
    drop(up);
    let _ = std::fs::remove_dir_all(&data);
}

/// `vaxcert serve intake` alone, in a process and a data folder of its own, delivers a confirmed dose
/// to another process's issuer (`vaxcert up`) over HTTP with the issuer's token, the registry's step
/// taken by `--registry-auto-confirm`; `/healthz` and `/openapi.json` describe it; one address asking
/// codes for many phones is stopped.
#[test]
fn serve_intake_delivers_to_an_issuer_in_another_process() {
    let Some(value_sets) = value_sets() else {
        return;
    };
    let issuer_data = temp_dir("intake-issuer");
    let issuer = start_up(&issuer_data, &value_sets);
    let data = temp_dir("intake-alone");
    intake_cli(
        &data,
        &["site-add", SITE, "--name", "Trạm Y tế", "--province", "01"],
    );
    let site_token = intake_cli(
        &data,
        &[
            "token-create",
            "--role",
            "site",
            "--subject",
            SITE,
            "--name",
            "nurse-lan",
        ],
    );
    let token_file = issuer_data.join("internal-api.token");
    let mut serve = command(&[
        "serve",
        "intake",
        "--data",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--issuer-url",
        &issuer.base,
        "--issuer-token-file",
        token_file.to_str().unwrap(),
        "--registry-auto-confirm",
        "--intake-code-rate-limit",
        "1",
        "--intake-code-rate-burst",
        "2",
    ]);
    let intake = support::running::spawn(
        &mut serve,
        "vaxcert serve intake: listening on ",
        "vaxcert serve intake: ready",
    );
    let base = intake.base.clone();
    let (status, health) = get(&format!("{base}/healthz"), &[]);
    assert_eq!((status, health["database"].as_str()), (200, Some("ok")));
    let (_, openapi) = get(&format!("{base}/openapi.json"), &[]);
    assert!(
        openapi["paths"]["/site/v1/capacity"].is_object(),
        "{openapi}"
    );

    let person = people().remove(0);
    let (status, _, _) = post(
        &format!("{base}/intake/v1/phone-codes"),
        &[],
        &json!({"phone": person.phone}),
    );
    assert_eq!(status, 202);
    let code = latest_code(&data, &person.phone);
    let (_, _, cookie) = post(
        &format!("{base}/intake/v1/sessions"),
        &[],
        &json!({"phone": person.phone, "code": code}),
    );
    let cookie = cookie.expect("a session cookie");
    let (status, _, _) = post(
        &format!("{base}/intake/v1/registrations"),
        &[("Cookie", &cookie)],
        &form(&person),
    );
    assert_eq!(status, 201);

    // One address asking codes for phone after phone is stopped (burst 2, then one a minute).
    let (status, _, _) = post(
        &format!("{base}/intake/v1/phone-codes"),
        &[],
        &json!({"phone": "+84987000001"}),
    );
    assert_eq!(status, 202);
    let (status, refused, _) = post(
        &format!("{base}/intake/v1/phone-codes"),
        &[],
        &json!({"phone": "+84987000002"}),
    );
    assert_eq!(status, 429, "{refused}");
    assert!(
        !outbox(&data)
            .iter()
            .any(|line| line["to"] == "+84987000002")
    );

    let site = format!("Bearer {site_token}");
    let site = [("Authorization", site.as_str())];
    let today = today_in_viet_nam();
    let (_, capacity, _) = post(
        &format!("{base}/site/v1/capacity"),
        &site,
        &json!({"day": today.to_string(), "session": "afternoon", "product": PRODUCT, "slots": 1}),
    );
    let round = capacity["round_id"].as_str().unwrap();
    let (_, ran, _) = post(
        &format!("{base}/site/v1/rounds/{round}/run"),
        &site,
        &json!({}),
    );
    assert_eq!(ran["invited"], 1);
    let (_, listed) = get(&format!("{base}/site/v1/appointments?day={today}"), &site);
    let id = listed["appointments"][0]["appointment_id"]
        .as_str()
        .unwrap();
    let steps = [
        ("check-in", json!({})),
        (
            "screening",
            json!({"answers": {"severe_allergy_history": false, "reaction_previous_dose": false,
                    "acute_illness": false, "immunodeficiency": false, "pregnancy": false,
                    "covid_last_6_months": false, "bleeding_disorder": false,
                    "uncontrolled_chronic_disease": false, "other": false},
                   "vitals": {"temperature_c": 36.8, "pulse": 70, "systolic": 118, "diastolic": 76, "spo2": 99}}),
        ),
        (
            "dose",
            json!({"lot_number": "AB1234", "vaccinated_on": today.to_string(), "dose_number": 1, "total_doses": 2}),
        ),
    ];
    let mut dose_event_id = String::new();
    for (step, body) in steps {
        let (status, answer, _) = post(
            &format!("{base}/site/v1/appointments/{id}/{step}"),
            &site,
            &body,
        );
        assert!(status == 200 || status == 201, "{step}: {status} {answer}");
        if let Some(id) = answer["dose_event_id"].as_str() {
            dose_event_id = id.to_owned();
        }
    }
    let (status, _, _) = post(
        &format!("{base}/site/v1/doses/{dose_event_id}/attestation"),
        &site,
        &json!({}),
    );
    assert_eq!(status, 200);

    // The registry confirms by itself; the outbox delivers to the other process's issuer.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !outbox(&data)
        .iter()
        .any(|line| line["kind"] == "certificate_available")
    {
        assert!(Instant::now() < deadline, "no certificate announced");
        std::thread::sleep(Duration::from_millis(200));
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let hc1 = runtime.block_on(async {
        let ledger = issuer::ledger::Ledger::open(&format!(
            "sqlite:{}",
            issuer_data.join("ledger.sqlite").display()
        ))
        .await
        .unwrap();
        let records = ledger.certificates_of(&dose_event_id).await.unwrap();
        ledger.close().await;
        assert_eq!(records.len(), 1);
        records[0].hc1.clone()
    });
    let (status, report, _) = post(
        &format!("{}/v1/verify", issuer.base),
        &[],
        &json!({"hc1": hc1}),
    );
    assert_eq!(
        (status, report["valid"].as_bool()),
        (200, Some(true)),
        "{report}"
    );
    assert_eq!(report["holder"]["dob"], person.dob.to_string());
    drop(intake);
    drop(issuer);
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_dir_all(&issuer_data);
}
