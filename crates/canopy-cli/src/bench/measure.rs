//! Sampling: warm-up, time-budgeted rounds, baseline and Canopy interleaved, p50/p99 from
//! the recorded samples and throughput from the wall time of each round.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use anyhow::Context as _;

/// How long to measure each side.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    /// Calls made and thrown away before measuring, per side.
    pub(crate) warmup: Duration,
    /// One measured round of one side.
    pub(crate) round: Duration,
    /// Rounds per side; the sides alternate round by round (and which goes first).
    pub(crate) rounds: usize,
}

impl Budget {
    /// The full run: several minutes in all.
    pub(crate) fn full() -> Self {
        Self {
            warmup: Duration::from_millis(500),
            round: Duration::from_millis(1_000),
            rounds: 6,
        }
    }

    /// The quick run: about a minute in all.
    pub(crate) fn quick() -> Self {
        Self {
            warmup: Duration::from_millis(100),
            round: Duration::from_millis(250),
            rounds: 2,
        }
    }
}

/// What one side recorded: a latency per sample, and units of work done over a wall time.
#[derive(Debug, Default)]
pub(crate) struct Samples {
    latencies_ns: Vec<f64>,
    units: u64,
    wall: Duration,
}

impl Samples {
    fn add(&mut self, other: Samples) {
        self.latencies_ns.extend(other.latencies_ns);
        self.units += other.units;
        self.wall += other.wall;
    }

    /// p50, p99 and throughput of everything recorded.
    pub(crate) fn stats(mut self) -> Stats {
        self.latencies_ns.sort_by(f64::total_cmp);
        let at = |q: f64| percentile(&self.latencies_ns, q);
        Stats {
            p50_ns: at(0.50),
            p99_ns: at(0.99),
            throughput: self.units as f64 / self.wall.as_secs_f64().max(f64::MIN_POSITIVE),
            samples: self.latencies_ns.len(),
        }
    }
}

/// The `q` quantile (0 to 1) of `sorted` by the nearest-rank method; NaN when empty.
pub(crate) fn percentile(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let index = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
    sorted[index]
}

/// The summary of one side of a scenario.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stats {
    /// Median latency of a call (ns).
    pub(crate) p50_ns: f64,
    /// 99th-percentile latency of a call (ns).
    pub(crate) p99_ns: f64,
    /// Units of work (calls, or events) per second of wall time.
    pub(crate) throughput: f64,
    /// How many latency samples the percentiles come from.
    pub(crate) samples: usize,
}

/// Calls `call` one after the other for `time`. Each sample is the mean latency of `batch`
/// consecutive calls, so that sub-microsecond calls are not dominated by reading the clock.
async fn sequential<F, Fut>(call: &mut F, time: Duration, batch: usize) -> anyhow::Result<Samples>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<u64>>,
{
    let batch = batch.max(1);
    let start = Instant::now();
    let mut samples = Samples::default();
    loop {
        let t = Instant::now();
        for _ in 0..batch {
            samples.units += call().await?;
        }
        samples
            .latencies_ns
            .push(t.elapsed().as_nanos() as f64 / batch as f64);
        if start.elapsed() >= time {
            break;
        }
    }
    samples.wall = start.elapsed();
    Ok(samples)
}

/// Runs `tasks` tasks, each calling `call` one after the other, for `time`.
async fn concurrent<F, Fut>(call: &F, time: Duration, tasks: usize) -> anyhow::Result<Samples>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = anyhow::Result<u64>> + Send + 'static,
{
    let start = Instant::now();
    let deadline = start + time;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let call = call.clone();
        set.spawn(async move {
            let mut samples = Samples::default();
            loop {
                let t = Instant::now();
                samples.units += call().await?;
                samples.latencies_ns.push(t.elapsed().as_nanos() as f64);
                if Instant::now() >= deadline {
                    break;
                }
            }
            anyhow::Ok(samples)
        });
    }
    let mut all = Samples::default();
    while let Some(done) = set.join_next().await {
        all.add(done.context("a benchmark task panicked")??);
    }
    all.wall = start.elapsed();
    Ok(all)
}

/// Measures two sequential callers in the same run: warm-up of each, then rounds that
/// alternate the sides (and which side goes first) to spread drift over both.
pub(crate) async fn compare_sequential<B, BF, C, CF>(
    budget: Budget,
    batch: usize,
    mut baseline: B,
    mut canopy: C,
) -> anyhow::Result<(Stats, Stats)>
where
    B: FnMut() -> BF,
    BF: Future<Output = anyhow::Result<u64>>,
    C: FnMut() -> CF,
    CF: Future<Output = anyhow::Result<u64>>,
{
    sequential(&mut baseline, budget.warmup, batch).await?;
    sequential(&mut canopy, budget.warmup, batch).await?;
    let (mut b, mut c) = (Samples::default(), Samples::default());
    for round in 0..budget.rounds {
        if round % 2 == 0 {
            b.add(sequential(&mut baseline, budget.round, batch).await?);
            c.add(sequential(&mut canopy, budget.round, batch).await?);
        } else {
            c.add(sequential(&mut canopy, budget.round, batch).await?);
            b.add(sequential(&mut baseline, budget.round, batch).await?);
        }
    }
    Ok((b.stats(), c.stats()))
}

/// The same as [`compare_sequential`] with `tasks` concurrent callers per side.
pub(crate) async fn compare_concurrent<B, BF, C, CF>(
    budget: Budget,
    tasks: usize,
    baseline: B,
    canopy: C,
) -> anyhow::Result<(Stats, Stats)>
where
    B: Fn() -> BF + Clone + Send + 'static,
    BF: Future<Output = anyhow::Result<u64>> + Send + 'static,
    C: Fn() -> CF + Clone + Send + 'static,
    CF: Future<Output = anyhow::Result<u64>> + Send + 'static,
{
    concurrent(&baseline, budget.warmup, tasks).await?;
    concurrent(&canopy, budget.warmup, tasks).await?;
    let (mut b, mut c) = (Samples::default(), Samples::default());
    for round in 0..budget.rounds {
        if round % 2 == 0 {
            b.add(concurrent(&baseline, budget.round, tasks).await?);
            c.add(concurrent(&canopy, budget.round, tasks).await?);
        } else {
            c.add(concurrent(&canopy, budget.round, tasks).await?);
            b.add(concurrent(&baseline, budget.round, tasks).await?);
        }
    }
    Ok((b.stats(), c.stats()))
}

/// One side alone (the depth sweep of the chart): warm-up, then `rounds` rounds.
pub(crate) async fn measure_sequential<F, Fut>(
    budget: Budget,
    batch: usize,
    mut call: F,
) -> anyhow::Result<Stats>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<u64>>,
{
    sequential(&mut call, budget.warmup, batch).await?;
    let mut all = Samples::default();
    for _ in 0..budget.rounds {
        all.add(sequential(&mut call, budget.round, batch).await?);
    }
    Ok(all.stats())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_sorted_samples() {
        let samples = Samples {
            latencies_ns: (1..=100).rev().map(f64::from).collect(),
            units: 200,
            wall: Duration::from_secs(2),
        };
        let stats = samples.stats();
        assert_eq!(stats.p50_ns, 50.0);
        assert_eq!(stats.p99_ns, 99.0);
        assert_eq!(stats.throughput, 100.0);
        assert_eq!(stats.samples, 100);
    }
}
