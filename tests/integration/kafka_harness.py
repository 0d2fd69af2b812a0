"""A real Apache Kafka broker for the Kafka output's tests and bench/kafka: jars from Maven Central
(tests/integration/kafka/pom.xml, cached), Java 17, KRaft mode (one node that is broker and
controller), listening on 127.0.0.1 only, on free ports. Read back with kcat."""

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
POM = os.path.join(HERE, "kafka", "pom.xml")
CACHE = os.environ.get("DFW_KAFKA_CACHE") or os.path.join(
    os.path.expanduser("~"), ".cache", "defender-forwarder", "kafka")


def _pom_version():
    with open(POM) as f:
        text = f.read()
    start = text.index("<kafka.version>") + len("<kafka.version>")
    return text[start:text.index("</kafka.version>")]


def broker_jars():
    """The directory of the broker's jars, fetched with Maven on first use and cached."""
    version = _pom_version()
    jars = os.path.join(CACHE, version)
    if os.path.exists(os.path.join(jars, ".complete")):
        return jars
    os.makedirs(CACHE, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="jars-", dir=CACHE)
    r = subprocess.run(["mvn", "-q", "-B", "-f", POM, "dependency:copy-dependencies",
                        "-DoutputDirectory=" + tmp, "-DincludeScope=runtime"],
                       capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError("mvn could not fetch the Kafka broker jars:\n" + r.stdout[-3000:] +
                           r.stderr[-3000:])
    open(os.path.join(tmp, ".complete"), "w").close()
    try:
        os.rename(tmp, jars)
    except OSError:  # another run cached it first
        shutil.rmtree(tmp, ignore_errors=True)
    return jars


class KafkaBroker:
    """One KRaft node (broker + controller) on 127.0.0.1, its data in workdir/name."""

    def __init__(self, workdir, name="kafka", auto_create=True, partitions=3, heap="512m",
                 sasl_users=None):
        """sasl_users {user: password}: a second listener, SASL_PLAINTEXT with PLAIN, at
        self.sasl_bootstrap (self.bootstrap stays PLAINTEXT, for kcat)."""
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.jars = broker_jars()
        self.port, self.controller_port, sasl_port = harness.free_ports(3)
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.sasl_port = sasl_port if sasl_users else None
        self.sasl_bootstrap = f"127.0.0.1:{self.sasl_port}" if sasl_users else None
        self.heap = heap
        self.conf = os.path.join(self.dir, "server.properties")
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:"
                         f"{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": os.path.join(self.dir, "data"),
            "num.partitions": str(partitions),
            "auto.create.topics.enable": "true" if auto_create else "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "log.flush.interval.messages": "1000000",
        }
        if sasl_users:
            users = " ".join(f'user_{u}="{p}"' for u, p in sasl_users.items())
            props["listeners"] += f",SASL_PLAINTEXT://127.0.0.1:{self.sasl_port}"
            props["advertised.listeners"] += f",SASL_PLAINTEXT://127.0.0.1:{self.sasl_port}"
            props["listener.security.protocol.map"] += ",SASL_PLAINTEXT:SASL_PLAINTEXT"
            props["sasl.enabled.mechanisms"] = "PLAIN"
            props["listener.name.sasl_plaintext.plain.sasl.jaas.config"] = (
                "org.apache.kafka.common.security.plain.PlainLoginModule required " + users + ";")
        with open(self.conf, "w") as f:
            f.write("".join(f"{k}={v}\n" for k, v in props.items()))
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        # "--cluster-id=ID": an id that starts with "-" (1 in 64) is not taken for an option
        r = subprocess.run(self._java("kafka.tools.StorageTool", "format",
                                      "--cluster-id=" + cluster_id, "-c", self.conf),
                           capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            raise RuntimeError("kafka storage format failed:\n" + r.stdout + r.stderr)
        self.proc = None
        self.log = None
        self.start()

    def _java(self, main, *args, heap="256m"):
        return ["java", f"-Xmx{heap}", "-XX:+UseSerialGC", "-Djava.awt.headless=true",
                "-cp", os.path.join(self.jars, "*"), main, *args]

    def start(self, timeout=90):
        self.log = open(os.path.join(self.dir, "broker.log"), "ab")
        self.proc = subprocess.Popen(self._java("kafka.Kafka", self.conf, heap=self.heap),
                                     stdout=self.log, stderr=self.log)
        harness.wait_for(lambda: self.proc.poll() is not None or self.ready(), timeout,
                         "the Kafka broker to serve metadata", interval=0.5)
        if self.proc.poll() is not None:
            raise RuntimeError("the Kafka broker exited; see " + self.log.name)

    def ready(self):
        try:
            r = subprocess.run(["kcat", "-b", self.bootstrap, "-L", "-J", "-m", "2"],
                               capture_output=True, text=True, timeout=10)
            return r.returncode == 0 and len(json.loads(r.stdout).get("brokers", [])) == 1
        except (subprocess.TimeoutExpired, ValueError):
            return False

    def stop(self, sig=signal.SIGTERM, timeout=60):
        harness.stop_process(self.proc, timeout, sig)
        if self.log is not None:
            self.log.close()
        self.proc = None
        self.log = None

    def topics(self):
        r = subprocess.run(["kcat", "-b", self.bootstrap, "-L", "-J"], capture_output=True,
                           text=True, timeout=30, check=True)
        return sorted(t["topic"] for t in json.loads(r.stdout)["topics"]
                      if not t["topic"].startswith("__"))

    def consume(self, topic, timeout=60):
        """Every message of topic as {"topic", "partition", "offset", "key", "headers": {...},
        "value"} (kcat -J, read to the end of each partition)."""
        r = subprocess.run(["kcat", "-b", self.bootstrap, "-C", "-t", topic, "-o", "beginning",
                            "-e", "-q", "-J"], capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise AssertionError(f"kcat -C {topic} failed: {r.stderr[-2000:]}")
        out = []
        for line in r.stdout.splitlines():
            if not line.strip():
                continue
            m = json.loads(line)
            h = m.get("headers") or []
            out.append({"topic": m["topic"], "partition": m["partition"], "offset": m["offset"],
                        "key": m.get("key"), "headers": dict(zip(h[0::2], h[1::2])),
                        "value": m.get("payload")})
        return out

    def consume_all(self, prefix=""):
        """Every message of every topic whose name starts with prefix."""
        out = []
        for t in self.topics():
            if t.startswith(prefix):
                out += self.consume(t)
        return out


def checkpoint(state_dir, tenant, stream):
    """The checkpoint of (tenant, stream) as JSON, or None (harness.checkpoint)."""
    import harness
    return harness.checkpoint(state_dir, tenant, stream)


def delivered(state_dir, tenants, streams=None):
    """Sum of the checkpoints' delivered counters."""
    total = 0
    for t in tenants:
        for s in streams or STREAMS:
            c = checkpoint(state_dir, t, s)
            total += c.get("delivered", 0) if c else 0
    return total


STREAMS = ("m365d-incidents", "mde-alerts", "graph-alerts")
ID_FIELD = {"m365d-incidents": "incidentId", "mde-alerts": "id", "graph-alerts": "id",
            "graph-incidents": "id"}
UPDATED_FIELD = {"m365d-incidents": "lastUpdateTime", "mde-alerts": "lastUpdateTime",
                 "graph-alerts": "lastUpdateDateTime", "graph-incidents": "lastUpdateDateTime"}


def expected_records(emu, tenants=None, streams=STREAMS):
    """{(tenant, stream, id): record} of what the emulator holds now."""
    out = {}
    for t in emu.tenants:
        if tenants is not None and t["name"] not in tenants:
            continue
        for stream in streams:
            for rec in emu.records(t["name"], stream):
                out[(t["name"], stream, str(rec[ID_FIELD[stream]]))] = rec
    return out


def message_key(msg):
    """(tenant, stream, id) of a message written by the Kafka output with key = id."""
    return msg["headers"].get("tenant"), msg["headers"].get("stream"), msg["key"]


def parse_summary(text):
    """The key=value pairs of the 'summary:' line of `run --once`."""
    for line in reversed(text.splitlines()):
        if line.startswith("summary:"):
            return dict(p.partition("=")[::2] for p in line.split()[1:])
    return None
