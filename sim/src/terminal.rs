//! One POS terminal: a device login, a local store, an HLC, and the calls that move data
//! between the store and the server (pull, push with retries, and REST sales).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kasir_core::hlc::Hlc;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::http::{Client, RetryPolicy};
use crate::store::{LocalProduct, LocalStore, Mutation};
use crate::target::{login_device, Session, TargetKind, TenantAccount};

/// Pages one pull may take before the terminal gives up: enough for 100,000 rows at 50 rows
/// per page.
const MAX_PULL_PAGES: usize = 2_000;

/// Results of pushed mutations, by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    pub applied: u64,
    pub merged: u64,
    pub duplicate: u64,
    pub conflict: u64,
    pub rejected: u64,
}

impl StatusCounts {
    pub fn add(&mut self, other: &StatusCounts) {
        self.applied += other.applied;
        self.merged += other.merged;
        self.duplicate += other.duplicate;
        self.conflict += other.conflict;
        self.rejected += other.rejected;
    }

    /// Mutations the server took in: every status except `rejected`.
    pub fn accepted(&self) -> u64 {
        self.applied + self.merged + self.duplicate + self.conflict
    }

    fn count(&mut self, status: &str) {
        match status {
            "applied" => self.applied += 1,
            "merged" => self.merged += 1,
            "duplicate" => self.duplicate += 1,
            "conflict" => self.conflict += 1,
            _ => self.rejected += 1,
        }
    }
}

/// Result of one pushed batch.
#[derive(Debug, Clone)]
pub struct BatchOutcome {
    /// Time from the first attempt to the reply, retries included.
    pub latency: Duration,
    pub attempts: u32,
    pub counts: StatusCounts,
    /// `result` objects of the push reply, in mutation order.
    pub results: Vec<Value>,
    /// Error of the first rejected mutation, for the log.
    pub first_rejection: Option<String>,
    /// Cause of each failed attempt before the reply.
    pub retry_causes: Vec<String>,
}

/// Rows and timings of one pull: every page until `has_more` is false.
#[derive(Debug, Clone, Default)]
pub struct PullOutcome {
    pub upserted: usize,
    pub deleted: usize,
    pub pages: usize,
    pub elapsed: Duration,
    pub page_latencies: Vec<Duration>,
    /// Rows received so far and time since the pull began, after each page.
    pub progress: Vec<(usize, Duration)>,
    /// Distinct product ids received, when the caller asked to collect them.
    pub product_ids: Option<HashSet<String>>,
}

/// Status, timing and body of one REST sale.
#[derive(Debug, Clone)]
pub struct SaleOutcome {
    pub status: u16,
    /// Time from the first attempt to the reply, retries included.
    pub latency: Duration,
    pub attempts: u32,
    pub body: Value,
    /// Cause of each failed attempt before the reply.
    pub retry_causes: Vec<String>,
}

/// A logged-in POS terminal with its local store.
pub struct Terminal {
    pub name: String,
    pub kind: TargetKind,
    pub client: Client,
    pub tenant: TenantAccount,
    pub session: Session,
    pub store: LocalStore,
    pub retry: RetryPolicy,
    clock: Option<Hlc>,
}

impl Terminal {
    /// Logs in as the tenant owner on a new device called `name`.
    ///
    /// # Errors
    /// Fails when the login fails.
    pub fn login(kind: TargetKind, base_url: &str, tenant: &TenantAccount, name: &str) -> Result<Terminal, String> {
        let client = Client::new(base_url);
        let session = login_device(&client, kind, tenant, name)?;
        Ok(Terminal {
            name: name.to_string(),
            kind,
            client,
            tenant: tenant.clone(),
            session,
            store: LocalStore::default(),
            retry: RetryPolicy::default(),
            clock: None,
        })
    }

