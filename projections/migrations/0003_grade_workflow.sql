-- depends: 0002_views
-- Moodle's marking workflow on each grade attempt (canonical.grade v2): where marking stands, and whether the
-- student can see the grade. Null for Zoho grades and for events of plugins that did not send them.
ALTER TABLE grade_attempt ADD COLUMN workflow_state text, ADD COLUMN released boolean;

-- The newest attempt of each grade, now with the two columns at the end.
CREATE OR REPLACE VIEW grade AS
SELECT DISTINCT ON (tenant, grade_id) *
FROM grade_attempt
ORDER BY tenant, grade_id, attempt_number DESC, source_version DESC;
