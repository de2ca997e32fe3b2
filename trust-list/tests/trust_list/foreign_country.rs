//! A foreign country end to end: "XX" publishes its national list (and its gateway entries and anchors);
//! we verify it under XX's pinned key, import its DSCs against the CSCA anchors, merge them with our own
//! list into one store, and check a signature by an XX DSC found through that store. XX's list also
//! carries two DSCs claiming C=XX that XX's CSCA never signed — one by our VN CSCA, one by a third
//! country's — and both are rejected at import.

use keys::test_pki::{foreign_test_pki, test_pki};
use keys::{Backend, SignatureAlgorithm, Signer};
use trust_list::{
    ImportEntry, ImportError, TrustList, TrustListBuilder, anchors_from_json, anchors_to_json,
    gateway_from_json, gateway_to_json, import,
};

use crate::support::{DAY, ListKey, NOW, usable_dscs};

struct Xx {
    key: ListKey,
    list: Vec<u8>,
    gateway: Vec<u8>,
}

/// XX's publication: its own DSCs plus the two it should never have listed.
fn xx_publishes() -> Xx {
    let xx = foreign_test_pki("XX");
    let key = ListKey::new(SignatureAlgorithm::Es256);
    let mut builder = TrustListBuilder::new("XX").unwrap();
    for dsc in usable_dscs(xx) {
        builder.add(dsc, "XX").unwrap();
    }
    builder
        .add(test_pki().es256_wrong_country.certificate.clone(), "XX")
        .unwrap();
    builder
        .add(
            foreign_test_pki("ZZ")
                .es256_wrong_country
                .certificate
                .clone(),
            "XX",
        )
        .unwrap();
    let list = builder
        .build(12, NOW - DAY, NOW + DAY, &key.signing, &key.spki())
        .unwrap()
        .into_bytes();
    let gateway = gateway_to_json(&builder.gateway_entries(NOW, &key.signing).unwrap()).unwrap();
    Xx { key, list, gateway }
}

fn anchors(countries: &[&str]) -> Vec<keys::Certificate> {
    let cscas: Vec<_> = countries
        .iter()
        .map(|c| foreign_test_pki(c).csca.certificate.clone())
        .collect();
    // As published and read back: anchors travel as JSON.
    anchors_from_json(&anchors_to_json(&cscas).unwrap()).unwrap()
}

#[test]
fn we_import_xx_and_verify_its_signatures() {
    let published = xx_publishes();
    let xx = foreign_test_pki("XX");
    let vn = test_pki();

    let list = TrustList::verify(&published.list, &published.key.pins(), NOW).unwrap();
    assert_eq!(list.issuer_country(), "XX");
    assert_eq!(list.len(), usable_dscs(xx).len() + 2);
    let entries: Vec<ImportEntry> = list.dscs().iter().map(ImportEntry::from).collect();
    let outcome = import(
        &entries,
        &anchors(&["VN", "XX", "ZZ"]),
        NOW,
        Backend::default(),
    );

    let reasons: Vec<_> = outcome
        .rejected
        .iter()
        .map(|r| (r.country.as_str(), r.reason.clone()))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                "XX",
                ImportError::IssuedByOtherCountry {
                    csca_country: "VN".into()
                }
            ),
            (
                "XX",
                ImportError::IssuedByOtherCountry {
                    csca_country: "ZZ".into()
                }
            ),
        ]
    );
    // Without the third country's anchor, its DSC names no CSCA we know of.
    let outcome_without_zz = import(&entries, &anchors(&["VN", "XX"]), NOW, Backend::default());
    assert_eq!(
        outcome_without_zz.rejected[1].reason,
        ImportError::NoMatchingCsca
    );

    // One store: our own list, then what XX's import accepted.
    let ours = ListKey::new(SignatureAlgorithm::Es256);
    let our_list =
        TrustList::verify(&ours.list_of(vn, 5, NOW, NOW + DAY), &ours.pins(), NOW).unwrap();
    let mut store = our_list.store(Backend::default());
    outcome.add_to(&mut store);
    assert_eq!(store.len(), usable_dscs(vn).len() + usable_dscs(xx).len());
    assert!(
        store
            .get(vn.es256_wrong_country.certificate.kid().as_bytes())
            .is_empty()
    );

    // An XX certificate's signature, checked with the key the store prepared for its kid.
    let message = b"a Sig_structure signed by an XX DSC";
    let signature = xx.es256.key.sign(message).unwrap();
    let listed = store.get(xx.es256.certificate.kid().as_bytes());
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].country(), Some("XX"));
    listed[0]
        .key()
        .unwrap()
        .verify(message, &signature)
        .unwrap();
    // And a VN one beside it.
    let signature = vn.ps256.key.sign(message).unwrap();
    store.get(vn.ps256.certificate.kid().as_bytes())[0]
        .key()
        .unwrap()
        .verify(message, &signature)
        .unwrap();
}

#[test]
fn xx_in_the_gateway_shape_imports_the_same() {
    let published = xx_publishes();
    let entries = gateway_from_json(&published.gateway).unwrap();
    for entry in &entries {
        entry.verify_signature(&published.key.pinned).unwrap();
    }
    let entries: Vec<ImportEntry> = entries.into_iter().map(ImportEntry::from).collect();
    let via_gateway = import(
        &entries,
        &anchors(&["VN", "XX", "ZZ"]),
        NOW,
        Backend::default(),
    );
    let list = TrustList::verify(&published.list, &published.key.pins(), NOW).unwrap();
    let via_list: Vec<ImportEntry> = list.dscs().iter().map(ImportEntry::from).collect();
    assert_eq!(
        via_gateway,
        import(
            &via_list,
            &anchors(&["VN", "XX", "ZZ"]),
            NOW,
            Backend::default()
        )
    );
    assert_eq!(
        via_gateway.accepted.len(),
        usable_dscs(foreign_test_pki("XX")).len()
    );
}

#[test]
fn xx_lists_verify_only_under_xx_keys() {
    let published = xx_publishes();
    let ours = ListKey::new(SignatureAlgorithm::Es256);
    assert!(TrustList::verify(&published.list, &ours.pins(), NOW).is_err());
    let both = [ours.pinned.clone(), published.key.pinned.clone()];
    assert!(TrustList::verify(&published.list, &both, NOW).is_ok());
}
