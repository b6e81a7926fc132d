"""POST /api/rigs/{id}/exec through a real rigd: buffered and NDJSON answers,
exit codes, stdin, env, cwd, users, timeouts, background processes,
concurrency, output caps and non-UTF-8 output.

Contract: shared/API.md "Rigs" (exec) and "Details pinned down / Rigs";
served behaviour: docs/api.md "Exec".
"""

import json
import threading
import time

import pytest

from helpers import assert_error, uniq
from rigutil import (MIB, rig_api, rig_prereqs,  # noqa: F401
                     tmp_path)

CAP = 16 * MIB


@pytest.fixture(scope="module")
def rig(rig_api):
    r = rig_api.create(uniq("exec"), env={"RIG_VAR": "from-rig", "OVER": "rig"})
    return r["id"]


def test_stdout_stderr_and_exit_code(rig_api, rig):
    b = rig_api.exec(rig, ["bash", "-c", "echo out; echo err >&2; echo out2; exit 7"])
    assert b["exit_code"] == 7, b
    assert b["stdout"] == "out\nout2\n", b
    assert b["stderr"] == "err\n", b
    assert b["timed_out"] is False
    assert isinstance(b["duration_ms"], int) and 0 <= b["duration_ms"] < 60000, b
    assert "truncated" not in b or b["truncated"] is False, b
    b = rig_api.exec(rig, ["true"])
    assert (b["exit_code"], b["stdout"], b["stderr"]) == (0, "", ""), b
    b = rig_api.exec(rig, ["false"])
    assert b["exit_code"] == 1, b


def test_signal_exit_code(rig_api, rig):
    b = rig_api.exec(rig, ["sh", "-c", "kill -9 $$"])
    assert b["exit_code"] == 137, b
    b = rig_api.exec(rig, ["sh", "-c", "kill -TERM $$"])
    assert b["exit_code"] == 143, b


def test_stdin(rig_api, rig):
    text = "line one\nline two ünïcødé\n" * 100
    b = rig_api.exec(rig, ["cat"], stdin=text)
    assert b["stdout"] == text and b["exit_code"] == 0
    b = rig_api.exec(rig, ["wc", "-l"], stdin="a\nb\nc\n")
    assert b["stdout"].strip() == "3"
    # no stdin: an empty, closed standard input (cat ends at once)
    b = rig_api.exec(rig, ["cat"], timeout=10)
    assert (b["stdout"], b["timed_out"], b["exit_code"]) == ("", False, 0), b
    assert_error(rig_api.exec_raw(rig, ["cat"], stdin=5), 400, "invalid_request")


def test_env(rig_api, rig):
    b = rig_api.exec(rig, ["sh", "-c", 'echo "$X|$OVER|$RIG_VAR|$HOME|$LANG|$SHELL|$USER"'],
                     env={"X": "1", "OVER": "exec"})
    assert b["stdout"] == "1|exec|from-rig|/home/user|C.UTF-8|/bin/bash|user\n", b
    b = rig_api.exec(rig, ["sh", "-c", 'echo "$OVER"'])
    assert b["stdout"] == "rig\n", b
    path = rig_api.ok(rig, 'echo "$PATH"')
    assert "/usr/bin" in path and "/bin" in path, path
    for bad in ({"1X": "a"}, {"A-B": "a"}, {"A": 1}, ["A=1"]):
        assert_error(rig_api.exec_raw(rig, ["true"], env=bad), 400, "invalid_request")


def test_cwd(rig_api, rig):
    assert rig_api.exec(rig, ["pwd"])["stdout"] == "/home/user\n"
    assert rig_api.exec(rig, ["pwd"], cwd="/tmp")["stdout"] == "/tmp\n"
    assert rig_api.exec(rig, ["pwd"], cwd="/", user="root")["stdout"] == "/\n"
    r = rig_api.exec_raw(rig, ["pwd"], cwd="/no/such/dir")
    assert_error(r, 400, "invalid_request")
    r = rig_api.exec_raw(rig, ["pwd"], cwd="tmp")
    assert_error(r, 400, "invalid_request")


def test_users(rig_api, rig):
    b = rig_api.exec(rig, ["sh", "-c", "id -u; id -g; id -un; echo $HOME"])
    assert b["stdout"] == "1000\n1000\nuser\n/home/user\n", b
    b = rig_api.exec(rig, ["sh", "-c", "id -u; id -un"], user="root")
    assert b["stdout"] == "0\nroot\n", b
    b = rig_api.exec(rig, ["sh", "-c", "id -u"], user="user")
    assert b["stdout"] == "1000\n", b
    # the default user cannot write where root can
    b = rig_api.exec(rig, ["sh", "-c", "touch /etc/x-user 2>&1; echo $?"])
    assert b["stdout"].strip().endswith("1"), b
    assert_error(rig_api.exec_raw(rig, ["id"], user="admin"), 400, "invalid_request")


