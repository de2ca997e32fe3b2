//! Pre-vaccination screening for COVID-19 (the Ministry of Health's screening checklist, Decision
//! 3802/QĐ-BYT of 2021, simplified): the person's yes / no answers and the vital signs taken at the
//! site give an outcome — eligible, caution (hospital-grade site only), postpone, or contraindicated.
//!
//! The rules, each with the reason code [`screen`] reports:
//!
//! | condition | reason | outcome |
//! |---|---|---|
//! | anaphylaxis or a severe reaction to a previous dose of the same vaccine | `reaction_previous_dose` | contraindicated |
//! | acute illness now | `acute_illness` | postpone 7 days |
//! | temperature ≥ 37.5 °C | `fever` | postpone 7 days |
//! | SpO2 < 94 % | `low_spo2` | postpone 7 days |
//! | systolic ≥ 180 or diastolic ≥ 110 mmHg | `high_blood_pressure` | postpone 7 days |
//! | pulse > 120 or < 50 /min | `abnormal_pulse` | postpone 7 days |
//! | COVID-19 in the last 6 months | `recent_covid` | postpone 90 days |
//! | a history of severe allergy or anaphylaxis (to anything else) | `severe_allergy_history` | caution |
//! | immunodeficiency or chemotherapy | `immunodeficiency` | caution |
//! | pregnancy | `pregnancy` | caution |
//! | a bleeding disorder or anticoagulants | `bleeding_disorder` | caution |
//! | a chronic disease not under control | `uncontrolled_chronic_disease` | caution |
//! | anything else the screening doctor flags | `other` | caution |
//!
//! The strongest outcome wins (contraindicated, then postpone — for the longest of its periods —, then
//! caution); every condition met is reported, in the order of the table.

use serde::{Deserialize, Serialize};

/// The person's answers to the screening checklist: `true` is "yes".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScreeningAnswers {
    /// A history of severe allergy or anaphylaxis (to a food, a drug, another vaccine).
    pub severe_allergy_history: bool,
    /// Anaphylaxis or a severe reaction to a previous dose of the same COVID-19 vaccine.
    pub reaction_previous_dose: bool,
    /// An acute illness or fever now.
    pub acute_illness: bool,
    /// Immunodeficiency, or chemotherapy / immunosuppressants.
    pub immunodeficiency: bool,
    /// Pregnant.
    pub pregnancy: bool,
    /// COVID-19 within the last 6 months.
    pub covid_last_6_months: bool,
    /// A bleeding disorder, or taking anticoagulants.
    pub bleeding_disorder: bool,
    /// A chronic disease that is not under control.
    pub uncontrolled_chronic_disease: bool,
    /// Anything else the screening doctor judges needs a hospital.
    pub other: bool,
}

/// The vital signs taken at the site.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VitalSigns {
    /// Body temperature, °C.
    pub temperature_c: f64,
    /// Pulse, beats per minute.
    pub pulse: u16,
    /// Systolic blood pressure, mmHg.
    pub systolic: u16,
    /// Diastolic blood pressure, mmHg.
    pub diastolic: u16,
    /// Oxygen saturation, %.
    pub spo2: u8,
}

/// A vital sign outside what a living person at a vaccination site can measure: the entry is a typo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScreeningError {
    /// The value of `field` (`vitals.pulse`, …) is outside its plausible range.
    #[error("{field} is outside the plausible range")]
    OutOfRange {
        /// The JSON path of the field.
        field: &'static str,
    },
}

impl ScreeningError {
    /// The JSON path of the field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            ScreeningError::OutOfRange { field } => field,
        }
    }
}

