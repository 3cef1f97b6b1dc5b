#!/usr/bin/env python3
# test-free: `veto serve` without a campaign: active learning on the pool for several annotators at once, checked in the database. TAP on stdout.
#
# Usage: test-free.py VETO
import json
import os
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webtest  # noqa: E402

N_ITEMS = 120
PEOPLE = ("ann", "ben", "cy")
ROUNDS = 12


def question(client):
    status, body, _ = client.request("GET", "/api/question")
    return status, json.loads(body) if status == 200 else None


def answer(client, q, uid):
    """Says "not" the first candidate; returns the status and the response."""
    status, body, _ = client.request("POST", "/api/answer", {
        "question": q["id"], "class": q["candidates"][0]["id"], "answer_id": uid})
    return status, json.loads(body) if body else None


def main():
    veto = sys.argv[1]
    tap = webtest.Tap()
    with tempfile.TemporaryDirectory(prefix="veto-web-free-") as folder:
        project = webtest.make_project(veto, folder, N_ITEMS, 1, campaign=False)
        tokens = {name: webtest.invite(veto, project, name) for name in PEOPLE}
        admin = webtest.invite(veto, project, "lead", admin=True)
        server = webtest.Server(veto, project)
        clients = {name: webtest.Client(server.port, tokens[name]) for name in PEOPLE}
        lead = webtest.Client(server.port, admin)

        # Three people at once: three questions on three different items.
        first = {name: question(clients[name]) for name in PEOPLE}
        shown = [q for status, q in first.values() if status == 200]
        tap.check(len(shown) == 3 and all(q["kind"] == "complementary"
                                          and len(q["candidates"]) == 4
                                          and q["campaign"] is None
                                          and q["asked_before"] == 0 for q in shown),
                  "each person gets a complementary question with 4 candidates, no campaign, "
                  "about an item they have not answered",
                  repr(first))
        tap.check(len({q["item"] for q in shown}) == 3,
                  "no item is handed to two people at once", repr([q["item"] for q in shown]))
        status, again = question(clients["ann"])
        tap.check(status == 200 and again["id"] == first["ann"][1]["id"],
                  "asking again renews the same question", repr(again))

        # Everyone answers in turn; every answer is acknowledged after its commit.
        acked = {}
        statuses = []
        for r in range(ROUNDS):
            for name in PEOPLE:
                status, q = question(clients[name])
                if status != 200:
                    statuses.append(status)
                    continue
                uid = "free-%s-%02d-answer" % (name, r)
                status, reply = answer(clients[name], q, uid)
                statuses.append(status)
                if status == 200:
                    acked[reply["answer"]] = (name, q)
        tap.check(statuses.count(200) == ROUNDS * len(PEOPLE) and len(acked) == ROUNDS * 3,
                  "%d answers acknowledged (200)" % (ROUNDS * 3), repr(statuses))

        con = webtest.db(project)
        rows = con.execute(
            "SELECT a.id, n.name, a.item_id, a.campaign_id, a.kind, a.undone, a.strategy"
            " FROM annotations a JOIN annotators n ON n.id = a.annotator_id").fetchall()
        by_id = {row[0]: row for row in rows}
        tap.check(set(by_id) == set(acked) and all(by_id[i][1] == acked[i][0]
                                                   and by_id[i][2] == acked[i][1]["item"]
                                                   for i in acked),
                  "every acknowledged answer is in the project, by its person, on its item",
                  "%d rows, %d acked" % (len(rows), len(acked)))
        tap.check(all(row[3] is None and row[4] == "complementary" and row[5] == 0
                      for row in rows), "free answers belong to no campaign",
                  repr(rows[:3]))
        pairs = [(row[1], row[2]) for row in rows]
        tap.check(len(set(pairs)) == len(pairs), "nobody answered an item twice")
        shown_class = con.execute(
            "SELECT count(*) FROM annotations a JOIN annotation_candidates c"
            " ON c.annotation_id = a.id AND c.class_id = a.answer_class_id").fetchone()[0]
        n_shown = con.execute("SELECT count(*) FROM annotation_candidates").fetchone()[0]
        con.close()
        tap.check(shown_class == len(rows) and n_shown == 4 * len(rows),
                  "each answer records its 4 candidates, the class answered among them",
                  "%d of %d, %d candidates" % (shown_class, len(rows), n_shown))

        # Skip gives the item back; undo brings the last answer's question back.
        status, q = question(clients["ben"])
        clients["ben"].request("POST", "/api/skip", {"question": q["id"]})
        status, after_skip = question(clients["ben"])
        tap.check(status == 200 and after_skip["item"] != q["item"],
                  "a skip moves on to another item", repr((q["item"], after_skip)))
        last = max(i for i in acked if acked[i][0] == "cy")
        status, body, _ = clients["cy"].request("POST", "/api/undo")
        status_q, back = question(clients["cy"])
        con = webtest.db(project)
        undone = con.execute("SELECT undone FROM annotations WHERE id = ?", (last,)).fetchone()[0]
        con.close()
        tap.check(status == 200 and undone == 1 and status_q == 200
                  and back["item"] == acked[last][1]["item"],
                  "undo marks the answer undone and asks its question again",
                  "%d %s %r" % (status, body, back))

        # The learner trains on everyone's answers and orders what comes next.
        version = 0
        deadline = time.monotonic() + 120
        while version == 0 and time.monotonic() < deadline:
            status, body, _ = lead.request("GET", "/api/progress")
            progress = json.loads(body) if status == 200 else {}
            version = progress.get("model_version") or 0
            if version == 0:
                time.sleep(0.5)
        tap.check(version > 0 and progress.get("campaign", "") is None
                  and progress.get("items") == N_ITEMS,
                  "the learner delivers a model from everyone's answers", repr(progress))
        ordered = []
        for name in ("ann", "ben"):
            # A question leased before the model came (ben's after his skip) stays this person's
            # until answered or given back: give it back, so what follows is the model's choice.
            status, held = question(clients[name])
            if status == 200:
                clients[name].request("POST", "/api/skip", {"question": held["id"]})
            for r in range(3):
                status, q = question(clients[name])
                status, reply = answer(clients[name], q, "late-%s-%d-answer" % (name, r))
                if status == 200:
                    ordered.append(reply["answer"])
        con = webtest.db(project)
        marks = con.execute("SELECT model_version, strategy FROM annotations WHERE id IN (%s)"
                            % ",".join(str(i) for i in ordered)).fetchall()
        ok = con.execute("PRAGMA integrity_check").fetchone()[0]
        con.close()
        tap.check(len(marks) == 6 and all(v is not None and v > 0 and s == "margin"
                                          for v, s in marks),
                  "later questions are the model's (margin, its version recorded)", repr(marks))
        tap.check(server.stop() == 0, "the server stops cleanly", server.stderr)
        tap.check(ok == "ok", "integrity_check ok", ok)
    tap.finish()


if __name__ == "__main__":
    main()
