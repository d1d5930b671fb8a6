#!/usr/bin/python3
"""Keystone v3 + Nova v2.1 + Glance v2 simulator for the ocfbox tests (stdlib only).

One loopback port serves
  /identity             Keystone version discovery (300), /identity/v3 (version, tokens)
  /compute, /compute/v2.1   Nova version documents and the API
  /image, /image/v2     Glance version document and images
  /<region>/<interface>/... the same, as the catalog advertises it (so tests see which
                        endpoint a client chose)
  /_sim/...             the control API (state, faults, latency, request log, reset)

State comes from a JSON file (see README.md) and lives in memory; time-driven changes
(evacuations advancing, services going down) are computed lazily on every request, so no
background thread races the handlers. Every response is sent with one write on a
TCP_NODELAY socket: otherwise Nagle + delayed ACKs add ~40 ms to every request.
"""

import argparse
import copy
import functools
import json
import os
import re
import secrets
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MIN_MICROVERSION = (2, 1)
INTERFACES = ("public", "internal", "admin")
SECRET_KEYS = ("password", "secret", "adminPass")


def now():
    return time.time()


def iso(t, micro=True, z=False):
    s = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
    if micro:
        s += ".%06d" % int((t % 1) * 1e6)
    return s + ("Z" if z else "")


def parse_version(text):
    m = re.fullmatch(r"(\d+)\.(\d+)", text.strip())
    if not m:
        return None
    return (int(m.group(1)), int(m.group(2)))


def vstr(v):
    return "%d.%d" % v


TRUE_WORDS = ("True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes")
FALSE_WORDS = ("False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no")


@functools.lru_cache(maxsize=65536)
def host_id(tenant, host):
    """Nova's hostId: an opaque per-project digest of the host (stable, cached: lists are hot)."""
    return uuid.uuid5(uuid.NAMESPACE_DNS, "%s/%s" % (tenant, host)).hex if host else ""


def nova_bool(v):
    """Nova's parameter_types.boolean: a JSON boolean or one of its words; None if neither."""
    if v is True or v in TRUE_WORDS:
        return True
    if v is False or v in FALSE_WORDS:
        return False
    return None


def has_secret(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in SECRET_KEYS and v not in (None, ""):
                return True
            if has_secret(v):
                return True
    elif isinstance(obj, list):
        return any(has_secret(v) for v in obj)
    return False


class HttpError(Exception):
    def __init__(self, status, body, headers=None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


NOVA_FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}


def nova_error(status, message):
    name = NOVA_FAULT_NAMES.get(status, "computeFault")
    return HttpError(status, {name: {"code": status, "message": message}})


def keystone_error(status, message, title):
    return HttpError(status, {"error": {"code": status, "message": message, "title": title}})


def glance_error(status, message):
    titles = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}
    title = titles.get(status, "Error")
    text = "<html>\n <head>\n  <title>%d %s</title>\n </head>\n <body>\n  <h1>%d %s</h1>\n  %s<br /><br />\n\n\n\n </body>\n</html>" % (
        status, title, status, title, message)
    return HttpError(status, text.encode(), {"Content-Type": "text/html; charset=UTF-8"})


UNAUTHORIZED = keystone_error(401, "The request you have made requires authentication.", "Unauthorized")


