//! The citizen portal of an installation: its secret (`<data>/citizen-portal.secret`, 0600, 32 random
//! bytes, created by `vaxcert up` on first run) and the development text-message sender, which appends
//! one JSON line per message to `<data>/outbox/sms.jsonl` (0600, in a 0700 folder) instead of sending it —
//! the portal's one-time codes and intake's messages alike.
//!
//! ```text
//! <data>/citizen-portal.secret   0600; keys the ledger's hashes of identities and phone numbers
//! <data>/outbox/sms.jsonl        0600; {"at", "kind", "to", "text"} per line (development only)
//! ```

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result, anyhow, bail};
use issuer::citizen::{PortalSecret, SECRET_BYTES, SmsMessage, SmsSender};
use serde_json::json;

use crate::commands::keys::{DIRECTORY_MODE, SECRET_MODE, write_atomically};
use crate::node::create_data_directory;

/// The portal secret's file under the data directory.
pub const PORTAL_SECRET_FILE: &str = "citizen-portal.secret";

/// The development outbox of text messages, under the data directory.
pub const SMS_OUTBOX_FILE: &str = "outbox/sms.jsonl";

/// The portal secret of the installation at `data`, created (0600, random) when `create` and missing.
/// Returns it and whether it was created.
pub fn portal_secret(data: &Path, create: bool) -> Result<(Arc<PortalSecret>, bool)> {
    let created = create && create_portal_secret(data)?;
    let path = data.join(PORTAL_SECRET_FILE);
    if !path.exists() {
        bail!(
            "no citizen portal secret at {}: create {SECRET_BYTES} random bytes there (0600), e.g. `head -c {SECRET_BYTES} /dev/urandom > {}` — keep it with the keystore's backups: without it no citizen can log in",
            path.display(),
            path.display()
        );
    }
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let secret = PortalSecret::from_bytes(&bytes)
        .map_err(|_| anyhow!("{} must hold exactly {SECRET_BYTES} bytes", path.display()))?;
    Ok((Arc::new(secret), created))
}

/// Creates the portal secret of the installation at `data` (0600, random) unless it exists, without
/// reading it; whether it did.
pub fn create_portal_secret(data: &Path) -> Result<bool> {
    if data.join(PORTAL_SECRET_FILE).exists() {
        return Ok(false);
    }
    let bytes = PortalSecret::generate().map_err(|_| anyhow!("no randomness"))?;
    create_data_directory(data)?;
    write_atomically(data, PORTAL_SECRET_FILE, bytes.as_ref(), SECRET_MODE)
        .context("cannot write the citizen portal secret")?;
    Ok(true)
}

/// The development sender: each message appended as one JSON line to [`SMS_OUTBOX_FILE`].
pub struct JsonlOutbox {
    path: PathBuf,
    lock: Mutex<()>,
}

impl std::fmt::Debug for JsonlOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonlOutbox")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl JsonlOutbox {
    /// The outbox of the installation at `data` (its folder is created, 0700, when missing).
    pub fn new(data: &Path) -> Result<JsonlOutbox> {
        let path = data.join(SMS_OUTBOX_FILE);
        if let Some(folder) = path.parent() {
            DirBuilder::new()
                .recursive(true)
                .mode(DIRECTORY_MODE)
                .create(folder)
                .with_context(|| format!("cannot create {}", folder.display()))?;
        }
        Ok(JsonlOutbox {
            path,
            lock: Mutex::new(()),
        })
    }

    /// Where the messages go.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl JsonlOutbox {
    /// Appends one message as a JSON line `{"at", "kind", "to", "text"}`, synced to disk.
    fn append(&self, kind: &str, to: &str, text: &str) -> std::io::Result<()> {
        self.append_all(&[(kind, to, text)])
    }

    /// Appends messages `(kind, to, text)` as JSON lines in one write, synced to disk once.
    fn append_all(&self, messages: &[(&str, &str, &str)]) -> std::io::Result<()> {
        let at = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(std::io::Error::other)?;
        let mut line = String::new();
        for (kind, to, text) in messages {
            line.push_str(&json!({"at": at, "kind": kind, "to": to, "text": text}).to_string());
            line.push('\n');
        }
        // One writer at a time, one write per line: lines never interleave.
        let _guard = self
            .lock
            .lock()
            .map_err(|_| std::io::Error::other("outbox lock poisoned"))?;
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(SECRET_MODE)
            .open(&self.path)?;
        file.write_all(line.as_bytes())?;
        file.sync_data()
    }
}

