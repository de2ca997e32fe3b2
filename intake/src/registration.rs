//! The registration form and its validation (`domain.md`, Registration): pure, the day passed in.
//!
//! A [`RegistrationForm`] is what a person (or an organisation's CSV row, [`crate::staff_csv`]) sends;
//! [`validate`] turns it into a [`ValidRegistration`] — the only way to make one — or names the first
//! field at fault in a [`FieldError`] whose message is a fixed English text that never quotes the input.
//! Every string is NFC-normalised and trimmed before it is checked, and no field may hold control or
//! direction-changing (bidi) characters.

use std::collections::BTreeMap;

use serde::Deserialize;
use time::Date;
use time::macros::{date, format_description};
use unicode_normalization::UnicodeNormalization as _;
use unicode_normalization::char::is_combining_mark;

use crate::policy::PolicyBook;

/// The items of the medical-history declaration, after the Ministry of Health's pre-vaccination
/// screening form (Decision 2995/QĐ-BYT, 2021): every one must be answered `yes`, `no` or `unknown`.
pub const MEDICAL_ITEMS: &[&str] = &[
    "severe_allergy",
    "previous_dose_reaction",
    "immunodeficiency_or_chemotherapy",
    "pregnant",
    "acute_illness",
    "chronic_disease",
    "bleeding_disorder_or_anticoagulants",
    "covid_last_6_months",
];

/// The registration form as sent: strings as typed, checked by [`validate`].
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationForm {
    /// The person's full name.
    pub full_name: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub dob: String,
    /// `male`, `female` or `other`.
    pub sex: String,
    /// `citizen_id`, `old_id` or `passport`.
    pub id_kind: String,
    /// The identity document's number.
    pub id_number: String,
    /// The person's occupation, as they describe it.
    pub occupation: String,
    /// Where the person lives.
    pub address: AddressForm,
    /// A group code of the policy in force (`health-workers`, …): the declared group.
    pub priority_group: String,
    /// The code of the site the person prefers.
    pub preferred_site: String,
    /// A preferred day, `YYYY-MM-DD`, not in the past.
    #[serde(default)]
    pub preferred_date: Option<String>,
    /// Health-insurance card number: 2 letters and 13 digits.
    #[serde(default)]
    pub health_insurance: Option<String>,
    /// Ethnicity, as the person writes it.
    #[serde(default)]
    pub ethnicity: Option<String>,
    /// Nationality, ISO 3166-1 alpha-2.
    #[serde(default)]
    pub nationality: Option<String>,
    /// Every item of [`MEDICAL_ITEMS`] → `yes`, `no` or `unknown`.
    pub medical_history: BTreeMap<String, String>,
    /// The person consents to vaccination and to the processing of these data: must be `true`.
    pub consent: bool,
}

impl std::fmt::Debug for RegistrationForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrationForm").finish_non_exhaustive()
    }
}

/// The address part of the form: administrative codes and the scheme they belong to.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressForm {
    /// The province's code: 2 digits.
    pub province_code: String,
    /// The commune's code: 5 digits.
    pub commune_code: String,
    /// The administrative map the codes belong to: `2021` or `2025` (the map changed in 2025).
    pub admin_scheme: String,
}

impl std::fmt::Debug for AddressForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddressForm").finish_non_exhaustive()
    }
}

/// A field at fault: its JSON path and a fixed message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The JSON path of the field, e.g. `address.province_code` or `medical_history.pregnant`.
    pub field: String,
    /// What is wrong, in English; never quotes the value.
    pub message: &'static str,
}

impl FieldError {
    fn new(field: &str, message: &'static str) -> FieldError {
        FieldError {
            field: field.to_owned(),
            message,
        }
    }
}

/// Sex as registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sex {
    /// `male`.
    Male,
    /// `female`.
    Female,
    /// `other`.
    Other,
}

impl Sex {
    /// As stored: `male`, `female`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
            Sex::Other => "other",
        }
    }
}

/// The kind of identity document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum IdKind {
    /// The 12-digit citizen identity card (CCCD).
    CitizenId,
    /// The old 9-digit identity card (CMND).
    OldId,
    /// A passport.
    Passport,
}

impl IdKind {
    /// As stored: `citizen_id`, `old_id`, `passport`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdKind::CitizenId => "citizen_id",
            IdKind::OldId => "old_id",
            IdKind::Passport => "passport",
        }
    }
}

