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

/**
 * Upgrade steps for the Moodle to Zoho sync plugin.
 *
 * @package    local_moodle_zoho_sync
 * @copyright  2026 BTEC Integration Team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

/**
 * Upgrade the plugin's database from an older version.
 *
 * Each schema change ends with upgrade_plugin_savepoint().
 *
 * @param int $oldversion The version we are upgrading from.
 * @return bool
 */
function xmldb_local_moodle_zoho_sync_upgrade($oldversion) {
    global $DB;

    $dbman = $DB->get_manager();

    if ($oldversion < 2026120400) {
        // The payload is captured when the event happens, with a per-record sequence the backend orders by.
        $table = new xmldb_table('local_moodle_zoho_sync_outbox');
        $fields = [
            new xmldb_field('entitykey', XMLDB_TYPE_CHAR, '100', null, null, null, null, 'other'),
            new xmldb_field('sequence', XMLDB_TYPE_INTEGER, '18', null, XMLDB_NOTNULL, null, '0', 'entitykey'),
            new xmldb_field('payload', XMLDB_TYPE_TEXT, null, null, null, null, null, 'sequence'),
        ];
        foreach ($fields as $field) {
            if (!$dbman->field_exists($table, $field)) {
                $dbman->add_field($table, $field);
            }
        }
        $index = new xmldb_index('entitykey-sequence', XMLDB_INDEX_NOTUNIQUE, ['entitykey', 'sequence']);
        if (!$dbman->index_exists($table, $index)) {
            $dbman->add_index($table, $index);
        }
        // Rows queued before this version keep a null payload: delivery builds theirs from the database, as before.
        upgrade_plugin_savepoint(true, 2026120400, 'local', 'moodle_zoho_sync');
    }

    return true;
}
