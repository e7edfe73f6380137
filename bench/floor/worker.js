// Raw floor for `make bench`: the cheapest way to put the same rows into D1 that the product
// writes, with nothing else around it. It speaks just enough of the product's HTTP contract
// for kasir-sim to drive it unchanged:
//
//   POST /v1/admin/tenants   picks a database for the tenant, applies the tenant schema
//   POST /v1/auth/login      returns "<database>.<tenant code>" as the bearer token
//   POST /v1/sync/push       one D1 batch of product upserts; every mutation is "applied"
//   GET  /v1/sync/pull       products after a version, in version order
//   POST /v1/transactions    one INSERT OR IGNORE of the sale row
//
// It has no auth, validation, merge rules, change log, idempotency records or sync log.
// Versions come from a counter in this isolate, so a pull can miss a batch that commits
// late: that guarantee is part of what the product pays for and the floor does not.

import init from "../../migrations/tenant/0001_init.sql";
import syncEngine from "../../migrations/tenant/0002_sync_engine.sql";
import lastWriter from "../../migrations/tenant/0003_last_writer.sql";
import posDomain from "../../migrations/tenant/0004_pos_domain.sql";
import files from "../../migrations/tenant/0005_files.sql";
import backups from "../../migrations/tenant/0006_backups.sql";
import writerCaughtUp from "../../migrations/tenant/0007_writer_caught_up.sql";

const MIGRATIONS = [init, syncEngine, lastWriter, posDomain, files, backups, writerCaughtUp];
const DATABASES = ["DB_1", "DB_2", "DB_3", "DB_4", "DB_5", "DB_6"];
// Same clamp as the product's pull.
const MAX_PULL_LIMIT = 2000;
const DEFAULT_PULL_LIMIT = 500;

// Product columns a push may set, with the value an insert uses when the push leaves one out.
const PRODUCT_COLUMNS = {
  sku: null,
  barcode: null,
  name: "",
  category_id: null,
  price: 0,
  cost: null,
  unit: "pcs",
  track_stock: 0,
  is_active: 1,
  image_file_id: null,
  low_stock_threshold: null,
};
const PULL_COLUMNS =
  "id, sku, barcode, name, category_id, price, cost, unit, track_stock, is_active, image_file_id, " +
  "low_stock_threshold, version, updated_at, deleted_at, sync_source";

// Microseconds since 1970 at start-up, then one more per written row.
let lastVersion = Date.now() * 1000;

function nextVersion() {
  lastVersion += 1;
  return lastVersion;
}

function json(status, body) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function failure(status, code, message) {
  return json(status, { error: { code, message, details: [] } });
}

// Splits a migration file into statements: comment lines go, and a statement ends with ";"
// at the end of a line (the files hold no triggers).
function statements(sql) {
  const result = [];
  let current = "";
  for (const line of sql.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("--")) continue;
    current += line + "\n";
    if (trimmed.endsWith(";")) {
      result.push(current.trim());
      current = "";
    }
  }
  if (current.trim() !== "") result.push(current.trim());
  return result;
}

async function ensureSchema(db) {
  const existing = await db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'products'").first();
  if (existing) return;
  const batch = MIGRATIONS.flatMap(statements).map((sql) => db.prepare(sql));
  await db.batch(batch);
}

async function ensureDirectory(env) {
  await env.DB_1.prepare(
    "CREATE TABLE IF NOT EXISTS floor_tenants (code TEXT PRIMARY KEY, id TEXT NOT NULL, outlet_id TEXT NOT NULL, database INTEGER NOT NULL)",
  ).run();
}

async function createTenant(request, env) {
  const body = await request.json();
  await ensureDirectory(env);
  const count = await env.DB_1.prepare("SELECT COUNT(*) AS n FROM floor_tenants").first("n");
  const database = count % DATABASES.length;
  await ensureSchema(env[DATABASES[database]]);

  const tenant = { id: crypto.randomUUID(), code: body.code, name: body.name, default_outlet_id: crypto.randomUUID() };
  await env.DB_1.prepare("INSERT INTO floor_tenants (code, id, outlet_id, database) VALUES (?, ?, ?, ?)")
    .bind(tenant.code, tenant.id, tenant.default_outlet_id, database)
    .run();
  const owner = { id: crypto.randomUUID(), email: body.owner?.email, name: body.owner?.name, role: "owner" };
  return json(201, { tenant, owner });
}

async function login(request, env) {
  const body = await request.json();
  const row = await env.DB_1.prepare("SELECT id, database FROM floor_tenants WHERE code = ?").bind(body.tenant).first();
  if (!row) return failure(401, "unauthorized", "unknown tenant");
  const device = { id: body.device?.id ?? crypto.randomUUID(), name: body.device?.name ?? "floor" };
  device.code = device.id.replaceAll("-", "").slice(0, 6).toUpperCase();
  return json(200, {
    access_token: `${row.database}.${body.tenant}`,
    token_type: "Bearer",
    expires_in: 86400,
    refresh_token: crypto.randomUUID(),
    user: { id: crypto.randomUUID(), role: "owner" },
    tenant: { id: row.id, code: body.tenant },
    device,
  });
}

// Returns the tenant code and its database from "Bearer <database>.<code>", or null.
function tenantOf(request, env) {
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer (\d+)\.(.+)$/.exec(header);
  if (!match) return null;
  const db = env[DATABASES[Number(match[1])]];
  return db ? { code: match[2], db } : null;
}