@pytest.mark.parametrize("body", [
    {},
    {"cmd": []},
    {"cmd": "ls -l"},
    {"cmd": ["ls", 5]},
    {"cmd": ["true"], "timeout_s": 0},
    {"cmd": ["true"], "timeout_s": 86401},
    {"cmd": ["true"], "timeout_s": "5"},
    {"cmd": ["/no/such/command"]},
    {"cmd": ["no-such-command-xyz"]},
], ids=["no cmd", "empty cmd", "cmd string", "cmd not strings", "timeout 0",
        "timeout too long", "timeout string", "missing path", "missing in PATH"])
def test_bad_requests(rig_api, rig, body):
    r = rig_api.req("POST", f"/api/rigs/{rig}/exec", body=body)
    assert_error(r, 400, "invalid_request")


def test_timeout_kills_every_process(rig_api, rig):
    t0 = time.monotonic()
    b = rig_api.exec(rig, ["sh", "-c", "sleep 101 & sleep 102"], timeout=1)
    took = time.monotonic() - t0
    assert b["timed_out"] is True, b
    assert b["exit_code"] == 137, b
    assert took < 10, f"timeout_s=1 answered after {took:.1f} s"
    ps = rig_api.ok(rig, "sleep 0.3; ps -eo args", user="root")
    assert "sleep 101" not in ps and "sleep 102" not in ps, \
        f"processes of a timed-out exec survive:\n{ps}"


def test_timeout_kills_a_process_that_left_the_session(rig_api, rig):
    b = rig_api.exec(rig, ["sh", "-c", "setsid sh -c 'sleep 103' & sleep 104"],
                     timeout=1)
    assert b["timed_out"] is True, b
    ps = rig_api.ok(rig, "sleep 0.3; ps -eo args", user="root")
    assert "sleep 103" not in ps and "sleep 104" not in ps, \
        f"processes of a timed-out exec survive:\n{ps}"


def test_background_process_keeps_running(rig_api, rig):
    t0 = time.monotonic()
    b = rig_api.exec(rig, ["sh", "-c", "sleep 301 >/dev/null 2>&1 &"], timeout=30)
    assert b["exit_code"] == 0 and b["timed_out"] is False, b
    assert time.monotonic() - t0 < 20, "exec waited for its background process"
    ps = rig_api.ok(rig, "ps -eo args")
    assert "sleep 301" in ps, f"a background process died with its exec:\n{ps}"
    time.sleep(1)
    ps = rig_api.ok(rig, "ps -eo args")
    assert "sleep 301" in ps, f"a background process died later:\n{ps}"
    rig_api.ok(rig, "pkill -f '^sleep 301' || true")


def test_several_execs_at_once(rig_api, rig):
    """Six execs meet at a barrier inside the rig: if exec ran one at a time
    they would all time out."""
    n = 6
    rig_api.ok(rig, "rm -rf /tmp/barrier && mkdir /tmp/barrier")
    results = [None] * n

    def run(i):
        try:
            results[i] = rig_api.exec(
                rig, ["sh", "-c",
                      f"touch /tmp/barrier/{i}; "
                      f"while [ $(ls /tmp/barrier | wc -l) -lt {n} ]; do sleep 0.05; done; "
                      f"echo done-{i}"], timeout=30)
        except BaseException as e:  # noqa: BLE001 - reported below
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for i, b in enumerate(results):
        assert isinstance(b, dict), f"exec {i}: {b!r}"
        assert (b["exit_code"], b["timed_out"], b["stdout"]) == (0, False, f"done-{i}\n"), b


def test_buffered_output_is_capped_at_16_mib(rig_api, rig):
    b = rig_api.exec(rig, ["sh", "-c",
                           "head -c 20971520 /dev/zero | tr '\\0' a; echo tail >&2"],
                     timeout=120)
    assert b["exit_code"] == 0, {k: v for k, v in b.items() if k not in ("stdout",)}
    assert b.get("truncated") is True, {k: v for k, v in b.items() if k != "stdout"}
    assert len(b["stdout"]) == CAP, len(b["stdout"])
    assert b["stdout"] == "a" * CAP
    assert b["stderr"] == "tail\n", b["stderr"][:200]
    # under the cap: complete, no truncated flag
    b = rig_api.exec(rig, ["sh", "-c", "head -c 1048576 /dev/zero | tr '\\0' b"])
    assert len(b["stdout"]) == MIB and not b.get("truncated"), \
        {k: v for k, v in b.items() if k != "stdout"}


def _stream(rig_api, rig, body):
    status, headers, lines = rig_api.exec_stream(rig, body)
    assert status == 200, f"{status} {lines[:1]!r}\n{rig_api.diag(rig)}"
    ctype = (headers.get("Content-Type") or "").split(";")[0].strip()
    assert ctype == "application/x-ndjson", ctype
    objs = []
    for i, ln in enumerate(lines):
        assert ln.endswith(b"\n"), f"line {i} is not newline-terminated: {ln[:200]!r}"
        try:
            objs.append(json.loads(ln))
        except ValueError as e:
            raise AssertionError(f"line {i} is not JSON ({e}): {ln[:200]!r}")
    assert objs, "empty stream"
    for o in objs[:-1]:
        assert set(o) == {"stream", "data"} and o["stream"] in ("stdout", "stderr"), o
        assert isinstance(o["data"], str) and o["data"], o
    return objs


