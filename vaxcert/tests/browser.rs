//! The scanner page in a real browser: headless Chromium, driven through chromedriver (WebDriver), against
//! one `vaxcert up`. A picture of a valid certificate turns the page green with the holder's name and date
//! of birth; a picture of an altered one turns it red with the plain-words reason; pasted HC1 text turns it
//! green; a fake camera (a Y4M video made here, showing the certificate's QR) turns it green. Screenshots
//! of each state, one at a phone's size, go to `target/browser-artefacts/` (or `$VAXCERT_ARTEFACTS_DIR`).
//!
//! The test talks to the page only through its element ids, classes and visible texts, never through the
//! network calls it makes, so it holds whichever way the page verifies. Without Chromium or chromedriver it
//! is skipped, with a message; in CI (`CI` set) that is a failure (`scripts/install-browser` installs them).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use support::browser::{
    BrowserTest, PHONE, Session, assert_fits_width, screenshot, session, wait_until,
};
use support::http;

/// How long a verdict may take to show after an upload, a paste or the camera's start.
const VERDICT_DEADLINE: Duration = Duration::from_secs(20);

/// The holder of the certificates issued here, as the dose confirmation gives them.
const HOLDER_NAME: &str = "Trần Thị Đào";
const HOLDER_DOB: &str = "1990-02-03";

/// E_SIG_INVALID in the page's REASONS table (scanner.js), Vietnamese then English.
const SIG_INVALID: [&str; 2] = [
    "Chữ ký không khớp: chứng nhận đã bị sửa đổi hoặc làm giả.",
    "The signature does not match: the certificate was altered or forged.",
];

/// A certificate for [`HOLDER_NAME`], issued through the internal API: its `HC1:` text.
fn issue(base: &str, data: &Path) -> String {
    let token = std::fs::read_to_string(data.join("internal-api.token")).unwrap();
    let body = json!({
        "dose_event_id": "dose-browser-1",
        "person": {"fn": "Trần", "gn": "Thị Đào", "dob": HOLDER_DOB},
        "vaccination": {"tg": "840539006", "vp": "28531000087107", "mp": "EU/1/21/1529",
                        "ma": "ORG-100001699", "dn": 1, "sd": 2, "dt": "2021-08-01", "co": "VN",
                        "lot_number": "AZ123"},
        "provenance": {"site_code": "HCM-0007", "registry_record_id": "R-2021-000888",
                       "record_hash": "sha256:00"}
    });
    let response = http()
        .post(format!("{base}/internal/v1/dose-confirmations"))
        .header("Authorization", format!("Bearer {token}"))
        .header("Idempotency-Key", "dose-browser-1")
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .unwrap();
    let status = response.status().as_u16();
    let issued: Value =
        serde_json::from_str(&response.into_body().read_to_string().unwrap()).unwrap();
    assert_eq!(status, 201, "{issued}");
    issued["hc1"].as_str().unwrap().to_owned()
}

/// `hc1` with the date of birth changed inside the signed payload: it decodes, its signature fails.
fn altered(hc1: &str) -> String {
    let mut cose = hcert::decode_transport(hc1).unwrap();
    let dob = HOLDER_DOB.as_bytes();
    let at: Vec<usize> = cose
        .windows(dob.len())
        .enumerate()
        .filter(|(_, window)| *window == dob)
        .map(|(at, _)| at)
        .collect();
    assert_eq!(at.len(), 1, "the date of birth once in the payload");
    let last = at[0] + dob.len() - 1;
    cose[last] = if cose[last] == b'3' { b'4' } else { b'3' };
    hcert::encode_transport(&cose)
}

