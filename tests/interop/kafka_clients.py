"""Real Kafka clients against Weir's Kafka listener, driven by
tests/kafka_interop.rs. Each mode prints one JSON object on stdout; the Rust
test asserts on it.

  roundtrip --client kafka-python|confluent --codec none|gzip|zstd --count N
      create a 4-partition topic, produce N messages (keys, values and two
      headers derived from the index), then read every partition from the
      beginning and compare message for message.
  group --strategy range|roundrobin|cooperative-sticky
          three confluent-kafka consumers in one group on a 6-partition
      topic; report their assignments, then again after one leaves; commit
      offsets and print them.
  committed --group G --topic T --partitions P
      the group's committed offsets (after a restart).
  times --topic T
      offsets_for_times of the records' own timestamps.
  otlp --count N
      read N records of otlp_logs and decode them with the OpenTelemetry
      protobuf classes; print the log bodies.
  groups --group G
      every group id, and G's committed offsets and state.
  compact --topic T
      produce three versions of 50 keys to a compacted topic with small
      segments, then filler; print what a full read returns per key.
"""

import argparse
import json
import sys
import threading
import time

PARTITIONS = 4


def message(i, client):
    key = f"key-{i % 101}".encode()
    value = (f"value-{i}-" + "x" * (i % 64)).encode()
    headers = [("seq", str(i).encode()), ("client", client.encode())]
    return key, value, headers


def fail(reason, **extra):
    print(json.dumps({"error": reason, **extra}))
    sys.exit(1)


# ---------------------------------------------------------------------------
# kafka-python


def kp_roundtrip(bootstrap, topic, count, codec):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        compression_type=None if codec == "none" else codec,
        linger_ms=5,
        batch_size=64 * 1024,
    )
    started = time.monotonic()
    futures = []
    for i in range(count):
        key, value, headers = message(i, "kafka-python")
        futures.append(producer.send(topic, key=key, value=value, headers=headers))
    producer.flush()
    for f in futures:
        f.get(timeout=30)
    produced = time.monotonic() - started
    idempotent = bool(getattr(producer.config, "get", lambda *_: None)("enable_idempotence"))
    producer.close()

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        consumer_timeout_ms=10_000,
        fetch_max_bytes=8 * 1024 * 1024,
    )
    partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    started = time.monotonic()
    seen = []
    for record in consumer:
        headers = [(k, bytes(v)) for k, v in record.headers]
        seen.append((record.partition, record.offset, record.key, record.value, headers))
        if len(seen) >= count:
            break
    consumed = time.monotonic() - started
    consumer.close()
    return verify(seen, count, "kafka-python", produced, consumed, idempotent)


# ---------------------------------------------------------------------------
# confluent-kafka (librdkafka)


def ck_admin_create(bootstrap, topic, partitions, config=None):
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=1, config=config or {})]
    )
    for f in futures.values():
        f.result(timeout=30)


def ck_roundtrip(bootstrap, topic, count, codec):
    from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

    ck_admin_create(bootstrap, topic, PARTITIONS)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "compression.type": codec,
            "linger.ms": 5,
        }
    )
    errors = []

    def report(err, _msg):
        if err is not None:
            errors.append(str(err))

    started = time.monotonic()
    for i in range(count):
        key, value, headers = message(i, "confluent")
        while True:
            try:
                producer.produce(topic, value=value, key=key, headers=headers, on_delivery=report)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    left = producer.flush(60)
    produced = time.monotonic() - started
    if errors or left:
        fail("produce failed", errors=errors[:5], undelivered=left)

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"roundtrip-{topic}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    started = time.monotonic()
    seen = []
    deadline = time.monotonic() + 60
    while len(seen) < count and time.monotonic() < deadline:
        for m in consumer.consume(num_messages=10_000, timeout=1.0):
            if m.error():
                fail("consume failed", detail=str(m.error()))
            seen.append((m.partition(), m.offset(), m.key(), m.value(), list(m.headers() or [])))
    consumed = time.monotonic() - started
    consumer.close()
    return verify(seen, count, "confluent", produced, consumed, True)


