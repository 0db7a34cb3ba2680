-- What the Moodle sink last wrote per record, and the Moodle id it has: users (key student:<zoho id> or
-- teacher:<zoho id>), categories (program id), courses (class id) and enrolments (enrollment id, or
-- <class id>:teacher). `fields` is what Moodle was last given, so an update sends only what changed.
-- Only this sink reads or writes these tables.
CREATE TABLE IF NOT EXISTS moodle_sink_state (
    tenant         text        NOT NULL,
    kind           text        NOT NULL,
    record_key     text        NOT NULL,
    fingerprint    text        NOT NULL,
    moodle_id      text        NOT NULL,
    fields         jsonb       NOT NULL,
    source_version bigint      NOT NULL,
    event_id       text        NOT NULL,
    written_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, kind, record_key)
);
-- Writes that cannot be made yet: an enrolment whose user or course does not exist yet ('waiting'), or every
-- write of a tenant whose token Moodle refuses ('refused'). They are taken up again by the tenant's next flush
-- (refused ones also on a timer), so the consumed offsets can be committed without losing them.
CREATE TABLE IF NOT EXISTS moodle_sink_parked (
    tenant         text        NOT NULL,
    kind           text        NOT NULL,
    record_key     text        NOT NULL,
    reason         text        NOT NULL,
    write          jsonb       NOT NULL,
    source_version bigint      NOT NULL,
    parked_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, kind, record_key)
);
