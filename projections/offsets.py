"""Consumed positions, stored in the projection schema itself and written with the rows they cover."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import psycopg
from psycopg import sql

TopicPartitionKey = tuple[str, int]


def stored_offsets(conn: psycopg.Connection[Any], schema: str,
                   partitions: Iterable[TopicPartitionKey]) -> dict[TopicPartitionKey, int]:
    """Next offset to read per partition; a partition never applied starts at 0."""
    wanted = list(partitions)
    rows = conn.execute(sql.SQL("SELECT topic, partition, next_offset FROM {}").format(
        sql.Identifier(schema, "projector_offset"))).fetchall()
    have = {(t, p): o for t, p, o in rows}
    return {tp: int(have.get(tp, 0)) for tp in wanted}


def claim(conn: psycopg.Connection[Any], schema: str, expected: Mapping[TopicPartitionKey, int]) -> bool:
    """Lock the offset rows of a batch and check the schema is where this process believes it is.

    False means another process (a new owner after a rebalance, or a replay swapped in) moved
    them: the caller rolls back and re-reads from the stored offsets, so nothing applies twice.
    """
    table = sql.Identifier(schema, "projector_offset")
    topics = [t for t, _ in expected]
    parts = [p for _, p in expected]
    conn.execute(sql.SQL(
        "INSERT INTO {} (topic, partition, next_offset) SELECT t, p, 0 FROM unnest(%s::text[], %s::int[]) AS u(t, p)"
        " ON CONFLICT DO NOTHING").format(table), (topics, parts))
    rows = conn.execute(sql.SQL(
        "SELECT topic, partition, next_offset FROM {} WHERE (topic, partition) IN"
        " (SELECT * FROM unnest(%s::text[], %s::int[])) ORDER BY topic, partition FOR UPDATE").format(table),
        (topics, parts)).fetchall()
    return all(expected[(t, p)] == o for t, p, o in rows)


def advance(conn: psycopg.Connection[Any], schema: str, next_offsets: Mapping[TopicPartitionKey, int]) -> None:
    conn.execute(sql.SQL(
        "UPDATE {} o SET next_offset = u.n FROM unnest(%s::text[], %s::int[], %s::bigint[]) AS u(t, p, n)"
        " WHERE o.topic = u.t AND o.partition = u.p").format(sql.Identifier(schema, "projector_offset")),
        ([t for t, _ in next_offsets], [p for _, p in next_offsets], list(next_offsets.values())))
