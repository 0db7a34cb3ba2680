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

/**
 * Backfill: queue the users, enrolments and assignment grades that existed before the plugin, in bounded batches.
 *
 * Each kind keeps a cursor (the last record id queued) in the plugin's config, written in the same transaction as the
 * batch's outbox rows, so an interrupted run resumes where it stopped. Each row's event id is derived from the record
 * and its data: running again over unchanged records gives the same ids (skipped here, deduplicated by the backend),
 * a record that changed since gets a new id and its new state.
 *
 * @package    local_moodle_zoho_sync
 * @copyright  2026 BTEC Integration Team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class backfill {
    /** @var string[] Kinds in the order they are sent: people first, then their enrolments, then their grades. */
    public const KINDS = ['users', 'enrolments', 'grades'];

    /** @var string Event name of backfilled rows (no Moodle event produced them). */
    public const EVENT_NAME = 'backfill';

    /** @var int Largest batch accepted. */
    public const MAX_BATCH = 5000;

    /**
     * Forget the cursors: the next run starts from the first record again.
     */
    public static function restart(): void {
        foreach (self::KINDS as $kind) {
            unset_config(self::cursor_name($kind), config::COMPONENT);
        }
    }

    /**
     * The last record id queued for a kind.
     *
     * @param string $kind
     * @return int
     */
    public static function cursor(string $kind): int {
        return (int) get_config(config::COMPONENT, self::cursor_name($kind));
    }

    /**
     * Queue one batch of a kind after its cursor.
     *
     * @param string $kind One of KINDS.
     * @param int $size Records per batch (1..MAX_BATCH).
     * @return array ['queued' => int, 'unchanged' => int (already queued with the same data), 'cursor' => int,
     *     'left' => int (records after the cursor), 'done' => bool]
     */
    public static function batch(string $kind, int $size): array {
        global $DB;

        $size = max(1, min($size, self::MAX_BATCH));
        $cursor = self::cursor($kind);
        [$select, $params] = self::selection($kind);
        $params['cursor'] = $cursor;
        $ids = array_keys($DB->get_records_sql("SELECT x.id $select AND x.id > :cursor ORDER BY x.id ASC", $params, 0,
            $size));

        $queued = 0;
        $unchanged = 0;
        $transaction = $DB->start_delegated_transaction();
        foreach ($ids as $id) {
            if (self::queue($kind, (int) $id)) {
                $queued++;
            } else {
                $unchanged++;
            }
            $cursor = (int) $id;
        }
        set_config(self::cursor_name($kind), $cursor, config::COMPONENT);
        $transaction->allow_commit();

        $params['cursor'] = $cursor;
        $left = $DB->count_records_sql("SELECT COUNT(1) $select AND x.id > :cursor", $params);
        return ['queued' => $queued, 'unchanged' => $unchanged, 'cursor' => $cursor, 'left' => $left,
            'done' => $left === 0];
    }

    /**
     * The event id of a backfilled record state: a UUID (version 5 layout) of the SHA-1 of the site, event type,
     * record id and data.
     *
     * @param string $eventtype
     * @param int $id
     * @param array $data
     * @return string
     */
    public static function event_id(string $eventtype, int $id, array $data): string {
        global $CFG;

        $hash = sha1(self::EVENT_NAME . '|' . $CFG->wwwroot . '|' . $eventtype . '|' . $id . '|' . outbox::encode($data));
        $hash[12] = '5';
        $hash[16] = dechex(8 | (hexdec($hash[16]) & 3));
        return substr($hash, 0, 8) . '-' . substr($hash, 8, 4) . '-' . substr($hash, 12, 4) . '-' . substr($hash, 16, 4)
            . '-' . substr($hash, 20, 12);
    }

    /**
     * The FROM and WHERE of a kind's records, aliased x; deleted users are left out.
     *
     * @param string $kind
     * @return array [sql, params]
     */
    private static function selection(string $kind): array {
        global $CFG;

        return match ($kind) {
            'users' => ['FROM {user} x WHERE x.deleted = 0 AND x.id <> :guest', ['guest' => (int) ($CFG->siteguest ?? 0)]],
            'enrolments' => ['FROM {user_enrolments} x JOIN {user} u ON u.id = x.userid WHERE u.deleted = 0', []],
            // Graded attempts only (a grade of -1 or null is "no grade yet").
            'grades' => ['FROM {assign_grades} x JOIN {user} u ON u.id = x.userid
                          WHERE u.deleted = 0 AND x.grade IS NOT NULL AND x.grade >= 0', []],
            default => throw new \coding_exception('Unknown backfill kind ' . $kind),
        };
    }

    /**
     * Queue one record's current state unless the same state was already queued.
     *
     * @param string $kind
     * @param int $id
     * @return bool False when unchanged since it was queued.
     */
    private static function queue(string $kind, int $id): bool {
        global $DB;

        $fingerprint = null;
        switch ($kind) {
            case 'users':
                $data = payload_builder::user_data($id);
                $eventtype = 'user_created';
                $key = outbox::entity_key('user', $id);
                $fields = ['objectid' => $id, 'userid' => $id, 'courseid' => 0];
                $fingerprint = payload_builder::user_fingerprint((object) $data);
                break;
            case 'enrolments':
                $data = payload_builder::enrolment_data($id);
                $eventtype = 'enrollment_created';
                $key = outbox::entity_key('enrolment', $id);
                $fields = ['objectid' => $id, 'userid' => $data['moodle_user_id'], 'courseid' => $data['course_id']];
                break;
            default:
                $data = payload_builder::grade_data($id);
                $eventtype = 'grade_updated';
                $key = outbox::entity_key('grade', $data['moodle_user_id'], $data['assignment_id']);
                $fields = ['objectid' => $id, 'userid' => $data['moodle_user_id'], 'courseid' => $data['course_id']];
        }
        $eventid = self::event_id($eventtype, $id, $data);
        if ($DB->record_exists(outbox::TABLE, ['eventid' => $eventid])) {
            return false;
        }
        outbox::add($fields + ['eventid' => $eventid, 'eventtype' => $eventtype, 'eventname' => self::EVENT_NAME,
            'fingerprint' => $fingerprint], $key, $data);
        return true;
    }

    /**
     * Config name of a kind's cursor.
     *
     * @param string $kind
     * @return string
     */
    private static function cursor_name(string $kind): string {
        return 'backfill_cursor_' . $kind;
    }
}
