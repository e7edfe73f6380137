-- Metadata of uploaded files; the bytes live in the object store under `object_key`.
-- kind: 'logo', 'product' or 'doc'. checksum: SHA-256 of the bytes as lowercase hex, also the
-- download's ETag. original_name: the client's file name, cleaned, kept only for display.
CREATE TABLE IF NOT EXISTS files (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  kind TEXT NOT NULL,
  object_key TEXT NOT NULL,
  content_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  checksum TEXT NOT NULL,
  original_name TEXT,
  uploaded_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS files_created ON files (tenant_id, created_at, id);
CREATE INDEX IF NOT EXISTS products_image ON products (tenant_id, image_file_id);
