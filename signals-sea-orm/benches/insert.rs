//! The cost of the signals on a SeaORM write (issue 12.11): `ActiveModel::insert` on
//! in-memory SQLite of an entity with `signals_sea_orm::behavior!` and three `PostSave`
//! receivers, against the same insert of an entity with SeaORM's empty
//! `impl ActiveModelBehavior for ActiveModel {}`, in the same run. A third entity, the
//! behaviour with no receiver connected, shows the hooks' fixed cost; a fourth, a twin of
//! the plain one, is the control. The tables live in one database (one connection, one
//! sqlx worker thread), so every case goes through the same connection.
//!
//! Three groups:
//!
//! * `interleaved/signals_3_receivers`: the measurement the ratio comes from. Each
//!   criterion sample runs its iterations as rounds of one insert of each entity, in an
//!   order that rotates every round, and times each insert on its own; criterion's figure
//!   is the signalled insert, and after the group the bench prints, over the samples, each
//!   entity's median insert time relative to plain's in the same sample (median and 95 %
//!   confidence interval over the samples), and the ratio of the means. A change of the
//!   machine's load hits the four alike, so the ratio stays put when the absolute times
//!   move; the twin's ratio (ideally 1) shows what the measurement resolves. The case
//!   takes about four times its measurement time.
//! * `insert/{plain,signals_3_receivers,signals_no_receiver}`: the same inserts one case
//!   after another, as criterion usually runs them (absolute times; their ratio is
//!   exposed to the load drifting between cases).
//! * `hooks/{plain,signals_3_receivers,signals_no_receiver}`: what the behaviour adds per
//!   insert without the database: `before_save` and `after_save` as SeaORM calls them
//!   (through `ActiveModelBehavior`, with the insert flag and the same connection), the
//!   active model and the model built in each iteration as the insert builds them.
//!
//! ```sh
//! cargo bench -p signals-sea-orm --bench insert -- --noplot --measurement-time 10  # ~3 min
//! cargo bench -p signals-sea-orm --bench insert -- --noplot interleaved             # the ratio only
//! ```
//!
//! Compare the cases, not absolute times (docs/PERFORMANCE.md).

use std::hint::black_box;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::Criterion;
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ConnectionTrait, Database, DatabaseConnection, Schema,
    Set,
};
use signals_core::models::PostSave;

macro_rules! entity {
    ($module:ident, $table:literal, $($behavior:tt)*) => {
        mod $module {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model {
                #[sea_orm(primary_key)]
                pub id: i64,
                pub name: String,
                pub email: String,
                pub score: i32,
            }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            $($behavior)*
        }
    };
}

entity!(plain, "bench_plain", impl ActiveModelBehavior for ActiveModel {});
entity!(twin, "bench_twin", impl ActiveModelBehavior for ActiveModel {});
entity!(signalled, "bench_signalled", signals_sea_orm::behavior!(ActiveModel););
entity!(quiet, "bench_quiet", signals_sea_orm::behavior!(ActiveModel););

/// Runs of the three `PostSave<signalled::Model>` receivers.
static HITS: AtomicUsize = AtomicUsize::new(0);

/// The row every case inserts.
macro_rules! row {
    ($module:ident) => {
        $module::ActiveModel {
            name: Set("ada".into()),
            email: Set("ada@example.com".into()),
            score: Set(1),
            ..Default::default()
        }
    };
}

/// The row as the insert returns it (what `after_save` gets).
macro_rules! saved {
    ($module:ident) => {
        $module::Model {
            id: 1,
            name: "ada".into(),
            email: "ada@example.com".into(),
            score: 1,
        }
    };
}

/// One insert of `$module`'s row, timed.
macro_rules! timed_insert {
    ($module:ident, $db:expr) => {{
        let row = row!($module);
        let start = Instant::now();
        black_box(row.insert($db).await.expect("insert"));
        start.elapsed()
    }};
}

