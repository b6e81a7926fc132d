"""docs/openapi.yaml must match the routes rigd serves, and docs/api.md must cover openapi.yaml.

`rigd routes` prints the daemon's route table, one `METHOD PATH` per line, with path parameters
as `{name}`. These tests fail (they never skip) when the binary is missing or the command fails:
the docs are only trusted when they have been compared with a real route table.

The last tests start a real rigd (temporary data dir, free loopback port), call every documented
operation, successes and errors, and check each answer against openapi.yaml: the status must be
documented for the operation and the JSON body must match its schema, with no undocumented
fields.

Environment:
  RIGD_BIN  path to the rigd binary (default: <repo>/build/src/rigd/rigd)
"""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml

import helpers

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
            # A WebSocket endpoint succeeds with 101 Switching Protocols.
            if not any(c.startswith("2") or c == "101" for c in codes):
                no_error.append(f"{method.upper()} {path}: no 2xx response")
            if op.get("security") != [] and "401" not in codes:
                no_error.append(f"{method.upper()} {path}: authenticated but no 401 response")
    assert not no_error, "\n".join(no_error)


def _refs(node, found):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                found.append(v)
            else:
                _refs(v, found)
    elif isinstance(node, list):
        for v in node:
            _refs(v, found)


def test_openapi_is_well_formed(openapi_doc):
    """Structural checks of OpenAPI 3.0 (Debian 12 ships no spec validator): the
    version, info, every $ref resolves, every operation has responses, every
    path parameter is declared, every parameter names where it lives."""
    doc = openapi_doc
    assert str(doc.get("openapi", "")).startswith("3.0"), doc.get("openapi")
    assert doc.get("info", {}).get("title") and doc["info"].get("version")
    problems = []
    refs = []
    _refs(doc, refs)
    for ref in refs:
        node = doc
        if not ref.startswith("#/"):
            problems.append(f"external $ref {ref}")
            continue
        for part in ref[2:].split("/"):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            problems.append(f"unresolved $ref {ref}")
    methods = {"get", "put", "post", "delete", "patch", "head", "options"}

    def resolve(prm):
        while isinstance(prm, dict) and "$ref" in prm and prm["$ref"].startswith("#/"):
            node = doc
            for part in prm["$ref"][2:].split("/"):
                node = node.get(part, {}) if isinstance(node, dict) else {}
            prm = node
        return prm

    for path, item in (doc.get("paths") or {}).items():
        common = [resolve(p) for p in item.get("parameters", [])]
        for method, op in item.items():
            if method not in methods:
                continue
            if not op.get("responses"):
                problems.append(f"{method.upper()} {path}: no responses")
            params = common + [resolve(p) for p in op.get("parameters", [])]
            for prm in params:
                if not prm.get("name") or prm.get("in") not in {"path", "query", "header", "cookie"}:
                    problems.append(f"{method.upper()} {path}: parameter without name/in: {prm}")
            in_path = {p.get("name") for p in params if p.get("in") == "path"}
            for tmpl in re.findall(r"{([^}]+)}", path):
                if tmpl not in in_path:
                    problems.append(f"{method.upper()} {path}: path parameter {{{tmpl}}} undeclared")
    assert not problems, "\n".join(problems)


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


# --- live answers <-> openapi.yaml schemas -----------------------------------------------------

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
ADMIN_EMAIL = "admin@example.test"
ADMIN_PASSWORD = "openapi-admin-pw"
DEV_EMAIL = "dev@example.test"
DEV_PASSWORD = "openapi-dev-pw"


