//! The intake registration page in a real browser: headless Chromium, driven through chromedriver
//! (WebDriver), against one `vaxcert up`. Someone asks for a code for their phone, reads it from the
//! development outbox, logs in, registers a person (every medical-history question answered, consent
//! given) and sees them listed as waiting. A second person with a mistyped citizen ID is refused at the
//! field, the error announced and focused; with the first person's ID the server's 409 shows as a banner;
//! with a site the server does not know, its 422 shows at the site's select.
//! An empty form marks every required item (nothing is preselected); a reload keeps the session. The page
//! fits a phone's width. The development site DEV-0001 (the person's preferred site) then publishes
//! this morning's capacity and runs its round: the reloaded page shows the person's booking code; Confirm
//! makes the appointment confirmed; Cancel, pressed twice, takes it away and the person is waiting again.
//! Invited again by a second round, the appointment cancelled behind the page's back, Confirm answers
//! with a banner over the list. The first person's registration is then cancelled. Screenshots of each
//! state, desktop and 390×844, go to `target/browser-artefacts/intake-*.png` (or
//! `$VAXCERT_ARTEFACTS_DIR`). Without Chromium or chromedriver the test is skipped, with a message; in CI
//! (`CI` set) that is a failure (`scripts/install-browser`).
//!
//! The page's element ids this test relies on: `phone-step`, `phone`, `phone-button`, `code-step`, `code`,
//! `login-button`, `people-step`, `people-heading`, `people-list` (items `person-<registration_id>` with
//! `status-<id>` and `cancel-<id>`, and for an invitation `appointment-<id>` with `booking-code-<id>`,
//! `appointment-status-<id>`, `confirm-<booking code>` and `cancel-appointment-<booking code>`),
//! `people-banner`, `message`, `full-name`, `dob`, `sex` (fieldset) and `sex-male`,
//! `id-kind`, `id-number`, `occupation`, `admin-scheme`, `province-code`, `commune-code`,
//! `priority-group`, `priority-group-name`, `preferred-site`, `mh-<question>` (fieldsets) and
//! `mh-<question>-no`, `medical-history`, `consent`, `register-button`, `form-message`, `form-banner`,
//! and `<field>-error` beside each field.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use support::browser::{
    BrowserTest, DEADLINE, PHONE, Page, assert_fits_width, by_id, code_from_outbox, outbox_lines,
    screenshot, type_into, wait_until,
};
use support::{http, today_in_viet_nam};
use vaxcert::intake_node::{DEV_SITE, DEV_SITE_TOKEN_FILE};

/// The registration page's steps and messages.
const PAGE: Page = Page {
    steps: &["phone-step", "code-step", "people-step", "form-banner"],
    messages: &["message", "form-message", "form-banner"],
};

/// The phone, as typed.
const PHONE_NUMBER: &str = "+84912345678";

/// The person registered: a man born in 1980 whose citizen ID says so (province 079, century and sex
/// digit 0, year 80).
const FULL_NAME: &str = "Nguyễn Văn An";
const DOB: &str = "1980-05-17";
const CITIZEN_ID: &str = "079080001234";

/// Another citizen ID fitting the same sex and year of birth.
const OTHER_CITIZEN_ID: &str = "079080005678";

/// A citizen ID one digit short.
const BAD_CITIZEN_ID: &str = "07908000123";

/// The product the site publishes capacity for.
const PRODUCT: &str = "EU/1/20/1528";

/// The medical-history questions the form requires, as the ids of their fieldsets (`mh-` + the item).
fn questions() -> Vec<String> {
    intake::registration::MEDICAL_ITEMS
        .iter()
        .map(|item| item.replace('_', "-"))
        .collect()
}

/// Waits (bounded) until the select `id` has more than its "choose" option: the page loaded its
/// choices from the API.
async fn wait_options(client: &Client, id: &str) {
    let loaded = wait_until(DEADLINE, || async {
        let options = client
            .find_all(Locator::Css(&format!("#{id} option")))
            .await
            .unwrap();
        (options.len() > 1).then_some(())
    })
    .await;
    assert!(
        loaded.is_some(),
        "#{id} has no choices (does `vaxcert up` have a policy and sites?): {}",
        PAGE.shown(client).await
    );
}

