//! The citizen portal page in a real browser: headless Chromium, driven through chromedriver (WebDriver),
//! against one `vaxcert up`. A citizen asks for a code with their document number and date of birth, reads
//! it from the development outbox, types a wrong code (an error shows), then the right one, and sees their
//! certificate, active, with its download links. The PNG and PDF links are then fetched with the browser's
//! session cookie: the picture, and the PDF's page rendered by poppler's `pdftoppm`, read back to the
//! issued `HC1:` text, which `vaxcert verify` accepts against the trust list the service publishes.
//! Screenshots of each state, one at a phone's size, go to `target/browser-artefacts/` (or
//! `$VAXCERT_ARTEFACTS_DIR`). Without Chromium or chromedriver the test is skipped, with a message; in CI
//! (`CI` set) that is a failure (`scripts/install-browser`); likewise the PDF part without `pdftoppm`
//! (`scripts/install-pdf-tools`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::path::Path;
use std::process::Command;

use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use support::browser::{
    BrowserTest, DEADLINE, PHONE, Page, assert_fits_width, code_from_outbox, on_path, outbox_lines,
    screenshot, skipped, type_into, wait_until,
};
use support::{command, http};

/// The portal page's steps and message.
const PAGE: Page = Page {
    steps: &["identity-step", "code-step", "certificates"],
    messages: &["message"],
};

/// The holder as the dose confirmation gives them, and as the page writes the name.
const HOLDER_NAME: &str = "Trần Thị Đào";
const HOLDER_DOB: &str = "1990-02-03";
const ID_NUMBER: &str = "079190001234";
const PHONE_NUMBER: &str = "+84901234567";

/// "wrong_code" in the page's MESSAGES table (portal.js), Vietnamese then English.
const WRONG_CODE: [&str; 2] = ["Mã không đúng hoặc đã hết hạn.", "Wrong or expired code."];

/// The session cookie's name.
const SESSION_COOKIE: &str = "vaxcert_session";

/// A certificate for the holder, with their document number and phone, issued through the internal
/// API: its `HC1:` text.
fn issue(base: &str, data: &Path) -> String {
    let token = std::fs::read_to_string(data.join("internal-api.token")).unwrap();
    let body = json!({
        "dose_event_id": "dose-portal-browser-1",
        "person": {"fn": "Trần", "gn": "Thị Đào", "dob": HOLDER_DOB,
                   "id_number": ID_NUMBER, "phone": PHONE_NUMBER},
        "vaccination": {"tg": "840539006", "vp": "28531000087107", "mp": "EU/1/21/1529",
                        "ma": "ORG-100001699", "dn": 1, "sd": 2, "dt": "2021-08-01", "co": "VN",
                        "lot_number": "AZ123"},
        "provenance": {"site_code": "HCM-0007", "registry_record_id": "R-2021-000999",
                       "record_hash": "sha256:00"}
    });
    let response = http()
        .post(format!("{base}/internal/v1/dose-confirmations"))
        .header("Authorization", format!("Bearer {}", token.trim()))
        .header("Idempotency-Key", "dose-portal-browser-1")
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .unwrap();
    let status = response.status().as_u16();
    let issued: Value =
        serde_json::from_str(&response.into_body().read_to_string().unwrap()).unwrap();
    assert_eq!(status, 201, "{issued}");
    issued["hc1"].as_str().unwrap().to_owned()
}

/// `vaxcert verify --json` of `hc1` against the trust and revocation lists the service publishes.
fn verify(base: &str, data: &Path, hc1: &str) -> Value {
    let key = data.join("trust-list-signer.pub.pem");
    let output = command(&[
        "verify",
        "--json",
        "--trust-list",
        &format!("{base}/trust-list"),
        "--trust-list-key",
        key.to_str().unwrap(),
        "--revocation-list",
        &format!("{base}/revocation-list"),
        hc1,
    ])
    .output()
    .unwrap();
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stderr)))
}

