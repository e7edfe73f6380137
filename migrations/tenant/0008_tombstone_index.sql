-- Tombstones by deletion time, so the check for expired tombstones that runs before each
-- pull page and the purge itself read only deleted rows, not the whole catalog.
CREATE INDEX IF NOT EXISTS products_deleted ON products (tenant_id, deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS categories_deleted ON categories (tenant_id, deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS customers_deleted ON customers (tenant_id, deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS outlets_deleted ON outlets (tenant_id, deleted_at) WHERE deleted_at IS NOT NULL;
