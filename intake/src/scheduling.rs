//! Who a scheduling round invites (`domain.md`, Scheduling): hard filters, then an ordering key, then the
//! first `slots` — pure, no I/O, the round's day passed in.
//!
//! The ordering key is lexicographic: (1) next doses that are due come first, the most overdue first
//! (days past the product's minimum interval); (2) the priority rank of the person's group under the
//! policy in force on the round's day (the rank under the registration's own policy for a group code the
//! newer policy no longer has; an unknown group last); (3) residents of the policy's outbreak provinces
//! first; (4) the age band, oldest first; (5) a lottery key, HMAC-SHA256 of the registration id under
//! the round's seed, whose SHA-256 ([`seed_commitment`]) is published before the round runs and the seed
//! itself after. The time of registration is not an input: a [`Candidate`] does not carry it.

use std::cmp::Reverse;

use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};
use time::Date;

use crate::policy::{Policy, PolicyBook};
use crate::vaccines::Vaccine;

/// The dose a person had last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousDose {
    /// Its medicinal product (`mp`).
    pub product: String,
    /// Which dose of the series it was (1-based).
    pub dose_number: u8,
    /// Doses in the series it belongs to.
    pub total_doses: u8,
    /// The day it was given.
    pub date: Date,
}

/// A waiting registration as the scheduler sees it. Deliberately without the registration time, the
/// name or any identity number: none of them may decide who goes first.
#[derive(Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The registration's id (the lottery key's message).
    pub registration_id: String,
    /// Date of birth.
    pub dob: Date,
    /// The priority group's code, as the site classified it.
    pub priority_group: String,
    /// The id of the policy the registration was made under.
    pub policy_id: String,
    /// That policy's version.
    pub policy_version: u32,
    /// The province of residence (administrative code).
    pub province_code: String,
    /// Screening asked for a hospital-grade site.
    pub caution: bool,
    /// No invitation before this day.
    pub postponed_until: Option<Date>,
    /// The last dose given, if any.
    pub previous_dose: Option<PreviousDose>,
    /// An appointment is open (invited, confirmed or checked in).
    pub has_live_appointment: bool,
}

impl std::fmt::Debug for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Candidate")
            .field("registration_id", &self.registration_id)
            .field("priority_group", &self.priority_group)
            .finish_non_exhaustive()
    }
}

/// What a round offers: its site's grade, its day, its product, and its seed.
#[derive(Clone, Copy)]
pub struct RoundContext<'a> {
    /// The day of the appointments.
    pub day: Date,
    /// The product given.
    pub vaccine: &'a Vaccine,
    /// Whether the site may take caution cases.
    pub hospital_grade: bool,
    /// The round's secret seed (revealed after the round).
    pub seed: &'a [u8],
    /// The priority policies.
    pub policies: &'a PolicyBook,
}

impl std::fmt::Debug for RoundContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoundContext")
            .field("day", &self.day)
            .field("product", &self.vaccine.product)
            .field("hospital_grade", &self.hospital_grade)
            .finish_non_exhaustive()
    }
}

/// Why a hard filter keeps a candidate out of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Exclusion {
    /// No policy is in force on the day and the registration's own is unknown.
    #[error("no priority policy applies")]
    NoPolicy,
    /// Younger than the policy's minimum age on the day.
    #[error("under the minimum age")]
    TooYoung,
    /// The previous dose was of another product (no mixing).
    #[error("previous dose of another product")]
    OtherProduct,
    /// The product's minimum interval since the previous dose has not passed.
    #[error("minimum interval not reached")]
    TooSoon,
    /// The series is complete.
    #[error("series complete")]
    SeriesComplete,
    /// Screening postponed the dose past the day.
    #[error("postponed")]
    Postponed,
    /// A caution case, and the site is not hospital-grade.
    #[error("caution case at a site that is not hospital-grade")]
    NeedsHospital,
    /// An appointment is already open.
    #[error("an appointment is open")]
    LiveAppointment,
}

/// A candidate's place in the round: smaller goes first. Compared field by field, in the order written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RankKey {
    /// 0 for a due next dose, 1 for a first dose.
    pub next_dose: u8,
    /// Days past the minimum interval (larger first); 0 for first doses.
    pub overdue_days: Reverse<u32>,
    /// The priority rank (1 first; [`u16::MAX`] for a group no policy knows).
    pub priority_rank: u16,
    /// 0 for a resident of an outbreak province, 1 otherwise.
    pub outbreak: u8,
    /// The age band (0 the oldest).
    pub age_band: u8,
    /// HMAC-SHA256(seed, registration id).
    pub lottery: [u8; 32],
}

/// The published commitment to a round's seed: lowercase hex of SHA-256(seed).
pub fn seed_commitment(seed: &[u8]) -> String {
    hex::encode(Sha256::digest(seed))
}

