-- depends: 0001_tables
-- Views for the questions users ask (docs/sql.md has examples).

-- The newest attempt of each grade: what Zoho shows for a student's assignment.
CREATE VIEW grade AS
SELECT DISTINCT ON (tenant, grade_id) *
FROM grade_attempt
ORDER BY tenant, grade_id, attempt_number DESC, source_version DESC;

-- BTEC band of a grade attempt: its letter, else its score with the domain's bands
-- (clamp to 0–100; ≥70 Distinction, ≥60 Merit, ≥40 Pass, else Refer), else the BTEC scale index.
CREATE VIEW grade_attempt_band AS
SELECT a.*,
       CASE a.letter
           WHEN 'D' THEN 'Distinction' WHEN 'M' THEN 'Merit' WHEN 'P' THEN 'Pass' WHEN 'R' THEN 'Refer'
           WHEN 'RR' THEN 'Double Refer' WHEN 'F' THEN 'Fail'
           ELSE CASE
               WHEN a.raw_score IS NOT NULL THEN CASE
                   WHEN least(greatest(a.raw_score * 100.0 / coalesce(nullif(a.max_score, 0), 100.0), 0), 100) >= 70
                       THEN 'Distinction'
                   WHEN least(greatest(a.raw_score * 100.0 / coalesce(nullif(a.max_score, 0), 100.0), 0), 100) >= 60
                       THEN 'Merit'
                   WHEN least(greatest(a.raw_score * 100.0 / coalesce(nullif(a.max_score, 0), 100.0), 0), 100) >= 40
                       THEN 'Pass'
                   ELSE 'Refer' END
               WHEN a.scale_index = 4 THEN 'Distinction' WHEN a.scale_index = 3 THEN 'Merit'
               WHEN a.scale_index = 2 THEN 'Pass' WHEN a.scale_index = 1 THEN 'Refer'
           END
       END AS band
FROM grade_attempt a;

-- A student's current band per unit: the newest attempt of the unit's most recently graded
-- assignment. The unit comes from the grade, else from its class.
CREATE VIEW student_unit_band AS
SELECT DISTINCT ON (b.tenant, b.student_id, coalesce(b.unit_id, c.unit_id))
       b.tenant,
       b.student_id,
       coalesce(s.full_name, b.student_name) AS student_name,
       coalesce(b.unit_id, c.unit_id) AS unit_id,
       coalesce(u.name, b.unit_name, c.unit_name) AS unit_name,
       b.grade_id,
       b.attempt_number,
       b.letter,
       b.band,
       b.graded_at,
       (SELECT count(*) FROM grade_attempt x
         WHERE x.tenant = b.tenant AND x.grade_id = b.grade_id) AS attempts
FROM grade_attempt_band b
LEFT JOIN class c ON c.tenant = b.tenant AND c.id = b.class_id
LEFT JOIN unit u ON u.tenant = b.tenant AND u.id = coalesce(b.unit_id, c.unit_id)
LEFT JOIN student s ON s.tenant = b.tenant AND s.id = b.student_id
WHERE b.student_id IS NOT NULL AND coalesce(b.unit_id, c.unit_id) IS NOT NULL
ORDER BY b.tenant, b.student_id, coalesce(b.unit_id, c.unit_id),
         b.attempt_number DESC, b.graded_at DESC NULLS LAST, b.source_version DESC, b.grade_id;

-- Moodle grades on their way to Zoho: the newest attempt of each Moodle-originated grade and the
-- newest outcome the sink reported for it. sync_status: synced (an outcome for this very
-- change), failed (the newest outcome failed), waiting (no outcome yet for this change).
CREATE VIEW grade_zoho_sync AS
SELECT g.tenant, g.grade_id, g.attempt_number, g.student_id, g.unit_id, g.letter, g.fingerprint,
       o.action AS last_action,
       o.zoho_id,
       o.attempt AS sync_attempts,
       o.error_code,
       o.error_message,
       o.occurred_at AS last_outcome_at,
       CASE
           WHEN o.action = 'failed' THEN 'failed'
           WHEN o.fingerprint = g.fingerprint OR o.event_id = g.event_id THEN 'synced'
           ELSE 'waiting'
       END AS sync_status
