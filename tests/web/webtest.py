# webtest: what the lab server's tests share: a Fashion-MNIST project, a served veto, TAP, HTTP.
import atexit
import gzip
import http.client
import json
import os
import re
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

FASHION = "/usr/share/datasets/fashion-mnist/"
CLASSES = "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"


class Tap:
    """TAP on stdout; the exit status says whether every check passed."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, ok, description, detail=""):
        self.n += 1
        if ok:
            print("ok %d - %s" % (self.n, description))
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, description))
            for line in str(detail).splitlines()[:20]:
                print("#   " + line)
        sys.stdout.flush()

    def note(self, text):
        print("# " + text)
        sys.stdout.flush()

    def finish(self):
        print("1..%d" % self.n)
        sys.exit(1 if self.failed else 0)


def run(veto, *args):
    out = subprocess.run([veto] + list(args), capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError("veto %s failed (%d): %s" % (" ".join(args), out.returncode, out.stderr))
    return out.stdout


def make_project(veto, folder, n_items, per_item, protocol="complementary", campaign=True):
    """n_items Fashion-MNIST training images in a project with one campaign, "lab" (or none)."""
    images = gzip.open(FASHION + "train-images-idx3-ubyte.gz").read()
    labels = gzip.open(FASHION + "train-labels-idx1-ubyte.gz").read()
    with open(os.path.join(folder, "pool.idx"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n_items, 28, 28) + images[16:16 + n_items * 784])
    with open(os.path.join(folder, "labels.idx"), "wb") as f:
        f.write(struct.pack(">II", 0x801, n_items) + labels[8:8 + n_items])
    project = os.path.join(folder, "lab.veto")
    run(veto, "init", project, "--classes", CLASSES)
    run(veto, "import", project, os.path.join(folder, "pool.idx"), "--labels",
        os.path.join(folder, "labels.idx"))
    if campaign:
        run(veto, "campaign", "create", project, "--name", "lab", "--protocol", protocol,
            "--per-item", str(per_item))
    return project


def invite(veto, project, name, admin=False):
    args = ["invite", project, name] + (["--admin"] if admin else [])
    token = run(veto, *args).strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token), token
    return token


# Servers still running when a test ends, even by an exception, are killed then.
_running = []


@atexit.register
def _kill_leftovers():
    for process in _running:
        if process.poll() is None:
            process.kill()
            process.wait()


class Server:
    """`veto serve` on a free loopback port, until stop() or kill()."""

    def __init__(self, veto, project, *extra):
        self.process = subprocess.Popen([veto, "serve", project, "--listen", "127.0.0.1:0"]
                                        + list(extra), stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        _running.append(self.process)
        line = self.process.stdout.readline()
        match = re.fullmatch(r"Listening on http://127\.0\.0\.1:(\d+)/\n", line)
        if not match:
            self.process.kill()
            raise RuntimeError("no 'Listening on' line: %r %s" % (line, self.process.stderr.read()))
        self.port = int(match.group(1))

    def stop(self, sig=signal.SIGTERM):
        self.process.send_signal(sig)
        try:
            status = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            status = self.process.wait()
        self.stderr = self.process.stderr.read()
        return status

    def kill(self):
        self.process.kill()
        self.process.wait()
        self.process.stderr.read()


class Client:
    """One keep-alive HTTP connection with a token."""

    def __init__(self, port, token=None):
        self.port = port
        self.token = token
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        if self.token is not None:
            h["Authorization"] = "Bearer " + self.token
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            h["Content-Type"] = "application/json"
        self.connection.request(method, path, body=data, headers=h)
        response = self.connection.getresponse()
        payload = response.read()
        return response.status, payload, response

    def json(self, method, path, body=None):
        status, payload, _ = self.request(method, path, body)
        return status, (json.loads(payload) if payload else None)

    def close(self):
        self.connection.close()


def db(project):
    """A read-only look at the project (what is committed)."""
    return sqlite3.connect("file:%s?mode=ro" % project, uri=True, timeout=30)


def db_writable(project):
    """A connection that may edit the project behind Veto's back (the tests that tamper)."""
    return sqlite3.connect(project, timeout=30)


def scratch():
    return tempfile.TemporaryDirectory(prefix="veto-web-")
