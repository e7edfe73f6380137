-- Whether the device that wrote a catalog row's current version had seen every version
-- before it: only then is its next change of that row not concurrent with anything.
ALTER TABLE products ADD COLUMN updated_device_caught_up INTEGER NOT NULL DEFAULT 0;
ALTER TABLE categories ADD COLUMN updated_device_caught_up INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN updated_device_caught_up INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outlets ADD COLUMN updated_device_caught_up INTEGER NOT NULL DEFAULT 0;
