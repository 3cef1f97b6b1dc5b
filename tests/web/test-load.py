#!/usr/bin/env python3
# test-load: 50 annotators on loopback fill a complementary campaign (m = 3) as fast as the
# server lets them; every acknowledged answer must be in the project, no item over m, nobody
# twice on an item. Then the same under 10 SIGKILLs of the server. TAP on stdout.
import http.client
import os
import resource
import statistics
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webtest  # noqa: E402

CLIENTS = int(os.environ.get("VETO_LOAD_CLIENTS", "50"))
ITEMS = int(os.environ.get("VETO_LOAD_ITEMS", "2000"))
M = 3
KILLS = int(os.environ.get("VETO_LOAD_KILLS", "10"))


def annotate(port, token, acked, latencies, stop, errors):
    """Answers until 204 (or the server goes, or stop is set): uids acknowledged with 200."""
    client = webtest.Client(port, token)
    try:
        while not stop.is_set():
            status, q = client.json("GET", "/api/question")
            if status == 204:
                return
            if status != 200:
                errors.append("GET /api/question: %d" % status)
                return
            uid = uuid.uuid4().hex
            start = time.perf_counter()
            status, a = client.json("POST", "/api/answer", {
                "question": q["id"], "class": q["candidates"][0]["id"], "answer_id": uid})
            elapsed = time.perf_counter() - start
            if status == 200:
                acked.append((uid, a["answer"]))
                latencies.append(elapsed)
            elif status not in (404, 410):
                errors.append("POST /api/answer: %d %s" % (status, a))
                return
    except (OSError, ValueError, http.client.HTTPException) as e:
        if not stop.is_set():
            errors.append("connection: %r" % e)
    finally:
        client.close()


def run_clients(port, tokens, stop):
    acked, latencies, errors = [], [], []
    threads = [threading.Thread(target=annotate,
                                args=(port, t, acked, latencies, stop, errors))
               for t in tokens]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return acked, latencies, errors, time.perf_counter() - start


def check_project(tap, project, acked, label, complete):
    con = webtest.db(project)
    uids = {row[0]: row[1] for row in con.execute(
        "SELECT answer_uid, id FROM annotations WHERE answer_uid IS NOT NULL")}
    missing = [u for u, _ in acked if u not in uids]
    tap.check(not missing, "%s: every acknowledged answer (%d) is in the project"
              % (label, len(acked)), "%d missing, e.g. %s" % (len(missing), missing[:3]))
    wrong_id = [u for u, i in acked if u in uids and uids[u] != i]
    tap.check(not wrong_id, "%s: under the id the server acknowledged" % label, wrong_id[:3])
    over = con.execute("SELECT item_id, count(*) FROM annotations WHERE campaign_id = 1 AND"
                       " undone = 0 GROUP BY item_id HAVING count(*) > ?", (M,)).fetchall()
    tap.check(not over, "%s: no item has more than %d answers" % (label, M), over[:5])
    twice = con.execute("SELECT item_id, annotator_id, count(*) FROM annotations WHERE"
                        " campaign_id = 1 AND undone = 0 GROUP BY item_id, annotator_id"
                        " HAVING count(*) > 1").fetchall()
    tap.check(not twice, "%s: no annotator answered an item twice" % label, twice[:5])
    if complete:
        n = con.execute("SELECT count(*) FROM annotations WHERE campaign_id = 1 AND undone = 0"
                        ).fetchone()[0]
        tap.check(n == ITEMS * M, "%s: the campaign is complete (%d answers, %d wanted)"
                  % (label, n, ITEMS * M))
    ok = con.execute("PRAGMA integrity_check").fetchone()[0]
    tap.check(ok == "ok", "%s: integrity_check ok" % label, ok)
    con.close()


def main():
    veto = sys.argv[1]
    tap = webtest.Tap()
    with webtest.scratch() as folder:
        project = webtest.make_project(veto, folder, ITEMS, M)
        tokens = [webtest.invite(veto, project, "annotator%02d" % i) for i in range(CLIENTS)]

        # 1. The whole campaign, without interruption.
        before_server = resource.getrusage(resource.RUSAGE_CHILDREN)
        before_self = resource.getrusage(resource.RUSAGE_SELF)
        server = webtest.Server(veto, project, "--rate", "1000", "--burst", "1000")
        acked, latencies, errors, seconds = run_clients(server.port, tokens, threading.Event())
        status = server.stop()
        after_server = resource.getrusage(resource.RUSAGE_CHILDREN)
        after_self = resource.getrusage(resource.RUSAGE_SELF)
        tap.note("CPU seconds: server %.2f, the %d clients (this Python process) %.2f" % (
            after_server.ru_utime + after_server.ru_stime
            - before_server.ru_utime - before_server.ru_stime, CLIENTS,
            after_self.ru_utime + after_self.ru_stime - before_self.ru_utime
            - before_self.ru_stime))
        tap.check(not errors, "%d clients ran without a refused request" % CLIENTS,
                  "\n".join(errors[:10]))
        tap.check(status == 0, "SIGTERM stops the server with status 0", server.stderr)
        latencies.sort()
        if latencies:
            p50 = statistics.median(latencies) * 1000
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
            rate = len(acked) / seconds
            tap.note("load: %d clients, %d answers in %.2f s: %.0f answers/s, answer latency "
                     "p50 %.1f ms, p99 %.1f ms" % (CLIENTS, len(acked), seconds, rate, p50, p99))
        tap.check(len(acked) == ITEMS * M, "%d answers acknowledged (%d wanted)"
                  % (len(acked), ITEMS * M))
        check_project(tap, project, acked, "load", complete=True)

        # 2. A second campaign, and the server SIGKILLed under load KILLS times.
        os.makedirs(os.path.join(folder, "k"))
        project2 = webtest.make_project(veto, os.path.join(folder, "k"), ITEMS, M)
        tokens2 = [webtest.invite(veto, project2, "annotator%02d" % i) for i in range(CLIENTS)]
        all_acked = []
        for kill in range(KILLS):
            server = webtest.Server(veto, project2, "--rate", "1000", "--burst", "1000")
            stop = threading.Event()
            result = {}

            def load():
                result["r"] = run_clients(server.port, tokens2, stop)

            loader = threading.Thread(target=load)
            loader.start()
            time.sleep(0.3 + 0.07 * kill)
            server.kill()
            stop.set()
            loader.join()
            all_acked += result["r"][0]
        tap.note("sigkill: %d answers acknowledged across %d kills" % (len(all_acked), KILLS))
        tap.check(len(all_acked) > 0, "answers were acknowledged between the kills")
        check_project(tap, project2, all_acked, "after %d SIGKILLs" % KILLS, complete=False)
    tap.finish()


if __name__ == "__main__":
    main()
