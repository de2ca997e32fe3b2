//! The registration page at `/intake/`: a phone verified by a one-time code, the people registered under
//! it, and a form to register one more. Plain HTML, a style sheet and a little JavaScript embedded in the
//! binary, served from this origin only under a strict `Content-Security-Policy`; Vietnamese first, with
//! English. The page talks to `/intake/v1/…` only; the session is an HttpOnly cookie it never reads.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// The page.
pub const PAGE: &str = include_str!("page/intake.html");

/// The page's script.
pub const SCRIPT: &str = include_str!("page/intake.js");

/// The page's style sheet.
pub const STYLE: &str = include_str!("page/intake.css");

/// The route of the page.
pub const PAGE_PATH: &str = "/intake/";

/// The route of the page's script.
pub const SCRIPT_PATH: &str = "/intake/intake.js";

/// The route of the page's style sheet.
pub const STYLE_PATH: &str = "/intake/intake.css";

/// This origin only: no inline script or style, nothing from elsewhere, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// The page, its script and its style sheet, and `/intake` sent on to the page. Stateless: it merges
/// into a router of any state. All three are `no-cache` (revalidated on each load): their paths carry
/// no version, so a cached script must never outlive the page it belongs to.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            PAGE_PATH,
            get(|| async { asset(PAGE, "text/html; charset=utf-8") }),
        )
        .route("/intake", get(|| async { Redirect::permanent(PAGE_PATH) }))
        .route(
            SCRIPT_PATH,
            get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            STYLE_PATH,
            get(|| async { asset(STYLE, "text/css; charset=utf-8") }),
        )
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    /// The attributes of every `<name …>` tag of `html`, in order (a small scanner: the page is ours,
    /// its attributes are double-quoted or bare).
    fn tags(html: &str, name: &str) -> Vec<BTreeMap<String, String>> {
        let opening = format!("<{name}");
        let mut found = Vec::new();
        let mut rest = html;
        while let Some(start) = rest.find(&opening) {
            let after = &rest[start + opening.len()..];
            rest = after;
            if !after.starts_with([' ', '>', '\n']) {
                continue;
            }
            let end = after.find('>').unwrap();
            found.push(attributes(&after[..end]));
        }
        found
    }

    fn attributes(mut text: &str) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        loop {
            text = text.trim_start();
            if text.is_empty() {
                return map;
            }
            let name_end = text
                .find(|c: char| c == '=' || c.is_whitespace())
                .unwrap_or(text.len());
            let name = text[..name_end].to_owned();
            text = &text[name_end..];
            if let Some(quoted) = text.strip_prefix("=\"") {
                let close = quoted.find('"').unwrap();
                map.insert(name, quoted[..close].to_owned());
                text = &quoted[close + 1..];
            } else {
                assert!(!text.starts_with('='), "unquoted attribute {name}");
                map.insert(name, String::new());
            }
        }
    }

    /// The page served by [`router`] on a loopback port: GET `path`, the status, the headers and the body
    /// (no redirect followed).
    fn get_all(paths: &[&'static str]) -> Vec<(u16, BTreeMap<String, String>, String)> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let server = tokio::spawn(async move {
                axum::serve(listener, router::<()>()).await.unwrap();
            });
            let paths = paths.to_vec();
            let answers = tokio::task::spawn_blocking(move || {
                let agent = ureq::Agent::new_with_config(
                    ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .max_redirects(0)
                        .build(),
                );
                paths
                    .into_iter()
                    .map(|path| {
                        let mut response =
                            agent.get(format!("http://{address}{path}")).call().unwrap();
                        let headers = response
                            .headers()
                            .iter()
                            .map(|(name, value)| {
                                (name.as_str().to_owned(), value.to_str().unwrap().to_owned())
                            })
                            .collect();
                        let body = response.body_mut().read_to_string().unwrap();
                        (response.status().as_u16(), headers, body)
                    })
                    .collect()
            })
            .await
            .unwrap();
            server.abort();
            answers
        })
    }

    #[test]
    fn the_page_its_script_and_style_sheet_come_from_this_origin_under_the_policy() {
        let html = tags(PAGE, "script");
        assert_eq!(html.len(), 1, "one script, from a file");
        let script_src = html[0]["src"].clone();
        let stylesheets: Vec<_> = tags(PAGE, "link")
            .into_iter()
            .filter(|link| link.get("rel").map(String::as_str) == Some("stylesheet"))
            .collect();
        assert_eq!(stylesheets.len(), 1);
        let style_href = stylesheets[0]["href"].clone();
        assert_eq!(
            (script_src.as_str(), style_href.as_str()),
            (SCRIPT_PATH, STYLE_PATH)
        );

        let answers = get_all(&[PAGE_PATH, SCRIPT_PATH, STYLE_PATH, "/intake"]);
        for ((status, headers, body), (path, content_type, expected)) in answers.iter().zip([
            (PAGE_PATH, "text/html; charset=utf-8", PAGE),
            (SCRIPT_PATH, "text/javascript; charset=utf-8", SCRIPT),
            (STYLE_PATH, "text/css; charset=utf-8", STYLE),
        ]) {
            assert_eq!(*status, 200, "{path}");
            assert_eq!(headers["content-type"], content_type, "{path}");
            assert_eq!(
                headers["content-security-policy"], CONTENT_SECURITY_POLICY,
                "{path}"
            );
            assert_eq!(headers["cache-control"], "no-cache", "{path}");
            assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
            assert_eq!(body, expected, "{path}");
        }
        let policy: BTreeSet<&str> = CONTENT_SECURITY_POLICY.split("; ").collect();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(policy.contains(directive), "{directive}");
        }
        let (status, headers, _) = &answers[3];
        assert_eq!(*status, 308);
        assert_eq!(headers["location"], PAGE_PATH);
    }

    #[test]
    fn nothing_comes_from_another_origin_and_nothing_is_inline() {
        for (name, text) in [("page", PAGE), ("script", SCRIPT), ("style", STYLE)] {
            for scheme in ["http://", "https://", "url(", "@import", "//cdn", "import("] {
                assert!(!text.contains(scheme), "{name} contains {scheme}");
            }
        }
        for (tag, attribute) in [
            ("script", "src"),
            ("link", "href"),
            ("img", "src"),
            ("form", "action"),
        ] {
            for found in tags(PAGE, tag) {
                if let Some(url) = found.get(attribute) {
                    assert!(
                        url.starts_with("/intake/") || url == "data:,",
                        "<{tag} {attribute}={url:?}> is not of this origin"
                    );
                }
            }
        }
        // The policy refuses inline script and style: none may be needed.
        assert!(tags(PAGE, "style").is_empty());
        assert!(!PAGE.contains(" style="));
        assert!(!PAGE.contains(" onclick=") && !PAGE.contains(" onsubmit="));
        assert!(
            tags(PAGE, "script")
                .iter()
                .all(|script| script.contains_key("src"))
        );
        // The script reaches the API by a relative path.
        assert!(SCRIPT.contains("var API = \"/intake/v1\";"));
    }

    #[test]
    fn every_input_has_a_label_and_every_radio_group_a_legend() {
        let ids: Vec<String> = ["input", "select", "textarea"]
            .iter()
            .flat_map(|tag| tags(PAGE, tag))
            .map(|control| control.get("id").cloned().expect("every control has an id"))
            .collect();
        assert!(ids.len() >= 30, "the form's fields: {ids:?}");
        let labelled: BTreeSet<String> = tags(PAGE, "label")
            .into_iter()
            .filter_map(|label| label.get("for").cloned())
            .collect();
        for id in &ids {
            assert!(labelled.contains(id), "#{id} has no <label for>");
        }
        let unique: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "ids repeat");

        assert_eq!(
            tags(PAGE, "fieldset").len(),
            tags(PAGE, "legend").len(),
            "a legend for every fieldset"
        );
        for chunk in PAGE.split("<fieldset").skip(1) {
            assert!(
                chunk
                    .trim_start_matches(|c| c != '>')
                    .get(1..)
                    .unwrap()
                    .trim_start()
                    .starts_with("<legend>"),
                "a fieldset starts with its legend"
            );
        }
        // Radio buttons sit in fieldsets; none is answered for the person ("no" is not preselected).
        let radios: Vec<_> = tags(PAGE, "input")
            .into_iter()
            .filter(|input| input.get("type").map(String::as_str) == Some("radio"))
            .collect();
        let items = crate::registration::MEDICAL_ITEMS;
        assert_eq!(
            radios.len(),
            3 + items.len() * 3,
            "sex and every medical-history question the form requires"
        );
        assert!(radios.iter().all(|radio| !radio.contains_key("checked")));
        for name in items {
            let values: BTreeSet<&str> = radios
                .iter()
                .filter(|radio| radio["name"] == *name)
                .map(|radio| radio["value"].as_str())
                .collect();
            assert_eq!(values, BTreeSet::from(["yes", "no", "unknown"]), "{name}");
        }
    }

    #[test]
    fn the_ids_the_script_and_the_descriptions_name_are_on_the_page() {
        let page_ids: BTreeSet<String> = PAGE
            .split(" id=\"")
            .skip(1)
            .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
            .collect();
        let scripted: BTreeSet<&str> = SCRIPT
            .split("$(\"")
            .skip(1)
            .map(|rest| &rest[..rest.find('"').unwrap()])
            .collect();
        assert!(scripted.len() > 20, "{scripted:?}");
        // The ids the script gives to what it draws (`item.id = "person-" + id`): prefixes.
        let built: BTreeSet<&str> = SCRIPT
            .split(".id = \"")
            .skip(1)
            .map(|rest| &rest[..rest.find('"').unwrap()])
            .collect();
        assert!(built.contains("person-"), "{built:?}");
        for id in scripted {
            // `$("person-" + id)`: an element the script draws itself, under that prefix.
            if id.ends_with('-') {
                assert!(
                    built.contains(id),
                    "the script looks up #{id}…, which it never builds"
                );
            } else {
                assert!(
                    page_ids.contains(id),
                    "the script uses #{id}, not on the page"
                );
            }
        }
        // The ids the script names in `aria-describedby` or `aria-labelledby`: each on the page or
        // built by the script.
        let mut named_count = 0;
        for attribute in ["aria-describedby", "aria-labelledby"] {
            for rest in SCRIPT
                .split(&format!("setAttribute(\"{attribute}\", "))
                .skip(1)
            {
                let value = &rest[..rest.find(");").unwrap()];
                for id in value
                    .split('"')
                    .skip(1)
                    .step_by(2)
                    .flat_map(|part| part.split(' '))
                    .filter(|id| !id.is_empty())
                {
                    named_count += 1;
                    assert!(
                        page_ids.contains(id) || built.contains(id),
                        "{attribute} names #{id}…, neither on the page nor built by the script"
                    );
                }
            }
        }
        assert!(
            named_count >= 3,
            "{named_count} ids named in the script's aria attributes"
        );
        // Each field the script can mark in error has its error paragraph.
        // (FIELDS in the script: `"json.path": ["element-id", [vi, en]]`.)
        let mut fields = 0;
        for chunk in SCRIPT.split("\": [\"").skip(1) {
            let end = chunk.find('"').unwrap();
            if chunk[end..].starts_with("\", [") {
                let id = &chunk[..end];
                fields += 1;
                assert!(page_ids.contains(id), "#{id}");
                assert!(page_ids.contains(&format!("{id}-error")), "#{id}-error");
            }
        }
        assert!(fields >= 19, "{fields} fields found in the script");
        for described in page_ids
            .iter()
            .filter(|id| id.starts_with("mh-") && !id.ends_with("-error"))
        {
            if !described.ends_with("-yes")
                && !described.ends_with("-no")
                && !described.ends_with("-unknown")
            {
                assert!(
                    page_ids.contains(&format!("{described}-error")),
                    "#{described}-error"
                );
            }
        }
        for tag in ["input", "select", "fieldset"] {
            for element in tags(PAGE, tag) {
                for id in element
                    .get("aria-describedby")
                    .into_iter()
                    .flat_map(|ids| ids.split(' '))
                {
                    assert!(
                        page_ids.contains(id),
                        "aria-describedby names #{id}, not on the page"
                    );
                }
            }
        }
        // Announced: the page's and the form's messages are live regions.
        assert!(
            PAGE.contains("id=\"message\" class=\"message\" role=\"status\" aria-live=\"polite\"")
        );
        assert!(PAGE.contains("id=\"form-message\" class=\"message\" role=\"alert\""));
        assert!(PAGE.contains("id=\"people-banner\" class=\"banner\" role=\"alert\" hidden"));
    }

    #[test]
    fn a_persons_invitation_is_drawn_under_the_ids_check_in_and_the_browser_test_rely_on() {
        // `appointment-<registration_id>`, `booking-code-<registration_id>`, `confirm-<booking_code>`,
        // `cancel-appointment-<booking_code>`.
        for (prefix, key) in [
            ("appointment-", "id"),
            ("booking-code-", "id"),
            ("confirm-", "code"),
            ("cancel-appointment-", "code"),
        ] {
            assert!(
                SCRIPT.contains(&format!(".id = \"{prefix}\" + {key};")),
                "#{prefix}<{key}> is not built"
            );
        }
        // The appointments are read after the registrations; confirmed and cancelled by booking code.
        let registrations = SCRIPT.find("send(\"GET\", \"/registrations\")").unwrap();
        let appointments = SCRIPT.find("send(\"GET\", \"/appointments\")").unwrap();
        assert!(registrations < appointments);
        assert!(SCRIPT.contains(
            "\"/appointments/\" + encodeURIComponent(appointment.booking_code) + \"/\" + action"
        ));
        for action in ["\"confirmation\"", "\"cancellation\""] {
            assert!(SCRIPT.contains(action), "{action}");
        }
        // Only a live appointment is drawn, and only an invitation can be confirmed.
        assert!(SCRIPT.contains(
            "(appointment.status === \"invited\" || appointment.status === \"confirmed\")"
        ));
        assert!(SCRIPT.contains("if (appointment.status === \"invited\") {"));
        // The session in words, in both languages.
        for words in [
            "\"morning\": [\"Buổi sáng\", \"morning\"]",
            "\"afternoon\": [\"Buổi chiều\", \"afternoon\"]",
        ] {
            assert!(SCRIPT.contains(words), "{words}");
        }
    }
}
