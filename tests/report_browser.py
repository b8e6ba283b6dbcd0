#!/usr/bin/env python3
"""Check a `stormwatch replay --report` HTML file in real headless Chromium.

  report_browser.py --chromium /usr/bin/chromium --report R.html \
      --alerts ALERTS.jsonl [--all-alerts ALL.jsonl] [--changes-ids ID1,ID2] \
      [--expect-shading] --screenshot OUT.png

One headless run, driven over the DevTools protocol on --remote-debugging-pipe
(stdlib only; the --enable-logging=stderr console lines miss failed loads),
records console messages, uncaught exceptions, log entries (CSP violations are
source "security") and failed loads, takes the DOM after load (as --dump-dom)
and a full-page screenshot 1280 px wide. Host names resolve to nothing, so
Chromium's background requests never leave the machine. The DOM is checked
against the incidents of the alerts file (its alert lines grouped by their
`incident` id, as the report does): one timeline row, summary row and section
per incident keyed by its primary alert, each section's alerts, hurt Users'
backlog charts and learning marks, and the incidents each change explains.
The layout is measured in the page as laid out 1280 px wide: every chart as
wide as its container, no two text labels of a chart overlapping, no time
cell wrapping, no table wider than its container, "detection" in every
incident's legend, and feed stalls (the alerts file's feed_stalled alerts)
and DCC maintenance (the changes table's rows of user DCC) shaded on every
chart whose time they overlap, and named in its legend. A report filtered
to some incidents still shades the stalls of the others: --all-alerts names
the alerts file before the filter. --expect-shading fails a run whose input
has no feed stall or no maintenance to shade.
Exit 0: all passed; 1: a check failed (each failure says what was expected
and what was found); 77: no chromium binary.
"""
import argparse, base64, collections, datetime, fcntl, json, os, select, signal
import pathlib, shutil, subprocess, sys, tempfile, time
from html.parser import HTMLParser

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
         "--no-first-run", "--no-default-browser-check", "--disable-extensions",
         "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-default-apps", "--disable-breakpad",
         "--disable-domain-reliability", "--mute-audio", "--hide-scrollbars",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost"]
WIDTH, MAX_HEIGHT, TIMEOUT = 1280, 32000, 60
WIDTH_SLACK = 3    # px a chart may differ from its container's width
OVERLAP_SLACK = 0.5  # px two text boxes may share either way (antialiased edges)

# Measured in the page after load: charts (their width, their container's,
# their text boxes and shading), time cells (their lines) and tables.
LAYOUT_JS = """(() => {
  const box = r => ({x0: r.left, y0: r.top, x1: r.right, y1: r.bottom});
  const inner = e => { const cs = getComputedStyle(e);
    return e.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight); };
  const charts = [...document.querySelectorAll('svg.chart')].map(svg => {
    const sec = svg.closest('section'), next = svg.nextElementSibling;
    return {cls: svg.getAttribute('class'), where: sec ? sec.id : '',
      user: svg.dataset.user || '', from: svg.dataset.from, to: svg.dataset.to,
      width: svg.getBoundingClientRect().width, container: inner(svg.parentElement),
      texts: [...svg.querySelectorAll('text')].map(t =>
        Object.assign({text: t.textContent}, box(t.getBoundingClientRect()))),
      stalls: svg.querySelectorAll('rect.feed-stall').length,
      maintenance: [...svg.querySelectorAll('rect.change-window.maintenance')]
        .map(r => r.dataset.change),
      legend: next && next.matches('p.legend') ? next.textContent : null};
  });
  const times = [...document.querySelectorAll('td.time')].map(td => {
    const r = document.createRange();
    r.selectNodeContents(td);
    return {text: td.textContent,
      lines: new Set([...r.getClientRects()].map(q => Math.round(q.top))).size,
      height: r.getBoundingClientRect().height,
      line: parseFloat(getComputedStyle(td).lineHeight)};
  });
  const tables = [...document.querySelectorAll('table')].map(t => ({
    name: t.id || t.className, width: t.getBoundingClientRect().width,
    container: inner(t.parentElement)}));
  return JSON.stringify({charts, times, tables});
})()"""
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
        "meta", "source", "track", "wbr"}
