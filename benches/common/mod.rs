//! What the criterion benches share: the runtime, criterion's settings, concurrent callers.
//! The leaf, the direct call, the naive chain, the trees and clients are `canopy bench`'s
//! own, from the `canopy-bench` crate (`canopy_bench::fixtures`), so that both measure the
//! same things.

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use criterion::Criterion;
use tokio::runtime::Runtime;

/// Concurrent callers of the concurrent benchmarks: `canopy bench`'s.
pub const CONCURRENCY: u64 = canopy_bench::fixtures::CONCURRENCY as u64;

/// The multi-thread runtime every bench runs on.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
}

/// Criterion as the benches use it: 1 s warm-up, 4 s of measurement, `samples` samples, no
/// plots, then whatever the command line says.
pub fn criterion(samples: usize) -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(samples)
        .without_plots()
}

/// Runs `iters` calls spread over [`CONCURRENCY`] tasks and returns the wall time: criterion's
/// time per iteration is then the inverse of the throughput.
pub async fn concurrently<F, Fut>(iters: u64, call: F) -> Duration
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = anyhow::Result<u64>> + Send,
{
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..CONCURRENCY {
        let calls = iters / CONCURRENCY + u64::from(task < iters % CONCURRENCY);
        let call = call.clone();
        tasks.spawn(async move {
            for _ in 0..calls {
                call().await.expect("the call answers");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("no caller panics");
    }
    start.elapsed()
}
