//! Keeps `openapi.json` and the router in step: the document parses and holds together, every operation
//! it describes is served, and every route of the sources is described.

#[cfg(test)]
mod openapi_tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]

    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use serde_json::Value;
    use tower::ServiceExt as _;

    use crate::api::{IntakeConfig, IntakeState, OPENAPI, page, router, system_clock};
    use crate::notify::{SendError, Sender};
    use crate::policy::PolicyBook;
    use crate::store::Intake;

    /// Every operation of intake's router, as `(method, path template)`: the list the document must
    /// match exactly. A new route goes here and into `openapi.json`.
    const ROUTES: &[(&str, &str)] = &[
        ("get", "/intake"),
        ("get", "/intake/"),
        ("get", "/intake/intake.css"),
        ("get", "/intake/intake.js"),
        ("post", "/intake/v1/phone-codes"),
        ("post", "/intake/v1/sessions"),
        ("delete", "/intake/v1/sessions"),
        ("get", "/intake/v1/registrations"),
        ("post", "/intake/v1/registrations"),
        ("get", "/intake/v1/registrations/{id}"),
        ("delete", "/intake/v1/registrations/{id}"),
        ("get", "/intake/v1/policy"),
        ("get", "/intake/v1/sites"),
        ("post", "/intake/v1/organisations/staff"),
        ("get", "/intake/v1/appointments"),
        (
            "post",
            "/intake/v1/appointments/{booking_code}/confirmation",
        ),
        (
            "post",
            "/intake/v1/appointments/{booking_code}/cancellation",
        ),
        ("get", "/intake/v1/rounds/{id}"),
        ("post", "/site/v1/capacity"),
        ("post", "/site/v1/rounds/{id}/run"),
        ("get", "/site/v1/appointments"),
        ("post", "/site/v1/appointments/{id}/no-show"),
        ("post", "/site/v1/appointments/{id}/check-in"),
        ("post", "/site/v1/appointments/{id}/screening"),
        ("post", "/site/v1/appointments/{id}/dose"),
        ("post", "/site/v1/doses/{id}/attestation"),
        ("post", "/site/v1/registrations/{id}/classification"),
        ("get", "/site/v1/lots"),
        ("post", "/site/v1/lots"),
        ("post", "/registry/v1/doses/{id}/confirmation"),
    ];

    const HTTP_METHODS: &[&str] = &["get", "post", "put", "patch", "delete", "head", "options"];

    type Route = (String, String);

    fn set(routes: &[(&str, &str)]) -> BTreeSet<Route> {
        routes
            .iter()
            .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
            .collect()
    }

    fn document() -> Value {
        serde_json::from_str(OPENAPI).expect("openapi.json is JSON")
    }

    /// The document's operations.
    fn documented(document: &Value) -> BTreeSet<Route> {
        let paths = document["paths"].as_object().expect("paths is an object");
        let mut routes = BTreeSet::new();
        for (path, item) in paths {
            for method in item.as_object().expect("a path item is an object").keys() {
                if HTTP_METHODS.contains(&method.as_str()) {
                    routes.insert((method.clone(), path.clone()));
                }
            }
        }
        routes
    }

    fn api_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api")
    }

    /// The operations the router should serve.
    fn expected() -> BTreeSet<Route> {
        set(ROUTES)
    }

    /// The path a `route` call names: a string literal, or one of the page's constants.
    fn route_path(argument: &str) -> String {
        let argument = argument.trim();
        if let Some(literal) = argument.strip_prefix('"') {
            return literal.trim_end_matches('"').to_owned();
        }
        match argument {
            "PAGE_PATH" => page::PAGE_PATH.to_owned(),
            "SCRIPT_PATH" => page::SCRIPT_PATH.to_owned(),
            "STYLE_PATH" => page::STYLE_PATH.to_owned(),
            other => panic!("a route's path is `{other}`: teach route_path to read it"),
        }
    }

    /// Every `(method, path)` the `route` calls of `source` declare.
    fn declared_routes(source: &str) -> Vec<Route> {
        let marker = concat!(".route", "(");
        let mut routes = Vec::new();
        let mut rest = source;
        while let Some(start) = rest.find(marker) {
            let after = &rest[start + marker.len()..];
            let mut depth = 1usize;
            let mut end = after.len();
            for (index, c) in after.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = index;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let call = &after[..end];
            let (path, handlers) = call.split_once(',').expect("route(path, handlers)");
            let path = route_path(path);
            let mut found = false;
            for method in HTTP_METHODS {
                let needle = format!("{method}(");
                let mut search = handlers;
                while let Some(at) = search.find(&needle) {
                    let before = search[..at].chars().last();
                    if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                        routes.push(((*method).to_owned(), path.clone()));
                        found = true;
                        break;
                    }
                    search = &search[at + needle.len()..];
                }
            }
            assert!(found, "no method found for the route {path}");
            rest = &after[end..];
        }
        routes
    }

    /// Every route declared in `src/api/*.rs` (this file aside).
    fn routes_in_sources() -> BTreeSet<Route> {
        let mut routes = BTreeSet::new();
        for entry in std::fs::read_dir(api_dir()).unwrap() {
            let path = entry.unwrap().path();
            let is_source = path.extension().is_some_and(|ext| ext == "rs");
            if is_source && !path.ends_with("openapi_check.rs") {
                let source = std::fs::read_to_string(&path).unwrap();
                routes.extend(declared_routes(&source));
            }
        }
        routes
    }

    struct Silent;

    impl Sender for Silent {
        fn send(&self, _phone: &str, _kind: &str, _text: &str) -> Result<(), SendError> {
            Ok(())
        }
    }

    async fn state() -> IntakeState {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).unwrap();
        let dir = std::env::temp_dir().join("vaxcert-tests").join(format!(
            "intake-openapi-{}-{}",
            std::process::id(),
            hex::encode(random)
        ));
        let intake = Intake::open(&format!("sqlite:{}", dir.join("intake.sqlite").display()))
            .await
            .unwrap();
        IntakeState {
            intake,
            clock: system_clock(),
            sms: Arc::new(Silent),
            policies: Arc::new(PolicyBook::builtin().unwrap()),
            config: Arc::new(IntakeConfig::default()),
        }
    }

    /// Whether the router answers `method path` with a handler of its own: a request no route matches
    /// reaches the test's fallback (418), one to a path with other methods is 405.
    async fn served(app: &axum::Router, method: &str, path: &str) -> bool {
        let uri = path.replace("{id}", "0123456789abcdef0123456789abcdef");
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let status = app.clone().oneshot(request).await.unwrap().status();
        status != StatusCode::IM_A_TEAPOT && status != StatusCode::METHOD_NOT_ALLOWED
    }

    #[test]
    fn the_document_is_openapi_3_1_and_every_reference_resolves() {
        let document = document();
        assert_eq!(document["openapi"], "3.1.0");
        let mut references = Vec::new();
        collect_references(&document, &mut references);
        assert!(!references.is_empty());
        for reference in references {
            let pointer = reference
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{reference} is not local"));
            assert!(
                document.pointer(pointer).is_some(),
                "{reference} resolves to nothing"
            );
        }
        for (method, path) in documented(&document) {
            let item = &document["paths"][&path];
            let operation = &item[&method];
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses
                    .keys()
                    .any(|status| status.starts_with('2') || status.starts_with('3')),
                "{method} {path} has no success answer"
            );
            let declared: Vec<&Value> = item["parameters"]
                .as_array()
                .into_iter()
                .chain(operation["parameters"].as_array())
                .flatten()
                .collect();
            for name in path
                .split('/')
                .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
            {
                assert!(
                    declared
                        .iter()
                        .any(|parameter| parameter["name"] == name && parameter["in"] == "path"),
                    "{method} {path} does not declare its parameter {name}"
                );
            }
            for requirement in operation["security"].as_array().into_iter().flatten() {
                for scheme in requirement.as_object().unwrap().keys() {
                    assert!(
                        document["components"]["securitySchemes"][scheme].is_object(),
                        "{method} {path} names the unknown security scheme {scheme}"
                    );
                }
            }
        }
    }

    fn collect_references(value: &Value, into: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get("$ref") {
                    into.push(reference.clone());
                }
                map.values()
                    .for_each(|value| collect_references(value, into));
            }
            Value::Array(items) => items
                .iter()
                .for_each(|value| collect_references(value, into)),
            _ => {}
        }
    }

    #[test]
    fn the_document_describes_exactly_the_listed_routes() {
        assert_eq!(documented(&document()), set(ROUTES));
    }

    #[test]
    fn every_route_of_the_sources_is_listed() {
        let declared = routes_in_sources();
        assert!(declared.contains(&("post".to_owned(), "/intake/v1/phone-codes".to_owned())));
        assert_eq!(declared, expected());
    }

    #[tokio::test]
    async fn every_listed_route_is_served_and_nothing_else() {
        let app = router(state().await).fallback(|| async { StatusCode::IM_A_TEAPOT });
        assert!(!served(&app, "get", "/intake/v1/nothing-here").await);
        assert!(!served(&app, "put", "/intake/v1/sessions").await);
        for (method, path) in set(ROUTES) {
            let should = expected().contains(&(method.clone(), path.clone()));
            assert_eq!(
                served(&app, &method, &path).await,
                should,
                "{method} {path}: served should be {should}"
            );
        }
    }
}