KEY = ("kind", "user", "dir", "class", "starts")
FIELDS = ("status", "alert", "user", "dir", "class", "starts_at", "correlation", "change")
HURT_DRAWN = 8  # REP_HURT_DRAWN: hurt Users with a backlog chart


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []
        self.texts = []  # its own text, not its children's

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

    def handle_data(self, data):
        self.cur.texts.append(data)

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
    """Load path; write the screenshot; return (DOM after load, layout, problems)."""
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
            layout = json.loads(b.call("Runtime.evaluate", {"expression": LAYOUT_JS,
                                                            "returnByValue": True},
                                       s)["result"]["value"])
            height = b.call("Page.getLayoutMetrics", session=s)["cssContentSize"]["height"]
            view["height"] = max(600, min(MAX_HEIGHT, int(height + 0.999)))
            b.call("Emulation.setDeviceMetricsOverride", view, s)
            png = b.call("Page.captureScreenshot", {"format": "png"}, s)["data"]
            with open(shot, "wb") as f:
                f.write(base64.b64decode(png))
        finally:
            b.close()
    return dom, layout, problems(b.events)


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


class Incident:
    """The alerts of one incident: its primary first, then its members."""

    def __init__(self, iid):
        self.id, self.primary, self.alerts = iid or "", None, []

    def add(self, a):
        self.alerts.append(a)
        if a.get("incident_role") != "member" and self.primary is None:
            self.primary = a

    def lead(self):
        """Its primary, else its earliest alert (as the report picks it)."""
        return self.primary or min(self.alerts, key=lambda a: a["starts_at"])

    def hurt(self):
        """The Users it hurt: its primary's impacted Users, then its members'."""
        p, out = self.lead(), []
        for u in list(p.get("impacted_users") or []) + [a["user"] for a in self.alerts]:
            if u not in ("*", p["user"]) and u not in out:
                out.append(u)
        return out

    def changes(self):
        return {a["change_id"] for a in self.alerts if a["change_id"]}


def load_incidents(path, fails):
    """The alert lines of the alerts file grouped into incidents: by their
    `incident` id (a second primary under an id seen before, as after a
    restart, starts another), a line without one an incident of its own;
    a resolved line updates its firing line's alert."""
    incidents, latest, open_ = [], {}, {}
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        if not line.strip():
            continue
        try:
            a = json.loads(line)
            missing = [k for k in FIELDS if k not in a]
            if missing:
                raise ValueError(f"missing {missing}")
            if a["status"] not in ("firing", "resolved"):
                raise ValueError(f"status {a['status']!r} is not firing|resolved")
        except (ValueError, KeyError, TypeError) as e:
            fails.append(f"{path}:{n}: expected an alert line, found {line.strip()[:80]!r} ({e})")
            continue
        a["key"] = (a["alert"], a["user"], a["dir"], a["class"], a["starts_at"])
        a["change_id"] = (a["change"] or {}).get("id") or ""
        if a["status"] == "resolved" and a["key"] in open_:
            open_.pop(a["key"]).update(impacted_users=a.get("impacted_users"), status="resolved")
            continue
        iid = a.get("incident")
        inc = latest.get(iid) if iid else None
        if inc is None or (a.get("incident_role") != "member" and inc.primary is not None):
            inc = Incident(iid)
            incidents.append(inc)
            if iid:
                latest[iid] = inc
        inc.add(a)
        if a["status"] == "firing":
            open_[a["key"]] = a
    return incidents


def same_multiset(what, expected, found, fails):
    exp, got = collections.Counter(expected), collections.Counter(found)
    if exp != got:
        fails.append(f"{what}: expected {len(expected)}, found {len(found)}; missing "
                     f"{sorted(exp - got, key=str)[:10]}; unexpected {sorted(got - exp, key=str)[:10]}")