def verify(seen, count, client, produced_s, consumed_s, idempotent):
    problems = []
    by_index = {}
    last = {}
    for partition, offset, key, value, headers in seen:
        hdr = dict((k, v) for k, v in headers)
        i = int(hdr.get("seq", b"-1"))
        if i in by_index:
            problems.append(f"message {i} read twice")
        by_index[i] = True
        exp_key, exp_value, exp_headers = message(i, client)
        if key != exp_key or value != exp_value or headers != exp_headers:
            problems.append(f"message {i} differs: {key!r} {value[:20]!r} {headers!r}")
        prev = last.get(partition)
        if prev is not None and (offset <= prev[0] or i <= prev[1]):
            problems.append(f"partition {partition} out of order at offset {offset}")
        last[partition] = (offset, i)
    missing = [i for i in range(count) if i not in by_index]
    return {
        "client": client,
        "produced": count,
        "consumed": len(seen),
        "missing": len(missing),
        "problems": problems[:10],
        "partitions_used": len(last),
        "idempotent": idempotent,
        "produce_seconds": round(produced_s, 3),
        "consume_seconds": round(consumed_s, 3),
    }


# ---------------------------------------------------------------------------
# consumer groups


def group(bootstrap, topic, group_id, strategy):
    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

    ck_admin_create(bootstrap, topic, 6)
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i in range(600):
        producer.produce(topic, value=str(i).encode(), partition=i % 6)
    producer.flush(30)

    assignments = {}
    lock = threading.Lock()
    stop = {}
    # (partition, offset) of every message read: a partition that moves
    # during a rebalance is read again from its last commit.
    seen = set()
    commit_errors = []

    def member(name):
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group_id,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 500,
                "partition.assignment.strategy": strategy,
            }
        )

        # Eager assignors revoke everything and assign the new set;
        # cooperative-sticky hands over only what moves. Adding and
        # removing what each callback names covers both.
        def on_assign(_c, parts):
            with lock:
                held = set(assignments.get(name, []))
                assignments[name] = sorted(held | {p.partition for p in parts})

        def on_revoke(_c, parts):
            with lock:
                held = set(assignments.get(name, []))
                assignments[name] = sorted(held - {p.partition for p in parts})

        consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
        while not stop.get(name):
            m = consumer.poll(0.2)
            if m is not None and not m.error():
                with lock:
                    seen.add((m.partition(), m.offset()))
                try:
                    consumer.commit(message=m, asynchronous=False)
                except KafkaException as e:
                    # A commit racing a rebalance is refused (as Kafka
                    # refuses it); the partition's next owner reads on
                    # from the last commit that held.
                    with lock:
                        commit_errors.append(str(e))
        consumer.close()

    # Members start a second apart, so the group rebalances as each joins
    # (the first one holds every partition until the others arrive).
    threads = {}
    for name in ("a", "b", "c"):
        threads[name] = threading.Thread(target=member, args=(name,), daemon=True)
        threads[name].start()
        time.sleep(1.0)

    def settled(names):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with lock:
                current = {n: assignments.get(n, []) for n in names}
            flat = sorted(p for ps in current.values() for p in ps)
            if flat == list(range(6)) and all(current.values()):
                return current
            time.sleep(0.2)
        with lock:
            fail("group never settled", assignments=dict(assignments))

    first = settled(["a", "b", "c"])
    stop["c"] = True
    threads["c"].join(30)
    with lock:
        assignments.pop("c", None)
    second = settled(["a", "b"])
    # Let the members read and commit everything.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with lock:
            if len(seen) >= 600:
                break
        time.sleep(0.2)
    for name in ("a", "b"):
        stop[name] = True
        threads[name].join(30)

    checker = Consumer({"bootstrap.servers": bootstrap, "group.id": group_id})
    committed = checker.committed([TopicPartition(topic, p) for p in range(6)], timeout=10)
    checker.close()
    return {
        "first": first,
        "second": second,
        "read": len(seen),
        "refused_commits": len(commit_errors),
        "committed": {tp.partition: tp.offset for tp in committed},
    }


def committed(bootstrap, group_id, topic, partitions):
    from confluent_kafka import Consumer, TopicPartition

    checker = Consumer({"bootstrap.servers": bootstrap, "group.id": group_id})
    result = checker.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    checker.close()
    return {"committed": {tp.partition: tp.offset for tp in result}}