class Sim:
    """All simulator state; one lock serialises every request's view of it."""

    def __init__(self, state_file, config):
        self.state_file = state_file
        self.lock = threading.RLock()
        self.base_config = config
        self.faults = []
        self.requests = []
        self.tokens = {}
        self.fault_seq = 0
        self.load()

    # ---- state -----------------------------------------------------------------------

    def load(self):
        with open(self.state_file) as f:
            raw = json.load(f)
        self.set_state(raw)
        self.faults = []
        self.requests = []
        self.tokens = {}

    def set_state(self, raw):
        st = copy.deepcopy(raw)
        cfg = dict(self.base_config)
        cfg.update(st.pop("config", {}) or {})
        self.config = cfg
        st.setdefault("regions", ["RegionOne"])
        st.setdefault("domains", [{"id": "default", "name": "Default"}])
        st.setdefault("projects", [])
        st.setdefault("users", [])
        st.setdefault("application_credentials", [])
        st.setdefault("services", [])
        st.setdefault("servers", [])
        st.setdefault("flavors", [])
        st.setdefault("images", [])
        st.setdefault("migrations", [])
        t0 = now()
        for i, svc in enumerate(st["services"]):
            svc.setdefault("id", i + 1)
            svc.setdefault("binary", "nova-compute")
            svc.setdefault("uuid", str(uuid.uuid5(uuid.NAMESPACE_URL, "svc/%s/%s" % (svc["host"], svc["binary"]))))
            svc.setdefault("zone", "nova" if svc["binary"] == "nova-compute" else "internal")
            svc.setdefault("status", "enabled")
            svc.setdefault("disabled_reason", None)
            svc.setdefault("forced_down", False)
            svc.setdefault("alive", True)
            svc.setdefault("dead_since", 0)
        for i, srv in enumerate(st["servers"]):
            srv.setdefault("id", str(uuid.uuid4()))
            srv.setdefault("name", "vm-%d" % i)
            srv.setdefault("tenant_id", self.project_id_default(st))
            srv.setdefault("user_id", "")
            srv.setdefault("vm_state", "active")
            srv.setdefault("task_state", None)
            srv.setdefault("power_state", 1 if srv["vm_state"] == "active" else 4)
            srv.setdefault("flavor_id", st["flavors"][0]["id"] if st["flavors"] else "1")
            srv.setdefault("image_id", st["images"][0]["id"] if st["images"] else None)
            srv.setdefault("metadata", {})
            srv.setdefault("locked", False)
            srv.setdefault("locked_reason", None)
            srv.setdefault("host", None)
            srv.setdefault("created", t0 - 100000 + i)
            srv.setdefault("updated", srv["created"])
            srv.setdefault("evacuate_outcome", "done")
        for fl in st["flavors"]:
            fl.setdefault("name", "flavor-%s" % fl["id"])
            fl.setdefault("vcpus", 1)
            fl.setdefault("ram", 512)
            fl.setdefault("disk", 1)
            fl.setdefault("ephemeral", 0)
            fl.setdefault("swap", 0)
            fl.setdefault("is_public", True)
            fl.setdefault("extra_specs", {})
            fl.setdefault("access", [])
            fl.setdefault("description", None)
        for i, im in enumerate(st["images"]):
            im.setdefault("name", "image-%d" % i)
            im.setdefault("tags", [])
            im.setdefault("properties", {})
            im.setdefault("visibility", "public")
            im.setdefault("created", t0 - 200000 + i)
        for i, mig in enumerate(st["migrations"]):
            mig.setdefault("id", i + 1)
            mig.setdefault("uuid", str(uuid.uuid4()))
            mig.setdefault("migration_type", "evacuation")
            mig.setdefault("created", t0 - 1000 + i)
            mig.setdefault("updated", mig["created"])
            mig.setdefault("dest_compute", None)
            mig.setdefault("instance_uuid", None)
        self.state = st

    def project_id_default(self, st):
        for p in st["projects"]:
            if p["name"] == "admin":
                return p["id"]
        return st["projects"][0]["id"] if st["projects"] else ""

    def dump_state(self):
        self.tick()
        st = copy.deepcopy(self.state)
        st["config"] = dict(self.config)
        for svc in st["services"]:
            svc["state"] = self.service_state(svc)
        return st

    # ---- time-driven changes -----------------------------------------------------------

    def service_up(self, svc):
        if svc["forced_down"]:
            return False
        if svc["alive"]:
            return True
        return now() - svc["dead_since"] <= self.config["service_down_time"]

    def service_state(self, svc):
        return "up" if self.service_up(svc) else "down"

    def tick(self):
        """Advances every evacuation by the time that passed (lazy, under the lock)."""
        t = now()
        rebuild = float(self.config["rebuild_time"])
        active = [m for m in self.state["migrations"] if m.get("_plan")]
        if not active:
            return
        by_id = {s["id"]: s for s in self.state["servers"]}
        for mig in active:
            plan = mig["_plan"]
            elapsed = t - plan["start"]
            srv = by_id.get(mig["instance_uuid"])
            outcome = plan["outcome"]
            if outcome == "error":
                # the conductor found no valid host: the record never leaves the source
                if elapsed >= rebuild * 0.1:
                    self.finish_migration(mig, srv, "error", t)
                continue
            if elapsed >= rebuild:
                self.finish_migration(mig, srv, outcome, t)
            elif elapsed >= rebuild * 0.4:
                if mig["status"] != "running":
                    mig["status"] = "running"
                    mig["updated"] = t
                    if srv is not None:
                        srv["host"] = mig["dest_compute"]
                        srv["task_state"] = "rebuild_spawning"
                        srv["updated"] = t
            elif elapsed >= rebuild * 0.1:
                if mig["status"] == "accepted":
                    mig["status"] = "pre-migrating"
                    mig["updated"] = t
                    if srv is not None:
                        srv["task_state"] = "rebuild_block_device_mapping"
                        srv["updated"] = t

    def finish_migration(self, mig, srv, status, t):
        plan = mig.pop("_plan")
        mig["status"] = status
        mig["updated"] = t
        if srv is None:
            return
        srv["task_state"] = None
        srv["updated"] = t
        if status == "done":
            srv["host"] = mig["dest_compute"]
            stopped = plan["was_stopped"] or parse_version(plan["microversion"]) >= (2, 95)
            srv["vm_state"] = "stopped" if stopped else "active"
            srv["power_state"] = 4 if stopped else 1
        elif status == "failed":
            srv["host"] = mig["dest_compute"]
            srv["vm_state"] = "error"
        else:
            srv["vm_state"] = "error"

    # ---- lookups ----------------------------------------------------------------------

    def server(self, sid):
        for s in self.state["servers"]:
            if s["id"] == sid:
                return s
        return None

    def flavor(self, fid):
        for f in self.state["flavors"]:
            if str(f["id"]) == str(fid):
                return f
        return None

    def project(self, pid):
        for p in self.state["projects"]:
            if p["id"] == pid:
                return p
        return None

    def domain(self, ref):
        for d in self.state["domains"]:
            if ("id" in ref and d["id"] == ref["id"]) or ("name" in ref and d["name"] == ref["name"]):
                return d
        return None

    def services(self, binary=None, host=None):
        return [s for s in self.state["services"]
                if (binary is None or s["binary"] == binary) and (host is None or s["host"] == host)]

    # ---- faults -----------------------------------------------------------------------

    def take_fault(self, method, path):
        for f in self.faults:
            if f.get("method") and f["method"].upper() != method:
                continue
            if not re.search(f.get("path", ""), path):
                continue
            if f.get("skip", 0) > 0:
                f["skip"] -= 1
                continue
            if f.get("count") is not None:
                if f["count"] <= 0:
                    continue
                f["count"] -= 1
            f["hits"] = f.get("hits", 0) + 1
            return dict(f)
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nova-sim"
    sys_version = ""

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("novasim: " + (fmt % args) + "\n")

    @property
    def sim(self):
        return self.server.sim

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_HEAD(self):
        self.dispatch("HEAD")

    # ---- response writing ---------------------------------------------------------------

    def send(self, status, body=None, headers=None):
        hdrs = {"Connection": "close" if self.close_connection else "keep-alive"}
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        elif isinstance(body, str):
            data = body.encode()
            hdrs["Content-Type"] = "text/plain; charset=UTF-8"
        elif body is None:
            data = b""
        else:
            data = body
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        if status in (204, 304):
            data = b""
            hdrs.pop("Content-Type", None)
        hdrs["Content-Length"] = str(len(data))
        hdrs["Date"] = self.date_time_string()
        reason = self.responses.get(status, ("",))[0]
        head = "HTTP/1.1 %d %s\r\n" % (status, reason)
        head += "".join("%s: %s\r\n" % (k, v) for k, v in hdrs.items()) + "\r\n"
        payload = head.encode("latin-1") + (b"" if self.command == "HEAD" else data)
        self.wfile.write(payload)  # one write: the whole response
        self.wfile.flush()
        return status

    # ---- dispatch --------------------------------------------------------------------

    def dispatch(self, method):
        t_start = now()
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = ValueError("malformed JSON")

        if path.startswith("/_sim"):
            with self.sim.lock:
                try:
                    status, out = self.control(method, path, query, body)
                except HttpError as e:
                    status, out = e.status, e.body
            self.send(status, out)
            return

        segs = [s for s in path.split("/") if s]
        region = interface = None
        if len(segs) >= 2 and segs[1] in INTERFACES and segs[0] in self.sim.state["regions"]:
            region, interface = segs[0], segs[1]
            segs = segs[2:]
        service = segs[0] if segs else ""
        mv_header = self.requested_microversion() if service == "compute" else None
        entry = {
            "method": method,
            "path": path,
            "query": url.query,
            "service": service,
            "region": region,
            "interface": interface,
            "microversion": mv_header,
            "time": t_start,
            "had_secret": has_secret(body) if not isinstance(body, ValueError) else False,
            "had_token": self.headers.get("X-Auth-Token") is not None,
            "status": None,
        }
        with self.sim.lock:
            self.sim.requests.append(entry)
            fault = self.sim.take_fault(method, path)
            latency = self.sim.config["latency_ms"] / 1000.0
        if latency > 0:
            time.sleep(latency)
        if fault is not None:
            entry["fault"] = fault.get("kind", "status")
            if self.apply_fault(fault, entry):
                return

        headers = {}
        with self.sim.lock:
            self.sim.tick()
            try:
                if isinstance(body, ValueError):
                    raise HttpError(400, {"badRequest": {"code": 400, "message": "Malformed request body"}})
                if service == "identity":
                    status, out, headers = self.keystone(method, segs[1:], query, body, path)
                elif service == "compute":
                    status, out, headers = self.nova(method, segs[1:], query, body, path, mv_header)
                elif service == "image":
                    status, out, headers = self.glance(method, segs[1:], query, body, path)
                else:
                    raise HttpError(404, "404 Not Found\n\nThe resource could not be found.\n")
            except HttpError as e:
                status, out = e.status, e.body
                headers = dict(e.headers)
                if service == "compute" and getattr(self, "_mv", None):
                    headers.update(self.mv_headers(self._mv))
            entry["status"] = status
        self.send(status, out, headers)

    def apply_fault(self, fault, entry):
        kind = fault.get("kind", "status")
        if kind == "status":
            status = int(fault.get("status", 500))
            body = fault.get("body")
            if body is None:
                body = nova_error(status, "Simulated fault").body
            entry["status"] = status
            self.send(status, body)
            return True
        if kind == "unauthorized":
            entry["status"] = 401
            self.send(401, UNAUTHORIZED.body, {"WWW-Authenticate": 'Keystone uri="%s/identity"' % self.base_url()})
            return True
        if kind == "malformed":
            entry["status"] = 200
            self.send(200, b'{"services": [{"id": 1, "host": ')
            return True
        if kind == "hang":
            # never answers within the client's patience; the connection is then closed
            time.sleep(float(fault.get("seconds", 3600)))
            self.close_connection = True
            return True
        if kind == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return True
        return False

    def base_url(self):
        return self.server.base_url

    # ---- control API ------------------------------------------------------------------

    def control(self, method, path, query, body):
        sim = self.sim
        segs = [s for s in path.split("/") if s][1:]
        if segs == ["state"] and method == "GET":
            return 200, sim.dump_state()
        if segs == ["state"] and method == "PUT":
            sim.set_state(body)
            return 200, sim.dump_state()
        if segs == ["config"] and method in ("PUT", "PATCH"):
            sim.config.update(body)
            return 200, sim.config
        if segs == ["config"] and method == "GET":
            return 200, sim.config
        if segs == ["reset"] and method == "POST":
            sim.load()
            return 200, {"reset": True}
        if segs == ["requests"] and method == "GET":
            return 200, {"requests": sim.requests}
        if segs == ["requests"] and method == "DELETE":
            sim.requests = []
            return 200, {"requests": []}
        if segs == ["faults"] and method == "GET":
            return 200, {"faults": sim.faults}
        if segs == ["faults"] and method == "POST":
            sim.fault_seq += 1
            f = dict(body)
            f["id"] = sim.fault_seq
            sim.faults.append(f)
            return 201, f
        if segs == ["faults"] and method == "DELETE":
            sim.faults = []
            return 200, {"faults": []}
        if segs == ["latency"] and method == "PUT":
            sim.config["latency_ms"] = float(body.get("ms", 0))
            return 200, {"ms": sim.config["latency_ms"]}
        if segs == ["tokens", "expire"] and method == "POST":
            for tok in sim.tokens.values():
                tok["expires"] = now() - 1
            return 200, {"expired": len(sim.tokens)}
        if len(segs) == 3 and segs[0] == "services" and method in ("PATCH", "POST"):
            svcs = sim.services(segs[2], segs[1])
            if not svcs:
                raise HttpError(404, {"error": "no service %s on %s" % (segs[2], segs[1])})
            svc = svcs[0]
            was_alive = svc["alive"]
            if body.get("alive") is False and "dead_since" not in body:
                svc["dead_since"] = 0
            svc.update(body)
            if svc["alive"] and not was_alive:
                self.compute_restarted(svc["host"])
            return 200, dict(svc, state=sim.service_state(svc))
        if len(segs) == 2 and segs[0] == "compute-restart" and method == "POST":
            svcs = sim.services("nova-compute", segs[1])
            if not svcs:
                raise HttpError(404, {"error": "no nova-compute on %s" % segs[1]})
            svcs[0]["alive"] = True
            self.compute_restarted(segs[1])
            return 200, dict(svcs[0], state=sim.service_state(svcs[0]))
        if len(segs) == 2 and segs[0] == "servers" and method in ("PATCH", "POST"):
            srv = sim.server(segs[1])
            if srv is None:
                raise HttpError(404, {"error": "no server %s" % segs[1]})
            srv.update(body)
            return 200, srv
        raise HttpError(404, {"error": "unknown control call %s %s" % (method, path)})

    def compute_restarted(self, host):
        # nova-compute's _destroy_evacuated_instances at start-up: done -> completed
        for mig in self.sim.state["migrations"]:
            if mig["source_compute"] == host and mig["migration_type"] == "evacuation" and mig["status"] == "done":
                mig["status"] = "completed"
                mig["updated"] = now()

    # ---- auth -------------------------------------------------------------------------

    def token(self):
        tok_id = self.headers.get("X-Auth-Token")
        if not tok_id:
            raise self.unauthorized()
        tok = self.sim.tokens.get(tok_id)
        # unscoped tokens serve Keystone only; Nova and Glance need a project
        if tok is None or tok["expires"] <= now() or tok["project"] is None:
            raise self.unauthorized()
        return tok

    def unauthorized(self):
        return HttpError(401, UNAUTHORIZED.body,
                         {"WWW-Authenticate": 'Keystone uri="%s/identity"' % self.base_url()})

    def require_admin(self, tok, rule):
        if "admin" not in tok["roles"]:
            raise nova_error(403, "Policy doesn't allow %s to be performed." % rule)

    # ---- Keystone -------------------------------------------------------------------------

    def identity_version(self):
        return {
            "id": "v3.14",
            "status": "stable",
            "updated": "2020-04-07T00:00:00Z",
            "links": [{"rel": "self", "href": self.base_url() + "/identity/v3/"}],
            "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
        }

    def keystone(self, method, segs, query, body, path):
        if segs == [] and method == "GET":
            return 300, {"versions": {"values": [self.identity_version()]}}, {}
        if segs == ["v3"] and method == "GET":
            return 200, {"version": self.identity_version()}, {}
        if segs == ["v3", "auth", "tokens"] and method == "POST":
            return self.issue_token(body, "nocatalog" in query)
        raise keystone_error(404, "The resource could not be found.", "Not Found")

    def find_user(self, ref):
        users = self.sim.state["users"]
        if "id" in ref:
            return next((u for u in users if u["id"] == ref["id"]), None)
        if "name" in ref:
            dom = self.sim.domain(ref.get("domain") or {})
            if dom is None:
                return None
            return next((u for u in users if u["name"] == ref["name"] and u["domain_id"] == dom["id"]), None)
        return None

    def issue_token(self, body, nocatalog):
        sim = self.sim
        try:
            auth = body["auth"]
            identity = auth["identity"]
            methods = identity["methods"]
        except (TypeError, KeyError):
            raise keystone_error(400, "Expecting to find identity in auth. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.", "Bad Request")
        bad = keystone_error(401, "The request you have made requires authentication.", "Unauthorized")
        appcred = None
        if methods == ["password"]:
            pw = identity.get("password", {}).get("user", {})
            user = self.find_user(pw)
            if user is None or not secrets.compare_digest(str(user.get("password", "")), str(pw.get("password", ""))):
                raise bad
            scope = auth.get("scope")
            project = None
            if isinstance(scope, dict) and "project" in scope:
                pref = scope["project"]
                if "id" in pref:
                    project = sim.project(pref["id"])
                else:
                    dom = sim.domain(pref.get("domain") or {})
                    project = next((p for p in sim.state["projects"] if dom and p["name"] == pref.get("name")
                                    and p["domain_id"] == dom["id"]), None)
                if project is None:
                    raise bad
                roles = user.get("roles", {}).get(project["id"])
                if not roles:
                    raise bad
            else:
                roles = []
        elif methods == ["application_credential"]:
            ac = identity.get("application_credential", {})
            creds = sim.state["application_credentials"]
            if "id" in ac:
                appcred = next((c for c in creds if c["id"] == ac["id"]), None)
            else:
                user = self.find_user(ac.get("user") or {})
                appcred = next((c for c in creds if user and c["name"] == ac.get("name")
                                and c["user_id"] == user["id"]), None)
            if appcred is None or not secrets.compare_digest(str(appcred["secret"]), str(ac.get("secret", ""))):
                raise bad
            user = next((u for u in sim.state["users"] if u["id"] == appcred["user_id"]), None)
            project = sim.project(appcred["project_id"])
            if user is None or project is None:
                raise bad
            roles = appcred.get("roles") or user.get("roles", {}).get(project["id"], [])
            if auth.get("scope"):
                raise keystone_error(401, "The request you have made requires authentication.", "Unauthorized")
        else:
            raise keystone_error(401, "Attempted to authenticate with an unsupported method.", "Unauthorized")
        tok_id = "gAAAAA" + secrets.token_urlsafe(120)
        issued = now()
        tok = {
            "id": tok_id,
            "user": user,
            "project": project,
            "roles": list(roles),
            "methods": methods,
            "issued": issued,
            "expires": issued + float(sim.config["token_ttl"]),
            "appcred": appcred,
        }
        sim.tokens[tok_id] = tok
        return 201, {"token": self.token_body(tok, not nocatalog)}, {"X-Subject-Token": tok_id}

    def token_body(self, tok, with_catalog):
        sim = self.sim
        user = tok["user"]
        udom = sim.domain({"id": user["domain_id"]}) or {"id": user["domain_id"], "name": user["domain_id"]}
        body = {
            "methods": tok["methods"],
            "user": {"id": user["id"], "name": user["name"],
                     "domain": {"id": udom["id"], "name": udom["name"]}, "password_expires_at": None},
            "audit_ids": [secrets.token_urlsafe(16)[:22]],
            "expires_at": iso(tok["expires"], z=True),
            "issued_at": iso(tok["issued"], z=True),
        }
        if tok["project"] is not None:
            p = tok["project"]
            pdom = sim.domain({"id": p["domain_id"]}) or {"id": p["domain_id"], "name": p["domain_id"]}
            body["project"] = {"id": p["id"], "name": p["name"], "domain": {"id": pdom["id"], "name": pdom["name"]}}
            body["is_domain"] = False
            body["roles"] = [{"id": "role-" + r, "name": r} for r in tok["roles"]]
            if with_catalog:
                body["catalog"] = self.catalog()
        if tok["appcred"] is not None:
            ac = tok["appcred"]
            body["application_credential"] = {"id": ac["id"], "name": ac["name"], "restricted": True}
        return body

    def catalog(self):
        base = self.base_url()
        out = []
        for stype, name, suffix, sid in (("identity", "keystone", "identity", "svc-identity"),
                                          ("compute", "nova", "compute/v2.1", "svc-compute"),
                                          ("image", "glance", "image", "svc-image")):
            eps = []
            for region in self.sim.state["regions"]:
                for iface in INTERFACES:
                    eps.append({
                        "id": "ep-%s-%s-%s" % (stype, region, iface),
                        "interface": iface,
                        "region": region,
                        "region_id": region,
                        "url": "%s/%s/%s/%s" % (base, region, iface, suffix),
                    })
            out.append({"id": sid, "type": stype, "name": name, "endpoints": eps})
        return out

    # ---- Nova: microversions -------------------------------------------------------------

    def requested_microversion(self):
        v = self.headers.get("OpenStack-API-Version")
        if v is not None:
            for part in v.split(","):
                words = part.strip().split()
                if len(words) == 2 and words[0].lower() == "compute":
                    return words[1]
                if len(words) != 2:
                    return part.strip()
        return self.headers.get("X-OpenStack-Nova-API-Version")

    def max_microversion(self):
        return parse_version(str(self.sim.config["max_microversion"]))

    def negotiate(self, requested):
        mx = self.max_microversion()
        if requested is None:
            return MIN_MICROVERSION
        if requested.strip().lower() == "latest":
            return mx
        v = parse_version(requested)
        if v is None:
            raise nova_error(400, "API Version String %s is of invalid format. Must be of format MajorNum.MinorNum." % requested)
        if v < MIN_MICROVERSION or v > mx:
            raise nova_error(406, "Version %s is not supported by the API. Minimum is %s and maximum is %s." % (
                requested, vstr(MIN_MICROVERSION), vstr(mx)))
        return v

    def mv_headers(self, mv):
        return {
            "OpenStack-API-Version": "compute %s" % vstr(mv),
            "X-OpenStack-Nova-API-Version": vstr(mv),
            "Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version",
        }

    def compute_base(self, path):
        # the endpoint the request came through, for links
        i = path.find("/compute")
        return self.base_url() + path[:i] + "/compute/v2.1"

    def nova_version_doc(self, path):
        i = path.find("/compute")
        return {
            "id": "v2.1",
            "status": "CURRENT",
            "version": vstr(self.max_microversion()),
            "min_version": vstr(MIN_MICROVERSION),
            "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": self.base_url() + path[:i] + "/compute/v2.1/"}],
        }

    def nova(self, method, segs, query, body, path, requested):
        self._mv = None
        if segs == [] and method == "GET":
            i = path.find("/compute")
            v2 = {"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "",
                  "updated": "2011-01-21T11:33:21Z",
                  "links": [{"rel": "self", "href": self.base_url() + path[:i] + "/compute/v2/"}]}
            return 200, {"versions": [v2, self.nova_version_doc(path)]}, {}
        if not segs or segs[0] != "v2.1":
            raise nova_error(404, "The resource could not be found.")
        segs = segs[1:]
        # a project id in the endpoint URL (/v2.1/<project_id>/...) is accepted and ignored
        if segs and self.sim.project(segs[0]) is not None:
            segs = segs[1:]
        if segs == [] and method == "GET":
            doc = self.nova_version_doc(path)
            doc["links"].append({"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"})
            doc["media-types"] = [{"base": "application/json",
                                   "type": "application/vnd.openstack.compute+json;version=2.1"}]
            return 200, {"version": doc}, {}
        tok = self.token()
        mv = self.negotiate(requested)
        self._mv = mv
        status, out = self.nova_route(method, segs, query, body, path, mv, tok)
        return status, out, self.mv_headers(mv)

    def nova_route(self, method, segs, query, body, path, mv, tok):
        n = len(segs)
        head = segs[0] if segs else ""
        if head == "os-services":
            if n == 1 and method == "GET":
                return self.services_list(query, mv, tok)
            if n == 2 and method == "PUT":
                return self.services_update(segs[1], body, mv, tok)
        elif head == "servers":
            if n == 1 and method == "GET":
                return self.servers_list(query, mv, tok, path, detail=False)
            if n == 2 and segs[1] == "detail" and method == "GET":
                return self.servers_list(query, mv, tok, path, detail=True)
            if n == 2 and method == "GET":
                srv = self.visible_server(segs[1], tok)
                return 200, {"server": self.server_view(srv, mv, tok, path)}
            if n == 3 and segs[2] == "action" and method == "POST":
                return self.server_action(segs[1], body, mv, tok)
        elif head == "flavors":
            if n == 1 and method == "GET":
                return self.flavors_list(query, mv, tok, path, detail=False)
            if n == 2 and segs[1] == "detail" and method == "GET":
                return self.flavors_list(query, mv, tok, path, detail=True)
            if n >= 2:
                fl = self.sim.flavor(segs[1])
                if fl is None or not self.flavor_visible(fl, tok):
                    raise nova_error(404, "Flavor %s could not be found." % segs[1])
                if n == 2 and method == "GET":
                    return 200, {"flavor": self.flavor_view(fl, mv, tok, path, True)}
                if n == 3 and segs[2] == "os-extra_specs" and method == "GET":
                    return 200, {"extra_specs": fl["extra_specs"]}
                if n == 4 and segs[2] == "os-extra_specs" and method == "GET":
                    if segs[3] not in fl["extra_specs"]:
                        raise nova_error(404, "Flavor %s has no extra specs with key %s." % (fl["id"], segs[3]))
                    return 200, {segs[3]: fl["extra_specs"][segs[3]]}
                if n == 3 and segs[2] == "os-flavor-access" and method == "GET":
                    self.require_admin(tok, "os_compute_api:os-flavor-access")
                    if fl["is_public"]:
                        raise nova_error(404, "Access list not available for public flavors.")
                    return 200, {"flavor_access": [{"flavor_id": str(fl["id"]), "tenant_id": t}
                                                   for t in fl["access"]]}
        elif head == "os-migrations" and n == 1 and method == "GET":
            return self.migrations_list(query, mv, tok, path)
        elif head == "os-hypervisors" and method == "GET" and n in (1, 2):
            return self.hypervisors(segs, mv, tok)
        raise nova_error(404, "The resource could not be found.")

    # ---- Nova: os-services ------------------------------------------------------------------

    def service_view(self, svc, mv):
        out = {
            "id": svc["uuid"] if mv >= (2, 53) else svc["id"],
            "binary": svc["binary"],
            "disabled_reason": svc["disabled_reason"],
            "host": svc["host"],
            "state": self.sim.service_state(svc),
            "status": svc["status"],
            "updated_at": iso(now() if svc["alive"] else (svc["dead_since"] or now() - 86400)),
            "zone": svc["zone"],
        }
        if mv >= (2, 11):
            out["forced_down"] = svc["forced_down"]
        return out

    def services_list(self, query, mv, tok):
        self.require_admin(tok, "os_compute_api:os-services:list")
        if mv >= (2, 75):
            extra = set(query) - {"binary", "host"}
            if extra:
                raise nova_error(400, "Invalid input for query parameters %s. Value: %s. Additional properties are not allowed (%s were unexpected)" % (
                    sorted(extra)[0], query[sorted(extra)[0]], ", ".join("'%s'" % e for e in sorted(extra))))
        binary = query.get("binary", [None])[-1]
        host = query.get("host", [None])[-1]
        svcs = self.sim.services(binary, host)
        return 200, {"services": [self.service_view(s, mv) for s in svcs]}

    def xena_guard(self, svc):
        if not self.sim.config["xena_guard"]:
            return
        for mig in self.sim.state["migrations"]:
            if (mig["source_compute"] == svc["host"] and mig["migration_type"] == "evacuation"
                    and mig["status"] == "done"):
                raise nova_error(400, "Unable to force up host %s as `done` evacuation migration records remain "
                                      "associated with the host. Ensure the compute service has been restarted, "
                                      "allowing these records to move to `completed` before retrying this "
                                      "request." % svc["host"])

    def services_update(self, ident, body, mv, tok):
        self.require_admin(tok, "os_compute_api:os-services:update")
        if not isinstance(body, dict):
            raise nova_error(400, "Invalid input for field/attribute service. Value: None.")
        if mv >= (2, 53):
            svc = next((s for s in self.sim.state["services"] if s["uuid"] == ident), None)
            if svc is None:
                if not re.fullmatch(r"[0-9a-fA-F-]{36}", ident):
                    raise nova_error(400, "Invalid uuid %s" % ident)
                raise nova_error(404, "Service %s could not be found." % ident)
            allowed = {"status", "disabled_reason", "forced_down"}
            extra = set(body) - allowed
            if extra:
                raise nova_error(400, "Invalid input for field/attribute. Additional properties are not allowed (%s were unexpected)" % ", ".join("'%s'" % e for e in sorted(extra)))
            if not body:
                raise nova_error(400, "No updates were requested. Fields 'status' or 'forced_down' should be specified.")
            status = body.get("status")
            if status is not None and status not in ("enabled", "disabled"):
                raise nova_error(400, "Invalid input for field/attribute status. Value: %s." % status)
            if "disabled_reason" in body:
                if status != "disabled":
                    raise nova_error(400, "Specifying 'disabled_reason' with status 'enabled' is invalid." if status
                                     else "Invalid request: 'disabled_reason' can only be specified with 'status' "
                                          "set to 'disabled'.")
                r = body["disabled_reason"]
                if not isinstance(r, str) or not 1 <= len(r) <= 255:
                    raise nova_error(400, "Invalid input for field/attribute disabled_reason.")
            if "forced_down" in body:
                if nova_bool(body["forced_down"]) is None:
                    raise nova_error(400, "Invalid input for field/attribute forced_down. Value: %s." % (
                        body["forced_down"],))
                body = dict(body, forced_down=nova_bool(body["forced_down"]))
            if status is None and "forced_down" not in body:
                raise nova_error(400, "No updates were requested. Fields 'status' or 'forced_down' should be specified.")
            if svc["binary"] != "nova-compute":
                raise nova_error(400, "Updating a %s service is not supported. Only nova-compute services can be "
                                      "updated." % svc["binary"])
            if body.get("forced_down") is False:
                self.xena_guard(svc)
            if status == "enabled":
                svc["status"] = "enabled"
                svc["disabled_reason"] = None
            elif status == "disabled":
                svc["status"] = "disabled"
                svc["disabled_reason"] = body.get("disabled_reason")
            if "forced_down" in body:
                svc["forced_down"] = body["forced_down"]
            return 200, {"service": self.service_view(svc, mv)}
        # below 2.53: the action is in the path, the body names host and binary
        action = ident
        if action not in ("enable", "disable", "disable-log-reason", "force-down") or (
                action == "force-down" and mv < (2, 11)):
            raise nova_error(404, "Unknown action")
        host, binary = body.get("host"), body.get("binary")
        if not isinstance(host, str) or not isinstance(binary, str):
            raise nova_error(400, "Invalid input for field/attribute host.")
        svcs = self.sim.services(binary, host)
        if not svcs:
            raise nova_error(404, "Host '%s' is not mapped to any cell" % host if not self.sim.services(None, host)
                             else "Service %s on host %s could not be found." % (binary, host))
        svc = svcs[0]
        if action == "force-down":
            fd = nova_bool(body.get("forced_down"))
            if fd is None:
                raise nova_error(400, "Invalid input for field/attribute forced_down.")
            if fd is False:
                self.xena_guard(svc)
            svc["forced_down"] = fd
            return 200, {"service": {"host": host, "binary": binary, "forced_down": fd}}
        if action == "enable":
            svc["status"] = "enabled"
            svc["disabled_reason"] = None
            return 200, {"service": {"host": host, "binary": binary, "status": "enabled"}}
        if action == "disable":
            svc["status"] = "disabled"
            return 200, {"service": {"host": host, "binary": binary, "status": "disabled"}}
        reason = body.get("disabled_reason")
        if not isinstance(reason, str) or not 1 <= len(reason) <= 255:
            raise nova_error(400, "The string containing the reason for disabling the service contains invalid "
                                  "characters or is too long.")
        svc["status"] = "disabled"
        svc["disabled_reason"] = reason
        return 200, {"service": {"host": host, "binary": binary, "status": "disabled", "disabled_reason": reason}}

    # ---- Nova: servers ------------------------------------------------------------------

    def visible_server(self, sid, tok):
        srv = self.sim.server(sid)
        if srv is None or ("admin" not in tok["roles"] and srv["tenant_id"] != tok["project"]["id"]):
            raise nova_error(404, "Instance %s could not be found." % sid)
        return srv

    def server_status(self, srv):
        vm, task = srv["vm_state"], srv["task_state"]
        if vm == "active":
            if task in ("rebuilding", "rebuild_block_device_mapping", "rebuild_spawning"):
                return "REBUILD"
            if task and task.startswith("resize"):
                return "RESIZE"
            if task == "migrating":
                return "MIGRATING"
            return "ACTIVE"
        if vm == "stopped" and task in ("rebuilding", "rebuild_block_device_mapping", "rebuild_spawning"):
            return "REBUILD"
        return {"stopped": "SHUTOFF", "error": "ERROR", "building": "BUILD", "paused": "PAUSED",
                "suspended": "SUSPENDED", "resized": "VERIFY_RESIZE", "shelved": "SHELVED",
                "shelved_offloaded": "SHELVED_OFFLOADED", "rescued": "RESCUE",
                "soft-delete": "SOFT_DELETED", "deleted": "DELETED"}.get(vm, "UNKNOWN")

    def host_status(self, host):
        svc = self.sim.services("nova-compute", host) if host else []
        return ("UP" if self.sim.service_up(svc[0]) else "DOWN") if svc else ""

    def server_view(self, srv, mv, tok, path, detail=True):
        base = self.compute_base(path)
        links = [{"rel": "self", "href": "%s/servers/%s" % (base, srv["id"])},
                 {"rel": "bookmark", "href": "%s/servers/%s" % (base.rsplit("/v2.1", 1)[0], srv["id"])}]
        if not detail:
            return {"id": srv["id"], "name": srv["name"], "links": links}
        fl = self.sim.flavor(srv["flavor_id"])
        if mv >= (2, 47):
            snap = srv.get("flavor_snapshot") or fl or {}
            flavor = {"vcpus": snap.get("vcpus", 1), "ram": snap.get("ram", 512), "disk": snap.get("disk", 1),
                      "ephemeral": snap.get("ephemeral", 0), "swap": snap.get("swap", 0),
                      "original_name": snap.get("name", "")}
            if "admin" in tok["roles"]:
                flavor["extra_specs"] = dict(snap.get("extra_specs", {}))
        else:
            flavor = {"id": str(srv["flavor_id"]),
                      "links": [{"rel": "bookmark", "href": "%s/flavors/%s" % (base.rsplit("/v2.1", 1)[0],
                                                                               srv["flavor_id"])}]}
        if srv["image_id"]:
            image = {"id": srv["image_id"],
                     "links": [{"rel": "bookmark", "href": "%s/images/%s" % (base.rsplit("/v2.1", 1)[0],
                                                                             srv["image_id"])}]}
        else:
            image = ""
        admin = "admin" in tok["roles"]
        out = {
            "id": srv["id"],
            "name": srv["name"],
            "status": self.server_status(srv),
            "tenant_id": srv["tenant_id"],
            "user_id": srv["user_id"],
            "metadata": dict(srv["metadata"]),
            "hostId": host_id(srv["tenant_id"], srv["host"]),
            "image": image,
            "flavor": flavor,
            "created": iso(srv["created"], micro=False, z=True),
            "updated": iso(srv["updated"], micro=False, z=True),
            "addresses": {},
            "accessIPv4": "",
            "accessIPv6": "",
            "links": links,
            "OS-DCF:diskConfig": "MANUAL",
            "progress": 0,
            "OS-EXT-AZ:availability_zone": "nova",
            "config_drive": "",
            "key_name": None,
            "OS-SRV-USG:launched_at": iso(srv["created"] + 5),
            "OS-SRV-USG:terminated_at": None,
            "OS-EXT-STS:task_state": srv["task_state"],
            "OS-EXT-STS:vm_state": srv["vm_state"],
            "OS-EXT-STS:power_state": srv["power_state"],
            "os-extended-volumes:volumes_attached": [],
            "security_groups": [{"name": "default"}],
        }
        if admin:
            out["OS-EXT-SRV-ATTR:host"] = srv["host"]
            out["OS-EXT-SRV-ATTR:instance_name"] = "instance-%08x" % (abs(hash(srv["id"])) % (1 << 32))
            out["OS-EXT-SRV-ATTR:hypervisor_hostname"] = srv["host"]
            if mv >= (2, 3):
                out["OS-EXT-SRV-ATTR:reservation_id"] = "r-" + srv["id"][:8]
                out["OS-EXT-SRV-ATTR:launch_index"] = 0
                out["OS-EXT-SRV-ATTR:hostname"] = srv["name"]
                out["OS-EXT-SRV-ATTR:kernel_id"] = ""
                out["OS-EXT-SRV-ATTR:ramdisk_id"] = ""
                out["OS-EXT-SRV-ATTR:root_device_name"] = "/dev/vda"
                out["OS-EXT-SRV-ATTR:user_data"] = None
        if mv >= (2, 9):
            out["locked"] = srv["locked"]
        if mv >= (2, 16) and admin:
            out["host_status"] = self.host_status(srv["host"])
        if mv >= (2, 19):
            out["description"] = None
        if mv >= (2, 26):
            out["tags"] = []
        if mv >= (2, 63):
            out["trusted_image_certificates"] = None
        if mv >= (2, 71):
            out["server_groups"] = []
        if mv >= (2, 73):
            out["locked_reason"] = srv["locked_reason"]
        if mv >= (2, 96):
            out["pinned_availability_zone"] = None
        return out

    def paginate(self, items, query, key):
        """Nova's limit/marker paging; returns (page, has_more_link)."""
        cap = int(self.sim.config["page_cap"])
        limit = cap
        if "limit" in query:
            try:
                limit = int(query["limit"][-1])
            except ValueError:
                raise nova_error(400, "limit param must be an integer")
            if limit < 0:
                raise nova_error(400, "limit param must be positive")
            limit = min(limit, cap)
        start = 0
        if "marker" in query:
            marker = query["marker"][-1]
            idx = next((i for i, it in enumerate(items) if str(key(it)) == marker), None)
            if idx is None:
                raise nova_error(400, "marker [%s] not found" % marker)
            start = idx + 1
        page = items[start:start + limit]
        return page, limit, len(page) == limit and limit > 0

    def next_link(self, base, resource, query, marker, limit):
        q = {k: v[-1] for k, v in query.items() if k not in ("marker", "limit")}
        q["limit"] = str(limit)
        q["marker"] = str(marker)
        return [{"rel": "next", "href": "%s/%s?%s" % (base, resource, urllib.parse.urlencode(q))}]

    def servers_list(self, query, mv, tok, path, detail):
        admin = "admin" in tok["roles"]
        items = list(self.sim.state["servers"])
        all_tenants = False
        if "all_tenants" in query:
            v = query["all_tenants"][-1].lower()
            all_tenants = v not in ("0", "false", "f", "no", "off", "n")
            if all_tenants and not admin:
                raise nova_error(403, "Policy doesn't allow os_compute_api:servers:index:get_all_tenants to be "
                                      "performed.")
        if not all_tenants:
            pid = query.get("project_id", query.get("tenant_id", [tok["project"]["id"]]))[-1] if admin \
                else tok["project"]["id"]
            items = [s for s in items if s["tenant_id"] == pid]
        if admin and "host" in query:
            # admin-only filter; for others Nova silently drops it
            items = [s for s in items if s["host"] == query["host"][-1]]
        if "status" in query:
            want = query["status"][-1].upper()
            items = [s for s in items if self.server_status(s) == want]
        if "name" in query:
            rx = re.compile(query["name"][-1])
            items = [s for s in items if rx.search(s["name"])]
        items.sort(key=lambda s: (s["created"], s["id"]), reverse=True)
        page, limit, more = self.paginate(items, query, lambda s: s["id"])
        out = {"servers": [self.server_view(s, mv, tok, path, detail) for s in page]}
        if more:
            res = "servers/detail" if detail else "servers"
            out["servers_links"] = self.next_link(self.compute_base(path), res, query, page[-1]["id"], limit)
        return 200, out

    def server_action(self, sid, body, mv, tok):
        srv = self.visible_server(sid, tok)
        if not isinstance(body, dict) or len(body) != 1:
            raise nova_error(400, "There is no such action: %s" % (list(body)[0] if isinstance(body, dict) and body
                                                                   else None))
        action, args = next(iter(body.items()))
        if action == "evacuate":
            return self.evacuate(srv, args, mv, tok)
        if action == "lock":
            if srv["tenant_id"] != tok["project"]["id"]:
                self.require_admin(tok, "os_compute_api:os-lock-server:lock")
            reason = None
            if args is not None:
                if not isinstance(args, dict):
                    raise nova_error(400, "Invalid input for field/attribute lock.")
                extra = set(args) - ({"locked_reason"} if mv >= (2, 73) else set())
                if extra:
                    raise nova_error(400, "Invalid input for field/attribute lock. Value: %s. Additional properties "
                                          "are not allowed (%s were unexpected)" % (
                                              json.dumps(args), ", ".join("'%s'" % e for e in sorted(extra))))
                reason = args.get("locked_reason")
                if reason is not None and (not isinstance(reason, str) or len(reason) > 255):
                    raise nova_error(400, "Invalid input for field/attribute locked_reason.")
            srv["locked"] = True
            srv["locked_reason"] = reason
            srv["locked_by"] = "admin" if "admin" in tok["roles"] else "owner"
            return 202, None
        if action == "unlock":
            if srv["locked"] and srv.get("locked_by") == "admin" and "admin" not in tok["roles"]:
                raise nova_error(403, "Policy doesn't allow os_compute_api:os-lock-server:unlock:unlock_override "
                                      "to be performed.")
            srv["locked"] = False
            srv["locked_reason"] = None
            srv.pop("locked_by", None)
            return 202, None
        if action == "os-resetState":
            self.require_admin(tok, "os_compute_api:os-admin-actions:reset_state")
            state = args.get("state") if isinstance(args, dict) else None
            if state not in ("active", "error") or set(args) != {"state"}:
                raise nova_error(400, "Invalid input for field/attribute state. Value: %s. '%s' is not one of "
                                      "['active', 'error']" % (state, state))
            srv["vm_state"] = state
            srv["task_state"] = None
            srv["updated"] = now()
            return 202, None
        raise nova_error(400, "There is no such action: %s" % action)

    def evacuate(self, srv, args, mv, tok):
        sim = self.sim
        self.require_admin(tok, "os_compute_api:os-evacuate")
        if not isinstance(args, dict):
            raise nova_error(400, "Invalid input for field/attribute evacuate. Value: %s. %s is not of type "
                                  "'object'" % (args, args))
        allowed = {"host", "adminPass"}
        if mv < (2, 14):
            allowed.add("onSharedStorage")
        if (2, 29) <= mv < (2, 68):
            allowed.add("force")
        extra = set(args) - allowed
        if extra:
            raise nova_error(400, "Invalid input for field/attribute evacuate. Value: %s. Additional properties are "
                                  "not allowed (%s were unexpected)" % (
                                      json.dumps({k: ("***" if k == "adminPass" else v) for k, v in args.items()}),
                                      ", ".join("'%s'" % e for e in sorted(extra))))
        if mv < (2, 14):
            if "onSharedStorage" not in args:
                raise nova_error(400, "Invalid input for field/attribute evacuate. Value: {}. 'onSharedStorage' is a "
                                      "required property")
            if nova_bool(args["onSharedStorage"]) is None:
                raise nova_error(400, "Invalid input for field/attribute onSharedStorage.")
            if nova_bool(args["onSharedStorage"]) and args.get("adminPass"):
                raise nova_error(400, "admin password can't be changed on existing disk")
        if "force" in args and nova_bool(args["force"]) is None:
            raise nova_error(400, "Invalid input for field/attribute force.")
        if nova_bool(args.get("force")) and not args.get("host"):
            raise nova_error(400, "Can't force to a non-provided destination")
        target = args.get("host")
        if target is not None:
            if not sim.services("nova-compute", target):
                raise nova_error(404, "Compute host %s could not be found." % target)
            if target == srv["host"]:
                raise nova_error(400, "The target host can't be the same one.")
        # compute API: instance state first (409), then the source service (400)
        if srv["vm_state"] not in ("active", "stopped", "error") or srv["task_state"] is not None:
            if srv["task_state"] is not None:
                raise nova_error(409, "Cannot 'evacuate' instance %s while it is in task_state %s" % (
                    srv["id"], srv["task_state"]))
            raise nova_error(409, "Cannot 'evacuate' instance %s while it is in vm_state %s" % (
                srv["id"], srv["vm_state"]))
        src = sim.services("nova-compute", srv["host"])
        if src and sim.service_up(src[0]):
            raise nova_error(400, "Compute service of %s is still in use." % srv["host"])
        t = now()
        outcome = srv.get("evacuate_outcome", "done")
        dest = target
        forced = target is not None and (mv < (2, 29) or (mv < (2, 68) and nova_bool(args.get("force"))))
        if dest is None:
            dest = self.schedule(srv)
            if dest is None:
                outcome = "error"
        elif not forced:
            # from 2.29 a requested host still goes through the scheduler's checks
            tsvc = sim.services("nova-compute", dest)[0]
            if tsvc["status"] != "enabled" or not sim.service_up(tsvc):
                outcome = "error"
        mig_id = max([m["id"] for m in sim.state["migrations"]] + [0]) + 1
        mig = {
            "id": mig_id,
            "uuid": str(uuid.uuid4()),
            "instance_uuid": srv["id"],
            "source_compute": srv["host"],
            "source_node": srv["host"],
            "dest_compute": dest,
            "dest_node": dest,
            "dest_host": None,
            "status": "accepted",
            "migration_type": "evacuation",
            "old_instance_type_id": srv["flavor_id"],
            "new_instance_type_id": srv["flavor_id"],
            "created": t,
            "updated": t,
            "user_id": tok["user"]["id"],
            "project_id": tok["project"]["id"],
            "microversion": vstr(mv),
            "request": {k: v for k, v in args.items() if k != "adminPass"},
            "_plan": {"start": t, "outcome": outcome, "was_stopped": srv["vm_state"] == "stopped",
                      "microversion": vstr(mv)},
        }
        sim.state["migrations"].append(mig)
        srv["task_state"] = "rebuilding"
        srv["updated"] = t
        if mv < (2, 14) and sim.config["enable_instance_password"]:
            return 200, {"adminPass": args.get("adminPass") or secrets.token_urlsafe(9)}
        return 200, None

    def schedule(self, srv):
        """Nova's scheduler, reduced: an up, enabled compute other than the source, least loaded."""
        sim = self.sim
        cands = [s["host"] for s in sim.services("nova-compute")
                 if s["host"] != srv["host"] and s["status"] == "enabled" and sim.service_up(s)]
        if not cands:
            return None
        load = {h: 0 for h in cands}
        for s in sim.state["servers"]:
            if s["host"] in load:
                load[s["host"]] += 1
        for m in sim.state["migrations"]:
            if m.get("_plan") and m["dest_compute"] in load and sim.server(m["instance_uuid"]) \
                    and sim.server(m["instance_uuid"])["host"] != m["dest_compute"]:
                load[m["dest_compute"]] += 1
        return min(sorted(cands), key=lambda h: load[h])

    # ---- Nova: flavors, migrations, hypervisors ------------------------------------------------

    def flavor_visible(self, fl, tok):
        return fl["is_public"] or "admin" in tok["roles"] or tok["project"]["id"] in fl["access"]

    def flavor_view(self, fl, mv, tok, path, detail):
        base = self.compute_base(path)
        links = [{"rel": "self", "href": "%s/flavors/%s" % (base, fl["id"])},
                 {"rel": "bookmark", "href": "%s/flavors/%s" % (base.rsplit("/v2.1", 1)[0], fl["id"])}]
        out = {"id": str(fl["id"]), "name": fl["name"], "links": links}
        if mv >= (2, 55):
            out["description"] = fl["description"]
        if not detail:
            return out
        out.update({
            "ram": fl["ram"],
            "disk": fl["disk"],
            "vcpus": fl["vcpus"],
            "OS-FLV-EXT-DATA:ephemeral": fl["ephemeral"],
            "swap": fl["swap"] if (mv >= (2, 75) or fl["swap"]) else "",
            "OS-FLV-DISABLED:disabled": False,
            "os-flavor-access:is_public": fl["is_public"],
            "rxtx_factor": 1.0,
        })
        if mv >= (2, 61):
            out["extra_specs"] = dict(fl["extra_specs"])
        return out

    def flavors_list(self, query, mv, tok, path, detail):
        admin = "admin" in tok["roles"]
        items = list(self.sim.state["flavors"])
        raw = query.get("is_public", ["true"])[-1].strip().lower()
        if raw == "none":
            want = None
        elif raw in ("1", "true", "t", "yes", "y", "on"):
            want = True
        elif raw in ("0", "false", "f", "no", "n", "off"):
            want = False
        else:
            raise nova_error(400, "Invalid is_public filter [%s]" % raw)
        if not admin:
            items = [f for f in items if f["is_public"] or tok["project"]["id"] in f["access"]]
            if want is not None:
                items = [f for f in items if f["is_public"] == want or tok["project"]["id"] in f["access"]]
        elif want is not None:
            items = [f for f in items if f["is_public"] == want]
        items.sort(key=lambda f: str(f["id"]))
        page, limit, more = self.paginate(items, query, lambda f: f["id"])
        out = {"flavors": [self.flavor_view(f, mv, tok, path, detail) for f in page]}
        if more:
            out["flavors_links"] = self.next_link(self.compute_base(path), "flavors/detail" if detail else "flavors",
                                                  query, page[-1]["id"], limit)
        return 200, out

    def migration_view(self, m, mv):
        out = {
            "id": m["id"],
            "source_node": m.get("source_node", m["source_compute"]),
            "dest_node": m.get("dest_node", m["dest_compute"]),
            "source_compute": m["source_compute"],
            "dest_compute": m["dest_compute"],
            "dest_host": m.get("dest_host"),
            "status": m["status"],
            "instance_uuid": m["instance_uuid"],
            "old_instance_type_id": m.get("old_instance_type_id", 1),
            "new_instance_type_id": m.get("new_instance_type_id", 1),
            "created_at": iso(m["created"]),
            "updated_at": iso(m["updated"]),
        }
        if mv >= (2, 23):
            out["migration_type"] = m["migration_type"]
        if mv >= (2, 59):
            out["uuid"] = m["uuid"]
        if mv >= (2, 80):
            out["user_id"] = m.get("user_id")
            out["project_id"] = m.get("project_id")
        return out

    def parse_time(self, text, name):
        t = text.strip().replace("Z", "+00:00")
        try:
            from datetime import datetime, timezone
            d = datetime.fromisoformat(t)
            if d.tzinfo is None:
                d = d.replace(tzinfo=timezone.utc)
            return d.timestamp()
        except ValueError:
            raise nova_error(400, "Invalid input for query parameters %s. Value: %s. '%s' is not a 'date-time'" % (
                name, text, text))

    def migrations_list(self, query, mv, tok, path):
        self.require_admin(tok, "os_compute_api:os-migrations:index")
        items = list(self.sim.state["migrations"])
        if "host" in query:
            h = query["host"][-1]
            items = [m for m in items if h in (m["source_compute"], m["dest_compute"])]
        for key in ("status", "instance_uuid", "source_compute"):
            if key in query:
                items = [m for m in items if m[key] == query[key][-1]]
        if "migration_type" in query:
            items = [m for m in items if m["migration_type"] == query["migration_type"][-1]]
        if mv >= (2, 59):
            if "changes-since" in query:
                since = self.parse_time(query["changes-since"][-1], "changes-since")
                items = [m for m in items if m["updated"] >= since]
            if mv >= (2, 66) and "changes-before" in query:
                before = self.parse_time(query["changes-before"][-1], "changes-before")
                items = [m for m in items if m["updated"] <= before]
            items.sort(key=lambda m: (m["created"], m["id"]), reverse=True)
            page, limit, more = self.paginate(items, query, lambda m: m["uuid"])
            out = {"migrations": [self.migration_view(m, mv) for m in page]}
            if more:
                out["migrations_links"] = self.next_link(self.compute_base(path), "os-migrations", query,
                                                         page[-1]["uuid"], limit)
            return 200, out
        return 200, {"migrations": [self.migration_view(m, mv) for m in items]}

    def hypervisors(self, segs, mv, tok):
        self.require_admin(tok, "os_compute_api:os-hypervisors:list")
        detail = len(segs) == 2 and segs[1] == "detail"
        if len(segs) == 2 and not detail:
            raise nova_error(404, "The resource could not be found.")
        out = []
        for svc in self.sim.services("nova-compute"):
            hv = {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, "hv/" + svc["host"])) if mv >= (2, 53) else svc["id"],
                  "hypervisor_hostname": svc["host"],
                  "state": self.sim.service_state(svc),
                  "status": svc["status"]}
            if detail:
                hv.update({"hypervisor_type": "QEMU", "host_ip": "127.0.0.1",
                           "service": {"host": svc["host"], "id": self.service_view(svc, mv)["id"],
                                       "disabled_reason": svc["disabled_reason"]}})
                if mv < (2, 88):
                    hv.update({"vcpus": 8, "memory_mb": 16384, "local_gb": 100, "vcpus_used": 0,
                               "memory_mb_used": 512, "local_gb_used": 0, "hypervisor_version": 6002000,
                               "free_ram_mb": 15872, "free_disk_gb": 100, "current_workload": 0,
                               "running_vms": sum(1 for s in self.sim.state["servers"] if s["host"] == svc["host"]),
                               "disk_available_least": 100, "cpu_info": "{}"})
            out.append(hv)
        return 200, {"hypervisors": out}

    # ---- Glance -----------------------------------------------------------------------

    def image_view(self, im):
        out = {
            "id": im["id"],
            "name": im["name"],
            "status": "active",
            "visibility": im["visibility"],
            "protected": False,
            "os_hidden": False,
            "tags": list(im["tags"]),
            "container_format": "bare",
            "disk_format": "qcow2",
            "min_disk": 0,
            "min_ram": 0,
            "size": 1024,
            "virtual_size": None,
            "checksum": None,
            "os_hash_algo": None,
            "os_hash_value": None,
            "owner": im.get("owner", ""),
            "created_at": iso(im["created"], micro=False, z=True),
            "updated_at": iso(im["created"], micro=False, z=True),
            "self": "/v2/images/" + im["id"],
            "file": "/v2/images/%s/file" % im["id"],
            "schema": "/v2/schemas/image",
        }
        for k, v in im["properties"].items():
            out[k] = v
        return out

    def glance(self, method, segs, query, body, path):
        if segs == [] and method == "GET":
            i = path.find("/image")
            href = self.base_url() + path[:i] + "/image/v2/"
            vers = [{"id": "v2.%d" % n, "status": "CURRENT" if n == 16 else "SUPPORTED",
                     "links": [{"rel": "self", "href": href}]} for n in range(16, -1, -1)]
            return 300, {"versions": vers}, {}
        if not segs or segs[0] != "v2":
            raise glance_error(404, "The resource could not be found.")
        tok = self.token()
        segs = segs[1:]
        if segs == ["images"] and method == "GET":
            return self.images_list(query, tok)
        if len(segs) == 2 and segs[0] == "images" and method == "GET":
            im = next((i for i in self.sim.state["images"] if i["id"] == segs[1]), None)
            if im is None:
                raise glance_error(404, "No image found with ID %s" % segs[1])
            return 200, self.image_view(im), {}
        raise glance_error(404, "The resource could not be found.")

    def images_list(self, query, tok):
        items = sorted(self.sim.state["images"], key=lambda i: (i["created"], i["id"]), reverse=True)
        if "id" in query:
            v = query["id"][-1]
            ids = v[3:].split(",") if v.startswith("in:") else [v]
            items = [i for i in items if i["id"] in ids]
        for tag in query.get("tag", []):
            items = [i for i in items if tag in i["tags"]]
        if "name" in query:
            items = [i for i in items if i["name"] == query["name"][-1]]
        if "visibility" in query:
            items = [i for i in items if i["visibility"] == query["visibility"][-1]]
        cap = int(self.sim.config["glance_page_cap"])
        limit = int(self.sim.config["glance_page_default"])
        if "limit" in query:
            try:
                limit = int(query["limit"][-1])
            except ValueError:
                raise glance_error(400, "limit param must be an integer")
        limit = min(limit, cap)
        start = 0
        if "marker" in query:
            idx = next((n for n, i in enumerate(items) if i["id"] == query["marker"][-1]), None)
            if idx is None:
                raise glance_error(404, "Image %s not found." % query["marker"][-1])
            start = idx + 1
        page = items[start:start + limit]
        out = {"images": [self.image_view(i) for i in page], "first": "/v2/images", "schema": "/v2/schemas/images"}
        if len(page) == limit and limit > 0:
            q = {k: v[-1] for k, v in query.items() if k not in ("marker",)}
            q["marker"] = page[-1]["id"]
            out["next"] = "/v2/images?" + urllib.parse.urlencode(q)
        return 200, out, {}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, sim, tls, verbose):
        super().__init__(addr, Handler)
        self.sim = sim
        self.tls = tls
        self.verbose = verbose
        host, port = self.server_address[:2]
        self.base_url = "%s://%s:%d" % ("https" if tls else "http", host, port)

    def finish_request(self, request, client_address):
        # TLS handshake in the connection's own thread, so one slow client blocks no other
        if self.tls is not None:
            try:
                request.settimeout(30)
                request = self.tls.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError):
                try:
                    request.close()
                except OSError:
                    pass
                return
        self.RequestHandlerClass(request, client_address, self)

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)


class ControlServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path, sim, base_url, verbose):
        super().__init__(path, UnixHandler)
        self.sim = sim
        self.base_url = base_url
        self.verbose = verbose


class UnixHandler(Handler):
    def address_string(self):
        return "control"

    def setup(self):
        # no TCP_NODELAY on a Unix socket; and only the control API is served here
        BaseHTTPRequestHandler.setup(self)

    def dispatch(self, method):
        if not self.path.startswith("/_sim"):
            self.close_connection = True
            self.send(404, {"error": "the control socket serves /_sim/ only"})
            return
        super().dispatch(method)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--state", required=True, help="initial state (JSON)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--control-socket",
                    help="Unix socket serving the control API too (reachable from any network namespace)")
    ap.add_argument("--port-file", help="written with the API port once listening")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--max-microversion", default="2.95")
    ap.add_argument("--page-cap", type=int, default=1000)
    ap.add_argument("--rebuild-time", type=float, default=1.0, help="seconds an evacuation takes")
    ap.add_argument("--latency-ms", type=float, default=0)
    ap.add_argument("--token-ttl", type=float, default=3600)
    ap.add_argument("--service-down-time", type=float, default=60)
    ap.add_argument("--no-xena-guard", action="store_true")
    ap.add_argument("--parent-pid", type=int, help="exit when this process is gone (the test)")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    config = {
        "max_microversion": a.max_microversion,
        "page_cap": a.page_cap,
        "glance_page_default": 25,
        "glance_page_cap": 1000,
        "rebuild_time": a.rebuild_time,
        "latency_ms": a.latency_ms,
        "token_ttl": a.token_ttl,
        "service_down_time": a.service_down_time,
        "xena_guard": not a.no_xena_guard,
        "enable_instance_password": True,
    }
    sim = Sim(a.state, config)
    tls = None
    if a.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(a.tls_cert, a.tls_key)
    api = Server((a.bind, a.port), sim, tls, a.verbose)
    servers = [api]
    if a.control_socket:
        if os.path.exists(a.control_socket):
            os.unlink(a.control_socket)
        control = ControlServer(a.control_socket, sim, api.base_url, a.verbose)
        os.chmod(a.control_socket, 0o600)
        servers.append(control)
    for srv in servers:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % api.server_address[1])
        os.rename(tmp, a.port_file)
    try:
        while True:
            time.sleep(0.5)
            if a.parent_pid and not os.path.exists("/proc/%d" % a.parent_pid):
                # the test that started us died without ending us: do not linger
                os._exit(0)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
