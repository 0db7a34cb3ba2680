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
 * Delivers one outbox row: builds its body, signs it, POSTs it with Moodle's curl and records the answer.
 *
 * @package    local_moodle_zoho_sync
 * @copyright  2026 BTEC Integration Team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class delivery {
    /** @var string Delivered now. */
    public const RESULT_SENT = 'sent';

    /** @var string Failed now, another attempt is scheduled. */
    public const RESULT_RETRY = 'retry';

    /** @var string Failed now, no more attempts. */
    public const RESULT_FAILED = 'failed';

    /** @var string Nothing to do: already sent or failed, not due yet, missing or being delivered by another process. */
    public const RESULT_SKIPPED = 'skipped';

    /** @var string Kept pending without an attempt: the plugin is not configured, or an earlier row of the record waits. */
    public const RESULT_WAITING = 'waiting';

    /**
     * The signed request for an outbox row.
     *
     * @param \stdClass $row The outbox row.
     * @param int $sendtime The moment of sending (webhook-timestamp; receivers refuse one more than minutes off).
     * @return array ['url' => string, 'headers' => string[] name => value, 'body' => string]
     */
    public static function build_request(\stdClass $row, int $sendtime): array {
        // Rows queued by plugin versions before 1.1 have no captured body: theirs is built from the database now.
        $body = $row->payload ?? outbox::encode(payload_builder::build($row));
        return [
            'url' => config::backend_url() . '/webhooks/moodle/' . $row->eventtype,
            'headers' => signer::headers(config::secret(), config::tenant_id(), $row->eventid, $sendtime, $body),
            'body' => $body,
        ];
    }

    /**
     * Deliver one outbox row if it is pending, due, and no earlier row of the same record waits before it.
     *
     * @param int $id Outbox row id.
     * @param int|null $now Current time for scheduling (tests pass one); the signature always uses the clock.
     * @return string One of the RESULT_* constants.
     */
    public static function deliver(int $id, ?int $now = null): string {
        global $DB;

        $now = $now ?? time();
        $lockfactory = \core\lock\lock_config::get_lock_factory(config::COMPONENT);
        $lock = $lockfactory->get_lock('outbox_' . $id, 0);
        if (!$lock) {
            return self::RESULT_SKIPPED;
        }
        try {
            $row = $DB->get_record(outbox::TABLE, ['id' => $id]);
            if (!$row || $row->status !== outbox::STATUS_PENDING || (int) $row->nextattempt > $now) {
                return self::RESULT_SKIPPED;
            }
            if (!config::is_configured()) {
                // Kept, not attempted: the scheduled task queues it again once the URL and secret are set.
                return self::RESULT_WAITING;
            }
            if (outbox::has_earlier_pending($row)) {
                // Per-record order: this row is queued again when the earlier one is sent or fails for good.
                return self::RESULT_WAITING;
            }
            try {
                return self::attempt($row, $now);
            } catch (\Throwable $e) {
                // Whatever broke (a missing class, a database error), the row says so instead of staying pending.
                return self::failed($row, get_class($e) . ': ' . $e->getMessage(), null, null, true, $now);
            }
        } finally {
            $lock->release();
        }
    }

    /**
     * One delivery attempt of a pending row.
     *
     * @param \stdClass $row The outbox row.
     * @param int $now
     * @return string One of the RESULT_* constants.
     */
    private static function attempt(\stdClass $row, int $now): string {
        global $CFG;

        try {
            $request = self::build_request($row, time());
        } catch (payload_unavailable $e) {
            return self::failed($row, $e->getMessage(), null, null, false, $now);
        } catch (invalid_secret $e) {
            // The secret is not valid base64: nothing will change until an administrator fixes it.
            return self::failed($row, $e->getMessage(), null, null, false, $now);
        }

        $headers = [];
        foreach ($request['headers'] as $name => $value) {
            $headers[] = $name . ': ' . $value;
        }
        $timeout = config::timeout();
        // \curl lives in lib/filelib.php, which Moodle's task runner does not load.
        require_once($CFG->libdir . '/filelib.php');
        $curl = new \curl(['ignoresecurity' => config::allow_internal_hosts()]);
        $curl->setHeader($headers);
        $response = $curl->post($request['url'], $request['body'], [
            'CURLOPT_TIMEOUT' => $timeout,
            'CURLOPT_CONNECTTIMEOUT' => min($timeout, 10),
            'CURLOPT_FOLLOWLOCATION' => false,
        ]);
        $info = $curl->get_info();
        $httpstatus = (int) ($info['http_code'] ?? 0);
        $response = is_string($response) ? $response : '';
        $errno = (int) $curl->get_errno();

        if ($errno === 0 && $httpstatus === 0) {
            // No request was made: Moodle's curl security refused the URL ("The URL is blocked."). That is
            // configuration, not a network fault: fail now with the reason instead of retrying for hours.
            $message = get_string('error:blockedurl', config::COMPONENT, config::backend_url()) . ' ('
                . (trim($curl->error ?? '') ?: $response) . ')';
            return self::failed($row, $message, null, null, false, $now);
        }
        if ($errno !== 0) {
            // Timeout, refused connection, DNS.
            $message = get_string('error:transport', config::COMPONENT,
                (object) ['errno' => $errno, 'error' => trim($curl->error ?? '') ?: $response]);
            return self::failed($row, $message, null, null, true, $now);
        }
        if ($httpstatus >= 200 && $httpstatus < 300) {
            outbox::mark_sent($row, $httpstatus, $response, $now);
            return self::RESULT_SENT;
        }
        $message = get_string('error:http', config::COMPONENT, $httpstatus);
        return self::failed($row, $message, $httpstatus, $response, outbox::is_retryable($httpstatus), $now);
    }

    /**
     * Record a failed attempt.
     *
     * @param \stdClass $row
     * @param string $error
     * @param int|null $httpstatus
     * @param string|null $response
     * @param bool $retryable
     * @param int $now
     * @return string RESULT_RETRY or RESULT_FAILED
     */
    private static function failed(\stdClass $row, string $error, ?int $httpstatus, ?string $response, bool $retryable,
            int $now): string {
        $status = outbox::mark_attempt_failed($row, $error, $httpstatus, $response, $retryable, $now);
        return $status === outbox::STATUS_FAILED ? self::RESULT_FAILED : self::RESULT_RETRY;
    }
}
