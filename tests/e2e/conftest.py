"""Fixtures for the end-to-end suite: a real `rigd` on a free loopback port
and a temporary data directory.

- `rigd_bin`: the binary ($RIGD_BIN, default <repo>/build/src/rigd/rigd);
  missing binary fails the run (it is never a reason to skip).
- `daemon`: one initialised, serving rigd per test module, started with
  every rate-limit class disabled (`--rate-limit CLASS=0`).
- `rigd_factory`: start(...) more daemons for one test (fresh state, special
  flags); each is stopped with SIGTERM at teardown and must exit 0 in 10 s.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import helpers  # noqa: E402
from helpers import (DEFAULT_EMAIL, DEFAULT_PASSWORD, NO_RATE_LIMITS, Rigd,  # noqa: E402
                     clean_env, free_port, key_from_init, run_init,
                     wait_healthy)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO_ROOT / "build" / "src" / "rigd" / "rigd"


def _bin_path():
    return Path(os.environ.get("RIGD_BIN") or DEFAULT_BIN)


@pytest.fixture(scope="session", autouse=True)
def tidy_test_bridges():
    """Bridges of test daemons that were killed (rigd removes its own when it
    exits normally) go before and after the run."""
    if os.geteuid() == 0:
        helpers.reap_test_bridges()
    yield
    if os.geteuid() == 0:
        helpers.reap_test_bridges()


@pytest.fixture(scope="session")
def repo_root():
    return REPO_ROOT


@pytest.fixture(scope="session")
def rigd_bin():
    p = _bin_path()
    if not (p.is_file() and os.access(p, os.X_OK)):
        pytest.fail(f"rigd binary not found or not executable at {p}: build it "
                    f"with `meson setup build && ninja -C build`, or set RIGD_BIN",
                    pytrace=False)
    return p


@pytest.fixture(scope="session")
def edge_flags(rigd_bin, tmp_path_factory):
    """Flags that move the other edges (app router, SSH gateway) off their
    fixed default ports, so several daemons can run at once. Only flags the
    binary advertises in `rigd serve --help` are used."""
    probe_dir = tmp_path_factory.mktemp("probe") / "absent"
    try:
        res = subprocess.run([str(rigd_bin), "serve", "--help", "--data-dir",
                              str(probe_dir), "--listen",
                              f"127.0.0.1:{free_port()}"],
                             capture_output=True, text=True, timeout=5,
                             env=clean_env(), stdin=subprocess.DEVNULL)
        text = res.stdout + res.stderr
    except subprocess.TimeoutExpired as e:
        text = (e.stdout or b"").decode(errors="replace") + \
            (e.stderr or b"").decode(errors="replace")
    wanted = []
    for flag in ("--apps-listen", "--ssh-listen"):
        if flag in text:
            wanted.append(flag)
    return wanted


class DaemonManager:
    def __init__(self, bin_path, base_dir, edge_flags):
        self.bin = bin_path
        self.base = Path(base_dir)
        self.edge_flags = edge_flags
        self.started = []
        self.n = 0
        self.net_args = {}  # data dir -> its rig network flags (kept across restarts)

    def start(self, extra_args=(), *, rate_limits=None, init=True,
              data_dir=None, email=DEFAULT_EMAIL, password=DEFAULT_PASSWORD,
              password_file_text=None, pass_data_dir=True, env_extra=None,
              admin_key=None):
        """Initialise (unless init=False) and serve a daemon; return a Rigd.

        rate_limits: overrides merged on top of "every class disabled".
        password_file_text: exact file content (default: password + "\\n");
        password=None runs init without --password-file.
        """
        self.n += 1
        root = self.base / f"d{self.n}"
        root.mkdir(parents=True, exist_ok=True)
        data_dir = Path(data_dir) if data_dir else root / "data"
        env = clean_env(env_extra)
        init_stdout = ""
        if init:
            pw_file = None
            if password is not None:
                pw_file = root / "password"
                pw_file.write_text(password_file_text if password_file_text
                                   is not None else password + "\n")
            res = run_init(self.bin, data_dir if pass_data_dir else None,
                           email=email, password_file=pw_file, env=env)
            if res.returncode != 0:
                pytest.fail(f"rigd init failed ({res.returncode}):\nstdout:\n"
                            f"{res.stdout}\nstderr:\n{res.stderr}", pytrace=False)
            admin_key = key_from_init(res)
            init_stdout = res.stdout
            assert helpers.KEY_RE.match(admin_key), \
                f"last line of `rigd init` is not a key: {res.stdout!r}"
        limits = dict(NO_RATE_LIMITS)
        limits.update(rate_limits or {})
        args = []
        for cls, n in limits.items():
            args += ["--rate-limit", f"{cls}={n}"]
        args += list(extra_args)

        failure = None
        for attempt in range(3):
            port = free_port()
            cmd = [str(self.bin), "serve"]
            if pass_data_dir:
                cmd += ["--data-dir", str(data_dir)]
            cmd += ["--listen", f"127.0.0.1:{port}"]
            edge_ports = {}
            for flag in self.edge_flags:
                edge_ports[flag] = free_port()
                cmd += [flag, f"127.0.0.1:{edge_ports[flag]}"]
            for i, a in enumerate(args[:-1]):
                if a in ("--apps-listen", "--apps-tls-listen", "--ssh-listen") and \
                        ":" in args[i + 1]:
                    edge_ports[a] = int(args[i + 1].rsplit(":", 1)[1])
            if not any(a in helpers.RIG_NET_FLAGS for a in args):
                if attempt > 0 or str(data_dir) not in self.net_args:
                    self.net_args[str(data_dir)] = helpers.rig_net_args(self.bin)
                cmd += self.net_args[str(data_dir)]
            cmd += args
            log_dir = data_dir if data_dir.is_dir() else root
            log_path = log_dir / f"rigd-serve-{attempt}.log"
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(cmd, stdout=log, stderr=log,
                                        stdin=subprocess.DEVNULL, env=env)
            d = Rigd(self.bin, data_dir, port, proc, log_path, admin_key,
                     email, password, init_stdout)
            d.edge_ports = edge_ports  # flag -> port (the app router, SSH gateway)
            ok, why = wait_healthy(port, proc, log_path)
            if ok:
                self.started.append(d)
                return d
            d.kill()
            log = d.log_text()
            failure = (f"rigd serve did not become healthy: {why}\ncommand: "
                       f"{' '.join(cmd)}\nlog:\n{log[-4000:]}")
            if "in use" not in log.lower():
                break
        pytest.fail(failure, pytrace=False)

    def stop_all(self):
        errors = []
        for d in self.started:
            try:
                d.stop(timeout=10)
            except AssertionError as e:
                errors.append(str(e))
        self.started = []
        if errors:
            pytest.fail("\n\n".join(errors), pytrace=False)


@pytest.fixture(scope="module")
def module_factory(rigd_bin, edge_flags, tmp_path_factory):
    mgr = DaemonManager(rigd_bin, tmp_path_factory.mktemp("rigd-mod"),
                        edge_flags)
    yield mgr.start
    mgr.stop_all()


@pytest.fixture(scope="module")
def daemon(module_factory):
    """The default daemon of a test module (rate limits disabled)."""
    return module_factory()


@pytest.fixture
def rigd_factory(rigd_bin, edge_flags, tmp_path):
    """start(extra_args=(), rate_limits=..., ...) -> Rigd, for one test."""
    mgr = DaemonManager(rigd_bin, tmp_path, edge_flags)
    yield mgr.start
    mgr.stop_all()