/// The QR code of `hc1` as rows of modules, `true` for dark, without a quiet zone.
fn modules(hc1: &str) -> Vec<Vec<bool>> {
    let options = hcert::RenderOptions {
        module_px: 1,
        quiet_zone: 0,
        depth: hcert::PngDepth::Eight,
    };
    let png = hcert::render_png(hc1, &options).unwrap();
    let mut reader = png::Decoder::new(std::io::Cursor::new(png))
        .read_info()
        .unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!(frame.color_type, png::ColorType::Grayscale);
    let side = frame.width as usize;
    pixels[..side * frame.height as usize]
        .chunks(side)
        .map(|row| row.iter().map(|&value| value < 128).collect())
        .collect()
}

/// A Y4M video (YUV4MPEG2, 4:2:0, 640×480, 10 frames a second) of `frames` identical frames: a grey
/// desk with the QR code in the middle, dark modules black, the symbol and its 4-module quiet zone white.
fn y4m(modules: &[Vec<bool>], frames: usize) -> Vec<u8> {
    const WIDTH: usize = 640;
    const HEIGHT: usize = 480;
    // Studio-range luma: 16 black, 235 white.
    const BLACK: u8 = 16;
    const WHITE: u8 = 235;
    const DESK: u8 = 150;
    const QUIET: usize = 4;
    let side = modules.len() + 2 * QUIET;
    let module_px = (HEIGHT - 40) / side;
    assert!(module_px >= 3, "{side} modules do not fit the frame");
    let (left, top) = (
        (WIDTH - side * module_px) / 2,
        (HEIGHT - side * module_px) / 2,
    );
    let mut luma = vec![DESK; WIDTH * HEIGHT];
    for y in 0..side * module_px {
        for x in 0..side * module_px {
            let (row, column) = (y / module_px, x / module_px);
            let dark = (QUIET..QUIET + modules.len()).contains(&row)
                && (QUIET..QUIET + modules.len()).contains(&column)
                && modules[row - QUIET][column - QUIET];
            luma[(top + y) * WIDTH + left + x] = if dark { BLACK } else { WHITE };
        }
    }
    let chroma = vec![128u8; WIDTH / 2 * HEIGHT / 2 * 2];
    let mut video = format!("YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n").into_bytes();
    for _ in 0..frames {
        video.extend_from_slice(b"FRAME\n");
        video.extend_from_slice(&luma);
        video.extend_from_slice(&chroma);
    }
    video
}

/// The page's state as shown: `#result`'s class, the verdict, the holder's name and date of birth, the
/// reason; for assertion messages.
async fn shown(client: &Client) -> String {
    let mut parts = Vec::new();
    for id in ["result", "verdict", "holder-name", "holder-dob", "reason"] {
        let element = client.find(Locator::Id(id)).await.unwrap();
        let class = element.attr("class").await.unwrap().unwrap_or_default();
        let text = element.text().await.unwrap();
        parts.push(format!("#{id} [{class}] {text:?}"));
    }
    parts.join("; ")
}

/// Waits (bounded) until `#result` has the class `result <verdict>`.
async fn wait_for(client: &Client, verdict: &str) {
    let expected = format!("result {verdict}");
    let expected = expected.as_str();
    let result = &client.find(Locator::Id("result")).await.unwrap();
    let started = Instant::now();
    let shown_in_time = wait_until(VERDICT_DEADLINE, move || async move {
        (result.attr("class").await.unwrap().as_deref() == Some(expected)).then_some(())
    })
    .await;
    assert!(
        shown_in_time.is_some(),
        "no `{expected}` within {VERDICT_DEADLINE:?}: {}",
        shown(client).await
    );
    eprintln!("`{expected}` after {} ms", started.elapsed().as_millis());
}

