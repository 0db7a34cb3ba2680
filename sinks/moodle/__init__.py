"""The Moodle sink: provisions Zoho's students, teachers, programs, classes and enrollments into Moodle."""