FROM grade g
LEFT JOIN LATERAL (
    SELECT * FROM zoho_sync_state z
    WHERE z.tenant = g.tenant AND z.entity = 'grade' AND z.entity_id = g.grade_id
    ORDER BY z.occurred_at DESC LIMIT 1
) o ON true
WHERE g.origin = 'moodle';

CREATE VIEW grade_sync_pending AS
SELECT * FROM grade_zoho_sync WHERE sync_status IN ('waiting', 'failed');

-- Registrations with money still owed: billed (the payment schedule's total, else the program
-- price) minus what was paid; overdue counts unpaid installments past their due date.
CREATE VIEW outstanding_payment AS
WITH billed AS (
    SELECT r.tenant, r.id AS registration_id, r.student_id, r.program_id, r.currency,
           coalesce((SELECT sum(i.amount) FROM registration_installment i
                     WHERE i.tenant = r.tenant AND i.registration_id = r.id), r.program_price, 0) AS billed
    FROM registration r
), paid AS (
    SELECT tenant, registration_id, sum(amount) AS paid
    FROM payment GROUP BY tenant, registration_id
)
SELECT b.tenant, b.student_id,
       coalesce(s.full_name, concat_ws(' ', s.first_name, s.last_name)) AS student_name,
       s.academic_email,
       b.registration_id, b.program_id, p.name AS program_name, b.currency,
       b.billed,
       coalesce(pd.paid, 0) AS paid,
       b.billed - coalesce(pd.paid, 0) AS outstanding,
       (SELECT count(*) FROM registration_installment i
         WHERE i.tenant = b.tenant AND i.registration_id = b.registration_id
           AND i.due_date < current_date AND coalesce(lower(i.status), '') <> 'paid') AS overdue_installments,
       (SELECT min(i.due_date) FROM registration_installment i
         WHERE i.tenant = b.tenant AND i.registration_id = b.registration_id
           AND coalesce(lower(i.status), '') <> 'paid') AS next_due_date
FROM billed b
LEFT JOIN paid pd ON pd.tenant = b.tenant AND pd.registration_id = b.registration_id
LEFT JOIN student s ON s.tenant = b.tenant AND s.id = b.student_id
LEFT JOIN program p ON p.tenant = b.tenant AND p.id = b.program_id
WHERE b.billed - coalesce(pd.paid, 0) > 0;

-- Who is in each class: Zoho enrollments, and whether the student is enrolled in the class's
-- Moodle course too (through the Moodle ↔ Zoho link).
CREATE VIEW class_roster AS
SELECT c.tenant, c.id AS class_id, c.name AS class_name, c.unit_id, c.teacher_name,
       e.id AS enrollment_id, e.student_id,
       coalesce(s.full_name, e.student_name) AS student_name,
       s.academic_email, s.status AS student_status,
       e.start_date, e.end_date, e.enrollment_type,
       EXISTS (
           SELECT 1 FROM moodle_user mu
           JOIN moodle_enrollment me ON me.tenant = mu.tenant AND me.moodle_user_id = mu.id
           WHERE mu.tenant = c.tenant AND mu.student_id = e.student_id AND me.course_id = c.moodle_course_id
       ) AS in_moodle
FROM class c
JOIN enrollment e ON e.tenant = c.tenant AND e.class_id = c.id
LEFT JOIN student s ON s.tenant = e.tenant AND s.id = e.student_id;

-- The Moodle ↔ Zoho links: people (Moodle user → Zoho student) and courses (Moodle course → class).
CREATE VIEW moodle_zoho_link AS
SELECT tenant, 'user' AS kind, id AS moodle_id, student_id AS zoho_id, link_method
FROM moodle_user WHERE student_id IS NOT NULL
UNION ALL
SELECT tenant, 'course', moodle_course_id, id, 'Moodle_Class_ID'
FROM class WHERE moodle_course_id IS NOT NULL
UNION ALL
SELECT tenant, 'teacher', moodle_user_id, id, 'Teacher_Moodle_ID'
FROM teacher WHERE moodle_user_id IS NOT NULL;

