"""Rig networking through a real rigd: addresses, egress policies (open, none,
allow lists with CIDRs and host names kept current by their TTL), PATCH of a
running rig's policy, isolation between rigs, from the host's own addresses
(but the exempt loopback ports) and from link-local metadata, anti-spoofing,
IPv6, reconcile after a crash, subnet collisions, and leaks.
Contract: shared/API.md "Rigs" (network) and "Details pinned down / Network";
served behaviour: docs/api.md "Rig network". Needs root, the base template,
`ip` and network namespaces.

The test makes its own test hosts: network namespaces behind the host, each
with a veth and addresses in a private range chosen per run (10.199.X.0/24),
routed through the host so that rigs' egress reaches them. Only addresses
inside those namespaces, the host's loopback and the host's own addresses (to
prove they are NOT reachable) are ever targeted.
"""
import json
import secrets
import socket
import struct
import subprocess
import threading
import time

import pytest

import helpers
from helpers import assert_error, assert_status, create_key, uniq
from rigutil import (RigApi, describe, rig_api, rig_daemons,  # noqa: F401
                     rig_prereqs, serve_args, tmp_path, wait_for)

PROBE_TIMEOUT = 1.5


# -- helpers ----------------------------------------------------------------------

def sh(*cmd, check=True):
    res = subprocess.run(list(cmd), capture_output=True, text=True, timeout=30,
                         stdin=subprocess.DEVNULL)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} -> {res.returncode}: {res.stderr}")
    return res


def ip_json(*args):
    return json.loads(sh("ip", "-j", *args).stdout or "[]")


def nft_json(family, table):
    res = sh("nft", "-j", "list", "table", family, table, check=False)
    if res.returncode != 0:
        return None
    return json.loads(res.stdout)["nftables"]


def nft_objects(bridge):
    """Chains, sets and map/set elements of a rigd's two tables, by kind."""
    out = {"chains": [], "sets": [], "elements": []}
    for fam in ("bridge", "inet"):
        items = nft_json(fam, bridge) or []
        for it in items:
            if "chain" in it:
                out["chains"].append(f"{fam}:{it['chain']['name']}")
            for kind in ("set", "map"):
                if kind in it:
                    s = it[kind]
                    out["sets"].append(f"{fam}:{s['name']}")
                    for e in s.get("elem", []):
                        out["elements"].append(f"{fam}:{s['name']}:{json.dumps(e)}")
    return out


def rig_objects(bridge):
    """Only what belongs to rigs (per-rig chains, sets and elements)."""
    o = nft_objects(bridge)
    return {
        "chains": [c for c in o["chains"] if ":rig_" in c],
        "sets": [s for s in o["sets"] if s.endswith("_allow")],
        "elements": [e for e in o["elements"]
                     if e.split(":")[1] in ("rig_ports", "rig_egress", "rig_exempt")
                     or e.split(":")[1].endswith("_allow")],
    }


def veth_of(rid):
    return "rv" + rid[4:17]


def link_exists(name):
    return sh("ip", "link", "show", "dev", name, check=False).returncode == 0


# Runs inside a rig: tries TCP connections in parallel; prints {target: result}
# where result is "ok:<first line the server sent>", "refused", "timeout" or
# "error:<errno>".
PROBE = r'''
import json, socket, sys, threading
targets = json.loads(sys.argv[1]); wait = float(sys.argv[2]); out = {}
def one(t):
    h, p = t.rsplit(":", 1)
    s = socket.socket(); s.settimeout(wait)
    try:
        s.connect((h, int(p))); s.settimeout(2)
        try: data = s.recv(200).decode(errors="replace").strip()
        except OSError: data = ""
        out[t] = "ok:" + data
    except socket.timeout: out[t] = "timeout"
    except ConnectionRefusedError: out[t] = "refused"
    except OSError as e: out[t] = "error:%s" % e.errno
    finally: s.close()
ts = [threading.Thread(target=one, args=(t,)) for t in targets]
[t.start() for t in ts]; [t.join() for t in ts]
print(json.dumps(out))
'''


def probe(api, rid, targets, wait=PROBE_TIMEOUT):
    b = api.exec(rid, ["python3", "-c", PROBE, json.dumps(targets), str(wait)],
                 timeout=30)
    assert b["exit_code"] == 0, f"probe in {rid}: {b!r}"
    return json.loads(b["stdout"])


def reached(res, target, banner=None):
    r = res[target]
    return r.startswith("ok:") and (banner is None or r == f"ok:{banner}")


# Runs inside a rig as root: sends UDP datagrams with a chosen source through a
# raw socket (IP_HDRINCL), each carrying its marker.
SEND_RAW = r'''
import json, socket, struct, sys
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff)
    s += s >> 16; return ~s & 0xffff
for src, dst, port, msg in json.loads(sys.argv[1]):
    msg = msg.encode()
    udp = struct.pack("!HHHH", 40000, port, 8 + len(msg), 0) + msg
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    for _ in range(3):
        s.sendto(ip + udp, (dst, 0))
print("sent")
'''

# Runs inside a rig as root: sends raw Ethernet frames on eth0.
SEND_FRAMES = r'''
import json, socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
for hexframe in json.loads(sys.argv[1]):
    for _ in range(3):
        s.send(bytes.fromhex(hexframe))
print("sent")
'''

