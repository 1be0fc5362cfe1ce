//! The saga engine benchmark (sagas.md §7): the real engine and store on PostgreSQL, five-step
//! synthetic sagas whose calls go to an instant gRPC double, and in the same run the baselines the
//! targets are ratios of: the database's single-row commit rate and a tonic unary echo.
//!
//! Run: `TENURE_TEST_PG_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench -p tenure-orders
//! --features bench --bench saga_engine` (`-- --quick` for a short run). It creates and drops its own database.

#![allow(clippy::print_stdout, reason = "a benchmark's report is its output")]
#![allow(clippy::expect_used, reason = "a failed setup step ends the benchmark")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use sea_orm::{ConnectionTrait as _, Database, DatabaseConnection, DbBackend, Statement};
use tenure_domain::ManualClock;
use tenure_orders::EngineSettings;
use tenure_orders::bench::{Downstream, Shape, SyntheticEngine, TIMER, TRANSITIONS_PER_SAGA};
use tenure_testkit::TestDatabase;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Server};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// How long each measured phase runs.
struct Scale {
    baseline: Duration,
    burst: usize,
    open_loop: Duration,
    timers: usize,
    takeover: usize,
    /// Sagas parked for S7, half polling hourly and half in a 90-day timer.
    parked: usize,
    /// Hours of business time S7 moves through, one at a time.
    parked_hours: u32,
}

fn percentile(samples: &mut [Duration], fraction: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let rank = ((samples.len() as f64) * fraction).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// An instant double: the gRPC health service on a loopback port.
async fn echo_server() -> Channel {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("address");
    let (_reporter, health) = tonic_health::server::health_reporter();
    let mut servers = tokio::task::JoinSet::new();
    servers.spawn(async move {
        Server::builder()
            .add_service(health)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .ok();
    });
    // The server lives as long as the process.
    std::mem::forget(servers);
    tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .expect("endpoint")
        .tcp_nodelay(true)
        .connect()
        .await
        .expect("connect")
}

async fn echo(channel: &Channel) -> Result<(), String> {
    HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|_| ())
        .map_err(|status| status.message().to_owned())
}

/// B2: the p50 of sequential echoes, and the rate of 16 concurrent callers.
async fn echo_baseline(channel: &Channel, scale: &Scale) -> (Duration, f64) {
    let mut latencies = Vec::new();
    let until = Instant::now() + scale.baseline / 2;
    while Instant::now() < until {
        let started = Instant::now();
        echo(channel).await.expect("echo");
        latencies.push(started.elapsed());
    }
    let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let until = Instant::now() + scale.baseline / 2;
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (channel, calls) = (channel.clone(), calls.clone());
        callers.spawn(async move {
            while Instant::now() < until {
                if echo(&channel).await.is_ok() {
                    calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
    }
    while callers.join_next().await.is_some() {}
    let rate = calls.load(std::sync::atomic::Ordering::Relaxed) as f64
        / (scale.baseline / 2).as_secs_f64();
    (percentile(&mut latencies, 0.5), rate)
}

/// B1: single-row INSERT commits per second with `clients` connections, and their mean latency.
async fn commit_baseline(url: &str, clients: usize, length: Duration) -> (f64, Duration) {
    let setup = Database::connect(url).await.expect("connect");
    setup
        .execute_raw(Statement::from_string(
            DbBackend::Postgres,
            "CREATE TABLE IF NOT EXISTS public.bench_commit (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())",
        ))
        .await
        .expect("table");
    let commits = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let spent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let until = Instant::now() + length;
    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (url, commits, spent) = (url.to_owned(), commits.clone(), spent.clone());
        writers.spawn(async move {
            let conn: DatabaseConnection = Database::connect(&url).await.expect("connect");
            while Instant::now() < until {
                let started = Instant::now();
                conn.execute_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "INSERT INTO public.bench_commit DEFAULT VALUES",
                ))
                .await
                .expect("insert");
                spent.fetch_add(
                    u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                    std::sync::atomic::Ordering::Relaxed,
                );
                commits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            conn.close().await.ok();
        });
    }
    while writers.join_next().await.is_some() {}
    setup.close().await.ok();
    let commits = commits.load(std::sync::atomic::Ordering::Relaxed).max(1);
    let mean = Duration::from_micros(spent.load(std::sync::atomic::Ordering::Relaxed) / commits);
    (commits as f64 / length.as_secs_f64(), mean)
}

async fn xact_commits(url: &str) -> u64 {
    let conn = Database::connect(url).await.expect("connect");
    let row = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
        ))
        .await
        .expect("stats")
        .expect("row");
    let commits: i64 = row.try_get_by_index(0).expect("commits");
    conn.close().await.ok();
    u64::try_from(commits).unwrap_or(0)
}

