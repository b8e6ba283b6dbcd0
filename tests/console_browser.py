#!/usr/bin/env python3
"""Check the live console of a running `stormwatch run --http` in real headless Chromium.

  console_browser.py --chromium /usr/bin/chromium --url http://127.0.0.1:PORT/ \
      --screenshot OUT.png [--search TEXT]

Chromium is driven over the DevTools protocol as tests/report_browser.py
does (its Browser, Tree and problems() are used here: stdlib only, host
names resolve to nothing). The page is loaded and, once it has drawn a
whole refresh (body[data-refreshed]), its DOM is checked against the JSON
API read here at the same time:
  - the Users table: the rows of GET /api/v1/users?limit=1000, in order,
    with their rates, baselines and states (and the text shown for them);
  - the incidents: GET /api/v1/alerts grouped by `incident`, each block's
    primary and members, and its cause (the change, or undeclared);
  - the recent transitions: the newest of GET /api/v1/history, newest first;
  - the change schedule: GET /api/v1/schedule over the range the page shows.
A page drawn from an answer older than ours is read again after its next
refresh (three tries). Then the search box: typing hides at once the rows
whose User id lacks the text (client side), and the next refresh shows the
rows of GET /api/v1/users?q=TEXT (server side). Throughout: no console
message, exception or failed load (a CSP violation is one), no request
beyond the page's origin, and the page, its script and its style carry the
Content-Security-Policy and X-Content-Type-Options headers. The screenshot
is the whole page, 1280 px wide, before the search.
Exit 0: all passed; 1: a check failed (each failure says what was expected
and what was found); 77: no chromium binary.
"""
import argparse, base64, collections, json, os, shutil, sys, tempfile, time
import urllib.parse, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report_browser  # noqa: E402
from report_browser import Browser, Tree, problems  # noqa: E402

# Chromium as report_browser starts it, but for the loopback address the
# daemon listens on: every other host name still resolves to nothing
report_browser.FLAGS = [f + ", EXCLUDE 127.0.0.1" if f.startswith("--host-resolver-rules=") else f
                        for f in report_browser.FLAGS]

WIDTH, MAX_HEIGHT, TIMEOUT = 1280, 12000, 30
CSP = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
USERS_LIMIT, HISTORY_SHOWN, TRIES = 1000, 100, 3


def fetch(base, path):
    with urllib.request.urlopen(urllib.parse.urljoin(base, path), timeout=10) as r:
        return r.status, dict(r.headers), r.read()


def api(base, path):
    status, _, body = fetch(base, path)
    if status != 200:
        raise RuntimeError(f"GET {path}: expected 200, found {status}")
    return json.loads(body)