def check_section(s, inc, fails):
    """One incident's section: its chart, its alerts, its hurt Users, learning marks."""
    p = inc.lead()
    where = f"section.incident {inc.id or '-'} " + "/".join(p["key"])
    charts = [c for c in s.find("svg", "chart") if "hurt" not in c.attrs.get("class", "").split()]
    if len(charts) != 1:
        fails.append(f"{where}: expected 1 svg.chart of its primary, found {len(charts)}")
    else:
        for cls in ["observed"] + (["backlog"] if p["alert"] == "blocked_route" else []):
            if not any((q.attrs.get("d") or "").strip() for q in charts[0].find("path", cls)):
                fails.append(f"{where}: expected path.{cls} with non-empty d, found none")
        if not charts[0].find("rect", "alert-span"):
            fails.append(f"{where}: expected rect.alert-span in its chart, found none")
        spans = len(charts[0].find("rect", "member-span"))
        if spans != len(inc.alerts) - 1:
            fails.append(f"{where}: expected {len(inc.alerts) - 1} rect.member-span, found {spans}")
    rows = s.find("tr", "alert")
    same_multiset(f"{where}: alert rows (role,kind,user,dir,class,starts,learning)",
                  [("primary" if a is p else "member",) + a["key"] + (bool(a.get("learning")),)
                   for a in inc.alerts],
                  [(r.attrs.get("data-role"),) + r.key()
                   + ("learning" in r.attrs.get("class", "").split(),) for r in rows], fails)
    for r in rows:
        learning = r.attrs.get("data-learning") == "true"
        if learning != bool(r.find("span", "badge learning")):
            fails.append(f"{where}: alert row {r.key()}: learning {learning} but the badge "
                         f"is {'missing' if learning else 'there'}")
    hurt = inc.hurt()
    drawn = [c.attrs.get("data-user") for c in s.find("svg", "chart hurt")]
    if drawn != hurt[:HURT_DRAWN]:
        fails.append(f"{where}: expected backlog charts of {hurt[:HURT_DRAWN]}, found {drawn}")
    for c in s.find("svg", "chart hurt"):
        if not c.find("path", "backlog"):
            fails.append(f"{where}: hurt chart {c.attrs.get('data-user')}: expected path.backlog")
    learning = bool(p.get("learning"))
    if learning != ("learning" in s.attrs.get("class", "").split()):
        fails.append(f"{where}: expected class learning {learning}, found {s.attrs.get('class')!r}")


def check_dom(root, incidents, change_ids, fails):
    csp = [m.attrs.get("content") for m in root.find("meta")
           if (m.attrs.get("http-equiv") or "").lower() == "content-security-policy"]
    if not any("default-src 'none'" in (c or "") for c in csp):
        fails.append(f"CSP meta: expected one with default-src 'none', found {csp}")

    def want(inc):  # what a row or section says of its incident, from the alerts file
        p = inc.lead()
        return p["key"] + (inc.id, p["correlation"], p["change_id"], str(len(inc.alerts) - 1))

    def got(n):
        return n.key() + tuple(n.attrs.get("data-" + k)
                               for k in ("incident", "correlation", "change", "members"))

    tables = root.find("table", id="timeline")
    if len(tables) != 1:
        fails.append(f"table#timeline: expected 1, found {len(tables)}")
    rows = [r for t in tables for r in t.find("tr", "incident")]
    what = "(kind,user,dir,class,starts,incident,correlation,change,members)"
    same_multiset("timeline rows " + what, [want(i) for i in incidents], [got(r) for r in rows],
                  fails)
    sections = root.find("section", "incident")
    same_multiset("incident sections " + what, [want(i) for i in incidents],
                  [got(s) for s in sections], fails)
    by_key = {want(i): i for i in incidents}
    for s in sections:
        if got(s) in by_key:
            check_section(s, by_key[got(s)], fails)
    anchors = {s.attrs.get("id") for s in sections}
    for cid in change_ids:
        if not root.find("rect", "change-window", data_change=cid):
            fails.append(f"change {cid}: expected a rect.change-window data-change={cid!r}, found none")
        row = root.find("tr", "change", data_change=cid)
        links = [a for r in row for td in r.find("td", "explains") for a in td.find("a")]
        texts = sorted("".join(t for t in a.texts) for a in links)
        expect = sorted(i.id for i in incidents if cid in i.changes())
        if len(row) != 1 or texts != expect:
            fails.append(f"change {cid}: expected its row to list incidents {expect}, found {texts}")
        for a in links:
            if (a.attrs.get("href") or "")[1:] not in anchors:
                fails.append(f"change {cid}: link {a.attrs.get('href')} names no incident section")
    need = collections.Counter((want(i), i.lead()["change_id"]) for i in incidents
                               if i.lead()["correlation"] in ("declared", "maintenance"))
    for (k, cid), count in need.items():
        have = sum(1 for s in sections if got(s) == k
                   and s.find("rect", "change-window", data_change=cid))
        if have < count:
            fails.append(f"incident {'/'.join(k)}: expected its section to hold "
                         f"rect.change-window data-change={cid!r}, found {have} of {count}")
    if not [c for s in root.find("section", id="system") for c in s.find("svg", "chart system")]:
        fails.append("section#system: expected an svg.chart.system inside it, found none")
    summary = [r for t in root.find("table", id="summary") for r in t.find("tr", "incident-summary")]
    if len(summary) != len(incidents):
        fails.append(f"table#summary: expected {len(incidents)} tr.incident-summary rows, "
                     f"found {len(summary)}")
    nalerts = sum(len(i.alerts) for i in incidents)
    return (f"{len(rows)} timeline rows, {len(sections)} incident sections of {nalerts} alerts, "
            f"{len(summary)} summary rows")


