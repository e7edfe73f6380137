-- Tenant directory: which database holds each shop, and its status, plan and settings.
CREATE TABLE IF NOT EXISTS tenants (
  id TEXT PRIMARY KEY,
  code TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'active',
  plan TEXT NOT NULL DEFAULT 'free',
  placement TEXT NOT NULL,
  db_binding TEXT NOT NULL,
  timezone TEXT NOT NULL DEFAULT 'Asia/Jakarta',
  currency TEXT NOT NULL DEFAULT 'IDR',
  locale TEXT NOT NULL DEFAULT 'id',
  modules TEXT NOT NULL,
  settings TEXT NOT NULL DEFAULT '{}',
  schema_version INTEGER NOT NULL DEFAULT 0,
  default_outlet_id TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

-- A dedicated database serves one tenant only; the claim races on this index.
CREATE UNIQUE INDEX IF NOT EXISTS tenants_dedicated_binding
  ON tenants (db_binding) WHERE placement = 'dedicated';

-- Failed login attempts, counted per key (tenant and email, or client address) and window.
CREATE TABLE IF NOT EXISTS login_failures (
  key TEXT NOT NULL,
  window_start INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (key, window_start)
);

-- Platform admin actions and security events that concern no single tenant database.
CREATE TABLE IF NOT EXISTS admin_audit (
  id TEXT PRIMARY KEY,
  at TEXT NOT NULL,
  action TEXT NOT NULL,
  tenant_code TEXT,
  detail TEXT NOT NULL DEFAULT '{}'
);