/// Types `text` into the (emptied) input `id` and clicks the submit button of the form `form`.
async fn submit(client: &Client, form: &str, fields: &[(&str, &str)]) {
    for (id, text) in fields {
        type_into(client, id, text).await;
    }
    client
        .find(Locator::Css(&format!("#{form} [type=submit]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// GET `url` with the session cookie: the status and the body.
fn download(url: &str, session: Option<&str>) -> (u16, Vec<u8>) {
    let mut request = http().get(url);
    if let Some(session) = session {
        request = request.header("Cookie", format!("{SESSION_COOKIE}={session}"));
    }
    let mut response = request.call().unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_vec().unwrap())
}

/// `pdf`'s page rendered at 150 dpi in grey by `pdftoppm`, saved as `<name>.png` in `dir`: the PNG.
fn render_pdf(pdf: &[u8], dir: &Path, name: &str) -> Vec<u8> {
    let pdf_path = dir.join(format!("{name}.pdf"));
    std::fs::write(&pdf_path, pdf).unwrap();
    let status = Command::new("pdftoppm")
        .args(["-r", "150", "-gray", "-png", "-singlefile"])
        .arg(&pdf_path)
        .arg(dir.join(name))
        .status()
        .unwrap();
    assert!(status.success(), "pdftoppm failed on the downloaded PDF");
    std::fs::read(dir.join(format!("{name}.png"))).unwrap()
}

#[test]
fn a_citizen_logs_in_to_the_portal_with_the_texted_code_and_downloads_a_valid_certificate() {
    let Some(test) = BrowserTest::start("portal-browser") else {
        return;
    };
    let BrowserTest {
        data,
        artefacts,
        base,
        ..
    } = &test;
    let hc1 = issue(base, data);
    let outbox = data.join("outbox/sms.jsonl");

    let (png_href, pdf_href, session_value) = test.runtime.block_on(async {
        let client = test.desktop(&format!("{base}/citizen/")).await;
        PAGE.wait_shown(&client, "identity-step").await;
        let state = PAGE.shown(&client).await;
        assert!(state.contains("#code-step hidden"), "{state}");
        assert!(state.contains("#certificates hidden"), "{state}");
        screenshot(&client, artefacts, "portal-1-login.png").await;

        // The identity: a code goes to the phone on record.
        let before = outbox_lines(&outbox).len();
        submit(
            &client,
            "code-form",
            &[("id-number", ID_NUMBER), ("dob", HOLDER_DOB)],
        )
        .await;
        PAGE.wait_shown(&client, "code-step").await;
        let code = code_from_outbox(&outbox, before, PHONE_NUMBER).await;
        screenshot(&client, artefacts, "portal-2-code.png").await;

        // A wrong code first: the error in plain words, still on the code step.
        let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
        submit(&client, "session-form", &[("code", &wrong)]).await;
        let message = &client.find(Locator::Id("message")).await.unwrap();
        let error = wait_until(DEADLINE, move || async move {
            (message.attr("class").await.unwrap().as_deref() == Some("message error")).then_some(())
        })
        .await;
        assert!(
            error.is_some(),
            "no error shown: {}",
            PAGE.shown(&client).await
        );
        let state = PAGE.shown(&client).await;
        let text = message.text().await.unwrap();
        assert_eq!(
            text.lines().map(str::trim).collect::<Vec<_>>(),
            WRONG_CODE,
            "{state}"
        );
        assert!(state.contains("#code-step shown"), "{state}");
        screenshot(&client, artefacts, "portal-3-wrong-code.png").await;

        // The right code: the certificate, the holder's name, active.
        submit(&client, "session-form", &[("code", &code)]).await;
        PAGE.wait_shown(&client, "certificates").await;
        let cards = client
            .find_all(Locator::Css("#certificate-list li.certificate"))
            .await
            .unwrap();
        assert_eq!(cards.len(), 1, "{}", PAGE.shown(&client).await);
        let card = &cards[0];
        let name = card
            .find(Locator::Css("h3"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(name, HOLDER_NAME);
        let status = card.find(Locator::Css(".status")).await.unwrap();
        assert_eq!(
            status.attr("class").await.unwrap().as_deref(),
            Some("status active")
        );
        assert!(status.text().await.unwrap().contains("Active"));
        for link in [
            "download-qr-png",
            "download-certificate-pdf",
            "download-qr-svg",
            "download-hc1-txt",
        ] {
            card.find(Locator::Css(&format!("a.{link}")))
                .await
                .unwrap_or_else(|_| panic!("no a.{link}"));
        }
        let state = PAGE.shown(&client).await;
        assert!(state.contains("#message [message] \"\""), "{state}");
        screenshot(&client, artefacts, "portal-4-certificates.png").await;
        client.set_window_size(PHONE.0, PHONE.1).await.unwrap();
        assert_fits_width(&client).await;
        screenshot(&client, artefacts, "portal-5-certificates-phone.png").await;
        client
            .execute(
                "document.querySelector('#certificate-list .downloads').scrollIntoView(false);",
                vec![],
            )
            .await
            .unwrap();
        screenshot(&client, artefacts, "portal-6-downloads-phone.png").await;

        let href = |class: &'static str| async move {
            card.find(Locator::Css(&format!("a.{class}")))
                .await
                .unwrap()
                .attr("href")
                .await
                .unwrap()
                .unwrap()
        };
        let png_href = href("download-qr-png").await;
        let pdf_href = href("download-certificate-pdf").await;
        let cookie = client.get_named_cookie(SESSION_COOKIE).await.unwrap();
        assert_eq!(cookie.http_only(), Some(true));
        let session_value = cookie.value().to_owned();
        client.close().await.unwrap();
        (png_href, pdf_href, session_value)
    });

    // The downloads, with the browser's session; refused without it.
    let png_url = format!("{base}{png_href}");
    assert_eq!(download(&png_url, None).0, 401);
    let (status, png) = download(&png_url, Some(&session_value));
    assert_eq!(status, 200);
    let read = hcert::read_qr(&png, &hcert::ImageLimits::default()).unwrap();
    assert_eq!(read, hc1);
    let report = verify(base, data, &read);
    assert_eq!(report["valid"], true, "{report}");

    let (status, pdf) = download(&format!("{base}{pdf_href}"), Some(&session_value));
    assert_eq!(status, 200);
    assert!(pdf.starts_with(b"%PDF-"));
    if on_path(&["pdftoppm"]).is_some() {
        let page = render_pdf(&pdf, artefacts, "portal-7-certificate-pdf");
        let read = hcert::read_qr(&page, &hcert::ImageLimits::default()).unwrap();
        assert_eq!(read, hc1);
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "pdftoppm (poppler-utils) is required in CI: scripts/install-pdf-tools"
        );
        skipped("the PDF's QR check skipped: pdftoppm not installed (scripts/install-pdf-tools)");
    }
    test.finish();
}
