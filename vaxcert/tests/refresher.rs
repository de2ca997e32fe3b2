//! The trust-list and revocation-list refreshers against a real HTTP server on loopback: conditional GET, verification against
//! the pinned key, rollback and bad lists refused with the last good list kept, and staleness reported.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use keys::test_pki::test_pki;
use keys::{Backend, SignatureAlgorithm, SigningKey};
use trust_list::{
    Accepted, PinnedKey, Refused, RevocationError, RevocationList, RevocationListBuilder,
    RevocationListState, RevocationQuery, TrustListBuilder, TrustListState,
};
use vaxcert::fetch::{Refresh, Refresher};

/// What the server answers: a body and its ETag, or nothing (a 500).
type Served = Arc<Mutex<Option<(Vec<u8>, String)>>>;

/// Serves `served` on a loopback port until the test ends; honours If-None-Match with 304.
fn serve(served: Served) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut if_none_match = None;
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("if-none-match:") {
                    if_none_match = Some(value.trim().to_owned());
                }
            }
            let answer = match served.lock().unwrap().clone() {
                Some((_, etag)) if if_none_match.as_deref() == Some(etag.to_ascii_lowercase().as_str()) => {
                    format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n").into_bytes()
                }
                Some((body, etag)) => {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nETag: {etag}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    [head.into_bytes(), body].concat()
                }
                None => b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
            };
            let _ = stream.write_all(&answer);
        }
    });
    format!("http://{address}/trust-list")
}

#[test]
fn refresher_keeps_the_last_good_list() {
    let key = SigningKey::generate(Backend::default(), SignatureAlgorithm::Es256).unwrap();
    let spki = key.public_key_spki_der();
    let list = |version: u64, issued_at: i64| {
        let mut builder = TrustListBuilder::new("VN").unwrap();
        builder
            .add(test_pki().es256.certificate.clone(), "VN")
            .unwrap();
        builder
            .build(version, issued_at, issued_at + 30 * 86_400, &key, &spki)
            .unwrap()
    };
    let now = 1_700_000_000;
    let served: Served = Arc::new(Mutex::new(None));
    let url = serve(served.clone());
    let pinned = vec![PinnedKey::from_spki_der(Backend::default(), &spki).unwrap()];
    let mut refresher = Refresher::new(&url, TrustListState::new(pinned, 3600));
    let publish = |document: trust_list::SignedDocument| {
        *served.lock().unwrap() = Some((document.as_bytes().to_vec(), document.etag()));
    };

    // The server is down: an error, and no list yet.
    assert!(refresher.refresh(now).is_err());
    assert!(refresher.state().current().is_none());

    publish(list(2, now - 60));
    assert!(matches!(
        refresher.refresh(now).unwrap(),
        Refresh::Updated(Accepted::Updated {
            version: 2,
            previous: None
        })
    ));
    // Unchanged on the server: the conditional GET answers 304.
    assert!(matches!(
        refresher.refresh(now).unwrap(),
        Refresh::NotModified
    ));

    // A rollback, a list signed by another key, and garbage are refused; version 2 stays in use.
    publish(list(1, now));
    assert!(matches!(
        refresher.refresh(now).unwrap(),
        Refresh::Refused(Refused::Rollback {
            offered: 1,
            current: 2
        })
    ));
    let stranger = SigningKey::generate(Backend::default(), SignatureAlgorithm::Es256).unwrap();
    let mut builder = TrustListBuilder::new("VN").unwrap();
    builder
        .add(test_pki().es256.certificate.clone(), "VN")
        .unwrap();
    publish(
        builder
            .build(
                3,
                now,
                now + 86_400,
                &stranger,
                &stranger.public_key_spki_der(),
            )
            .unwrap(),
    );
    assert!(matches!(
        refresher.refresh(now).unwrap(),
        Refresh::Refused(Refused::Invalid(_))
    ));
    *served.lock().unwrap() = Some((b"{\"truncated\":".to_vec(), "\"junk\"".to_owned()));
    assert!(matches!(
        refresher.refresh(now).unwrap(),
        Refresh::Refused(Refused::Invalid(_))
    ));
    *served.lock().unwrap() = None;
    assert!(refresher.refresh(now).is_err());
    assert_eq!(refresher.state().current().unwrap().version(), 2);

    // Staleness: an hour after version 2 was issued it is stale, until a newer list arrives.
    let status = refresher.state().status(now + 3600).unwrap();
    assert!(status.stale);
    publish(list(4, now + 3600));
    assert!(matches!(
        refresher.refresh(now + 3600).unwrap(),
        Refresh::Updated(Accepted::Updated { version: 4, .. })
    ));
    assert!(!refresher.state().status(now + 3600).unwrap().stale);
}

#[test]
fn revocation_refresher_refuses_an_older_list_and_keeps_the_revocation() {
    const UVCI: &str = "URN:UVCI:01:VN:0123456789ABCDEF0123456789ABCDEF#Q";
    let key = SigningKey::generate(Backend::default(), SignatureAlgorithm::Es256).unwrap();
    let spki = key.public_key_spki_der();
    let list = |version: u64, issued_at: i64, revoked: &[&str]| {
        let mut builder = RevocationListBuilder::new();
        for uvci in revoked {
            builder.revoke_uci(uvci);
        }
        builder
            .build(version, issued_at, issued_at + 86_400, &key, &spki)
            .unwrap()
    };
    let now = 1_700_000_000;
    let served: Served = Arc::new(Mutex::new(None));
    let url = serve(served.clone());
    let pinned = vec![PinnedKey::from_spki_der(Backend::default(), &spki).unwrap()];
    let mut refresher: Refresher<RevocationList> =
        Refresher::new(&url, RevocationListState::new(pinned, 3600));
    let publish = |document: trust_list::SignedDocument| {
        *served.lock().unwrap() = Some((document.as_bytes().to_vec(), document.etag()));
    };
    let is_revoked = |refresher: &Refresher<RevocationList>| {
        refresher
            .state()
            .current()
            .unwrap()
            .is_revoked(&RevocationQuery {
                uvci: UVCI,
                iss: Some("VN"),
                signature: &[0; 64],
                is_es256: true,
            })
            .is_some()
    };

    publish(list(10, now, &[UVCI]));
    assert!(matches!(
        refresher.refresh(now).unwrap(),
        Refresh::Updated(Accepted::Updated {
            version: 10,
            previous: None
        })
    ));
    assert!(is_revoked(&refresher));

    // The server (or whoever sits in between) serves an older list without the revocation: refused.
    publish(list(9, now, &[]));
    assert!(matches!(
        refresher.refresh(now).unwrap(),
        Refresh::Refused(Refused::Rollback {
            offered: 9,
            current: 10
        })
    ));
    // An expired newer list is refused too.
    publish(list(11, now - 2 * 86_400, &[]));
    assert!(matches!(
        refresher.refresh(now).unwrap(),
        Refresh::Refused(Refused::Invalid(RevocationError::Expired { .. }))
    ));
    assert_eq!(refresher.state().current().unwrap().version(), 10);
    assert!(is_revoked(&refresher));
    assert!(refresher.state().status(now + 3601).unwrap().stale);

    publish(list(12, now + 3600, &[UVCI, "URN:UVCI:01:VN:OTHER"]));
    assert!(matches!(
        refresher.refresh(now + 3600).unwrap(),
        Refresh::Updated(Accepted::Updated {
            version: 12,
            previous: Some(10)
        })
    ));
    assert_eq!(refresher.state().current().unwrap().len(), 2);
    assert!(!refresher.state().status(now + 3601).unwrap().stale);
}