async fn click(client: &Client, id: &str) {
    by_id(client, id).await.click().await.unwrap();
}

/// The id of the focused element.
async fn focused(client: &Client) -> String {
    client
        .execute("return document.activeElement.id;", vec![])
        .await
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Fills the whole form for the person, with document number `id_number`, and submits it.
async fn register(client: &Client, id_number: &str) {
    type_into(client, "full-name", FULL_NAME).await;
    type_into(client, "dob", DOB).await;
    click(client, "sex-male").await;
    by_id(client, "id-kind")
        .await
        .select_by_value("citizen_id")
        .await
        .unwrap();
    type_into(client, "id-number", id_number).await;
    type_into(client, "occupation", "Giáo viên").await;
    by_id(client, "admin-scheme")
        .await
        .select_by_value("2021")
        .await
        .unwrap();
    type_into(client, "province-code", "79").await;
    type_into(client, "commune-code", "26734").await;
    by_id(client, "priority-group")
        .await
        .select_by_index(1)
        .await
        .unwrap();
    by_id(client, "preferred-site")
        .await
        .select_by_value(DEV_SITE)
        .await
        .unwrap();
    for question in questions() {
        click(client, &format!("mh-{question}-no")).await;
    }
    let consent = by_id(client, "consent").await;
    if !consent.is_selected().await.unwrap() {
        consent.click().await.unwrap();
    }
    click(client, "register-button").await;
}

/// The registration ids listed, in order (read at once: the list is redrawn after each change).
async fn listed(client: &Client) -> Vec<String> {
    let ids = client
        .execute(
            "return Array.from(document.querySelectorAll('#people-list > li'), li => li.id);",
            vec![],
        )
        .await
        .unwrap();
    ids.as_array()
        .unwrap()
        .iter()
        .map(|id| {
            let id = id.as_str().unwrap();
            id.strip_prefix("person-").unwrap_or(id).to_owned()
        })
        .collect()
}

/// Waits (bounded) until the status badge of registration `id` has the class `status <status>`: its
/// text.
async fn wait_status(client: &Client, id: &str, status: &str) -> String {
    let expected = format!("status {status}");
    let badge_id = format!("status-{id}");
    let text = wait_until(DEADLINE, || async {
        // The badge may be redrawn between finding and reading it: then ask again.
        let badge = client.find(Locator::Id(&badge_id)).await.ok()?;
        let class = badge.attr("class").await.ok()??;
        let text = badge.text().await.ok()?;
        (class == expected).then_some(text)
    })
    .await;
    text.unwrap_or_else(|| panic!("#{badge_id} never {status}"))
}

/// POSTs `body` as JSON to `url` with `headers`: the status and the JSON answer (null if none).
fn post_json(url: &str, headers: &[(&str, &str)], body: &Value) -> (u16, Value) {
    let mut request = http().post(url).header("Content-Type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.send(body.to_string()).unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The development site publishes 5 slots this morning and runs the round: how many it invited.
fn publish_and_run_round(base: &str, site_auth: &str, today: &str) -> u64 {
    let (status, published) = post_json(
        &format!("{base}/site/v1/capacity"),
        &[("Authorization", site_auth)],
        &json!({"day": today, "session": "morning", "product": PRODUCT, "slots": 5}),
    );
    assert_eq!(status, 201, "{published}");
    let round = published["round_id"].as_str().unwrap();
    let (status, ran) = post_json(
        &format!("{base}/site/v1/rounds/{round}/run"),
        &[("Authorization", site_auth)],
        &json!({}),
    );
    assert_eq!(status, 200, "{ran}");
    ran["invited"].as_u64().unwrap()
}

/// The site's appointment for registration `id` today, as the site sees it.
fn site_appointment(base: &str, site_auth: &str, today: &str, id: &str) -> Value {
    let mut response = http()
        .get(format!("{base}/site/v1/appointments?day={today}"))
        .header("Authorization", site_auth)
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let listed: Value =
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    listed["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["registration_id"] == id)
        .find(|a| a["status"] == "invited" || a["status"] == "confirmed")
        .unwrap_or_else(|| panic!("no live appointment for the person: {listed}"))
        .clone()
}

/// Waits (bounded) until `script` (a JavaScript expression's body, `return …;`) answers `true`.
async fn wait_script(client: &Client, script: &str, what: &str) {
    let done = wait_until(DEADLINE, || async {
        let answer = client.execute(script, vec![]).await.ok()?;
        (answer == Value::Bool(true)).then_some(())
    })
    .await;
    assert!(done.is_some(), "{what}: {}", PAGE.shown(client).await);
}

/// The text of element `id`, if it is on the page.
async fn text_of(client: &Client, id: &str) -> Option<String> {
    client.find(Locator::Id(id)).await.ok()?.text().await.ok()
}

#[test]
fn someone_registers_a_relative_on_the_intake_page_with_the_texted_code() {
    let Some(test) = BrowserTest::start("intake-browser") else {
        return;
    };
    let BrowserTest {
        data,
        artefacts,
        base,
        ..
    } = &test;
    let outbox = data.join("outbox/sms.jsonl");

    // The policy in force, as the API gives it: its rank-1 group, whose names the page shows.
    let policy: Value = serde_json::from_str(
        &http()
            .get(format!("{base}/intake/v1/policy"))
            .call()
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap(),
    )
    .unwrap();
    let first_group = policy["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|group| group["rank"] == 1)
        .unwrap_or_else(|| panic!("no rank-1 group: {policy}"))
        .clone();

    test.runtime.block_on(async {
        let client = test.desktop(&format!("{base}/intake/")).await;
        PAGE.wait_shown(&client, "phone-step").await;
        let state = PAGE.shown(&client).await;
        assert!(state.contains("#code-step hidden"), "{state}");
        assert!(state.contains("#people-step hidden"), "{state}");
        screenshot(&client, artefacts, "intake-1-phone.png").await;

        // The phone: a code goes to it.
        let before = outbox_lines(&outbox).len();
        type_into(&client, "phone", PHONE_NUMBER).await;
        click(&client, "phone-button").await;
        PAGE.wait_shown(&client, "code-step").await;
        let code = code_from_outbox(&outbox, before, PHONE_NUMBER).await;
        screenshot(&client, artefacts, "intake-2-code.png").await;

        // The code: logged in, nobody registered yet.
        type_into(&client, "code", &code).await;
        click(&client, "login-button").await;
        PAGE.wait_shown(&client, "people-step").await;
        assert!(listed(&client).await.is_empty(), "{}", PAGE.shown(&client).await);
        wait_options(&client, "priority-group").await;
        wait_options(&client, "preferred-site").await;

        // The form sent empty: nothing is preselected, so every required item is marked, the first focused.
        click(&client, "register-button").await;
        assert_eq!(focused(&client).await, "full-name", "{}", PAGE.shown(&client).await);
        for id in ["full-name", "dob", "sex", "occupation", "mh-severe-allergy", "mh-covid-last-6-months", "consent"] {
            let invalid = by_id(&client, id).await.attr("aria-invalid").await.unwrap();
            assert_eq!(invalid.as_deref(), Some("true"), "#{id}");
            let error = by_id(&client, &format!("{id}-error")).await.text().await.unwrap();
            assert!(!error.is_empty(), "#{id}-error");
        }
        assert!(listed(&client).await.is_empty());

        // The form, complete: the person is listed, waiting.
        register(&client, CITIZEN_ID).await;
        let registered = wait_until(DEADLINE, || async {
            let ids = listed(&client).await;
            (ids.len() == 1).then(|| ids[0].clone())
        })
        .await;
        let Some(registration) = registered else {
            panic!("nobody listed: {}", PAGE.shown(&client).await);
        };
        let badge = wait_status(&client, &registration, "waiting").await;
        assert!(badge.contains("Waiting"), "{badge:?}");
        let person = by_id(&client, &format!("person-{registration}")).await;
        let name = person
            .find(Locator::Css("h3"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(name, FULL_NAME);
        // The declared group by its names in both languages.
        let card = person.text().await.unwrap();
        for language in ["vi", "en"] {
            let group = first_group[language].as_str().unwrap();
            assert!(card.contains(group), "{group:?} not in {card:?}");
        }
        screenshot(&client, artefacts, "intake-3-listed.png").await;

        // A reload: the session cookie still holds, the list shows at once.
        client.refresh().await.unwrap();
        PAGE.wait_shown(&client, "people-step").await;
        wait_options(&client, "priority-group").await;
        wait_options(&client, "preferred-site").await;
        assert_eq!(listed(&client).await, std::slice::from_ref(&registration));

        // A second person, the citizen ID one digit short: refused at the field, focused, announced.
        register(&client, BAD_CITIZEN_ID).await;
        let field = by_id(&client, "id-number").await;
        let refused = wait_until(DEADLINE, || async {
            (field.attr("aria-invalid").await.unwrap().as_deref() == Some("true")).then_some(())
        })
        .await;
        assert!(refused.is_some(), "no error at #id-number: {}", PAGE.shown(&client).await);
        let error = by_id(&client, "id-number-error").await.text().await.unwrap();
        assert!(error.contains("12"), "{error:?}");
        assert_eq!(focused(&client).await, "id-number");
        let summary = by_id(&client, "form-message").await;
        assert_eq!(
            summary.attr("class").await.unwrap().as_deref(),
            Some("message error")
        );
        assert_eq!(summary.attr("role").await.unwrap().as_deref(), Some("alert"));
        assert!(summary.text().await.unwrap().contains("12"));
        // The priority group's names in both languages, under the select.
        let description = by_id(&client, "priority-group-name")
            .await
            .text()
            .await
            .unwrap();
        for language in ["vi", "en"] {
            let group = first_group[language].as_str().unwrap();
            assert!(description.contains(group), "{group:?} not in {description:?}");
        }
        assert_eq!(listed(&client).await.len(), 1);
        screenshot(&client, artefacts, "intake-4-bad-id.png").await;

        // The first person's ID again: the server refuses it (409), shown as a banner.
        type_into(&client, "id-number", CITIZEN_ID).await;
        click(&client, "register-button").await;
        PAGE.wait_shown(&client, "form-banner").await;
        assert_eq!(
            by_id(&client, "id-number")
                .await
                .attr("aria-invalid")
                .await
                .unwrap(),
            None,
            "the field error cleared: {}",
            PAGE.shown(&client).await
        );
        assert_eq!(focused(&client).await, "form-banner");
        assert_eq!(listed(&client).await.len(), 1);
        screenshot(&client, artefacts, "intake-5-conflict.png").await;

        // A site the server does not know (an option added behind the page's back): its 422 names the
        // field, shown and focused there.
        type_into(&client, "id-number", OTHER_CITIZEN_ID).await;
        client
            .execute(
                "const option = document.createElement('option'); option.value = 'NO-SUCH-SITE'; \
                 option.textContent = 'NO-SUCH-SITE'; document.getElementById('preferred-site').append(option);",
                vec![],
            )
            .await
            .unwrap();
        by_id(&client, "preferred-site")
            .await
            .select_by_value("NO-SUCH-SITE")
            .await
            .unwrap();
        click(&client, "register-button").await;
        let site = by_id(&client, "preferred-site").await;
        let refused = wait_until(DEADLINE, || async {
            (site.attr("aria-invalid").await.unwrap().as_deref() == Some("true")).then_some(())
        })
        .await;
        assert!(refused.is_some(), "no error at #preferred-site: {}", PAGE.shown(&client).await);
        assert!(!by_id(&client, "preferred-site-error").await.text().await.unwrap().is_empty());
        assert_eq!(focused(&client).await, "preferred-site");
        assert_eq!(listed(&client).await.len(), 1);
        screenshot(&client, artefacts, "intake-6-server-error.png").await;

        // A phone's screen: nothing wider than it.
        client.set_window_size(PHONE.0, PHONE.1).await.unwrap();
        assert_fits_width(&client).await;
        client
            .execute("document.getElementById('people-heading').scrollIntoView();", vec![])
            .await
            .unwrap();
        screenshot(&client, artefacts, "intake-7-listed-phone.png").await;
        client
            .execute("document.getElementById('medical-history').scrollIntoView();", vec![])
            .await
            .unwrap();
        screenshot(&client, artefacts, "intake-8-form-phone.png").await;

        // The person's preferred site, DEV-0001, publishes this morning and runs its round: they are
        // the one person waiting there, and invited.
        let token = std::fs::read_to_string(data.join(DEV_SITE_TOKEN_FILE)).unwrap();
        let site_auth = format!("Bearer {}", token.trim());
        let date = today_in_viet_nam();
        let today = date.to_string();
        assert_eq!(publish_and_run_round(base, &site_auth, &today), 1);
        let invitation = site_appointment(base, &site_auth, &today, &registration);
        let booking = invitation["booking_code"].as_str().unwrap().to_owned();
        assert_eq!(invitation["status"], "invited");

        // The page, reloaded, shows the booking code in the person's item, where and when in words.
        client.set_window_size(1024, 900).await.unwrap();
        client.refresh().await.unwrap();
        PAGE.wait_shown(&client, "people-step").await;
        let box_id = format!("appointment-{registration}");
        let code_id = format!("booking-code-{registration}");
        let shown_code = wait_until(DEADLINE, || text_of(&client, &code_id)).await;
        assert_eq!(shown_code.as_deref(), Some(booking.as_str()), "{}", PAGE.shown(&client).await);
        wait_status(&client, &registration, "invited").await;
        let item = by_id(&client, &format!("person-{registration}")).await;
        let appointment = item.find(Locator::Id(&box_id)).await.unwrap();
        let words = appointment.text().await.unwrap();
        for expected in [DEV_SITE, "Điểm tiêm phát triển", "Buổi sáng", "morning", "Mũi 1", "Dose 1", "Xác nhận", "Confirm", "danh sách chờ", "waiting list"] {
            assert!(words.contains(expected), "{expected:?} not in {words:?}");
        }
        let (day, month, year) = (&today[8..], &today[5..7], &today[..4]);
        assert!(words.contains(&format!("{day}/{month}/{year}")), "{words:?}");
        let english = format!("{} {} {} {year}, morning", date.weekday(), date.day(), date.month());
        assert!(words.contains(&english), "{english:?} not in {words:?}");
        assert_eq!(
            text_of(&client, &format!("appointment-status-{registration}")).await.unwrap(),
            "Đã được mời, chưa xác nhận · Invited, not yet confirmed"
        );
        // The code is large: it is read out at check-in.
        let size = client
            .execute(
                &format!("return parseFloat(getComputedStyle(document.getElementById('{code_id}')).fontSize);"),
                vec![],
            )
            .await
            .unwrap()
            .as_f64()
            .unwrap();
        assert!(size >= 28.0, "the booking code at {size}px");
        client
            .execute(&format!("document.getElementById('{box_id}').scrollIntoView();"), vec![])
            .await
            .unwrap();
        screenshot(&client, artefacts, "intake-appointment-1-invited.png").await;
        client.set_window_size(PHONE.0, PHONE.1).await.unwrap();
        assert_fits_width(&client).await;
        client
            .execute(&format!("document.getElementById('{box_id}').scrollIntoView();"), vec![])
            .await
            .unwrap();
        screenshot(&client, artefacts, "intake-appointment-2-invited-phone.png").await;

        // Confirmed: the badge says so, the button is gone, the news announced, focus on the appointment.
        click(&client, &format!("confirm-{booking}")).await;
        wait_script(
            &client,
            &format!("const box = document.getElementById('{box_id}'); return !!box && box.className === 'appointment confirmed';"),
            "the appointment never shown confirmed",
        )
        .await;
        assert_eq!(
            text_of(&client, &format!("appointment-status-{registration}")).await.unwrap(),
            "Đã xác nhận · Confirmed"
        );
        assert!(client.find(Locator::Id(&format!("confirm-{booking}"))).await.is_err());
        assert!(by_id(&client, "message").await.text().await.unwrap().contains("confirmed"));
        assert_eq!(focused(&client).await, box_id);
        assert_eq!(site_appointment(base, &site_auth, &today, &registration)["status"], "confirmed");
        assert_eq!(
            text_of(&client, &code_id).await.as_deref(),
            Some(booking.as_str())
        );
        client
            .execute(
                &format!("document.getElementById('{box_id}').scrollIntoView();"),
                vec![],
            )
            .await
            .unwrap();
        screenshot(&client, artefacts, "intake-appointment-3-confirmed-phone.png").await;

        // Cancelled with two presses: the first only asks (and says the person stays on the list).
        let cancel = format!("cancel-appointment-{booking}");
        click(&client, &cancel).await;
        assert!(by_id(&client, &cancel).await.text().await.unwrap().contains("Press again"));
        assert!(by_id(&client, "message").await.text().await.unwrap().contains("waiting list"));
        assert_eq!(site_appointment(base, &site_auth, &today, &registration)["status"], "confirmed");
        screenshot(&client, artefacts, "intake-appointment-4-cancel-asked-phone.png").await;
        click(&client, &cancel).await;
        wait_script(
            &client,
            &format!("return !document.getElementById('{box_id}') && !!document.getElementById('person-{registration}');"),
            "the appointment never went",
        )
        .await;
        wait_status(&client, &registration, "waiting").await;
        assert!(client.find(Locator::Id(&code_id)).await.is_err());
        assert!(by_id(&client, "message").await.text().await.unwrap().contains("invited again"));
        assert_eq!(focused(&client).await, format!("person-{registration}"));
        screenshot(&client, artefacts, "intake-appointment-5-cancelled-phone.png").await;

        // Invited again by the next round; the appointment cancelled behind the page's back (with the
        // page's own session): Confirm then answers 409, shown as a banner over the redrawn list.
        assert_eq!(publish_and_run_round(base, &site_auth, &today), 1);
        let again = site_appointment(base, &site_auth, &today, &registration)["booking_code"]
            .as_str()
            .unwrap()
            .to_owned();
        client.set_window_size(1024, 900).await.unwrap();
        client.refresh().await.unwrap();
        PAGE.wait_shown(&client, "people-step").await;
        let shown_code = wait_until(DEADLINE, || text_of(&client, &code_id)).await;
        assert_eq!(shown_code.as_deref(), Some(again.as_str()));
        let session_cookie = client.get_named_cookie("intake_session").await.unwrap();
        let (status, _) = post_json(
            &format!("{base}/intake/v1/appointments/{again}/cancellation"),
            &[("Cookie", &format!("intake_session={}", session_cookie.value()))],
            &json!({}),
        );
        assert_eq!(status, 200);
        PAGE.wait_shown(&client, "people-step").await;
        click(&client, &format!("confirm-{again}")).await;
        PAGE.wait_shown(&client, "people-banner").await;
        assert_eq!(focused(&client).await, "people-banner");
        // 409: no longer open (the page's words, the server's after them).
        let banner = by_id(&client, "people-banner").await.text().await.unwrap();
        assert!(banner.contains("không còn xác nhận hay hủy được"), "{banner:?}");
        wait_status(&client, &registration, "waiting").await;
        assert!(client.find(Locator::Id(&box_id)).await.is_err());
        screenshot(&client, artefacts, "intake-appointment-6-closed.png").await;
        client.set_window_size(PHONE.0, PHONE.1).await.unwrap();
        assert_fits_width(&client).await;

        // Cancelled with two presses: listed as cancelled, no button left.
        click(&client, &format!("cancel-{registration}")).await;
        click(&client, &format!("cancel-{registration}")).await;
        wait_status(&client, &registration, "cancelled").await;
        assert!(
            client
                .find(Locator::Id(&format!("cancel-{registration}")))
                .await
                .is_err()
        );
        screenshot(&client, artefacts, "intake-9-cancelled-phone.png").await;
        client.close().await.unwrap();
    });
    test.finish();
}
