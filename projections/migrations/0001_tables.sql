-- Current state of every canonical entity, one row per (tenant, id).
--
-- Every entity table carries the envelope of the event that wrote the row: source_version decides
-- "newer wins", so a late older event never overwrites a newer row. References between entities
-- (student_id, class_id, …) are soft: events arrive in any order across topics, so a row may name
-- a record that has not arrived yet; view pending_dependency lists those. Real foreign keys join
-- only rows written by the same event (a registration and its schedule, a grade attempt and its
-- learning outcomes), deferrable so one transaction can replace them in any order.

CREATE TABLE student (
    tenant text NOT NULL,
    id text NOT NULL,
    source_version bigint NOT NULL,
    origin text NOT NULL,
    event_id text NOT NULL,
    fingerprint text NOT NULL,
    occurred_at timestamptz NOT NULL,
    warnings text[] NOT NULL DEFAULT '{}',
    student_number text,
    first_name text,
    last_name text,
    full_name text,
    display_name text,
    academic_email text NOT NULL,
    email text,
    phone text,
    city text,
    country text,
    nationality text,
    status text,
    moodle_user_id text,
    modified_at timestamptz,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX student_email_idx ON student (tenant, lower(academic_email));
CREATE INDEX student_moodle_user_idx ON student (tenant, moodle_user_id) WHERE moodle_user_id IS NOT NULL;
CREATE INDEX student_number_idx ON student (tenant, student_number);

CREATE TABLE program (
    tenant text NOT NULL,
    id text NOT NULL,
    source_version bigint NOT NULL,
    origin text NOT NULL,
    event_id text NOT NULL,
    fingerprint text NOT NULL,
    occurred_at timestamptz NOT NULL,
    warnings text[] NOT NULL DEFAULT '{}',
    name text NOT NULL,
    program_code text,
    major text,
    level text,
    status text,
    moodle_category_id text,
    price numeric,
    modified_at timestamptz,
    PRIMARY KEY (tenant, id)
);

CREATE TABLE unit (
    tenant text NOT NULL,
    id text NOT NULL,
    source_version bigint NOT NULL,
    origin text NOT NULL,
    event_id text NOT NULL,
    fingerprint text NOT NULL,
    occurred_at timestamptz NOT NULL,
    warnings text[] NOT NULL DEFAULT '{}',
    name text NOT NULL,
    unit_code text,
    unit_number text,
    unit_credit integer,
    unit_level text,
    major text,
    program_id text,
    program_name text,
    -- [{code, description}], the P/M/D criteria texts of the unit
    criteria jsonb NOT NULL DEFAULT '[]',
    modified_at timestamptz,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX unit_program_idx ON unit (tenant, program_id);

CREATE TABLE class (
    tenant text NOT NULL,
    id text NOT NULL,
    source_version bigint NOT NULL,
    origin text NOT NULL,
    event_id text NOT NULL,
    fingerprint text NOT NULL,
    occurred_at timestamptz NOT NULL,
    warnings text[] NOT NULL DEFAULT '{}',
    name text NOT NULL,
    short_name text,
    program_id text,
    program_name text,
    unit_id text,
    unit_name text,
    teacher_id text,
    teacher_name text,
    moodle_course_id text,
    status text,
    start_date date,
    end_date date,
    modified_at timestamptz,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX class_moodle_course_idx ON class (tenant, moodle_course_id) WHERE moodle_course_id IS NOT NULL;
CREATE INDEX class_unit_idx ON class (tenant, unit_id);

CREATE TABLE teacher (
    tenant text NOT NULL,
    id text NOT NULL,
    source_version bigint NOT NULL,
    origin text NOT NULL,
    event_id text NOT NULL,
    fingerprint text NOT NULL,
    occurred_at timestamptz NOT NULL,
    warnings text[] NOT NULL DEFAULT '{}',
    name text NOT NULL,
    email text,
    academic_email text,
    phone text,
    moodle_user_id text,
    modified_at timestamptz,
    PRIMARY KEY (tenant, id)
);

CREATE TABLE enrollment (
    tenant text NOT NULL,
    id text NOT NULL,
    source_version bigint NOT NULL,
    origin text NOT NULL,
    event_id text NOT NULL,
    fingerprint text NOT NULL,
    occurred_at timestamptz NOT NULL,
    warnings text[] NOT NULL DEFAULT '{}',
    student_id text NOT NULL,
    student_name text,
    class_id text NOT NULL,
    class_name text,
    start_date date,
    end_date date,
    enrollment_type text,
    moodle_course_id text,
    modified_at timestamptz,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX enrollment_class_idx ON enrollment (tenant, class_id);
CREATE INDEX enrollment_student_idx ON enrollment (tenant, student_id);

CREATE TABLE registration (
    tenant text NOT NULL,
    id text NOT NULL,
    source_version bigint NOT NULL,
    origin text NOT NULL,
    event_id text NOT NULL,
    fingerprint text NOT NULL,
    occurred_at timestamptz NOT NULL,
    warnings text[] NOT NULL DEFAULT '{}',
    student_id text NOT NULL,
    student_name text,
    program_id text NOT NULL,
    program_name text,
    registration_date date,
    status text,
    program_price numeric,
    currency text,
    study_mode text,
    modified_at timestamptz,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX registration_student_idx ON registration (tenant, student_id, program_id);

-- The Payment_Schedule subform: replaced as a whole whenever its registration is.
CREATE TABLE registration_installment (
    tenant text NOT NULL,
    registration_id text NOT NULL,
    position integer NOT NULL,
    installment_no integer,
    due_date date,
    amount numeric,
    status text,
    paid_date date,
    PRIMARY KEY (tenant, registration_id, position),
    FOREIGN KEY (tenant, registration_id) REFERENCES registration (tenant, id)
        ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE payment (
    tenant text NOT NULL,
    id text NOT NULL,
    source_version bigint NOT NULL,
    origin text NOT NULL,
    event_id text NOT NULL,
    fingerprint text NOT NULL,
    occurred_at timestamptz NOT NULL,
    warnings text[] NOT NULL DEFAULT '{}',
    payment_number text,
    registration_id text NOT NULL,
    student_id text,
    amount numeric,
    payment_date date,
    method text,
    payment_type text,
    installment_no integer,
    note text,
    modified_at timestamptz,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX payment_registration_idx ON payment (tenant, registration_id);

-- Every attempt of every grade: attempt 2 never replaces attempt 1's row (domain: keep every
-- attempt). grade_id is the canonical entity id: the Moodle composite key "{user}_{assignment}"
-- when known, else the Zoho record id. View grade shows the newest attempt.
CREATE TABLE grade_attempt (
    tenant text NOT NULL,
    grade_id text NOT NULL,
    attempt_number integer NOT NULL,
    source_version bigint NOT NULL,
    origin text NOT NULL,
    event_id text NOT NULL,
    fingerprint text NOT NULL,
    occurred_at timestamptz NOT NULL,
    warnings text[] NOT NULL DEFAULT '{}',
    zoho_id text,
    composite_key text,
    student_id text,
    student_name text,
    class_id text,
    class_name text,
    unit_id text,
    unit_name text,
    program_id text,
    registration_id text,
    moodle_user_id text,
    student_email text,
    moodle_course_id text,
    moodle_course_idnumber text,
    assignment_id text,
    assignment_name text,
    moodle_grade_id text,
    grade_name text,
    letter text,
    raw_score double precision,
    max_score double precision,
    scale_index integer,
    grade_status text,
    attempt_date date,
    graded_at timestamptz,
    feedback text,
    grader_role text,
    grader_name text,
    grader_moodle_id text,
    iv_name text,
    iv_moodle_id text,
    modified_at timestamptz,
    PRIMARY KEY (tenant, grade_id, attempt_number)
);
CREATE INDEX grade_attempt_student_idx ON grade_attempt (tenant, student_id, unit_id);
CREATE INDEX grade_attempt_class_idx ON grade_attempt (tenant, class_id);

CREATE TABLE grade_learning_outcome (
    tenant text NOT NULL,
    grade_id text NOT NULL,
    attempt_number integer NOT NULL,
    position integer NOT NULL,
    code text NOT NULL,
    title text,
    description text,
    identification text,
    score double precision,
    feedback text,
    achieved boolean,
    PRIMARY KEY (tenant, grade_id, attempt_number, position),
    FOREIGN KEY (tenant, grade_id, attempt_number) REFERENCES grade_attempt (tenant, grade_id, attempt_number)
        ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);

-- The Moodle ↔ Zoho link of a person: a Moodle user and the Zoho student it was matched to.
CREATE TABLE moodle_user (
    tenant text NOT NULL,
    id text NOT NULL,
    source_version bigint NOT NULL,
    origin text NOT NULL,
    event_id text NOT NULL,
    fingerprint text NOT NULL,
    occurred_at timestamptz NOT NULL,
    warnings text[] NOT NULL DEFAULT '{}',
    username text,
    email text,
    first_name text,
    last_name text,
    idnumber text,
    student_id text,
    link_method text,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX moodle_user_student_idx ON moodle_user (tenant, student_id) WHERE student_id IS NOT NULL;

CREATE TABLE moodle_enrollment (
    tenant text NOT NULL,
    id text NOT NULL,
    source_version bigint NOT NULL,
    origin text NOT NULL,
    event_id text NOT NULL,
    fingerprint text NOT NULL,
    occurred_at timestamptz NOT NULL,
    warnings text[] NOT NULL DEFAULT '{}',
    moodle_user_id text NOT NULL,
    course_id text NOT NULL,
    course_idnumber text,
    role text,
    status text,
    time_start timestamptz,
    time_end timestamptz,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX moodle_enrollment_course_idx ON moodle_enrollment (tenant, course_id);
CREATE INDEX moodle_enrollment_user_idx ON moodle_enrollment (tenant, moodle_user_id);

-- A deleted record leaves its version here, so an older upsert arriving after the delete does not
-- bring the record back; a newer one does.
CREATE TABLE tombstone (
    tenant text NOT NULL,
    entity text NOT NULL,
    entity_id text NOT NULL,
    source_version bigint NOT NULL,
    event_id text NOT NULL,
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (tenant, entity, entity_id)
);

-- Every outcome the Zoho sink reported (zoho.outcomes), keyed by its place in the log.
CREATE TABLE zoho_sync_outcome (
    topic_partition integer NOT NULL,
    topic_offset bigint NOT NULL,
    tenant text NOT NULL,
    module text NOT NULL,
    record_key text NOT NULL,
    action text NOT NULL,
    zoho_id text,
    attempt integer NOT NULL,
    error_code text,
    error_message text,
    event_id text,
    entity text,
    entity_id text,
    fingerprint text,
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (topic_partition, topic_offset)
);
CREATE INDEX zoho_sync_outcome_record_idx ON zoho_sync_outcome (tenant, module, record_key, occurred_at);
CREATE INDEX zoho_sync_outcome_failed_idx ON zoho_sync_outcome (tenant, occurred_at) WHERE action = 'failed';

-- The newest outcome per Zoho record.
CREATE TABLE zoho_sync_state (
    tenant text NOT NULL,
    module text NOT NULL,
    record_key text NOT NULL,
    action text NOT NULL,
    zoho_id text,
    attempt integer NOT NULL,
    error_code text,
    error_message text,
    event_id text,
    entity text,
    entity_id text,
    fingerprint text,
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (tenant, module, record_key)
);
CREATE INDEX zoho_sync_state_entity_idx ON zoho_sync_state (tenant, entity, entity_id);

-- Index of the deadletter topic: what failed, why, and where its bytes are in the log.
CREATE TABLE dead_letter (
    dead_letter_id text PRIMARY KEY,
    reason text NOT NULL,
    message text NOT NULL,
    errors jsonb NOT NULL DEFAULT '[]',
    tenant text NOT NULL,
    source text NOT NULL,
    kind text NOT NULL,
    raw_topic text NOT NULL,
    raw_partition integer NOT NULL,
    raw_offset bigint NOT NULL,
    raw_key text,
    record_index integer,
    record_id text,
    delivery_id text,
    content_type text,
    occurred_at timestamptz,
    received_at timestamptz NOT NULL,
    body_size integer NOT NULL
);
CREATE INDEX dead_letter_tenant_idx ON dead_letter (tenant, reason, received_at);
CREATE INDEX dead_letter_raw_idx ON dead_letter (raw_topic, raw_partition, raw_offset);

-- The next offset to read per partition; written in the same transaction as the rows it covers.
CREATE TABLE projector_offset (
    topic text NOT NULL,
    partition integer NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);
