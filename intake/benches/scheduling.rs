//! Ranking a site's waiting list in memory: the pure part of a scheduling round
//! (`cargo bench -p intake --bench scheduling`). The end-to-end measurement over a database of a million
//! registrations is `cargo run --release -p intake --example schedule_million`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use intake::policy::PolicyBook;
use intake::scheduling::{Candidate, PreviousDose, RoundContext, select};
use intake::vaccines::vaccine;
use time::macros::date;

const GROUPS: &[&str] = &["health-workers", "army", "teachers-public-facing", "others"];

fn candidates(n: usize) -> Vec<Candidate> {
    (0..n)
        .map(|i| Candidate {
            registration_id: format!("{i:032x}"),
            dob: date!(1940 - 01 - 01) + time::Duration::days(i64::try_from(i % 25_000).unwrap()),
            priority_group: GROUPS[i % GROUPS.len()].to_owned(),
            policy_id: "qd-3355-byt".to_owned(),
            policy_version: 1,
            province_code: if i % 7 == 0 { "79" } else { "01" }.to_owned(),
            caution: i % 50 == 0,
            postponed_until: None,
            previous_dose: (i % 10 == 0).then(|| PreviousDose {
                product: "EU/1/20/1528".to_owned(),
                dose_number: 1,
                total_doses: 2,
                date: date!(2021 - 07 - 01) + time::Duration::days(i64::try_from(i % 60).unwrap()),
            }),
            has_live_appointment: false,
        })
        .collect()
}

fn ranking(c: &mut Criterion) {
    let book = PolicyBook::builtin().unwrap();
    let people = candidates(100_000);
    let round = RoundContext {
        day: date!(2021 - 09 - 14),
        vaccine: vaccine("EU/1/20/1528").unwrap(),
        hospital_grade: false,
        seed: &[7u8; 32],
        policies: &book,
    };
    let mut group = c.benchmark_group("scheduling");
    group.sample_size(10);
    group.bench_function("select 10k of 100k candidates", |b| {
        b.iter(|| select(black_box(&people), &round, 10_000));
    });
    group.finish();
}

criterion_group!(benches, ranking);
criterion_main!(benches);
