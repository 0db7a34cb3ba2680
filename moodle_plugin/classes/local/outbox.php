<?php
// This file is part of Moodle - https://moodle.org/
//
// Moodle is free software: you can redistribute it and/or modify
// it under the terms of the GNU General Public License as published by
// the Free Software Foundation, either version 3 of the License, or
// (at your option) any later version.
//
// Moodle is distributed in the hope that it will be useful,
// but WITHOUT ANY WARRANTY; without even the implied warranty of
// MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
// GNU General Public License for more details.
//
// You should have received a copy of the GNU General Public License
// along with Moodle.  If not, see <https://www.gnu.org/licenses/>.

namespace local_moodle_zoho_sync\local;

use local_moodle_zoho_sync\task\deliver_event;

/**
 * The transactional outbox: rows written by the observers, delivered by tasks, shown in the admin log.
 *
 * @package    local_moodle_zoho_sync
 * @copyright  2026 BTEC Integration Team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class outbox {
    /** @var string The outbox table. */
    public const TABLE = 'local_moodle_zoho_sync_outbox';

    /** @var string Waiting for (another) delivery attempt. */
    public const STATUS_PENDING = 'pending';

    /** @var string Accepted by the backend. */
    public const STATUS_SENT = 'sent';

    /** @var string Gave up: attempts exhausted or an answer that retrying cannot fix. */
    public const STATUS_FAILED = 'failed';

    /** @var int First retry delay in seconds; doubles with each failed attempt. */
    public const BACKOFF_BASE = 60;

    /** @var int Longest retry delay in seconds. */
    public const BACKOFF_MAX = 6 * HOURSECS;

    /** @var int Longest backend answer or error kept in the log, in characters. */
    public const MAX_TEXT = 10000;

    /**
     * Write one outbox row for an event, with the body captured now, and queue its delivery, in the caller's
     * transaction.
     *
     * @param string $eventtype One of config::EVENT_TYPES.
     * @param \core\event\base $event The Moodle event.
     * @param string $entitykey The record the event is about (see entity_key()).
     * @param array $data The body's data, as the record is now.
     * @param string|null $fingerprint Hash of the user fields the backend uses (user events only).
     * @return int The outbox row id.
     */
    public static function enqueue(string $eventtype, \core\event\base $event, string $entitykey, array $data,
            ?string $fingerprint = null): int {
        return self::add([
            'eventid' => \core\uuid::generate(),
            'eventtype' => $eventtype,
            'eventname' => $event->eventname,
            'objectid' => (int) $event->objectid,
            'userid' => (int) $event->relateduserid,
            'courseid' => (int) $event->courseid,
            'contextid' => (int) $event->contextid,
            'contextinstanceid' => (int) $event->contextinstanceid,
            'other' => empty($event->other) ? null : json_encode($event->other),
            'fingerprint' => $fingerprint,
            'timecreated' => (int) $event->timecreated,
        ], $entitykey, $data);
    }

    /**
     * Write one outbox row and queue its delivery, in one transaction (the caller's, when one is open).
     *
     * @param array $fields Outbox fields: eventid, eventtype, eventname, objectid, userid, courseid, and optionally
     *     contextid, contextinstanceid, other, fingerprint, timecreated.
     * @param string $entitykey The record the event is about.
     * @param array $data The body's data.
     * @return int The outbox row id.
     */
    public static function add(array $fields, string $entitykey, array $data): int {
        global $DB;

        $now = time();
        $row = (object) array_merge([
            'contextid' => 0,
            'contextinstanceid' => 0,
            'other' => null,
            'fingerprint' => null,
        ], $fields, [
            'entitykey' => $entitykey,
            'status' => self::STATUS_PENDING,
            'attempts' => 0,
            'nextattempt' => $now,
            'timemodified' => $now,
        ]);
        $row->timecreated = (int) ($fields['timecreated'] ?? 0) ?: $now;

        $transaction = $DB->start_delegated_transaction();
        $row->sequence = self::next_sequence($entitykey);
        $row->payload = self::encode(payload_builder::envelope($row->eventid, $row->eventtype, $row->eventname,
            $row->timecreated, $row->sequence, $data));
        $row->id = $DB->insert_record(self::TABLE, $row);
        self::queue_delivery($row->id, 0);
        $transaction->allow_commit();
        return $row->id;
    }

    /**
     * The key of the record an event is about; the sequence counts per key.
     *
     * @param string $kind "user", "enrolment" or "grade".
     * @param int ...$ids user id; user_enrolments id; user id and course module id.
     * @return string
     */
    public static function entity_key(string $kind, int ...$ids): string {
        return $kind . ':' . implode(':', $ids);
    }

    /**
     * The next sequence of a record: greater than every earlier one of the same key, and at least the current time
     * in milliseconds, so it keeps growing even after the outbox was emptied (privacy deletion, reinstall).
     *
     * Moodle's own row locks order concurrent changes of one record (the event fires after the record is written),
     * so the second change reads the first one's committed sequence.
     *
     * @param string $entitykey
     * @return int
     */
    public static function next_sequence(string $entitykey): int {
        global $DB;

        $last = (int) $DB->get_field_sql('SELECT MAX(sequence) FROM {' . self::TABLE . '} WHERE entitykey = :entitykey',
            ['entitykey' => $entitykey]);
        return max($last + 1, (int) floor(microtime(true) * 1000));
    }

    /**
     * The newest row of a record, if any.
     *
     * @param string $entitykey
     * @return \stdClass|null
     */
    public static function latest(string $entitykey): ?\stdClass {
        global $DB;

        $rows = $DB->get_records(self::TABLE, ['entitykey' => $entitykey], 'sequence DESC', '*', 0, 1);
        return $rows ? reset($rows) : null;
    }

    /**
     * The data of a row's captured body.
     *
     * @param \stdClass $row
     * @return array|null Null for rows queued before bodies were captured.
     */
    public static function data(\stdClass $row): ?array {
        if ($row->payload === null) {
            return null;
        }
        return json_decode($row->payload, true)['data'] ?? null;
    }

    /**
     * Replace the data of a row nobody has tried to send yet (the rest of one Moodle operation completing it).
     *
     * @param int $id
     * @param array $data
     * @return bool False when the row is gone or a delivery attempt was made.
     */
    public static function complete(int $id, array $data): bool {
        global $DB;

        $row = $DB->get_record(self::TABLE, ['id' => $id]);
        if (!$row || $row->status !== self::STATUS_PENDING || (int) $row->attempts > 0 || $row->payload === null) {
            return false;
        }
        $body = json_decode($row->payload, true);
        $body['data'] = $data;
        $DB->update_record(self::TABLE, (object) ['id' => $id, 'payload' => self::encode($body), 'timemodified' => time()]);
        return true;
    }

    /**
     * Remove a row nobody has tried to send yet, superseded within the same Moodle operation.
     *
     * @param int $id
     */
    public static function discard(int $id): void {
        global $DB;

        $DB->delete_records_select(self::TABLE, 'id = :id AND status = :status AND attempts = 0',
            ['id' => $id, 'status' => self::STATUS_PENDING]);
    }

    /**
     * Whether an earlier row of the same record still waits, so this one must wait for it (per-record order).
     *
     * @param \stdClass $row
     * @return bool
     */
    public static function has_earlier_pending(\stdClass $row): bool {
        global $DB;

        if ($row->entitykey === null) {
            return false;
        }
        return $DB->record_exists_select(self::TABLE, 'entitykey = :entitykey AND status = :status AND sequence < :sequence',
            ['entitykey' => $row->entitykey, 'status' => self::STATUS_PENDING, 'sequence' => $row->sequence]);
    }

    /**
     * Queue the next waiting row of the same record, once this one is sent or has failed for good.
     *
     * @param \stdClass $row
     */
    private static function queue_next(\stdClass $row): void {
        global $DB;

        if ($row->entitykey === null) {
            return;
        }
        $next = $DB->get_records_select(self::TABLE, 'entitykey = :entitykey AND status = :status AND id <> :id',
            ['entitykey' => $row->entitykey, 'status' => self::STATUS_PENDING, 'id' => $row->id], 'sequence ASC',
            'id, attempts, nextattempt', 0, 1);
        if ($next) {
            $next = reset($next);
            self::queue_delivery((int) $next->id, (int) $next->attempts, (int) $next->nextattempt);
        }
    }

    /**
     * JSON of a body, as sent.
     *
     * @param array $body
     * @return string
     */
    public static function encode(array $body): string {
        return json_encode($body, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION
            | JSON_INVALID_UTF8_SUBSTITUTE | JSON_THROW_ON_ERROR);
    }

    /**
     * The fingerprint of the newest user_created/user_updated row for a user, if any.
     *
     * @param int $userid
     * @return string|null
     */
    public static function last_user_fingerprint(int $userid): ?string {
        global $DB;

        $rows = $DB->get_records_select(self::TABLE, 'userid = :userid AND eventtype IN (:created, :updated)',
            ['userid' => $userid, 'created' => 'user_created', 'updated' => 'user_updated'], 'id DESC', 'id, fingerprint', 0, 1);
        $row = reset($rows);
        return $row ? $row->fingerprint : null;
    }

    /**
     * Queue the adhoc task that delivers a row.
     *
     * The attempt count is part of the custom data, so a retry queued from inside the running task is
     * not mistaken for that task, while the scheduled re-queue of the same attempt is recognised as a duplicate.
     *
     * @param int $id Outbox row id.
     * @param int $attempts The row's attempts so far.
     * @param int $runat Earliest run time, 0 for now.
     */
    public static function queue_delivery(int $id, int $attempts, int $runat = 0): void {
        $task = new deliver_event();
        $task->set_custom_data(['outboxid' => $id, 'attempt' => $attempts]);
        if ($runat > 0) {
            $task->set_next_run_time($runat);
        }
        \core\task\manager::queue_adhoc_task($task, true);
    }

    /**
     * Delay before the next attempt after $attempts failed ones: 1, 2, 4, 8 ... minutes, at most 6 hours.
     *
     * @param int $attempts Failed attempts so far (>= 1).
     * @return int Seconds.
     */
    public static function backoff(int $attempts): int {
        $exponent = max(0, min($attempts - 1, 20));
        return (int) min(self::BACKOFF_BASE * (2 ** $exponent), self::BACKOFF_MAX);
    }

    /**
     * Whether an HTTP answer (0 = no answer) is worth retrying.
     *
     * 5xx, 408 and 429 are transient; other 4xx answers (bad signature, unknown event, too large) will not change
     * by themselves: the event fails at once and an administrator can retry it after fixing the cause.
     *
     * @param int $httpstatus
     * @return bool
     */
    public static function is_retryable(int $httpstatus): bool {
        return $httpstatus === 0 || $httpstatus === 408 || $httpstatus === 429 || $httpstatus >= 500;
    }

    /**
     * Record an accepted delivery.
     *
     * @param \stdClass $row The outbox row.
     * @param int $httpstatus
     * @param string $response The backend's answer.
     * @param int $now
     */
    public static function mark_sent(\stdClass $row, int $httpstatus, string $response, int $now): void {
        global $DB;

        $DB->update_record(self::TABLE, (object) [
            'id' => $row->id,
            'status' => self::STATUS_SENT,
            'attempts' => (int) $row->attempts + 1,
            'httpstatus' => $httpstatus,
            'response' => self::clip($response),
            'lasterror' => null,
            'timesent' => $now,
            'timemodified' => $now,
        ]);
        self::queue_next($row);
    }

    /**
     * Record a failed attempt: schedule a retry with backoff, or mark the row failed.
     *
     * @param \stdClass $row The outbox row.
     * @param string $error What went wrong.
     * @param int|null $httpstatus The answer's status, null when there was no answer.
     * @param string|null $response The answer's body.
     * @param bool $retryable False when retrying cannot help.
     * @param int $now
     * @return string The new status.
     */
    public static function mark_attempt_failed(\stdClass $row, string $error, ?int $httpstatus, ?string $response,
            bool $retryable, int $now): string {
        global $DB;

        $attempts = (int) $row->attempts + 1;
        $giveup = !$retryable || $attempts >= config::max_attempts();
        $update = (object) [
            'id' => $row->id,
            'attempts' => $attempts,
            'httpstatus' => $httpstatus,
            'response' => $response === null ? null : self::clip($response),
            'lasterror' => self::clip($error),
            'timemodified' => $now,
            'status' => $giveup ? self::STATUS_FAILED : self::STATUS_PENDING,
            'nextattempt' => $giveup ? 0 : $now + self::backoff($attempts),
        ];
        $DB->update_record(self::TABLE, $update);
        if (!$giveup) {
            self::queue_delivery($row->id, $attempts, $update->nextattempt);
        } else {
            self::queue_next($row);
        }
        return $update->status;
    }

    /**
     * Put a failed row back in the queue with a fresh set of attempts (the admin page's retry button).
     *
     * @param int $id Outbox row id.
     * @return bool False when the row does not exist or has not failed.
     */
    public static function retry(int $id): bool {
        global $DB;

        $row = $DB->get_record(self::TABLE, ['id' => $id]);
        if (!$row || $row->status !== self::STATUS_FAILED) {
            return false;
        }
        $now = time();
        $transaction = $DB->start_delegated_transaction();
        $DB->update_record(self::TABLE, (object) [
            'id' => $id,
            'status' => self::STATUS_PENDING,
            'attempts' => 0,
            'nextattempt' => $now,
            'timemodified' => $now,
        ]);
        self::queue_delivery($id, 0);
        $transaction->allow_commit();
        return true;
    }

    /**
     * Retry every failed row (the admin page's "retry all failed" button).
     *
     * @param int $limit Most rows handled at once.
     * @return int Rows put back in the queue.
     */
    public static function retry_all_failed(int $limit = 1000): int {
        global $DB;

        $rows = $DB->get_records_select(self::TABLE, 'status = :status', ['status' => self::STATUS_FAILED], 'id ASC', 'id',
            0, $limit);
        $count = 0;
        foreach ($rows as $row) {
            $count += self::retry((int) $row->id) ? 1 : 0;
        }
        return $count;
    }

    /**
     * Queue delivery for pending rows that are due, in case their adhoc task was lost (the scheduled task).
     *
     * @param int $now
     * @param int $limit Most rows handled in one run.
     * @return int Rows re-queued.
     */
    public static function requeue_due(int $now, int $limit = 2000): int {
        global $DB;

        if (!config::is_configured()) {
            // Rows wait, untouched, until the backend URL and the secret are set.
            return 0;
        }
        $rows = $DB->get_records_select(self::TABLE, 'status = :status AND nextattempt <= :now',
            ['status' => self::STATUS_PENDING, 'now' => $now], 'nextattempt ASC, id ASC', 'id, attempts', 0, $limit);
        foreach ($rows as $row) {
            self::queue_delivery((int) $row->id, (int) $row->attempts);
        }
        return count($rows);
    }

    /**
     * One page of the event log, newest first.
     *
     * @param array $filter Optional keys: status, eventtype, userid, search (matches the user's name, email or username).
     * @param int $page Zero-based page.
     * @param int $perpage
     * @return array [rows keyed by id (with the user's name fields as user*), total matching rows]
     */
    public static function get_log(array $filter, int $page = 0, int $perpage = 50): array {
        global $DB;

        $where = ['1 = 1'];
        $params = [];
        if (!empty($filter['status'])) {
            $where[] = 'o.status = :status';
            $params['status'] = $filter['status'];
        }
        if (!empty($filter['eventtype'])) {
            $where[] = 'o.eventtype = :eventtype';
            $params['eventtype'] = $filter['eventtype'];
        }
        if (!empty($filter['userid'])) {
            $where[] = 'o.userid = :userid';
            $params['userid'] = (int) $filter['userid'];
        }
        if (isset($filter['search']) && trim($filter['search']) !== '') {
            $like = '%' . $DB->sql_like_escape(trim($filter['search'])) . '%';
            $fullname = $DB->sql_concat('u.firstname', "' '", 'u.lastname');
            $where[] = '(' . $DB->sql_like($fullname, ':search1', false) . ' OR ' . $DB->sql_like('u.email', ':search2', false)
                . ' OR ' . $DB->sql_like('u.username', ':search3', false) . ')';
            $params += ['search1' => $like, 'search2' => $like, 'search3' => $like];
        }
        $wheresql = implode(' AND ', $where);
        $from = 'FROM {' . self::TABLE . '} o LEFT JOIN {user} u ON u.id = o.userid';

        $total = $DB->count_records_sql("SELECT COUNT(1) $from WHERE $wheresql", $params);
        $rows = $DB->get_records_sql("SELECT o.*, u.firstname AS userfirstname, u.lastname AS userlastname,
                                             u.email AS useremail
                                      $from
                                      WHERE $wheresql
                                      ORDER BY o.timecreated DESC, o.id DESC", $params, $page * $perpage, $perpage);
        return [$rows, $total];
    }

    /**
     * Cut a long text for storage, saying that it was cut.
     *
     * @param string $text
     * @return string
     */
    private static function clip(string $text): string {
        if (\core_text::strlen($text) <= self::MAX_TEXT) {
            return $text;
        }
        return \core_text::substr($text, 0, self::MAX_TEXT - 3) . '...';
    }
}