# Captures on one interface (or every one: "-") of the namespace it runs in;
# prints the markers seen.
CAPTURE = r'''
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
if sys.argv[2] != "-": s.bind((sys.argv[2], 0))
s.settimeout(0.2)
end = time.time() + float(sys.argv[1]); seen = set()
print("ready", flush=True)
while time.time() < end:
    try: d = s.recv(65535)
    except socket.timeout: continue
    for m in sys.argv[3:]:
        if m.encode() in d: seen.add(m)
print(" ".join(sorted(seen)) or "-", flush=True)
'''


class Capture:
    """A packet capture (AF_PACKET) on one interface or all ("-") of a
    namespace (or of the host with ns=None) for `seconds`, looking for markers."""

    def __init__(self, ns, seconds, markers, iface="-"):
        cmd = ["python3", "-c", CAPTURE, str(seconds), iface, *markers]
        if ns:
            cmd = ["ip", "netns", "exec", ns] + cmd
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                                  stdin=subprocess.DEVNULL)
        assert self.p.stdout.readline().strip() == "ready"

    def seen(self):
        out, _ = self.p.communicate(timeout=60)
        return set(out.split()) - {"-"}


def ip_checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def udp_frame(dst_mac, src_mac, src_ip, dst_ip, port, msg):
    msg = msg.encode()
    udp = struct.pack("!HHHH", 40001, port, 8 + len(msg), 0) + msg
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 7, 0, 64, 17, 0,
                     socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
    ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
    return (bytes.fromhex(dst_mac.replace(":", "")) + bytes.fromhex(src_mac.replace(":", ""))
            + b"\x08\x00" + ip + udp).hex()


def ipv6_frame(dst_mac, src_mac, msg):
    msg = msg.encode()
    udp = struct.pack("!HHHH", 40002, 9999, 8 + len(msg), 0) + msg
    src = socket.inet_pton(socket.AF_INET6, "fd00:ec2::2")
    dst = socket.inet_pton(socket.AF_INET6, "fd00:ec2::254")
    ip6 = struct.pack("!IHBB", 6 << 28, len(udp), 17, 64) + src + dst
    return (bytes.fromhex(dst_mac.replace(":", "")) + bytes.fromhex(src_mac.replace(":", ""))
            + b"\x86\xdd" + ip6 + udp).hex()


def rig_mac(ip):
    return "02:72:" + ":".join(f"{int(x):02x}" for x in ip.split("."))


class TinyDns:
    """A DNS server on 127.0.0.1 answering A queries from `records`
    ({name: (ip, ttl)}); rigd uses it through --allow-resolver."""

    def __init__(self):
        self.records = {}
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def _serve(self):
        while not self.stopped:
            try:
                q, addr = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                self.sock.sendto(self._answer(q), addr)
            except Exception:  # noqa: BLE001 - a bad query gets no answer
                pass

    def _answer(self, q):
        i, labels = 12, []
        while q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode())
            i += 1 + q[i]
        qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
        question = q[12:i + 5]
        name = ".".join(labels).lower()
        self.queries.append(name)
        rec = self.records.get(name)
        if rec and qtype == 1:
            ip, ttl = rec
            ans = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, ttl, 4) + socket.inet_aton(ip)
            return q[:2] + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0) + question + ans
        rcode = 0 if rec else 3
        return q[:2] + struct.pack("!HHHHH", 0x8180 | rcode, 1, 0, 0, 0) + question

    def close(self):
        self.stopped = True
        self.sock.close()


class TcpServers:
    """TCP servers on the host that greet with a banner and close."""

    def __init__(self):
        self.socks = []
        self.stopped = False

    def add(self, host, banner):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, 0))
        s.listen(64)
        s.settimeout(0.2)
        self.socks.append(s)
        threading.Thread(target=self._serve, args=(s, banner), daemon=True).start()
        return s.getsockname()[1]

    def _serve(self, s, banner):
        while not self.stopped:
            try:
                c, _ = s.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                c.sendall(banner.encode() + b"\n")
            finally:
                c.close()

    def close(self):
        self.stopped = True
        for s in self.socks:
            s.close()


# A test host's server, forever (until killed): greets every TCP connection on
# the given ports with its name; echoes lines on port 8082.
HOST_SERVER = r'''
import socket, sys, threading
name = sys.argv[1]
def echo(c):
    with c:
        while True:
            d = c.recv(4096)
            if not d: return
            c.sendall(d)
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(64)
    while True:
        c, _ = s.accept()
        if port == 8082:
            threading.Thread(target=echo, args=(c,)).start()
            continue
        try: c.sendall(name.encode() + b"\n")
        finally: c.close()
for p in sys.argv[2:]:
    threading.Thread(target=serve, args=(int(p),)).start()
print("ready", flush=True)
'''


