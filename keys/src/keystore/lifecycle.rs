//! Creating a keystore, rotating its DSC, and which DSCs the trust list carries when.

use super::{DscRecord, DscState, EncryptedKey, Kdf, Keystore, KeystoreError, Passphrase};

use crate::SignatureAlgorithm;
use crate::backend::{Backend, SigningKey};
use crate::ceremony::{self, CSCA_VALIDITY_S, DSC_SIGNING_PERIOD_S, DSC_VALIDITY_S, DscRequest};
use crate::certificate::Certificate;
use crate::usage::CertKind;

impl Keystore {
    /// Creates a keystore for `country` at `now`: a CSCA (ES256 on P-256, valid [`CSCA_VALIDITY_S`]),
    /// a first DSC signing with `algorithm` (ES256, or PS256 on request; valid [`DSC_VALIDITY_S`],
    /// for every kind of certificate), and an ES256 trust-list signing key that verifiers pin out of band.
    /// Keys are encrypted with [`Kdf::RECOMMENDED`].
    ///
    /// # Errors
    /// [`KeystoreError::UnsupportedAlgorithm`] for an algorithm other than ES256 or PS256;
    /// [`KeystoreError::Key`] for a bad country code or a backend failure; [`KeystoreError::Random`] or
    /// [`KeystoreError::Encrypt`] if encryption fails.
    pub fn init(
        country: &str,
        algorithm: SignatureAlgorithm,
        now: i64,
        passphrase: &Passphrase,
        backend: Backend,
    ) -> Result<Keystore, KeystoreError> {
        Keystore::init_with_kdf(
            country,
            algorithm,
            now,
            passphrase,
            backend,
            Kdf::RECOMMENDED,
        )
    }

    /// As [`Keystore::init`], encrypting with `kdf`, which later rotations keep.
    ///
    /// # Errors
    /// As [`Keystore::init`].
    pub fn init_with_kdf(
        country: &str,
        algorithm: SignatureAlgorithm,
        now: i64,
        passphrase: &Passphrase,
        backend: Backend,
        kdf: Kdf,
    ) -> Result<Keystore, KeystoreError> {
        dsc_algorithm(algorithm)?;
        let csca_key = SigningKey::generate(backend, SignatureAlgorithm::Es256)?;
        let csca = ceremony::issue_csca(
            country,
            &format!("VaxCert CSCA {country}"),
            &csca_key,
            now,
            now.saturating_add(CSCA_VALIDITY_S),
        )?;
        let current = new_dsc(
            &csca, &csca_key, country, 1, algorithm, now, passphrase, kdf,
        )?;
        let trust_list_signer = SigningKey::generate(backend, SignatureAlgorithm::Es256)?;
        Ok(Keystore {
            country: country.to_owned(),
            backend,
            kdf,
            csca_key: EncryptedKey::encrypt(&csca_key, passphrase, kdf)?,
            csca,
            trust_list_signer_spki: trust_list_signer.public_key_spki_der(),
            trust_list_signer_key: EncryptedKey::encrypt(&trust_list_signer, passphrase, kdf)?,
            retired: Vec::new(),
            current,
        })
    }