impl SmsSender for JsonlOutbox {
    fn send(&self, message: SmsMessage) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.append("one_time_code", &message.to, &message.text)?)
    }
}

/// Intake's messages (registration one-time codes and the notification outbox's) go to the same file.
impl intake::notify::Sender for JsonlOutbox {
    fn send(&self, phone: &str, kind: &str, text: &str) -> Result<(), intake::notify::SendError> {
        self.append(kind, phone, text)
            .map_err(|error| intake::notify::SendError(error.to_string()))
    }

    /// The whole batch in one write and one sync (a sync a message made the file the outbox's limit).
    fn send_many(
        &self,
        messages: &[intake::store::OutboxMessage],
    ) -> (usize, Option<intake::notify::SendError>) {
        let lines: Vec<(&str, &str, &str)> = messages
            .iter()
            .map(|m| (m.kind.as_str(), m.phone.as_str(), m.text.as_str()))
            .collect();
        match self.append_all(&lines) {
            Ok(()) => (messages.len(), None),
            Err(error) => (0, Some(intake::notify::SendError(error.to_string()))),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use std::os::unix::fs::PermissionsExt as _;

    use issuer::citizen::{SmsMessage, SmsSender as _};
    use zeroize::Zeroizing;

    use super::{JsonlOutbox, portal_secret};

    fn temp_dir(label: &str) -> std::path::PathBuf {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).unwrap();
        let dir = std::env::temp_dir().join(format!("vaxcert-{label}-{}", hex::encode(bytes)));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_secret_is_created_once_private_and_then_read_back() {
        let data = temp_dir("portal-secret");
        assert!(
            portal_secret(&data, false).is_err(),
            "production never creates it"
        );
        let (first, created) = portal_secret(&data, true).unwrap();
        assert!(created);
        let mode = std::fs::metadata(data.join(super::PORTAL_SECRET_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (second, created) = portal_secret(&data, true).unwrap();
        assert!(!created);
        assert_eq!(
            first.account_key("+84900000001"),
            second.account_key("+84900000001")
        );
    }

    /// A pass of the notification worker is appended whole, in order, after what was there.
    #[test]
    fn a_batch_of_notifications_is_appended_in_order() {
        use intake::notify::Sender as _;
        let data = temp_dir("outbox-batch");
        let outbox = JsonlOutbox::new(&data).unwrap();
        outbox
            .append("one_time_code", "+84900000009", "first")
            .unwrap();
        let messages: Vec<intake::store::OutboxMessage> = (0..3)
            .map(|i| intake::store::OutboxMessage {
                notification_id: format!("n{i}"),
                phone: format!("+8490000000{i}"),
                kind: "registration_received".to_owned(),
                text: format!("message {i}"),
                created_at: 0,
                sent_at: None,
            })
            .collect();
        let (taken, error) = outbox.send_many(&messages);
        assert_eq!((taken, error), (3, None));
        let text = std::fs::read_to_string(outbox.path()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["text"], "first");
        for i in 0..3 {
            assert_eq!(lines[i + 1]["to"], format!("+8490000000{i}"));
            assert_eq!(lines[i + 1]["kind"], "registration_received");
            assert_eq!(lines[i + 1]["text"], format!("message {i}"));
        }
    }

    #[test]
    fn messages_are_appended_as_json_lines_to_a_private_file() {
        let data = temp_dir("outbox");
        let outbox = JsonlOutbox::new(&data).unwrap();
        for code in ["111111", "222222"] {
            outbox
                .send(SmsMessage {
                    to: Zeroizing::new("+84900000001".to_owned()),
                    text: Zeroizing::new(format!("code {code}")),
                })
                .unwrap();
        }
        let text = std::fs::read_to_string(outbox.path()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["to"], "+84900000001");
        assert_eq!(lines[1]["text"], "code 222222");
        assert_eq!(lines[0]["kind"], "one_time_code");
        let mode = std::fs::metadata(outbox.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