class HostNet:
    """Test hosts in network namespaces behind the host:
    A (10.199.X.2) and B (10.199.X.6), and M carrying both 10.199.X.10 and the
    metadata address 169.254.169.254 (routed to it only for the rig subnet, by
    a policy rule, so that the host's own metadata route is never touched)."""

    PORTS = (8080, 8081, 8082)

    def __init__(self):
        tag = secrets.token_hex(2)
        self.x = 1 + secrets.randbelow(250)
        self.tag = tag
        self.hosts = {}
        self.procs = []
        self.rules = []
        self.table = 20000 + secrets.randbelow(10000)
        base = f"10.199.{self.x}"
        for i, name in enumerate(("a", "b", "m")):
            ns = f"rgnt-{tag}-{name}"
            veth = f"rnt{name}{tag}"
            host_ip, peer_ip = f"{base}.{4 * i + 1}", f"{base}.{4 * i + 2}"
            sh("ip", "netns", "add", ns)
            self.hosts[name] = {"ns": ns, "veth": veth, "ip": peer_ip, "gw": host_ip}
            sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "addr", "add", f"{host_ip}/30", "dev", veth)
            sh("ip", "link", "set", veth, "up")
            for c in (["ip", "addr", "add", f"{peer_ip}/30", "dev", "eth0"],
                      ["ip", "link", "set", "eth0", "up"], ["ip", "link", "set", "lo", "up"],
                      ["ip", "route", "add", "default", "via", host_ip]):
                sh("ip", "netns", "exec", ns, *c)
            p = subprocess.Popen(["ip", "netns", "exec", ns, "python3", "-c", HOST_SERVER,
                                  f"host-{name}", *map(str, self.PORTS)],
                                 stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
            assert p.stdout.readline().strip() == "ready"
            self.procs.append(p)
        m = self.hosts["m"]
        sh("ip", "netns", "exec", m["ns"], "ip", "addr", "add", "169.254.169.254/32",
           "dev", "eth0")
        sh("ip", "route", "add", "169.254.169.254/32", "via", m["ip"], "dev", m["veth"],
           "table", str(self.table))

    def route_metadata_for(self, subnet):
        """Rigs of `subnet` would reach 169.254.169.254 on host M (but for
        rigd's rules)."""
        prio = str(1000 + secrets.randbelow(20000))
        sh("ip", "rule", "add", "from", subnet, "to", "169.254.169.254", "lookup",
           str(self.table), "priority", prio)
        self.rules.append((subnet, prio))

    def close(self):
        for p in self.procs:
            p.kill()
            p.wait()
        for subnet, prio in self.rules:
            sh("ip", "rule", "del", "from", subnet, "to", "169.254.169.254", "lookup",
               str(self.table), "priority", prio, check=False)
        sh("ip", "route", "flush", "table", str(self.table), check=False)
        for h in self.hosts.values():
            sh("ip", "link", "del", h["veth"], check=False)
            sh("ip", "netns", "del", h["ns"], check=False)


def start_daemon(factory, extra=()):
    """A rigd with a bridge and subnet of its own (and `extra` flags), retried
    when the random pair happens to be in use. Returns (Rigd, bridge, subnet,
    args)."""
    last = None
    for _ in range(4):
        net = helpers.rig_net_args(helpers_bin())
        args = serve_args() + net + list(extra)
        try:
            return factory(args), net[1], net[3], args
        except pytest.fail.Exception as e:  # noqa: PERF203
            last = e
            if "in use" not in str(e):
                raise
    raise last


def helpers_bin():
    import conftest  # noqa: PLC0415 - the same binary the daemons run
    return conftest._bin_path()


def gateway_of(subnet):
    a, b, c, _ = subnet.split("/")[0].split(".")
    return f"{a}.{b}.{c}.1"


# -- fixtures --------------------------------------------------------------------

@pytest.fixture(scope="module")
def testnet():
    for tool in ("ip", "nft"):
        if sh("which", tool, check=False).returncode != 0:
            pytest.fail(f"`{tool}` is missing: install iproute2 and nftables "
                        "(scripts/deps.sh)", pytrace=False)
    t = HostNet()
    yield t
    t.close()


@pytest.fixture(scope="module")
def dns():
    d = TinyDns()
    yield d
    d.close()


@pytest.fixture(scope="module")
def net(rig_prereqs, module_factory, testnet, dns):
    """The module's rigd (own bridge and subnet, allow-list names resolved by
    the test's DNS server) as a RigApi, with the facts tests need."""
    d, bridge, subnet, args = start_daemon(
        module_factory, ["--allow-resolver", f"127.0.0.1:{dns.port}"])
    api = RigApi(d, start=module_factory, extra_args=args)
    testnet.route_metadata_for(subnet)
    api.bridge, api.subnet, api.gw = bridge, subnet, gateway_of(subnet)
    yield api
    problems = api.cleanup()
    if problems:
        pytest.fail("rig cleanup: " + "; ".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def servers():
    s = TcpServers()
    yield s
    s.close()


def A(testnet, port=8080):
    return f"{testnet.hosts['a']['ip']}:{port}"


def B(testnet, port=8080):
    return f"{testnet.hosts['b']['ip']}:{port}"


def delete_ok(api, rid):
    """DELETE that must succeed; a 409 (rigd's periodic liveness check holds the rig for a
    moment) is retried."""
    deadline = time.monotonic() + 20
    while True:
        r = api.delete(rid)
        if r.status != 409 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert r.status == 204, f"DELETE {rid}: {describe(r)}\n{api.diag(rid)}"


def patch_net(api, rid, network, expect=200):
    deadline = time.monotonic() + 20
    while True:  # a 409 from rigd's liveness check holding the rig is retried
        r = api.req("PATCH", f"/api/rigs/{rid}", body={"network": network})
        if r.status != 409 or expect == 409 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert r.status == expect, f"PATCH {network!r}: {describe(r)}\n{api.diag(rid)}"
    return r.body


# -- addresses ---------------------------------------------------------------------

def test_a_rig_has_an_address_a_default_route_and_dns(net):
    rig = net.create(uniq("addr"))
    ip = rig["network"]["ip"]
    prefix = net.subnet.split("/")[0].rsplit(".", 1)[0] + "."
    assert ip and ip.startswith(prefix) and ip != net.gw, rig["network"]
    assert rig["network"]["egress"] == "open"
    out = net.ok(rig["id"], "ip -4 -o addr show dev eth0; ip route; cat /etc/resolv.conf")
    assert f"inet {ip}/24" in out, out
    assert f"default via {net.gw} dev eth0" in out, out
    host_ns = [ln.split()[1] for ln in open("/etc/resolv.conf")
               if ln.startswith("nameserver") and not ln.split()[1].startswith("127.")
               and ":" not in ln.split()[1]]
    for ns in host_ns[:3]:
        assert f"nameserver {ns}" in out, out
    # GET shows the same address; the rig's MAC is derived from it.
    got = assert_status(net.get(rig["id"]), 200)
    assert got["network"]["ip"] == ip
    mac = net.ok(rig["id"], "cat /sys/class/net/eth0/address").strip()
    assert mac == rig_mac(ip)
    # The host end is an isolated port of the bridge, named after the id.
    link = ip_json("-d", "link", "show", "dev", veth_of(rig["id"]))[0]
    assert link.get("master") == net.bridge, link
    assert link["linkinfo"]["info_slave_data"].get("isolated") is True, link


def test_ipv6_is_off_inside_a_rig(net):
    rig = net.create(uniq("v6"))
    out = net.ok(rig["id"], "cat /proc/sys/net/ipv6/conf/all/disable_ipv6; "
                            "ip -6 -o addr show")
    assert out.split("\n")[0].strip() == "1", out
    assert "inet6" not in out, out


def test_addresses_are_unique_and_reused_after_delete(net):
    a = net.create(uniq("ipa"))
    b = net.create(uniq("ipb"))
    assert a["network"]["ip"] != b["network"]["ip"]
    freed = a["network"]["ip"]
    delete_ok(net, a["id"])
    c = net.create(uniq("ipc"))
    assert c["network"]["ip"] == freed, "a deleted rig's address is handed out again"


# -- egress ------------------------------------------------------------------------

def test_open_egress_reaches_test_hosts_and_dns_resolves(net, testnet):
    rig = net.create(uniq("open"), network={"egress": "open"})
    res = probe(net, rig["id"], [A(testnet), B(testnet)])
    assert reached(res, A(testnet), "host-a") and reached(res, B(testnet), "host-b"), res


def test_allow_list_reaches_only_the_allowed_host(net, testnet):
    a = testnet.hosts["a"]["ip"]
    rig = net.create(uniq("allow"), network={"egress": {"allow": [f"{a}/32"]}})
    res = probe(net, rig["id"], [A(testnet), A(testnet, 8081), B(testnet)])
    assert reached(res, A(testnet), "host-a"), res
    assert reached(res, A(testnet, 8081), "host-a"), res
    assert res[B(testnet)] == "timeout", res


def test_none_reaches_nothing(net, testnet, servers):
    rig = net.create(uniq("none"), network={"egress": "none"})
    port = servers.add("0.0.0.0", "host-any")
    targets = [A(testnet), B(testnet), f"{testnet.hosts['m']['ip']}:8080",
               f"{net.gw}:{port}", f"{net.gw}:{net.d.port}"]
    res = probe(net, rig["id"], targets)
    assert all(v == "timeout" for v in res.values()), res


def test_allow_list_host_names_follow_their_ttl(net, testnet, dns):
    name = f"svc-{secrets.token_hex(3)}.rigs.test"
    dns.records[name] = (testnet.hosts["a"]["ip"], 2)
    rig = net.create(uniq("names"), network={"egress": {"allow": [name]}})
    res = probe(net, rig["id"], [A(testnet), B(testnet)])
    assert reached(res, A(testnet), "host-a") and res[B(testnet)] == "timeout", res
    # The name moves to host B: within a few TTLs the rule follows it.
    dns.records[name] = (testnet.hosts["b"]["ip"], 2)

    def moved():
        r = probe(net, rig["id"], [A(testnet), B(testnet)], wait=1)
        return reached(r, B(testnet), "host-b") and r[A(testnet)] == "timeout"
    assert wait_for(moved, 30, step=1), \
        f"the allow list did not follow {name} to host B: queries {dns.queries[-5:]}"


def test_patch_changes_a_running_rigs_policy_at_once(net, testnet, servers):
    rig = net.create(uniq("patch"))
    rid = rig["id"]
    exempt = servers.add("127.0.0.1", "loop-exempt")
    assert reached(probe(net, rid, [A(testnet)]), A(testnet), "host-a")

    body = patch_net(net, rid, {"egress": "none"})
    assert body["network"]["egress"] == "none" and body["network"]["ip"] == rig["network"]["ip"]
    assert probe(net, rid, [A(testnet)])[A(testnet)] == "timeout"

    b = testnet.hosts["b"]["ip"]
    body = patch_net(net, rid, {"egress": {"allow": [f"{b}/32"]},
                                "loopback_exempt_ports": [exempt]})
    assert body["network"]["loopback_exempt_ports"] == [exempt]
    res = probe(net, rid, [A(testnet), B(testnet), f"{net.gw}:{exempt}"])
    assert res[A(testnet)] == "timeout", res
    assert reached(res, B(testnet), "host-b"), res
    assert reached(res, f"{net.gw}:{exempt}", "loop-exempt"), res

    # Only the given members change; the stored policy is what GET shows.
    patch_net(net, rid, {"loopback_exempt_ports": []})
    got = assert_status(net.get(rid), 200)
    assert got["network"]["egress"] == {"allow": [f"{b}/32"]}, got["network"]
    assert got["network"]["loopback_exempt_ports"] == []
    assert probe(net, rid, [f"{net.gw}:{exempt}"])[f"{net.gw}:{exempt}"] == "timeout"

    patch_net(net, rid, {"egress": "open"})
    res = probe(net, rid, [A(testnet), B(testnet)])
    assert reached(res, A(testnet)) and reached(res, B(testnet)), res

    audit = helpers.Client(net.d, key=net.key).get(f"/api/audit?action=rig.update&rig={rid}")
    entries = assert_status(audit, 200)["items"]
    assert len(entries) >= 4 and all(e["result"] == "ok" for e in entries), entries


def test_patch_cuts_an_established_connection(net, testnet):
    rig = net.create(uniq("cut"))
    rid = rig["id"]
    # An echo connection opened while the policy allowed it; the policy changes
    # while it is open; the next round trip must not make it.
    script = (
        "import socket, time\n"
        f"s = socket.create_connection(('{testnet.hosts['a']['ip']}', 8082), timeout=3)\n"
        "s.sendall(b'one\\n'); print('before', s.recv(100).decode().strip(), flush=True)\n"
        "time.sleep(3)\n"
        "s.settimeout(3)\n"
        "try:\n"
        "    s.sendall(b'two\\n'); print('after', s.recv(100).decode().strip() or 'eof')\n"
        "except OSError as e:\n"
        "    print('after cut', type(e).__name__)\n")
    done = {}

    def run():
        done["b"] = net.exec(rid, ["python3", "-c", script], timeout=30)
    t = threading.Thread(target=run)
    t.start()
    time.sleep(1.5)
    patch_net(net, rid, {"egress": "none"})
    t.join(60)
    out = done["b"]["stdout"].split("\n")
    assert out[0] == "before one", done["b"]
    assert out[1].startswith("after cut"), f"the open connection survived the change: {done['b']}"


def test_patch_validation_and_access(net, rig_prereqs):
    rig = net.create(uniq("pv"))
    rid = rig["id"]
    bad = [
        {"network": {"egress": "everywhere"}},
        {"network": {"egress": {"allow": ["not a host!"]}}},
        {"network": {"egress": {"allow": "10.0.0.0/8"}}},
        {"network": {"loopback_exempt_ports": [0]}},
        {"network": {"loopback_exempt_ports": "80"}},
        {"network": {"ip": "10.1.2.3"}},
        {"network": {"bridge": "x"}},
        {"network": "open"},
        {"name": "renamed"},
        {},
    ]
    for body in bad:
        assert_error(net.req("PATCH", f"/api/rigs/{rid}", body=body), 400, "invalid_request")
    # Giving the rig's own address back is not a change.
    patch_net(net, rid, {"ip": rig["network"]["ip"], "egress": "none"})
    assert_error(net.req("PATCH", "/api/rigs/rig_doesnotexist00000000",
                         body={"network": {"egress": "none"}}), 404, "not_found")
    c = helpers.Client(net.d, key=net.key)
    ro = create_key(c, scopes=["rigs:instances:read"])["key"]
    r = net.as_key(ro).req("PATCH", f"/api/rigs/{rid}", body={"network": {"egress": "open"}})
    assert_error(r, 403, "forbidden")
    assert assert_status(net.get(rid), 200)["network"]["egress"] == "none"


# -- isolation ------------------------------------------------------------------------

def test_two_rigs_cannot_reach_each_other(net):
    a = net.create(uniq("iso-a"))
    b = net.create(uniq("iso-b"))
    ip_a, ip_b = a["network"]["ip"], b["network"]["ip"]
    net.root(b["id"], "nohup python3 -m http.server 8080 >/dev/null 2>&1 &"
                      "nohup python3 -m http.server 22 >/dev/null 2>&1 &")
    time.sleep(1)
    res = probe(net, a["id"], [f"{ip_b}:8080", f"{ip_b}:22", f"{ip_b}:443"])
    assert all(v == "timeout" for v in res.values()), res
    # Nothing at all from A arrives at B, even routed through the gateway or
    # sent as raw frames straight to B's MAC: capture inside B.
    net.ok(a["id"], f"ip route add {ip_b}/32 via {net.gw}", user="root")
    marks = [f"RIGMARK-{secrets.token_hex(4)}-{i}" for i in range(3)]
    holder = {}

    def capture():
        holder["b"] = net.exec(b["id"], ["python3", "-c", CAPTURE, "4", "-", *marks],
                               user="root", timeout=30)
    t = threading.Thread(target=capture)
    t.start()
    time.sleep(1.5)
    frames = [udp_frame(rig_mac(ip_b), rig_mac(ip_a), ip_a, ip_b, 9999, marks[0])]
    net.exec(a["id"], ["python3", "-c", SEND_FRAMES, json.dumps(frames)], user="root")
    net.exec(a["id"], ["python3", "-c", SEND_RAW,
                       json.dumps([[ip_a, ip_b, 9999, marks[1]]])], user="root")
    net.exec(a["id"], ["python3", "-c", "import socket,sys\n"
                       "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                       f"[s.sendto(sys.argv[1].encode(),('{ip_b}',p)) for p in (1,53,8080,65535)]",
                       marks[2]])
    t.join(60)
    out = holder["b"]["stdout"].split("\n")
    assert out[1].strip() == "-", f"rig B received rig A's packets: {holder['b']!r}"


def test_host_addresses_are_closed_but_exempt_loopback_ports(net, testnet, servers):
    exempt = servers.add("127.0.0.1", "loop-exempt")
    other = servers.add("127.0.0.1", "loop-other")
    anyaddr = servers.add("0.0.0.0", "host-any")
    rig = net.create(uniq("host"), network={"egress": "open",
                                            "loopback_exempt_ports": [exempt]})
    host_ips = [a["local"] for link in ip_json("addr", "show") for a in link["addr_info"]
                if a["family"] == "inet" and not a["local"].startswith("127.")]
    assert net.gw in host_ips
    targets = [f"{net.gw}:{exempt}", f"{net.gw}:{other}", f"{net.gw}:{anyaddr}",
               f"{net.gw}:{net.d.port}", "127.0.0.1:%d" % exempt]
    for h in host_ips:
        if h != net.gw:
            targets += [f"{h}:{anyaddr}", f"{h}:{exempt}"]
    res = probe(net, rig["id"], targets)
    assert reached(res, f"{net.gw}:{exempt}", "loop-exempt"), res
    for t in targets[1:]:
        if t.startswith("127.0.0.1:"):
            assert not reached(res, t), res  # the rig's own loopback
        else:
            assert res[t] == "timeout", f"{t} is reachable from a rig: {res}"
    # Another rig without the exemption does not get the port.
    other_rig = net.create(uniq("host2"))
    res = probe(net, other_rig["id"], [f"{net.gw}:{exempt}"])
    assert res[f"{net.gw}:{exempt}"] == "timeout", res


def test_loopback_is_not_reachable_by_addressing_it_directly(net, servers):
    # route_localnet is on for the bridge (for the exempt DNAT): a rig that
    # sends frames to the gateway's MAC with 127.0.0.1 as destination must get
    # nowhere, exempt port or not.
    port = servers.add("127.0.0.1", "loop")
    mark = f"LOOPMARK-{secrets.token_hex(4)}"
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(3)
    uport = udp.getsockname()[1]
    rig = net.create(uniq("lo"), network={"loopback_exempt_ports": [port, uport]})
    ip = rig["network"]["ip"]
    gw_mac = ip_json("link", "show", "dev", net.bridge)[0]["address"]
    frames = [udp_frame(gw_mac, rig_mac(ip), ip, "127.0.0.1", uport, mark)]
    net.exec(rig["id"], ["python3", "-c", SEND_FRAMES, json.dumps(frames)], user="root")
    try:
        data, _ = udp.recvfrom(100)
        pytest.fail(f"a frame addressed to 127.0.0.1 reached the host: {data!r}")
    except socket.timeout:
        pass
    finally:
        udp.close()


def test_metadata_address_is_unreachable(net, testnet):
    rig = net.create(uniq("meta"))
    m = testnet.hosts["m"]["ip"]
    res = probe(net, rig["id"], ["169.254.169.254:8080", f"{m}:8080"])
    assert reached(res, f"{m}:8080", "host-m"), f"the metadata test host is not set up: {res}"
    assert res["169.254.169.254:8080"] == "timeout", res
    # Not with an allow list that names it either.
    patch_net(net, rig["id"], {"egress": {"allow": ["169.254.0.0/16", f"{m}/32"]}})
    res = probe(net, rig["id"], ["169.254.169.254:8080", f"{m}:8080"])
    assert res["169.254.169.254:8080"] == "timeout", res


def test_spoofed_sources_never_leave_a_rig(net, testnet):
    a = net.create(uniq("spoof-a"))
    b = net.create(uniq("spoof-b"))
    ip_a, ip_b = a["network"]["ip"], b["network"]["ip"]
    dst = testnet.hosts["a"]["ip"]
    gw_mac = ip_json("link", "show", "dev", net.bridge)[0]["address"]
    good, forged_b, forged_out, forged_mac = (f"SPOOF-{secrets.token_hex(4)}-{k}" for k in
                                              ("good", "as-b", "outside", "mac"))
    cap = Capture(testnet.hosts["a"]["ns"], 5, [good, forged_b, forged_out, forged_mac])
    net.exec(a["id"], ["python3", "-c", SEND_RAW, json.dumps([
        [ip_a, dst, 9999, good], [ip_b, dst, 9999, forged_b],
        ["198.51.100.7", dst, 9999, forged_out]])], user="root")
    frames = [udp_frame(gw_mac, "02:72:de:ad:be:ef", ip_a, dst, 9999, forged_mac)]
    net.exec(a["id"], ["python3", "-c", SEND_FRAMES, json.dumps(frames)], user="root")
    # Changing its own address does not help either.
    net.exec(a["id"], ["sh", "-c", f"ip addr add {ip_b}/32 dev eth0"], user="root")
    seen = cap.seen()
    assert good in seen, f"the unforged control packet did not arrive: {seen}"
    assert seen == {good}, f"forged packets arrived at the test host: {seen - {good}}"


def test_ipv6_frames_never_pass_the_bridge(net):
    rig = net.create(uniq("v6f"))
    ip = rig["network"]["ip"]
    gw_mac = ip_json("link", "show", "dev", net.bridge)[0]["address"]
    v6, v4 = f"V6MARK-{secrets.token_hex(4)}", f"V4MARK-{secrets.token_hex(4)}"
    # On the bridge itself: what the host's stack would get from its rig ports.
    cap = Capture(None, 4, [v6, v4], iface=net.bridge)
    # Rig root can turn IPv6 back on inside: the bridge still drops it.
    net.ok(rig["id"], "echo 0 > /proc/sys/net/ipv6/conf/all/disable_ipv6; "
                      "echo 0 > /proc/sys/net/ipv6/conf/eth0/disable_ipv6", user="root")
    frames = [ipv6_frame(gw_mac, rig_mac(ip), v6),
              udp_frame(gw_mac, rig_mac(ip), ip, net.gw, 9, v4)]
    net.exec(rig["id"], ["python3", "-c", SEND_FRAMES, json.dumps(frames)], user="root")
    seen = cap.seen()
    assert v4 in seen, f"the IPv4 control frame was not seen on the host: {seen}"
    assert v6 not in seen, "an IPv6 frame from a rig passed the bridge"


# -- lifecycle of the rules -----------------------------------------------------------

def test_stop_unplugs_and_start_plugs_again(net, testnet):
    rig = net.create(uniq("cycle"), network={"egress": "none"})
    rid = rig["id"]
    assert link_exists(veth_of(rid))
    net.act(rid, "stop", "stopped")
    # The veth goes with the rig's network namespace, which the kernel cleans up just after.
    assert wait_for(lambda: not link_exists(veth_of(rid)), 5), "a stopped rig keeps its veth"
    # Its rules stay with it: a policy change while stopped applies at start.
    patch_net(net, rid, {"egress": "open"})
    net.act(rid, "start", "running")
    assert link_exists(veth_of(rid))
    got = assert_status(net.get(rid), 200)
    assert got["network"]["ip"] == rig["network"]["ip"]
    assert reached(probe(net, rid, [A(testnet)]), A(testnet), "host-a")


def test_reconcile_after_a_crash_removes_stale_rules_and_ports(rig_daemons_net, testnet):
    api, bridge = rig_daemons_net
    keep = api.create(uniq("keep"), network={"egress": "open", "loopback_exempt_ports": [5999]})
    gone = api.create(uniq("gone"))
    before = rig_objects(bridge)
    api.restart(kill=True)
    # While rigd is down: its rig `gone` disappears from the store (as if deleted
    # by a crashed delete), and strangers appear in its tables and on its bridge.
    import sqlite3  # noqa: PLC0415
    db = sqlite3.connect(str(api.data_dir / "rigs.db"))
    db.execute("DELETE FROM rigs WHERE id=?", (gone["id"],))
    db.commit()
    db.close()
    api.forget(gone["id"])
    sh("nft", "add", "chain", "inet", bridge, "rig_Stale0000000000000000")
    sh("nft", "add", "element", "inet", bridge, "rig_exempt", "{ 10.64.0.99 . tcp . 1 }")
    stray = "rvStale" + secrets.token_hex(3)
    sh("ip", "link", "add", stray, "type", "veth", "peer", "name", stray + "p")
    sh("ip", "link", "set", stray, "master", bridge)
    try:
        api.restart()
        after = rig_objects(bridge)
        assert not link_exists(stray), "a port nobody owns survived reconcile"
        assert not any("Stale" in c for c in after["chains"]), after
        assert not any("10.64.0.99" in e for e in after["elements"]), after
        assert not any(gone["id"] in c for c in after["chains"]), after
        assert any(keep["id"] in c for c in after["chains"]), after
        assert wait_for(lambda: not link_exists(veth_of(gone["id"])), 5), \
            "the deleted rig's veth survived"
        assert set(after["chains"]) == set(before["chains"]) - {
            c for c in before["chains"] if gone["id"] in c}
        res = probe(api, keep["id"], [A(testnet)])
        assert reached(res, A(testnet), "host-a"), res
    finally:
        sh("ip", "link", "del", stray, check=False)


@pytest.fixture
def rig_daemons_net(rig_daemons, rigd_factory):
    """A fresh daemon of its own (bridge and subnet) for one test: (RigApi, bridge)."""
    state = {}

    def factory(args):
        api = rig_daemons(args[len(serve_args()):])
        state["api"] = api
        return api.d
    _, bridge, _, _ = start_daemon(factory)
    return state["api"], bridge


def test_rigd_keeps_its_bridge_only_while_rigs_run(rig_daemons_net, testnet):
    api, bridge = rig_daemons_net
    rig = api.create(uniq("br"))
    api.d.stop()
    # Rigs outlive rigd: the bridge and the rules stay for the running rig.
    assert link_exists(bridge) and nft_json("inet", bridge) is not None
    assert reached(probe_later(api, rig["id"], [A(testnet)]), A(testnet), "host-a")
    api.restart()
    delete_ok(api, rig["id"])
    api.d.stop()
    assert not link_exists(bridge), "rigd left its bridge behind with no rig left"
    assert nft_json("inet", bridge) is None and nft_json("bridge", bridge) is None


def probe_later(api, rid, targets):
    """probe() while rigd is down: through nsenter into the rig's network namespace."""
    pid = open(api.data_dir / "rigs" / rid / "shim.pid").read().split()
    pid1 = pid[pid.index("init") + 1]
    res = subprocess.run(["nsenter", "-t", pid1, "-n", "python3", "-c", PROBE,
                          json.dumps(targets), str(PROBE_TIMEOUT)],
                         capture_output=True, text=True, timeout=30)
    return json.loads(res.stdout)


def test_rigd_refuses_a_subnet_in_use_and_a_bridge_in_use(net, testnet, rigd_bin, tmp_path):
    data = tmp_path / "data"
    assert helpers.run_init(rigd_bin, data).returncode == 0
    cases = [
        (["--bridge", f"rgx{secrets.token_hex(2)}", "--rig-subnet", f"10.199.{testnet.x}.0/24"],
         "is in use on this host"),
        (["--bridge", net.bridge, "--rig-subnet", "10.127.254.0/24"], "in use by another rigd"),
        (["--bridge", "rvbad", "--rig-subnet", "10.127.254.0/24"], "--bridge"),
        (["--rig-subnet", "10.127.254.1/24"], "--rig-subnet"),
        (["--rig-subnet", "10.0.0.0/8"], "--rig-subnet"),
    ]
    for args, msg in cases:
        res = subprocess.run([str(rigd_bin), "serve", "--data-dir", str(data), "--listen",
                              f"127.0.0.1:{helpers.free_port()}", "--apps-listen", "off",
                              *serve_args(), *args],
                             capture_output=True, text=True, timeout=20,
                             env=helpers.clean_env(), stdin=subprocess.DEVNULL)
        assert res.returncode == 1, f"{args}: exit {res.returncode}\n{res.stderr}"
        assert msg in res.stderr, f"{args}: {res.stderr}"


def test_no_network_rigs_have_loopback_only(rig_daemons):
    api = rig_daemons(["--no-network"])
    rig = api.create(uniq("nonet"))
    assert rig["network"]["ip"] is None, rig["network"]
    out = api.ok(rig["id"], "ls /sys/class/net")
    assert out.split() == ["lo"], out


def test_create_and_delete_leave_nothing(rig_daemons_net):
    """The leak test: N rigs with every kind of policy created and deleted;
    veths, nftables chains, sets and elements, and allocated addresses are
    back to where they started."""
    api, bridge = rig_daemons_net
    n = 100
    base = rig_objects(bridge)
    assert base == {"chains": [], "sets": [], "elements": []}, base
    policies = [{"egress": "open"}, {"egress": "none"},
                {"egress": {"allow": ["192.0.2.0/24", "198.51.100.1"]},
                 "loopback_exempt_ports": [5432, 6379]}]
    ids = []
    t0 = time.monotonic()
    for i in range(n):
        rig = api.create(f"leak-{i}", network=policies[i % 3])
        ids.append(rig["id"])
        if i == 2:
            mid = rig_objects(bridge)
            assert len(mid["chains"]) == 6 and len(mid["sets"]) == 3, mid
    created = time.monotonic() - t0
    t0 = time.monotonic()
    for rid in ids:
        delete_ok(api, rid)
    deleted = time.monotonic() - t0
    print(f"\n{n} rigs: create {created:.1f} s, delete {deleted:.1f} s")
    assert rig_objects(bridge) == base
    assert wait_for(lambda: not [r for r in ids if link_exists(veth_of(r))], 10), \
        [r for r in ids if link_exists(veth_of(r))]
    assert ip_json("link", "show", "master", bridge) == []
    import sqlite3  # noqa: PLC0415
    db = sqlite3.connect(str(api.data_dir / "rigs.db"))
    try:
        assert db.execute("SELECT count(*) FROM rigs WHERE ip IS NOT NULL").fetchone()[0] == 0
    finally:
        db.close()
    # The lowest address is handed out again.
    rig = api.create("leak-again")
    assert rig["network"]["ip"].endswith(".2"), rig["network"]
