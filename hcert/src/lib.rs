//! The HCERT wire format, both directions.
//!
//! `HC1:` + Base45( zlib( COSE_Sign1( CWT( DCC ) ) ) ), shown as a QR code. This crate owns every layer of
//! that container and nothing else: no keys, no trust decisions, no clock, no I/O. Signing and signature
//! verification are passed in by the caller, so the same code serves the issuer and any verifier.
//!
//! Decoding is strict and bounded: every function that takes untrusted bytes caps what it allocates and
//! reports the first layer that fails as a typed [`Error`].

mod base45;
mod cbor;
mod cose;
mod cwt;
mod dcc;
mod error;
mod qr;
mod transport;
mod zlib;

pub use base45::{decode as base45_decode, encode as base45_encode};
pub use cose::{Algorithm, CoseSign1, HeaderSource, sign1};
pub use cwt::{Claims, ClaimsBuilder, NumericDate};
pub use dcc::{
    CertType, Dcc, DccEntry, DccPayload, EncodingInstruction, EncodingInstructions, JsonType,
    PayloadDefect, PersonName, RecoveryEntry, SchemaError, TestEntry, VaccinationEntry, ValueSetId,
    ValueSets, ValueSetsError, validate_schema,
};
pub use error::Error;
pub use qr::{
    ImageLimit, ImageLimits, MAX_ALPHANUMERIC_CHARS, PngDepth, QrError, QrMatrix, RenderOptions,
    read_qr, read_qr_rgba, render_png, render_svg,
};
pub use transport::{HC1_PREFIX, MAX_INPUT_CHARS, decode_transport, encode_transport};
pub use zlib::{MAX_INFLATED_BYTES, deflate, inflate};
