#!/usr/bin/env python3
"""Soak test: 20 simulated terminals across 4 tenants sell, edit products, push (with
retried, lost answers) and pull for SOAK_SECONDS against a running server; then every sale
sent must be stored exactly once, in its own tenant only.

Usage: soak.py BASE_URL ADMIN_TOKEN (scripts/soak.sh starts the server)."""

import json
import os
import random
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

BASE, ADMIN = sys.argv[1], sys.argv[2]
SECONDS = int(os.environ.get("SOAK_SECONDS", "180"))
TENANTS, DEVICES = 4, 5
PASSWORD = "rahasia-soak-123"


def call(method, path, body=None, token=None, attempts=3):
    """Sends one request, retrying connection failures; returns (status, json)."""
    data = json.dumps(body).encode() if body is not None else None
    for attempt in range(attempts):
        request = urllib.request.Request(BASE + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                text = response.read()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            text = error.read()
            try:
                return error.code, json.loads(text)
            except ValueError:
                return error.code, None
        except OSError:
            if attempt == attempts - 1:
                raise
            time.sleep(1)
    raise RuntimeError("unreachable")


def hlc(device):
    return "%013d-0000-%s" % (int(time.time() * 1000), device)


class Terminal(threading.Thread):
    def __init__(self, shop, token, device, outlet, products, seed):
        super().__init__(daemon=True)
        self.shop, self.token, self.device, self.outlet = shop, token, device, outlet
        self.products = products
        self.random = random.Random(seed)
        self.sent = {}  # sale id -> total
        self.errors = []
        self.cursor = None
        self.receipt = 0

    def sale_body(self):
        self.receipt += 1
        lines = []
        for product_id, price in self.random.sample(self.products, self.random.randint(1, 3)):
            lines.append({"product_id": product_id, "qty": self.random.randint(1, 3), "unit_price": price, "discount": 0})
        total = sum(line["qty"] * line["unit_price"] for line in lines)
        return {
            "id": str(uuid.uuid4()),
            "outlet_id": self.outlet,
            "device_id": self.device,
            "receipt_no": "SOAK-%s-%06d" % (self.device[:8], self.receipt),
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "items": lines,
            "discount": 0,
            "payments": [{"method": self.random.choice(["cash", "qris"]), "amount": total}],
        }, total

    def push(self, mutations):
        body = {"device_id": self.device, "schema_version": 1, "mutations": mutations}
        status, answer = call("POST", "/v1/sync/push", body, self.token)
        # A lost answer: the terminal sends the same mutations again and must get the same
        # results; the tenant's `version` in the answer may have moved on meanwhile.
        if status == 200 and self.random.random() < 0.2:
            status, again = call("POST", "/v1/sync/push", body, self.token)
            if status == 200 and again["results"] != answer["results"]:
                self.errors.append("retried push answered differently")
        if status != 200:
            self.errors.append("push answered %s: %s" % (status, answer))
        return answer

    def run(self):
        deadline = time.time() + SECONDS
        while time.time() < deadline:
            action = self.random.random()
            if action < 0.5:
                body, total = self.sale_body()
                if self.random.random() < 0.5:
                    status, _ = call("POST", "/v1/transactions", body, self.token)
                    if status not in (200, 201):
                        self.errors.append("sale answered %s" % status)
                        continue
                else:
                    self.push([{"id": str(uuid.uuid4()), "entity": "transactions", "op": "upsert",
                                "record_id": body["id"], "data": body, "hlc": hlc(self.device)}])
                self.sent[body["id"]] = total
            elif action < 0.8:
                product_id, _ = self.random.choice(self.products)
                self.push([{"id": str(uuid.uuid4()), "entity": "products", "op": "upsert", "record_id": product_id,
                            "data": {"name": "Soak %d" % self.random.randint(1, 999)}, "fields": ["name"],
                            "hlc": hlc(self.device)}])
            else:
                path = "/v1/sync/pull?limit=200" + ("&cursor=" + self.cursor if self.cursor else "")
                status, page = call("GET", path, None, self.token)
                if status == 200:
                    self.cursor = page["cursor"]
                elif status == 410:
                    self.cursor = None
                else:
                    self.errors.append("pull answered %s" % status)


def all_sales(token):
    sales, cursor = [], None
    while True:
        path = "/v1/transactions?limit=500" + ("&cursor=" + cursor if cursor else "")
        status, page = call("GET", path, None, token)
        if status != 200:
            raise RuntimeError("listing sales failed with status %s" % status)
        sales.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return sales


def main():
    shops, terminals = [], []
    for index in range(TENANTS):
        code = "soak-%d-%s" % (index, uuid.uuid4().hex[:6])
        owner = {"email": "pemilik@%s.test" % code, "name": "Pemilik", "password": PASSWORD}
        status, made = call("POST", "/v1/admin/tenants", {"code": code, "name": "Soak %d" % index, "owner": owner}, ADMIN)
        assert status == 201, made
        status, login = call("POST", "/v1/auth/login", {"tenant": code, "email": owner["email"], "password": PASSWORD})
        owner_token = login["access_token"]
        products = []
        for number in range(20):
            price = 1000 * (number + 1)
            status, product = call("POST", "/v1/products", {"name": "Barang %d" % number, "price": price}, owner_token)
            products.append((product["id"], price))
        shops.append({"code": code, "owner": owner_token})
        for device_number in range(DEVICES):
            status, login = call("POST", "/v1/auth/login", {"tenant": code, "email": owner["email"], "password": PASSWORD,
                                                            "device": {"name": "Soak %d" % device_number}})
            terminals.append(Terminal(code, login["access_token"], login["device"]["id"],
                                      made["tenant"]["default_outlet_id"], products, index * 100 + device_number))
    for terminal in terminals:
        terminal.start()
    for terminal in terminals:
        terminal.join()

    passed, failed = 0, 0

    def check(condition, message):
        nonlocal passed, failed
        if condition:
            passed += 1
        else:
            failed += 1
            print("FAILED: " + message)

    all_ids = {}
    for shop in shops:
        stored = all_sales(shop["owner"])
        ids = [sale["id"] for sale in stored]
        sent = {}
        for terminal in terminals:
            if terminal.shop == shop["code"]:
                sent.update(terminal.sent)
        check(len(ids) == len(set(ids)), "%s stores a sale twice" % shop["code"])
        check(set(ids) == set(sent), "%s stores %d sales, %d were sent" % (shop["code"], len(set(ids)), len(sent)))
        check(sum(sale["total"] for sale in stored) == sum(sent.values()), "%s totals differ" % shop["code"])
        for sale_id in ids:
            check(sale_id not in all_ids, "sale %s appears in two tenants" % sale_id)
            all_ids[sale_id] = shop["code"]
        print("%s: %d sales sent, %d stored" % (shop["code"], len(sent), len(ids)))
    for terminal in terminals:
        check(not terminal.errors, "terminal %s: %s" % (terminal.device, terminal.errors[:3]))
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
