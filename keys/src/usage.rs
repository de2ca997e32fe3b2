//! What a DSC may sign, from its extended key usage (hcert §A.4).

/// The kind of health certificate a DSC signs: the DCC payload's `t`, `v` or `r` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CertKind {
    /// A test certificate (`t`).
    Test,
    /// A vaccination certificate (`v`).
    Vaccination,
    /// A recovery certificate (`r`).
    Recovery,
}

impl CertKind {
    /// Every kind, in the order test, vaccination, recovery.
    pub const ALL: [CertKind; 3] = [CertKind::Test, CertKind::Vaccination, CertKind::Recovery];

    /// The extended-key-usage OID that allows this kind (`1.3.6.1.4.1.1847.2021.1.{1,2,3}`): the one to
    /// put in DSCs this system issues.
    pub fn eku_oid(self) -> &'static str {
        match self {
            CertKind::Test => "1.3.6.1.4.1.1847.2021.1.1",
            CertKind::Vaccination => "1.3.6.1.4.1.1847.2021.1.2",
            CertKind::Recovery => "1.3.6.1.4.1.1847.2021.1.3",
        }
    }

    /// The misspelt-arc OID for this kind (`1.3.6.1.4.1.0.1847.2021.1.{1,2,3}`), in real use and accepted
    /// on verification; never written by this system.
    pub fn eku_oid_old_arc(self) -> &'static str {
        match self {
            CertKind::Test => "1.3.6.1.4.1.0.1847.2021.1.1",
            CertKind::Vaccination => "1.3.6.1.4.1.0.1847.2021.1.2",
            CertKind::Recovery => "1.3.6.1.4.1.0.1847.2021.1.3",
        }
    }

    /// The kind an OID (dotted decimal) allows, under either arc; `None` for any other OID.
    pub fn from_eku_oid(oid: &str) -> Option<CertKind> {
        CertKind::ALL
            .into_iter()
            .find(|kind| kind.eku_oid() == oid || kind.eku_oid_old_arc() == oid)
    }

    /// The DCC payload key for this kind: `"t"`, `"v"` or `"r"`.
    pub fn code(self) -> &'static str {
        match self {
            CertKind::Test => "t",
            CertKind::Vaccination => "v",
            CertKind::Recovery => "r",
        }
    }
}

/// What a DSC may sign.
///
/// Only the three HCERT OIDs count (hcert §A.4, as hcert-kotlin applies it): a DSC whose extended key
/// usage is absent, empty or holds none of them (only `clientAuth`, say) may sign any kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DscUsage {
    /// No HCERT OID present: every kind allowed.
    Any,
    /// At least one HCERT OID present: only the kinds named.
    Only {
        /// `…2021.1.1` present.
        test: bool,
        /// `…2021.1.2` present.
        vaccination: bool,
        /// `…2021.1.3` present.
        recovery: bool,
    },
}

impl DscUsage {
    /// The usage given the extended-key-usage OIDs (dotted decimal) of a DSC; no OIDs, or no extension,
    /// gives [`DscUsage::Any`].
    pub fn from_eku_oids<'a>(oids: impl IntoIterator<Item = &'a str>) -> DscUsage {
        let (mut test, mut vaccination, mut recovery) = (false, false, false);
        for kind in oids.into_iter().filter_map(CertKind::from_eku_oid) {
            match kind {
                CertKind::Test => test = true,
                CertKind::Vaccination => vaccination = true,
                CertKind::Recovery => recovery = true,
            }
        }
        if test || vaccination || recovery {
            DscUsage::Only {
                test,
                vaccination,
                recovery,
            }
        } else {
            DscUsage::Any
        }
    }

    /// Whether a DSC with this usage may sign a certificate of `kind`.
    pub fn allows(&self, kind: CertKind) -> bool {
        match *self {
            DscUsage::Any => true,
            DscUsage::Only {
                test,
                vaccination,
                recovery,
            } => match kind {
                CertKind::Test => test,
                CertKind::Vaccination => vaccination,
                CertKind::Recovery => recovery,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(oids: &[&str], expected: [bool; 3]) {
        let usage = DscUsage::from_eku_oids(oids.iter().copied());
        let allowed = CertKind::ALL.map(|kind| usage.allows(kind));
        assert_eq!(allowed, expected, "{oids:?} -> {usage:?}");
    }

    #[test]
    fn usage_from_oids() {
        check(&[], [true, true, true]);
        check(&["1.3.6.1.5.5.7.3.2"], [true, true, true]);
        check(&["1.3.6.1.4.1.1847.2021.1.1"], [true, false, false]);
        check(&["1.3.6.1.4.1.1847.2021.1.2"], [false, true, false]);
        check(&["1.3.6.1.4.1.1847.2021.1.3"], [false, false, true]);
        check(&["1.3.6.1.4.1.0.1847.2021.1.1"], [true, false, false]);
        check(&["1.3.6.1.4.1.0.1847.2021.1.2"], [false, true, false]);
        check(&["1.3.6.1.4.1.0.1847.2021.1.3"], [false, false, true]);
        check(
            &["1.3.6.1.4.1.1847.2021.1.1", "1.3.6.1.4.1.0.1847.2021.1.3"],
            [true, false, true],
        );
        check(
            &["1.3.6.1.5.5.7.3.2", "1.3.6.1.4.1.1847.2021.1.2"],
            [false, true, false],
        );
        check(
            &["1.3.6.1.4.1.1847.2021.1.4", "1.3.6.1.4.1.1847.2021.1"],
            [true, true, true],
        );
    }

    #[test]
    fn codes_and_oids() {
        assert_eq!(CertKind::ALL.map(CertKind::code), ["t", "v", "r"]);
        for kind in CertKind::ALL {
            assert_eq!(CertKind::from_eku_oid(kind.eku_oid()), Some(kind));
            assert_eq!(CertKind::from_eku_oid(kind.eku_oid_old_arc()), Some(kind));
        }
    }
}
