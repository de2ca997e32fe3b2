//! Imported foreign DSC lists (`--dsc-list`: the EU gateway shape `vaxcert trust-list import` writes),
//! kept fresh like the trust list: each source re-read every `--refresh-every` (conditional GET for a
//! URL, the file read again), a list that fails to load or to decode logged and the last good one kept.
//! [`DscLists`] is driven by `serve verifier`'s refresher; [`ForeignDscs`] carries its DSCs to the
//! verifier of `vaxcert up`, which [`keep_dsc_lists_fresh`] keeps current.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use issuer::service::Clock;
use serde_json::{Value, json};
use trust_list::ListedDsc;

use crate::fetch::Source;
use crate::trust::dscs_from_gateway_list;

/// The imported DSC lists of a verifier, each kept fresh from its source.
#[derive(Debug)]
pub struct DscLists {
    lists: Vec<DscList>,
}

#[derive(Debug)]
struct DscList {
    source: Source,
    /// The last good document, to tell a rewritten file from an unchanged one.
    bytes: Option<Vec<u8>>,
    dscs: Vec<ListedDsc>,
    /// When the list in use was last found current (fetched, 304, or the file re-read).
    checked_at: Option<i64>,
}

/// One DSC list as `/healthz` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DscListStatus {
    /// The file or URL (a URL without credentials or query).
    pub source: String,
    /// Whether a list was ever loaded from it.
    pub loaded: bool,
    /// The DSCs of the list in use.
    pub count: usize,
    /// When the list in use was last found current (Unix seconds).
    pub checked_at: Option<i64>,
}

impl DscLists {
    /// The lists of `sources` (files or `http(s)://` URLs), none loaded yet.
    pub fn new(sources: &[String]) -> DscLists {
        DscLists {
            lists: sources
                .iter()
                .map(|source| DscList {
                    source: Source::new(source),
                    bytes: None,
                    dscs: Vec::new(),
                    checked_at: None,
                })
                .collect(),
        }
    }

    /// Re-reads every list once at `now` (blocking I/O); returns whether the DSCs trusted changed. A
    /// failed fetch or a list that does not decode is logged and the last good list kept.
    pub fn refresh(&mut self, now: i64) -> bool {
        let mut changed = false;
        for list in &mut self.lists {
            changed |= list.refresh(now);
        }
        changed
    }

    /// The DSCs of every list loaded.
    pub fn dscs(&self) -> Vec<ListedDsc> {
        self.lists
            .iter()
            .flat_map(|list| list.dscs.iter().cloned())
            .collect()
    }

    /// Each list's state, in the order of the sources.
    pub fn statuses(&self) -> Vec<DscListStatus> {
        self.lists
            .iter()
            .map(|list| DscListStatus {
                source: shown(list.source.location()),
                loaded: list.bytes.is_some(),
                count: list.dscs.len(),
                checked_at: list.checked_at,
            })
            .collect()
    }
}

impl DscList {
    fn refresh(&mut self, now: i64) -> bool {
        let source = shown(self.source.location());
        let (bytes, validators) = match self.source.poll() {
            Ok(Some(fetched)) => fetched,
            Ok(None) => {
                self.checked_at = Some(now);
                return false;
            }
            Err(error) => {
                tracing::warn!(list = %source, error = %error, "DSC list not fetched; the last good one stays");
                return false;
            }
        };
        if self.bytes.as_deref() == Some(bytes.as_slice()) {
            self.source.accept(validators);
            self.checked_at = Some(now);
            return false;
        }
        match dscs_from_gateway_list(&bytes, &source) {
            Ok(dscs) => {
                tracing::info!(list = %source, count = dscs.len(), "DSC list loaded");
                self.source.accept(validators);
                self.dscs = dscs;
                self.bytes = Some(bytes);
                self.checked_at = Some(now);
                true
            }
            Err(error) => {
                tracing::warn!(list = %source, error = format!("{error:#}"), "DSC list refused; the last good one stays");
                false
            }
        }
    }
}

