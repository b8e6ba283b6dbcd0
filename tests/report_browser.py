#!/usr/bin/env python3
"""Check a `stormwatch replay --report` HTML file in real headless Chromium.

  report_browser.py --chromium /usr/bin/chromium --report R.html \
      --alerts ALERTS.jsonl [--changes-ids ID1,ID2] --screenshot OUT.png

One headless run, driven over the DevTools protocol on --remote-debugging-pipe
(stdlib only; the --enable-logging=stderr console lines miss failed loads),
records console messages, uncaught exceptions, log entries (CSP violations are
source "security") and failed loads, takes the DOM after load (as --dump-dom)
and a full-page screenshot 1280 px wide. Host names resolve to nothing, so
Chromium's background requests never leave the machine. The DOM is checked
against the alerts file. Exit 0: all passed; 1: a check failed (each failure
says what was expected and what was found); 77: no chromium binary.
"""
import argparse, base64, collections, fcntl, json, os, select, signal
import pathlib, shutil, subprocess, sys, tempfile, time
from html.parser import HTMLParser

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
         "--no-first-run", "--no-default-browser-check", "--disable-extensions",
         "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-default-apps", "--disable-breakpad",
         "--disable-domain-reliability", "--mute-audio", "--hide-scrollbars",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost"]
WIDTH, MAX_HEIGHT, TIMEOUT = 1280, 32000, 60
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
        "meta", "source", "track", "wbr"}
KEY = ("kind", "user", "dir", "class", "starts")
FIELDS = ("status", "alert", "user", "dir", "class", "starts_at", "correlation", "change")


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    def walk(self):
        for c in self.children:
            yield c
            yield from c.walk()

    def find(self, tag, cls="", **attrs):
        """Descendants with this tag, class tokens and exact attribute values."""
        return [n for n in self.walk() if n.tag == tag
                and set(cls.split()) <= set((n.attrs.get("class") or "").split())
                and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def key(self):
        return tuple(self.attrs.get("data-" + k) for k in KEY)


class Tree(HTMLParser):
    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Node("#root", {}, None)
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))
        if tag not in VOID:
            self.cur = self.cur.children[-1]

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent


