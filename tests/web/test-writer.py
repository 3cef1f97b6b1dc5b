#!/usr/bin/env python3
# test-writer: while `veto serve` serves a project it is its only writer: every other writer is
# refused at once and changes nothing; serve is refused while another writes; invite works
# beside the server; a killed server leaves no lock. TAP on stdout.
#
# Usage: test-writer.py VETO
import hashlib
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webtest  # noqa: E402


def files(project):
    """The project and its WAL, byte for byte, and every table's rows."""
    digest = []
    for suffix in ("", "-wal"):
        try:
            with open(project + suffix, "rb") as f:
                digest.append(hashlib.sha256(f.read()).hexdigest())
        except FileNotFoundError:
            digest.append(None)
    con = webtest.db(project)
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                        "ORDER BY name")]
    rows = {t: con.execute("SELECT * FROM \"%s\" ORDER BY 1" % t).fetchall() for t in tables}
    con.close()
    return digest, rows


def veto_run(veto, *args):
    started = time.monotonic()
    r = subprocess.run([veto] + list(args), capture_output=True, text=True, timeout=120)
    return r, time.monotonic() - started


def main():
    tap = webtest.Tap()
    veto = sys.argv[1]
    with webtest.scratch() as folder:
        project = webtest.make_project(veto, folder, 60, 2)
        alice = webtest.invite(veto, project, "alice")
        server = webtest.Server(veto, project, "--no-learner")
        pid = server.process.pid
        port = server.port
        status, question = webtest.Client(port, alice).json("GET", "/api/question")
        tap.check(status == 200, "alice gets a question", status)
        # What the server wrote for it (a lease) is on disk before the refused writers start.
        time.sleep(0.5)
        before = files(project)

        refused = (
            ("veto drive (the window's path: the engine)",
             ["drive", project, "-n", "5", "--campaign", "lab"]),
            ("veto import", ["import", project, os.path.join(folder, "pool.idx")]),
            ("veto campaign create",
             ["campaign", "create", project, "--name", "second", "--protocol", "ordinary",
              "--per-item", "1"]),
            ("veto campaign close", ["campaign", "close", project, "--name", "lab"]),
            ("veto train", ["train", project]),
        )
        for what, args in refused:
            r, seconds = veto_run(veto, *args)
            tap.check(r.returncode == 3, "%s is refused while served: exit 3" % what,
                      "exit %d: %s" % (r.returncode, r.stderr))
            tap.check(("lab.veto: in use: veto serve (process %d) is serving this project" % pid)
                      in r.stderr and ("kill -TERM %d" % pid) in r.stderr,
                      "%s: the message names the file, the server's process and how to stop it"
                      % what, r.stderr)
            tap.check(seconds < 5, "%s is refused at once (%.2f s)" % (what, seconds))
        r, _ = veto_run(veto, "merge", project, project)
        tap.check(r.returncode == 3 and "is serving this project" in r.stderr,
                  "veto merge into it is refused too", "exit %d: %s" % (r.returncode, r.stderr))
        tap.check(files(project) == before,
                  "the project is byte for byte and row for row as it was")

        for what, args in (("info", ["info", project]),
                           ("export", ["export", project, "--format", "csv", "--out",
                                       os.path.join(folder, "out.csv")]),
                           ("check", ["check", project]),
                           ("stats", ["stats", project])):
            r, _ = veto_run(veto, *args)
            tap.check(r.returncode == 0, "veto %s (read-only) works while served" % what,
                      "exit %d: %s" % (r.returncode, r.stderr))

        # Invite and revoke beside the server: it reads tokens at every request.
        dora = webtest.invite(veto, project, "dora")
        status, q = webtest.Client(port, dora).json("GET", "/api/question")
        tap.check(status == 200 and q["kind"] == "complementary",
                  "a token made by veto invite while the server runs works at once", status)
        status, _ = webtest.Client(port, alice).json("GET", "/api/question")
        tap.check(status == 200, "alice's token still works", status)
        r = webtest.run(veto, "invite", project, "alice", "--revoke")
        tap.check(r.strip() == "revoked 1 token of alice", "invite --revoke while served", r)
        status, _ = webtest.Client(port, alice).json("GET", "/api/question")
        tap.check(status == 401, "the token revoked while the server runs gets 401", status)
        status, _ = webtest.Client(port, dora).json("GET", "/api/me")
        tap.check(status == 200, "dora's token is untouched", status)

        # A second server is refused, and names the first.
        r, _ = veto_run(veto, "serve", project, "--listen", "127.0.0.1:0")
        tap.check(r.returncode == 3 and ("another veto serve (process %d)" % pid) in r.stderr,
                  "a second veto serve is refused: exit 3, naming the first", r.stderr)

        # A server killed outright leaves no lock behind (the kernel drops it).
        server.kill()
        r, _ = veto_run(veto, "campaign", "create", project, "--name", "after", "--protocol",
                        "ordinary", "--per-item", "1")
        tap.check(r.returncode == 0, "after SIGKILL of the server, writers work at once",
                  "exit %d: %s" % (r.returncode, r.stderr))

        # While veto drive writes, veto serve is refused and leaves the project to it.
        drive = subprocess.Popen([veto, "drive", project, "-n", "40", "--pace", "100",
                                  "--campaign", "after", "--acks"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = drive.stdout.readline()
        r, seconds = veto_run(veto, "serve", project, "--listen", "127.0.0.1:0")
        tap.check(first.startswith("ack ") and r.returncode == 3,
                  "veto serve is refused while veto drive writes: exit 3",
                  "%r exit %d: %s" % (first, r.returncode, r.stderr))
        tap.check(("lab.veto: in use: another Veto process (process %d) has it open for "
                   "writing" % drive.pid) in r.stderr and seconds < 5,
                  "the message names the file and the writer's process, at once (%.2f s)"
                  % seconds, r.stderr)
        acks = [line for line in [first] + drive.stdout.read().splitlines()
                if line.startswith("ack ")]
        drive.wait(timeout=120)
        tap.check(drive.returncode == 0 and len(acks) == 40,
                  "veto drive went on undisturbed (40 answers acknowledged)",
                  "exit %d, %d acks: %s" % (drive.returncode, len(acks), drive.stderr.read()))
        con = webtest.db(project)
        rows = con.execute("SELECT COUNT(*) FROM annotations a JOIN campaigns c ON "
                           "a.campaign_id = c.id WHERE c.name = 'after'").fetchone()[0]
        con.close()
        tap.check(rows == 40, "every answer of the drive is in the project", rows)
        server = webtest.Server(veto, project, "--campaign", "lab")
        status = server.stop(signal.SIGTERM)
        tap.check(status == 0, "once the drive is done, veto serve starts", server.stderr)
        con = webtest.db(project)
        ok = con.execute("PRAGMA integrity_check").fetchone()[0]
        con.close()
        tap.check(ok == "ok", "integrity_check ok")
    tap.finish()


if __name__ == "__main__":
    main()
