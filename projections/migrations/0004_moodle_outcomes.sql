-- depends: 0003_grade_workflow
-- Every outcome the Moodle sink reported (moodle.outcomes), keyed by its place in the log: what it did with
-- each Zoho student, teacher, program, class and enrollment in Moodle.
CREATE TABLE moodle_sync_outcome (
    topic_partition integer NOT NULL,
    topic_offset bigint NOT NULL,
    tenant text NOT NULL,
    entity text NOT NULL,
    record_key text NOT NULL,
    action text NOT NULL,
    moodle_id text,
    attempt integer NOT NULL,
    error_code text,
    error_message text,
    event_id text,
    entity_id text,
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (topic_partition, topic_offset)
);
CREATE INDEX moodle_sync_outcome_record_idx ON moodle_sync_outcome (tenant, entity, record_key, occurred_at);
CREATE INDEX moodle_sync_outcome_failed_idx ON moodle_sync_outcome (tenant, occurred_at) WHERE action = 'failed';

-- The newest outcome per Zoho record: which Moodle user, category, course or enrolment it has.
CREATE TABLE moodle_sync_state (
    tenant text NOT NULL,
    entity text NOT NULL,
    record_key text NOT NULL,
    action text NOT NULL,
    moodle_id text,
    attempt integer NOT NULL,
    error_code text,
    error_message text,
    event_id text,
    entity_id text,
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (tenant, entity, record_key)
);
