"""The real-Moodle check of the plugin (a developer tool, not shipped)."""