/// The lottery key of `registration_id` under `seed`: HMAC-SHA256(key = seed, message = the id's UTF-8).
pub fn lottery_key(seed: &[u8], registration_id: &str) -> [u8; 32] {
    // HMAC takes a key of any length; the error arm cannot happen.
    match Hmac::<Sha256>::new_from_slice(seed) {
        Ok(mut mac) => {
            mac.update(registration_id.as_bytes());
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0xff; 32],
    }
}

/// Whole years from `dob` to `day`.
pub fn age_on(dob: Date, day: Date) -> u8 {
    let mut years = day.year().saturating_sub(dob.year());
    if (day.month() as u8, day.day()) < (dob.month() as u8, dob.day()) {
        years = years.saturating_sub(1);
    }
    u8::try_from(years.max(0)).unwrap_or(u8::MAX)
}

/// The hard filters, then the key: where `candidate` goes in the round, or why it is not in it.
///
/// # Errors
/// The first [`Exclusion`] that applies.
pub fn check(candidate: &Candidate, round: &RoundContext<'_>) -> Result<RankKey, Exclusion> {
    let own = round
        .policies
        .get(&candidate.policy_id, candidate.policy_version);
    let policy: &Policy = round
        .policies
        .in_force(round.day)
        .or(own)
        .ok_or(Exclusion::NoPolicy)?;
    if candidate.has_live_appointment {
        return Err(Exclusion::LiveAppointment);
    }
    if candidate
        .postponed_until
        .is_some_and(|until| until > round.day)
    {
        return Err(Exclusion::Postponed);
    }
    if candidate.caution && !round.hospital_grade {
        return Err(Exclusion::NeedsHospital);
    }
    let age = age_on(candidate.dob, round.day);
    if age < policy.min_age {
        return Err(Exclusion::TooYoung);
    }
    let (next_dose, overdue_days) = match &candidate.previous_dose {
        None => (1, 0),
        Some(previous) => {
            if previous.product != round.vaccine.product {
                return Err(Exclusion::OtherProduct);
            }
            if previous.dose_number >= previous.total_doses
                || previous.dose_number >= round.vaccine.series_doses
            {
                return Err(Exclusion::SeriesComplete);
            }
            let since = (round.day - previous.date).whole_days();
            let overdue = since.saturating_sub(i64::from(round.vaccine.min_interval_days));
            if overdue < 0 {
                return Err(Exclusion::TooSoon);
            }
            (0, u32::try_from(overdue).unwrap_or(u32::MAX))
        }
    };
    let priority_rank = policy
        .rank(&candidate.priority_group)
        .or_else(|| own.and_then(|own| own.rank(&candidate.priority_group)))
        .unwrap_or(u16::MAX);
    Ok(RankKey {
        next_dose,
        overdue_days: Reverse(overdue_days),
        priority_rank,
        outbreak: u8::from(!policy.is_outbreak_province(&candidate.province_code)),
        age_band: policy.age_band(age),
        lottery: lottery_key(round.seed, &candidate.registration_id),
    })
}

/// The eligible candidates' indices in `candidates` with their keys, first to go first.
pub(crate) fn rank_indices(
    candidates: &[Candidate],
    round: &RoundContext<'_>,
) -> Vec<(usize, RankKey)> {
    let mut ranked: Vec<(usize, RankKey)> = candidates
        .iter()
        .enumerate()
        .filter_map(|(i, candidate)| check(candidate, round).ok().map(|key| (i, key)))
        .collect();
    // Keys differ (the lottery key is an HMAC of distinct ids); the index only settles duplicates.
    ranked.sort_unstable_by_key(|&(i, key)| (key, i));
    ranked
}

/// The eligible candidates, first to go first, each with its key.
pub fn rank<'a>(candidates: &'a [Candidate], round: &RoundContext<'_>) -> Vec<(&'a str, RankKey)> {
    rank_indices(candidates, round)
        .into_iter()
        .filter_map(|(i, key)| {
            candidates
                .get(i)
                .map(|candidate| (candidate.registration_id.as_str(), key))
        })
        .collect()
}