/// A source as shown in logs and `/healthz`: a URL without its user information and query.
fn shown(source: &str) -> String {
    let Some((scheme, rest)) = source.split_once("://") else {
        return source.to_owned();
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let rest = match rest.split_once('/') {
        Some((authority, path)) => format!(
            "{}/{path}",
            authority.rsplit('@').next().unwrap_or_default()
        ),
        None => rest.rsplit('@').next().unwrap_or_default().to_owned(),
    };
    format!("{scheme}://{rest}")
}

/// The lists' states as the `dsc_lists` array of `/healthz` at `now`.
pub fn statuses_json(statuses: &[DscListStatus], now: i64) -> Value {
    Value::Array(
        statuses
            .iter()
            .map(|status| {
                let mut entry = json!({
                    "source": status.source,
                    "loaded": status.loaded,
                    "count": status.count,
                });
                if let (Some(checked_at), Some(object)) = (status.checked_at, entry.as_object_mut())
                {
                    object.insert(
                        String::from("age_s"),
                        json!(now.saturating_sub(checked_at).max(0)),
                    );
                }
                entry
            })
            .collect(),
    )
}

/// The foreign DSCs a verifier trusts, shared with the task keeping them fresh, a generation counter
/// that moves whenever they change, and the lists' states for `/healthz`.
#[derive(Debug, Clone, Default)]
pub struct ForeignDscs(Arc<RwLock<Foreign>>);

#[derive(Debug, Default)]
struct Foreign {
    generation: u64,
    dscs: Arc<[ListedDsc]>,
    statuses: Vec<DscListStatus>,
}

impl ForeignDscs {
    /// The DSCs `lists` hold now.
    pub fn new(lists: &DscLists) -> ForeignDscs {
        ForeignDscs(Arc::new(RwLock::new(Foreign {
            generation: 0,
            dscs: Arc::from(lists.dscs()),
            statuses: lists.statuses(),
        })))
    }

    /// The generation and the DSCs of it.
    pub fn current(&self) -> (u64, Arc<[ListedDsc]>) {
        let current = self.0.read().unwrap_or_else(PoisonError::into_inner);
        (current.generation, Arc::clone(&current.dscs))
    }

    /// Each list's state as last refreshed, in the order of the sources (empty without `--dsc-list`).
    pub fn statuses(&self) -> Vec<DscListStatus> {
        let current = self.0.read().unwrap_or_else(PoisonError::into_inner);
        current.statuses.clone()
    }

    /// Takes the states of `lists` just refreshed and, when their DSCs `changed`, the DSCs (a new
    /// generation).
    fn update(&self, lists: &DscLists, changed: bool) {
        let mut current = self.0.write().unwrap_or_else(PoisonError::into_inner);
        current.statuses = lists.statuses();
        if changed {
            current.generation = current.generation.wrapping_add(1);
            current.dscs = Arc::from(lists.dscs());
        }
    }
}

/// Refreshes `lists` at `clock` every `every` (the fetches off the async workers) and publishes each
/// change and every list's state in `foreign`, forever: run it as a task and abort it at shutdown.
pub async fn keep_dsc_lists_fresh(
    mut lists: DscLists,
    foreign: ForeignDscs,
    clock: Clock,
    every: Duration,
) {
    let mut ticks = crate::serving::ticks(every).await;
    loop {
        ticks.tick().await;
        let now = clock();
        let refreshed = tokio::task::spawn_blocking(move || {
            let changed = lists.refresh(now);
            (lists, changed)
        })
        .await;
        let Ok((refreshed, changed)) = refreshed else {
            return;
        };
        lists = refreshed;
        foreign.update(&lists, changed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_shown_without_credentials_or_query() {
        assert_eq!(shown("./data/de.json"), "./data/de.json");
        assert_eq!(
            shown("https://user:pw@lists.example/de.json?token=x"),
            "https://lists.example/de.json"
        );
        assert_eq!(shown("http://pw@host?x"), "http://host");
    }

    #[test]
    fn a_missing_file_is_not_loaded_and_keeps_nothing() {
        let mut lists = DscLists::new(&[String::from("/nonexistent/vaxcert/dsc-list.json")]);
        assert!(!lists.refresh(100));
        let statuses = lists.statuses();
        assert_eq!(statuses.len(), 1);
        assert!(
            statuses
                .iter()
                .all(|status| !status.loaded && status.count == 0)
        );
        assert_eq!(
            statuses_json(&statuses, 100),
            json!([{"source": "/nonexistent/vaxcert/dsc-list.json", "loaded": false, "count": 0}])
        );
    }
}
