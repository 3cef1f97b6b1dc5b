#!/usr/bin/env python3
# test-tampered: `veto serve` on project files whose image rows were edited: refused images, never another file's bytes. TAP on stdout.
#
# Usage: test-tampered.py VETO
# A file item whose path was edited to name another file passes the open (the path is relative
# and the row well formed) and is refused only when its file is read: its bytes do not have the
# row's sha256. Here such a project is served to a browser's client, in a campaign and without
# one: the tampered item's image must be refused with a message naming the row, the other items
# served, the server still answering afterwards and stopping cleanly, the project not harmed.
# The projects refused at open are served in tests/reliability/test-tampered.sh.
import os
import re
import shutil
import struct
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webtest  # noqa: E402

SANITIZER = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:|-(CRITICAL|WARNING) \*\*")


def png(path, rgb):
    """An 8×8 PNG of one colour."""
    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff))
    rows = b"".join(b"\0" + bytes(rgb) * 8 for _ in range(8))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def make_pristine(veto, folder):
    """Three PNG file items (classes a, b); the project's path."""
    for name, rgb in (("a/red.png", (255, 0, 0)), ("a/green.png", (0, 255, 0)),
                      ("b/blue.png", (0, 0, 255))):
        os.makedirs(os.path.join(folder, "images", os.path.dirname(name)), exist_ok=True)
        png(os.path.join(folder, "images", name), rgb)
    project = os.path.join(folder, "pristine.veto")
    webtest.run(veto, "init", project, "--classes", "a,b,c")
    webtest.run(veto, "import", project, os.path.join(folder, "images"))
    return project


def tamper(source, project, sql):
    shutil.copy(source, project)
    con = webtest.db_writable(project)
    con.execute(sql)
    con.commit()
    con.close()


def serve_all(tap, veto, project, token, label, bad_item, extra=()):
    """Asks and answers every question the server gives, fetching each image."""
    server = webtest.Server(veto, project, *extra)
    client = webtest.Client(server.port, token)
    refused, served, leaked = [], [], []
    # without a campaign, complementary questions go over the three items three times
    for _ in range(20):
        status, q = client.json("GET", "/api/question")
        if status != 200:
            break
        status, body, response = client.request("GET", q["image"])
        if q["item"] == bad_item:
            refused.append((status, body.decode("utf-8", "replace")))
        elif status == 200 and response.getheader("Content-Type") == "image/png":
            served.append(q["item"])
        if b"root:" in body:
            leaked.append(q["item"])
        status, _ = client.json("POST", "/api/answer", {
            "question": q["id"], "class": q["candidates"][0]["id"],
            "answer_id": "tampered-%08x-%d" % (zlib.crc32(label.encode()), q["id"])})
        if status != 200:
            break
    tap.check(len(refused) >= 1 and all(s >= 400 and "items row %d" % bad_item in b
                                        for s, b in refused),
              "%s: the tampered item's image is refused, naming its row" % label, repr(refused))
    tap.check(len(served) >= 1 and not leaked,
              "%s: the other items are served, no other file's bytes" % label,
              repr((served, leaked)))
    client.close()
    after = webtest.Client(server.port, token)
    status, _ = after.json("GET", "/api/question")
    tap.check(status == 204, "%s: the server still answers afterwards (nothing left to ask)" % label,
              "status %d" % status)
    # A 204 keeps the connection alive: the next request goes on the same socket (http.client
    # raises RemoteDisconnected if the server closed it).
    sock = after.connection.sock
    try:
        again, _ = after.json("GET", "/api/question")
    except ConnectionError as e:
        again = repr(e)
    tap.check(again == 204 and after.connection.sock is sock,
              "%s: the connection stays open after a 204" % label, repr(again))
    after.close()
    code = server.stop()
    bad = SANITIZER.search(server.stderr or "")
    tap.check(code == 0 and bad is None, "%s: the server stops cleanly, no sanitizer report" % label,
              "status %d %s" % (code, (server.stderr or "")[-600:]))


def main():
    veto = sys.argv[1]
    tap = webtest.Tap()
    with tempfile.TemporaryDirectory(prefix="veto-web-tampered-") as folder:
        pristine = make_pristine(veto, folder)
        os.symlink("/etc/passwd", os.path.join(folder, "images", "a", "link.png"))
        con = webtest.db(pristine)
        red, blue = (con.execute("SELECT id FROM items WHERE path LIKE ?", ("%" + n,)).fetchone()[0]
                     for n in ("red.png", "blue.png"))
        con.close()
        # A copy without a campaign, for the learner's pool.
        free = os.path.join(folder, "free.veto")
        shutil.copy(pristine, free)
        webtest.run(veto, "campaign", "create", pristine, "--name", "lab", "--protocol",
                    "complementary", "--per-item", "1", "--candidates", "2", "--items", "all")
        cases = (
            ("another image of the project",
             "UPDATE items SET path = (SELECT path FROM items WHERE id = %d) WHERE id = %d"
             % (blue, red)),
            ("a path out of the folder",
             "UPDATE items SET path = '../../../../../../../../etc/passwd' WHERE id = %d" % red),
            ("a symbolic link out of the folder",
             "UPDATE items SET path = replace(path, 'red.png', 'link.png') WHERE id = %d" % red),
        )
        for n, (label, sql) in enumerate(cases):
            project = os.path.join(folder, "bad%d.veto" % n)
            tamper(pristine, project, sql)
            token = webtest.invite(veto, project, "ann")
            serve_all(tap, veto, project, token, label + ", campaign", red)
            con = webtest.db(project)
            ok = con.execute("PRAGMA integrity_check").fetchone()[0]
            items = con.execute("SELECT count(*) FROM items").fetchone()[0]
            con.close()
            tap.check(ok == "ok" and items == 3, "%s: the project is intact" % label,
                      "%s, %d items" % (ok, items))
        # Without a campaign: the pool served by the learner.
        project = os.path.join(folder, "bad-free.veto")
        tamper(free, project, cases[0][1])
        serve_all(tap, veto, project, webtest.invite(veto, project, "ben"),
                  cases[0][0] + ", no campaign", red)
    tap.finish()


if __name__ == "__main__":
    main()