/// An answer of the medical-history declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answer {
    /// `yes`.
    Yes,
    /// `no`.
    No,
    /// `unknown`.
    Unknown,
}

impl Answer {
    /// As stored: `yes`, `no`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Answer::Yes => "yes",
            Answer::No => "no",
            Answer::Unknown => "unknown",
        }
    }
}

/// A validated address.
#[derive(Clone, PartialEq, Eq)]
pub struct Address {
    /// 2 digits.
    pub province_code: String,
    /// 5 digits.
    pub commune_code: String,
    /// `2021` or `2025`.
    pub admin_scheme: String,
}

impl std::fmt::Debug for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Address")
            .field("admin_scheme", &self.admin_scheme)
            .finish_non_exhaustive()
    }
}

/// A registration that passed [`validate`]; only [`validate`] makes one (the struct is
/// `non_exhaustive`). Strings are NFC and trimmed.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidRegistration {
    /// Full name.
    pub full_name: String,
    /// Date of birth.
    pub dob: Date,
    /// Sex.
    pub sex: Sex,
    /// The identity document's kind.
    pub id_kind: IdKind,
    /// The identity document's number (passport letters upper-case).
    pub id_number: String,
    /// Occupation.
    pub occupation: String,
    /// Address.
    pub address: Address,
    /// The declared priority group's code (a group of the policy in force).
    pub priority_group: String,
    /// The preferred site's code.
    pub preferred_site: String,
    /// The preferred day.
    pub preferred_date: Option<Date>,
    /// Health-insurance number, letters upper-case.
    pub health_insurance: Option<String>,
    /// Ethnicity.
    pub ethnicity: Option<String>,
    /// Nationality, upper-case alpha-2.
    pub nationality: Option<String>,
    /// Every item of [`MEDICAL_ITEMS`], in that order, with its answer.
    pub medical_history: Vec<(&'static str, Answer)>,
    /// The policy in force on the day of validation.
    pub policy_id: String,
    /// Its version.
    pub policy_version: u32,
    /// A severe allergy or a reaction to a previous dose: only hospital-grade sites may take the person.
    pub caution: bool,
}

impl std::fmt::Debug for ValidRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidRegistration")
            .field("policy_id", &self.policy_id)
            .field("policy_version", &self.policy_version)
            .finish_non_exhaustive()
    }
}

impl ValidRegistration {
    /// The medical history as a JSON object (item → answer), as stored.
    pub fn medical_history_json(&self) -> String {
        let map: serde_json::Map<String, serde_json::Value> = self
            .medical_history
            .iter()
            .map(|(item, answer)| ((*item).to_owned(), answer.as_str().into()))
            .collect();
        serde_json::Value::Object(map).to_string()
    }
}

/// The earliest date of birth accepted.
const EARLIEST_DOB: Date = date!(1900 - 01 - 01);