async fn text_of(client: &Client, id: &str) -> String {
    client
        .find(Locator::Id(id))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Green, with the holder's name (as written, then in the standard spelling) and date of birth.
async fn assert_valid_holder(client: &Client) {
    let state = shown(client).await;
    let verdict = text_of(client, "verdict").await;
    assert!(
        verdict.contains("HỢP LỆ") && verdict.contains("VALID"),
        "{state}"
    );
    assert!(!verdict.contains("NOT VALID"), "{state}");
    let name = text_of(client, "holder-name").await;
    assert_eq!(name.lines().next(), Some(HOLDER_NAME), "{state}");
    assert!(name.contains("TRAN THI DAO"), "{state}");
    assert_eq!(text_of(client, "holder-dob").await, HOLDER_DOB, "{state}");
    assert_eq!(text_of(client, "reason").await, "", "{state}");
}

#[test]
fn the_scanner_page_verifies_a_picture_pasted_text_and_the_camera_in_chromium() {
    let Some(test) = BrowserTest::start("browser") else {
        return;
    };
    let BrowserTest {
        dir,
        data,
        artefacts,
        base,
        ..
    } = &test;
    let hc1 = issue(base, data);
    let forged = altered(&hc1);

    let valid_png = dir.join("valid.png");
    let forged_png = dir.join("altered.png");
    let options = hcert::RenderOptions::DEFAULT;
    std::fs::write(&valid_png, hcert::render_png(&hc1, &options).unwrap()).unwrap();
    std::fs::write(&forged_png, hcert::render_png(&forged, &options).unwrap()).unwrap();
    let video = dir.join("camera.y4m");
    std::fs::File::create(&video)
        .unwrap()
        .write_all(&y4m(&modules(&hc1), 10))
        .unwrap();

    test.runtime.block_on(async {
        let client = test.desktop(&format!("{base}/")).await;
        let result = client.find(Locator::Id("result")).await.unwrap();
        assert_eq!(
            result.attr("class").await.unwrap().as_deref(),
            Some("result idle")
        );

        // A picture of the valid certificate.
        let upload = client.find(Locator::Id("upload-input")).await.unwrap();
        upload.send_keys(valid_png.to_str().unwrap()).await.unwrap();
        wait_for(&client, "valid").await;
        assert_valid_holder(&client).await;
        screenshot(&client, artefacts, "upload-valid.png").await;

        // A picture of the altered certificate: red, with the signature's reason in plain words.
        let upload = client.find(Locator::Id("upload-input")).await.unwrap();
        upload
            .send_keys(forged_png.to_str().unwrap())
            .await
            .unwrap();
        wait_for(&client, "invalid").await;
        let state = shown(&client).await;
        assert!(
            text_of(&client, "verdict").await.contains("NOT VALID"),
            "{state}"
        );
        let reason = text_of(&client, "reason").await;
        assert_eq!(
            reason.lines().map(str::trim).collect::<Vec<_>>(),
            SIG_INVALID,
            "{state}"
        );
        screenshot(&client, artefacts, "upload-altered-invalid.png").await;

        // The valid HC1 text pasted, on a phone-sized window.
        client.set_window_size(PHONE.0, PHONE.1).await.unwrap();
        let input = client.find(Locator::Id("text-input")).await.unwrap();
        input.send_keys(&hc1).await.unwrap();
        client
            .find(Locator::Css("#text-form [type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&client, "valid").await;
        assert_valid_holder(&client).await;
        assert_fits_width(&client).await;
        screenshot(&client, artefacts, "text-valid-phone.png").await;
        client.close().await.unwrap();

        // The camera of an (emulated) phone: a fake one showing the valid certificate's QR code.
        let client = session(
            &test.driver_url,
            &test.chromium,
            Session::PhoneWithCamera(&video),
        )
        .await;
        client.goto(&format!("{base}/")).await.unwrap();
        let result = client.find(Locator::Id("result")).await.unwrap();
        assert_eq!(
            result.attr("class").await.unwrap().as_deref(),
            Some("result idle")
        );
        client
            .find(Locator::Id("camera-button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&client, "valid").await;
        assert_valid_holder(&client).await;
        assert_fits_width(&client).await;
        screenshot(&client, artefacts, "camera-valid-phone.png").await;
        client.close().await.unwrap();
    });
    test.finish();
}