def times(bootstrap, topic):
    from confluent_kafka import Consumer, Producer, TopicPartition

    ck_admin_create(bootstrap, topic, 1)
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0})
    base = int(time.time() * 1000) - 100_000
    for i in range(100):
        producer.produce(topic, value=str(i).encode(), timestamp=base + i * 1000)
        producer.flush(10)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"times-{topic}"})
    asked = {i: base + i * 1000 for i in (0, 1, 37, 99)}
    asked[500] = base + 37_500  # between records 37 and 38
    asked[-1] = base + 200_000  # after every record
    found = {}
    for label, ts in asked.items():
        [tp] = consumer.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=10)
        found[str(label)] = tp.offset
    consumer.close()
    return {"found": found}


def otlp(bootstrap, count):
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "otlp-reader"})
    consumer.assign([TopicPartition("otlp_logs", p, OFFSET_BEGINNING) for p in range(4)])
    bodies = []
    services = set()
    deadline = time.monotonic() + 30
    while len(bodies) < count and time.monotonic() < deadline:
        m = consumer.poll(0.5)
        if m is None or m.error():
            continue
        request = ExportLogsServiceRequest()
        request.ParseFromString(m.value())
        for rl in request.resource_logs:
            for attr in rl.resource.attributes:
                if attr.key == "service.name":
                    services.add(attr.value.string_value)
            for sl in rl.scope_logs:
                for record in sl.log_records:
                    bodies.append(record.body.string_value)
    consumer.close()
    return {"bodies": sorted(bodies), "services": sorted(services)}


def groups(bootstrap, group_id):
    from confluent_kafka import ConsumerGroupTopicPartitions
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    listed = admin.list_consumer_groups().result(timeout=10)
    ids = sorted(g.group_id for g in listed.valid)
    [future] = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group_id)]).values()
    offsets = {f"{tp.topic}/{tp.partition}": tp.offset for tp in future.result(timeout=10).topic_partitions}
    [described] = admin.describe_consumer_groups([group_id]).values()
    return {"groups": ids, "offsets": offsets, "state": str(described.result(timeout=10).state)}


def compact(bootstrap, topic):
    from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

    ck_admin_create(
        bootstrap,
        topic,
        1,
        {"cleanup.policy": "compact", "segment.bytes": "4096", "delete.retention.ms": "1"},
    )
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0})
    for version in range(3):
        for k in range(50):
            producer.produce(topic, key=f"k{k}".encode(), value=f"v{version}".encode())
        producer.flush(10)
    for k in range(200):
        producer.produce(topic, key=f"filler-{k}".encode(), value=b"f" * 64)
    producer.flush(10)
    return {"ok": True}


def read_compacted(bootstrap, topic):
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"read-{topic}"})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    values = {}
    idle = 0
    while idle < 4:
        m = consumer.poll(0.5)
        if m is None:
            idle += 1
            continue
        if m.error():
            continue
        idle = 0
        key = m.key().decode()
        if key.startswith("k"):
            values.setdefault(key, []).append(m.value().decode())
    consumer.close()
    return {"values": values}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--client")
    parser.add_argument("--codec", default="none")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--topic")
    parser.add_argument("--group")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--strategy", default="range")
    a = parser.parse_args()
    if a.mode == "roundtrip":
        run = kp_roundtrip if a.client == "kafka-python" else ck_roundtrip
        out = run(a.bootstrap, a.topic, a.count, a.codec)
    elif a.mode == "group":
        out = group(a.bootstrap, a.topic, a.group, a.strategy)
    elif a.mode == "committed":
        out = committed(a.bootstrap, a.group, a.topic, a.partitions)
    elif a.mode == "times":
        out = times(a.bootstrap, a.topic)
    elif a.mode == "otlp":
        out = otlp(a.bootstrap, a.count)
    elif a.mode == "groups":
        out = groups(a.bootstrap, a.group)
    elif a.mode == "compact":
        out = compact(a.bootstrap, a.topic)
    elif a.mode == "read-compacted":
        out = read_compacted(a.bootstrap, a.topic)
    else:
        fail(f"unknown mode {a.mode}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