function productStatement(db, tenant, mutation, now) {
  const version = nextVersion();
  if (mutation.op === "delete") {
    const sql = "UPDATE products SET deleted_at = ?, version = ?, updated_at = ?, hlc = ? WHERE tenant_id = ? AND id = ?";
    return { version, statement: db.prepare(sql).bind(now, version, now, mutation.hlc ?? null, tenant, mutation.record_id) };
  }

  const data = mutation.data ?? {};
  const sent = Object.keys(PRODUCT_COLUMNS).filter((column) => column in data);
  const columns = Object.keys(PRODUCT_COLUMNS);
  const values = columns.map((column) => {
    const value = column in data ? data[column] : PRODUCT_COLUMNS[column];
    return typeof value === "boolean" ? Number(value) : value;
  });
  const updates = sent.map((column) => `${column} = excluded.${column}`);
  updates.push("version = excluded.version", "updated_at = excluded.updated_at", "hlc = excluded.hlc", "deleted_at = NULL");
  const sql =
    `INSERT INTO products (tenant_id, id, ${columns.join(", ")}, version, created_at, updated_at, sync_source, hlc) ` +
    `VALUES (?, ?, ${columns.map(() => "?").join(", ")}, ?, ?, ?, ?, ?) ` +
    `ON CONFLICT (tenant_id, id) DO UPDATE SET ${updates.join(", ")}`;
  const bindings = [tenant, mutation.record_id, ...values, version, now, now, mutation.sync_source ?? "mobile", mutation.hlc ?? null];
  return { version, statement: db.prepare(sql).bind(...bindings) };
}

async function push(request, env) {
  const tenant = tenantOf(request, env);
  if (!tenant) return failure(401, "unauthorized", "missing or malformed token");
  const body = await request.json();
  const now = new Date().toISOString();

  const batch = [];
  const results = [];
  for (const mutation of body.mutations ?? []) {
    if (mutation.entity !== "products") {
      results.push({ mutation_id: mutation.id, status: "rejected", error: { code: "validation_failed" } });
      continue;
    }
    const { version, statement } = productStatement(tenant.db, tenant.code, mutation, now);
    batch.push(statement);
    results.push({ mutation_id: mutation.id, status: "applied", version });
  }
  if (batch.length > 0) await tenant.db.batch(batch);
  return json(200, { results, version: lastVersion });
}

async function pull(request, env) {
  const tenant = tenantOf(request, env);
  if (!tenant) return failure(401, "unauthorized", "missing or malformed token");
  const url = new URL(request.url);
  const after = Number(url.searchParams.get("cursor") ?? 0) || 0;
  const requested = Number(url.searchParams.get("limit") ?? DEFAULT_PULL_LIMIT) || DEFAULT_PULL_LIMIT;
  const limit = Math.min(Math.max(requested, 1), MAX_PULL_LIMIT);

  const sql = `SELECT ${PULL_COLUMNS} FROM products WHERE tenant_id = ? AND version > ? ORDER BY version LIMIT ?`;
  const { results: rows } = await tenant.db.prepare(sql).bind(tenant.code, after, limit + 1).all();
  const hasMore = rows.length > limit;
  const page = hasMore ? rows.slice(0, limit) : rows;
  const products = { upserted: [], deleted: [] };
  for (const row of page) {
    if (row.deleted_at) products.deleted.push(row.id);
    else products.upserted.push(row);
  }
  const cursor = page.length > 0 ? String(page[page.length - 1].version) : String(after);
  return json(200, { changes: { products }, cursor, has_more: hasMore });
}

async function createSale(request, env) {
  const tenant = tenantOf(request, env);
  if (!tenant) return failure(401, "unauthorized", "missing or malformed token");
  const sale = await request.json();
  const now = new Date().toISOString();

  let subtotal = 0;
  let lineDiscounts = 0;
  for (const item of sale.items ?? []) {
    const discount = item.discount ?? 0;
    subtotal += Math.round(item.qty * item.unit_price) - discount;
    lineDiscounts += discount;
  }
  const discount = sale.discount ?? 0;
  const total = subtotal - discount;
  const paid = (sale.payments ?? []).reduce((sum, payment) => sum + payment.amount, 0);

  const sql =
    "INSERT OR IGNORE INTO transactions (tenant_id, id, outlet_id, device_id, user_id, receipt_no, created_at, " +
    "created_at_ms, items, payments, subtotal, line_discounts, discount, tax, total, paid, change, status, note, " +
    "body_hash, version, recorded_at, updated_at, sync_source) " +
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, 'completed', ?, '', ?, ?, ?, 'mobile')";
  const outcome = await tenant.db
    .prepare(sql)
    .bind(
      tenant.code, sale.id, sale.outlet_id, sale.device_id ?? null, "floor", sale.receipt_no, sale.created_at,
      Date.parse(sale.created_at) || 0, JSON.stringify(sale.items ?? []), JSON.stringify(sale.payments ?? []),
      subtotal, lineDiscounts, discount, total, paid, paid - total, sale.note ?? null, nextVersion(), now, now,
    )
    .run();
  const status = outcome.meta.changes > 0 ? 201 : 200;
  return json(status, { id: sale.id, receipt_no: sale.receipt_no, subtotal, discount, tax: 0, total, change: paid - total });
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    const route = `${request.method} ${pathname}`;
    switch (route) {
      case "GET /health":
        return json(200, { status: "ok" });
      case "POST /v1/admin/tenants":
        return createTenant(request, env);
      case "POST /v1/auth/login":
        return login(request, env);
      case "POST /v1/sync/push":
        return push(request, env);
      case "GET /v1/sync/pull":
        return pull(request, env);
      case "POST /v1/transactions":
        return createSale(request, env);
      default:
        return failure(404, "not_found", `no route ${route}`);
    }
  },
};
