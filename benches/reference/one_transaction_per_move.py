"""What issue 8 measures caseflow against, on the same machine at the same time:
a synchronous SQLite driver (Python's sqlite3), one transaction per move.

Each move reads the case, checks the form's required fields and their types
by hand (far less than JSON Schema), writes the case's JSON snapshot and an
audit row, and commits; WAL with synchronous=NORMAL, as caseflow's default.
No rules, outbox, hash chain or organisations: a lower bound on what such an
engine does per move. The cases follow the referral script `caseflow bench`
uses (four moves each). Run it beside `caseflow bench --cases 20000
--concurrency 32` and alternate the two (BENCHMARKS.md, session 15):

    python3 benches/reference/one_transaction_per_move.py 20000

With `--memory` the same moves run on dicts with no database (the issue's "in
memory" figure), beside `cargo bench --bench engine`'s `fire`.
"""

import json
import os
import sqlite3
import sys
import tempfile
import time
import uuid

CLIENT = {
    "client": {"name": "Bench client", "date_of_birth": "1990-05-17", "cultural_identity": ["maori"],
               "primary_language": "en", "interpreter_needed": False},
    "referrer": {"name": "Dr Bench", "organisation": "Bench GP", "email": "gp@example.org"},
    "reason": "Benchmark referral",
}

# (from, to, form, required fields and their types)
STEPS = [
    ("submitted", "assessed",
     {"risk_level": "low", "presenting_issue": "Stress", "interpreter_needed": False, "safety_plan_in_place": False},
     {"risk_level": str, "presenting_issue": str}),
    ("assessed", "assigned",
     {"program": "individual_counselling", "key_worker": "kw@example.org", "start_date": "2026-01-05"},
     {"program": str, "key_worker": str, "start_date": str}),
    ("assigned", "awaiting_consent", {}, {}),
    ("awaiting_consent", "enrolled",
     {"consents": [{"type": "treatment", "given": True, "expiry_date": "2027-12-06"}]},
     {"consents": list}),
]


def move(snapshot: dict, state: str, step: tuple) -> tuple:
    """The move's checks and new snapshot, as JSON text."""
    source, target, form, required = step
    if state != source:
        raise SystemExit(f"the case is in {state}, not {source}")
    for field, kind in required.items():
        if not isinstance(form.get(field), kind):
            raise SystemExit(f"the form's {field} is missing or not a {kind.__name__}")
    snapshot.update(form)
    return target, json.dumps(snapshot), json.dumps(form)


def in_memory(cases: int) -> None:
    """The moves with no database: each case a dict, its audit a list."""
    store = {str(uuid.uuid4()): ("submitted", json.dumps(CLIENT), 1) for _ in range(cases)}
    audit = []
    moves = 0
    started = time.perf_counter()
    for step in STEPS:
        for case, (state, data, version) in store.items():
            target, snapshot, form = move(json.loads(data), state, step)
            store[case] = (target, snapshot, version + 1)
            audit.append((case, version + 1, state, target, form, time.time()))
            moves += 1
    elapsed = time.perf_counter() - started
    print(f"in memory (python dicts): {moves / elapsed:.0f} moves/s ({moves} in {elapsed:.2f} s)")


def main(cases: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = sqlite3.connect(os.path.join(folder, "reference.db"), isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE cases (id TEXT PRIMARY KEY, state TEXT NOT NULL, data TEXT NOT NULL,"
                   " version INTEGER NOT NULL, updated_at TEXT NOT NULL)")
        db.execute("CREATE TABLE audit (case_id TEXT, seq INTEGER, from_state TEXT, to_state TEXT,"
                   " form TEXT, at TEXT, PRIMARY KEY (case_id, seq))")
        ids = [str(uuid.uuid4()) for _ in range(cases)]
        with db:
            db.executemany("INSERT INTO cases VALUES (?, 'submitted', ?, 1, ?)",
                           [(case, json.dumps(CLIENT), time.time()) for case in ids])
        moves = 0
        started = time.perf_counter()
        for step in STEPS:
            for case in ids:
                db.execute("BEGIN IMMEDIATE")
                state, data, version = db.execute(
                    "SELECT state, data, version FROM cases WHERE id = ?", (case,)).fetchone()
                target, snapshot, form = move(json.loads(data), state, step)
                now = time.time()
                db.execute("UPDATE cases SET state = ?, data = ?, version = ?, updated_at = ?"
                           " WHERE id = ? AND version = ?",
                           (target, snapshot, version + 1, now, case, version))
                db.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?)",
                           (case, version + 1, state, target, form, now))
                db.execute("COMMIT")
                moves += 1
        elapsed = time.perf_counter() - started
        db.close()
    print(f"one transaction per move (python sqlite3): {moves / elapsed:.0f} moves/s ({moves} in {elapsed:.2f} s)")


if __name__ == "__main__":
    arguments = [argument for argument in sys.argv[1:] if argument != "--memory"]
    count = int(arguments[0]) if arguments else 20000
    (in_memory if "--memory" in sys.argv[1:] else main)(count)
