//! The citizen portal: each citizen downloads their own certificates, and nobody else's.
//!
//! A citizen logs in without an account: they give their identity document number and date of birth;
//! if a dose event was recorded for that identity, a one-time code goes to the phone on record; the code
//! opens a short session that sees the certificates of everyone registered under that phone (the
//! citizen and their relatives). The ledger keeps no document or phone number in the clear
//! ([`PortalSecret`]), and an unknown identity is answered exactly like a known one: the same rows are
//! written, only no message is sent ([`Portal`]).

mod portal;
mod secret;

pub use portal::{
    CitizenCertificate, DisplayStatus, LoginError, LoginPolicy, Portal, PortalError, Session,
    SmsMessage, SmsSender,
};
pub use secret::{PortalSecret, SECRET_BYTES, SecretError};

/// A holder's contact details as the ledger keeps them, under `secret` — when the portal is on and the
/// registry sent both the document number and the phone.
///
/// # Errors
/// [`SecretError::Random`] when no randomness is available to seal the phone number.
pub fn holder_contact(
    secret: Option<&PortalSecret>,
    person: &crate::Person,
) -> Result<Option<crate::ledger::HolderContact>, SecretError> {
    let (Some(secret), Some(id_number), Some(phone)) = (secret, &person.id_number, &person.phone)
    else {
        return Ok(None);
    };
    Ok(Some(crate::ledger::HolderContact {
        identity_key: secret.identity_key(id_number, &person.dob),
        account_key: secret.account_key(phone),
        phone_sealed: secret.seal_phone(phone)?,
    }))
}
