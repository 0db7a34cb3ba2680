"""The one synthetic BTEC college of the demo, the tests and the benchmarks: `model` draws it from a seed and
its sizes; `webhooks` renders it as the requests Zoho and the Moodle plugin send (with the state the system
should end in), `events` as the canonical events the projector reads."""
