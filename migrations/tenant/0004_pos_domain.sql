-- Cash drawer shifts, and voids and refunds as records that point at the sale they reverse.

CREATE TABLE IF NOT EXISTS shifts (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  outlet_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  device_id TEXT,
  opening_float INTEGER NOT NULL,
  opened_at TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'open',
  closed_at TEXT,
  counted_cash INTEGER,
  expected_cash INTEGER,
  difference INTEGER,
  totals_by_method TEXT,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS shifts_user ON shifts (tenant_id, user_id, status);
CREATE INDEX IF NOT EXISTS shifts_opened ON shifts (tenant_id, opened_at, id);

-- kind 'void' reverses a whole sale; kind 'refund' returns some or all of its lines.
-- items: [{product_id, line, qty, amount}] with qty in the API's decimal form.
CREATE TABLE IF NOT EXISTS sale_returns (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  transaction_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  items TEXT NOT NULL,
  total INTEGER NOT NULL,
  method TEXT NOT NULL DEFAULT 'cash',
  reason TEXT NOT NULL,
  user_id TEXT NOT NULL,
  device_id TEXT,
  shift_id TEXT,
  body_hash TEXT NOT NULL,
  created_at TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS sale_returns_transaction ON sale_returns (tenant_id, transaction_id);
CREATE INDEX IF NOT EXISTS sale_returns_created ON sale_returns (tenant_id, created_at_ms);
CREATE INDEX IF NOT EXISTS transactions_shift ON transactions (tenant_id, shift_id);
CREATE INDEX IF NOT EXISTS transactions_customer ON transactions (tenant_id, customer_id, created_at_ms);
CREATE INDEX IF NOT EXISTS stock_movements_level ON stock_movements (tenant_id, outlet_id, product_id);
CREATE INDEX IF NOT EXISTS stock_movements_created ON stock_movements (tenant_id, created_at, id);