/// What `before_save` and `after_save` of one insert cost, timed over `iters` of them.
macro_rules! timed_hooks {
    ($module:ident, $db:expr, $iters:expr) => {{
        let start = Instant::now();
        for _ in 0..$iters {
            let row = black_box(row!($module));
            let row = ActiveModelBehavior::before_save(row, $db, true)
                .await
                .expect("before_save");
            black_box(row);
            let model = black_box(saved!($module));
            let model = <$module::ActiveModel as ActiveModelBehavior>::after_save(model, $db, true)
                .await
                .expect("after_save");
            black_box(model);
        }
        start.elapsed()
    }};
}

async fn database() -> DatabaseConnection {
    let db = Database::connect("sqlite::memory:").await.expect("SQLite");
    let schema = Schema::new(db.get_database_backend());
    for table in [
        schema.create_table_from_entity(plain::Entity),
        schema.create_table_from_entity(twin::Entity),
        schema.create_table_from_entity(signalled::Entity),
        schema.create_table_from_entity(quiet::Entity),
    ] {
        db.execute(&table).await.expect("create table");
    }
    db
}

/// The variants of the interleaved case, in the order of [`Sample`]'s arrays. `plain_twin`
/// is the control: a second entity with SeaORM's empty hooks (its own table), whose ratio
/// to `plain` shows what the measurement resolves.
const VARIANTS: [&str; 4] = [
    "plain",
    "signals_3_receivers",
    "signals_no_receiver",
    "plain_twin",
];

/// One criterion sample of the interleaved case: per variant, the median and the sum of
/// its inserts' times (seconds).
struct Sample {
    iters: u64,
    median: [f64; 4],
    total: [f64; 4],
}

/// Every sample of the interleaved case, warm-up included (criterion calls the routine
/// for its warm-up first, then once per sample).
static SAMPLES: Mutex<Vec<Sample>> = Mutex::new(Vec::new());

/// The interleaved case's sample count (criterion's default).
const SAMPLE_SIZE: usize = 100;

fn interleaved(c: &mut Criterion, rt: &tokio::runtime::Runtime, db: &DatabaseConnection) {
    let mut g = c.benchmark_group("interleaved");
    g.sample_size(SAMPLE_SIZE);
    g.bench_function("signals_3_receivers", |b| {
        b.iter_custom(|iters| {
            let mut times: [Vec<Duration>; 4] =
                std::array::from_fn(|_| Vec::with_capacity(iters as usize));
            rt.block_on(async {
                for i in 0..iters {
                    // Each variant takes each place in the round equally often.
                    for slot in 0..4 {
                        match (i + slot) % 4 {
                            0 => times[0].push(timed_insert!(plain, db)),
                            1 => times[1].push(timed_insert!(signalled, db)),
                            2 => times[2].push(timed_insert!(quiet, db)),
                            _ => times[3].push(timed_insert!(twin, db)),
                        }
                    }
                }
            });
            let signalled: Duration = times[1].iter().sum();
            let sample = Sample {
                iters,
                median: std::array::from_fn(|v| {
                    times[v].sort_unstable();
                    times[v][times[v].len() / 2].as_secs_f64()
                }),
                total: std::array::from_fn(|v| times[v].iter().sum::<Duration>().as_secs_f64()),
            };
            SAMPLES.lock().unwrap().push(sample);
            signalled
        })
    });
    g.finish();
    let samples = SAMPLES.lock().unwrap();
    let signalled: u64 = samples.iter().map(|s| s.iters).sum();
    assert_eq!(
        HITS.swap(0, Ordering::Relaxed) as u64,
        3 * signalled,
        "every timed signalled insert ran the 3 receivers"
    );
    report(&samples);
}

/// The median of `values` and the 95 % confidence interval of it (order statistics: the
/// ranks n/2 ± 1.96·√n/2).
fn median_ci(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let half = 0.98 * (n as f64).sqrt();
    let lo = (n as f64 / 2.0 - half).floor().max(0.0) as usize;
    let hi = ((n as f64 / 2.0 + half).ceil() as usize).min(n - 1);
    (values[n / 2], values[lo], values[hi])
}

