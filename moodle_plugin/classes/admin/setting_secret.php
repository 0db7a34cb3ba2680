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

namespace local_moodle_zoho_sync\admin;

use local_moodle_zoho_sync\local\invalid_secret;
use local_moodle_zoho_sync\local\signer;

defined('MOODLE_INTERNAL') || die();

require_once($CFG->libdir . '/adminlib.php');

/**
 * The shared secret setting: a masked field that only accepts a Standard Webhooks secret (whsec_<base64>).
 *
 * @package    local_moodle_zoho_sync
 * @copyright  2026 BTEC Integration Team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class setting_secret extends \admin_setting_configpasswordunmask {
    /**
     * Accept an empty value (plugin off) or a whsec_ secret whose key decodes.
     *
     * @param string $data
     * @return bool|string True, or the error message.
     */
    public function validate($data) {
        $data = trim((string) $data);
        if ($data === '') {
            return true;
        }
        try {
            signer::key($data);
        } catch (invalid_secret $e) {
            return get_string('error:secretformat', 'local_moodle_zoho_sync');
        }
        return str_starts_with($data, 'whsec_') ? true : get_string('error:secretformat', 'local_moodle_zoho_sync');
    }
}
