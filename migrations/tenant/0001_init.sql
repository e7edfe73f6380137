-- Tenant schema. Every table carries tenant_id and every query filters on it, so several
-- small tenants can share one database (shared placement).

CREATE TABLE IF NOT EXISTS tenant_state (
  tenant_id TEXT PRIMARY KEY,
  version INTEGER NOT NULL DEFAULT 0,
  purged_version INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS users (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  email TEXT NOT NULL,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS users_email ON users (tenant_id, email) WHERE deleted_at IS NULL;

CREATE TABLE IF NOT EXISTS devices (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  code TEXT NOT NULL,
  name TEXT NOT NULL,
  outlet_id TEXT,
  user_id TEXT,
  created_at TEXT NOT NULL,
  last_seen_at TEXT,
  revoked_at TEXT,
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS devices_code ON devices (tenant_id, code);

CREATE TABLE IF NOT EXISTS refresh_tokens (
  tenant_id TEXT NOT NULL,
  token_hash TEXT NOT NULL,
  family_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  device_id TEXT,
  created_at TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  rotated_at TEXT,
  revoked_at TEXT,
  PRIMARY KEY (tenant_id, token_hash)
);
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens (tenant_id, family_id);

CREATE TABLE IF NOT EXISTS outlets (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  code TEXT NOT NULL,
  name TEXT NOT NULL,
  address TEXT,
  phone TEXT,
  version INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  sync_source TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS outlets_code ON outlets (tenant_id, code) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS outlets_version ON outlets (tenant_id, version);

CREATE TABLE IF NOT EXISTS categories (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  sort_order INTEGER NOT NULL DEFAULT 0,
  version INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  sync_source TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS categories_version ON categories (tenant_id, version);

CREATE TABLE IF NOT EXISTS products (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  sku TEXT,
  barcode TEXT,
  name TEXT NOT NULL,
  category_id TEXT,
  price INTEGER NOT NULL,
  cost INTEGER,
  unit TEXT NOT NULL DEFAULT 'pcs',
  track_stock INTEGER NOT NULL DEFAULT 0,
  is_active INTEGER NOT NULL DEFAULT 1,
  image_file_id TEXT,
  low_stock_threshold INTEGER,
  version INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  sync_source TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS products_name ON products (tenant_id, name, id);
CREATE INDEX IF NOT EXISTS products_version ON products (tenant_id, version);
CREATE INDEX IF NOT EXISTS products_sku ON products (tenant_id, sku);
CREATE INDEX IF NOT EXISTS products_barcode ON products (tenant_id, barcode);

CREATE TABLE IF NOT EXISTS customers (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  phone TEXT,
  email TEXT,
  address TEXT,
  note TEXT,
  version INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  sync_source TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS customers_name ON customers (tenant_id, name, id);
CREATE INDEX IF NOT EXISTS customers_version ON customers (tenant_id, version);

-- Sales are immutable: the body hash tells a replay from a different sale under the same id.
CREATE TABLE IF NOT EXISTS transactions (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  outlet_id TEXT NOT NULL,
  device_id TEXT,
  user_id TEXT NOT NULL,
  shift_id TEXT,
  customer_id TEXT,
  receipt_no TEXT NOT NULL,
  created_at TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  items TEXT NOT NULL,
  payments TEXT NOT NULL,
  subtotal INTEGER NOT NULL,
  line_discounts INTEGER NOT NULL,
  discount INTEGER NOT NULL,
  tax INTEGER NOT NULL,
  total INTEGER NOT NULL,
  paid INTEGER NOT NULL,
  change INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'completed',
  note TEXT,
  body_hash TEXT NOT NULL,
  version INTEGER NOT NULL,
  recorded_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  sync_source TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS transactions_receipt ON transactions (tenant_id, receipt_no);
CREATE INDEX IF NOT EXISTS transactions_version ON transactions (tenant_id, version);
CREATE INDEX IF NOT EXISTS transactions_created ON transactions (tenant_id, created_at_ms, id);

CREATE TABLE IF NOT EXISTS stock_movements (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  product_id TEXT NOT NULL,
  outlet_id TEXT NOT NULL,
  qty INTEGER NOT NULL,
  kind TEXT NOT NULL,
  ref_id TEXT,
  note TEXT,
  created_at TEXT NOT NULL,
  version INTEGER NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  sync_source TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS stock_movements_version ON stock_movements (tenant_id, version);

-- First result of each pushed mutation, so a retried push answers the same.
CREATE TABLE IF NOT EXISTS sync_mutations (
  tenant_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  mutation_id TEXT NOT NULL,
  result TEXT NOT NULL,
  applied_at TEXT NOT NULL,
  PRIMARY KEY (tenant_id, device_id, mutation_id)
);

CREATE TABLE IF NOT EXISTS sync_log (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  device_id TEXT,
  user_id TEXT,
  at TEXT NOT NULL,
  counts TEXT NOT NULL,
  duration_ms INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id)
);

CREATE TABLE IF NOT EXISTS audit_log (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  at TEXT NOT NULL,
  user_id TEXT,
  action TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (tenant_id, id)
);
