//! Shared test harness: a uniquely named PostgreSQL database per test.
//!
//! [`TestDb::new`] reads `DATABASE_URL` (a superuser URL of a throwaway cluster, as
//! exported by `cargo xtask test`), creates `test_<uuid>` and hands out its URL;
//! [`TestDb::migrated`] does the same with the migrations already applied, as a copy of
//! a template database built once per cluster. The database is dropped `WITH (FORCE)`
//! when the value is dropped, unless `KEEP_TEST_DB=1`, in which case its name is printed
//! so it can be inspected with `psql`.

use std::str::FromStr;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

/// Environment variable holding the superuser URL of the test cluster.
pub const DATABASE_URL_VAR: &str = "DATABASE_URL";
/// Set to `1` to keep the test database after the test for debugging.
pub const KEEP_TEST_DB_VAR: &str = "KEEP_TEST_DB";

/// A uniquely named database, dropped when this value is dropped.
#[derive(Debug)]
pub struct TestDb {
    name: String,
    admin_url: String,
    url: String,
}

impl TestDb {
    /// Creates a fresh, empty database in the cluster named by `DATABASE_URL`.
    ///
    /// # Panics
    /// When `DATABASE_URL` is unset or the database cannot be created: a test without
    /// its database cannot run, and saying why at once is the most useful thing to do.
    pub async fn new() -> Self {
        let admin_url = admin_url();
        let mut conn = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("failed to connect to {DATABASE_URL_VAR}: {e}"));
        let db = Self::create(&mut conn, &admin_url, None).await;
        conn.close().await.ok();
        db
    }

    /// A fresh database with `migrator`'s migrations already applied: a copy of a template
    /// database that the first caller in the cluster builds and every later one clones.
    ///
    /// Cloning is a file copy inside PostgreSQL, a fraction of the cost of running every
    /// migration again, which most tests would otherwise do first. The template is named
    /// after the migrations' versions and checksums ([`template_name`]), so a changed
    /// migration gets a new template instead of a stale one. It is built under an
    /// advisory lock, so concurrent tests (nextest runs each in its own process) build it
    /// once; one left half-built by a killed test is not marked a template yet and is
    /// built again. It takes no connections once built (`allow_connections false`),
    /// since PostgreSQL refuses to copy a database somebody is connected to. It stays in
    /// the cluster: the throwaway cluster of `cargo xtask test` goes with it, and with
    /// `DATABASE_URL` the next run reuses it.
    ///
    /// Running the migrations on the copy again (as a server does when it starts) finds
    /// every one applied and changes nothing.
    ///
    /// # Panics
    /// As [`TestDb::new`], and when a migration fails.
    pub async fn migrated(migrator: &sqlx::migrate::Migrator) -> Self {
        let admin_url = admin_url();
        let template = template_name(migrator);
        let mut conn = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("failed to connect to {DATABASE_URL_VAR}: {e}"));
        sqlx::query("select pg_advisory_lock($1)")
            .bind(TEMPLATE_LOCK)
            .execute(&mut conn)
            .await
            .expect("failed to take the template lock");
        let built: bool = sqlx::query_scalar(
            "select exists (select 1 from pg_database where datname = $1 and datistemplate)",
        )
        .bind(&template)
        .fetch_one(&mut conn)
        .await
        .expect("failed to look for the template database");
        if !built {
            build_template(&mut conn, &admin_url, &template, migrator).await;
        }
        sqlx::query("select pg_advisory_unlock($1)")
            .bind(TEMPLATE_LOCK)
            .execute(&mut conn)
            .await
            .expect("failed to release the template lock");
        let db = Self::create(&mut conn, &admin_url, Some(&template)).await;
        conn.close().await.ok();
        db
    }

    /// Creates `test_<uuid>` over `conn`, empty or as a copy of `template`.
    async fn create(conn: &mut PgConnection, admin_url: &str, template: Option<&str>) -> Self {
        let name = format!("test_{}", uuid::Uuid::now_v7().simple());
        // The names are generated from hex digits only, so quoting them is enough.
        let statement = match template {
            None => format!(r#"create database "{name}""#),
            Some(template) => format!(r#"create database "{name}" template "{template}""#),
        };
        sqlx::query(&statement)
            .execute(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("failed to create test database {name}: {e}"));
        let url = with_database(admin_url, &name);
        Self {
            name,
            admin_url: admin_url.to_owned(),
            url,
        }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// URL of the test database as the cluster's superuser (the owner of its objects).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Connect options for [`TestDb::url`].
    pub fn connect_options(&self) -> PgConnectOptions {
        PgConnectOptions::from_str(&self.url).expect("test database url parses")
    }
}

/// The superuser URL of the test cluster.
fn admin_url() -> String {
    std::env::var(DATABASE_URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{DATABASE_URL_VAR} is not set: run the tests with `cargo xtask test`, which \
             starts a throwaway PostgreSQL, or export {DATABASE_URL_VAR} as a superuser URL"
        )
    })
}

