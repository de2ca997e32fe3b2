-- Intake: registrations, sites, capacity, scheduling rounds, appointments, screening, doses, the issuer
-- outbox and the notification outbox. Portable SQL (SQLite and PostgreSQL): TEXT and BIGINT columns,
-- times as unix seconds, days as 'YYYY-MM-DD', ids as random lowercase hex.

-- Bearer tokens of sites' staff, organisations and the registry, stored as SHA-256 hex.
CREATE TABLE api_tokens (
    token_hash   TEXT PRIMARY KEY,
    role         TEXT NOT NULL,           -- site | organisation | registry
    subject      TEXT NOT NULL,           -- the site code, the organisation's name, or 'registry'
    name         TEXT NOT NULL,           -- who holds it (a staff member's handle), for the audit trail
    created_at   BIGINT NOT NULL,
    disabled_at  BIGINT
);

-- Registrants' phones: one-time codes and sessions.
CREATE TABLE phone_codes (
    phone        TEXT PRIMARY KEY,        -- E.164
    code_hash    TEXT NOT NULL,
    issued_at    BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    failures     BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT
);

CREATE TABLE phone_sessions (
    token_hash   TEXT PRIMARY KEY,
    phone        TEXT NOT NULL,
    expires_at   BIGINT NOT NULL
);

-- One row per person and campaign; `status` waiting (for a first or a next dose) | invited |
-- completed (the series is done) | cancelled | refused (contraindicated at screening).
CREATE TABLE registrations (
    registration_id  TEXT PRIMARY KEY,
    campaign         TEXT NOT NULL,
    phone            TEXT NOT NULL,           -- the managing phone (E.164)
    organisation     TEXT,                    -- set when an organisation registered the person
    full_name        TEXT NOT NULL,
    dob              TEXT NOT NULL,
    sex              TEXT NOT NULL,           -- male | female | other
    id_kind          TEXT NOT NULL,           -- citizen_id | old_id | passport
    id_number        TEXT NOT NULL,
    occupation       TEXT NOT NULL,
    province_code    TEXT NOT NULL,
    commune_code     TEXT NOT NULL,
    admin_scheme     TEXT NOT NULL,           -- the administrative map's version the codes belong to
    declared_group   TEXT NOT NULL,           -- as the registrant declared it
    priority_group   TEXT NOT NULL,           -- as the site classified it (the declared one until then)
    policy_id        TEXT NOT NULL,
    policy_version   BIGINT NOT NULL,
    preferred_site   TEXT NOT NULL,
    preferred_date   TEXT,
    health_insurance TEXT,
    ethnicity        TEXT,
    nationality      TEXT,
    medical_history  TEXT NOT NULL,           -- JSON object: item → yes | no | unknown
    caution          BIGINT NOT NULL DEFAULT 0, -- 1: only hospital-grade sites may take this person
    postponed_until  TEXT,                    -- no invitation before this day (screening postponed)
    status           TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    cancelled_at     BIGINT
);
-- One active registration per identity document and campaign.
CREATE UNIQUE INDEX registrations_one_active_per_document
    ON registrations (campaign, id_kind, id_number) WHERE status <> 'cancelled';
CREATE INDEX registrations_by_phone ON registrations (phone);
CREATE INDEX registrations_waiting ON registrations (preferred_site, status);

-- A site's re-classification of a registration's priority group; the declared group stays on record.
CREATE TABLE reclassifications (
    reclassification_id TEXT PRIMARY KEY,
    registration_id     TEXT NOT NULL REFERENCES registrations (registration_id),
    from_group          TEXT NOT NULL,
    to_group            TEXT NOT NULL,
    site_code           TEXT NOT NULL,
    staff               TEXT NOT NULL,
    reason              TEXT NOT NULL,
    at                  BIGINT NOT NULL
);

CREATE TABLE sites (
    site_code      TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    province_code  TEXT NOT NULL,
    hospital_grade BIGINT NOT NULL,          -- 1: may take caution cases
    created_at     BIGINT NOT NULL
);

CREATE TABLE vaccine_lots (
    site_code       TEXT NOT NULL REFERENCES sites (site_code),
    lot_number      TEXT NOT NULL,
    product         TEXT NOT NULL,           -- the EU value set's medicinal product (mp)
    doses_per_vial  BIGINT NOT NULL,
    expires_on      TEXT NOT NULL,
    doses_available BIGINT NOT NULL,
    PRIMARY KEY (site_code, lot_number)
);

-- Capacity a site publishes: slots for one day, session and product.
CREATE TABLE capacity (
    capacity_id   TEXT PRIMARY KEY,
    site_code     TEXT NOT NULL REFERENCES sites (site_code),
    day           TEXT NOT NULL,
    session       TEXT NOT NULL,             -- morning | afternoon
    product       TEXT NOT NULL,
    slots         BIGINT NOT NULL,
    reserved      BIGINT NOT NULL DEFAULT 0, -- live appointments against it; never above slots
    published_by  TEXT NOT NULL,
    published_at  BIGINT NOT NULL,
    UNIQUE (site_code, day, session, product)
);

-- A scheduling round over one capacity entry: the seed's SHA-256 is published before the round runs,
-- the seed itself when it has run.
CREATE TABLE rounds (
    round_id     TEXT PRIMARY KEY,
    capacity_id  TEXT NOT NULL REFERENCES capacity (capacity_id),
    seed_hash    TEXT NOT NULL,
    seed         TEXT,                       -- revealed once run; kept secret until then
    created_at   BIGINT NOT NULL,
    ran_at       BIGINT,
    invited      BIGINT
);

-- status: invited | confirmed | checked_in | vaccinated | cancelled | no_show | postponed | refused
CREATE TABLE appointments (
    appointment_id  TEXT PRIMARY KEY,
    registration_id TEXT NOT NULL REFERENCES registrations (registration_id),
    capacity_id     TEXT NOT NULL REFERENCES capacity (capacity_id),
    round_id        TEXT REFERENCES rounds (round_id),
    dose_number     BIGINT NOT NULL,
    booking_code    TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    reminded_at     BIGINT                   -- when the day-before reminder was written to the outbox
);
-- One live appointment per person and dose.
CREATE UNIQUE INDEX appointments_one_live_per_dose
    ON appointments (registration_id, dose_number)
    WHERE status IN ('invited', 'confirmed', 'checked_in');
CREATE INDEX appointments_by_capacity ON appointments (capacity_id, status);

-- outcome: eligible | caution | postpone | contraindicated
CREATE TABLE screenings (
    screening_id   TEXT PRIMARY KEY,
    appointment_id TEXT NOT NULL REFERENCES appointments (appointment_id),
    answers        TEXT NOT NULL,            -- JSON
    vitals         TEXT NOT NULL,            -- JSON
    outcome        TEXT NOT NULL,
    reasons        TEXT NOT NULL,            -- JSON array of rule codes
    staff          TEXT NOT NULL,
    at             BIGINT NOT NULL
);

-- A dose as the site recorded it. The dose event id is immutable; a person's dose n is recorded once.
CREATE TABLE doses (
    dose_event_id   TEXT PRIMARY KEY,
    registration_id TEXT NOT NULL REFERENCES registrations (registration_id),
    appointment_id  TEXT NOT NULL UNIQUE REFERENCES appointments (appointment_id),
    site_code       TEXT NOT NULL REFERENCES sites (site_code),
    product         TEXT NOT NULL,
    manufacturer    TEXT NOT NULL,
    prophylaxis     TEXT NOT NULL,           -- vp
    lot_number      TEXT NOT NULL,
    dose_number     BIGINT NOT NULL,
    total_doses     BIGINT NOT NULL,
    vaccinated_on   TEXT NOT NULL,
    recorded_by     TEXT NOT NULL,
    recorded_at     BIGINT NOT NULL,
    record_hash     TEXT NOT NULL,           -- 'sha256:' + hex of the canonical record
    attested_by     TEXT,                    -- the site's attestation
    attested_at     BIGINT,
    confirmed_at    BIGINT,                  -- the registry's confirmation
    registry_record_id TEXT UNIQUE,
    uvci            TEXT,                    -- the issuer's answer
    certificate_exp BIGINT,
    UNIQUE (registration_id, dose_number)
);

-- Confirmed doses waiting for the issuer: delivered at least once, with the same idempotency key.
CREATE TABLE issuer_outbox (
    dose_event_id   TEXT PRIMARY KEY REFERENCES doses (dose_event_id),
    body            TEXT NOT NULL,           -- the dose confirmation JSON, sent as is on every attempt
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    delivered_at    BIGINT,
    failed          TEXT,                    -- a refusal no retry can mend (409 / 422): the status and field
    last_error      TEXT                     -- the last transient failure, without personal data
);
CREATE INDEX issuer_outbox_due ON issuer_outbox (delivered_at, next_attempt_at);

-- Messages to people, delivered by a pluggable sender.
CREATE TABLE notifications (
    notification_id TEXT PRIMARY KEY,
    phone           TEXT NOT NULL,
    kind            TEXT NOT NULL,
    text            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT,
    attempts        BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX notifications_pending ON notifications (sent_at, created_at);