class Page:
    """One tab of the browser, on the console."""

    def __init__(self, b, url):
        self.b = b
        tid = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.s = b.call("Target.attachToTarget", {"targetId": tid, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            b.call(domain + ".enable", session=self.s)
        self.view = {"width": WIDTH, "height": 900, "deviceScaleFactor": 1, "mobile": False}
        b.call("Emulation.setDeviceMetricsOverride", self.view, self.s)
        nav = b.call("Page.navigate", {"url": url}, self.s)
        if nav.get("errorText"):
            raise RuntimeError("navigation failed: " + nav["errorText"])
        b.pump(lambda m: m.get("method") == "Page.loadEventFired", TIMEOUT, "load event")

    def eval(self, expr):
        r = self.b.call("Runtime.evaluate", {"expression": expr, "returnByValue": True}, self.s)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr}: {r['exceptionDetails'].get('text')}")
        return r["result"].get("value")

    def wait(self, expr, what):
        """Until expr is true in the page, letting events in meanwhile."""
        end = time.monotonic() + TIMEOUT
        while not self.eval(expr):
            if time.monotonic() > end:
                raise RuntimeError(f"no {what} within {TIMEOUT}s")
            self.b.pump(lambda m: False, 0.2, None)

    def refreshes(self):
        return int(self.eval("document.body.dataset.refreshed || '0'"))

    def next_refresh(self):
        n = self.refreshes()
        self.wait(f"+(document.body.dataset.refreshed || 0) > {n}", "refresh of the page")

    def dom(self):
        return Tree(self.eval("document.documentElement.outerHTML")).root

    def screenshot(self, path):
        height = self.b.call("Page.getLayoutMetrics", session=self.s)["cssContentSize"]["height"]
        view = dict(self.view, height=max(600, min(MAX_HEIGHT, int(height + 0.999))))
        self.b.call("Emulation.setDeviceMetricsOverride", view, self.s)
        png = self.b.call("Page.captureScreenshot", {"format": "png"}, self.s)["data"]
        self.b.call("Emulation.setDeviceMetricsOverride", self.view, self.s)
        with open(path, "wb") as f:
            f.write(base64.b64decode(png))


def num(attr):
    return None if attr in (None, "") else float(attr)


def shown_rate(x):
    """The text the page shows for a rate (console.js: rate())."""
    if x is None:
        return "-"
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def text(n):
    return "".join(n.texts) + "".join(text(c) for c in n.children)


def check_users(root, want, fails):
    """The Users table against GET /api/v1/users: rows, order, values, text."""
    found = []
    for r in root.find("tr", "user"):
        cells = [text(c) for c in r.children if c.tag == "td"]
        row = [r.attrs.get("data-user"), r.attrs.get("data-state")]
        for d in ("south", "north"):
            row += [num(r.attrs.get(f"data-{d}-rate")), num(r.attrs.get(f"data-{d}-baseline")),
                    r.attrs.get(f"data-{d}-state"), r.attrs.get(f"data-{d}-alerts")]
        found.append((tuple(row), cells))
    expect = []
    for u in want["users"]:
        row, cells = [u["user"], u["state"]], [u["user"]]
        for d in ("south", "north"):
            x = u[d]
            row += [x["rate"], x["baseline"], x["state"], ",".join(x["alerts"])]
            cells += [shown_rate(x["rate"]), shown_rate(x["baseline"]),
                      ", ".join(x["alerts"]) or x["state"]]
        expect.append((tuple(row), cells))
    if [f[0] for f in found] != [e[0] for e in expect]:
        fails.append(f"users table: expected the {len(expect)} rows of /api/v1/users in order, "
                     f"found {len(found)}; first difference: " + next(
                         (f"row {i}: expected {e[0]}, found {f[0]}" for i, (e, f)
                          in enumerate(zip(expect, found)) if e[0] != f[0]), "in length"))
        return False
    for (row, got), (_, cells) in zip(found, expect):
        if got != cells:
            fails.append(f"users table, {row[0]}: expected the cells {cells}, found {got}")
    return True


def incidents_of(alerts):
    """GET /api/v1/alerts grouped as the page groups them: incident -> (primary, members)."""
    groups = collections.OrderedDict()
    for a in alerts:
        groups.setdefault(a.get("incident") or f"{a['alert']} {a['user']} {a['dir']}", []).append(a)
    out = {}
    for iid, group in groups.items():
        p = next((a for a in group if a.get("incident_role") != "member"), group[0])
        key = lambda a: (a["alert"], a["user"], a["dir"], a["class"], a["starts_at"])  # noqa: E731
        out[iid] = (key(p), sorted(key(a) for a in group if a is not p),
                    p["change"]["id"] if p.get("change") else p["correlation"])
    return out


def check_incidents(root, alerts, fails):
    want = incidents_of(alerts)
    got = {}
    for art in root.find("article", "incident"):
        rows = [(r.attrs.get("data-role"), tuple(r.attrs.get("data-" + k) for k in
                                                 ("kind", "user", "dir", "class", "starts")))
                for r in art.find("tr", "alert")]
        primary = [k for role, k in rows if role == "primary"]
        iid = art.attrs.get("data-incident") or (f"{primary[0][0]} {primary[0][1]} {primary[0][2]}"
                                                 if primary else "?")
        got[iid] = (primary[0] if len(primary) == 1 else primary,
                    sorted(k for role, k in rows if role == "member"), art.attrs.get("data-cause"))
        cause = [text(c) for c in art.find("span", "cause")]
        cid = got[iid][2]
        if not cause or (cid not in cause[0] if cid != "undeclared" else "undeclared" not in cause[0]):
            fails.append(f"incident {iid}: expected its cause to name {cid}, found {cause}")
    if got != want:
        fails.append(f"incidents: expected {want}, found {got}")
        return False
    return True


def check_history(root, hist, fails):
    want = [(t["at"], t["alert"]["status"], t["alert"]["alert"], t["alert"]["user"],
             t["alert"]["dir"], t["alert"].get("incident") or "",
             (t["alert"].get("change") or {}).get("id") or "")
            for t in hist["transitions"][-HISTORY_SHOWN:]][::-1]
    got = [tuple(r.attrs.get("data-" + k) for k in
                 ("at", "status", "kind", "user", "dir", "incident", "change"))
           for r in root.find("tr", "transition")]
    if got != want:
        fails.append(f"recent transitions: expected the {len(want)} newest of /api/v1/history, "
                     f"newest first, found {len(got)}: {got[:3]} ... against {want[:3]} ...")
        return False
    return True


def check_schedule(root, base, fails):
    tables = root.find("table", id="schedule-table")
    frm = tables[0].attrs.get("data-from") if tables else None
    to = tables[0].attrs.get("data-to") if tables else None
    if not frm or not to:
        fails.append(f"schedule: expected the range shown on table#schedule-table, found {frm}, {to}")
        return False
    s = api(base, "/api/v1/schedule?" + urllib.parse.urlencode({"from": frm, "to": to}))
    want = [c["id"] for c in s["changes"]]
    got = [r.attrs.get("data-change") for r in root.find("tr", "change")]
    if got != want:
        fails.append(f"schedule {frm} to {to}: expected {want}, found {got}")
        return False
    return True


def check_page(page, base, fails):
    """The page against the API: what it draws after we read the API must be
    what we read (a change in between: tried again, TRIES times at most)."""
    for attempt in range(TRIES):
        users = api(base, f"/api/v1/users?limit={USERS_LIMIT}")
        alerts = api(base, "/api/v1/alerts")
        hist = api(base, "/api/v1/history")
        page.next_refresh()
        root, out = page.dom(), []
        check_users(root, users, out)
        check_incidents(root, alerts, out)
        check_history(root, hist, out)
        check_schedule(root, base, out)
        if not out or attempt == TRIES - 1:
            fails += out
            return users, alerts, hist
    return None


def check_search(page, base, users, fails):
    """Typing filters at once, then the next refresh asks the server (q=)."""
    ids = [u["user"] for u in users["users"]]
    if not ids:
        fails.append("search: expected Users to search among, found none")
        return ""
    q = ids[len(ids) // 2][-5:].lower()  # lower case: the filter ignores case
    shown = page.eval(
        "(() => { const i = document.getElementById('q'); i.value = %s;"
        " i.dispatchEvent(new Event('input'));"
        " return [...document.querySelectorAll('#users-table tr.user')]"
        ".filter(r => !r.hidden).map(r => r.dataset.user); })()" % json.dumps(q))
    want = [u for u in ids if q in u.lower()]
    if shown != want:
        fails.append(f"search {q!r}, client side: expected at once the rows {want}, found {shown}")
    page.wait("document.body.dataset.usersQ === %s" % json.dumps(q), "refresh with q")
    server = api(base, "/api/v1/users?" + urllib.parse.urlencode({"q": q, "limit": USERS_LIMIT}))
    if sorted(u["user"] for u in server["users"]) != sorted(want):
        fails.append(f"search {q!r}: expected /api/v1/users?q= to give {want}, found "
                     f"{[u['user'] for u in server['users']]}")
    check_users(page.dom(), server, fails)
    return q


def check_headers(base, fails):
    for path in ("/", "/console.js", "/console.css", "/console.svg"):
        status, headers, body = fetch(base, path)
        h = {k.lower(): v for k, v in headers.items()}
        if status != 200 or h.get("content-security-policy") != CSP \
                or h.get("x-content-type-options") != "nosniff" or not body:
            fails.append(f"GET {path}: expected 200 with CSP {CSP!r} and nosniff, found {status}, "
                         f"{h.get('content-security-policy')!r}, {h.get('x-content-type-options')!r}")


def foreign_requests(events, base):
    origin = urllib.parse.urlsplit(base)
    out = []
    for e in events:
        if e.get("method") == "Network.requestWillBeSent":
            u = urllib.parse.urlsplit(e["params"]["request"]["url"])
            if (u.scheme, u.netloc) != (origin.scheme, origin.netloc):
                out.append(e["params"]["request"]["url"])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for opt in ("--chromium", "--url", "--screenshot"):
        ap.add_argument(opt, required=True)
    args = ap.parse_args()
    chromium = shutil.which(args.chromium)
    if not chromium:
        print(f"SKIP: chromium binary not found or not executable: {args.chromium}")
        return 77
    fails, seen, q, started = [], None, "", time.monotonic()
    check_headers(args.url, fails)
    if os.path.exists(args.screenshot):
        os.unlink(args.screenshot)
    with tempfile.TemporaryDirectory(prefix="console_browser.") as tmp:
        b = Browser(chromium, tmp)
        try:
            page = Page(b, args.url)
            seen = check_page(page, args.url, fails)
            page.screenshot(args.screenshot)
            q = check_search(page, args.url, seen[0], fails) if seen else ""
            b.pump(lambda m: False, 0.5, None)  # late console or log messages
        except (RuntimeError, OSError, KeyError, ValueError) as e:
            fails.append(f"chromium: expected the console to load and refresh, found: {e}")
        finally:
            b.close()
    fails += [f"console: expected no messages, found {p}" for p in problems(b.events)]
    fails += [f"requests: expected only {args.url}, found {u}"
              for u in foreign_requests(b.events, args.url)]
    shot = os.path.getsize(args.screenshot) if os.path.exists(args.screenshot) else 0
    if shot <= 10 * 1024:
        fails.append(f"screenshot {args.screenshot}: expected > 10 KB, found {shot} bytes")
    if not fails:
        users, alerts, hist = seen
        print(f"OK: {args.url}: {len(users['users'])} User rows, {len(incidents_of(alerts))} "
              f"incidents of {len(alerts)} alerts, {min(len(hist['transitions']), HISTORY_SHOWN)} "
              f"transitions match the API; search {q!r} both sides; no console messages; "
              f"screenshot {shot} bytes; {time.monotonic() - started:.1f} s")
        return 0
    print(f"FAIL: {args.url}: {len(fails)} problem(s)\n" + "\n".join("  - " + f for f in fails))
    return 1


if __name__ == "__main__":
    sys.exit(main())
