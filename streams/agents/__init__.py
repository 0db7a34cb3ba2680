"""The stages of the stream topology; importing this package registers every agent on the app."""

from . import identity, intake, moodle_side, person

__all__ = ["identity", "intake", "moodle_side", "person"]
