//! A terminal's local store: the catalog as last pulled, the pull cursor, and the outbox of
//! mutations made offline and not yet acknowledged by the server.

use std::collections::{HashMap, VecDeque};

use kasir_core::hlc::Hlc;
use serde_json::{json, Map, Value};

use crate::target::TargetKind;

/// A catalog product in the terminal's local store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalProduct {
    pub id: String,
    pub name: String,
    pub sku: Option<String>,
    /// Price in whole rupiah.
    pub price: i64,
    pub is_active: bool,
    /// The server's version of the row, `None` for a product created here and not yet pushed.
    pub version: Option<i64>,
}

/// One change made on the terminal, in the shape of a sync push mutation.
#[derive(Debug, Clone)]
pub struct Mutation {
    /// Mutation UUID. It stays the same on every retry, so a server that records mutation ids,
    /// as Kasir Edge does, applies it once.
    pub id: String,
    pub entity: &'static str,
    /// `upsert` or `delete`.
    pub op: &'static str,
    pub record_id: String,
    /// The record's version the terminal started from; `None` for a record it created.
    pub base_version: Option<i64>,
    /// Columns changed since `base_version`; `None` means every key of `data`.
    pub fields: Option<Vec<String>>,
    pub data: Map<String, Value>,
    pub hlc: Hlc,
}

impl Mutation {
    /// Returns the mutation as the push body of `kind` carries it. The peer also gets
    /// `data.updated_at`: the HLC's wall time as RFC 3339, which its last-write-wins compares.
    pub fn to_json(&self, kind: TargetKind) -> Value {
        let mut data = self.data.clone();
        if kind.needs_updated_at() && self.entity == "products" {
            data.insert("updated_at".to_string(), json!(rfc3339_millis(self.hlc.millis)));
        }
        let mut mutation = json!({
            "id": self.id,
            "entity": self.entity,
            "op": self.op,
            "record_id": self.record_id,
            "data": data,
            "hlc": self.hlc.to_string(),
        });
        if let Some(version) = self.base_version {
            mutation["base_version"] = json!(version);
        }
        if let Some(fields) = &self.fields {
            mutation["fields"] = json!(fields);
        }
        mutation
    }
}

