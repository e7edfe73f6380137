-- Backups of the tenant's data in R2: the NDJSON (gzip) object and its manifest.
CREATE TABLE IF NOT EXISTS backups (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  kind TEXT NOT NULL,
  created_at TEXT NOT NULL,
  size INTEGER NOT NULL,
  row_counts TEXT NOT NULL,
  schema_version INTEGER NOT NULL,
  checksum TEXT NOT NULL,
  data_key TEXT NOT NULL,
  manifest_key TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS backups_created ON backups (tenant_id, created_at);
