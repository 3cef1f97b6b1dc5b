#!/usr/bin/env python3
# test-load: 50 annotators on loopback fill a complementary campaign (m = 3) as fast as the
# server lets them; every acknowledged answer must be in the project, no item over m, nobody
# twice on an item. Then the same under 10 SIGKILLs of the server. TAP on stdout.
#
# Usage: test-load.py VETO LOAD-CLIENT
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webtest  # noqa: E402

CLIENTS = int(os.environ.get("VETO_LOAD_CLIENTS", "50"))
ITEMS = int(os.environ.get("VETO_LOAD_ITEMS", "2000"))
M = 3
KILLS = int(os.environ.get("VETO_LOAD_KILLS", "10"))
# As fast as the server lets them: no rate limit in the way of the measurement.
UNLIMITED = ["--rate", "100000", "--burst", "100000"]


def start_clients(client, port, tokens_file, acked_file):
    return subprocess.Popen([client, str(port), tokens_file, acked_file],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_acked(path):
    acked = []
    with open(path) as f:
        for line in f:
            uid, annotation = line.split()
            acked.append((uid, int(annotation)))
    return acked


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


def cpu_seconds(usage):
    return usage.ru_utime + usage.ru_stime


def main():
    veto, client = sys.argv[1], sys.argv[2]
    tap = webtest.Tap()
    with webtest.scratch() as folder:
        project = webtest.make_project(veto, folder, ITEMS, M)
        tokens_file = os.path.join(folder, "tokens")
        with open(tokens_file, "w") as f:
            for i in range(CLIENTS):
                f.write(webtest.invite(veto, project, "annotator%02d" % i) + "\n")
        acked_file = os.path.join(folder, "acked")

        # 1. The whole campaign, without interruption; CPU time of the server and the clients.
        before = cpu_seconds(resource.getrusage(resource.RUSAGE_CHILDREN))
        server = webtest.Server(veto, project, *UNLIMITED)
        clients = start_clients(client, server.port, tokens_file, acked_file)
        out, err = clients.communicate(timeout=240)
        middle = cpu_seconds(resource.getrusage(resource.RUSAGE_CHILDREN))
        status = server.stop()
        after = cpu_seconds(resource.getrusage(resource.RUSAGE_CHILDREN))
        fields = out.split()
        tap.check(clients.returncode == 0 and len(fields) == 6 and fields[5] == "0",
                  "%d clients ran without a refused request" % CLIENTS, out + err)
        tap.check(status == 0, "SIGTERM stops the server with status 0", server.stderr)
        if len(fields) == 6:
            tap.note("load: %d clients, %s answers in %s s: %s answers/s, answer latency p50 %s ms,"
                     " p99 %s ms (CPU s: server %.2f, clients %.2f)"
                     % (CLIENTS, fields[0], fields[1], fields[2], fields[3], fields[4],
                        after - middle, middle - before))
        acked = read_acked(acked_file)
        tap.check(len(acked) == ITEMS * M, "%d answers acknowledged (%d wanted)"
                  % (len(acked), ITEMS * M))
        con = webtest.db(project)
        rounds, largest = con.execute("SELECT count(*), max(train_size) FROM rounds").fetchone()
        ordered = con.execute("SELECT count(*) FROM annotations WHERE model_version IS NOT NULL"
                              ).fetchone()[0]
        con.close()
        tap.note("the learner retrained %d times during the load (largest round: %s answers); "
                 "%d answers were to questions ordered by one of its rounds"
                 % (rounds, largest, ordered))
        tap.check(rounds >= 1 and ordered > 0,
                  "the learner retrained on everyone's answers while they came in")
        check_project(tap, project, acked, "load", complete=True)

        # 2. A second project, and the server SIGKILLed under that load KILLS times.
        folder2 = os.path.join(folder, "k")
        os.makedirs(folder2)
        project2 = webtest.make_project(veto, folder2, ITEMS, M)
        with open(tokens_file, "w") as f:
            for i in range(CLIENTS):
                f.write(webtest.invite(veto, project2, "annotator%02d" % i) + "\n")
        all_acked = []
        for kill in range(KILLS):
            server = webtest.Server(veto, project2, *UNLIMITED)
            clients = start_clients(client, server.port, tokens_file, acked_file)
            time.sleep(0.3 + 0.05 * kill)
            server.kill()
            clients.communicate(timeout=60)
            all_acked += read_acked(acked_file)
        tap.note("sigkill: %d answers acknowledged across %d kills" % (len(all_acked), KILLS))
        tap.check(len(all_acked) > 0, "answers were acknowledged between the kills")
        check_project(tap, project2, all_acked, "after %d SIGKILLs" % KILLS, complete=False)
        server = webtest.Server(veto, project2, *UNLIMITED)
        clients = start_clients(client, server.port, tokens_file, acked_file)
        clients.communicate(timeout=240)
        server.stop()
        all_acked += read_acked(acked_file)
        check_project(tap, project2, all_acked, "after the kills, finished", complete=True)
    tap.finish()


if __name__ == "__main__":
    main()