class SchemaChecker:
    """A small validator for the subset of OpenAPI 3.0 schemas that openapi.yaml uses: $ref,
    allOf, type, nullable, required, properties (responses may not carry undocumented
    properties), items, enum, pattern, minimum/maximum, format date-time."""

    def __init__(self, doc):
        self.doc = doc

    def resolve(self, node):
        seen = 0
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/"), f"external $ref not supported: {ref}"
            node = self.doc
            for part in ref[2:].split("/"):
                node = node[part]
            seen += 1
            assert seen < 50, f"$ref loop at {ref}"
        return node

    def flatten(self, schema):
        """Merge allOf members into one schema (properties and required united)."""
        schema = self.resolve(schema)
        if "allOf" not in schema:
            return schema
        out = {k: v for k, v in schema.items() if k != "allOf"}
        props = dict(out.get("properties") or {})
        required = list(out.get("required") or [])
        for sub in schema["allOf"]:
            sub = self.flatten(sub)
            for k, v in sub.items():
                if k == "properties":
                    props.update(v)
                elif k == "required":
                    required += [r for r in v if r not in required]
                elif k not in out:
                    out[k] = v
        if props:
            out["properties"] = props
        if required:
            out["required"] = required
        return out

    def check(self, schema, value, where="$"):
        errs = []
        self._check(schema, value, where, errs)
        return errs

    def _check(self, schema, value, where, errs):
        s = self.flatten(schema)
        if value is None:
            if not s.get("nullable"):
                errs.append(f"{where}: null is not allowed")
            return
        t = s.get("type") or ("object" if "properties" in s else None)
        types = {
            "object": dict, "array": list, "string": str, "boolean": bool,
            "integer": int, "number": (int, float),
        }
        if t:
            ok = isinstance(value, types[t]) and not (
                t in ("integer", "number") and isinstance(value, bool))
            if not ok:
                errs.append(f"{where}: expected {t}, got {type(value).__name__} {value!r:.60}")
                return
        if "enum" in s and value not in s["enum"]:
            errs.append(f"{where}: {value!r} not in {s['enum']}")
        if isinstance(value, str):
            if "pattern" in s and not re.search(s["pattern"], value):
                errs.append(f"{where}: {value!r} does not match {s['pattern']}")
            if s.get("format") == "date-time" and not RFC3339.match(value):
                errs.append(f"{where}: {value!r} is not an RFC 3339 time")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if "minimum" in s and value < s["minimum"]:
                errs.append(f"{where}: {value} < minimum {s['minimum']}")
            if "maximum" in s and value > s["maximum"]:
                errs.append(f"{where}: {value} > maximum {s['maximum']}")
        if isinstance(value, list) and "items" in s:
            for i, v in enumerate(value):
                self._check(s["items"], v, f"{where}[{i}]", errs)
        if isinstance(value, dict):
            props = s.get("properties") or {}
            for r in s.get("required") or []:
                if r not in value:
                    errs.append(f"{where}: required field {r!r} missing")
            for k, v in value.items():
                if k in props:
                    self._check(props[k], v, f"{where}.{k}", errs)
                elif props and s.get("additionalProperties") is not True:
                    errs.append(f"{where}: field {k!r} is not documented")


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Live:
    """A running rigd and an HTTP client that checks every answer against openapi.yaml."""

    def __init__(self, doc, port, admin_key):
        self.doc = doc
        self.port = port
        self.admin_key = admin_key
        self.checker = SchemaChecker(doc)
        self.covered = set()
        self.problems = []

    def find_op(self, method, path):
        """The openapi operation (template, op) for a concrete path, or (None, None)."""
        path = path.split("?", 1)[0]
        for tmpl, item in (self.doc.get("paths") or {}).items():
            rx = "^" + PARAM_RE.sub(r"[^/]+", re.escape(tmpl).replace(r"\{", "{").replace(
                r"\}", "}")) + "$"
            if re.match(rx, path) and method.lower() in item:
                return tmpl, item[method.lower()]
        return None, None

    def call(self, method, path, body=None, key=None, cookie=None, origin=None, expect=None,
             raw_body=None):
        headers = {}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if cookie:
            headers["Cookie"] = f"rigs_session={cookie}"
        if origin:
            headers["Origin"] = origin
        data = None
        if raw_body is not None:
            data = raw_body
            headers["Content-Type"] = "application/json"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            status, hdrs = resp.status, resp.getheaders()
        finally:
            conn.close()
        ctype = dict((k.lower(), v) for k, v in hdrs).get("content-type", "")
        parsed = None
        if raw and ctype.startswith("application/json"):
            parsed = json.loads(raw)
        label = f"{method} {path}"
        if expect is not None and status != expect:
            self.problems.append(f"{label}: expected {expect}, got {status} {raw[:200]!r}")
        tmpl, op = self.find_op(method, path)
        if op is None:
            # Not a documented operation: only an error answer is acceptable, in the Error shape.
            if status < 400:
                self.problems.append(f"{label}: answered {status} but is not in openapi.yaml")
            elif parsed is not None:
                for e in self.checker.check({"$ref": "#/components/schemas/Error"}, parsed):
                    self.problems.append(f"{label} -> {status}: {e}")
            return status, hdrs, parsed, raw
        self.covered.add((method.upper(), normalise(tmpl)))
        responses = op.get("responses") or {}
        spec = responses.get(str(status)) or responses.get("default")
        if spec is None:
            self.problems.append(
                f"{label}: status {status} is not documented for {method} {tmpl} "
                f"(documented: {sorted(responses)}); body {raw[:200]!r}")
            return status, hdrs, parsed, raw
        spec = self.checker.resolve(spec)
        content = spec.get("content") or {}
        if not content:
            if raw:
                self.problems.append(f"{label} -> {status}: documented without a body, got {raw[:100]!r}")
        elif "application/json" in content and (
                ctype.startswith("application/json") or not any(
                    ctype.startswith(m) for m in content)):
            # The reply's own Content-Type picks the documented media type (file downloads and
            # NDJSON exec streams are not JSON documents).
            if parsed is None:
                self.problems.append(f"{label} -> {status}: expected JSON, got {ctype!r} {raw[:100]!r}")
            else:
                schema = content["application/json"].get("schema") or {}
                for e in self.checker.check(schema, parsed):
                    self.problems.append(f"{label} -> {status}: {e}")
        else:
            media = next((m for m in content if ctype.startswith(m)), next(iter(content)))
            if not ctype.startswith(media):
                self.problems.append(f"{label} -> {status}: content type {ctype!r}, documented {media!r}")
        return status, hdrs, parsed, raw


