//! What the trust-list targets share: one list-signing key per process, pinned, and a JWS maker, so that a
//! target can hand the fuzzer's bytes to the payload parser behind a valid signature.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keys::{Backend, SignatureAlgorithm, Signer, SigningKey};
use trust_list::PinnedKey;

/// The validation clock of every trust-list target: 2023-11-14T22:13:20Z.
pub const NOW: i64 = 1_700_000_000;

/// The `typ` of the national trust list.
pub const TYP_TRUST_LIST: &str = "vaxcert-trust-list+json";

/// The `typ` of the revocation list.
pub const TYP_REVOCATION_LIST: &str = "vaxcert-revocation-list+json";

struct ListKey {
    signing: SigningKey,
    pinned: PinnedKey,
}

/// Ed25519: deterministic and the fastest to sign with, so each run signs its input cheaply.
static LIST_KEY: LazyLock<ListKey> = LazyLock::new(|| {
    let signing = SigningKey::generate(Backend::default(), SignatureAlgorithm::EdDsa)
        .expect("an Ed25519 key generates");
    let pinned = PinnedKey::from_spki_der(Backend::default(), &signing.public_key_spki_der())
        .expect("its own public key pins");
    ListKey { signing, pinned }
});

/// The pinned key, generated once per process.
pub fn pinned() -> &'static [PinnedKey] {
    std::slice::from_ref(&LIST_KEY.pinned)
}

/// A flattened JWS of `typ` over `payload`, signed by the pinned key: what a publisher holding the key
/// would send, whatever the payload says.
pub fn signed(typ: &str, payload: &[u8]) -> Vec<u8> {
    let header = format!(
        r#"{{"alg":"EdDSA","kid":"{}","typ":"{typ}"}}"#,
        LIST_KEY.pinned.key_id()
    );
    let protected = URL_SAFE_NO_PAD.encode(header);
    let payload = URL_SAFE_NO_PAD.encode(payload);
    let signature = LIST_KEY
        .signing
        .sign(format!("{protected}.{payload}").as_bytes())
        .expect("Ed25519 signs");
    format!(
        r#"{{"protected":"{protected}","payload":"{payload}","signature":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(signature)
    )
    .into_bytes()
}

/// Splits the fuzzer's input: an odd first byte asks for the rest to be signed as a payload of `typ`,
/// anything else is offered as the whole document.
pub fn document(typ: &str, data: &[u8]) -> Vec<u8> {
    match data.split_first() {
        Some((mode, payload)) if mode % 2 == 1 => signed(typ, payload),
        _ => data.to_vec(),
    }
}
