<?php
// Privacy API stand-ins with Moodle's interface signatures. Test tooling of local_moodle_zoho_sync, GPL v3 or later.

// phpcs:disable

namespace core_privacy\local\metadata {
    interface provider {
        public static function get_metadata(collection $collection): collection;
    }

    class collection {
        public array $items = [];

        public function __construct(public string $component) {
        }

        public function add_database_table($name, array $privacyfields, $summary = '') {
            $this->items[] = ['type' => 'database_table', 'name' => $name, 'fields' => $privacyfields, 'summary' => $summary];
            return $this;
        }

        public function add_external_location_link($name, array $privacyfields, $summary = '') {
            $this->items[] = ['type' => 'external_location', 'name' => $name, 'fields' => $privacyfields, 'summary' => $summary];
            return $this;
        }

        public function get_collection() {
            return $this->items;
        }
    }
}

namespace core_privacy\local\request {
    interface core_data_provider {
    }

    interface core_user_data_provider extends core_data_provider {
        public static function get_contexts_for_userid(int $userid): contextlist;

        public static function export_user_data(approved_contextlist $contextlist);

        public static function delete_data_for_all_users_in_context(\context $context);

        public static function delete_data_for_user(approved_contextlist $contextlist);
    }

    interface core_userlist_provider {
        public static function get_users_in_context(userlist $userlist);

        public static function delete_data_for_users(approved_userlist $userlist);
    }

    class contextlist {
        protected array $contextids = [];

        public function add_from_sql($sql, $params) {
            global $DB;
            foreach ($DB->get_fieldset_sql($sql, $params) as $id) {
                $this->contextids[(int) $id] = (int) $id;
            }
            return $this;
        }

        public function get_contextids() {
            return array_values($this->contextids);
        }

        public function get_contexts() {
            return array_map(fn($id) => \context::instance_by_id($id), $this->get_contextids());
        }
    }

    class approved_contextlist extends contextlist {
        public function __construct(private \stdClass $user, private string $component, array $contextids) {
            foreach ($contextids as $id) {
                $this->contextids[(int) $id] = (int) $id;
            }
        }

        public function get_user() {
            return $this->user;
        }
    }

    class userlist {
        protected array $userids = [];

        public function __construct(protected \context $context, protected string $component) {
        }

        public function add_from_sql($fieldname, $sql, $params) {
            global $DB;
            foreach ($DB->get_records_sql($sql, $params) as $record) {
                $this->userids[(int) $record->$fieldname] = (int) $record->$fieldname;
            }
            return $this;
        }

        public function get_context() {
            return $this->context;
        }

        public function get_userids() {
            return array_values($this->userids);
        }
    }

    class approved_userlist extends userlist {
        public function __construct(\context $context, string $component, array $userids) {
            parent::__construct($context, $component);
            foreach ($userids as $id) {
                $this->userids[(int) $id] = (int) $id;
            }
        }
    }

    class transform {
        public static function datetime($datetime) {
            return gmdate('Y-m-d\TH:i:s\Z', (int) $datetime);
        }
    }

    class content_writer {
        public array $exported = [];

        public function __construct(public \context $context) {
        }

        public function export_data(array $subcontext, \stdClass $data) {
            $this->exported[implode('/', $subcontext)] = $data;
            return $this;
        }
    }

    class writer {
        /** @var content_writer[] by context id */
        public static array $writers = [];

        public static function with_context(\context $context) {
            return self::$writers[$context->id] ??= new content_writer($context);
        }

        public static function reset() {
            self::$writers = [];
        }
    }
}

namespace core_privacy\local\request\plugin {
    interface provider extends \core_privacy\local\request\core_user_data_provider {
    }
}
