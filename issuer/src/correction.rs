//! Corrections: when a dose confirmation may supersede (correct) another dose event.
//!
//! A correction (`supersedes_dose_event_id`) revokes the certificates of the dose event it names and
//! issues a new one. It is accepted only when all of these hold, checked in this order and, for the
//! last, atomically in the recording transaction:
//!
//! 1. the superseded dose event is recorded, and is not the correcting one itself;
//! 2. the sender confirmed the superseded dose event itself, or may correct any dose event (an API
//!    client with the `correct` scope, or the operator's bulk issuance);
//! 3. it is the same person ([`same_person`]);
//! 4. no other correction superseded that dose event before: of concurrent corrections of one dose
//!    event exactly one is recorded.

use serde::Deserialize;

use crate::ledger::{CorrectionRefusal, CorrectionRights};

/// The superseded dose event as the ledger recorded it.
pub(crate) struct Recorded<'a> {
    /// The client that confirmed it.
    pub(crate) confirmed_by: Option<&'a str>,
    /// Its request as stored (canonical JSON).
    pub(crate) request_json: &'a str,
}

/// Rules 1 to 3 for a correction from `actor` holding `rights`, whose holder was born `correction_dob`,
/// of the dose event `superseded` (`None` when unknown or the correcting one itself): the first rule
/// broken, or `None`. Rule 4 is the caller's (the ledger applies it atomically).
pub(crate) fn refusal(
    superseded: Option<Recorded<'_>>,
    actor: &str,
    rights: CorrectionRights,
    correction_dob: Option<&str>,
) -> Option<CorrectionRefusal> {
    let Some(superseded) = superseded else {
        return Some(CorrectionRefusal::UnknownDoseEvent);
    };
    if rights == CorrectionRights::OwnOnly && superseded.confirmed_by != Some(actor) {
        return Some(CorrectionRefusal::OtherClient);
    }
    let same = recorded_dob(superseded.request_json)
        .zip(correction_dob)
        .is_some_and(|(recorded, correction)| same_person(&recorded, correction));
    if !same {
        return Some(CorrectionRefusal::DifferentPerson);
    }
    None
}

/// Whether the holder of a correction is the holder of the dose event it supersedes, as far as the
/// ledger can tell: their dates of birth agree on every part both give (`1983` agrees with `1983-10`
/// and `1983-10-10`; `1983-10-10` does not agree with `1983-10-11` nor `1984`).
///
/// Names are not compared: fixing a misspelt name is what corrections are for. The national id number
/// is not compared either: the ledger does not keep it (only what re-signing needs), so there is
/// nothing to compare a correction's with. A wrong date of birth is therefore not corrected by
/// superseding: revoke the certificate (`issued-in-error`) and confirm the dose again without
/// `supersedes_dose_event_id`.
pub fn same_person(superseded_dob: &str, correction_dob: &str) -> bool {
    let superseded = superseded_dob.split('-');
    let correction = correction_dob.split('-');
    !superseded_dob.is_empty()
        && !correction_dob.is_empty()
        && superseded.zip(correction).all(|(a, b)| a == b)
}

/// The `person.dob` of a request as the ledger keeps it (canonical JSON), if it has one.
pub(crate) fn recorded_dob(request_json: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Request {
        person: Holder,
    }
    #[derive(Deserialize)]
    struct Holder {
        dob: String,
    }
    serde_json::from_str::<Request>(request_json)
        .ok()
        .map(|request| request.person.dob)
}

#[cfg(test)]
mod tests {
    use super::{recorded_dob, same_person};

    #[test]
    fn dates_of_birth_agree_on_every_part_both_give() {
        assert!(same_person("1983-10-10", "1983-10-10"));
        assert!(same_person("1983", "1983-10-10"));
        assert!(same_person("1983-10-10", "1983-10"));
        assert!(!same_person("1983-10-10", "1983-10-11"));
        assert!(!same_person("1983-10", "1983-11-10"));
        assert!(!same_person("1983", "1984-10-10"));
        assert!(!same_person("", "1983"));
        assert!(!same_person("1983", ""));
    }

    #[test]
    fn the_recorded_date_of_birth_is_read_from_the_stored_request() {
        let json = r#"{"dose_event_id":"e1","person":{"dob":"1983-10","fn":"Nguyễn"},"x":1}"#;
        assert_eq!(recorded_dob(json).as_deref(), Some("1983-10"));
        assert_eq!(recorded_dob(r#"{"person":{}}"#), None);
        assert_eq!(recorded_dob("not json"), None);
    }
}
