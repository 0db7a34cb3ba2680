"""Consumer lag of every consumer group on the cluster: committed offsets against end offsets."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from common.log import LogError


@dataclass
class GroupLag:
    group: str
    state: str
    # Summed over the partitions of each topic the group has committed offsets for.
    topics: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.topics.values())


def consumer_lag(bootstrap: str, timeout: float = 10.0) -> list[GroupLag]:
    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": int(timeout * 1000)})
    try:
        listing = admin.list_consumer_groups(request_timeout=timeout).result()
    except KafkaException as exc:
        raise LogError(f"cannot list consumer groups: {exc}") from exc
    committed: dict[str, tuple[str, list[TopicPartition]]] = {}
    for group in sorted(listing.valid, key=lambda g: g.group_id):
        # The admin API answers one group per request.
        request = [ConsumerGroupTopicPartitions(group.group_id)]
        try:
            result = admin.list_consumer_group_offsets(request, request_timeout=timeout)[group.group_id].result()
        except KafkaException:
            continue  # the group vanished between the two calls
        state = group.state.name.lower() if group.state is not None else "unknown"
        committed[group.group_id] = (state, [tp for tp in result.topic_partitions or [] if tp.offset >= 0])
    wanted = {(tp.topic, tp.partition) for _, tps in committed.values() for tp in tps}
    ends = _end_offsets(admin, wanted, timeout)
    out = []
    for group_id, (state, tps) in committed.items():
        lag: dict[str, int] = defaultdict(int)
        for tp in tps:
            end = ends.get((tp.topic, tp.partition))
            if end is not None:
                lag[tp.topic] += max(0, end - tp.offset)
        out.append(GroupLag(group_id, state, dict(sorted(lag.items()))))
    return out


def _end_offsets(admin: AdminClient, wanted: set[tuple[str, int]], timeout: float) -> dict[tuple[str, int], int]:
    if not wanted:
        return {}
    futures = admin.list_offsets({TopicPartition(t, p): OffsetSpec.latest() for t, p in wanted},
                                 request_timeout=timeout)
    ends = {}
    for tp, fut in futures.items():
        try:
            ends[(tp.topic, tp.partition)] = fut.result().offset
        except KafkaException:
            continue  # a deleted topic still named by an old group's offsets
    return ends
