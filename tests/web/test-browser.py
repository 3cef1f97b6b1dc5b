#!/usr/bin/env python3
# test-browser: the lab server's page in headless Chromium, driven by key presses through the
# DevTools protocol (--remote-debugging-pipe); what it did is checked in the project. TAP.
#
# Usage: test-browser.py VETO [SCREENSHOT-FOLDER]
import base64
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webtest  # noqa: E402

KEYS = {
    "ArrowLeft": ("ArrowLeft", 37, ""), "ArrowRight": ("ArrowRight", 39, ""),
    "=": ("Equal", 187, "="), " ": ("Space", 32, " "), "Backspace": ("Backspace", 8, ""),
    "f": ("KeyF", 70, "f"),
}


class Browser:
    """Headless Chromium on a pipe: JSON messages ended by a NUL byte, one page session."""

    def __init__(self, chromium, profile):
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        # Out of the way of 3 and 4, which the child gets.
        high_r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
        high_w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
        os.close(to_child_r)
        os.close(from_child_w)

        def give_fds():
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.process = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--remote-debugging-pipe", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars",
             "--user-data-dir=" + profile, "about:blank"],
            pass_fds=(3, 4), preexec_fn=give_fds, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(high_r)
        os.close(high_w)
        webtest._running.append(self.process)
        self.buffer = b""
        self.next_id = 0
        self.session = None
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target,
                                                           "flatten": True})["sessionId"]
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method, params=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        os.write(self.to_child, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self.buffer:
                chunk = os.read(self.from_child, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium went away")
                self.buffer += chunk
            raw, self.buffer = self.buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})

    def eval(self, expression):
        result = self.call("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True})
        return result.get("result", {}).get("value")

    def wait(self, expression, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = self.eval(expression)
            if value:
                return value
            time.sleep(0.05)
        return None

    def size(self, width, height, mobile):
        self.call("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

    def press(self, key):
        if key.isdigit():
            code, vk, text = "Digit" + key, ord(key), key
        else:
            code, vk, text = KEYS[key]
        common = {"key": key, "code": code, "windowsVirtualKeyCode": vk}
        self.call("Input.dispatchKeyEvent", dict(common, type="keyDown", text=text)
                  if text else dict(common, type="rawKeyDown"))
        self.call("Input.dispatchKeyEvent", dict(common, type="keyUp"))

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close")
        except RuntimeError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def answers(project, annotator):
    con = webtest.db(project)
    rows = con.execute(
        "SELECT a.kind, a.item_id, a.answer_class_id, a.preferred, a.undone, a.flagged,"
        " a.answer_uid FROM annotations a JOIN annotators p ON p.id = a.annotator_id"
        " WHERE p.name = ? ORDER BY a.id", (annotator,)).fetchall()
    con.close()
    return rows


def main():
    veto = sys.argv[1]
    shots = sys.argv[2] if len(sys.argv) > 2 else None
    if shots:
        os.makedirs(shots, exist_ok=True)
    chromium = shutil.which("chromium")
    tap = webtest.Tap()
    if chromium is None:
        print("1..0 # SKIP no chromium")
        return
    with webtest.scratch() as folder:
        project = webtest.make_project(veto, folder, 30, 1)
        webtest.run(veto, "campaign", "create", project, "--name", "ordinary", "--protocol",
                    "ordinary", "--per-item", "1", "--items", "3")
        webtest.run(veto, "campaign", "create", project, "--name", "pairs", "--protocol",
                    "preference", "--per-item", "1", "--items", "6")
        token = webtest.invite(veto, project, "ada")
        browser = Browser(chromium, tempfile.mkdtemp(dir=folder))
        try:
            # --- complementary: keys 1–4, Space, F, Backspace ---
            server = webtest.Server(veto, project, "--campaign", "lab")
            base = "http://127.0.0.1:%d/" % server.port
            browser.size(1280, 800, False)
            browser.call("Page.navigate", {"url": base + "#" + token})
            state = browser.wait("document.body.dataset.state === 'question' && "
                                 "document.querySelectorAll('#choices button').length")
            tap.check(state == 4, "the page shows a complementary question with 4 buttons", state)
            loaded = browser.wait("(() => { const i = document.querySelector('#images img');"
                                  " return i && i.complete && i.naturalWidth; })()")
            tap.check(loaded == 28, "the image is the item's 28×28 pixels", loaded)
            shown = browser.wait("document.querySelector('#images img').getBoundingClientRect()"
                                 ".width")
            rendering = browser.eval("getComputedStyle(document.querySelector('#images img'))"
                                     ".imageRendering")
            tap.check(shown and shown >= 280 and rendering in ("pixelated", "crisp-edges"),
                      "upscaled at least 10× with crisp pixels", (shown, rendering))
            if shots:
                browser.wait("document.fonts.status === 'loaded'")
                browser.screenshot(os.path.join(shots, "server-1280x800.png"))
                browser.size(390, 844, True)
                time.sleep(0.3)
                wide = browser.eval("document.documentElement.scrollWidth")
                tap.check(wide is not None and wide <= 390, "no sideways scrolling at 390 px",
                          wide)
                browser.screenshot(os.path.join(shots, "server-390x844.png"))
                browser.size(1280, 800, False)

            expected = []
            for key in ("3", "1", "4"):
                q = browser.eval("JSON.stringify(question)")
                q = json.loads(q)
                expected.append((q["item"], q["candidates"][int(key) - 1]["id"]))
                browser.press(key)
                browser.wait("document.body.dataset.question !== '%d'" % q["id"])
            browser.wait("document.body.dataset.state === 'question'")
            rows = answers(project, "ada")
            got = [(r[1], r[2]) for r in rows]
            tap.check(got == expected and all(r[0] == "complementary" for r in rows),
                      "keys 3, 1, 4 record the 3rd, 1st and 4th candidates", (got, expected))
            tap.check(all(r[6] and len(r[6]) == 32 for r in rows),
                      "each answer carries the page's answer id", rows)

            q = json.loads(browser.eval("JSON.stringify(question)"))
            browser.press(" ")
            browser.wait("document.body.dataset.question !== '%d'" % q["id"])
            tap.check(len(answers(project, "ada")) == 3, "Space skips without an answer")
            q = json.loads(browser.eval("JSON.stringify(question)"))
            browser.press("f")
            browser.wait("document.querySelector('#flag').getAttribute('aria-pressed') === "
                         "'true'")
            browser.press("2")
            browser.wait("document.body.dataset.question !== '%d'" % q["id"])
            rows = answers(project, "ada")
            tap.check(len(rows) == 4 and rows[3][5] == 1 and rows[3][1] == q["item"]
                      and rows[3][2] == q["candidates"][1]["id"],
                      "F flags the item: the next answer to it is flagged", rows[-1:])
            browser.press("Backspace")
            back = browser.wait("question && question.item === %d && question.id" % q["item"])
            rows = answers(project, "ada")
            tap.check(back and rows[3][4] == 1, "Backspace undoes it and shows it again",
                      (back, rows[-1:]))

            # The server goes away: the answer is retried under its id until it is back.
            port = server.port
            server.kill()
            q = json.loads(browser.eval("JSON.stringify(question)"))
            browser.press("1")
            gone = browser.wait("document.body.dataset.state === 'gone'", timeout=20)
            text = browser.eval("document.querySelector('#message-title').textContent")
            tap.check(gone and text == "The server is gone",
                      "a clear message when the server is gone", text)
            server = webtest.Server(veto, project, "--campaign", "lab", "--listen",
                                    "127.0.0.1:%d" % port)
            back = browser.wait("document.body.dataset.state === 'question' && "
                                "document.body.dataset.question !== '%d'" % q["id"], timeout=30)
            rows = answers(project, "ada")
            same = [r for r in rows if r[1] == q["item"] and not r[4]]
            tap.check(back and len(same) == 1 and same[0][2] == q["candidates"][0]["id"],
                      "the answer is retried when the server is back, and recorded once",
                      (back, same))
            server.stop()

            # --- ordinary: keys pick the class; the end of the campaign says so ---
            server = webtest.Server(veto, project, "--campaign", "ordinary")
            browser.call("Page.navigate", {"url": "http://127.0.0.1:%d/#%s" % (server.port,
                                                                                token)})
            n = browser.wait("document.body.dataset.state === 'question' && "
                             "document.querySelectorAll('#choices button').length")
            tap.check(n == 10, "an ordinary question offers the 10 classes", n)
            picked = []
            for key in ("2", "0", "5"):
                q = json.loads(browser.eval("JSON.stringify(question)"))
                index = 9 if key == "0" else int(key) - 1
                picked.append((q["item"], q["candidates"][index]["id"]))
                browser.press(key)
                browser.wait("document.body.dataset.question !== '%d' || "
                             "document.body.dataset.state === 'done'" % q["id"])
            done = browser.wait("document.body.dataset.state === 'done'")
            rows = [(r[1], r[2]) for r in answers(project, "ada") if r[0] == "ordinary"]
            tap.check(rows == picked, "keys 2, 0, 5 record the 2nd, 10th and 5th classes",
                      (rows, picked))
            tap.check(done and browser.eval("document.querySelector('#message-title')"
                                            ".textContent") == "All done",
                      "'All done' when nothing is left")
            server.stop()

            # --- preference: ←, →, = ---
            server = webtest.Server(veto, project, "--campaign", "pairs")
            browser.call("Page.navigate", {"url": "http://127.0.0.1:%d/#%s" % (server.port,
                                                                                token)})
            n = browser.wait("document.body.dataset.state === 'question' && "
                             "document.querySelectorAll('#images img').length")
            tap.check(n == 2, "a preference question shows two images", n)
            for key in ("ArrowLeft", "ArrowRight", "="):
                q = json.loads(browser.eval("JSON.stringify(question)"))
                browser.press(key)
                browser.wait("document.body.dataset.question !== '%d'" % q["id"])
            rows = [r[3] for r in answers(project, "ada") if r[0] == "preference"]
            tap.check(rows == ["left", "right", "tie"], "←, → and = record left, right, tie",
                      rows)
            server.stop()

            # --- no token, a revoked token ---
            server = webtest.Server(veto, project, "--campaign", "lab")
            browser.call("Page.navigate", {"url": "http://127.0.0.1:%d/" % server.port})
            state = browser.wait("document.body.dataset.state")
            tap.check(state == "unauthorized", "without a token the page says so", state)
            webtest.run(veto, "invite", project, "ada", "--revoke")
            browser.call("Page.navigate", {"url": "about:blank"})
            browser.call("Page.navigate", {"url": "http://127.0.0.1:%d/#%s" % (server.port,
                                                                                token)})
            state = browser.wait("document.body.dataset.state")
            tap.check(state == "unauthorized", "with a revoked token the page says so", state)
            server.stop()
        finally:
            browser.close()
    tap.finish()


if __name__ == "__main__":
    main()
