//! The vaccines Viet Nam used: the DCC codes of each product (medicinal product, manufacturer, the
//! prophylaxis code the value sets' encoding instructions allow), the doses of its primary series and the
//! interval between doses (`domain.md`'s defaults; a policy may override them).

/// A vaccine product as intake knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vaccine {
    /// The EU value set's medicinal product (`mp`), e.g. `EU/1/20/1528`.
    pub product: &'static str,
    /// A short name for people (SMS, the site's screen).
    pub name: &'static str,
    /// The marketing authorisation holder or manufacturer (`ma`).
    pub manufacturer: &'static str,
    /// The vaccine or prophylaxis code (`vp`) issued for it, one the encoding instructions allow.
    pub prophylaxis: &'static str,
    /// Doses in the primary series (`sd` of the primary doses).
    pub series_doses: u8,
    /// The shortest interval between two doses of the series, days.
    pub min_interval_days: u16,
    /// The longest recommended interval, days: a second dose past it is overdue.
    pub max_interval_days: u16,
}

/// Every product intake schedules, in the order of `domain.md`.
pub const VACCINES: &[Vaccine] = &[
    Vaccine {
        product: "EU/1/21/1529",
        name: "AstraZeneca",
        manufacturer: "ORG-100001699",
        prophylaxis: "29061000087103",
        series_doses: 2,
        min_interval_days: 56,
        max_interval_days: 84,
    },
    Vaccine {
        product: "EU/1/20/1528",
        name: "Pfizer",
        manufacturer: "ORG-100030215",
        prophylaxis: "1119349007",
        series_doses: 2,
        min_interval_days: 21,
        max_interval_days: 42,
    },
    Vaccine {
        product: "EU/1/20/1507",
        name: "Moderna",
        manufacturer: "ORG-100031184",
        prophylaxis: "1119349007",
        series_doses: 2,
        min_interval_days: 28,
        max_interval_days: 42,
    },
    Vaccine {
        product: "EU/1/20/1525",
        name: "Janssen",
        manufacturer: "ORG-100001417",
        prophylaxis: "29061000087103",
        series_doses: 1,
        min_interval_days: 0,
        max_interval_days: 0,
    },
    Vaccine {
        product: "BBIBP-CorV",
        name: "Vero Cell",
        manufacturer: "ORG-100020693",
        prophylaxis: "1157024006",
        series_doses: 2,
        min_interval_days: 21,
        max_interval_days: 28,
    },
    Vaccine {
        product: "Sputnik-V",
        name: "Sputnik V",
        manufacturer: "Gamaleya-Research-Institute",
        prophylaxis: "29061000087103",
        series_doses: 2,
        min_interval_days: 21,
        max_interval_days: 90,
    },
    Vaccine {
        product: "Hayat-Vax",
        name: "Hayat-Vax",
        manufacturer: "ORG-100023050",
        prophylaxis: "1157024006",
        series_doses: 2,
        min_interval_days: 21,
        max_interval_days: 28,
    },
    Vaccine {
        product: "Abdala",
        name: "Abdala",
        manufacturer: "CIGB",
        prophylaxis: "28531000087107",
        series_doses: 3,
        min_interval_days: 14,
        max_interval_days: 28,
    },
];

/// The vaccine of that medicinal product code, if intake knows it.
pub fn vaccine(product: &str) -> Option<&'static Vaccine> {
    VACCINES.iter().find(|vaccine| vaccine.product == product)
}

/// Days between doses of the same product before a booster is due (a booster ≥ 6 months after the
/// primary series, `domain.md`).
pub const BOOSTER_INTERVAL_DAYS: u16 = 180;

#[cfg(test)]
mod tests {
    use super::{VACCINES, vaccine};

    #[test]
    fn products_are_unique_and_series_are_sound() {
        for (i, a) in VACCINES.iter().enumerate() {
            assert!(
                VACCINES.iter().skip(i + 1).all(|b| b.product != a.product),
                "{} twice",
                a.product
            );
            assert!((1..=3).contains(&a.series_doses), "{}", a.product);
            assert!(a.min_interval_days <= a.max_interval_days, "{}", a.product);
            assert_eq!(
                a.series_doses == 1,
                a.max_interval_days == 0,
                "{}",
                a.product
            );
        }
        assert_eq!(
            vaccine("EU/1/21/1529").map(|v| v.min_interval_days),
            Some(56)
        );
        assert!(vaccine("J07BX03").is_none());
    }

    /// Every product's codes are in the value sets, and its `vp` is one the encoding instructions allow
    /// for it (`../shared/spec`, read in place when present).
    #[test]
    fn codes_agree_with_the_value_sets_encoding_instructions() {
        let spec = std::env::var("DCC_SPEC_DIR").map_or_else(
            |_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/spec"),
            std::path::PathBuf::from,
        );
        let dir = spec.join("eu-dcc-valuesets");
        let Ok(text) = std::fs::read_to_string(dir.join("vaccine-encoding-instructions.json"))
        else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "the value sets must be present in CI"
            );
            eprintln!("skipped: no value sets at {}", dir.display());
            return;
        };
        let instructions: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let values = instructions
            .get("valueSetValues")
            .and_then(|v| v.as_object())
            .cloned()
            .unwrap_or_default();
        for vaccine in VACCINES {
            let entry = values
                .values()
                .find(|entry| {
                    entry.get("vaccine-code").and_then(|c| c.as_str()) == Some(vaccine.product)
                })
                .unwrap_or_else(|| panic!("{} not in the encoding instructions", vaccine.product));
            assert_eq!(
                entry.get("vaccine-manufacturer").and_then(|m| m.as_str()),
                Some(vaccine.manufacturer),
                "{}",
                vaccine.product
            );
            let allowed: Vec<&str> = entry
                .get("sct-codes")
                .and_then(|c| c.as_array())
                .map(|codes| codes.iter().filter_map(|c| c.as_str()).collect())
                .unwrap_or_default();
            assert!(
                allowed.contains(&vaccine.prophylaxis),
                "{}: vp {} not in {allowed:?}",
                vaccine.product,
                vaccine.prophylaxis
            );
        }
    }
}