/// The advisory lock under which [`TestDb::migrated`] builds a template (any fixed
/// number; advisory locks are per database, and every caller takes it in the cluster's
/// `DATABASE_URL` database).
const TEMPLATE_LOCK: i64 = 0x6c66_7465_6d70;

/// The template database of a migration set: `template_` and a 64-bit FNV-1a digest of
/// every migration's version and checksum, in order. The same migrations give the same
/// name in every process and run; any change to one of them gives another.
pub fn template_name(migrator: &sqlx::migrate::Migrator) -> String {
    let mut digest: u64 = 0xcbf2_9ce4_8422_2325;
    for migration in migrator.iter() {
        let version = migration.version.to_le_bytes();
        for byte in version.iter().chain(migration.checksum.iter()) {
            digest ^= u64::from(*byte);
            digest = digest.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("template_{digest:016x}")
}

/// Builds `template` from scratch: drops a half-built one, creates and migrates it, then
/// marks it a template that takes no connections. `conn` holds the template lock.
async fn build_template(
    conn: &mut PgConnection,
    admin_url: &str,
    template: &str,
    migrator: &sqlx::migrate::Migrator,
) {
    for statement in [
        format!(r#"drop database if exists "{template}" with (force)"#),
        format!(r#"create database "{template}""#),
    ] {
        sqlx::query(&statement)
            .execute(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("failed to prepare template database {template}: {e}"));
    }
    let mut migrating = PgConnection::connect(&with_database(admin_url, template))
        .await
        .unwrap_or_else(|e| panic!("failed to connect to template database {template}: {e}"));
    migrator
        .run(&mut migrating)
        .await
        .unwrap_or_else(|e| panic!("failed to migrate template database {template}: {e}"));
    migrating.close().await.ok();
    sqlx::query(&format!(
        r#"alter database "{template}" with is_template true allow_connections false"#
    ))
    .execute(&mut *conn)
    .await
    .unwrap_or_else(|e| panic!("failed to mark {template} a template: {e}"));
}

/// Replaces the database name (the URL's path) of a PostgreSQL URL.
pub fn with_database(url: &str, database: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("DATABASE_URL is a valid url");
    parsed.set_path(&format!("/{database}"));
    parsed.to_string()
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::env::var(KEEP_TEST_DB_VAR).as_deref() == Ok("1") {
            eprintln!("{KEEP_TEST_DB_VAR}=1: keeping test database {}", self.name);
            return;
        }
        let name = self.name.clone();
        let admin_url = self.admin_url.clone();
        // Drop runs inside the test's runtime, where blocking on a future is not allowed;
        // a short-lived thread with its own runtime does the work and is joined.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("failed to build a runtime to drop the test database");
            rt.block_on(async move {
                let mut conn = PgConnection::connect(&admin_url).await?;
                sqlx::query(&format!(r#"drop database if exists "{name}" with (force)"#))
                    .execute(&mut conn)
                    .await?;
                conn.close().await
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("failed to drop test database {}: {e}", self.name),
            Err(_) => eprintln!(
                "failed to drop test database {}: thread panicked",
                self.name
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_replaces_only_the_path() {
        assert_eq!(
            with_database("postgres://root@127.0.0.1:5432/postgres", "test_ab"),
            "postgres://root@127.0.0.1:5432/test_ab"
        );
        assert_eq!(
            with_database("postgres://u:p@h/postgres?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
    }
}

#[cfg(test)]
mod db_tests {
    use super::*;

    async fn exists(name: &str) -> bool {
        let mut conn = PgConnection::connect(&std::env::var(DATABASE_URL_VAR).unwrap())
            .await
            .unwrap();
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    }

    /// A migrator over one migration, `sql`, in a temporary directory.
    async fn migrator_of(sql: &str) -> (tempfile::TempDir, sqlx::migrate::Migrator) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("1_only.sql"), sql).unwrap();
        let migrator = sqlx::migrate::Migrator::new(dir.path()).await.unwrap();
        (dir, migrator)
    }

    async fn admin() -> PgConnection {
        PgConnection::connect(&std::env::var(DATABASE_URL_VAR).unwrap())
            .await
            .unwrap()
    }

    async fn rows_of_t(db: &TestDb) -> i64 {
        let mut conn = PgConnection::connect(db.url()).await.unwrap();
        sqlx::query_scalar("select count(*) from t")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_template_is_named_after_the_migrations_versions_and_checksums() {
        let (_a, one) = migrator_of("create table t (x int);").await;
        let (_b, same) = migrator_of("create table t (x int);").await;
        let (_c, other) = migrator_of("create table t (x bigint);").await;
        let name = template_name(&one);
        assert!(name.starts_with("template_") && name.len() == 25, "{name}");
        assert_eq!(name, template_name(&same));
        assert_ne!(name, template_name(&other));
    }

    #[tokio::test]
    async fn migrated_databases_are_independent_copies_of_one_template_built_once() {
        // A migration of its own, so that this test builds the template itself even on a
        // cluster that earlier runs left templates in.
        let (_dir, migrator) = migrator_of(&format!(
            "create table t (x int); insert into t values (1); \
             comment on table t is '{}';",
            uuid::Uuid::now_v7()
        ))
        .await;
        let template = template_name(&migrator);
        // A test killed while building it left a database of that name, not yet marked a
        // template and without the migration's table: it is built again.
        sqlx::query(&format!(r#"create database "{template}""#))
            .execute(&mut admin().await)
            .await
            .unwrap();

        // Six at the same moment: one builds the template, the others wait and clone it.
        // (Local tasks: sqlx's `Migrator::run` future is not `Send`.)
        let migrator = std::rc::Rc::new(migrator);
        let local = tokio::task::LocalSet::new();
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let migrator = migrator.clone();
                local.spawn_local(async move { TestDb::migrated(&migrator).await })
            })
            .collect();
        local.await;
        let mut dbs = Vec::new();
        for task in tasks {
            dbs.push(task.await.unwrap());
        }
        for db in &dbs {
            assert_eq!(rows_of_t(db).await, 1, "{}", db.name());
        }
        let is_template: bool =
            sqlx::query_scalar("select datistemplate from pg_database where datname = $1")
                .bind(&template)
                .fetch_one(&mut admin().await)
                .await
                .unwrap();
        assert!(is_template);

        // Copies, not one database: a write to one is not seen in another.
        let mut first = PgConnection::connect(dbs[0].url()).await.unwrap();
        sqlx::query("insert into t values (2)")
            .execute(&mut first)
            .await
            .unwrap();
        first.close().await.unwrap();
        assert_eq!(rows_of_t(&dbs[0]).await, 2);
        assert_eq!(rows_of_t(&dbs[1]).await, 1);

        // Running the migrations again on a copy, as a starting server does, finds them
        // applied.
        let mut copy = PgConnection::connect(dbs[1].url()).await.unwrap();
        migrator.run(&mut copy).await.unwrap();
        copy.close().await.unwrap();
        assert_eq!(rows_of_t(&dbs[1]).await, 1);

        drop(dbs);
        let mut admin = admin().await;
        for statement in [
            format!(r#"alter database "{template}" with is_template false"#),
            format!(r#"drop database "{template}""#),
        ] {
            sqlx::query(&statement).execute(&mut admin).await.unwrap();
        }
    }

    #[tokio::test]
    async fn creates_a_database_and_drops_it_even_with_open_connections() {
        let db = TestDb::new().await;
        let name = db.name().to_owned();
        assert!(name.starts_with("test_"));
        assert!(exists(&name).await);
        // A connection left open does not keep the database alive (drop ... with (force)).
        let mut open = PgConnection::connect_with(&db.connect_options())
            .await
            .unwrap();
        let one: i32 = sqlx::query_scalar("select 1")
            .fetch_one(&mut open)
            .await
            .unwrap();
        assert_eq!(one, 1);
        drop(db);
        assert!(!exists(&name).await);
    }
}

/// Writes `n` `movement.recorded` events with an empty payload straight to the tenant's
/// outbox (as the owner), for the webhook delivery tests; answers their ids.
pub async fn outbox_events(
    pool: &sqlx::PgPool,
    tenant_id: uuid::Uuid,
    n: usize,
) -> Vec<uuid::Uuid> {
    let ids: Vec<uuid::Uuid> = (0..n).map(|_| uuid::Uuid::now_v7()).collect();
    sqlx::query(
        "insert into outbox_event (tenant_id, id, topic, payload)
         select $1, id, 'movement.recorded', '{}' from unnest($2::uuid[]) as id",
    )
    .bind(tenant_id)
    .bind(&ids)
    .execute(pool)
    .await
    .expect("failed to write outbox events");
    ids
}

/// The ledger invariant of a tenant: every stock row equals the sum of its applied
/// movement effects, and no effect is booked on a row that does not exist. Returns one
/// line per violation (empty when the ledger holds), so a failing test shows every row
/// that is off.
///
/// `pool` must see the tenant's rows: the owner pool of a test database (a superuser,
/// which row-level security does not restrict).
pub async fn ledger_violations(pool: &sqlx::PgPool, tenant_id: uuid::Uuid) -> Vec<String> {
    // (product, location, lot, on_hand of the row, sum of its effects)
    type Mismatch = (uuid::Uuid, uuid::Uuid, uuid::Uuid, Option<i64>, Option<i64>);
    let rows: Vec<Mismatch> =
        sqlx::query_as(
            "select coalesce(s.product_id, e.product_id), coalesce(s.location_id, e.location_id),
                    coalesce(s.lot_id, e.lot_id), s.on_hand, e.total
             from (select * from stock_row where tenant_id = $1) s
             full join (select product_id, location_id, lot_id, sum(delta)::bigint as total
                        from movement_effect where tenant_id = $1
                        group by product_id, location_id, lot_id) e
               on e.product_id = s.product_id and e.location_id = s.location_id and e.lot_id = s.lot_id
             where s.on_hand is distinct from coalesce(e.total, 0)",
        )
        .bind(tenant_id)
        .fetch_all(pool)
        .await
        .expect("failed to read the ledger");
    rows.into_iter()
        .map(|(product, location, lot, on_hand, total)| {
            format!(
                "row product {product} location {location} lot {lot}: on_hand {} but effects sum to {}",
                on_hand.map_or("(no row)".to_owned(), |v| v.to_string()),
                total.unwrap_or(0)
            )
        })
        .collect()
}

/// The allocation invariant of a tenant (issue #15): each stock row's `allocated` is the
/// sum of the sales lines' reservations on it and never negative, and each line's
/// reservations are positive. Returns one line per row that disagrees (empty when the
/// invariant holds).
///
/// `pool` must see the tenant's rows: the owner pool of a test database.
pub async fn allocation_violations(pool: &sqlx::PgPool, tenant_id: uuid::Uuid) -> Vec<String> {
    type Mismatch = (uuid::Uuid, uuid::Uuid, uuid::Uuid, Option<i64>, Option<i64>);
    let rows: Vec<Mismatch> = sqlx::query_as(
        "select coalesce(s.product_id, a.product_id), coalesce(s.location_id, a.location_id),
                coalesce(s.lot_id, a.lot_id), s.allocated, a.total
         from (select * from stock_row where tenant_id = $1) s
         full join (select product_id, location_id, lot_id, sum(qty)::bigint as total
                    from allocation where tenant_id = $1
                    group by product_id, location_id, lot_id) a
           on a.product_id = s.product_id and a.location_id = s.location_id and a.lot_id = s.lot_id
         where s.allocated is distinct from coalesce(a.total, 0) or s.allocated < 0",
    )
    .bind(tenant_id)
    .fetch_all(pool)
    .await
    .expect("failed to read the allocations");
    rows.into_iter()
        .map(|(product, location, lot, allocated, total)| {
            format!(
                "row product {product} location {location} lot {lot}: allocated {} but reservations sum to {}",
                allocated.map_or("(no row)".to_owned(), |v| v.to_string()),
                total.unwrap_or(0)
            )
        })
        .collect()
}

/// The outcome invariant of a tenant (issue #20): a movement's outcome agrees with its
/// ledger effects — an `applied` movement has effect rows (a count that changed
/// nothing, or a side a later count absorbed, has one with delta 0), and a `held`,
/// `voided`, `rejected`, `absorbed` or `superseded` one has none. Returns one line per
/// movement that disagrees (empty when the invariant holds).
///
/// `pool` must see the tenant's rows: the owner pool of a test database.
pub async fn outcome_violations(pool: &sqlx::PgPool, tenant_id: uuid::Uuid) -> Vec<String> {
    let rows: Vec<(uuid::Uuid, String, i64)> = sqlx::query_as(
        "select m.id, m.outcome, count(e.movement_id)
         from movement m
         left join movement_effect e on e.tenant_id = m.tenant_id and e.movement_id = m.id
         where m.tenant_id = $1
         group by m.id, m.outcome
         having (m.outcome = 'applied') <> (count(e.movement_id) > 0)",
    )
    .bind(tenant_id)
    .fetch_all(pool)
    .await
    .expect("failed to read the outcomes");
    rows.into_iter()
        .map(|(id, outcome, effects)| {
            format!("movement {id}: outcome {outcome} with {effects} ledger effects")
        })
        .collect()
}