/// Checks `form` against the rules and the policy in force on `today`.
///
/// # Errors
/// The first [`FieldError`], in the order of the form's fields.
pub fn validate(
    form: &RegistrationForm,
    today: Date,
    policies: &PolicyBook,
) -> Result<ValidRegistration, FieldError> {
    let policy = policies
        .in_force(today)
        .ok_or_else(|| FieldError::new("priority_group", "no priority policy is in force today"))?;

    let full_name = clean("full_name", &form.full_name)?;
    check_name(&full_name)?;

    let dob_text = clean("dob", &form.dob)?;
    let dob = parse_day(&dob_text)
        .ok_or_else(|| FieldError::new("dob", "must be a real date written YYYY-MM-DD"))?;
    if dob > today {
        return Err(FieldError::new("dob", "must not be in the future"));
    }
    if dob < EARLIEST_DOB {
        return Err(FieldError::new("dob", "must not be before 1900"));
    }
    if age_on(dob, today) < i32::from(policy.min_age) {
        return Err(FieldError::new(
            "dob",
            "the person is younger than the policy in force vaccinates",
        ));
    }

    let sex = match clean("sex", &form.sex)?.as_str() {
        "male" => Sex::Male,
        "female" => Sex::Female,
        "other" => Sex::Other,
        _ => return Err(FieldError::new("sex", "must be male, female or other")),
    };

    let id_kind = match clean("id_kind", &form.id_kind)?.as_str() {
        "citizen_id" => IdKind::CitizenId,
        "old_id" => IdKind::OldId,
        "passport" => IdKind::Passport,
        _ => {
            return Err(FieldError::new(
                "id_kind",
                "must be citizen_id, old_id or passport",
            ));
        }
    };
    let id_number = check_id_number(id_kind, &clean("id_number", &form.id_number)?)?;

    let occupation = clean("occupation", &form.occupation)?;
    check_free_text("occupation", &occupation, 1, 100)?;

    let province_code = clean("address.province_code", &form.address.province_code)?;
    if !is_digits(&province_code, 2) {
        return Err(FieldError::new("address.province_code", "must be 2 digits"));
    }
    let commune_code = clean("address.commune_code", &form.address.commune_code)?;
    if !is_digits(&commune_code, 5) {
        return Err(FieldError::new("address.commune_code", "must be 5 digits"));
    }
    let admin_scheme = clean("address.admin_scheme", &form.address.admin_scheme)?;
    if admin_scheme != "2021" && admin_scheme != "2025" {
        return Err(FieldError::new(
            "address.admin_scheme",
            "must be 2021 or 2025",
        ));
    }

    let priority_group = clean("priority_group", &form.priority_group)?;
    if policy.group(&priority_group).is_none() {
        return Err(FieldError::new(
            "priority_group",
            "is not a group of the priority policy in force",
        ));
    }

    let preferred_site = clean("preferred_site", &form.preferred_site)?;
    let site_ok = (1..=32).contains(&preferred_site.len())
        && preferred_site
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
    if !site_ok {
        return Err(FieldError::new(
            "preferred_site",
            "must be a site code (upper-case letters, digits and hyphens)",
        ));
    }

    let preferred_date = match optional("preferred_date", form.preferred_date.as_deref())? {
        None => None,
        Some(text) => {
            let day = parse_day(&text).ok_or_else(|| {
                FieldError::new("preferred_date", "must be a real date written YYYY-MM-DD")
            })?;
            if day < today {
                return Err(FieldError::new("preferred_date", "must not be in the past"));
            }
            Some(day)
        }
    };

    let health_insurance = match optional("health_insurance", form.health_insurance.as_deref())? {
        None => None,
        Some(text) => {
            let text = text.to_ascii_uppercase();
            let bytes = text.as_bytes();
            let ok = bytes.len() == 15
                && bytes.iter().take(2).all(u8::is_ascii_uppercase)
                && bytes.iter().skip(2).all(u8::is_ascii_digit);
            if !ok {
                return Err(FieldError::new(
                    "health_insurance",
                    "must be 2 letters followed by 13 digits",
                ));
            }
            Some(text)
        }
    };

    let ethnicity = match optional("ethnicity", form.ethnicity.as_deref())? {
        None => None,
        Some(text) => {
            check_free_text("ethnicity", &text, 1, 40)?;
            Some(text)
        }
    };

    let nationality = match optional("nationality", form.nationality.as_deref())? {
        None => None,
        Some(text) => {
            let text = text.to_ascii_uppercase();
            if text.len() != 2 || !text.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(FieldError::new(
                    "nationality",
                    "must be a 2-letter country code",
                ));
            }
            Some(text)
        }
    };

    if form
        .medical_history
        .keys()
        .any(|item| !MEDICAL_ITEMS.contains(&item.as_str()))
    {
        return Err(FieldError::new(
            "medical_history",
            "holds an item that is not on the screening form",
        ));
    }
    let mut medical_history = Vec::with_capacity(MEDICAL_ITEMS.len());
    for &item in MEDICAL_ITEMS {
        let field = format!("medical_history.{item}");
        let answer = match form.medical_history.get(item) {
            None => {
                return Err(FieldError {
                    field,
                    message: "must be answered",
                });
            }
            Some(text) => match text.trim() {
                "yes" => Answer::Yes,
                "no" => Answer::No,
                "unknown" => Answer::Unknown,
                _ => {
                    return Err(FieldError {
                        field,
                        message: "must be yes, no or unknown",
                    });
                }
            },
        };
        medical_history.push((item, answer));
    }
    let caution = medical_history.iter().any(|(item, answer)| {
        *answer == Answer::Yes && matches!(*item, "severe_allergy" | "previous_dose_reaction")
    });

    if !form.consent {
        return Err(FieldError::new("consent", "must be given"));
    }

    Ok(ValidRegistration {
        full_name,
        dob,
        sex,
        id_kind,
        id_number,
        occupation,
        address: Address {
            province_code,
            commune_code,
            admin_scheme,
        },
        priority_group,
        preferred_site,
        preferred_date,
        health_insurance,
        ethnicity,
        nationality,
        medical_history,
        policy_id: policy.id.clone(),
        policy_version: policy.version,
        caution,
    })
}