def test_ndjson_stream_is_complete_and_in_order(rig_api, rig):
    n = 5 * MIB // 10  # 10 bytes per line: 5 MiB
    script = ("import sys\n"
              f"w = sys.stdout.write\n"
              f"for i in range({n}): w('%09d\\n' % i)\n"
              "sys.stdout.flush()\n"
              "sys.stderr.write('the end\\n')\n"
              "sys.exit(3)\n")
    objs = _stream(rig_api, rig, {"cmd": ["python3", "-c", script], "timeout_s": 120})
    last = objs[-1]
    assert last.get("exit_code") == 3, last
    assert last.get("timed_out") is False, last
    out = "".join(o["data"] for o in objs[:-1] if o["stream"] == "stdout")
    err = "".join(o["data"] for o in objs[:-1] if o["stream"] == "stderr")
    assert len(out) == n * 10, f"streamed {len(out)} of {n * 10} bytes"
    assert out == "".join("%09d\n" % i for i in range(n)), "stdout out of order or damaged"
    assert err == "the end\n", err
    assert len(objs) > 3, "5 MiB arrived in one chunk: not streamed"


def test_ndjson_stream_is_not_capped(rig_api, rig):
    objs = _stream(rig_api, rig, {"cmd": ["sh", "-c",
                                          "head -c 17825792 /dev/zero | tr '\\0' z"],
                                  "timeout_s": 120})
    assert objs[-1].get("exit_code") == 0, objs[-1]
    total = sum(len(o["data"]) for o in objs[:-1])
    assert total == 17 * MIB, total


def test_ndjson_interleaves_streams_as_they_come(rig_api, rig):
    objs = _stream(rig_api, rig, {"cmd": ["sh", "-c",
                                          "echo a; sleep 0.3; echo b >&2; sleep 0.3; echo c"]})
    seq = [(o["stream"], o["data"]) for o in objs[:-1]]
    assert seq == [("stdout", "a\n"), ("stderr", "b\n"), ("stdout", "c\n")], seq
    assert objs[-1]["exit_code"] == 0


def test_ndjson_timeout(rig_api, rig):
    objs = _stream(rig_api, rig, {"cmd": ["sh", "-c", "echo start; sleep 105"],
                                  "timeout_s": 1})
    assert objs[0] == {"stream": "stdout", "data": "start\n"}, objs
    assert objs[-1].get("timed_out") is True and objs[-1].get("exit_code") == 137, objs[-1]
    ps = rig_api.ok(rig, "sleep 0.3; ps -eo args", user="root")
    assert "sleep 105" not in ps, ps


def test_non_utf8_output_is_valid_json(rig_api, rig):
    script = r"printf 'ok \377\376 mid \303 end\n'; printf '\200err\n' >&2"
    b = rig_api.exec(rig, ["sh", "-c", script])
    assert isinstance(b, dict), "not JSON"
    assert b["stdout"].startswith("ok \ufffd") and b["stdout"].endswith(" end\n"), b
    assert "mid" in b["stdout"] and "\ufffd" in b["stdout"].split("mid")[1], b
    assert b["stderr"] == "\ufffderr\n", b
    # the raw body is strict JSON (no raw invalid bytes)
    r = rig_api.exec_raw(rig, ["sh", "-c", script])
    raw = json.dumps(r.body)
    assert raw.encode("utf-8")
    objs = _stream(rig_api, rig, {"cmd": ["sh", "-c", script]})
    out = "".join(o["data"] for o in objs[:-1] if o["stream"] == "stdout")
    assert out.startswith("ok \ufffd") and out.endswith(" end\n"), out


def test_utf8_split_across_chunks_is_kept(rig_api, rig):
    """A multi-byte character cut by a read boundary is not replaced."""
    script = ("import sys, time\n"
              "b = 'é€😀'.encode()\n"
              "for i in range(len(b)):\n"
              "    sys.stdout.buffer.write(b[i:i+1]); sys.stdout.flush(); time.sleep(0.02)\n")
    b = rig_api.exec(rig, ["python3", "-c", script])
    assert b["stdout"] == "é€😀", b
    objs = _stream(rig_api, rig, {"cmd": ["python3", "-c", script]})
    assert "".join(o["data"] for o in objs[:-1]) == "é€😀", objs


def test_large_stdin(rig_api, rig):
    text = ("0123456789abcdef" * 4096) * 15  # 960 KiB, under the 1 MiB body limit
    b = rig_api.exec(rig, ["sha256sum"], stdin=text)
    import hashlib
    assert b["stdout"].split()[0] == hashlib.sha256(text.encode()).hexdigest(), b
    r = rig_api.exec_raw(rig, ["cat"], stdin="x" * (MIB + 1))
    assert_error(r, 413, "too_large")
