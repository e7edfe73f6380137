//! The TenantHub Durable Object: the one writer of each tenant's database. It assigns the
//! tenant's strictly increasing change versions and commits every write in one D1 batch.

mod backup;
pub mod db;
pub mod jobs;
pub mod migrate;
pub mod protocol;

mod catalog;
pub mod conflicts;
mod purge;
mod push;
pub mod returns;
mod sale;
pub mod schedule;
pub mod stock;

use futures_util::lock::Mutex;
use kasir_core::entity::SqlValue;
use kasir_core::error::{ApiError, Lang};
use kasir_core::hlc::Hlc;
use protocol::{Command, HubReply, HubRequest, SyncSettings};
use serde_json::{json, Value};
use worker::{durable_object, D1Database, DurableObject, Env, Request, Response, State};

/// Per-instance memory of the hub, guarded by one async lock so merges run one at a time:
/// a Durable Object admits other requests while it awaits D1.
#[derive(Default)]
struct HubMemory {
    /// Databases this instance has migrated since it started.
    migrated: Vec<String>,
    /// The tenant's last committed change version, when known.
    version: Option<i64>,
    /// The last clock value the hub stamped on a write.
    last_hlc: Option<Hlc>,
}

#[durable_object]
pub struct TenantHub {
    state: State,
    env: Env,
    memory: Mutex<HubMemory>,
    /// Set while a restore runs, read without the lock so pushes can be turned away at once.
    restoring: std::cell::Cell<bool>,
}