/// Prints, over the interleaved case's samples (the last [`SAMPLE_SIZE`] routine calls),
/// each variant's time per insert relative to `plain`'s in the same sample: the median
/// over the samples of the ratio of the samples' medians, with its 95 % confidence
/// interval (a preempted insert moves a sample's median little and its sum a lot), and
/// the ratio of the sums over all samples (the means, outliers included).
fn report(all: &[Sample]) {
    if all.is_empty() {
        return; // filtered out, or --list
    }
    let samples = &all[all.len().saturating_sub(SAMPLE_SIZE)..];
    let inserts: u64 = samples.iter().map(|s| s.iters).sum();
    let (plain, _, _) = median_ci(samples.iter().map(|s| s.median[0]).collect());
    println!(
        "interleaved: {} samples, {inserts} inserts of each variant; plain: median {:.2} µs per insert",
        samples.len(),
        plain * 1e6
    );
    for (v, name) in VARIANTS.iter().enumerate().skip(1) {
        let (median, lo, hi) =
            median_ci(samples.iter().map(|s| s.median[v] / s.median[0]).collect());
        let means = samples.iter().map(|s| s.total[v]).sum::<f64>()
            / samples.iter().map(|s| s.total[0]).sum::<f64>();
        println!(
            "  {name} / plain: median ratio {median:.4} (95% CI {lo:.4}..{hi:.4}), ratio of means {means:.4}"
        );
    }
}

fn sequential(c: &mut Criterion, rt: &tokio::runtime::Runtime, db: &DatabaseConnection) {
    let mut g = c.benchmark_group("insert");
    g.bench_function("plain", |b| {
        b.iter(|| rt.block_on(async { row!(plain).insert(db).await.unwrap() }))
    });
    g.bench_function("signals_3_receivers", |b| {
        b.iter(|| rt.block_on(async { row!(signalled).insert(db).await.unwrap() }))
    });
    g.bench_function("signals_no_receiver", |b| {
        b.iter(|| rt.block_on(async { row!(quiet).insert(db).await.unwrap() }))
    });
    g.finish();
}

fn hooks(c: &mut Criterion, rt: &tokio::runtime::Runtime, db: &DatabaseConnection) {
    let mut g = c.benchmark_group("hooks");
    g.bench_function("plain", |b| {
        b.iter_custom(|iters| rt.block_on(async { timed_hooks!(plain, db, iters) }))
    });
    g.bench_function("signals_3_receivers", |b| {
        b.iter_custom(|iters| rt.block_on(async { timed_hooks!(signalled, db, iters) }))
    });
    g.bench_function("signals_no_receiver", |b| {
        b.iter_custom(|iters| rt.block_on(async { timed_hooks!(quiet, db, iters) }))
    });
    g.finish();
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let receivers: Vec<_> = (0..3)
        .map(|_| {
            PostSave::<signalled::Model>::connect(|e: &PostSave<'_, signalled::Model>| {
                black_box(e.instance.id);
                HITS.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    let db = rt.block_on(database());

    // The three receivers run once per signalled insert and once per signalled
    // `after_save`, none for the others.
    rt.block_on(async {
        black_box(timed_insert!(signalled, &db));
        black_box(timed_insert!(quiet, &db));
        black_box(timed_insert!(plain, &db));
        black_box(timed_hooks!(signalled, &db, 1));
        black_box(timed_hooks!(quiet, &db, 1));
        black_box(timed_hooks!(plain, &db, 1));
    });
    assert_eq!(HITS.swap(0, Ordering::Relaxed), 6, "3 receivers, 2 sends");

    let mut c = Criterion::default().configure_from_args();
    interleaved(&mut c, &rt, &db);
    sequential(&mut c, &rt, &db);
    hooks(&mut c, &rt, &db);
    c.final_summary();
    drop(receivers);
}
