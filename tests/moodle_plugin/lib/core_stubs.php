<?php
// Namespaced Moodle stand-ins: uuid, events, tasks, locks. Test tooling of local_moodle_zoho_sync, GPL v3 or later.

// phpcs:disable

namespace core {
    class uuid {
        public static function generate(): string {
            $bytes = random_bytes(16);
            $bytes[6] = chr((ord($bytes[6]) & 0x0f) | 0x40);
            $bytes[8] = chr((ord($bytes[8]) & 0x3f) | 0x80);
            return vsprintf('%s%s-%s-%s-%s-%s%s%s', str_split(bin2hex($bytes), 4));
        }
    }
}

namespace core\files {
    /** Moodle's curl security (autoloaded in Moodle): private hosts and ports other than 80/443 are blocked. */
    class curl_security_helper {
        public function url_is_blocked($url) {
            $host = strtolower((string) parse_url($url, PHP_URL_HOST));
            $port = parse_url($url, PHP_URL_PORT) ?: (parse_url($url, PHP_URL_SCHEME) === 'https' ? 443 : 80);
            if (!in_array($port, [80, 443], true)) {
                return true;
            }
            if ($host === 'localhost' || $host === '::1' || $host === '[::1]') {
                return true;
            }
            if (filter_var($host, FILTER_VALIDATE_IP)) {
                return !filter_var($host, FILTER_VALIDATE_IP, FILTER_FLAG_NO_PRIV_RANGE | FILTER_FLAG_NO_RES_RANGE);
            }
            return false;
        }
    }
}

namespace core\event {
    /** Like Moodle's base event: data fields readable as properties, eventname derived from the class. */
    abstract class base {
        protected array $data;

        final protected function __construct(array $data) {
            $this->data = $data;
        }

        public static function create(array $data = []) {
            $defaults = ['objectid' => null, 'relateduserid' => null, 'courseid' => 0, 'contextid' => 1,
                'contextlevel' => CONTEXT_SYSTEM, 'contextinstanceid' => 0, 'userid' => 2, 'other' => null,
                'timecreated' => time(), 'anonymous' => 0];
            $event = new static(array_merge($defaults, $data));
            $event->data['eventname'] = '\\' . static::class;
            return $event;
        }

        public function __get($name) {
            if (!array_key_exists($name, $this->data)) {
                throw new \coding_exception("Accessing undefined event property $name");
            }
            return $this->data[$name];
        }

        public function __isset($name) {
            return isset($this->data[$name]);
        }

        public function get_data() {
            return $this->data;
        }
    }

    class user_created extends base {
    }

    class user_updated extends base {
    }

    class user_enrolment_created extends base {
    }

    class user_enrolment_updated extends base {
    }

    class user_enrolment_deleted extends base {
    }

    class user_deleted extends base {
    }

    class user_graded extends base {
    }

    class role_assigned extends base {
    }

    class role_unassigned extends base {
    }
}

namespace mod_assign\event {
    class submission_graded extends \core\event\base {
    }
}

namespace core\task {
    abstract class task_base {
        private $nextruntime = 0;
        private $component = '';

        abstract public function get_name();

        abstract public function execute();

        public function set_next_run_time($nextruntime) {
            $this->nextruntime = (int) $nextruntime;
        }

        public function get_next_run_time() {
            return $this->nextruntime;
        }

        public function set_component($component) {
            $this->component = $component;
        }

        public function get_component() {
            return $this->component;
        }
    }

    abstract class adhoc_task extends task_base {
        private $customdata = null;
        private $id = null;

        public function get_name() {
            return static::class;
        }

        public function set_custom_data($customdata) {
            $this->customdata = json_encode($customdata);
        }

        public function get_custom_data() {
            return json_decode((string) $this->customdata);
        }

        public function get_custom_data_as_string() {
            return $this->customdata;
        }

        public function set_custom_data_as_string($customdata) {
            $this->customdata = $customdata;
        }

        public function set_id($id) {
            $this->id = $id;
        }

        public function get_id() {
            return $this->id;
        }
    }

    abstract class scheduled_task extends task_base {
    }

    /**
     * Like Moodle's task manager: adhoc tasks live in the task_adhoc table (so they share the caller's transaction),
     * and a running task's row stays until it finishes, so checkforexisting sees it.
     */
    class manager {
        public static function queue_adhoc_task(adhoc_task $task, $checkforexisting = false) {
            global $DB;
            $record = (object) [
                'classname' => '\\' . ltrim(get_class($task), '\\'),
                'component' => 'local_moodle_zoho_sync',
                'customdata' => $task->get_custom_data_as_string(),
                'nextruntime' => $task->get_next_run_time() ?: time() - 1,
            ];
            if ($checkforexisting && $DB->record_exists('task_adhoc',
                    ['classname' => $record->classname, 'customdata' => $record->customdata])) {
                return false;
            }
            return $DB->insert_record('task_adhoc', $record);
        }

        /** Test helper: run due adhoc tasks (as cron would), including those they queue, until none is due. */
        public static function run_due_adhoc_tasks(int $now): int {
            global $DB;
            $ran = 0;
            while ($records = $DB->get_records_select('task_adhoc', 'nextruntime <= :now', ['now' => $now], 'nextruntime, id',
                    '*', 0, 1)) {
                $record = reset($records);
                $task = new $record->classname();
                $task->set_custom_data_as_string($record->customdata);
                $task->set_id($record->id);
                $task->set_next_run_time($record->nextruntime);
                $task->execute();
                $DB->delete_records('task_adhoc', ['id' => $record->id]);
                $ran++;
                if ($ran > 1000) {
                    throw new \coding_exception('adhoc tasks keep queueing themselves');
                }
            }
            return $ran;
        }
    }
}

namespace core\lock {
    class lock {
        public function __construct(private string $key) {
        }

        public function release() {
            unset(lock_config::$held[$this->key]);
            return true;
        }
    }

    class lock_factory {
        public function __construct(private string $type) {
        }

        public function get_lock($resource, $timeout, $maxlifetime = 86400) {
            $key = $this->type . '/' . $resource;
            if (isset(lock_config::$held[$key])) {
                return false;
            }
            lock_config::$held[$key] = true;
            return new lock($key);
        }
    }

    class lock_config {
        public static array $held = [];

        public static function get_lock_factory($type) {
            return new lock_factory($type);
        }
    }
}