impl DurableObject for TenantHub {
    fn new(state: State, env: Env) -> Self {
        TenantHub {
            state,
            env,
            memory: Mutex::new(HubMemory::default()),
            restoring: std::cell::Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let reply = match req.json::<HubRequest>().await {
            Ok(request) if self.restoring.get() && matches!(request.command, Command::Push { .. }) => {
                HubReply::Error(backup::restore_in_progress())
            }
            Ok(request) => {
                let restore = matches!(request.command, Command::Restore { .. });
                if restore {
                    self.restoring.set(true);
                }
                let mut memory = self.memory.lock().await;
                let reply = match self.execute(&mut memory, request).await {
                    Ok(value) => HubReply::Ok(value),
                    Err(error) => {
                        // A failed batch may have left the cached version behind the truth.
                        memory.version = None;
                        HubReply::Error(error)
                    }
                };
                if restore {
                    self.restoring.set(false);
                }
                reply
            }
            Err(error) => HubReply::Error(ApiError::internal(format!("unreadable hub request: {error}"))),
        };
        Response::from_json(&reply)
    }

    async fn alarm(&self) -> worker::Result<Response> {
        if let Err(error) = schedule::fire(&self.state, &self.env).await {
            worker::console_error!("{}", json!({ "event": "hub_alarm_failed", "error": error.to_string() }));
            // Try again in five minutes rather than lose the day's jobs.
            let _ = self.state.storage().set_alarm(5 * 60 * 1000).await;
        }
        Response::ok("alarm handled")
    }
}

impl TenantHub {
    async fn execute(&self, memory: &mut HubMemory, request: HubRequest) -> Result<Value, ApiError> {
        let database = self
            .env
            .d1(&request.db_binding)
            .map_err(|error| ApiError::internal(format!("binding {}: {error}", request.db_binding)))?;
        if !memory.migrated.contains(&request.db_binding) {
            migrate::apply(&database, migrate::TENANT_MIGRATIONS)
                .await
                .map_err(|error| ApiError::internal(format!("tenant migration failed: {error}")))?;
            memory.migrated.push(request.db_binding.clone());
        }

        let mut writer = Writer {
            env: &self.env,
            db: database,
            tenant_id: request.tenant_id.clone(),
            sync: request.sync,
            lang: request.lang,
            fault: request.fault,
            memory,
            deferred: None,
            held_rows: Vec::new(),
        };
        match request.command {
            Command::Provision { owner, outlet } => catalog::provision(&mut writer, owner, outlet).await,
            Command::Save {
                entity,
                id,
                fields,
                mode,
                sync_source,
            } => {
                let saved = catalog::save(&mut writer, &entity, &id, &fields, mode, &sync_source).await?;
                Ok(json!(saved))
            }
            Command::Delete {
                entity,
                id,
                sync_source,
            } => {
                catalog::delete(&mut writer, &entity, &id, &sync_source).await?;
                Ok(Value::Null)
            }
            Command::Sale { body, sync_source } => {
                let saved = sale::record_sale(&mut writer, &request.actor, &request.tax, &body, &sync_source).await?;
                Ok(json!(saved))
            }
            Command::Push {
                device_id,
                mutations,
                server_clock,
            } => {
                push::apply_push(
                    &mut writer,
                    &request.actor,
                    &request.tax,
                    &device_id,
                    mutations,
                    server_clock,
                )
                .await
            }
            Command::ResolveConflict {
                conflict_id,
                resolution,
                data,
            } => conflicts::resolve(&mut writer, &request.actor, &conflict_id, &resolution, data).await,
            Command::Purge { retention_seconds } => purge::purge_tombstones(&mut writer, retention_seconds).await,
            Command::Void {
                transaction_id,
                void_id,
                body,
                shift_id,
            } => {
                returns::void(
                    &mut writer,
                    &request.actor,
                    &transaction_id,
                    &void_id,
                    &body,
                    shift_id.as_deref(),
                )
                .await
            }
            Command::Refund {
                transaction_id,
                body,
                shift_id,
            } => returns::refund(&mut writer, &request.actor, &transaction_id, &body, shift_id.as_deref()).await,
            Command::ConfirmPayment {
                transaction_id,
                index,
                body,
            } => returns::confirm_payment(&mut writer, &transaction_id, index, &body).await,
            Command::RecordMovement { body } => stock::record_movement(&mut writer, &request.actor, &body).await,
            Command::Adjust { id, body } => stock::adjust(&mut writer, &request.actor, &id, &body).await,
            Command::Backup {
                backup_id,
                backup_kind,
                tenant_code,
                keep_daily,
                keep_weekly,
            } => {
                let manifest = backup::take_backup(&mut writer, &tenant_code, &backup_id, &backup_kind).await?;
                backup::prune(&mut writer, keep_daily, keep_weekly).await?;
                Ok(manifest)
            }
            Command::Restore { backup_id } => backup::restore(&mut writer, &backup_id).await,
            Command::Arm { schedule, fire_now } => schedule::arm(&self.state, &self.env, schedule, fire_now).await,
            Command::Offboard => {
                let deleted = backup::erase_tenant(&mut writer).await?;
                schedule::disarm(&self.state).await?;
                Ok(deleted)
            }
        }
    }
}

/// The write context of one command: the tenant's database and its version counter.
pub(crate) struct Writer<'a> {
    env: &'a Env,
    db: D1Database,
    tenant_id: String,
    sync: SyncSettings,
    lang: Lang,
    fault: Option<String>,
    memory: &'a mut HubMemory,
    /// Statements held back to commit as one batch; `None` commits each write at once.
    deferred: Option<Vec<worker::D1PreparedStatement>>,
    /// Rows held back with `deferred`, by INSERT head, written at the flush as multi-row
    /// INSERTs: a few statements per chunk instead of one per row.
    held_rows: Vec<(&'static str, Vec<Vec<SqlValue>>)>,
}

impl Writer<'_> {
    /// Stamps a write with the hub's clock, past every clock it has stamped or accepted.
    fn server_hlc(&mut self) -> Hlc {
        let next = Hlc::tick(self.memory.last_hlc.as_ref(), now_millis(), "server");
        self.memory.last_hlc = Some(next.clone());
        next
    }

    /// Moves the hub's clock past a clock accepted from a device.
    fn observe_hlc(&mut self, seen: &Hlc) {
        if self.memory.last_hlc.as_ref().is_none_or(|last| seen > last) {
            self.memory.last_hlc = Some(seen.clone());
        }
    }

