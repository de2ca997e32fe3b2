-- The citizen portal (issue 10). Portable like 0001: TEXT and BIGINT columns only.
-- No identity document number and no phone number is stored in the clear: `identity_key` is a keyed
-- hash (HMAC-SHA-256 under the portal's secret) of the document number and date of birth, `account_key`
-- one of the phone number; `phone_sealed` is the phone number encrypted (AES-256-GCM under a key derived
-- from the same secret), opened only to send a one-time code to it.

-- Who may log in to see a dose event's certificates: written in the dose event's recording transaction
-- when the registry sent `id_number` and `phone`.
CREATE TABLE holder_contacts (
    dose_event_id TEXT PRIMARY KEY REFERENCES dose_events (dose_event_id),
    identity_key TEXT NOT NULL,
    account_key TEXT NOT NULL,
    phone_sealed TEXT NOT NULL
);

CREATE INDEX holder_contacts_identity ON holder_contacts (identity_key);
CREATE INDEX holder_contacts_account ON holder_contacts (account_key);

-- One row per identity that asked for a code, known to the ledger or not (so that a lock reveals
-- nothing): the current code's keyed hash, its expiry, the wrong tries and the lock.
CREATE TABLE citizen_logins (
    identity_key TEXT PRIMARY KEY,
    code_hash TEXT,
    code_expires_at BIGINT NOT NULL,
    code_sent_at BIGINT NOT NULL,
    wrong_tries BIGINT NOT NULL,
    locked_until BIGINT NOT NULL
);

-- Open sessions, by the SHA-256 of their cookie; a session sees the certificates of one account.
CREATE TABLE citizen_sessions (
    token_hash TEXT PRIMARY KEY,
    account_key TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
