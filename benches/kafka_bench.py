"""The Kafka listener's throughput through librdkafka (confluent-kafka),
run by scripts/bench-kafka against a release `weir serve` with fsync
durability:

  produce: MESSAGES messages of SIZE bytes, acks=all, idempotent, no
           compression; MB/s of payload, and each message's produce
           latency (produce() to its delivery report) as HdrHistogram
           percentiles;
  paced:   a tenth as many messages at RATE messages/s (default 50,000,
           about 50 MB/s), whose latency is the broker's and the network's
           rather than the client queue's at full speed;
  fetch:   the same messages read back from the beginning by one consumer
           assigned every partition; MB/s of payload.

Prints one `key: value` line per figure.
"""

import os
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from hdrh.histogram import HdrHistogram


def main():
    bootstrap, messages, size, partitions = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rate = int(sys.argv[5]) if len(sys.argv) > 5 else 50_000
    topic = "bench"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)]).values():
        f.result(timeout=30)

    payload = os.urandom(size)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "compression.type": "none",
            "linger.ms": 5,
            "batch.size": 1 << 20,
            "queue.buffering.max.kbytes": 1 << 20,
            "queue.buffering.max.messages": 1_000_000,
        }
    )
    latency = HdrHistogram(1, 60_000_000, 3)  # microseconds
    errors = [0]
    now = time.perf_counter

    def delivered(err, _msg, sent):
        if err is not None:
            errors[0] += 1
        else:
            latency.record_value(max(1, int((now() - sent) * 1e6)))

    started = now()
    for i in range(messages):
        sent = now()
        while True:
            try:
                producer.produce(
                    topic,
                    value=payload,
                    partition=i % partitions,
                    on_delivery=lambda err, msg, sent=sent: delivered(err, msg, sent),
                )
                break
            except BufferError:
                producer.poll(0.001)
        if i % 1000 == 0:
            producer.poll(0)
    producer.flush(120)
    produce_seconds = now() - started
    mb = messages * size / 1e6

    # Paced: the same producer, a tenth of the messages at `rate`.
    full_speed = latency
    latency = HdrHistogram(1, 60_000_000, 3)
    paced = max(1, messages // 10)
    started = now()
    for i in range(paced):
        due = started + i / rate
        while now() < due:
            producer.poll(0)
        sent = now()
        producer.produce(
            topic,
            value=payload,
            partition=i % partitions,
            on_delivery=lambda err, msg, sent=sent: delivered(err, msg, sent),
        )
        producer.poll(0)
    producer.flush(120)
    paced_seconds = now() - started
    paced_latency = latency
    latency = full_speed
    messages_total = messages + paced

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "bench-reader",
            "enable.auto.commit": False,
            "fetch.max.bytes": 64 << 20,
            "max.partition.fetch.bytes": 16 << 20,
            "queued.max.messages.kbytes": 1 << 20,
        }
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    read = 0
    started = now()
    deadline = started + 300
    while read < messages_total and now() < deadline:
        for m in consumer.consume(num_messages=100_000, timeout=1.0):
            if m.error() is None:
                read += 1
    fetch_seconds = now() - started
    consumer.close()

    print(f"messages: {messages}")
    print(f"message_bytes: {size}")
    print(f"partitions: {partitions}")
    print(f"produce_errors: {errors[0]}")
    print(f"produce_seconds: {produce_seconds:.3f}")
    print(f"produce_mb_per_s: {mb / produce_seconds:.1f}")
    for p in (50, 90, 99, 99.9):
        print(f"produce_latency_p{p}_ms: {latency.get_value_at_percentile(p) / 1000:.2f}")
    print(f"produce_latency_max_ms: {latency.get_max_value() / 1000:.2f}")
    print(f"paced_messages: {paced}")
    print(f"paced_mb_per_s: {paced * size / 1e6 / paced_seconds:.1f}")
    for p in (50, 90, 99, 99.9):
        print(f"paced_latency_p{p}_ms: {paced_latency.get_value_at_percentile(p) / 1000:.2f}")
    print(f"paced_latency_max_ms: {paced_latency.get_max_value() / 1000:.2f}")
    print(f"fetched_messages: {read}")
    print(f"fetch_seconds: {fetch_seconds:.3f}")
    print(f"fetch_mb_per_s: {read * size / 1e6 / fetch_seconds:.1f}")


if __name__ == "__main__":
    main()