    /// Returns the tenant's last committed version, reading it once per hub instance.
    async fn current_version(&mut self) -> Result<i64, ApiError> {
        if let Some(version) = self.memory.version {
            return Ok(version);
        }
        db::run(
            &self.db,
            "INSERT OR IGNORE INTO tenant_state (tenant_id, version) VALUES (?, 0)",
            &[db::text(&self.tenant_id)],
        )
        .await
        .map_err(internal)?;
        let row = db::first(
            &self.db,
            "SELECT version FROM tenant_state WHERE tenant_id = ?",
            &[db::text(&self.tenant_id)],
        )
        .await
        .map_err(internal)?;
        let version = row.and_then(|row| db::get_i64(&row, "version")).unwrap_or(0);
        self.memory.version = Some(version);
        Ok(version)
    }

    /// Commits statements together with the tenant's new version, all or nothing. While
    /// commits are deferred the statements wait for [`Writer::flush`], and `version` is the
    /// planned one.
    async fn commit(&mut self, mut statements: Vec<worker::D1PreparedStatement>, version: i64) -> Result<(), ApiError> {
        if let Some(pending) = self.deferred.as_mut() {
            pending.append(&mut statements);
            self.memory.version = Some(version);
            return Ok(());
        }
        if self.fault.as_deref() == Some("d1_batch") {
            // A statement D1 rejects makes the whole batch fail and roll back.
            statements
                .push(db::statement(&self.db, "SELECT * FROM injected_fault_no_such_table", &[]).map_err(internal)?);
        }
        statements.push(
            db::statement(
                &self.db,
                "UPDATE tenant_state SET version = ? WHERE tenant_id = ?",
                &[db::int(version), db::text(&self.tenant_id)],
            )
            .map_err(internal)?,
        );
        match db::batch(&self.db, statements).await {
            Ok(_) => {
                self.memory.version = Some(version);
                Ok(())
            }
            Err(error) => {
                self.memory.version = None;
                Err(internal(error))
            }
        }
    }
}

impl Writer<'_> {
    /// Writes statements that bump no version, deferred like [`Writer::commit`].
    async fn write(&mut self, mut statements: Vec<worker::D1PreparedStatement>) -> Result<(), ApiError> {
        if let Some(pending) = self.deferred.as_mut() {
            pending.append(&mut statements);
            return Ok(());
        }
        db::batch(&self.db, statements).await.map_err(internal)?;
        Ok(())
    }

    /// Returns the statements that insert `row` after `head` (an INSERT that ends with
    /// `VALUES`). While commits are deferred the row is held for the flush and there are none.
    fn insert_row(
        &mut self,
        head: &'static str,
        row: Vec<SqlValue>,
    ) -> Result<Vec<worker::D1PreparedStatement>, ApiError> {
        if self.deferred.is_none() {
            return db::insert_rows(&self.db, head, &[row]).map_err(internal);
        }
        match self.held_rows.iter_mut().find(|(held_head, _)| *held_head == head) {
            Some((_, rows)) => rows.push(row),
            None => self.held_rows.push((head, vec![row])),
        }
        Ok(Vec::new())
    }

    /// Holds commits back until [`Writer::flush`].
    fn defer(&mut self) {
        if self.deferred.is_none() {
            self.deferred = Some(Vec::new());
        }
    }

    /// Commits the held-back statements with the planned version in one batch, and goes on
    /// deferring. On failure nothing of them is written and the version is read again.
    async fn flush(&mut self) -> Result<(), ApiError> {
        let mut pending = match self.deferred.as_mut() {
            Some(pending) if !pending.is_empty() || !self.held_rows.is_empty() => std::mem::take(pending),
            _ => return Ok(()),
        };
        for (head, rows) in std::mem::take(&mut self.held_rows) {
            pending.extend(db::insert_rows(&self.db, head, &rows).map_err(internal)?);
        }
        // Held-back results of mutations that wrote no record leave the version as it is, and
        // the hub may not have read it yet.
        let version = match self.memory.version {
            Some(version) => version,
            None => self.current_version().await?,
        };
        let deferred = self.deferred.take();
        let committed = self.commit(pending, version).await;
        self.deferred = deferred;
        committed
    }
}

pub(crate) fn internal(error: worker::Error) -> ApiError {
    ApiError::internal(error.to_string())
}

/// Current time as RFC 3339 UTC.
pub fn now_rfc3339() -> String {
    kasir_core::validate::format_rfc3339_millis(now_millis())
}

pub fn now_millis() -> i64 {
    worker::Date::now().as_millis() as i64
}
