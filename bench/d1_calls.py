#!/usr/bin/env python3
"""Counts the D1 round trips Kasir Edge makes for one push or one sale.

Serves a copy of build/ with `wrangler dev --log-level debug` on free 127.0.0.1 ports. At
that level wrangler logs every subrequest of the Worker as a DevTools network event, and
the local runtime reaches D1 through subrequests to http://d1/. One device then makes each
operation below, one at a time, and the D1 subrequests logged during it are counted.
Prints a Markdown table. Run from the workspace root after `make build`:

    python3 bench/d1_calls.py
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
D1_SUBREQUEST = "url: 'http://d1/"
PASSWORD = "Rahasia-123456"
# The log is written by another process, so an operation counts as finished once the log
# has been quiet this long. An estimate: it was enough on a loaded 2-CPU machine.
QUIET_SECONDS = 1.5


def free_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


class Server:
    """wrangler dev on a copy of build/, in its own process group."""

    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="kasir-d1-calls-")
        for name in ("build", "wrangler.toml"):
            source = os.path.join(ROOT, name)
            target = os.path.join(self.work, name)
            if os.path.isdir(source):
                shutil.copytree(source, target)
            else:
                shutil.copy(source, target)
        dev_vars = os.path.join(ROOT, ".dev.vars")
        if not os.path.exists(dev_vars):
            dev_vars = os.path.join(ROOT, ".dev.vars.example")
        shutil.copy(dev_vars, os.path.join(self.work, ".dev.vars"))

        self.port = free_port()
        self.log_path = os.path.join(self.work, "wrangler.log")
        env = dict(os.environ, CLOUDFLARE_CF_FETCH_ENABLED="false", WRANGLER_SEND_METRICS="false",
                   WRANGLER_HIDE_BANNER="true")
        command = [
            os.path.join(ROOT, "node_modules/.bin/wrangler"), "dev",
            "--config", os.path.join(self.work, "wrangler.toml"),
            "--ip", "127.0.0.1", "--port", str(self.port), "--inspector-port", str(free_port()),
            "--persist-to", os.path.join(self.work, "state"),
            "--show-interactive-dev-session=false", "--log-level", "debug",
        ]
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=env, start_new_session=True)
        self.base_url = f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, limit_seconds=120):
        deadline = time.time() + limit_seconds
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"wrangler dev exited during start-up; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.base_url + "/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(1)
        raise RuntimeError(f"GET {self.base_url}/health did not return 200 within {limit_seconds} s")

    def d1_calls(self):
        """Returns the D1 subrequests logged so far, once the log has been quiet."""
        size = -1
        while size != os.path.getsize(self.log_path):
            size = os.path.getsize(self.log_path)
            time.sleep(QUIET_SECONDS)
        with open(self.log_path, errors="replace") as log:
            return sum(1 for line in log if D1_SUBREQUEST in line)

    def stop(self):
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.work, ignore_errors=True)


class Device:
    """A login of the tenant owner on its own device."""

    def __init__(self, server, tenant_code, email, name):
        self.server = server
        body = {"tenant": tenant_code, "email": email, "password": PASSWORD, "device": {"name": name}}
        login = call(server, "POST", "/v1/auth/login", body, expect=200)
        self.token = login["access_token"]
        self.id = login["device"]["id"]
        self.counter = 0

    def hlc(self):
        self.counter += 1
        return f"{int(time.time() * 1000):013d}-{self.counter % 65536:04x}-{self.id}"

    def push(self, mutations):
        body = {"device_id": self.id, "schema_version": 1, "mutations": mutations}
        return call(self.server, "POST", "/v1/sync/push", body, token=self.token, expect=200)["results"]


def call(server, method, path, body, token=None, expect=200):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(server.base_url + path, data=json.dumps(body).encode(), method=method,
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    if status != expect:
        raise RuntimeError(f"{method} {path} returned HTTP {status} (expected {expect}): {text[:300]!r}")
    return json.loads(text or b"null")


def edit(device, record_id, base_version, price):
    return {"id": str(uuid.uuid4()), "entity": "products", "op": "upsert", "record_id": record_id,
            "base_version": base_version, "fields": ["price"], "data": {"price": price}, "hlc": device.hlc()}


def measure(server):
    code = "d1-" + uuid.uuid4().hex[:8]
    email = f"pemilik@{code}.test"
    admin = {"code": code, "name": "Toko Hitung", "placement": "dedicated",
             "owner": {"email": email, "name": "Pemilik", "password": PASSWORD}}
    tenant = call(server, "POST", "/v1/admin/tenants", admin, token=read_admin_token(), expect=201)["tenant"]
    first = Device(server, code, email, "Kasir 1")
    second = Device(server, code, email, "Kasir 2")

    rows = []

    def counted(label, count, operation):
        before = server.d1_calls()
        result = operation()
        calls = server.d1_calls() - before
        rows.append((label, calls, calls / count))
        return result

    ids = [str(uuid.uuid4()) for _ in range(500)]
    creates = [{"id": str(uuid.uuid4()), "entity": "products", "op": "upsert", "record_id": record_id,
                "data": {"name": f"Produk {index:03}", "sku": f"D1-{index:03}", "price": 1000},
                "hlc": first.hlc()} for index, record_id in enumerate(ids)]
    results = counted("push of 500 new products", 500, lambda: first.push(creates))
    versions = [result["version"] for result in results]

    counted("push of 100 price edits from the version the device holds", 100,
            lambda: first.push([edit(first, ids[k], versions[k], 2000) for k in range(100)]))
    counted("push of 100 price edits from a version another device has changed since", 100,
            lambda: second.push([edit(second, ids[k], versions[k], 3000) for k in range(100)]))
    counted("push of 100 price edits spread over 20 products", 100,
            lambda: second.push([edit(second, ids[200 + k % 20], versions[200 + k % 20], 3000 + k)
                                 for k in range(100)]))

    def sales():
        for k in range(20):
            sale = {"id": str(uuid.uuid4()), "outlet_id": tenant["default_outlet_id"], "device_id": first.id,
                    "receipt_no": f"PUSAT-D1-170204-{k:04}", "created_at": "2017-02-04T02:00:00Z", "discount": 0,
                    "items": [{"product_id": ids[400 + k], "qty": 2, "unit_price": 1000, "discount": 0},
                              {"product_id": ids[450], "qty": 1, "unit_price": 1000, "discount": 0}],
                    "payments": [{"method": "cash", "amount": 5000}]}
            call(server, "POST", "/v1/transactions", sale, token=first.token, expect=201)

    counted("20 sales over POST /v1/transactions", 20, sales)
    return rows


def read_admin_token():
    for name in (".dev.vars", ".dev.vars.example"):
        path = os.path.join(ROOT, name)
        if not os.path.exists(path):
            continue
        with open(path) as dev_vars:
            for line in dev_vars:
                key, _, value = line.strip().partition("=")
                if key.strip() == "ADMIN_TOKEN":
                    return value.strip().strip('"').strip("'")
    raise RuntimeError("ADMIN_TOKEN not found in .dev.vars or .dev.vars.example")


def main():
    server = Server()
    try:
        server.wait_healthy()
        rows = measure(server)
    finally:
        server.stop()
    print("| Operation | D1 round trips | per mutation or sale |")
    print("| --- | ---: | ---: |")
    for label, calls, each in rows:
        print(f"| {label} | {calls} | {each:.2f} |")


if __name__ == "__main__":
    try:
        main()
    except RuntimeError as error:
        print(f"d1_calls: {error}", file=sys.stderr)
        sys.exit(1)
