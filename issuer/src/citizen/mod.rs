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