def when(text):
    """An RFC 3339 time as seconds since the epoch; None for None."""
    if text is None:
        return None
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def overlaps(a, b):
    return (min(a["x1"], b["x1"]) - max(a["x0"], b["x0"]) > OVERLAP_SLACK
            and min(a["y1"], b["y1"]) - max(a["y0"], b["y0"]) > OVERLAP_SLACK)


def chart_name(c):
    return f"svg.{c['cls'].replace(' ', '.')} in {c['where'] or 'the page'}" + (
        f" ({c['user']})" if c["user"] else "")


def check_layout(layout, root, alerts_path, expect_shading, fails):
    """The page as laid out: widths, labels apart, one-line times, legends, shading."""
    charts = layout["charts"]
    for c in charts:
        where = chart_name(c)
        if abs(c["width"] - c["container"]) > WIDTH_SLACK:
            fails.append(f"{where}: expected as wide as its container ({c['container']:.1f} px), "
                         f"found {c['width']:.1f} px")
        t = c["texts"]
        for i in range(len(t)):
            for j in range(i + 1, len(t)):
                if overlaps(t[i], t[j]):
                    fails.append(f"{where}: expected no overlapping labels, found {t[i]['text']!r} "
                                 f"and {t[j]['text']!r} overlapping")
        if not t:
            fails.append(f"{where}: expected axis labels, found no text")
    for tc in layout["times"]:
        if tc["lines"] != 1 or tc["height"] > 1.5 * tc["line"]:
            fails.append(f"time cell {tc['text']!r}: expected one line, found {tc['lines']} "
                         f"({tc['height']:.1f} px for lines of {tc['line']:.1f} px)")
    if not layout["times"]:
        fails.append("td.time: expected time cells, found none")
    for tb in layout["tables"]:
        if tb["width"] > tb["container"] + 1:
            fails.append(f"table {tb['name']}: expected within its container "
                         f"({tb['container']:.0f} px), found {tb['width']:.0f} px wide")
    for c in charts:
        if c["cls"] == "chart" and "detection" not in (c["legend"] or ""):
            fails.append(f"{chart_name(c)}: expected 'detection' in its legend, found "
                         f"{c['legend']!r}")
    # what should be shaded: feed_stalled alerts, and the changes of user DCC
    stalls = {}
    for line in open(alerts_path, encoding="utf-8"):
        a = json.loads(line) if line.strip() else {}
        if a.get("alert") == "feed_stalled":
            end = when(a.get("ends_at")) if a["status"] == "resolved" else None
            k = a["starts_at"]
            stalls[k] = end if end is not None else stalls.get(k)
    dcc = {r.attrs.get("data-change"): (when(r.attrs.get("data-start")), when(r.attrs.get("data-end")))
           for r in root.find("tr", "change", data_user="DCC")
           if r.attrs.get("data-start") and r.attrs.get("data-end")}
    if expect_shading and (not stalls or not dcc):
        fails.append(f"--expect-shading: expected feed_stalled alerts and DCC changes in the "
                     f"input, found {len(stalls)} stall(s) and {len(dcc)} DCC change(s)")
    shaded = 0
    for c in charts:
        if not c.get("from") or not c.get("to"):
            fails.append(f"{chart_name(c)}: expected its time as data-from and data-to, found none")
            continue
        t0, t1 = when(c["from"]), when(c["to"])
        n = sum(1 for s0, s1 in stalls.items() if when(s0) <= t1 and (s1 is None or s1 >= t0))
        if c["stalls"] != n:
            fails.append(f"{chart_name(c)}: expected {n} rect.feed-stall over "
                         f"{c['from']}..{c['to']}, found {c['stalls']}")
        want = sorted(i for i, (a, b) in dcc.items() if a <= t1 and b >= t0)
        if sorted(c["maintenance"]) != want:
            fails.append(f"{chart_name(c)}: expected maintenance shaded {want}, found "
                         f"{sorted(c['maintenance'])}")
        shaded += c["stalls"] + len(c["maintenance"])
        for drawn, name in ((c["stalls"], "feed stalled"), (c["maintenance"], "DCC maintenance")):
            if drawn and c["legend"] is not None and name not in c["legend"]:
                fails.append(f"{chart_name(c)}: expected {name!r} in its legend, found "
                             f"{c['legend']!r}")
    if expect_shading and not shaded:
        fails.append("--expect-shading: expected shaded spans, found none")
    return (f"{len(charts)} charts full width with no overlapping labels, "
            f"{len(layout['times'])} one-line time cells, {shaded} shaded spans")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for opt in ("--chromium", "--report", "--alerts", "--screenshot"):
        ap.add_argument(opt, required=True)
    ap.add_argument("--changes-ids", default="", help="comma-separated change ids")
    ap.add_argument("--all-alerts", help="the alerts before --user/--from/--to (feed stalls)")
    ap.add_argument("--expect-shading", action="store_true",
                    help="the input has feed stalls and DCC maintenance to shade")
    args = ap.parse_args()
    chromium = shutil.which(args.chromium)
    if not chromium:
        print(f"SKIP: chromium binary not found or not executable: {args.chromium}")
        return 77
    fails, dom, seen, laid = [], None, "nothing", "nothing"
    for f in (args.report, args.alerts):
        if not os.path.isfile(f):
            fails.append(f"{f}: expected a file, found none")
    change_ids = [c for c in args.changes_ids.split(",") if c]
    if not fails:
        incidents = load_incidents(args.alerts, fails)
        if os.path.exists(args.screenshot):
            os.unlink(args.screenshot)
        try:
            dom, layout, found = load_page(chromium, args.report, args.screenshot)
            fails += [f"console: expected no messages, found {p}" for p in found]
        except (RuntimeError, OSError) as e:
            fails.append(f"chromium: expected the report to load, found: {e}")
    if dom is not None:
        root = Tree(dom).root
        seen = check_dom(root, incidents, change_ids, fails)
        laid = check_layout(layout, root, args.all_alerts or args.alerts, args.expect_shading,
                            fails)
        size = os.path.getsize(args.screenshot) if os.path.exists(args.screenshot) else 0
        if size <= 10 * 1024:
            fails.append(f"screenshot {args.screenshot}: expected > 10 KB, found {size} bytes")
    if fails:
        print(f"FAIL: {args.report}: {len(fails)} problem(s)")
        print("\n".join("  - " + f for f in fails))
        return 1
    print(f"OK: {args.report}: no console messages; {seen} match {len(incidents)} incidents; "
          f"{len(change_ids)} change id(s) drawn; system chart; {laid}; screenshot {size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