impl VitalSigns {
    /// Checks every value is plausible: temperature 30–45 °C, pulse 20–250, systolic 50–300, diastolic
    /// 20–200 and below the systolic, SpO2 50–100 %.
    ///
    /// # Errors
    /// [`ScreeningError::OutOfRange`] naming the first implausible field.
    pub fn check(&self) -> Result<(), ScreeningError> {
        let out = |field| Err(ScreeningError::OutOfRange { field });
        if !(self.temperature_c.is_finite() && (30.0..=45.0).contains(&self.temperature_c)) {
            return out("vitals.temperature_c");
        }
        if !(20..=250).contains(&self.pulse) {
            return out("vitals.pulse");
        }
        if !(50..=300).contains(&self.systolic) {
            return out("vitals.systolic");
        }
        if !(20..=200).contains(&self.diastolic) || self.diastolic >= self.systolic {
            return out("vitals.diastolic");
        }
        if !(50..=100).contains(&self.spo2) {
            return out("vitals.spo2");
        }
        Ok(())
    }
}

/// What the screening decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Vaccinate now.
    Eligible,
    /// Vaccinate only at a hospital-grade site (emergency care at hand).
    Caution,
    /// Not today: come back after `days` days.
    Postpone {
        /// Days from today before the person may be invited again.
        days: u16,
    },
    /// Never this vaccine.
    Contraindicated,
}

impl Outcome {
    /// `eligible`, `caution`, `postpone` or `contraindicated`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Eligible => "eligible",
            Outcome::Caution => "caution",
            Outcome::Postpone { .. } => "postpone",
            Outcome::Contraindicated => "contraindicated",
        }
    }
}

/// The outcome and every rule that led to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screening {
    /// The outcome.
    pub outcome: Outcome,
    /// The reason codes of the module's table, in its order; empty when eligible.
    pub reasons: Vec<&'static str>,
}

/// Days a postponement for an acute condition or abnormal vital sign lasts.
pub const SHORT_POSTPONEMENT_DAYS: u16 = 7;
/// Days a postponement after COVID-19 lasts.
pub const COVID_POSTPONEMENT_DAYS: u16 = 90;

/// Fever from this temperature, °C.
const FEVER_C: f64 = 37.5;