-- Records that name another record which is not (yet) here: events cross topics in any order,
-- so these are normal for a moment; one that stays means its dependency never arrived.
CREATE VIEW pending_dependency AS
SELECT x.tenant, x.entity, x.entity_id, x.missing_entity, x.missing_id, x.since
FROM (
    SELECT e.tenant, 'enrollment' AS entity, e.id AS entity_id, 'student' AS missing_entity,
           e.student_id AS missing_id, e.occurred_at AS since
    FROM enrollment e WHERE NOT EXISTS (SELECT 1 FROM student s WHERE s.tenant = e.tenant AND s.id = e.student_id)
    UNION ALL
    SELECT e.tenant, 'enrollment', e.id, 'class', e.class_id, e.occurred_at
    FROM enrollment e WHERE NOT EXISTS (SELECT 1 FROM class c WHERE c.tenant = e.tenant AND c.id = e.class_id)
    UNION ALL
    SELECT r.tenant, 'registration', r.id, 'student', r.student_id, r.occurred_at
    FROM registration r WHERE NOT EXISTS (SELECT 1 FROM student s WHERE s.tenant = r.tenant AND s.id = r.student_id)
    UNION ALL
    SELECT r.tenant, 'registration', r.id, 'program', r.program_id, r.occurred_at
    FROM registration r WHERE NOT EXISTS (SELECT 1 FROM program p WHERE p.tenant = r.tenant AND p.id = r.program_id)
    UNION ALL
    SELECT p.tenant, 'payment', p.id, 'registration', p.registration_id, p.occurred_at
    FROM payment p
    WHERE NOT EXISTS (SELECT 1 FROM registration r WHERE r.tenant = p.tenant AND r.id = p.registration_id)
    UNION ALL
    SELECT u.tenant, 'unit', u.id, 'program', u.program_id, u.occurred_at
    FROM unit u WHERE u.program_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM program p WHERE p.tenant = u.tenant AND p.id = u.program_id)
    UNION ALL
    SELECT c.tenant, 'class', c.id, 'unit', c.unit_id, c.occurred_at
    FROM class c WHERE c.unit_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM unit u WHERE u.tenant = c.tenant AND u.id = c.unit_id)
    UNION ALL
    SELECT g.tenant, 'grade', g.grade_id || '#' || g.attempt_number, 'student', g.student_id, g.occurred_at
    FROM grade_attempt g WHERE g.student_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM student s WHERE s.tenant = g.tenant AND s.id = g.student_id)
    UNION ALL
    SELECT g.tenant, 'grade', g.grade_id || '#' || g.attempt_number, 'class', g.class_id, g.occurred_at
    FROM grade_attempt g WHERE g.class_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM class c WHERE c.tenant = g.tenant AND c.id = g.class_id)
    UNION ALL
    SELECT g.tenant, 'grade', g.grade_id || '#' || g.attempt_number, 'registration', g.registration_id, g.occurred_at
    FROM grade_attempt g WHERE g.registration_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM registration r WHERE r.tenant = g.tenant AND r.id = g.registration_id)
    UNION ALL
    SELECT m.tenant, 'moodle_user', m.id, 'student', coalesce(m.email, m.id), m.occurred_at
    FROM moodle_user m WHERE m.student_id IS NULL
    UNION ALL
    SELECT m.tenant, 'moodle_user', m.id, 'student', m.student_id, m.occurred_at
    FROM moodle_user m WHERE m.student_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM student s WHERE s.tenant = m.tenant AND s.id = m.student_id)
    UNION ALL
    SELECT me.tenant, 'moodle_enrollment', me.id, 'class', me.course_id, me.occurred_at
    FROM moodle_enrollment me
    WHERE NOT EXISTS (SELECT 1 FROM class c WHERE c.tenant = me.tenant AND c.moodle_course_id = me.course_id)
) x;
