-- A grade whose newest version came back from Zoho (the puller reads what the Zoho sink wrote) is held by Zoho:
-- it stays in the sync view, synced, instead of dropping out of it.
CREATE OR REPLACE VIEW grade_zoho_sync AS
SELECT g.tenant, g.grade_id, g.attempt_number, g.student_id, g.unit_id, g.letter, g.fingerprint,
       o.action AS last_action,
       o.zoho_id,
       o.attempt AS sync_attempts,
       o.error_code,
       o.error_message,
       o.occurred_at AS last_outcome_at,
       CASE
           WHEN g.origin = 'zoho' THEN 'synced'
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
WHERE g.origin = 'moodle' OR o.action IS NOT NULL;
