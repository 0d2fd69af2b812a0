"""The daemon (`run`, poll_interval 1s) into a real syslog-ng over TCP: after the backfill, records
added while it runs arrive once (kind new), updates of old records arrive once more with the new
last-update time (kind update), unchanged records never twice; SIGTERM ends it with status 0."""

import collections
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TENANTS = ("contoso", "fabrikam")
RECORDS = 50


class Incremental(unittest.TestCase):
    def setUp(self):
        self.work = harness.Workdir("dfw-it-incr-")
        self.addCleanup(self.work.cleanup)
        self.emu = harness.Emulator(self.work.path, tenants=len(TENANTS), records=RECORDS,
                                    args=("--no-rate-limit",))
        self.addCleanup(self.emu.stop)
        self.sng = harness.SyslogNg(self.work.path, transport="tcp")
        self.addCleanup(self.sng.stop)
        self.state = os.path.join(self.work.path, "state")
        self.conf = harness.write_config(
            os.path.join(self.work.path, "forwarder.conf"), self.emu, self.state,
            [("siem", {"type": "syslog", "host": "127.0.0.1", "port": self.sng.port})],
            forwarder={"poll_interval": "1s"})
        self.fw = None

    def tearDown(self):
        if self.fw:
            self.fw.cleanup()

    def received(self):
        """{(tenant, stream, id): [(rt, kind), ...]} of the CEF messages received so far."""
        events, stray = harness.parse_received(self.sng.lines())
        self.assertEqual(stray, [])
        out = collections.defaultdict(list)
        for header, ext, _ in events:
            out[harness.cef_event_key(header, ext)].append((ext.get("rt"), ext.get("cs5")))
        return out, events

    def wait_lines(self, n, what):
        harness.wait_for(lambda: len(self.sng.lines()) >= n or None, 120, what)
        return self.sng.settle(closed=False)

    def api_requests(self):
        req = self.emu.control("stats")["requests"]
        return {(t, s): req.get(s, {}).get(t, 0) for t in TENANTS for s in harness.STREAMS}

    def wait_polls(self, n):
        """Wait until every (tenant, stream) has been polled at least n more times."""
        before = self.api_requests()
        harness.wait_for(lambda: all(v >= before[k] + n for k, v in self.api_requests().items()),
                         120, f"{n} more polls of every stream")

    def test_backfill_new_records_updates_and_sigterm(self):
        self.fw = harness.Forwarder(self.conf, log_path=os.path.join(self.work.path, "fw.log"))
        backfill = harness.expected_records(self.emu)
        total = len(backfill)
        self.assertEqual(total, len(TENANTS) * 3 * RECORDS)
        lines = self.wait_lines(total, "the backfill")
        self.assertEqual(harness.check_cef_delivery(lines, backfill,
                                                    {k: "new" for k in backfill})[:20], [])

        # new records while it runs: each arrives once, kind new
        added = {}
        for t in TENANTS:
            for stream in harness.STREAMS:
                res = self.emu.control("records", {"tenant": t, "stream": stream, "count": 4})
                for r in res["records"]:
                    added[(t, stream, str(r["id"]))] = r["lastUpdate"]
        total += len(added)
        self.wait_lines(total, "the added records")

        # updates: the 3 least recently updated (old) records of every stream, and one of the
        # records added above (its first version is inside the overlap window)
        updated, recent = {}, {}
        for t in TENANTS:
            for stream in harness.STREAMS:
                res = self.emu.control("update", {"tenant": t, "stream": stream, "count": 3})
                for r in res["records"]:
                    updated[(t, stream, str(r["id"]))] = r["lastUpdate"]
                rid = next(k[2] for k in added if k[:2] == (t, stream))
                res = self.emu.control("update", {"tenant": t, "stream": stream, "ids": [rid]})
                recent[(t, stream, rid)] = res["records"][0]["lastUpdate"]
        self.assertEqual(len(updated), len(TENANTS) * 3 * 3)
        self.assertTrue(all(k in backfill for k in updated), "update picked a new record")
        total += len(updated) + len(recent)
        self.wait_lines(total, "the updates")

        # several more polls (each re-reads the 5 minute overlap): nothing more may arrive
        self.wait_polls(3)
        lines = self.sng.settle(closed=False)
        got, events = self.received()
        problems = []
        want = collections.Counter()
        for key, rec in backfill.items():
            info = harness.STREAM_INFO[key[1]]
            want[(key, str(harness.iso_ms(rec[info["updated"]])), "new")] += 1
        for key, upd in added.items():
            want[(key, str(harness.iso_ms(upd)), "new")] += 1
        for key, upd in updated.items():
            want[(key, str(harness.iso_ms(upd)), "update")] += 1
        have = collections.Counter()
        for key, versions in got.items():
            for rt, kind in versions:
                have[(key, rt, kind)] += 1
        # the second version of a recent record: once, with its new time (kind checked below)
        for key, upd in recent.items():
            rt = str(harness.iso_ms(upd))
            versions = [v for v in got.get(key, []) if v[0] == rt]
            if len(versions) != 1:
                problems.append(f"update of recent record {key} received {len(versions)} times")
            for v in versions:
                have[(key, v[0], v[1])] -= 1
        have = +have
        for item in want - have:
            problems.append(f"missing: {item}")
        for item in have - want:
            problems.append(f"unexpected or repeated: {item} x{have[item]}")
        self.assertEqual(problems[:20], [], f"{len(problems)} problem(s)")
        self.assertEqual(len(lines), total)

        # every field of the update messages comes from the new version of the record
        current = harness.expected_records(self.emu)
        for header, ext, _ in events:
            key = harness.cef_event_key(header, ext)
            if key in updated and ext.get("rt") == str(harness.iso_ms(updated[key])):
                self.assertEqual(harness.check_cef_event(header, ext, key[0], key[1],
                                                         current[key], "update"), [])

        show = harness.state_show(self.conf)
        for t in TENANTS:
            for stream in harness.STREAMS:
                self.assertEqual(show[(t, stream)]["delivered"], RECORDS + 4 + 3 + 1,
                                 show[(t, stream)])

        self.assertEqual(self.fw.stop(signal.SIGTERM), 0, self.fw.log()[-2000:])
        summary = harness.parse_summary(self.fw.log())
        self.assertIsNotNone(summary)
        self.assertEqual(int(summary["delivered"]), total)
        self.assertEqual(summary["failed"], "0")

        # a restart re-reads the overlap window (which holds the records added and updated above)
        # and drops every pair the checkpoints remember: nothing is sent twice; SIGINT ends it
        self.fw = harness.Forwarder(self.conf, log_path=os.path.join(self.work.path, "fw2.log"))
        self.wait_polls(3)
        self.assertEqual(len(self.sng.settle(closed=False)), total)
        self.assertEqual(self.fw.stop(signal.SIGINT), 0, self.fw.log()[-2000:])
        summary = harness.parse_summary(self.fw.log())
        self.assertEqual(summary["delivered"], "0", summary)
        self.assertGreater(int(summary["duplicates"]), 0, summary)  # the overlap was re-read

    def test_late_records_inside_the_overlap(self):
        # Records whose last-update time is already behind the checkpoint when they become
        # visible (late indexing): the overlap window (5 minutes here) picks them up, once.
        self.fw = harness.Forwarder(self.conf, log_path=os.path.join(self.work.path, "fw.log"))
        total = len(TENANTS) * 3 * RECORDS
        self.wait_lines(total, "the backfill")
        self.wait_polls(2)  # the checkpoint is now past the present, past any late time below
        late = {}
        for t in TENANTS:
            for stream in harness.STREAMS:
                res = self.emu.control("records", {"tenant": t, "stream": stream, "count": 2,
                                                   "age_s": 90})
                for r in res["records"]:
                    late[(t, stream, str(r["id"]))] = r["lastUpdate"]
        self.wait_lines(total + len(late), "the late records")
        self.wait_polls(3)
        self.sng.settle(closed=False)
        got, _ = self.received()
        for key, upd in late.items():
            self.assertEqual(got.get(key), [(str(harness.iso_ms(upd)), "new")], key)
        self.assertEqual(sum(len(v) for v in got.values()), total + len(late))
        self.assertEqual(self.fw.stop(signal.SIGTERM), 0)

    def test_update_of_recent_record_is_kind_update(self):
        # A record the forwarder already delivered, updated a few seconds later: DESIGN.md §3
        # (cursor) says an update is a new event of kind `update`.
        self.fw = harness.Forwarder(self.conf, log_path=os.path.join(self.work.path, "fw.log"))
        total = len(TENANTS) * 3 * RECORDS
        self.wait_lines(total, "the backfill")
        t, stream = TENANTS[0], "mde-alerts"
        rid = self.emu.control("records", {"tenant": t, "stream": stream, "count": 1})["ids"][0]
        self.wait_lines(total + 1, "the new record")
        res = self.emu.control("update", {"tenant": t, "stream": stream, "ids": [rid]})
        rt = str(harness.iso_ms(res["records"][0]["lastUpdate"]))
        self.wait_lines(total + 2, "the update")
        got, _ = self.received()
        self.assertEqual([v for v in got[(t, stream, rid)] if v[0] == rt], [(rt, "update")])
        self.assertEqual(self.fw.stop(signal.SIGTERM), 0)


if __name__ == "__main__":
    unittest.main()
