#!/usr/bin/env python3
"""killbench.py — read one killed recording's exported consent record and
print the audio lost by a kill, counted from the first admitted buffer.

usage: killbench.py RECORD.json KILL_EPOCH_SECONDS

The first admitted buffer follows the gate's opening (RecordingStarted) by at
most one 20 ms buffer; audio admitted until the kill is KILL - started; what
was kept is the record's final offset (frames at 48 kHz). Prints
"<admitted s> <kept s> <lost s>".
"""
import datetime
import json
import sys

rec = json.load(open(sys.argv[1]))
kill = float(sys.argv[2])
started = None
for e in rec["events"]:
    if e["type"] == "RecordingStarted":
        t = datetime.datetime.strptime(e["time"][:26] + "Z", "%Y-%m-%dT%H:%M:%S.%fZ")
        started = t.replace(tzinfo=datetime.timezone.utc).timestamp()
        break
final = rec["events"][-1]["offset"] if rec["events"] else 0
for e in rec["events"]:
    if e["type"] in ("RecordingStopped", "Recovered"):
        final = e["offset"]
kept = final / 48000
admitted = max(0.0, kill - started) if started is not None else 0.0
print(f"{admitted:.3f} {kept:.3f} {max(0.0, admitted - kept):.3f}")