/// Applies the rules of the module's table.
///
/// # Errors
/// [`ScreeningError`] when a vital sign is implausible ([`VitalSigns::check`]).
pub fn screen(
    answers: &ScreeningAnswers,
    vitals: &VitalSigns,
) -> Result<Screening, ScreeningError> {
    vitals.check()?;
    let mut reasons = Vec::new();
    let mut contraindicated = false;
    let mut postpone: Option<u16> = None;
    let mut caution = false;
    let mut postpone_for = |reasons: &mut Vec<&'static str>, reason, days: u16| {
        reasons.push(reason);
        postpone = Some(postpone.map_or(days, |d| d.max(days)));
    };
    if answers.reaction_previous_dose {
        reasons.push("reaction_previous_dose");
        contraindicated = true;
    }
    if answers.acute_illness {
        postpone_for(&mut reasons, "acute_illness", SHORT_POSTPONEMENT_DAYS);
    }
    if vitals.temperature_c >= FEVER_C {
        postpone_for(&mut reasons, "fever", SHORT_POSTPONEMENT_DAYS);
    }
    if vitals.spo2 < 94 {
        postpone_for(&mut reasons, "low_spo2", SHORT_POSTPONEMENT_DAYS);
    }
    if vitals.systolic >= 180 || vitals.diastolic >= 110 {
        postpone_for(&mut reasons, "high_blood_pressure", SHORT_POSTPONEMENT_DAYS);
    }
    if vitals.pulse > 120 || vitals.pulse < 50 {
        postpone_for(&mut reasons, "abnormal_pulse", SHORT_POSTPONEMENT_DAYS);
    }
    if answers.covid_last_6_months {
        postpone_for(&mut reasons, "recent_covid", COVID_POSTPONEMENT_DAYS);
    }
    for (yes, reason) in [
        (answers.severe_allergy_history, "severe_allergy_history"),
        (answers.immunodeficiency, "immunodeficiency"),
        (answers.pregnancy, "pregnancy"),
        (answers.bleeding_disorder, "bleeding_disorder"),
        (
            answers.uncontrolled_chronic_disease,
            "uncontrolled_chronic_disease",
        ),
        (answers.other, "other"),
    ] {
        if yes {
            reasons.push(reason);
            caution = true;
        }
    }
    let outcome = if contraindicated {
        Outcome::Contraindicated
    } else if let Some(days) = postpone {
        Outcome::Postpone { days }
    } else if caution {
        Outcome::Caution
    } else {
        Outcome::Eligible
    };
    Ok(Screening { outcome, reasons })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{Outcome, ScreeningAnswers, VitalSigns, screen};

    fn normal() -> VitalSigns {
        VitalSigns {
            temperature_c: 36.8,
            pulse: 78,
            systolic: 120,
            diastolic: 80,
            spo2: 98,
        }
    }

    fn check(answers: ScreeningAnswers, vitals: VitalSigns, outcome: Outcome, reasons: &[&str]) {
        let screening = screen(&answers, &vitals).unwrap();
        assert_eq!(screening.outcome, outcome, "{answers:?} {vitals:?}");
        assert_eq!(screening.reasons, reasons, "{answers:?} {vitals:?}");
    }

    const NO: ScreeningAnswers = ScreeningAnswers {
        severe_allergy_history: false,
        reaction_previous_dose: false,
        acute_illness: false,
        immunodeficiency: false,
        pregnancy: false,
        covid_last_6_months: false,
        bleeding_disorder: false,
        uncontrolled_chronic_disease: false,
        other: false,
    };

    #[test]
    fn all_no_and_normal_vitals_is_eligible() {
        check(NO, normal(), Outcome::Eligible, &[]);
    }

    #[test]
    fn a_reaction_to_a_previous_dose_contraindicates_and_outranks_everything() {
        let answers = ScreeningAnswers {
            reaction_previous_dose: true,
            ..NO
        };
        check(
            answers,
            normal(),
            Outcome::Contraindicated,
            &["reaction_previous_dose"],
        );
        let everything = ScreeningAnswers {
            reaction_previous_dose: true,
            acute_illness: true,
            pregnancy: true,
            ..NO
        };
        check(
            everything,
            normal(),
            Outcome::Contraindicated,
            &["reaction_previous_dose", "acute_illness", "pregnancy"],
        );
    }

    #[test]
    fn each_caution_condition_alone_gives_caution() {
        let cases: [(ScreeningAnswers, &str); 6] = [
            (
                ScreeningAnswers {
                    severe_allergy_history: true,
                    ..NO
                },
                "severe_allergy_history",
            ),
            (
                ScreeningAnswers {
                    immunodeficiency: true,
                    ..NO
                },
                "immunodeficiency",
            ),
            (
                ScreeningAnswers {
                    pregnancy: true,
                    ..NO
                },
                "pregnancy",
            ),
            (
                ScreeningAnswers {
                    bleeding_disorder: true,
                    ..NO
                },
                "bleeding_disorder",
            ),
            (
                ScreeningAnswers {
                    uncontrolled_chronic_disease: true,
                    ..NO
                },
                "uncontrolled_chronic_disease",
            ),
            (ScreeningAnswers { other: true, ..NO }, "other"),
        ];
        for (answers, reason) in cases {
            check(answers, normal(), Outcome::Caution, &[reason]);
        }
    }

    #[test]
    fn acute_illness_and_fever_postpone_a_week() {
        let ill = ScreeningAnswers {
            acute_illness: true,
            ..NO
        };
        check(
            ill,
            normal(),
            Outcome::Postpone { days: 7 },
            &["acute_illness"],
        );
        let fever = VitalSigns {
            temperature_c: 37.5,
            ..normal()
        };
        check(NO, fever, Outcome::Postpone { days: 7 }, &["fever"]);
        let almost = VitalSigns {
            temperature_c: 37.4,
            ..normal()
        };
        check(NO, almost, Outcome::Eligible, &[]);
    }

    #[test]
    fn abnormal_vital_signs_postpone_a_week_at_their_thresholds() {
        let week = Outcome::Postpone { days: 7 };
        check(
            NO,
            VitalSigns {
                spo2: 93,
                ..normal()
            },
            week,
            &["low_spo2"],
        );
        check(
            NO,
            VitalSigns {
                spo2: 94,
                ..normal()
            },
            Outcome::Eligible,
            &[],
        );
        check(
            NO,
            VitalSigns {
                systolic: 180,
                ..normal()
            },
            week,
            &["high_blood_pressure"],
        );
        check(
            NO,
            VitalSigns {
                systolic: 179,
                diastolic: 109,
                ..normal()
            },
            Outcome::Eligible,
            &[],
        );
        check(
            NO,
            VitalSigns {
                systolic: 160,
                diastolic: 110,
                ..normal()
            },
            week,
            &["high_blood_pressure"],
        );
        check(
            NO,
            VitalSigns {
                pulse: 121,
                ..normal()
            },
            week,
            &["abnormal_pulse"],
        );
        check(
            NO,
            VitalSigns {
                pulse: 49,
                ..normal()
            },
            week,
            &["abnormal_pulse"],
        );
        check(
            NO,
            VitalSigns {
                pulse: 50,
                ..normal()
            },
            Outcome::Eligible,
            &[],
        );
        check(
            NO,
            VitalSigns {
                pulse: 120,
                ..normal()
            },
            Outcome::Eligible,
            &[],
        );
    }

    #[test]
    fn recent_covid_postpones_ninety_days_and_the_longest_postponement_wins() {
        let covid = ScreeningAnswers {
            covid_last_6_months: true,
            ..NO
        };
        check(
            covid,
            normal(),
            Outcome::Postpone { days: 90 },
            &["recent_covid"],
        );
        let fever = VitalSigns {
            temperature_c: 38.2,
            ..normal()
        };
        check(
            covid,
            fever,
            Outcome::Postpone { days: 90 },
            &["fever", "recent_covid"],
        );
    }

    #[test]
    fn a_postponement_outranks_caution() {
        let answers = ScreeningAnswers {
            pregnancy: true,
            acute_illness: true,
            ..NO
        };
        check(
            answers,
            normal(),
            Outcome::Postpone { days: 7 },
            &["acute_illness", "pregnancy"],
        );
    }

    #[test]
    fn implausible_vital_signs_are_refused_naming_the_field() {
        let refused = |vitals: VitalSigns| screen(&NO, &vitals).unwrap_err().field();
        assert_eq!(
            refused(VitalSigns {
                temperature_c: 368.0,
                ..normal()
            }),
            "vitals.temperature_c"
        );
        assert_eq!(
            refused(VitalSigns {
                temperature_c: f64::NAN,
                ..normal()
            }),
            "vitals.temperature_c"
        );
        assert_eq!(
            refused(VitalSigns {
                pulse: 0,
                ..normal()
            }),
            "vitals.pulse"
        );
        assert_eq!(
            refused(VitalSigns {
                systolic: 1200,
                ..normal()
            }),
            "vitals.systolic"
        );
        assert_eq!(
            refused(VitalSigns {
                diastolic: 130,
                systolic: 120,
                ..normal()
            }),
            "vitals.diastolic"
        );
        assert_eq!(
            refused(VitalSigns {
                spo2: 101,
                ..normal()
            }),
            "vitals.spo2"
        );
        assert_eq!(normal().check(), Ok(()));
    }

    #[test]
    fn answers_read_from_json_and_refuse_unknown_items() {
        assert!(
            serde_json::from_str::<ScreeningAnswers>(r#"{"pregnancy": true}"#).is_err(),
            "every item must be answered"
        );
        let text = serde_json::to_string(&ScreeningAnswers {
            pregnancy: true,
            ..NO
        })
        .unwrap();
        let back: ScreeningAnswers = serde_json::from_str(&text).unwrap();
        assert!(back.pregnancy);
        assert!(
            serde_json::from_str::<ScreeningAnswers>(&text.replace("other", "unknown")).is_err()
        );
    }
}