/// The registrations a round of `slots` invites, first to go first.
pub fn select(candidates: &[Candidate], round: &RoundContext<'_>, slots: usize) -> Vec<String> {
    rank(candidates, round)
        .into_iter()
        .take(slots)
        .map(|(id, _)| id.to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::{
        Candidate, Exclusion, PreviousDose, RoundContext, age_on, check, lottery_key, rank,
        seed_commitment, select,
    };
    use crate::policy::PolicyBook;
    use crate::vaccines::vaccine;
    use proptest::prelude::*;
    use time::Date;
    use time::macros::date;

    const PFIZER: &str = "EU/1/20/1528";
    const SEED: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn book() -> PolicyBook {
        PolicyBook::builtin().unwrap()
    }

    fn person(id: &str, group: &str) -> Candidate {
        Candidate {
            registration_id: id.to_owned(),
            dob: date!(1980 - 05 - 01),
            priority_group: group.to_owned(),
            policy_id: "qd-3355-byt".to_owned(),
            policy_version: 1,
            province_code: "01".to_owned(),
            caution: false,
            postponed_until: None,
            previous_dose: None,
            has_live_appointment: false,
        }
    }

    fn round(book: &PolicyBook, hospital_grade: bool) -> RoundContext<'_> {
        RoundContext {
            day: date!(2021 - 09 - 14),
            vaccine: vaccine(PFIZER).unwrap(),
            hospital_grade,
            seed: SEED,
            policies: book,
        }
    }

    fn dose(product: &str, n: u8, of: u8, on: Date) -> Option<PreviousDose> {
        Some(PreviousDose {
            product: product.to_owned(),
            dose_number: n,
            total_doses: of,
            date: on,
        })
    }

    #[test]
    fn the_commitment_is_sha256_hex_and_the_lottery_an_hmac() {
        assert_eq!(
            seed_commitment(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // RFC 4231 test case 2.
        assert_eq!(
            hex::encode(lottery_key(b"Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn ages_count_whole_years() {
        assert_eq!(age_on(date!(2003 - 09 - 14), date!(2021 - 09 - 14)), 18);
        assert_eq!(age_on(date!(2003 - 09 - 15), date!(2021 - 09 - 14)), 17);
        assert_eq!(age_on(date!(2030 - 01 - 01), date!(2021 - 09 - 14)), 0);
    }

    #[test]
    fn each_hard_filter_excludes() {
        let book = book();
        let plain = round(&book, false);
        let check_one = |edit: fn(&mut Candidate), ctx: &RoundContext<'_>| {
            let mut c = person("r", "others");
            edit(&mut c);
            check(&c, ctx).err()
        };
        assert_eq!(check_one(|_| {}, &plain), None);
        assert_eq!(
            check_one(|c| c.dob = date!(2004 - 01 - 01), &plain),
            Some(Exclusion::TooYoung)
        );
        assert_eq!(
            check_one(
                |c| c.previous_dose = dose("EU/1/21/1529", 1, 2, date!(2021 - 06 - 01)),
                &plain
            ),
            Some(Exclusion::OtherProduct)
        );
        assert_eq!(
            check_one(
                |c| c.previous_dose = dose(PFIZER, 1, 2, date!(2021 - 09 - 01)),
                &plain
            ),
            Some(Exclusion::TooSoon)
        );
        assert_eq!(
            check_one(
                |c| c.previous_dose = dose(PFIZER, 2, 2, date!(2021 - 06 - 01)),
                &plain
            ),
            Some(Exclusion::SeriesComplete)
        );
        assert_eq!(
            check_one(|c| c.postponed_until = Some(date!(2021 - 09 - 15)), &plain),
            Some(Exclusion::Postponed)
        );
        assert_eq!(
            check_one(|c| c.postponed_until = Some(date!(2021 - 09 - 14)), &plain),
            None
        );
        assert_eq!(
            check_one(|c| c.caution = true, &plain),
            Some(Exclusion::NeedsHospital)
        );
        assert_eq!(check_one(|c| c.caution = true, &round(&book, true)), None);
        assert_eq!(
            check_one(|c| c.has_live_appointment = true, &plain),
            Some(Exclusion::LiveAppointment)
        );
        // Exactly the minimum interval is enough.
        assert_eq!(
            check_one(
                |c| c.previous_dose = dose(PFIZER, 1, 2, date!(2021 - 08 - 24)),
                &plain
            ),
            None
        );
    }

    #[test]
    fn a_due_second_dose_beats_rank_one_and_the_most_overdue_goes_first() {
        let book = book();
        let ctx = round(&book, false);
        let first = person("health-worker", "health-workers");
        let mut due = person("due", "others");
        due.previous_dose = dose(PFIZER, 1, 2, date!(2021 - 08 - 20));
        let mut overdue = person("overdue", "others");
        overdue.previous_dose = dose(PFIZER, 1, 2, date!(2021 - 07 - 01));
        let order = select(&[first, due, overdue], &ctx, 3);
        assert_eq!(order, ["overdue", "due", "health-worker"]);
    }

    #[test]
    fn rank_then_outbreak_then_age_then_lottery() {
        let book = book();
        let ctx = round(&book, false);
        let mut young = person("young", "others");
        young.dob = date!(2000 - 01 - 01);
        let old = person("old", "others");
        let mut outbreak = person("outbreak", "others");
        outbreak.dob = date!(2000 - 01 - 01);
        outbreak.province_code = "79".to_owned();
        let police = person("police", "army");
        // Split by Decision 3355: ranked by the registration's own policy (Resolution 21, rank 2).
        let mut old_code = person("old-code", "diplomats-customs-immigration");
        old_code.policy_id = "res-21-nq-cp".to_owned();
        let unknown = person("unknown", "astronauts");
        let people = [unknown, young, old, outbreak, police, old_code];
        let ranked = rank(&people, &ctx);
        let ids: Vec<&str> = ranked.iter().map(|(id, _)| *id).collect();
        assert_eq!(
            ids,
            ["old-code", "police", "outbreak", "old", "young", "unknown"]
        );
        // Same everything: the lottery decides, by the HMAC.
        let a = person("a", "others");
        let b = person("b", "others");
        let pair = [a, b];
        let ranked = rank(&pair, &ctx);
        let expect_a_first = lottery_key(SEED, "a") < lottery_key(SEED, "b");
        assert_eq!(ranked[0].0 == "a", expect_a_first);
        assert_ne!(ranked[0].1, ranked[1].1);
    }

    #[test]
    fn another_seed_draws_another_lottery() {
        let book = book();
        let people: Vec<Candidate> = (0..40)
            .map(|i| person(&format!("r{i}"), "others"))
            .collect();
        let one = select(&people, &round(&book, false), 10);
        let mut other_round = round(&book, false);
        other_round.seed = b"another seed";
        assert_ne!(one, select(&people, &other_round, 10));
    }

    /// A [`Candidate`] carries no registration time; even ids issued in the order people registered
    /// give the early ones no edge: of 200 equal people, the 100 slots do not go to the first 100.
    #[test]
    fn registering_early_is_no_advantage() {
        let book = book();
        let ctx = round(&book, false);
        let people: Vec<Candidate> = (0..200)
            .map(|i| person(&format!("{i:06}"), "others"))
            .collect();
        let chosen = select(&people, &ctx, 100);
        let early = chosen
            .iter()
            .filter(|id| id.parse::<u32>().unwrap() < 100)
            .count();
        assert!((25..=75).contains(&early), "{early} of the first 100");
    }

    fn arbitrary_candidate() -> impl Strategy<Value = Candidate> {
        (
            "[a-f0-9]{8}",
            0i32..30_000,
            prop::sample::select(vec![
                "health-workers",
                "army",
                "others",
                "diplomats-customs-immigration",
                "nobody",
            ]),
            prop::sample::select(vec!["01", "79"]),
            any::<bool>(),
            prop::option::of(0i64..120),
            prop::option::of((
                prop::sample::select(vec![PFIZER, "EU/1/21/1529"]),
                1u8..3,
                0i64..200,
            )),
            any::<bool>(),
        )
            .prop_map(
                |(id, days, group, province, caution, postponed, previous, live)| {
                    let day = date!(2021 - 09 - 14);
                    let mut c = person(&id, group);
                    c.dob = date!(1940 - 01 - 01) + time::Duration::days(i64::from(days));
                    c.province_code = province.to_owned();
                    c.caution = caution;
                    c.postponed_until =
                        postponed.map(|d| day - time::Duration::days(60) + time::Duration::days(d));
                    c.previous_dose = previous.and_then(|(product, n, ago)| {
                        dose(product, n, 2, day - time::Duration::days(ago))
                    });
                    c.has_live_appointment = live && days % 3 == 0;
                    c
                },
            )
    }

    proptest! {
        /// The order people arrive in (which is all the registration time could tell) changes nothing.
        #[test]
        fn reordering_the_input_never_changes_the_selection(
            people in prop::collection::vec(arbitrary_candidate(), 0..60),
            shuffle in any::<u64>(),
            slots in 0usize..40,
        ) {
            // Unique ids, as registrations have.
            let mut people = people;
            let mut seen = std::collections::HashSet::new();
            people.retain(|c| seen.insert(c.registration_id.clone()));
            let book = book();
            let ctx = round(&book, false);
            let mut shuffled = people.clone();
            let mut state = shuffle | 1;
            for i in (1..shuffled.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let j = usize::try_from(state % (i as u64 + 1)).unwrap();
                shuffled.swap(i, j);
            }
            prop_assert_eq!(select(&people, &ctx, slots), select(&shuffled, &ctx, slots));
            // The selection is a prefix of the full ranking, and only eligible people are in it.
            let all = select(&people, &ctx, usize::MAX);
            let some = select(&people, &ctx, slots);
            prop_assert_eq!(&all[..some.len()], &some[..]);
            for id in &all {
                let c = people.iter().find(|c| &c.registration_id == id).unwrap();
                prop_assert!(check(c, &ctx).is_ok());
            }
        }
    }
}
