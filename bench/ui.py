"""Dashboard benchmark (issue 7): how much JavaScript before the first page, how soon it shows.

What it measures
    1. Bundle: the gzipped size of the JavaScript a first visit must load before anything runs
       (the entry chunk of `src/missionctl/web/ui_dist/index.html` and every chunk it imports
       statically), the CSS, and the route chunks loaded on demand (route splitting). The gzip
       level is 9, as a server or CDN would serve it; the Python server itself sends them
       uncompressed (the budget is about what a deployment behind a compressing proxy ships).
    2. First meaningful paint of the command center in Chromium (the system one, headless):
       a signed-in person opens `/` on `missionctl up` (demo team, plus 60 tasks so the board is
       full). "Meaningful" = the moment the agent cards *and* the board's task cards are in the
       DOM, taken by a MutationObserver installed before the page's scripts run
       (`performance.now()`, from navigation start); the browser's own first-contentful-paint
       and largest-contentful-paint are recorded beside it. Cold: a new browser context per run
       (empty HTTP cache). Warm: a reload in the same context. Medians of `--runs` each.

Why
    The issue's budget: initial JavaScript under 250 KB gzipped, the rest split by route; first
    meaningful paint of the command center under 1 s locally.

Run: `make bench` or `.venv/bin/python bench/ui.py [--runs N] [--keep]` (builds nothing: run
`make ui` first). Only 127.0.0.1 is contacted; the server started is stopped on exit. Figures go
to stdout and to bench/results/ui.json (git-ignored).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench_common import RESULTS_DIR, ROOT, base_env, machine_facts, workspace

DIST = ROOT / "src" / "missionctl" / "web" / "ui_dist"
CHROMIUM = "/usr/lib/chromium/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BUDGET_JS_KB = 250
BUDGET_PAINT_MS = 1000
STATIC_IMPORT = re.compile(r"""(?:import|from)\s*["'](\./[^"']+\.js)["']""")
# Runs before the page's own scripts: note when the agent and task cards first exist.
READY_PROBE = """
(() => {
  const check = () => {
    if (window.__mcReady) return;
    if (document.querySelector('[data-testid="agent-card"]') &&
        document.querySelector('[data-testid="task-card"]')) {
      window.__mcReady = performance.now();
    }
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true });
  window.__mcLcp = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) window.__mcLcp = entry.startTime;
  }).observe({ type: "largest-contentful-paint", buffered: true });
})();
"""


TIMINGS = """() => ({
    meaningful: window.__mcReady,
    fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN,
    lcp: window.__mcLcp,
    dom_content_loaded: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
})"""


def gz_kb(path: Path) -> float:
    return len(gzip.compress(path.read_bytes(), compresslevel=9)) / 1024


def static_closure(entry: Path) -> list[Path]:
    """The entry chunk and every chunk it imports statically (dynamic import() excluded)."""
    seen: list[Path] = []
    todo = [entry]
    while todo:
        chunk = todo.pop()
        if chunk in seen:
            continue
        seen.append(chunk)
        for name in STATIC_IMPORT.findall(chunk.read_text()):
            todo.append((chunk.parent / name).resolve())
    return seen


def bundle_sizes() -> dict[str, Any]:
    index = (DIST / "index.html").read_text()
    entry = re.search(r'<script type="module"[^>]*src="/([^"]+)"', index)
    if entry is None:
        sys.exit("bench/ui.py: no built dashboard; run `make ui` first")
    initial = static_closure((DIST / entry.group(1)).resolve())
    css = [DIST / href for href in re.findall(r'<link rel="stylesheet"[^>]*href="/([^"]+)"', index)]
    every_js = sorted((DIST / "assets").glob("*.js"))
    lazy = [path for path in every_js if path not in initial]
    return {
        "initial_js_gz_kb": round(sum(gz_kb(p) for p in initial), 1),
        "initial_js_files": [p.name for p in initial],
        "css_gz_kb": round(sum(gz_kb(p) for p in css), 1),
        "lazy_chunks": len(lazy),
        "lazy_js_gz_kb": round(sum(gz_kb(p) for p in lazy), 1),
        "largest_lazy_chunk": max(
            ((p.name, round(gz_kb(p), 1)) for p in lazy), key=lambda item: item[1], default=None
        ),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def call(url: str, payload: dict[str, Any] | None = None, token: str | None = None) -> Any:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:  # 127.0.0.1 only
        return json.loads(response.read())


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = base_env() | {"MISSIONCTL_DATA_DIR": str(data_dir), "MISSIONCTL_PORT": str(port)}
    log = (data_dir / "server.log").open("wb")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "missionctl"), "up"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/v1/ready", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    sys.exit("bench/ui.py: the server did not become ready")


def sign_in_and_fill_board(url: str, data_dir: Path) -> dict[str, Any]:
    password = re.search(r"password: (\S+)", (data_dir / "initial-admin.txt").read_text())
    assert password is not None
    tokens = call(
        f"{url}/api/v1/auth/login",
        {"email": "admin@missionctl.local", "password": password.group(1)},
    )
    for number in range(60):
        call(
            f"{url}/api/v1/tasks",
            {"title": f"Bench task {number}", "priority": ["low", "normal", "high"][number % 3]},
            tokens["access_token"],
        )
    return {
        "accessToken": tokens["access_token"],
        "refreshToken": tokens["refresh_token"],
        "expiresAt": int(time.time() * 1000) + tokens["expires_in"] * 1000,
        "tenant": None,
    }


def measure_paint(url: str, session: dict[str, Any], runs: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    init = f"localStorage.setItem('mc.session', {json.dumps(json.dumps(session))});" + READY_PROBE
    cold: list[dict[str, float]] = []
    warm: list[dict[str, float]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(runs):
            context = browser.new_context(viewport={"width": 1280, "height": 860})
            context.add_init_script(init)
            page = context.new_page()
            for bucket in (cold, warm):
                if bucket is cold:
                    page.goto(url + "/")
                else:
                    page.reload()
                page.wait_for_function("() => window.__mcReady !== undefined", timeout=15_000)
                page.wait_for_timeout(300)  # let LCP settle
                bucket.append(page.evaluate(TIMINGS))
            context.close()
        browser.close()

    def medians(rows: list[dict[str, float]]) -> dict[str, float]:
        return {key: round(statistics.median(row[key] for row in rows), 1) for key in rows[0]}

    return {"runs": runs, "cold_ms": medians(cold), "warm_ms": medians(warm)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the temp data dir")
    args = parser.parse_args()

    bundle = bundle_sizes()
    with workspace("mc-bench-ui-", args.keep) as data_dir:
        process, url = start_server(data_dir)
        try:
            session = sign_in_and_fill_board(url, data_dir)
            paint = measure_paint(url, session, args.runs)
        finally:
            process.terminate()
            process.wait(timeout=30)

    result = {"machine": machine_facts(), "bundle": bundle, "paint": paint}
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "ui.json").write_text(json.dumps(result, indent=2))
    cold, warm = paint["cold_ms"], paint["warm_ms"]
    print(f"initial JS (gzip -9): {bundle['initial_js_gz_kb']} KB (budget {BUDGET_JS_KB} KB)")
    print(f"CSS: {bundle['css_gz_kb']} KB; {bundle['lazy_chunks']} lazy chunks")
    print(f"  ({bundle['lazy_js_gz_kb']} KB, largest {bundle['largest_lazy_chunk']})")
    print(f"command center, median of {paint['runs']} (ms):   meaningful   FCP    LCP    DCL")
    for name, row in (("cold", cold), ("warm", warm)):
        print(
            f"  {name:<5} {row['meaningful']:>28} {row['fcp']:>6} {row['lcp']:>6}"
            f" {row['dom_content_loaded']:>6}"
        )
    ok = bundle["initial_js_gz_kb"] < BUDGET_JS_KB and cold["meaningful"] < BUDGET_PAINT_MS
    print("within budget" if ok else "OVER BUDGET")


if __name__ == "__main__":
    main()
