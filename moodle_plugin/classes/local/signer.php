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
 * Standard Webhooks signing (https://www.standardwebhooks.com/).
 *
 * The signature is "v1," + base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")), where the key is
 * the base64-decoded part of a "whsec_..." secret.
 *
 * @package    local_moodle_zoho_sync
 * @copyright  2026 BTEC Integration Team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class signer {
    /** @var string Prefix of Standard Webhooks secrets. */
    private const PREFIX = 'whsec_';

    /**
     * Decode a secret into the HMAC key.
     *
     * @param string $secret "whsec_<base64>" (the prefix is optional, as in the Standard Webhooks reference libraries).
     * @return string The raw key bytes.
     * @throws invalid_secret When the secret is not valid base64.
     */
    public static function key(string $secret): string {
        $encoded = trim($secret);
        if (str_starts_with($encoded, self::PREFIX)) {
            $encoded = substr($encoded, strlen(self::PREFIX));
        }
        $key = base64_decode($encoded, true);
        if ($key === false || $key === '') {
            throw new invalid_secret();
        }
        return $key;
    }

    /**
     * Compute the webhook-signature header value.
     *
     * @param string $secret The whsec_ secret.
     * @param string $msgid The webhook id (our event id).
     * @param int $timestamp Epoch seconds, the webhook-timestamp header.
     * @param string $body The exact request body.
     * @return string "v1,<base64>"
     */
    public static function signature(string $secret, string $msgid, int $timestamp, string $body): string {
        $mac = hash_hmac('sha256', $msgid . '.' . $timestamp . '.' . $body, self::key($secret), true);
        return 'v1,' . base64_encode($mac);
    }

    /**
     * All headers of a signed request, as name => value.
     *
     * @param string $secret The whsec_ secret.
     * @param string $tenant Tenant id for X-Tenant-ID; omitted when empty.
     * @param string $msgid The webhook id (our event id).
     * @param int $timestamp Epoch seconds.
     * @param string $body The exact request body.
     * @return string[]
     */
    public static function headers(string $secret, string $tenant, string $msgid, int $timestamp, string $body): array {
        $headers = [
            'Content-Type' => 'application/json',
            'webhook-id' => $msgid,
            'webhook-timestamp' => (string) $timestamp,
            'webhook-signature' => self::signature($secret, $msgid, $timestamp, $body),
        ];
        if ($tenant !== '') {
            $headers['X-Tenant-ID'] = $tenant;
        }
        return $headers;
    }
}
