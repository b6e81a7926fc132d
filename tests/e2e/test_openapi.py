"""docs/openapi.yaml must match the routes rigd serves, and docs/api.md must cover openapi.yaml.

`rigd routes` prints the daemon's route table, one `METHOD PATH` per line, with path parameters
as `{name}`. These tests fail (they never skip) when the binary is missing or the command fails:
the docs are only trusted when they have been compared with a real route table.

Environment:
  RIGD_BIN  path to the rigd binary (default: <repo>/build/src/rigd/rigd)
"""

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RIGD_BIN = Path(os.environ.get("RIGD_BIN", REPO / "build" / "src" / "rigd" / "rigd"))
OPENAPI = REPO / "docs" / "openapi.yaml"
API_MD = REPO / "docs" / "api.md"

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PLANNED = "planned"
PARAM_RE = re.compile(r"\{[^{}/]*\}")


def normalise(path):
    """A path template with every `{param}` replaced by `{}`: `/a/{x}/b` == `/a/{y}/b`."""
    path = path.strip()
    if len(path) > 1:
        path = path.rstrip("/")
    return PARAM_RE.sub("{}", path)


def parse_routes(text):
    """Parse `rigd routes` output into {(METHOD, normalised path): original line}.

    Blank lines and lines starting with `#` are ignored; extra columns after the path (if the
    daemon ever prints, say, the scope) are ignored too. Malformed lines raise ValueError.
    """
    routes = {}
    bad = []
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        parts = s.split()
        if len(parts) < 2 or not parts[0].isalpha() or not parts[1].startswith("/"):
            bad.append(line)
            continue
        routes[(parts[0].upper(), normalise(parts[1]))] = f"{parts[0].upper()} {parts[1]}"
    if bad:
        raise ValueError("malformed `rigd routes` lines:\n  " + "\n  ".join(bad))
    return routes


