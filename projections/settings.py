"""Projector configuration, from the environment like every other service."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ProjectorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    # The schema queries read; replay builds a fresh one beside it and swaps it in.
    schema_name: str = Field(default="projections", alias="PROJECTIONS_SCHEMA")
    group_id: str = Field(default="mzsync-projector", alias="PROJECTOR_GROUP_ID")
    # Static membership: a restarted process with the same id gets its partitions back at once
    # instead of waiting for the session timeout.
    instance_id: str | None = Field(default=None, alias="PROJECTOR_INSTANCE_ID")
    batch_size: int = Field(default=5000, alias="PROJECTOR_BATCH_SIZE")
    # A batch is what has been fetched (up to batch_size); an idle projector waits this long for the next event.
    batch_wait_s: float = Field(default=0.2, alias="PROJECTOR_BATCH_WAIT_S")
    metrics_port: int = Field(default=6068, alias="PROJECTOR_METRICS_PORT")
    session_timeout_ms: int = Field(default=10000, alias="PROJECTOR_SESSION_TIMEOUT_MS")
