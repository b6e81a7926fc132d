"""End-to-end tests of `rig apps add|ls|set|rm` and `rig preview`: manual
pages and usage errors (exit 2, no request), then the whole flow against a
real rigd with a running rig.

Binaries: $RIG_BIN (default <repo>/build/src/rig/rig) and $RIGD_BIN.
"""

import json
import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

from helpers import uniq
from rigutil import rig_api, rig_prereqs  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[2]
RIG_BIN = Path(os.environ.get("RIG_BIN") or REPO_ROOT / "build" / "src" / "rig" / "rig")
FAKE_KEY = "rb_" + "k" * 32
COMMANDS = [["apps"], ["apps", "add"], ["apps", "ls"], ["apps", "set"], ["apps", "rm"],
            ["preview"]]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(tmp_path, url, key):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RIGS_") and not k.startswith("XDG_")}
    env.update(HOME=str(tmp_path), RIGS_URL=url, RIGS_API_KEY=key)
    return env


def run(args, env, timeout=60):
    return subprocess.run([str(RIG_BIN)] + list(args), env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def ok(res):
    assert res.returncode == 0, f"exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p))
def test_help_pages(tmp_path, path):
    env = env_for(tmp_path, "http://127.0.0.1:1", FAKE_KEY)
    for flag in ("--help", "-h"):
        text = ok(run(path + [flag], env)).stdout
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXAMPLES", "EXIT STATUS",
                        "ENVIRONMENT"):
            assert re.search(rf"^{section}$", text, re.M), (path, section, text)
        assert re.search(rf"^\s+rig {' '.join(path)} - ", text, re.M), text
    assert ok(run(["help"] + path, env)).stdout == text
    root = ok(run(["--help"], env)).stdout
    assert re.search(rf"^\s+{path[0]}\s", root, re.M), root


def test_help_documents_options(tmp_path):
    env = env_for(tmp_path, "http://127.0.0.1:1", FAKE_KEY)
    add = ok(run(["apps", "add", "--help"], env)).stdout
    for opt in ("--port", "--visibility", "--allow", "--json"):
        assert opt in add
    assert "--expires" in ok(run(["preview", "--help"], env)).stdout


@pytest.mark.parametrize("args,needle", [
    (["apps", "add", "r", "a"], "--port is required"),
    (["apps", "add", "r"], "missing NAME"),
    (["apps", "add"], "missing RIG"),
    (["apps", "add", "r", "a", "--port", "0"], "invalid --port"),
    (["apps", "add", "r", "a", "--port", "65536"], "invalid --port"),
    (["apps", "add", "r", "a", "--port", "http"], "invalid --port"),
    (["apps", "add", "r", "a", "--port", "80", "--visibility", "secret"],
     "invalid --visibility"),
    (["apps", "add", "r", "a", "b", "--port", "80"], "unexpected argument 'b'"),
    (["apps", "add", "r", "a", "--frob"], "unknown option '--frob'"),
    (["apps", "set", "r", "a"], "nothing to change"),
    (["apps", "set", "r"], "missing NAME"),
    (["apps", "ls"], "missing RIG"),
    (["apps", "ls", "r", "x"], "unexpected argument 'x'"),
    (["apps", "rm", "r"], "missing NAME"),
    (["apps", "frob"], "unknown command 'frob'"),
    (["preview", "r"], "missing APP"),
    (["preview", "r", "a", "--expires", "soon"], "invalid --expires"),
    (["preview", "r", "a", "--expires", "31d"], "invalid --expires"),
])
def test_usage_errors_exit_2(tmp_path, args, needle):
    env = env_for(tmp_path, f"http://127.0.0.1:{free_port()}", FAKE_KEY)
    res = run(args, env)
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert needle in res.stderr, res.stderr
    assert res.stdout == ""


@pytest.fixture(scope="module")
def live(rig_api, tmp_path_factory):
    r = rig_api.create(uniq("cli-apps"))
    env = env_for(tmp_path_factory.mktemp("home"), f"http://127.0.0.1:{rig_api.d.port}",
                  rig_api.key)
    return {"api": rig_api, "rig": r, "env": env}


def test_live_flow(live):
    env, rig = live["env"], live["rig"]["name"]
    name = uniq("cli").lower().replace("_", "-")
    res = ok(run(["apps", "add", rig, name, "--port", "8080"], env))
    url = f"http://{name}.rigs.localhost"
    assert res.stdout == f"Created app {name}: {url}\n", res.stdout
    # the same name again: refused by the server, exit 1
    res = run(["apps", "add", rig, name, "--port", "8081"], env)
    assert res.returncode == 1 and "conflict" in res.stderr, res.stderr

    res = ok(run(["apps", "ls", rig], env))
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["NAME", "PORT", "VISIBILITY", "URL", "ALLOWED"], lines
    assert lines[1].split() == [name, "8080", "private", url, "-"], lines
    items = json.loads(ok(run(["apps", "ls", rig, "--json"], env)).stdout)
    assert [i["name"] for i in items] == [name], items

    res = ok(run(["apps", "set", rig, name, "--visibility", "privileged",
                  "--allow", "Ann@Example.com", "--allow", "bo@x.io", "--json"], env))
    app = json.loads(res.stdout)
    assert app["visibility"] == "privileged", app
    assert app["allowed_emails"] == ["ann@example.com", "bo@x.io"], app
    res = ok(run(["apps", "set", rig, name, "--port", "9000"], env))
    assert re.search(r"^port:\s+9000$", res.stdout, re.M), res.stdout
    assert re.search(r"^visibility:\s+privileged$", res.stdout, re.M), res.stdout

    res = ok(run(["preview", rig, name, "--expires", "2d"], env))
    assert re.fullmatch(re.escape(url) + r"/\?rigs_preview=[a-z0-9]{32}\n", res.stdout), \
        res.stdout
    assert "valid until" in res.stderr
    p = json.loads(ok(run(["preview", rig, name, "--expires", "90s", "--json"], env)).stdout)
    assert set(p) >= {"token", "url", "expires_at"}, p
    # the token works against the API: revoke it
    api = live["api"]
    assert api.req("DELETE", f"/api/previews/{p['token']}").status == 204

    res = run(["preview", rig, "no-such-app"], env)
    assert res.returncode == 1 and "not found" in res.stderr, res.stderr
    res = run(["apps", "ls", "no-such-rig"], env)
    assert res.returncode == 1, res.stderr

    res = ok(run(["apps", "rm", rig, name], env))
    assert res.stdout == f"Deleted app {name}.\n"
    res = run(["apps", "rm", rig, name], env)
    assert res.returncode == 1 and "not found" in res.stderr, res.stderr
    assert ok(run(["apps", "ls", rig, "--json"], env)).stdout.strip() == "[]"