def _cookie_from(hdrs):
    for k, v in hdrs:
        if k.lower() == "set-cookie" and v.startswith("rigs_session="):
            return v.split(";", 1)[0].split("=", 1)[1]
    return None


@pytest.fixture(scope="module")
def live(tmp_path_factory, openapi_doc):
    if not RIGD_BIN.exists():
        pytest.fail(f"rigd binary not found at {RIGD_BIN}: build it or set RIGD_BIN")
    tmp = tmp_path_factory.mktemp("openapi-live")
    data = tmp / "data"
    pwfile = tmp / "password"
    pwfile.write_text(ADMIN_PASSWORD + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGS_")}
    init = subprocess.run(
        [str(RIGD_BIN), "init", "--data-dir", str(data), "--email", ADMIN_EMAIL,
         "--password-file", str(pwfile)],
        capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)
    if init.returncode != 0:
        pytest.fail(f"rigd init failed ({init.returncode}): {init.stderr}")
    key = [ln for ln in init.stdout.splitlines() if ln.strip()][-1].strip()
    port = _free_port()
    args = [str(RIGD_BIN), "serve", "--data-dir", str(data), "--listen", f"127.0.0.1:{port}"]
    for cls in ("auth", "rigs", "apps", "other"):
        args += ["--rate-limit", f"{cls}=0"]
    help_text = subprocess.run([str(RIGD_BIN), "--help"], capture_output=True, text=True,
                               timeout=10, env=env).stdout
    for flag in ("--apps-listen", "--ssh-listen"):  # keep edges off their fixed default ports
        if flag in help_text:
            args += [flag, f"127.0.0.1:{_free_port()}"]
    args += helpers.rig_net_args(RIGD_BIN)  # a bridge and subnet of its own
    log = open(tmp / "rigd.log", "wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env,
                            stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                pytest.fail(f"rigd serve exited {proc.returncode}: "
                            f"{(tmp / 'rigd.log').read_text(errors='replace')[-2000:]}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    c.close()
                    break
                c.close()
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("rigd serve did not answer /healthz within 20 s")
            time.sleep(0.05)
        yield Live(openapi_doc, port, key)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_live_answers_match_openapi(live):
    """Call every documented operation (successes and the documented errors) and check the
    status and body of each answer against openapi.yaml."""
    L = live
    K = L.admin_key
    origin = f"http://127.0.0.1:{L.port}"

    # health, metrics, identity
    L.call("GET", "/healthz", expect=200)
    L.call("GET", "/metrics", expect=200)
    L.call("GET", "/api/me", key=K, expect=200)
    L.call("GET", "/api/me", expect=401)
    L.call("GET", "/api/me", key="rb_" + "0" * 32, expect=401)
    L.call("PUT", "/api/me", key=K, expect=405)
    L.call("GET", "/api/no-such-endpoint", key=K, expect=404)

    # sessions
    st, h, _, _ = L.call("POST", "/api/auth/login",
                         {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}, expect=200)
    admin_cookie = _cookie_from(h)
    assert admin_cookie, f"login set no rigs_session cookie: {h}"
    L.call("POST", "/api/auth/login", {"email": ADMIN_EMAIL, "password": "wrong-password"},
           expect=401)
    L.call("POST", "/api/auth/login", {"email": 5}, expect=400)
    L.call("GET", "/api/me", cookie=admin_cookie, expect=200)

    # users
    st, _, dev, _ = L.call("POST", "/api/users", {"email": DEV_EMAIL, "password": DEV_PASSWORD,
                                                  "role": "member", "name": "Dev"},
                           key=K, expect=201)
    dev_id = (dev or {}).get("id", "usr_missing")
    L.call("POST", "/api/users", {"email": DEV_EMAIL, "password": DEV_PASSWORD,
                                  "role": "member"}, key=K, expect=409)
    L.call("POST", "/api/users", {"email": "x@example.test", "password": "long-enough",
                                  "role": "owner"}, key=K, expect=400)
    L.call("POST", "/api/users", raw_body=b"{not json", key=K, expect=400)
    L.call("POST", "/api/users", raw_body=b'{"pad": "' + b"x" * (1 << 20) + b'"}', key=K,
           expect=413)
    L.call("GET", "/api/users", key=K, expect=200)
    L.call("GET", "/api/users?limit=1", key=K, expect=200)
    L.call("GET", "/api/users?limit=0", key=K, expect=400)
    L.call("GET", "/api/users?cursor=bogus", key=K, expect=400)

    # a member's session: forbidden things
    st, h, _, _ = L.call("POST", "/api/auth/login",
                         {"email": DEV_EMAIL, "password": DEV_PASSWORD}, expect=200)
    dev_cookie = _cookie_from(h)
    L.call("GET", "/api/users", cookie=dev_cookie, expect=403)
    L.call("POST", "/api/keys", {"name": "too-much", "scopes": ["rigs:admin"]},
           cookie=dev_cookie, origin=origin, expect=403)
    L.call("POST", "/api/keys", {"name": "no-origin", "scopes": ["rigs:instances:read"]},
           cookie=dev_cookie, expect=403)
    L.call("GET", "/api/audit", cookie=dev_cookie, expect=403)
    L.call("POST", "/api/orgs/default/projects", {"name": "nope"}, cookie=dev_cookie,
           origin=origin, expect=403)

    # orgs
    st, _, org, _ = L.call("POST", "/api/orgs", {"name": "openapi-org"}, key=K, expect=201)
    L.call("POST", "/api/orgs", {"name": "openapi-org"}, key=K, expect=409)
    L.call("POST", "/api/orgs", {"name": "Bad Name"}, key=K, expect=400)
    L.call("GET", "/api/orgs", key=K, expect=200)

    # projects
    L.call("POST", "/api/orgs/default/projects", {"name": "web"}, key=K, expect=201)
    L.call("POST", "/api/orgs/default/projects", {"name": "web"}, key=K, expect=409)
    L.call("GET", "/api/orgs/default/projects", key=K, expect=200)
    L.call("GET", "/api/orgs/org_doesnotexist0000000/projects", key=K, expect=404)

    # members
    L.call("POST", "/api/orgs/openapi-org/members", {"user": DEV_EMAIL, "role": "member"},
           key=K, expect=201)
    L.call("POST", "/api/orgs/openapi-org/members", {"user": dev_id, "role": "admin"},
           key=K, expect=200)
    L.call("POST", "/api/orgs/openapi-org/members", {"user": "nobody@example.test",
                                                     "role": "member"}, key=K, expect=404)
    L.call("GET", "/api/orgs/openapi-org/members", key=K, expect=200)
    L.call("DELETE", f"/api/orgs/openapi-org/members/{dev_id}", key=K, expect=204)
    st, _, me, _ = L.call("GET", "/api/me", key=K)
    admin_id = (me or {}).get("principal", {}).get("id", "usr_missing")
    L.call("DELETE", f"/api/orgs/default/members/{admin_id}", key=K, expect=409)

    # session org switch
    L.call("POST", "/api/auth/switch", {"org": "openapi-org"}, cookie=admin_cookie,
           origin=origin, expect=200)
    L.call("POST", "/api/auth/switch", {"org": "default"}, key=K, expect=403)
    L.call("POST", "/api/auth/switch", {"org": "no-such-org"}, cookie=admin_cookie,
           origin=origin, expect=404)

    # keys
    st, _, k, _ = L.call("POST", "/api/keys", {"name": "ci", "scopes": ["rigs:instances:read"],
                                               "project": "default", "expires_in_s": 3600},
                         key=K, expect=201)
    kid = (k or {}).get("id", "key_missing")
    L.call("POST", "/api/keys", {"name": "ci", "scopes": ["rigs:nope"]}, key=K, expect=400)
    L.call("POST", "/api/keys", {"name": "ci", "scopes": [], "project": "no-such-project"},
           key=K, expect=404)
    L.call("GET", "/api/keys", key=K, expect=200)
    st, _, rot, _ = L.call("POST", f"/api/keys/{kid}/rotate", key=K, expect=200)
    if k and rot:
        L.call("GET", "/api/me", key=k["key"], expect=401)
        L.call("GET", "/api/me", key=rot["key"], expect=200)
        L.call("POST", "/api/keys", {"name": "x", "scopes": []}, key=rot["key"], expect=403)
        L.call("POST", "/api/orgs", {"name": "from-bound-key"}, key=rot["key"], expect=403)
    L.call("DELETE", f"/api/keys/{kid}", key=K, expect=204)
    L.call("DELETE", f"/api/keys/{kid}", key=K, expect=404)
    L.call("POST", f"/api/keys/{kid}/rotate", key=K, expect=404)

    # rigs (needs root and the base template; CI builds both)
    st, _, rig, _ = L.call("POST", "/api/rigs", {"name": "doc-rig", "resources": {"memory_mb": 128}},
                           key=K, expect=201)
    L.call("POST", "/api/rigs", {"name": "doc-rig"}, key=K, expect=409)
    L.call("POST", "/api/rigs", {"name": "Bad Name"}, key=K, expect=400)
    L.call("POST", "/api/rigs", {"name": "x", "resources": {"cpus": 1000}}, key=K, expect=400)
    L.call("GET", "/api/rigs", key=K, expect=200)
    L.call("GET", "/api/rigs/doc-rig", key=K, expect=200)
    L.call("GET", "/api/rigs/rig_doesnotexist00000000", key=K, expect=404)
    L.call("POST", "/api/rigs/doc-rig/exec", {"cmd": ["sh", "-c", "echo hi; echo err >&2"]},
           key=K, expect=200)
    L.call("POST", "/api/rigs/doc-rig/exec", {"cmd": "not-a-list"}, key=K, expect=400)
    L.call("PUT", "/api/rigs/doc-rig/files?path=/home/user/doc.txt", raw_body=b"hello", key=K,
           expect=200)
    L.call("GET", "/api/rigs/doc-rig/files?path=/home/user/doc.txt", key=K, expect=200)
    L.call("GET", "/api/rigs/doc-rig/files?path=/home/user", key=K, expect=200)
    L.call("GET", "/api/rigs/doc-rig/files?path=/proc/1/environ", key=K, expect=400)
    L.call("GET", "/api/rigs/doc-rig/files?path=/home/user/missing", key=K, expect=404)
    L.call("DELETE", "/api/rigs/doc-rig/files?path=/home/user/doc.txt", key=K, expect=204)
    L.call("PATCH", "/api/rigs/doc-rig",
           {"network": {"egress": {"allow": ["192.0.2.0/24"]}, "loopback_exempt_ports": [5432]}},
           key=K, expect=200)
    L.call("PATCH", "/api/rigs/doc-rig", {"network": {"egress": "everywhere"}}, key=K, expect=400)
    L.call("PATCH", "/api/rigs/doc-rig", {"name": "renamed"}, key=K, expect=400)
    st, _, cred, _ = L.call("POST", "/api/rigs/doc-rig/credentials", {"ttl_s": 60}, key=K,
                            expect=201)
    L.call("POST", "/api/rigs/doc-rig/credentials", {"ttl_s": 901}, key=K, expect=400)
    L.call("POST", "/api/rigs/rig_doesnotexist00000000/credentials", key=K, expect=404)
    # terminals: the upgrades themselves are tested in test_pty.py (http.client speaks no
    # WebSocket); here the documented refusals and the session list
    L.call("GET", "/api/rigs/doc-rig/pty?cols=80&rows=24", key=K, expect=400)
    L.call("GET", "/api/rigs/doc-rig/pty", expect=401)
    L.call("GET", "/api/rigs/rig_doesnotexist00000000/pty", key=K, expect=404)
    L.call("GET", "/api/rigs/doc-rig/sessions", key=K, expect=200)
    L.call("GET", "/api/rigs/doc-rig/sessions/pty_nosuchsession0000000/attach?mode=control",
           key=K, expect=400)
    L.call("GET", "/api/rigs/doc-rig/sessions/pty_x/attach?mode=steal", key=K, expect=400)
    if cred:
        L.call("GET", "/api/rigs/doc-rig", key=cred["token"], expect=200)
        L.call("GET", "/api/users", key=cred["token"], expect=403)
        L.call("POST", "/api/rigs/doc-rig/credentials", key=cred["token"], expect=403)
    # apps and previews
    L.call("POST", "/api/rigs/doc-rig/apps", {"name": "doc-app", "port": 8080,
                                              "visibility": "privileged",
                                              "allowed_emails": ["Ann@Example.com"]},
           key=K, expect=201)
    L.call("POST", "/api/rigs/doc-rig/apps", {"name": "doc-app", "port": 8080}, key=K,
           expect=409)
    L.call("POST", "/api/rigs/doc-rig/apps", {"name": "Bad App", "port": 8080}, key=K,
           expect=400)
    L.call("POST", "/api/rigs/rig_doesnotexist00000000/apps", {"name": "x", "port": 1}, key=K,
           expect=404)
    L.call("GET", "/api/rigs/doc-rig/apps", key=K, expect=200)
    L.call("GET", "/api/rigs/doc-rig/apps?limit=0", key=K, expect=400)
    L.call("GET", "/api/rigs/doc-rig/apps/doc-app", key=K, expect=200)
    L.call("GET", "/api/rigs/doc-rig/apps/no-such-app", key=K, expect=404)
    # the browser sign-in for apps: a form when signed out, a code back to the app when in
    L.call("GET", "/api/auth/app-login?app=doc-app&next=/x", expect=200)
    L.call("GET", "/api/auth/app-login?app=doc-app&next=/x", cookie=admin_cookie, expect=302)
    L.call("GET", "/api/auth/app-login?app=no-such-app", expect=404)
    L.call("PATCH", "/api/rigs/doc-rig/apps/doc-app", {"visibility": "public", "port": 8081},
           key=K, expect=200)
    L.call("PATCH", "/api/rigs/doc-rig/apps/doc-app", {"name": "renamed"}, key=K, expect=400)
    L.call("PATCH", "/api/rigs/doc-rig/apps/no-such-app", {"port": 1}, key=K, expect=404)
    st, _, pv, _ = L.call("POST", "/api/rigs/doc-rig/apps/doc-app/previews",
                          {"expires_in_s": 600}, key=K, expect=201)
    L.call("POST", "/api/rigs/doc-rig/apps/doc-app/previews", {"expires_in_s": 0}, key=K,
           expect=400)
    L.call("POST", "/api/rigs/doc-rig/apps/no-such-app/previews", key=K, expect=404)
    if pv:
        L.call("DELETE", f"/api/previews/{pv['token']}", key=K, expect=204)
        L.call("DELETE", f"/api/previews/{pv['token']}", key=K, expect=404)
    if cred:
        L.call("DELETE", "/api/previews/" + "a" * 32, key=cred["token"], expect=403)
    L.call("DELETE", "/api/rigs/doc-rig/apps/doc-app", key=K, expect=204)
    L.call("DELETE", "/api/rigs/doc-rig/apps/doc-app", key=K, expect=404)
    L.call("PATCH", "/api/rigs/doc-rig", {"auto_sleep_s": 3600}, key=K, expect=200)
    L.call("PATCH", "/api/rigs/doc-rig", {"auto_sleep_s": 5}, key=K, expect=400)
    L.call("PATCH", "/api/rigs/doc-rig", {"auto_sleep_s": 0}, key=K, expect=200)

    L.call("POST", "/api/rigs/doc-rig/pause", key=K, expect=200)
    L.call("POST", "/api/rigs/doc-rig/exec", {"cmd": ["true"]}, key=K, expect=409)
    L.call("POST", "/api/rigs/doc-rig/resume", key=K, expect=200)
    L.call("POST", "/api/rigs/doc-rig/restart", key=K, expect=200)
    L.call("POST", "/api/rigs/doc-rig/stop", key=K, expect=200)
    L.call("POST", "/api/rigs/doc-rig/stop", key=K, expect=409)
    L.call("POST", "/api/rigs/doc-rig/start", key=K, expect=200)
    L.call("DELETE", "/api/rigs/doc-rig", key=K, expect=204)
    L.call("DELETE", "/api/rigs/doc-rig", key=K, expect=404)

    # audit
    L.call("GET", "/api/audit", key=K, expect=200)
    L.call("GET", "/api/audit?since=2000-01-01T00:00:00Z&action=key.create&limit=2", key=K,
           expect=200)
    L.call("GET", "/api/audit?since=yesterday", key=K, expect=400)

    # logout last (it ends the session)
    L.call("POST", "/api/auth/logout", cookie=admin_cookie, expect=403)  # no Origin
    L.call("POST", "/api/auth/logout", cookie=admin_cookie, origin=origin, expect=204)
    L.call("GET", "/api/me", cookie=admin_cookie, expect=401)
    L.call("POST", "/api/auth/logout", key=K, expect=204)
    L.call("POST", "/api/auth/logout", expect=401)

    documented, _ = openapi_operations(L.doc)
    missed = sorted(label for key, label in documented.items() if key not in L.covered)
    if missed:
        L.problems.append("documented operation(s) this test never called (add them above): "
                          + ", ".join(missed))
    assert not L.problems, (
        f"{len(L.problems)} answer(s) disagree with docs/openapi.yaml:\n  "
        + "\n  ".join(L.problems))