    /// Issues a new current DSC signing with `algorithm` at `now` and retires the current one at `now`.
    /// The new DSC is valid [`DSC_VALIDITY_S`], cut at the CSCA's notAfter. On error nothing changes.
    ///
    /// # Errors
    /// [`KeystoreError::WrongPassphrase`] if `passphrase` does not open the CSCA key;
    /// [`KeystoreError::ClockBeforeCurrentDsc`] if `now` is before the current DSC's notBefore;
    /// [`KeystoreError::CscaExpired`] once the CSCA has expired; [`KeystoreError::KidCollision`] (retry);
    /// else as [`Keystore::init`].
    pub fn rotate(
        &mut self,
        now: i64,
        passphrase: &Passphrase,
        algorithm: SignatureAlgorithm,
    ) -> Result<&DscRecord, KeystoreError> {
        dsc_algorithm(algorithm)?;
        let not_before = self.current.certificate.not_before();
        if now < not_before {
            return Err(KeystoreError::ClockBeforeCurrentDsc { now, not_before });
        }
        let csca_key = self.csca_signer(passphrase)?;
        let sequence = self.retired.len() + 2;
        let next = new_dsc(
            &self.csca,
            &csca_key,
            &self.country,
            sequence,
            algorithm,
            now,
            passphrase,
            self.kdf,
        )?;
        if self.dscs().any(|record| record.kid() == next.kid()) {
            return Err(KeystoreError::KidCollision);
        }
        let mut previous = std::mem::replace(&mut self.current, next);
        previous.state = DscState::Retired { retired_at: now };
        self.retired.push(previous);
        Ok(&self.current)
    }

    /// The DSCs the trust list must carry at `now` when health certificates are valid for
    /// `certificate_validity_s`: those with [`DscRecord::is_listed`], oldest first.
    pub fn listed_dscs(&self, now: i64, certificate_validity_s: i64) -> Vec<&DscRecord> {
        self.dscs()
            .filter(|record| record.is_listed(now, certificate_validity_s))
            .collect()
    }

    /// When the current DSC must be rotated: [`DSC_SIGNING_PERIOD_S`] after its notBefore, or earlier if
    /// its notAfter minus `certificate_validity_s` comes first (after that, a certificate valid for
    /// `certificate_validity_s` would outlive the DSC, breaking the shell model).
    pub fn rotate_by(&self, certificate_validity_s: i64) -> i64 {
        let certificate = &self.current.certificate;
        certificate
            .not_before()
            .saturating_add(DSC_SIGNING_PERIOD_S)
            .min(
                certificate
                    .not_after()
                    .saturating_sub(certificate_validity_s),
            )
    }

    /// `Some(`[`Keystore::rotate_by`]`)` once `now` has reached it: the current DSC is due for rotation.
    pub fn rotation_due(&self, now: i64, certificate_validity_s: i64) -> Option<i64> {
        let deadline = self.rotate_by(certificate_validity_s);
        (now >= deadline).then_some(deadline)
    }
}

/// A new current DSC of `country`, number `sequence`, for every kind, encrypted under `passphrase`.
#[allow(
    clippy::too_many_arguments,
    reason = "one private call site per operation"
)]
fn new_dsc(
    csca: &Certificate,
    csca_key: &SigningKey,
    country: &str,
    sequence: usize,
    algorithm: SignatureAlgorithm,
    now: i64,
    passphrase: &Passphrase,
    kdf: Kdf,
) -> Result<DscRecord, KeystoreError> {
    let not_after = now.saturating_add(DSC_VALIDITY_S).min(csca.not_after());
    if not_after <= now {
        return Err(KeystoreError::CscaExpired {
            now,
            not_after: csca.not_after(),
        });
    }
    let key = SigningKey::generate(csca_key.backend(), algorithm)?;
    let spki = key.public_key_spki_der();
    let certificate = ceremony::issue_dsc(
        csca,
        csca_key,
        &DscRequest {
            country,
            common_name: &format!("VaxCert DSC {country} {sequence}"),
            public_key_spki: &spki,
            not_before: now,
            not_after,
            kinds: &CertKind::ALL,
        },
    )?;
    Ok(DscRecord {
        certificate,
        key: EncryptedKey::encrypt(&key, passphrase, kdf)?,
        state: DscState::Current,
        algorithm,
    })
}

pub(super) fn dsc_algorithm(algorithm: SignatureAlgorithm) -> Result<(), KeystoreError> {
    match algorithm {
        SignatureAlgorithm::Es256 | SignatureAlgorithm::Ps256 => Ok(()),
        other => Err(KeystoreError::UnsupportedAlgorithm { name: other.name() }),
    }
}
