#!/usr/bin/env python3
# test-security: every request the lab server must refuse is refused with the right status and
# leaves the project as it was; tokens, revocation, leases and retries behave. TAP on stdout.
#
# Usage: test-security.py VETO
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webtest  # noqa: E402


def snapshot(project):
    """What a refused request must not change: every answer, token and annotator."""
    con = webtest.db(project)
    rows = []
    for table in ("annotations", "annotation_candidates", "tokens", "annotators"):
        rows.append(con.execute("SELECT * FROM %s ORDER BY 1" % table).fetchall())
    con.close()
    return repr(rows)


def raw(port, text):
    """Sends bytes as they are (paths a client library would clean up) and returns the status."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(text.encode())
        reply = b""
        while b"\r\n" not in reply:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    return int(reply.split()[1]) if reply.startswith(b"HTTP/1.1 ") else 0


def main():
    veto = sys.argv[1]
    tap = webtest.Tap()
    with webtest.scratch() as folder:
        project = webtest.make_project(veto, folder, 40, 2)
        alice = webtest.invite(veto, project, "alice")
        bob = webtest.invite(veto, project, "bob")
        admin = webtest.invite(veto, project, "lead", admin=True)
        gone = webtest.invite(veto, project, "carol")
        for args, why in ((["invite", project], "without a NAME"),
                          (["invite", project, "dan", "--admin", "--revoke"],
                           "with --admin and --revoke together")):
            r = subprocess.run([veto] + args, capture_output=True, text=True, timeout=60)
            tap.check(r.returncode == 2, "veto invite %s is a usage error (exit 2)" % why,
                      "%d %s" % (r.returncode, r.stderr))
        out = webtest.run(veto, "invite", project, "carol", "--revoke")
        tap.check(out.strip() == "revoked 1 token of carol", "--revoke ends carol's token", out)

        con = webtest.db(project)
        hashes = [h for (h,) in con.execute("SELECT hash FROM tokens ORDER BY id")]
        con.close()
        tap.check(hashes == [hashlib.sha256(t.encode()).hexdigest()
                             for t in (alice, bob, admin, gone)],
                  "only the tokens' SHA-256 is stored")
        with open(project, "rb") as f:
            data = f.read()
        tap.check(all(t.encode() not in data for t in (alice, bob, admin, gone)),
                  "no token appears in the project file")

        server = webtest.Server(veto, project, "--rate", "20", "--burst", "40", "--lease", "2")
        port = server.port
        second = subprocess.run([veto, "serve", project, "--listen", "127.0.0.1:0"],
                                capture_output=True, text=True, timeout=60)
        tap.check(second.returncode == 3 and "another veto serve" in second.stderr,
                  "a second server on the same project is refused (exit 3)",
                  "%d %s" % (second.returncode, second.stderr))
        a = webtest.Client(port, alice)
        status, qa = a.json("GET", "/api/question")
        tap.check(status == 200 and qa["kind"] == "complementary" and len(qa["candidates"]) == 4,
                  "alice gets a complementary question with 4 candidates", (status, qa))
        b = webtest.Client(port, bob)
        status, qb = b.json("GET", "/api/question")
        tap.check(status == 200 and qb["item"] != qa["item"],
                  "bob, asking meanwhile, gets another item", (qa, qb))
        before = snapshot(project)
        con = webtest.db(project)
        names = sorted(n for (n,) in con.execute("SELECT name FROM annotators"))
        con.close()
        tap.check(names == ["alice", "bob", "carol", "lead"],
                  "the server adds no annotator of its own (the learner is nobody)", names)

        answer = {"question": qa["id"], "class": qa["candidates"][0]["id"],
                  "answer_id": "refused-0001"}
        cases = [
            ("no token", None, "POST", "/api/answer", answer, 401),
            ("a wrong token", "x" * 43, "POST", "/api/answer", answer, 401),
            ("a revoked token", gone, "POST", "/api/answer", answer, 401),
            ("a token of another scheme", None, "GET", "/api/question", None, 401),
            ("another annotator's question id", bob, "POST", "/api/answer", answer, 403),
            ("another annotator's image", bob, "GET", "/api/image/%d" % qa["id"], None, 403),
            ("an unknown question id", alice, "POST", "/api/answer",
             dict(answer, question=qa["id"] + 1), 404),
            ("a class that was not a candidate", alice, "POST", "/api/answer",
             dict(answer, **{"class": 999}), 422),
            ("an admin route with an annotator token", alice, "GET", "/api/progress", None, 403),
            ("stats with an annotator token", alice, "GET", "/api/stats", None, 403),
            ("malformed JSON", alice, "POST", "/api/answer", "{\"question\": ", 400),
            ("JSON that is not an object", alice, "POST", "/api/answer", "[1, 2]", 400),
            ("a question id that is a string", alice, "POST", "/api/answer",
             dict(answer, question=str(qa["id"])), 400),
            ("a fractional class", alice, "POST", "/api/answer", dict(answer, **{"class": 1.5}),
             400),
            ("a bad answer id", alice, "POST", "/api/answer", dict(answer, answer_id="a b"), 400),
            ("an unknown preference", alice, "POST", "/api/answer",
             {"question": qa["id"], "preferred": "up"}, 400),
            ("a body over the cap", alice, "POST", "/api/answer", "{" + " " * 20000 + "}", 413),
            ("a wrong method", alice, "DELETE", "/api/answer", None, 405),
            ("an unknown route", alice, "GET", "/api/nothing", None, 404),
            ("a static file that is not the page's", None, "GET", "/static/veto-server.c", None,
             404),
        ]
        for name, token, method, path, body, want in cases:
            c = webtest.Client(port, token)
            headers = {"Authorization": "Basic YTpi"} if name.startswith("a token of") else None
            if headers:
                c.token = None
            status, payload, response = c.request(method, path, body, headers)
            c.close()
            tap.check(status == want, "%s is refused: %d" % (name, want),
                      "status %d: %s" % (status, payload[:200]))
            if status == 401:
                tap.check(response.getheader("WWW-Authenticate", "").startswith("Bearer"),
                          "%s: WWW-Authenticate: Bearer" % name)

        for path in ("/static/../../etc/passwd", "/static/..%2f..%2fetc%2fpasswd",
                     "/static/%2e%2e/%2e%2e/etc/passwd", "/../../../etc/passwd"):
            status = raw(port, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
            tap.check(status in (400, 404), "'..' in a static path is refused: %s" % path,
                      "status %d" % status)
        status = raw(port, "POST /api/answer HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n4\r\n{}{}\r\n0\r\n\r\n" % alice)
        tap.check(status == 411, "a chunked body (no length to cap) is refused: 411",
                  "status %d" % status)
        tap.check(snapshot(project) == before, "the project is unchanged by every refusal")

        # Headers every response carries.
        status, page, response = webtest.Client(port).request("GET", "/")
        csp = response.getheader("Content-Security-Policy", "")
        tap.check(status == 200 and b"app.js" in page and "default-src 'none'" in csp
                  and "script-src 'self'" in csp
                  and response.getheader("X-Content-Type-Options") == "nosniff",
                  "the page comes with a Content-Security-Policy and nosniff", csp)

        # The image of one's own question: a PNG of the item's size.
        status, png, response = a.request("GET", qa["image"])
        tap.check(status == 200 and png[:8] == b"\x89PNG\r\n\x1a\n"
                  and png[16:24] == b"\x00\x00\x00\x1c\x00\x00\x00\x1c",
                  "alice's image is a 28×28 PNG", (status, png[:24]))

        # Admin routes with an admin token.
        lead = webtest.Client(port, admin)
        status, progress = lead.json("GET", "/api/progress")
        tap.check(status == 200 and progress["items"] == 40 and progress["leased"] == 2
                  and progress["answers"] == 0,
                  "an admin sees the progress: 40 items, 2 leased, 0 answers", progress)

        # A retried answer is recorded once.
        status, first = a.json("POST", "/api/answer", dict(answer, answer_id="retry-0001"))
        status2, again = a.json("POST", "/api/answer", dict(answer, answer_id="retry-0001"))
        con = webtest.db(project)
        n = con.execute("SELECT count(*) FROM annotations WHERE answer_uid = 'retry-0001'"
                        ).fetchone()[0]
        con.close()
        tap.check(status == 200 and status2 == 200 and first["answer"] == again["answer"]
                  and again["duplicate"] and n == 1,
                  "the same answer id twice: 200 twice, one answer recorded", (first, again, n))
        status, _ = b.json("POST", "/api/answer", {"question": qb["id"],
                                                   "class": qb["candidates"][0]["id"],
                                                   "answer_id": "retry-0001"})
        tap.check(status == 403, "bob cannot reuse alice's answer id: 403", status)

        # Undo: the answer is marked undone and its question comes back.
        status, undo = a.json("POST", "/api/undo", {})
        status2, back = a.json("GET", "/api/question")
        con = webtest.db(project)
        undone = con.execute("SELECT undone FROM annotations WHERE answer_uid = 'retry-0001'"
                             ).fetchone()[0]
        con.close()
        tap.check(status == 200 and undo["undone"] == first["answer"] and undone == 1
                  and back["item"] == qa["item"] and back["candidates"] == qa["candidates"],
                  "undo marks the answer undone and asks the same question again", (undo, back))

        # Leases: bob's question expires after 2 s without a request from him.
        time.sleep(2.5)
        status, late = b.json("POST", "/api/answer", {"question": qb["id"],
                                                      "class": qb["candidates"][0]["id"]})
        tap.check(status == 404, "an answer to an expired lease is refused: 404", (status, late))
        status, progress = lead.json("GET", "/api/progress")
        tap.check(progress["leased"] == 0, "expired leases return their items", progress)

        # A revoked token stops working while the server runs.
        webtest.run(veto, "invite", project, "bob", "--revoke")
        status, _ = b.json("GET", "/api/question")
        tap.check(status == 401, "a token revoked while the server runs gets 401", status)

        # A flood from one token is slowed (429 with Retry-After), not served forever.
        flood = webtest.Client(port, admin)
        statuses = []
        for _ in range(120):
            status, _, response = flood.request("GET", "/api/progress")
            statuses.append(status)
            if status == 429:
                retry = response.getheader("Retry-After")
        tap.check(429 in statuses and statuses.count(200) < 100 and retry == "1",
                  "a flood of 120 requests is answered 429 past the burst",
                  "%d × 200, %d × 429" % (statuses.count(200), statuses.count(429)))
        status = server.stop()
        tap.check(status == 0, "SIGTERM stops the server cleanly", server.stderr)
        server = webtest.Server(veto, project, "--listen", "localhost:0")
        status = server.stop(signal.SIGINT)
        tap.check(status == 0 and "every acknowledged answer is saved" in server.stderr,
                  "SIGINT stops it cleanly too", server.stderr)
        webtest.run(veto, "campaign", "close", project, "--name", "lab")
        refused = subprocess.run([veto, "serve", project, "--campaign", "lab"],
                                 capture_output=True, text=True, timeout=60)
        tap.check(refused.returncode == 1 and "closed" in refused.stderr,
                  "a closed campaign is not served (exit 1)", refused.stderr)
        server = webtest.Server(veto, project)
        status, body, _ = webtest.Client(server.port, alice).request("GET", "/api/question")
        question = json.loads(body) if status == 200 else {}
        tap.check(status == 200 and question.get("campaign", "") is None,
                  "without an open campaign the server serves the pool (free mode)",
                  "%d %s" % (status, body[:200]))
        tap.check(server.stop() == 0, "and stops cleanly", server.stderr)
        con = webtest.db(project)
        ok = con.execute("PRAGMA integrity_check").fetchone()[0]
        con.close()
        tap.check(ok == "ok", "integrity_check ok")
    tap.finish()


if __name__ == "__main__":
    main()
