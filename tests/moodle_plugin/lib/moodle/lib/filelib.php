<?php
// Stand-in of Moodle's lib/filelib.php for the offline tests: defines \curl, which the plugin may use only after
// require_once($CFG->libdir . '/filelib.php'), as in Moodle. Test tooling of local_moodle_zoho_sync, GPL v3 or later.

// phpcs:disable

/**
 * Fake of Moodle's \curl (lib/filelib.php): records requests, answers from a script, and applies curl security
 * (private hosts and ports other than 80/443 are blocked) unless constructed with ignoresecurity. The script and the
 * requests live in test_http (lib/stubs.php), so tests never load this file themselves.
 */
class curl {
    public $error = '';
    public $info = [];
    private $errno = 0;
    private $header = [];
    private $ignoresecurity;

    public function __construct($settings = []) {
        $this->ignoresecurity = !empty($settings['ignoresecurity']);
    }

    public function setHeader($header) {
        foreach ((array) $header as $line) {
            $this->header[] = $line;
        }
    }

    public function post($url, $params = '', $options = []) {
        $this->error = '';
        $this->errno = 0;
        $this->info = [];
        if (!$this->ignoresecurity && (new \core\files\curl_security_helper())->url_is_blocked($url)) {
            // Moodle's curl returns before any request: no errno, no http_code, the error and the body say why.
            $this->error = get_string('curlsecurityurlblocked', 'admin');
            return $this->error;
        }
        test_http::$requests[] = ['url' => $url, 'headers' => $this->header, 'body' => $params, 'options' => $options,
            'ignoresecurity' => $this->ignoresecurity];
        if (!test_http::$script) {
            throw new coding_exception('curl: no scripted answer left for ' . $url);
        }
        $answer = array_shift(test_http::$script);
        if (isset($answer['errno'])) {
            $this->errno = $answer['errno'];
            $this->error = $answer['error'];
            $this->info = ['http_code' => 0];
            return false;
        }
        $this->info = ['http_code' => $answer['status']];
        return $answer['body'] ?? '';
    }

    public function get_errno() {
        return $this->errno;
    }

    public function get_info() {
        return $this->info;
    }
}
