-- What the Zoho sink last wrote per Zoho record: lets a restart skip unchanged records and keeps an
-- older version from overwriting a newer one. One row per record the sink has written (bounded by
-- the size of the Zoho modules it writes); nothing else reads or writes this table.
CREATE TABLE IF NOT EXISTS zoho_sink_state (
    tenant         text        NOT NULL,
    module         text        NOT NULL,
    record_key     text        NOT NULL,
    fingerprint    text        NOT NULL,
    zoho_id        text        NOT NULL,
    source_version bigint      NOT NULL,
    event_id       text        NOT NULL,
    written_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, module, record_key)
);
-- Added later (so ADD COLUMN IF NOT EXISTS for tables created before):
-- lo_row_ids: LO code -> id of every subform row the record holds, when the sink knows all of them (after a
-- write that added no row without an id); a re-grade then changes rows by id with no read first. NULL: unknown.
ALTER TABLE zoho_sink_state ADD COLUMN IF NOT EXISTS lo_row_ids jsonb;
-- ended: the last write was an unenrolment (End_Date set by the sink), so a re-enrolment clears End_Date.
ALTER TABLE zoho_sink_state ADD COLUMN IF NOT EXISTS ended boolean NOT NULL DEFAULT false;
-- Grader fields of grades not yet released (not written while the tenant writes released grades only), kept until
-- the record's next write carries them: a teacher's unreleased grade, then the IV's released one, shows both.
CREATE TABLE IF NOT EXISTS zoho_sink_held (
    tenant     text        NOT NULL,
    module     text        NOT NULL,
    record_key text        NOT NULL,
    fields     jsonb       NOT NULL,
    held_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, module, record_key)
);
