"""/healthz and /metrics."""

import re

from helpers import assert_error, assert_status, create_key, login

SAMPLE_RE = re.compile(
    r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eEinfINFNa]+)(\s+\d+)?$")


def _project_version(repo_root):
    text = (repo_root / "meson.build").read_text()
    m = re.search(r"version\s*:\s*'([^']+)'", text)
    return m.group(1) if m else None


def _metrics(d, **kw):
    r = d.req("GET", "/metrics", **kw)
    assert_status(r, 200)
    ctype = r.headers.get("Content-Type", "")
    assert ctype.startswith("text/plain"), ctype
    text = r.body.decode() if isinstance(r.body, bytes) else str(r.body)
    return text


def _samples(text):
    """[(name, labels, value)] of every sample line; fails on junk lines."""
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line.strip())
        assert m, f"not a Prometheus sample line: {line!r}"
        out.append((m.group(1), m.group(2) or "", float(m.group(3))))
    return out


def _sum(text, name):
    return sum(v for n, _, v in _samples(text) if n == name)


def test_healthz_no_auth(daemon, repo_root):
    r = daemon.req("GET", "/healthz")
    body = assert_status(r, 200)
    assert r.headers.get("Content-Type", "").startswith("application/json")
    assert body["status"] == "ok"
    assert body["version"] == _project_version(repo_root)


def test_metrics_from_loopback(daemon):
    text = _metrics(daemon)
    names = {n for n, _, _ in _samples(text)}
    assert "rigs_http_requests_total" in names, text[:2000]
    assert "rigs_http_request_duration_seconds_bucket" in names
    assert "rigs_http_request_duration_seconds_count" in names
    assert "rigs_http_request_duration_seconds_sum" in names
    assert "rigs_active_sessions" in names
    assert re.search(r"^# TYPE rigs_http_requests_total counter$", text, re.M)
    assert re.search(r"^# TYPE rigs_http_request_duration_seconds histogram$",
                     text, re.M)
    assert re.search(r"^# TYPE rigs_active_sessions gauge$", text, re.M)
    assert re.search(r'rigs_http_request_duration_seconds_bucket\{[^}]*le="\+Inf"',
                     text)


def test_metrics_with_admin_key(daemon):
    _metrics(daemon, key=daemon.admin_key)


def test_request_counter_increases(daemon):
    before = _sum(_metrics(daemon), "rigs_http_requests_total")
    hist_before = _sum(_metrics(daemon), "rigs_http_request_duration_seconds_count")
    for _ in range(5):
        assert_status(daemon.req("GET", "/api/me", key=daemon.admin_key), 200)
    assert_error(daemon.req("GET", "/api/nope", key=daemon.admin_key), 404,
                 "not_found")
    text = _metrics(daemon)
    after = _sum(text, "rigs_http_requests_total")
    assert after >= before + 6, (before, after)
    assert _sum(text, "rigs_http_request_duration_seconds_count") >= hist_before + 6


def test_histogram_buckets_are_cumulative(daemon):
    daemon.req("GET", "/api/me", key=daemon.admin_key)
    text = _metrics(daemon)
    series = {}
    for n, labels, v in _samples(text):
        if n != "rigs_http_request_duration_seconds_bucket":
            continue
        m = re.search(r'le="([^"]+)"', labels)
        assert m, labels
        rest = re.sub(r',?le="[^"]+"', "", labels)
        le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
        series.setdefault(rest, []).append((le, v))
    assert series
    for rest, buckets in series.items():
        buckets.sort()
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), f"buckets not cumulative for {rest}"
        assert buckets[-1][0] == float("inf")


def test_active_sessions_gauge(daemon):
    base = _sum(_metrics(daemon), "rigs_active_sessions")
    cookie = login(daemon, daemon.admin_email, daemon.admin_password)
    up = _sum(_metrics(daemon), "rigs_active_sessions")
    assert up == base + 1, (base, up)
    c = daemon.as_cookie(cookie)
    assert_status(c.post("/api/auth/logout"), 204)
    down = _sum(_metrics(daemon), "rigs_active_sessions")
    assert down == base, (base, up, down)


def test_metrics_do_not_leak_secrets(daemon):
    k = create_key(daemon.admin, ["rigs:instances:read"])
    daemon.req("GET", "/api/me", key=k["key"])
    text = _metrics(daemon)
    assert k["key"] not in text and daemon.admin_key not in text
