"""Moodle plugin events (`POST /webhooks/moodle/{event}`, tests/samples/moodle).

Field aliases accept the first team's plugin spellings (`userid`, `courseid`, …) too.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from streams.sources.types import Email, EpochMs, Name, OptFloat, OptId, OptInt, RecordId, Text


def _alias(*names: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(*names))


class MoodleEnvelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_id: Text = None
    event_type: Text = None
    timestamp: EpochMs = None
    site_url: Text = None
    # The plugin's per-record counter, taken with the change (top level of today's plugin's bodies).
    sequence: OptInt = None
    data: dict[str, Any] = Field(validation_alias=AliasChoices("data", "event_data"))


class MoodleUserData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    moodle_user_id: RecordId = Field(validation_alias=AliasChoices("moodle_user_id", "userid", "user_id"))
    username: Text = None
    email: Email = None
    first_name: Name = _alias("firstname", "first_name")
    last_name: Name = _alias("lastname", "last_name")
    idnumber: Text = None
    time_modified: EpochMs = _alias("timemodified", "time_modified")
    # The plugin's per-record counter, taken when the change happened (orders changes within one second).
    sequence: OptInt = None


class MoodleEnrollmentData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    enrolment_id: RecordId = Field(validation_alias=AliasChoices("enrolment_id", "enrollment_id", "userenrolment_id"))
    moodle_user_id: RecordId = Field(validation_alias=AliasChoices("moodle_user_id", "userid", "user_id"))
    course_id: RecordId = Field(validation_alias=AliasChoices("course_id", "courseid"))
    course_idnumber: Text = None
    role: Text = None
    # Moodle's user_enrolments.status: 0 active, 1 suspended.
    status: OptInt = None
    time_start: EpochMs = _alias("time_start", "timestart")
    time_end: EpochMs = _alias("time_end", "timeend")
    sequence: OptInt = None


class MoodleGrader(BaseModel):
    model_config = ConfigDict(extra="ignore")

    moodle_user_id: OptId = _alias("moodle_user_id", "userid", "id")
    full_name: Text = _alias("full_name", "fullname", "name")
    role: Text = None
    # Role shortnames in the grade's context, when the plugin sends them all.
    roles: list[str] = Field(default_factory=list)


class MoodleLearningOutcome(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: Text = _alias("code", "shortname")
    description: Text = None
    score: OptFloat = None
    feedback: Text = _alias("feedback", "remark")


class MoodleGradeData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    moodle_user_id: RecordId = Field(validation_alias=AliasChoices("moodle_user_id", "userid", "student_id"))
    user_email: Email = _alias("user_email", "student_email")
    course_id: OptId = _alias("course_id", "courseid")
    course_idnumber: Text = None
    assignment_id: RecordId
    assignment_name: Text = None
    grade_id: OptId = None
    raw_grade: OptFloat = None
    grade_max: OptFloat = None
    # BTEC grading form result, 1 Refer … 4 Distinction, when the assignment uses the scale.
    scale_index: OptInt = _alias("scale_index", "btec_scale_index")
    # A letter set by the plugin's own tasks: RR (double refer), F (failed to submit).
    letter: Text = _alias("letter", "btec_grade")
    # The first plugin's free-text status; today's sends the marking workflow state and whether it is released.
    status: Text = None
    workflow_state: Text = None
    released: bool | None = None
    sequence: OptInt = None
    attempt_number: OptInt = None
    time_graded: EpochMs = _alias("time_graded", "timegraded")
    grader: MoodleGrader | None = None
    feedback: Text = None
    learning_outcomes: list[MoodleLearningOutcome] = Field(default_factory=list)
