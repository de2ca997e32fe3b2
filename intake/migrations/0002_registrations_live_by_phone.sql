-- The live (not cancelled) registrations of a phone in a campaign, counted from the index alone: the
-- per-phone cap is checked on every registration, and through `registrations_by_phone` it read every row
-- of the phone from the table.
CREATE INDEX registrations_live_by_phone
    ON registrations (phone, campaign, status) WHERE status <> 'cancelled';
