-- The device that wrote each catalog row's current version: a device's next change of a
-- version it wrote itself is not concurrent with anything.
ALTER TABLE products ADD COLUMN updated_device_id TEXT;
ALTER TABLE categories ADD COLUMN updated_device_id TEXT;
ALTER TABLE customers ADD COLUMN updated_device_id TEXT;
ALTER TABLE outlets ADD COLUMN updated_device_id TEXT;
