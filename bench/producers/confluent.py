#!/usr/bin/python3
"""librdkafka producer (through Debian's python3-confluent-kafka) for isokafka's benchmark (bench/run.mjs).

Produces N records of a fixed size without keys with the same settings as the other producers, takes send->ack
latency from librdkafka's own per-message timer (Message.latency()) in the delivery callback, and prints one JSON
line on stdout. Usage: confluent.py '<json config>' (bootstrap, topic, records, size, acks, idempotent, lingerMs,
batchSize, bufferMemory).
"""
import json
import resource
import sys
import time

from confluent_kafka import Producer, libversion, version


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def main():
    cfg = json.loads(sys.argv[1])
    n = int(cfg["records"])
    size = int(cfg["size"])
    acks = "all" if cfg["acks"] in ("all", -1, "-1") else str(cfg["acks"])
    conf = {
        "bootstrap.servers": cfg["bootstrap"],
        "client.id": "librdkafka-bench",
        "acks": acks,
        "enable.idempotence": bool(cfg.get("idempotent")) and acks == "all",
        "linger.ms": int(cfg.get("lingerMs", 5)),
        "batch.size": int(cfg.get("batchSize", 16384)),
        "max.in.flight.requests.per.connection": 5,
        "compression.codec": "none",
        # librdkafka bounds its queue by messages and by kbytes; use the byte bound as buffer.memory does
        "queue.buffering.max.kbytes": max(1, int(cfg.get("bufferMemory", 32 << 20)) // 1024),
        "queue.buffering.max.messages": 10_000_000,
        # a 1 MiB batch.size needs message.max.bytes (default 1000000) at least as large
        "message.max.bytes": max(1_000_000, int(cfg.get("batchSize", 16384)) + 4096),
    }
    p = Producer(conf)
    # warm up: metadata for the topic and the connection
    md = p.list_topics(cfg["topic"], timeout=30)
    if md.topics[cfg["topic"]].error is not None:
        raise SystemExit("topic metadata: %s" % md.topics[cfg["topic"]].error)

    value = bytes((97 + i % 26) for i in range(size))
    topic = cfg["topic"]
    lat = []
    append = lat.append
    state = {"acked": 0, "failed": 0, "first": None}

    def on_delivery(err, msg):
        if err is not None:
            state["failed"] += 1
            if state["first"] is None:
                state["first"] = str(err)
        else:
            state["acked"] += 1
            append(msg.latency())

    produce = p.produce
    poll = p.poll
    cpu0 = cpu_seconds()
    start = time.perf_counter()
    for _ in range(n):
        while True:
            try:
                produce(topic, value, on_delivery=on_delivery)
                break
            except BufferError:
                poll(0.005)  # queue full: serve delivery reports, as the librdkafka examples do
        # no poll(0) per record: delivery reports are served when the queue fills and by flush() below
    p.flush(120)
    seconds = time.perf_counter() - start
    phase_cpu = cpu_seconds() - cpu0

    lat_ms = sorted(x * 1000.0 for x in lat if x is not None and x >= 0)

    def pct(q):
        if not lat_ms:
            return 0.0
        return lat_ms[min(len(lat_ms) - 1, int(q / 100.0 * len(lat_ms)))]

    out = {
        "client": "librdkafka",
        "version": "confluent-kafka-python %s, librdkafka %s" % (version()[0], libversion()[0]),
        "records": n,
        "acked": state["acked"],
        "failed": state["failed"] + (n - state["acked"] - state["failed"]),
        "firstError": state["first"],
        "seconds": seconds,
        "recordsPerSec": n / seconds,
        "mbPerSec": n * size / seconds / 1e6,
        "latencyMs": {
            "avg": sum(lat_ms) / len(lat_ms) if lat_ms else 0.0,
            "p50": pct(50),
            "p99": pct(99),
            "max": lat_ms[-1] if lat_ms else 0.0,
        },
        "phaseCpuSeconds": phase_cpu,
    }
    print(json.dumps(out), flush=True)
    sys.exit(0 if out["failed"] == 0 else 1)


if __name__ == "__main__":
    main()
