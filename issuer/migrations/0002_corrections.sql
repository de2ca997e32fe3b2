-- Scoped corrections. Portable like 0001: TEXT columns, plain UPDATE … FROM (PostgreSQL, SQLite ≥ 3.33).

-- The API client (or `cli`) that confirmed the dose event: only it, or a client with the `correct`
-- scope, may supersede the dose event. Filled in for the dose events recorded before, from their
-- `issue` audit entries (one per dose event).
ALTER TABLE dose_events ADD COLUMN confirmed_by TEXT;

-- The dose event that corrected this one. Set once, by a conditional UPDATE (`… WHERE superseded_by IS
-- NULL`) in the correcting transaction: of concurrent corrections of one dose event exactly one sets it,
-- the others match no row and record nothing. Filled in for the corrections recorded before (one of
-- them where an older ledger holds several).
ALTER TABLE dose_events ADD COLUMN superseded_by TEXT;

UPDATE dose_events SET confirmed_by = audit_log.actor
FROM audit_log
WHERE audit_log.action = 'issue' AND audit_log.dose_event_id = dose_events.dose_event_id;

UPDATE dose_events SET superseded_by = correction.dose_event_id
FROM dose_events AS correction
WHERE correction.supersedes = dose_events.dose_event_id;