async fn wait_finished(engine: &SyntheticEngine, total: u64) -> u64 {
    let mut polls = 0;
    loop {
        polls += 1;
        if engine.finished().await.expect("count") >= total {
            return polls;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn verdict(pass: bool) -> &'static str {
    if pass { "pass" } else { "MISS" }
}

#[allow(
    clippy::disallowed_methods,
    reason = "a benchmark reads the handoff of tests/run.sh and its own flag"
)]
fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|argument| argument == "--quick");
    let scale = if quick {
        Scale {
            baseline: Duration::from_secs(4),
            burst: 500,
            open_loop: Duration::from_secs(8),
            timers: 200,
            takeover: 400,
            parked: 200,
            parked_hours: 24,
        }
    } else {
        Scale {
            baseline: Duration::from_secs(10),
            burst: 3000,
            open_loop: Duration::from_secs(30),
            timers: 1000,
            takeover: 1000,
            parked: 1000,
            parked_hours: 168,
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(scale))
}

async fn run(scale: Scale) -> anyhow::Result<()> {
    let database = TestDatabase::create().await?;
    let url = database.url().expose().to_owned();
    let version = {
        let conn = Database::connect(&url).await?;
        let row = conn
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT version() AS v, current_setting('fsync') AS f, \
                 current_setting('synchronous_commit') AS s",
            ))
            .await?
            .ok_or_else(|| anyhow::anyhow!("no row"))?;
        let described = format!(
            "{} (fsync={}, synchronous_commit={})",
            row.try_get::<String>("", "v")?,
            row.try_get::<String>("", "f")?,
            row.try_get::<String>("", "s")?
        );
        conn.close().await.ok();
        described
    };
    println!("Tenure saga engine benchmark");
    println!(
        "  machine: {} cores; everything (PostgreSQL, engine, doubles, load) shares them",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!("  database: {version}");

    // Baselines, measured first on the same machine.
    let (commit_rate_1, commit_latency) = commit_baseline(&url, 1, scale.baseline / 2).await;
    let (commit_rate_16, _) = commit_baseline(&url, 16, scale.baseline / 2).await;
    let commit_rate = commit_rate_1.max(commit_rate_16);
    let channel = echo_server().await;
    let (echo_latency, echo_rate) = echo_baseline(&channel, &scale).await;
    println!();
    println!("Baselines");
    println!(
        "  B1 single-row commits: {commit_rate_1:.0}/s at c=1 ({:.2} ms each), {commit_rate_16:.0}/s at c=16",
        ms(commit_latency)
    );
    println!(
        "  B2 tonic unary echo:   p50 {:.3} ms, {echo_rate:.0}/s with 16 callers",
        ms(echo_latency)
    );

    let downstream: Downstream = {
        let channel = channel.clone();
        Arc::new(move || {
            let channel = channel.clone();
            async move { echo(&channel).await }.boxed()
        })
    };
    let settings = tenure_db::DatabaseSettings {
        url: database.url().clone(),
        schema: "orders".to_owned(),
        max_connections: 40,
        ..Default::default()
    };
    let engine = SyntheticEngine::start(
        &settings,
        EngineSettings {
            concurrency: 32,
            wake_interval_ms: 20,
            ..EngineSettings::default()
        },
        downstream,
    )
    .await?;

    // S1: a burst of sagas, all due at once; throughput is completions over time.
    let commits_before = xact_commits(&url).await;
    let started = Instant::now();
    engine.start_sagas(Shape::FiveSteps, scale.burst).await?;
    let polls = wait_finished(&engine, scale.burst as u64).await;
    let elapsed = started.elapsed();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let commits = xact_commits(&url)
        .await
        .saturating_sub(commits_before)
        .saturating_sub(polls + 2);
    let sagas_per_second = scale.burst as f64 / elapsed.as_secs_f64();
    let transitions = scale.burst as u64 * TRANSITIONS_PER_SAGA;
    let transitions_per_second = transitions as f64 / elapsed.as_secs_f64();
    let commits_per_transition = commits as f64 / transitions as f64;
    println!();
    println!("S1 burst of {} five-step sagas", scale.burst);
    println!(
        "  completed: {sagas_per_second:.0} sagas/s, {transitions_per_second:.0} transitions/s"
    );
    println!(
        "  commits per transition: {commits_per_transition:.2} (claims and idle polls included)"
    );

    // S2 + S5: open loop at half the measured rate, with a subscriber on the stream.
    let rate = (sagas_per_second / 2.0).max(1.0);
    let since = engine.now();
    let stop = CancellationToken::new();
    let subscriber = {
        let stop = stop.clone();
        let engine = &engine;
        async move { engine.subscribe_until(stop).await }
    };
    let arrivals = async {
        let tick = Duration::from_millis(100);
        let per_tick = rate * tick.as_secs_f64();
        let mut owed = 0.0;
        let until = Instant::now() + scale.open_loop;
        let mut started_count = 0u64;
        let mut next = Instant::now();
        while Instant::now() < until {
            owed += per_tick;
            let now_count = owed.floor() as usize;
            owed -= now_count as f64;
            if now_count > 0 {
                engine.start_sagas(Shape::FiveSteps, now_count).await?;
                started_count += now_count as u64;
            }
            next += tick;
            tokio::time::sleep_until(next.into()).await;
        }
        wait_finished(&engine, scale.burst as u64 + started_count).await;
        stop.cancel();
        anyhow::Ok(started_count)
    };
    let (deliveries, started_count) = tokio::join!(subscriber, arrivals);
    let (deliveries, started_count) = (deliveries?, started_count?);
    let (mut end_to_end, mut steps) = engine.latencies(Shape::FiveSteps, since).await?;
    let mut delivery: Vec<Duration> = deliveries
        .iter()
        .map(|delivery| {
            (delivery.received_at - delivery.recorded_at)
                .to_std()
                .unwrap_or_default()
        })
        .collect();
    let (step_p50, step_p99) = (percentile(&mut steps, 0.5), percentile(&mut steps, 0.99));
    let (e2e_p50, e2e_p99) = (
        percentile(&mut end_to_end, 0.5),
        percentile(&mut end_to_end, 0.99),
    );
    let stream_p99 = percentile(&mut delivery, 0.99);
    println!();
    println!(
        "S2 open loop at {rate:.0} sagas/s (half of S1) for {}s: {started_count} sagas",
        scale.open_loop.as_secs()
    );
    println!(
        "  step latency: p50 {:.2} ms, p99 {:.2} ms (between two committed steps, the call included)",
        ms(step_p50),
        ms(step_p99)
    );
    println!(
        "  five-step saga end to end: p50 {:.2} ms, p99 {:.2} ms",
        ms(e2e_p50),
        ms(e2e_p99)
    );
    println!(
        "S5 stream: {} events delivered, write to subscriber p99 {:.2} ms",
        delivery.len(),
        ms(stream_p99)
    );

    // S3 (small): timers due together; lateness is when they ended past their due time.
    let since = engine.now();
    let total = engine.finished().await? + scale.timers as u64;
    engine.start_sagas(Shape::Timer, scale.timers).await?;
    wait_finished(&engine, total).await;
    let (mut timer_runs, _) = engine.latencies(Shape::Timer, since).await?;
    let mut lateness: Vec<Duration> = timer_runs
        .iter_mut()
        .map(|run| run.saturating_sub(TIMER))
        .collect();
    let late_p99 = percentile(&mut lateness, 0.99);
    let late_max = lateness.iter().max().copied().unwrap_or_default();
    println!(
        "S3 {} timers due together: lateness p99 {:.0} ms, max {:.0} ms",
        scale.timers,
        ms(late_p99),
        ms(late_max)
    );

    engine.stop().await;

    // S4: two replicas share a batch of sagas whose calls take a while; one dies holding leases.
    let lease = Duration::from_secs(5);
    let replica_settings = EngineSettings {
        concurrency: 32,
        lease_secs: lease.as_secs(),
        ..EngineSettings::default()
    };
    let slow: Downstream = {
        let channel = channel.clone();
        Arc::new(move || {
            let channel = channel.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                echo(&channel).await
            }
            .boxed()
        })
    };
    let doomed = SyntheticEngine::start_replica(
        &settings,
        replica_settings.clone(),
        slow.clone(),
        "doomed",
        Arc::new(tenure_domain::SystemClock),
    )
    .await?;
    let survivor = SyntheticEngine::start_replica(
        &settings,
        replica_settings.clone(),
        slow,
        "survivor",
        Arc::new(tenure_domain::SystemClock),
    )
    .await?;
    let total = survivor.finished().await? + scale.takeover as u64;
    survivor
        .start_sagas(Shape::FiveSteps, scale.takeover)
        .await?;
    tokio::time::sleep(Duration::from_millis(700)).await;
    doomed.crash().await;
    let crashed_at = survivor.now();
    let orphans = survivor.leased_by("doomed").await?;
    let mut takeovers = loop {
        let next = survivor.next_commits(&orphans, crashed_at).await?;
        if next.iter().all(Option::is_some) {
            break next
                .into_iter()
                .flatten()
                .map(|at| (at - crashed_at).to_std().unwrap_or_default())
                .collect::<Vec<_>>();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    wait_finished(&survivor, total).await;
    survivor.stop().await;
    let takeover_p50 = percentile(&mut takeovers, 0.5);
    let takeover_max = takeovers.iter().max().copied().unwrap_or_default();
    let wanted_t6 = lease
        + Duration::from_millis(2 * replica_settings.wake_interval_ms)
        + Duration::from_secs(1);
    println!(
        "S4 {} sagas on two replicas, one killed holding {} of them: next commit after the kill \
         p50 {:.2} s, max {:.2} s (lease {} s)",
        scale.takeover,
        orphans.len(),
        takeover_p50.as_secs_f64(),
        takeover_max.as_secs_f64(),
        lease.as_secs()
    );

    // S7 (small): sagas parked in an hourly poll and in a 90-day timer, in a schema of their own,
    // while business time moves an hour at a time: what each holds, and what the polls add.
    let polls = Arc::new(AtomicU64::new(0));
    let counted: Downstream = {
        let (channel, polls) = (channel.clone(), polls.clone());
        Arc::new(move || {
            let (channel, polls) = (channel.clone(), polls.clone());
            async move {
                polls.fetch_add(1, Ordering::Relaxed);
                echo(&channel).await
            }
            .boxed()
        })
    };
    let business = Arc::new(ManualClock::new());
    let parked = SyntheticEngine::start_replica(
        &tenure_db::DatabaseSettings {
            schema: "orders_parked".to_owned(),
            ..settings.clone()
        },
        EngineSettings {
            concurrency: 32,
            wake_interval_ms: 20,
            ..EngineSettings::default()
        },
        counted,
        "parked",
        business.clone(),
    )
    .await?;
    let empty = parked.footprint().await?;
    parked.start_sagas(Shape::Polling, scale.parked / 2).await?;
    parked
        .start_sagas(Shape::LongTimer, scale.parked - scale.parked / 2)
        .await?;
    parked.settle().await?;
    let settled = parked.footprint().await?;
    let first_polls = polls.load(Ordering::Relaxed);
    for _ in 0..scale.parked_hours {
        business.advance(chrono::Duration::hours(1));
        parked.wake();
        parked.settle().await?;
    }
    let week = parked.footprint().await?;
    let hourly_polls = polls.load(Ordering::Relaxed) - first_polls;
    parked.stop().await;
    let bytes_per_saga = settled.bytes.saturating_sub(empty.bytes) / scale.parked as u64;
    let bytes_after_week = week.bytes.saturating_sub(empty.bytes) / scale.parked as u64;
    let rows_added = week.total_rows() as i64 - settled.total_rows() as i64;
    let grown: Vec<String> = week
        .rows
        .iter()
        .filter(|(table, rows)| settled.rows.get(*table) != Some(rows))
        .map(|(table, rows)| {
            format!(
                "{table} {} -> {rows}",
                settled.rows.get(table).copied().unwrap_or(0)
            )
        })
        .collect();
    println!(
        "S7 {} parked sagas ({} polling hourly, {} in a 90-day timer): {bytes_per_saga} bytes each \
         (every table and index of the schema); {} business hours, {hourly_polls} polls: {rows_added} \
         rows added{}, {bytes_after_week} bytes each after them (dead row versions until vacuum)",
        scale.parked,
        scale.parked / 2,
        scale.parked - scale.parked / 2,
        scale.parked_hours,
        if grown.is_empty() {
            String::new()
        } else {
            format!(" ({})", grown.join(", "))
        }
    );

    let wanted_t1 = 0.25 * commit_rate;
    let wanted_t3 = commit_latency + Duration::from_millis(1);
    let wanted_t4 = commit_latency * 6 + echo_latency * 12;
    let wanted_t8 = commit_latency * 10;
    println!();
    println!("Targets (sagas.md §7.3) as ratios to this run's baselines");
    println!(
        "  T1 transitions/s >= 0.25 x R_commit ({wanted_t1:.0}): {transitions_per_second:.0} = {:.2} x R_commit  {}",
        transitions_per_second / commit_rate,
        verdict(transitions_per_second >= wanted_t1)
    );
    println!(
        "  T2 commits per transition <= 1: {commits_per_transition:.2}  {}",
        verdict(commits_per_transition <= 1.0)
    );
    println!(
        "  T3 step p50 <= L_commit + 1 ms ({:.2} ms): {:.2} ms = {:.2} x L_commit  {}",
        ms(wanted_t3),
        ms(step_p50),
        ms(step_p50) / ms(commit_latency),
        verdict(step_p50 <= wanted_t3)
    );
    println!(
        "  T4 saga p50 <= 6 x L_commit + 12 x L_echo ({:.2} ms): {:.2} ms  {}",
        ms(wanted_t4),
        ms(e2e_p50),
        verdict(e2e_p50 <= wanted_t4)
    );
    println!(
        "  T5 timer lateness p99 <= 1 s: {:.0} ms  {}",
        ms(late_p99),
        verdict(late_p99 <= Duration::from_secs(1))
    );
    println!(
        "  T6 takeover <= lease + 2 x wake interval + 1 s ({:.1} s): max {:.2} s  {}",
        wanted_t6.as_secs_f64(),
        takeover_max.as_secs_f64(),
        verdict(!orphans.is_empty() && takeover_max <= wanted_t6)
    );
    println!(
        "  T8 stream p99 <= 10 x L_commit ({:.2} ms): {:.2} ms  {}",
        ms(wanted_t8),
        ms(stream_p99),
        verdict(stream_p99 <= wanted_t8)
    );
    println!(
        "  T9 <= 4 KB per parked saga and 0 rows added by polls and timers: {bytes_per_saga} B, \
         {rows_added} rows  {}",
        verdict(bytes_per_saga <= 4096 && rows_added == 0 && hourly_polls > 0)
    );
    Ok(())
}