/// Formats Unix milliseconds as RFC 3339 UTC with milliseconds.
pub fn rfc3339_millis(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Catalog, cursor and outbox of one terminal.
#[derive(Debug, Clone, Default)]
pub struct LocalStore {
    products: Vec<LocalProduct>,
    index_by_id: HashMap<String, usize>,
    index_by_sku: HashMap<String, usize>,
    /// Pull cursor after the last page applied; `None` before the first sync.
    pub cursor: Option<String>,
    /// Mutations not yet acknowledged, oldest first.
    pub outbox: VecDeque<Mutation>,
    /// Receipt sequence of the terminal's last sale.
    pub receipt_sequence: u32,
}

impl LocalStore {
    pub fn product_count(&self) -> usize {
        self.products.len()
    }

    pub fn products(&self) -> &[LocalProduct] {
        &self.products
    }

    pub fn product(&self, id: &str) -> Option<&LocalProduct> {
        self.index_by_id.get(id).map(|&index| &self.products[index])
    }

    pub fn product_by_sku(&self, sku: &str) -> Option<&LocalProduct> {
        self.index_by_sku.get(sku).map(|&index| &self.products[index])
    }

    pub fn product_at(&self, index: usize) -> &LocalProduct {
        &self.products[index]
    }

    /// Inserts or replaces a product, keyed by id.
    pub fn put_product(&mut self, product: LocalProduct) {
        if let Some(sku) = &product.sku {
            let index = self
                .index_by_id
                .get(&product.id)
                .copied()
                .unwrap_or(self.products.len());
            self.index_by_sku.insert(sku.clone(), index);
        }
        match self.index_by_id.get(&product.id) {
            Some(&index) => self.products[index] = product,
            None => {
                self.index_by_id.insert(product.id.clone(), self.products.len());
                self.products.push(product);
            }
        }
    }

    /// Changes a product in place; returns `false` when the id is unknown.
    pub fn update_product(&mut self, id: &str, change: impl FnOnce(&mut LocalProduct)) -> bool {
        match self.index_by_id.get(id) {
            Some(&index) => {
                change(&mut self.products[index]);
                true
            }
            None => false,
        }
    }

    /// Removes a product that the server reported deleted.
    pub fn remove_product(&mut self, id: &str) {
        let Some(index) = self.index_by_id.remove(id) else {
            return;
        };
        let removed = self.products.swap_remove(index);
        if let Some(sku) = &removed.sku {
            self.index_by_sku.remove(sku);
        }
        if let Some(moved) = self.products.get(index) {
            self.index_by_id.insert(moved.id.clone(), index);
            if let Some(sku) = &moved.sku {
                self.index_by_sku.insert(sku.clone(), index);
            }
        }
    }

    /// Applies one pulled product row. Rows without an id are ignored.
    pub fn apply_pulled_product(&mut self, row: &Value) {
        let Some(id) = row["id"].as_str() else {
            return;
        };
        // The floor returns SQLite integers for booleans.
        let is_active = match &row["is_active"] {
            Value::Bool(flag) => *flag,
            Value::Number(number) => number.as_i64() != Some(0),
            _ => true,
        };
        self.put_product(LocalProduct {
            id: id.to_string(),
            name: row["name"].as_str().unwrap_or_default().to_string(),
            sku: row["sku"].as_str().map(str::to_string),
            price: row["price"].as_i64().unwrap_or_default(),
            is_active,
            version: row["version"].as_i64(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: &str, sku: &str, price: i64) -> LocalProduct {
        LocalProduct {
            id: id.to_string(),
            name: format!("Produk {id}"),
            sku: Some(sku.to_string()),
            price,
            is_active: true,
            version: Some(1),
        }
    }

    #[test]
    fn put_product_replaces_by_id() {
        let mut store = LocalStore::default();
        store.put_product(product("a", "S-1", 1000));
        store.put_product(product("a", "S-1", 2000));

        assert_eq!(store.product_count(), 1);
        assert_eq!(store.product("a").map(|p| p.price), Some(2000));
        assert_eq!(store.product_by_sku("S-1").map(|p| p.price), Some(2000));
    }

    #[test]
    fn remove_product_keeps_indexes_of_moved_row() {
        let mut store = LocalStore::default();
        store.put_product(product("a", "S-1", 1000));
        store.put_product(product("b", "S-2", 2000));
        store.put_product(product("c", "S-3", 3000));

        store.remove_product("a");

        assert_eq!(store.product_count(), 2);
        assert!(store.product("a").is_none());
        assert!(store.product_by_sku("S-1").is_none());
        assert_eq!(store.product("c").map(|p| p.price), Some(3000));
        assert_eq!(store.product_by_sku("S-3").map(|p| p.id.as_str()), Some("c"));
    }

    #[test]
    fn apply_pulled_product_reads_integer_booleans() {
        let mut store = LocalStore::default();
        store.apply_pulled_product(&json!({"id": "a", "name": "Roti", "price": 18000, "is_active": 0, "version": 7}));

        let pulled = store.product("a").unwrap();
        assert!(!pulled.is_active);
        assert_eq!(pulled.version, Some(7));
        assert_eq!(pulled.sku, None);
    }

    #[test]
    fn peer_mutation_carries_updated_at() {
        let mutation = Mutation {
            id: "m".to_string(),
            entity: "products",
            op: "upsert",
            record_id: "r".to_string(),
            base_version: Some(3),
            fields: Some(vec!["price".to_string()]),
            data: json!({"price": 5000}).as_object().cloned().unwrap(),
            hlc: Hlc::parse("1700000000123-0001-device").unwrap(),
        };

        let for_peer = mutation.to_json(TargetKind::Peer);
        let for_kasir = mutation.to_json(TargetKind::Kasir);

        assert_eq!(for_peer["data"]["updated_at"], "2023-11-14T22:13:20.123Z");
        assert!(for_kasir["data"].get("updated_at").is_none());
        assert_eq!(for_kasir["base_version"], 3);
        assert_eq!(for_kasir["fields"], json!(["price"]));
        assert_eq!(for_kasir["hlc"], "1700000000123-0001-device");
    }
}