def openapi_operations(doc):
    """Return ({(METHOD, normalised path): label}, {same for planned operations}).

    An operation is planned when it, or its path item, has `x-rigs-status: planned`.
    """
    served, planned = {}, {}
    for path, item in (doc.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        path_planned = item.get("x-rigs-status") == PLANNED
        for method in HTTP_METHODS:
            op = item.get(method)
            if op is None:
                continue
            key = (method.upper(), normalise(path))
            label = f"{method.upper()} {path}"
            if path_planned or (isinstance(op, dict) and op.get("x-rigs-status") == PLANNED):
                planned[key] = label
            else:
                served[key] = label
    return served, planned


def path_pattern(path):
    """A regex matching `path` in prose, with any parameter name in each `{...}` slot."""
    out = []
    pos = 0
    for m in PARAM_RE.finditer(path):
        out.append(re.escape(path[pos:m.start()]))
        out.append(r"\{[^{}/\s]+\}")
        pos = m.end()
    out.append(re.escape(path[pos:]))
    # Not followed by more path (so `/api/keys` is not satisfied by `/api/keys/{id}` alone).
    return re.compile("".join(out) + r"(?![A-Za-z0-9_{/-])")


@pytest.fixture(scope="module")
def openapi_doc():
    with open(OPENAPI, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    assert isinstance(doc, dict), f"{OPENAPI} is not a YAML mapping"
    return doc


@pytest.fixture(scope="module")
def served_routes():
    if not RIGD_BIN.exists():
        pytest.fail(
            f"rigd binary not found at {RIGD_BIN}: build it (meson setup build && ninja -C build) "
            "or set RIGD_BIN"
        )
    try:
        proc = subprocess.run(
            [str(RIGD_BIN), "routes"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{RIGD_BIN} routes` did not finish within 30 s")
    if proc.returncode != 0:
        pytest.fail(
            f"`{RIGD_BIN} routes` exited {proc.returncode}\nstdout:\n{proc.stdout}\n"
            f"stderr:\n{proc.stderr}"
        )
    try:
        routes = parse_routes(proc.stdout)
    except ValueError as e:
        pytest.fail(str(e))
    if not routes:
        pytest.fail(f"`{RIGD_BIN} routes` printed no routes:\n{proc.stdout}{proc.stderr}")
    return routes


# --- the helpers themselves --------------------------------------------------------------------


def test_normalise_and_parse():
    assert normalise("/api/keys/{id}") == normalise("/api/keys/{key}") == "/api/keys/{}"
    assert normalise("/api/orgs/{org}/members/{user}") == "/api/orgs/{}/members/{}"
    assert normalise("/api/me/") == "/api/me"
    routes = parse_routes("GET /healthz\n\n# comment\ndelete /api/keys/{id}  extra\n")
    assert set(routes) == {("GET", "/healthz"), ("DELETE", "/api/keys/{}")}
    with pytest.raises(ValueError):
        parse_routes("GET\n")
    assert path_pattern("/api/keys/{id}").search("see `DELETE /api/keys/{key}`.")
    assert not path_pattern("/api/keys").search("only /api/keys/{id} here")
    assert path_pattern("/api/keys").search("`GET /api/keys` lists")
    assert path_pattern("/api/keys").search("GET /api/keys?limit=5")


# --- openapi.yaml itself -----------------------------------------------------------------------


REQUIRED_SCHEMAS = (
    "Error", "Me", "Principal", "Org", "Project", "Member", "User", "Key", "KeyCreated",
    "AuditEntry", "UserList", "OrgList", "ProjectList", "MemberList", "KeyList", "AuditList",
)


def test_openapi_shape(openapi_doc):
    assert str(openapi_doc.get("openapi")) == "3.0.3"
    comps = openapi_doc.get("components") or {}
    missing = [s for s in REQUIRED_SCHEMAS if s not in (comps.get("schemas") or {})]
    assert not missing, f"components/schemas lacks {missing}"
    schemes = comps.get("securitySchemes") or {}
    assert schemes.get("bearer", {}).get("scheme") == "bearer"
    assert schemes.get("cookie", {}).get("in") == "cookie"
    assert schemes.get("cookie", {}).get("name") == "rigs_session"
    # Every operation documents its error responses with the Error shape.
    served, _ = openapi_operations(openapi_doc)
    assert served, "openapi.yaml documents no served operation"
    no_error = []
    for path, item in openapi_doc["paths"].items():
        for method in HTTP_METHODS:
            op = item.get(method)
            if op is None:
                continue
            codes = [str(c) for c in (op.get("responses") or {})]
            if not any(c.startswith("2") for c in codes):
                no_error.append(f"{method.upper()} {path}: no 2xx response")
            if op.get("security") != [] and "401" not in codes:
                no_error.append(f"{method.upper()} {path}: authenticated but no 401 response")
    assert not no_error, "\n".join(no_error)


def test_openapi_validates(openapi_doc):
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(openapi_doc)


# --- rigd routes <-> openapi.yaml <-> api.md ---------------------------------------------------


def test_served_routes_are_documented(served_routes, openapi_doc):
    documented, planned = openapi_operations(openapi_doc)
    missing = sorted(line for key, line in served_routes.items() if key not in documented)
    still_planned = sorted(
        f"{line} (openapi: {planned[key]})"
        for key, line in served_routes.items()
        if key in planned and key not in documented
    )
    msg = []
    if missing:
        msg.append(
            f"{len(missing)} route(s) served by rigd but missing from docs/openapi.yaml paths:\n  "
            + "\n  ".join(missing)
        )
    if still_planned:
        msg.append(
            "served route(s) still marked `x-rigs-status: planned` in docs/openapi.yaml:\n  "
            + "\n  ".join(still_planned)
        )
    assert not msg, "\n".join(msg)


def test_documented_routes_are_served(served_routes, openapi_doc):
    documented, _ = openapi_operations(openapi_doc)
    extra = sorted(label for key, label in documented.items() if key not in served_routes)
    assert not extra, (
        f"{len(extra)} operation(s) documented as served in docs/openapi.yaml but not listed by "
        "`rigd routes` (remove them or mark them `x-rigs-status: planned`):\n  "
        + "\n  ".join(extra)
    )


def test_openapi_paths_in_api_md(openapi_doc):
    text = API_MD.read_text(encoding="utf-8")
    absent = sorted(p for p in (openapi_doc.get("paths") or {}) if not path_pattern(p).search(text))
    assert not absent, "docs/openapi.yaml path(s) not mentioned in docs/api.md:\n  " + "\n  ".join(
        absent
    )
