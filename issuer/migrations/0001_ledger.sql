-- The certificate ledger. One portable schema: this file runs unchanged on SQLite and PostgreSQL, so it
-- uses only TEXT and BIGINT columns, CHECK/UNIQUE/PRIMARY KEY/REFERENCES constraints and plain indexes.
-- Hashes are lowercase hex, times unix seconds, kids standard base64.

-- What the registry sent, once per dose event: the primary key makes issuance exactly-once.
CREATE TABLE dose_events (
    dose_event_id TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    request_json TEXT NOT NULL,
    supersedes TEXT,
    received_at BIGINT NOT NULL
);

-- Every certificate issued: generation 0 is written with its dose event, +1 per renewal.
CREATE TABLE certificates (
    uvci TEXT PRIMARY KEY,
    dose_event_id TEXT NOT NULL REFERENCES dose_events (dose_event_id),
    generation BIGINT NOT NULL,
    hc1 TEXT NOT NULL,
    kid TEXT NOT NULL,
    iat BIGINT NOT NULL,
    exp BIGINT NOT NULL,
    payload_hash TEXT NOT NULL,
    uci_hash TEXT NOT NULL,
    country_uci_hash TEXT NOT NULL,
    signature_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'revoked')),
    status_reason TEXT,
    status_changed_at BIGINT,
    superseded_by TEXT,
    UNIQUE (dose_event_id, generation)
);

-- `expiring` (status = 'active', exp in a window) and `revoked_hashes` (status = 'revoked', exp > now).
CREATE INDEX certificates_status_exp ON certificates (status, exp);

-- Named counters, updated in the writing transaction (the row lock orders concurrent writers on
-- PostgreSQL; SQLite has one writer). `audit_seq` is the last audit sequence number handed out.
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

INSERT INTO counters (name, value) VALUES ('audit_seq', 0);

-- Append-only: the code only ever INSERTs here. Ids and reason codes only, never personal data.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('issue', 'renew', 'revoke', 'supersede', 'client_created', 'client_disabled')),
    dose_event_id TEXT,
    uvci TEXT,
    actor TEXT NOT NULL,
    detail TEXT
);

-- The revocation list's version is the sequence number of the latest `revoke` entry.
CREATE INDEX audit_log_action_seq ON audit_log (action, seq);

-- Clients of the internal API, by the SHA-256 of their bearer token; scopes comma-separated.
CREATE TABLE api_clients (
    name TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT
);