/// A Vietnamese mobile number in E.164: `0912345678`, `+84 912 345 678`, `+84-912.345.678` →
/// `+84912345678`. Accepted: +84 followed by 9 digits, the first 3, 5, 7, 8 or 9.
///
/// # Errors
/// A [`FieldError`] on `phone`.
pub fn normalise_phone(text: &str) -> Result<String, FieldError> {
    let invalid = || FieldError::new("phone", "must be a Vietnamese mobile number");
    if text.len() > 32 {
        return Err(invalid());
    }
    let compact: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.'))
        .collect();
    let national = if let Some(rest) = compact.strip_prefix("+84") {
        rest
    } else if let Some(rest) = compact.strip_prefix('0') {
        rest
    } else {
        return Err(invalid());
    };
    let first_ok = national
        .bytes()
        .next()
        .is_some_and(|b| matches!(b, b'3' | b'5' | b'7' | b'8' | b'9'));
    if !first_ok || !is_digits(national, 9) {
        return Err(invalid());
    }
    Ok(format!("+84{national}"))
}

/// Age in whole years on `today`.
pub fn age_on(dob: Date, today: Date) -> i32 {
    let years = today.year().saturating_sub(dob.year());
    let before_birthday =
        (u8::from(today.month()), today.day()) < (u8::from(dob.month()), dob.day());
    if before_birthday {
        years.saturating_sub(1)
    } else {
        years
    }
}

/// A `YYYY-MM-DD` day.
pub(crate) fn parse_day(text: &str) -> Option<Date> {
    if text.len() != 10 {
        return None;
    }
    Date::parse(text, format_description!("[year]-[month]-[day]")).ok()
}

/// `text` NFC-normalised and trimmed, refused if it holds control or bidi characters or is too long to
/// be a field.
fn clean(field: &str, text: &str) -> Result<String, FieldError> {
    if text.len() > 1024 {
        return Err(FieldError::new(field, "is too long"));
    }
    let text: String = text.nfc().collect::<String>().trim().to_owned();
    if text.chars().any(is_forbidden_char) {
        return Err(FieldError::new(
            field,
            "must not contain control or text-direction characters",
        ));
    }
    if text.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    Ok(text)
}

/// An optional field: absent or empty is `None`.
fn optional(field: &str, text: Option<&str>) -> Result<Option<String>, FieldError> {
    match text {
        None => Ok(None),
        Some(text) if text.trim().is_empty() => Ok(None),
        Some(text) => clean(field, text).map(Some),
    }
}

/// Control characters, bidi embeddings, overrides, isolates and marks, zero-width characters and the
/// byte-order mark.
fn is_forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// A name: 2 to 80 characters, letters of any script (with their combining marks), single spaces,
/// apostrophes and hyphens, starting with a letter.
fn check_name(name: &str) -> Result<(), FieldError> {
    let count = name.chars().count();
    if !(2..=80).contains(&count) {
        return Err(FieldError::new(
            "full_name",
            "must be 2 to 80 characters long",
        ));
    }
    let allowed =
        |c: char| c.is_alphabetic() || is_combining_mark(c) || matches!(c, ' ' | '\'' | '’' | '-');
    let starts_with_letter = name.chars().next().is_some_and(char::is_alphabetic);
    if !name.chars().all(allowed) || !starts_with_letter || name.contains("  ") {
        return Err(FieldError::new(
            "full_name",
            "may contain only letters, single spaces, apostrophes and hyphens",
        ));
    }
    Ok(())
}

/// Free text (occupation, ethnicity): `min..=max` characters, no `<`, `>` or backslash.
fn check_free_text(field: &str, text: &str, min: usize, max: usize) -> Result<(), FieldError> {
    if !(min..=max).contains(&text.chars().count()) {
        return Err(FieldError::new(field, "is too long"));
    }
    if text.chars().any(|c| matches!(c, '<' | '>' | '\\')) {
        return Err(FieldError::new(
            field,
            "contains characters that are not allowed",
        ));
    }
    Ok(())
}

