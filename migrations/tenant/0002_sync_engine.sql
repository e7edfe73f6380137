-- Sync engine: clocks on catalog rows, record snapshots for three-way merges, conflicts held
-- for manual review, and what a WatermelonDB pull needs to tell created from updated.

ALTER TABLE products ADD COLUMN hlc TEXT;
ALTER TABLE products ADD COLUMN created_version INTEGER;
ALTER TABLE products ADD COLUMN created_device_id TEXT;
ALTER TABLE categories ADD COLUMN hlc TEXT;
ALTER TABLE categories ADD COLUMN created_version INTEGER;
ALTER TABLE categories ADD COLUMN created_device_id TEXT;
ALTER TABLE customers ADD COLUMN hlc TEXT;
ALTER TABLE customers ADD COLUMN created_version INTEGER;
ALTER TABLE customers ADD COLUMN created_device_id TEXT;
ALTER TABLE outlets ADD COLUMN hlc TEXT;
ALTER TABLE outlets ADD COLUMN created_version INTEGER;
ALTER TABLE outlets ADD COLUMN created_device_id TEXT;
ALTER TABLE stock_movements ADD COLUMN device_id TEXT;
ALTER TABLE stock_movements ADD COLUMN user_id TEXT;
ALTER TABLE stock_movements ADD COLUMN body_hash TEXT;

-- The client-visible columns of a catalog record at each version, so a field merge can see
-- what the pushing device started from. Purged with tombstones.
CREATE TABLE IF NOT EXISTS record_history (
  tenant_id TEXT NOT NULL,
  entity TEXT NOT NULL,
  record_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  fields TEXT NOT NULL,
  PRIMARY KEY (tenant_id, entity, record_id, version)
);
CREATE INDEX IF NOT EXISTS record_history_version ON record_history (tenant_id, version);

CREATE TABLE IF NOT EXISTS sync_conflicts (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  entity TEXT NOT NULL,
  record_id TEXT NOT NULL,
  op TEXT NOT NULL,
  fields TEXT NOT NULL,
  server TEXT NOT NULL,
  client TEXT NOT NULL,
  base_version INTEGER,
  hlc TEXT NOT NULL,
  device_id TEXT,
  user_id TEXT,
  created_at TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'open',
  resolution TEXT,
  resolved_at TEXT,
  resolved_by TEXT,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS sync_conflicts_status ON sync_conflicts (tenant_id, status, created_at);

-- Rejected insert-only writes (another body under a stored sale's id), kept for review.
CREATE TABLE IF NOT EXISTS sync_rejections (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  entity TEXT NOT NULL,
  record_id TEXT NOT NULL,
  device_id TEXT,
  reason TEXT NOT NULL,
  body TEXT NOT NULL,
  at TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