    /// Returns the next clock value: wall time in milliseconds, with the counter breaking
    /// ties, so this terminal's changes keep their order.
    pub fn next_hlc(&mut self) -> Hlc {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_millis() as i64)
            .unwrap_or_default();
        let next = Hlc::tick(self.clock.as_ref(), now_ms, &self.session.device_id);
        self.clock = Some(next.clone());
        next
    }

    /// Pulls every change of `entities` after the store's cursor, `limit` rows per page,
    /// applies product rows to the store and moves the cursor.
    ///
    /// # Errors
    /// Fails on a status other than 200, on a reply without a cursor, or after
    /// [`MAX_PULL_PAGES`] pages.
    pub fn pull(&mut self, entities: &str, limit: usize, collect_ids: bool) -> Result<PullOutcome, String> {
        let limit_text = limit.to_string();
        let started = Instant::now();
        let mut outcome = PullOutcome {
            product_ids: collect_ids.then(HashSet::new),
            ..PullOutcome::default()
        };

        loop {
            let cursor = self.store.cursor.clone();
            let mut query = vec![("entities", entities), ("limit", limit_text.as_str())];
            if let Some(cursor) = cursor.as_deref() {
                query.push(("cursor", cursor));
            }
            let attempted = self.client.send_retrying(
                "GET",
                "/v1/sync/pull",
                Some(&self.session.access_token),
                &query,
                None,
                &self.retry,
            )?;
            let reply = attempted.reply;
            if reply.status != 200 {
                return Err(format!("{}: pull returned {}", self.name, reply.describe()));
            }
            outcome.pages += 1;
            outcome.page_latencies.push(reply.elapsed);
            self.apply_page(&reply.body, &mut outcome);
            outcome
                .progress
                .push((outcome.upserted + outcome.deleted, started.elapsed()));

            let next_cursor = reply.body["cursor"]
                .as_str()
                .ok_or_else(|| format!("{}: pull reply has no cursor: {}", self.name, reply.describe()))?;
            self.store.cursor = Some(next_cursor.to_string());
            if reply.body["has_more"] != json!(true) {
                break;
            }
            if outcome.pages >= MAX_PULL_PAGES {
                return Err(format!(
                    "{}: pull still has more after {MAX_PULL_PAGES} pages",
                    self.name
                ));
            }
        }
        outcome.elapsed = started.elapsed();
        Ok(outcome)
    }

    fn apply_page(&mut self, page: &Value, outcome: &mut PullOutcome) {
        let Some(changes) = page["changes"].as_object() else {
            return;
        };
        for (entity, change) in changes {
            let upserted = change["upserted"].as_array().map(Vec::as_slice).unwrap_or_default();
            let deleted = change["deleted"].as_array().map(Vec::as_slice).unwrap_or_default();
            outcome.upserted += upserted.len();
            outcome.deleted += deleted.len();
            if entity != "products" {
                continue;
            }
            for row in upserted {
                self.store.apply_pulled_product(row);
                if let (Some(ids), Some(id)) = (outcome.product_ids.as_mut(), row["id"].as_str()) {
                    ids.insert(id.to_string());
                }
            }
            for id in deleted.iter().filter_map(Value::as_str) {
                self.store.remove_product(id);
            }
        }
    }

    /// Queues the creation of a product and adds it to the local catalog.
    pub fn create_product(&mut self, name: &str, sku: &str, price: i64) -> String {
        let record_id = uuid::Uuid::new_v4().to_string();
        let data = json!({"name": name, "sku": sku, "price": price, "unit": "pcs"});
        let hlc = self.next_hlc();
        self.queue(Mutation {
            id: uuid::Uuid::new_v4().to_string(),
            entity: "products",
            op: "upsert",
            record_id: record_id.clone(),
            base_version: None,
            fields: None,
            data: object(data),
            hlc,
        });
        self.store.put_product(LocalProduct {
            id: record_id.clone(),
            name: name.to_string(),
            sku: Some(sku.to_string()),
            price,
            is_active: true,
            version: None,
        });
        record_id
    }

    /// Queues an edit of some columns of a product the store holds, with the version it
    /// was last seen at, and applies the edit locally.
    ///
    /// # Errors
    /// Fails when the product is not in the store.
    pub fn edit_product(&mut self, product_id: &str, changes: Value) -> Result<(), String> {
        let product = self
            .store
            .product(product_id)
            .ok_or_else(|| format!("{}: product {product_id} is not in the local store", self.name))?;
        let base_version = product.version;
        let changes = object(changes);
        let fields: Vec<String> = changes.keys().cloned().collect();

        self.store.update_product(product_id, |product| {
            if let Some(price) = changes.get("price").and_then(Value::as_i64) {
                product.price = price;
            }
            if let Some(name) = changes.get("name").and_then(Value::as_str) {
                product.name = name.to_string();
            }
            if let Some(active) = changes.get("is_active").and_then(Value::as_bool) {
                product.is_active = active;
            }
        });
        let hlc = self.next_hlc();
        self.queue(Mutation {
            id: uuid::Uuid::new_v4().to_string(),
            entity: "products",
            op: "upsert",
            record_id: product_id.to_string(),
            base_version,
            fields: Some(fields),
            data: changes,
            hlc,
        });
        Ok(())
    }

    /// Queues a sale made offline as an insert-only `transactions` mutation.
    pub fn queue_sale(&mut self, sale: &Value) {
        let record_id = sale["id"].as_str().unwrap_or_default().to_string();
        let hlc = self.next_hlc();
        self.queue(Mutation {
            id: uuid::Uuid::new_v4().to_string(),
            entity: "transactions",
            op: "upsert",
            record_id,
            base_version: None,
            fields: None,
            data: object(sale.clone()),
            hlc,
        });
    }

    fn queue(&mut self, mutation: Mutation) {
        self.store.outbox.push_back(mutation);
    }

    /// Returns the next receipt number of this terminal: `{outlet}-{device}-{YYMMDD}-{seq}`.
    pub fn next_receipt_no(&mut self, yymmdd: &str) -> String {
        self.store.receipt_sequence += 1;
        format!(
            "{}-{}-{yymmdd}-{:04}",
            self.tenant.outlet_code, self.session.device_code, self.store.receipt_sequence
        )
    }

    /// Pushes up to `batch_size` mutations from the front of the outbox, retrying with the
    /// same body, and removes them from the outbox once the server responded with 200. Versions of
    /// products in the reply go into the store.
    ///
    /// # Errors
    /// Fails when the server responds with anything but 200 after the retries; the mutations then
    /// stay in the outbox.
    pub fn push_next_batch(&mut self, batch_size: usize) -> Result<Option<BatchOutcome>, String> {
        let Some((count, body)) = self.next_batch_body(batch_size) else {
            return Ok(None);
        };
        let outcome = self.send_push(&body)?;
        self.complete_batch(count, &outcome.results);
        Ok(Some(outcome))
    }

    /// Returns the push body of up to `batch_size` mutations from the front of the outbox,
    /// with their count, or `None` when the outbox is empty. The outbox is left unchanged
    /// until [`Terminal::complete_batch`].
    pub fn next_batch_body(&self, batch_size: usize) -> Option<(usize, String)> {
        let count = batch_size.min(self.store.outbox.len());
        if count == 0 {
            return None;
        }
        let mutations: Vec<Value> = self
            .store
            .outbox
            .iter()
            .take(count)
            .map(|mutation| mutation.to_json(self.kind))
            .collect();
        let body = json!({
            "device_id": self.session.device_id,
            "schema_version": 1,
            "mutations": mutations,
        });
        Some((count, body.to_string()))
    }

    /// Removes the first `count` mutations from the outbox after the server acknowledged
    /// them, and stores the product versions of `results`.
    pub fn complete_batch(&mut self, count: usize, results: &[Value]) {
        let sent: Vec<Mutation> = self.store.outbox.drain(..count.min(self.store.outbox.len())).collect();
        self.apply_push_results(&sent, results);
    }

    /// Sends one push body with retries and tallies its results.
    ///
    /// # Errors
    /// Fails when the last attempt's status is not 200.
    pub fn send_push(&self, body: &str) -> Result<BatchOutcome, String> {
        let attempted = self.client.send_retrying(
            "POST",
            "/v1/sync/push",
            Some(&self.session.access_token),
            &[],
            Some(body),
            &self.retry,
        )?;
        let latency = attempted.elapsed;
        let reply = attempted.reply.clone();
        if reply.status != 200 {
            return Err(format!("{}: push returned {}", self.name, reply.describe()));
        }

        let results = reply.body["results"].as_array().cloned().unwrap_or_default();
        let mut counts = StatusCounts::default();
        let mut first_rejection = None;
        for result in &results {
            let status = result["status"].as_str().unwrap_or("missing");
            counts.count(status);
            if status == "rejected" && first_rejection.is_none() {
                first_rejection = Some(result.to_string());
            }
        }
        Ok(BatchOutcome {
            latency,
            attempts: attempted.attempts,
            counts,
            results,
            first_rejection,
            retry_causes: attempted.retry_causes,
        })
    }

    fn apply_push_results(&mut self, sent: &[Mutation], results: &[Value]) {
        let by_id: HashMap<&str, &Value> = results
            .iter()
            .filter_map(|result| Some((result["mutation_id"].as_str()?, result)))
            .collect();
        for mutation in sent.iter().filter(|mutation| mutation.entity == "products") {
            let version = by_id
                .get(mutation.id.as_str())
                .and_then(|result| result["version"].as_i64());
            if let Some(version) = version {
                self.store
                    .update_product(&mutation.record_id, |product| product.version = Some(version));
            }
        }
    }

    /// Sends a sale over `POST /v1/transactions`, retrying with the same body.
    ///
    /// # Errors
    /// Fails only when no attempt got an HTTP response; the caller judges the status.
    pub fn post_sale(&self, sale: &Value) -> Result<SaleOutcome, String> {
        let body = sale.to_string();
        let attempted = self.client.send_retrying(
            "POST",
            "/v1/transactions",
            Some(&self.session.access_token),
            &[],
            Some(&body),
            &self.retry,
        )?;
        Ok(SaleOutcome {
            status: attempted.reply.status,
            latency: attempted.elapsed,
            attempts: attempted.attempts,
            body: attempted.reply.body,
            retry_causes: attempted.retry_causes,
        })
    }

    /// Logs in a second device of the same tenant that starts with a copy of this terminal's
    /// store, as a till that synced the same catalog would.
    ///
    /// # Errors
    /// Fails when the login fails.
    pub fn sibling(&self, name: &str) -> Result<Terminal, String> {
        let mut sibling = Terminal::login(self.kind, self.client.base_url(), &self.tenant, name)?;
        sibling.store.cursor = self.store.cursor.clone();
        for product in self.store.products() {
            sibling.store.put_product(product.clone());
        }
        Ok(sibling)
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