class Browser:
    """Headless Chromium, spoken to over the DevTools pipe."""

    def __init__(self, chromium, tmp):
        (cmd_r, self.w), (self.r, evt_w) = os.pipe(), os.pipe()

        def child_fds():  # Chromium reads commands on fd 3 and answers on fd 4
            a, b = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (cmd_r, evt_w))
            os.dup2(a, 3)
            os.dup2(b, 4)
        self.log = os.path.join(tmp, "chromium.log")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [chromium, *FLAGS, "--user-data-dir=" + os.path.join(tmp, "profile"),
                 "about:blank"], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                pass_fds=(3, 4), preexec_fn=child_fds, start_new_session=True)
        os.close(cmd_r)
        os.close(evt_w)
        self.buf, self.id, self.events = b"", 0, []

    def pump(self, done, timeout, what):
        """Read messages into self.events until done(message); None on timeout."""
        end = time.monotonic() + timeout
        while True:
            while b"\0" not in self.buf:
                left = end - time.monotonic()
                if left <= 0 or not select.select([self.r], [], [], left)[0]:
                    if what:
                        raise RuntimeError(f"no {what} within {timeout}s")
                    return None
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe; its log ends:\n"
                                       + open(self.log, errors="replace").read()[-2000:])
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\0", 1)
            msg = json.loads(raw)
            if done(msg):
                return msg
            self.events.append(msg)

    def call(self, method, params=None, session=None, timeout=TIMEOUT):
        self.id += 1
        msg = {"id": self.id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        ans = self.pump(lambda m: m.get("id") == self.id, timeout, "answer to " + method)
        if "error" in ans:
            raise RuntimeError(f"{method}: {ans['error']}")
        return ans["result"]

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
            self.proc.wait(10)
        except Exception:
            pass
        if self.proc.poll() is None:  # the process group this script started
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        os.close(self.w)
        os.close(self.r)


def load_page(chromium, path, shot):
    """Load path; write the screenshot; return (DOM after load, problems)."""
    with tempfile.TemporaryDirectory(prefix="report_browser.") as tmp:
        b = Browser(chromium, tmp)
        try:
            tid = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            s = b.call("Target.attachToTarget", {"targetId": tid, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                b.call(domain + ".enable", session=s)
            view = {"width": WIDTH, "height": 800, "deviceScaleFactor": 1, "mobile": False}
            b.call("Emulation.setDeviceMetricsOverride", view, s)
            nav = b.call("Page.navigate", {"url": pathlib.Path(path).resolve().as_uri()}, s)
            if nav.get("errorText"):
                raise RuntimeError("navigation failed: " + nav["errorText"])
            b.pump(lambda m: m.get("method") == "Page.loadEventFired", TIMEOUT, "load event")
            b.pump(lambda m: False, 0.5, None)  # late console or log messages
            dom = b.call("Runtime.evaluate", {"expression": "document.documentElement.outerHTML",
                                              "returnByValue": True}, s)["result"]["value"]
            height = b.call("Page.getLayoutMetrics", session=s)["cssContentSize"]["height"]
            view["height"] = max(600, min(MAX_HEIGHT, int(height + 0.999)))
            b.call("Emulation.setDeviceMetricsOverride", view, s)
            png = b.call("Page.captureScreenshot", {"format": "png"}, s)["data"]
            with open(shot, "wb") as f:
                f.write(base64.b64decode(png))
        finally:
            b.close()
    return dom, problems(b.events)


def problems(events):
    urls, out = {}, []
    for e in events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Network.requestWillBeSent":
            urls[p["requestId"]] = p["request"]["url"]
        elif m == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
            out.append(f"console.{p['type']}: {text}")
        elif m == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            out.append("uncaught exception: " + d.get("exception", {}).get("description", d["text"]))
        elif m == "Log.entryAdded":
            en = p["entry"]
            out.append(f"{en['source']} {en['level']}: {en['text']} [{en.get('url', '')}]")
        elif m == "Network.loadingFailed":
            why = p.get("blockedReason") or p.get("errorText")
            out.append(f"load failed: {urls.get(p['requestId'], '?')}: {why}")
    return out


def load_incidents(path, fails):
    """The firing lines of the alerts file (one per incident)."""
    incidents = []
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        try:
            a = json.loads(line) if line.strip() else {"status": "resolved"}
            if a["status"] == "firing":
                missing = [k for k in FIELDS if k not in a]
                if missing:
                    raise ValueError(f"missing {missing}")
                a["key"] = (a["alert"], a["user"], a["dir"], a["class"], a["starts_at"])
                a["change_id"] = (a["change"] or {}).get("id") or ""
                incidents.append(a)
            elif a["status"] != "resolved":
                raise ValueError(f"status {a['status']!r} is not firing|resolved")
        except (ValueError, KeyError, TypeError) as e:
            fails.append(f"{path}:{n}: expected an alert line, found {line.strip()[:80]!r} ({e})")
    return incidents


def same_multiset(what, expected, found, fails):
    exp, got = collections.Counter(expected), collections.Counter(found)
    if exp != got:
        fails.append(f"{what}: expected {len(expected)}, found {len(found)}; missing "
                     f"{sorted(exp - got, key=str)[:10]}; unexpected {sorted(got - exp, key=str)[:10]}")


def check_dom(root, incidents, change_ids, fails):
    csp = [m.attrs.get("content") for m in root.find("meta")
           if (m.attrs.get("http-equiv") or "").lower() == "content-security-policy"]
    if not any("default-src 'none'" in (c or "") for c in csp):
        fails.append(f"CSP meta: expected one with default-src 'none', found {csp}")
    tables = root.find("table", id="timeline")
    if len(tables) != 1:
        fails.append(f"table#timeline: expected 1, found {len(tables)}")
    rows = [r for t in tables for r in t.find("tr", "alert")]
    same_multiset("timeline rows (kind,user,dir,class,starts,correlation,change)",
                  [a["key"] + (a["correlation"], a["change_id"]) for a in incidents],
                  [r.key() + (r.attrs.get("data-correlation"), r.attrs.get("data-change"))
                   for r in rows], fails)
    sections = root.find("section", "incident")
    same_multiset("incident sections (kind,user,dir,class,starts)",
                  [a["key"] for a in incidents], [s.key() for s in sections], fails)
    for s in sections:
        where = "section.incident " + "/".join(map(str, s.key()))
        charts = s.find("svg", "chart")
        if len(charts) != 1:
            fails.append(f"{where}: expected 1 svg.chart, found {len(charts)}")
            continue
        for cls in ["observed"] + (["backlog"] if s.key()[0] == "blocked_route" else []):
            if not any((p.attrs.get("d") or "").strip() for p in charts[0].find("path", cls)):
                fails.append(f"{where}: expected path.{cls} with non-empty d, found none")
        if not charts[0].find("rect", "alert-span"):
            fails.append(f"{where}: expected rect.alert-span in its chart, found none")
    for cid in change_ids:
        if not root.find("rect", "change-window", data_change=cid):
            fails.append(f"change {cid}: expected a rect.change-window data-change={cid!r}, found none")
    need = collections.Counter((a["key"], a["correlation"], a["change_id"]) for a in incidents
                               if a["correlation"] in ("declared", "maintenance"))
    for (k, corr, cid), count in need.items():
        have = sum(1 for s in sections if s.key() == k
                   and s.find("rect", "change-window", data_change=cid))
        if have < count:
            fails.append(f"incident {'/'.join(k)} ({corr} {cid}): expected its section "
                         f"to hold rect.change-window data-change={cid!r}, found {have} of {count}")
    if not [c for s in root.find("section", id="system") for c in s.find("svg", "chart system")]:
        fails.append("section#system: expected an svg.chart.system inside it, found none")
    summary = [r for t in root.find("table", id="summary") for r in t.find("tr", "incident")]
    if len(summary) != len(incidents):
        fails.append(f"table#summary: expected {len(incidents)} tr.incident rows, found {len(summary)}")
    return f"{len(rows)} timeline rows, {len(sections)} incident charts, {len(summary)} summary rows"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for opt in ("--chromium", "--report", "--alerts", "--screenshot"):
        ap.add_argument(opt, required=True)
    ap.add_argument("--changes-ids", default="", help="comma-separated change ids")
    args = ap.parse_args()
    chromium = shutil.which(args.chromium)
    if not chromium:
        print(f"SKIP: chromium binary not found or not executable: {args.chromium}")
        return 77
    fails, dom, seen = [], None, "nothing"
    for f in (args.report, args.alerts):
        if not os.path.isfile(f):
            fails.append(f"{f}: expected a file, found none")
    change_ids = [c for c in args.changes_ids.split(",") if c]
    if not fails:
        incidents = load_incidents(args.alerts, fails)
        if os.path.exists(args.screenshot):
            os.unlink(args.screenshot)
        try:
            dom, found = load_page(chromium, args.report, args.screenshot)
            fails += [f"console: expected no messages, found {p}" for p in found]
        except (RuntimeError, OSError) as e:
            fails.append(f"chromium: expected the report to load, found: {e}")
    if dom is not None:
        seen = check_dom(Tree(dom).root, incidents, change_ids, fails)
        size = os.path.getsize(args.screenshot) if os.path.exists(args.screenshot) else 0
        if size <= 10 * 1024:
            fails.append(f"screenshot {args.screenshot}: expected > 10 KB, found {size} bytes")
    if fails:
        print(f"FAIL: {args.report}: {len(fails)} problem(s)")
        print("\n".join("  - " + f for f in fails))
        return 1
    print(f"OK: {args.report}: no console messages; {seen} match {len(incidents)} incidents; "
          f"{len(change_ids)} change id(s) drawn; system chart; screenshot {size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
