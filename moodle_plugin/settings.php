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
 * Settings and admin pages of the Moodle to Zoho sync plugin.
 *
 * @package    local_moodle_zoho_sync
 * @copyright  2026 BTEC Integration Team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

$ADMIN->add('localplugins', new admin_category('local_moodle_zoho_sync_category',
    new lang_string('pluginname', 'local_moodle_zoho_sync')));

if ($hassiteconfig) {
    $settings = new admin_settingpage('local_moodle_zoho_sync', new lang_string('settings', 'local_moodle_zoho_sync'));

    if ($ADMIN->fulltree) {
        $settings->add(new admin_setting_heading('local_moodle_zoho_sync/backendheading',
            new lang_string('backendheading', 'local_moodle_zoho_sync'),
            new lang_string('backendheading_desc', 'local_moodle_zoho_sync')));

        $settings->add(new admin_setting_configtext('local_moodle_zoho_sync/backendurl',
            new lang_string('backendurl', 'local_moodle_zoho_sync'),
            new lang_string('backendurl_desc', 'local_moodle_zoho_sync'), '', PARAM_URL, 60));

        $settings->add(new admin_setting_configtext('local_moodle_zoho_sync/tenantid',
            new lang_string('tenantid', 'local_moodle_zoho_sync'),
            new lang_string('tenantid_desc', 'local_moodle_zoho_sync'), '', '/^[A-Za-z0-9_.-]{0,64}$/', 30));

        $settings->add(new \local_moodle_zoho_sync\admin\setting_secret('local_moodle_zoho_sync/secret',
            new lang_string('secret', 'local_moodle_zoho_sync'),
            new lang_string('secret_desc', 'local_moodle_zoho_sync'), ''));

        $eventchoices = [];
        $eventdefaults = [];
        foreach (\local_moodle_zoho_sync\local\config::event_types() as $eventtype) {
            $eventchoices[$eventtype] = new lang_string('event_' . $eventtype, 'local_moodle_zoho_sync');
            $eventdefaults[$eventtype] = 1;
        }
        $settings->add(new admin_setting_configmulticheckbox('local_moodle_zoho_sync/events',
            new lang_string('events', 'local_moodle_zoho_sync'),
            new lang_string('events_desc', 'local_moodle_zoho_sync'), $eventdefaults, $eventchoices));

        $settings->add(new admin_setting_configtext('local_moodle_zoho_sync/timeout',
            new lang_string('timeout', 'local_moodle_zoho_sync'),
            new lang_string('timeout_desc', 'local_moodle_zoho_sync'),
            \local_moodle_zoho_sync\local\config::DEFAULT_TIMEOUT, PARAM_INT, 5));

        $settings->add(new admin_setting_configtext('local_moodle_zoho_sync/maxattempts',
            new lang_string('maxattempts', 'local_moodle_zoho_sync'),
            new lang_string('maxattempts_desc', 'local_moodle_zoho_sync'),
            \local_moodle_zoho_sync\local\config::DEFAULT_MAX_ATTEMPTS, PARAM_INT, 5));

        $settings->add(new admin_setting_configcheckbox('local_moodle_zoho_sync/allowinternal',
            new lang_string('allowinternal', 'local_moodle_zoho_sync'),
            new lang_string('allowinternal_desc', 'local_moodle_zoho_sync'), 0));

        $settings->add(new admin_setting_configtext('local_moodle_zoho_sync/ivroles',
            new lang_string('ivroles', 'local_moodle_zoho_sync'),
            new lang_string('ivroles_desc', 'local_moodle_zoho_sync'),
            \local_moodle_zoho_sync\local\config::DEFAULT_IV_ROLES, '/^[A-Za-z0-9_, -]*$/', 40));
    }

    $ADMIN->add('local_moodle_zoho_sync_category', $settings);
}

$ADMIN->add('local_moodle_zoho_sync_category', new admin_externalpage('local_moodle_zoho_sync_log',
    new lang_string('eventlog', 'local_moodle_zoho_sync'),
    new moodle_url('/local/moodle_zoho_sync/index.php'),
    'local/moodle_zoho_sync:manage'));