/// The document number for its kind: citizen ID 12 digits, old ID 9 digits, passport 1 upper-case
/// letter and 7 digits (Vietnamese) or 6 to 9 letters and digits (foreign); passport letters upper-cased.
fn check_id_number(kind: IdKind, text: &str) -> Result<String, FieldError> {
    match kind {
        IdKind::CitizenId if is_digits(text, 12) => Ok(text.to_owned()),
        IdKind::CitizenId => Err(FieldError::new(
            "id_number",
            "a citizen ID has exactly 12 digits",
        )),
        IdKind::OldId if is_digits(text, 9) => Ok(text.to_owned()),
        IdKind::OldId => Err(FieldError::new(
            "id_number",
            "an old ID card number has exactly 9 digits",
        )),
        IdKind::Passport => {
            let upper = text.to_ascii_uppercase();
            // A Vietnamese passport (one letter, 7 digits) is a case of the general rule.
            let ok = (6..=9).contains(&upper.len())
                && upper
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            if ok {
                Ok(upper)
            } else {
                Err(FieldError::new(
                    "id_number",
                    "a passport number has 6 to 9 letters and digits",
                ))
            }
        }
    }
}

fn is_digits(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::{
        AddressForm, Answer, FieldError, IdKind, MEDICAL_ITEMS, RegistrationForm, age_on,
        normalise_phone, validate,
    };
    use crate::policy::PolicyBook;
    use proptest::prelude::*;
    use time::macros::date;

    const TODAY: time::Date = date!(2021 - 08 - 01);

    /// A form that passes.
    pub(crate) fn good_form() -> RegistrationForm {
        RegistrationForm {
            full_name: "Nguyễn Thị Ánh Tuyết".into(),
            dob: "1960-05-17".into(),
            sex: "female".into(),
            id_kind: "citizen_id".into(),
            id_number: "001160012345".into(),
            occupation: "Giáo viên".into(),
            address: AddressForm {
                province_code: "01".into(),
                commune_code: "00004".into(),
                admin_scheme: "2021".into(),
            },
            priority_group: "teachers-public-facing".into(),
            preferred_site: "HN-0001".into(),
            preferred_date: None,
            health_insurance: None,
            ethnicity: None,
            nationality: None,
            medical_history: MEDICAL_ITEMS
                .iter()
                .map(|item| ((*item).to_owned(), "no".to_owned()))
                .collect(),
            consent: true,
        }
    }

    fn book() -> PolicyBook {
        PolicyBook::builtin().unwrap()
    }

    /// `change` applied to a good form fails on `field`.
    fn check(field: &str, change: impl FnOnce(&mut RegistrationForm)) {
        let mut form = good_form();
        change(&mut form);
        match validate(&form, TODAY, &book()) {
            Ok(_) => panic!("expected {field} to be refused"),
            Err(error) => assert_eq!(error.field, field, "{error}"),
        }
    }

    fn passes(change: impl FnOnce(&mut RegistrationForm)) -> super::ValidRegistration {
        let mut form = good_form();
        change(&mut form);
        validate(&form, TODAY, &book()).unwrap()
    }

    #[test]
    fn the_group_code_exists_in_the_policy_in_force() {
        let policy = book();
        let policy = policy.in_force(TODAY).unwrap();
        assert!(policy.group(&good_form().priority_group).is_some());
    }

    #[test]
    fn a_good_form_passes_with_the_policy_in_force_and_normalised_strings() {
        let valid = passes(|form| {
            // Decomposed (NFD) letters and surrounding spaces.
            form.full_name = "  Nguye\u{0302}\u{0303}n Văn An ".into();
            form.id_kind = "passport".into();
            form.id_number = "c1234567".into();
            form.health_insurance = Some("dn4797912345678".into());
            form.nationality = Some("vn".into());
            form.preferred_date = Some("2021-08-01".into());
            form.ethnicity = Some("".into());
        });
        assert_eq!(valid.full_name, "Nguyễn Văn An");
        assert_eq!(valid.id_kind, IdKind::Passport);
        assert_eq!(valid.id_number, "C1234567");
        assert_eq!(valid.health_insurance.as_deref(), Some("DN4797912345678"));
        assert_eq!(valid.nationality.as_deref(), Some("VN"));
        assert_eq!(valid.ethnicity, None);
        assert_eq!(valid.policy_id, "qd-3355-byt");
        assert_eq!(valid.policy_version, 1);
        assert!(!valid.caution);
        assert_eq!(valid.medical_history.len(), MEDICAL_ITEMS.len());
        assert!(valid.medical_history_json().contains("\"pregnant\":\"no\""));
    }

    #[test]
    fn the_policy_is_the_one_in_force_on_the_day() {
        let mut form = good_form();
        form.priority_group = "health-workers".into();
        let valid = validate(&form, date!(2021 - 03 - 01), &book()).unwrap();
        assert_eq!(valid.policy_id, "res-21-nq-cp");
        // A code only the later decision has.
        form.priority_group = "diplomats".into();
        let error = validate(&form, date!(2021 - 03 - 01), &book()).unwrap_err();
        assert_eq!(error.field, "priority_group");
        // No policy at all before the resolution.
        assert!(validate(&form, date!(2021 - 01 - 01), &book()).is_err());
    }

    #[test]
    fn a_severe_allergy_or_a_previous_reaction_is_a_caution_case() {
        for item in ["severe_allergy", "previous_dose_reaction"] {
            let valid = passes(|form| {
                form.medical_history.insert(item.into(), "yes".into());
            });
            assert!(valid.caution, "{item}");
        }
        let valid = passes(|form| {
            form.medical_history
                .insert("severe_allergy".into(), "unknown".into());
            form.medical_history
                .insert("chronic_disease".into(), "yes".into());
        });
        assert!(!valid.caution);
        assert!(
            valid
                .medical_history
                .contains(&("chronic_disease", Answer::Yes))
        );
    }

    #[test]
    fn names() {
        for good in [
            "Lê Bá",
            "H'Hen Niê",
            "Ka-Sô Liễng",
            "Ông Thị Hương Giang",
            "Иван Петров",
            "李明",
        ] {
            passes(|form| form.full_name = good.into());
        }
        check("full_name", |form| form.full_name = "A".into());
        check("full_name", |form| form.full_name = "A".repeat(81));
        check("full_name", |form| form.full_name = "Nguyen Van 3".into());
        check("full_name", |form| form.full_name = "Nguyen  Van".into());
        check("full_name", |form| form.full_name = "<script>".into());
        check("full_name", |form| form.full_name = "-Nguyen".into());
        check("full_name", |form| {
            form.full_name = "Nguyen\u{202E}Van".into()
        });
        check("full_name", |form| {
            form.full_name = "Nguyen\u{0007}Van".into()
        });
        check("full_name", |form| {
            form.full_name = "Nguyen\u{200B}Van".into()
        });
        check("full_name", |form| form.full_name = "   ".into());
    }

    #[test]
    fn dates_of_birth() {
        passes(|form| form.dob = "2003-08-01".into());
        check("dob", |form| form.dob = "2003-08-02".into()); // 17 the day before the 18th birthday
        check("dob", |form| form.dob = "2021-08-02".into()); // future
        check("dob", |form| form.dob = "1899-12-31".into());
        check("dob", |form| form.dob = "1960-02-30".into());
        check("dob", |form| form.dob = "17/05/1960".into());
        check("dob", |form| form.dob = "1960-5-17".into());
        check("dob", |form| form.dob = "+1960-05-17".into());
    }

    #[test]
    fn age_counts_whole_years_to_the_birthday() {
        assert_eq!(age_on(date!(2000 - 02 - 29), date!(2018 - 02 - 28)), 17);
        assert_eq!(age_on(date!(2000 - 02 - 29), date!(2018 - 03 - 01)), 18);
        assert_eq!(age_on(date!(2000 - 08 - 01), date!(2021 - 08 - 01)), 21);
        assert_eq!(age_on(date!(2000 - 08 - 02), date!(2021 - 08 - 01)), 20);
    }

    #[test]
    fn identity_documents() {
        passes(|form| {
            form.id_kind = "old_id".into();
            form.id_number = "012345678".into();
        });
        passes(|form| {
            form.id_kind = "passport".into();
            form.id_number = "X9876543".into();
        });
        passes(|form| {
            form.id_kind = "passport".into();
            form.id_number = "AB12CD".into();
        });
        check("id_kind", |form| form.id_kind = "cmnd".into());
        check("id_number", |form| form.id_number = "00116001234".into());
        check("id_number", |form| form.id_number = "0011600123456".into());
        check("id_number", |form| form.id_number = "00116001234a".into());
        check("id_number", |form| {
            form.id_kind = "old_id".into();
            form.id_number = "001160012345".into();
        });
        check("id_number", |form| {
            form.id_kind = "passport".into();
            form.id_number = "C12345".replace('5', "") // 5 characters
        });
        check("id_number", |form| {
            form.id_kind = "passport".into();
            form.id_number = "C123-4567".into();
        });
        check("id_number", |form| {
            form.id_kind = "passport".into();
            form.id_number = "C12345678X".into();
        });
    }

    #[test]
    fn the_other_fields() {
        check("sex", |form| form.sex = "f".into());
        check("occupation", |form| form.occupation = "".into());
        check("occupation", |form| form.occupation = "x".repeat(101));
        check("address.province_code", |form| {
            form.address.province_code = "1".into()
        });
        check("address.province_code", |form| {
            form.address.province_code = "0a".into()
        });
        check("address.commune_code", |form| {
            form.address.commune_code = "0004".into()
        });
        check("address.admin_scheme", |form| {
            form.address.admin_scheme = "2019".into()
        });
        check("priority_group", |form| form.priority_group = "vip".into());
        check("preferred_site", |form| form.preferred_site = "hn 1".into());
        check("preferred_date", |form| {
            form.preferred_date = Some("2021-07-31".into())
        });
        check("preferred_date", |form| {
            form.preferred_date = Some("tomorrow".into())
        });
        check("health_insurance", |form| {
            form.health_insurance = Some("DN479791234567".into())
        });
        check("health_insurance", |form| {
            form.health_insurance = Some("D14797912345678".into())
        });
        check("ethnicity", |form| form.ethnicity = Some("x".repeat(41)));
        check("nationality", |form| form.nationality = Some("VNM".into()));
        check("nationality", |form| form.nationality = Some("V1".into()));
        check("medical_history.pregnant", |form| {
            form.medical_history.remove("pregnant");
        });
        check("medical_history.acute_illness", |form| {
            form.medical_history
                .insert("acute_illness".into(), "maybe".into());
        });
        check("medical_history", |form| {
            form.medical_history.insert("smoker".into(), "no".into());
        });
        check("consent", |form| form.consent = false);
    }

    #[test]
    fn messages_never_quote_the_input() {
        let mut form = good_form();
        form.id_number = "SECRET123456X".into();
        let error = validate(&form, TODAY, &book()).unwrap_err();
        assert!(!error.to_string().contains("SECRET"));
        assert!(!format!("{form:?}").contains("Tuy"));
        let valid = validate(&good_form(), TODAY, &book()).unwrap();
        assert!(!format!("{valid:?}").contains("Tuy"));
        assert!(!format!("{valid:?}").contains("001160012345"));
    }

    #[test]
    fn phones_in_the_usual_forms() {
        for text in [
            "0912345678",
            "+84912345678",
            "+84 912 345 678",
            "091-234-5678",
            " 0912.345.678 ",
        ] {
            assert_eq!(normalise_phone(text).unwrap(), "+84912345678", "{text}");
        }
        assert_eq!(normalise_phone("0388888888").unwrap(), "+84388888888");
        for bad in [
            "",
            "0212345678",
            "091234567",
            "09123456789",
            "+85912345678",
            "84912345678",
            "+84 012 345 678",
            "+84９12345678",
            "0912345a78",
            "+84+912345678",
        ] {
            let error: FieldError = normalise_phone(bad).unwrap_err();
            assert_eq!(error.field, "phone", "{bad}");
        }
    }

    proptest! {
        #[test]
        fn every_mobile_number_normalises_to_one_form(first in prop::sample::select(vec!['3', '5', '7', '8', '9']),
                                                       rest in "[0-9]{8}", spaced in any::<bool>(), plus in any::<bool>()) {
            let national = format!("{first}{rest}");
            let expected = format!("+84{national}");
            let mut text = if plus { format!("+84{national}") } else { format!("0{national}") };
            if spaced {
                text = text.chars().flat_map(|c| [c, ' ']).collect();
            }
            prop_assert_eq!(normalise_phone(&text).unwrap(), expected.clone());
            prop_assert_eq!(normalise_phone(&expected).unwrap(), expected);
        }

        #[test]
        fn normalise_phone_either_refuses_or_gives_e164(text in "\\PC{0,20}") {
            if let Ok(phone) = normalise_phone(&text) {
                prop_assert_eq!(phone.len(), 12);
                prop_assert!(phone.starts_with("+84"));
                prop_assert!(phone[1..].bytes().all(|b| b.is_ascii_digit()));
                prop_assert_eq!(normalise_phone(&phone).unwrap(), phone);
            }
        }
    }
}
