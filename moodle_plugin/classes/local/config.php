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
 * Typed access to the plugin's settings.
 *
 * @package    local_moodle_zoho_sync
 * @copyright  2026 BTEC Integration Team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class config {
    /** @var string Frankenstyle name, also the config_plugins name. */
    public const COMPONENT = 'local_moodle_zoho_sync';

    /** @var int Default HTTP timeout in seconds. */
    public const DEFAULT_TIMEOUT = 10;

    /** @var int Default number of delivery attempts before an event is marked failed. */
    public const DEFAULT_MAX_ATTEMPTS = 8;

    /** @var string[] Moodle event class => backend event type (the last path segment of the webhook URL). */
    public const EVENT_TYPES = [
        '\core\event\user_created' => 'user_created',
        '\core\event\user_updated' => 'user_updated',
        '\core\event\user_enrolment_created' => 'enrollment_created',
        '\core\event\user_enrolment_updated' => 'enrollment_updated',
        '\core\event\user_enrolment_deleted' => 'enrollment_deleted',
        '\core\event\user_deleted' => 'user_deleted',
        '\mod_assign\event\submission_graded' => 'grade_updated',
        // Gradebook overrides and imports; the body says "source": "gradebook".
        '\core\event\user_graded' => 'grade_updated',
    ];

    /** @var string Default of the internal verifier roles setting. */
    public const DEFAULT_IV_ROLES = 'internalverifier';

    /**
     * The backend event types, each once, in EVENT_TYPES order.
     *
     * @return string[]
     */
    public static function event_types(): array {
        return array_values(array_unique(self::EVENT_TYPES));
    }

    /**
     * Read one setting.
     *
     * @param string $name
     * @return mixed The stored value, or false when unset.
     */
    private static function get(string $name) {
        return get_config(self::COMPONENT, $name);
    }

    /**
     * The backend base URL without a trailing slash, or '' when not configured.
     *
     * @return string
     */
    public static function backend_url(): string {
        return rtrim(trim((string) self::get('backendurl')), '/');
    }

    /**
     * The tenant id sent as X-Tenant-ID ('' lets the backend use its default tenant).
     *
     * @return string
     */
    public static function tenant_id(): string {
        return trim((string) self::get('tenantid'));
    }

    /**
     * The Standard Webhooks secret (whsec_...).
     *
     * @return string
     */
    public static function secret(): string {
        return trim((string) self::get('secret'));
    }

    /**
     * Whether the plugin is configured well enough to send events (they are queued either way).
     *
     * @return bool
     */
    public static function is_configured(): bool {
        return self::backend_url() !== '' && self::secret() !== '';
    }

    /**
     * The event types the administrator chose to send.
     *
     * @return string[]
     */
    public static function enabled_event_types(): array {
        $value = self::get('events');
        if ($value === false || $value === null) {
            // Not saved yet: everything is on, as the setting's default says.
            return self::event_types();
        }
        $chosen = array_filter(array_map('trim', explode(',', (string) $value)));
        return array_values(array_intersect(self::event_types(), $chosen));
    }

    /**
     * Whether an event type is enabled.
     *
     * @param string $eventtype
     * @return bool
     */
    public static function is_event_enabled(string $eventtype): bool {
        return in_array($eventtype, self::enabled_event_types(), true);
    }

    /**
     * HTTP timeout in seconds (1..300).
     *
     * @return int
     */
    public static function timeout(): int {
        $value = (int) self::get('timeout');
        return $value > 0 ? min($value, 300) : self::DEFAULT_TIMEOUT;
    }

    /**
     * Delivery attempts before an event is marked failed (1..50).
     *
     * @return int
     */
    public static function max_attempts(): int {
        $value = (int) self::get('maxattempts');
        return $value > 0 ? min($value, 50) : self::DEFAULT_MAX_ATTEMPTS;
    }

    /**
     * Whether the administrator allowed a backend on a host or port that curl security blocks.
     *
     * @return bool
     */
    public static function allow_internal_hosts(): bool {
        return !empty(self::get('allowinternal'));
    }

    /**
     * Shortnames of the roles whose holders grade as internal verifiers (exact, case-insensitive).
     *
     * @return string[] Lower-cased shortnames.
     */
    public static function iv_roles(): array {
        $value = self::get('ivroles');
        if ($value === false || $value === null) {
            $value = self::DEFAULT_IV_ROLES;
        }
        $roles = array_map(fn(string $role): string => \core_text::strtolower(trim($role)), explode(',', (string) $value));
        return array_values(array_unique(array_filter($roles, fn(string $role): bool => $role !== '')));
    }

    /**
     * Whether Moodle's curl security would refuse the backend URL (private host, port other than 80/443...).
     *
     * @return bool
     */
    public static function is_url_blocked(): bool {
        $url = self::backend_url();
        if ($url === '' || self::allow_internal_hosts()) {
            return false;
        }
        // The same check Moodle's \curl makes before any request (core class, autoloaded).
        return (new \core\files\curl_security_helper())->url_is_blocked($url);
    }

    /**
     * What stops delivery, for the admin pages: each a sentence; empty when events can be sent.
     *
     * @return string[]
     */
    public static function problems(): array {
        $problems = [];
        if (self::backend_url() === '') {
            $problems[] = get_string('error:nourl', self::COMPONENT);
        }
        if (self::secret() === '') {
            $problems[] = get_string('error:nosecret', self::COMPONENT);
        } else {
            try {
                signer::key(self::secret());
            } catch (invalid_secret $e) {
                $problems[] = $e->getMessage();
            }
        }
        if (self::is_url_blocked()) {
            $problems[] = get_string('error:blockedurl', self::COMPONENT, self::backend_url());
        }
        return $problems;
    }
}
