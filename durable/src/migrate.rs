//! Applies embedded SQL migrations and records them in `d1_migrations`, the table
//! `wrangler d1 migrations apply` uses, so both ways of migrating agree.

use worker::D1Database;

use crate::db;

/// One migration file: its name as wrangler records it, and its SQL.
pub struct Migration {
    pub name: &'static str,
    pub sql: &'static str,
}

pub const TENANT_MIGRATIONS: &[Migration] = &[
    Migration {
        name: "0001_init.sql",
        sql: include_str!("../../migrations/tenant/0001_init.sql"),
    },
    Migration {
        name: "0002_sync_engine.sql",
        sql: include_str!("../../migrations/tenant/0002_sync_engine.sql"),
    },
    Migration {
        name: "0003_last_writer.sql",
        sql: include_str!("../../migrations/tenant/0003_last_writer.sql"),
    },
    Migration {
        name: "0004_pos_domain.sql",
        sql: include_str!("../../migrations/tenant/0004_pos_domain.sql"),
    },
    Migration {
        name: "0005_files.sql",
        sql: include_str!("../../migrations/tenant/0005_files.sql"),
    },
    Migration {
        name: "0006_backups.sql",
        sql: include_str!("../../migrations/tenant/0006_backups.sql"),
    },
    Migration {
        name: "0007_writer_caught_up.sql",
        sql: include_str!("../../migrations/tenant/0007_writer_caught_up.sql"),
    },
    Migration {
        name: "0008_tombstone_index.sql",
        sql: include_str!("../../migrations/tenant/0008_tombstone_index.sql"),
    },
];

pub const CONTROL_MIGRATIONS: &[Migration] = &[
    Migration {
        name: "0001_tenant_directory.sql",
        sql: include_str!("../../migrations/control/0001_tenant_directory.sql"),
    },
    Migration {
        name: "0002_jobs.sql",
        sql: include_str!("../../migrations/control/0002_jobs.sql"),
    },
];

/// The schema version a tenant database has after every embedded migration.
pub const TENANT_SCHEMA_VERSION: i64 = TENANT_MIGRATIONS.len() as i64;

/// Splits a migration file into statements: comment lines are dropped and statements end
/// with `;` at the end of a line. The files hold no triggers, so no `;` sits inside one.
pub fn statements(sql: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("--") {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            statements.push(current.trim().to_string());
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        statements.push(current.trim().to_string());
    }
    statements
}

/// Applies every migration not yet recorded, each in one batch with its record.
///
/// # Errors
/// Fails when D1 rejects a statement; the failing migration leaves nothing behind.
pub async fn apply(database: &D1Database, migrations: &[Migration]) -> worker::Result<()> {
    db::run(
        database,
        "CREATE TABLE IF NOT EXISTS d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)",
        &[],
    )
    .await?;
    let applied = db::all(database, "SELECT name FROM d1_migrations", &[]).await?;
    let applied: Vec<&str> = applied.iter().filter_map(|row| db::get_str(row, "name")).collect();

    for migration in migrations {
        if applied.contains(&migration.name) {
            continue;
        }
        let mut batch = Vec::new();
        for sql in statements(migration.sql) {
            batch.push(db::statement(database, &sql, &[])?);
        }
        batch.push(db::statement(
            database,
            "INSERT OR IGNORE INTO d1_migrations (name) VALUES (?)",
            &[db::text(migration.name)],
        )?);
        if let Err(error) = db::batch(database, batch).await {
            // Hubs of tenants that share a database can migrate it at the same moment: the
            // loser's batch fails (a column already exists) and rolls back, which is fine once
            // the winner has recorded the migration.
            let recorded = db::first(
                database,
                "SELECT name FROM d1_migrations WHERE name = ?",
                &[db::text(migration.name)],
            )
            .await?;
            if recorded.is_none() {
                return Err(error);
            }
        }
    }
    Ok(())
}
