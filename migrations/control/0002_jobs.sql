-- Background jobs of every tenant (emails, backups, restores, offboarding), so the platform
-- admin sees failures in one place. `slot` makes scheduled jobs idempotent: one backup or
-- daily email per tenant and day, however often it is enqueued.
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  tenant_id TEXT,
  tenant_code TEXT,
  kind TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'queued',
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  result TEXT,
  payload TEXT NOT NULL DEFAULT '{}',
  slot TEXT UNIQUE,
  created_by TEXT,
  dead_lettered INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, updated_at);
CREATE INDEX IF NOT EXISTS jobs_tenant ON jobs (tenant_id, created_at);
