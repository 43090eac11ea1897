//! Scoring throughput of the learned models, in vectors per second on one core: the fused score
//! (autoencoder forward pass + isolation forest + tail calibration) beside Candle's forward pass
//! alone, measured in the same run. The fused score runs the autoencoder's weights through the
//! compiled kernels (`autoencoder::compiled`), so the compiled forward pass alone is measured too.
//!
//! `cargo bench -p homeostat-detector --bench scoring`; the ratio and vectors/s are printed at
//! the end.

use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use homeostat_detector::autoencoder::Autoencoder;
use homeostat_detector::baseline::median;
use homeostat_detector::fixtures::{latent_rows as rows, trained};
use homeostat_detector::learned::DIM;

fn bench(c: &mut Criterion) {
    let m = trained(&rows(4096, 1));
    let ae = m.ae.as_ref().expect("trained");
    let forest = m.forest.as_ref().expect("trained");
    let mut g = c.benchmark_group("scoring");
    for batch in [256usize, 1024] {
        let data = rows(batch, 2);
        let x = ae.batch(&data).expect("tensor");
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_with_input(BenchmarkId::new("candle_forward", batch), &batch, |b, _| {
            b.iter(|| ae.forward(&x).expect("forward"))
        });
        // The compiled kernels this processor can run (Candle is `candle_forward` above).
        for kernel in Autoencoder::kernels() {
            g.bench_with_input(
                BenchmarkId::new(format!("compiled_forward_{kernel}"), batch),
                &batch,
                |b, _| b.iter(|| ae.row_errors_named(kernel, &data).expect("errors")),
            );
        }
        g.bench_with_input(BenchmarkId::new("forest", batch), &batch, |b, _| {
            let mut out = Vec::with_capacity(batch);
            b.iter(|| forest.score_batch(&data, &mut out))
        });
        // Each forest kernel this processor can run (the forest above uses the fastest).
        for kernel in forest.kernels().into_iter().skip(1) {
            g.bench_with_input(BenchmarkId::new(format!("forest_{kernel}"), batch), &batch, |b, _| {
                let mut out = Vec::with_capacity(batch);
                b.iter(|| forest.score_batch_named(kernel, &data, &mut out))
            });
        }
        g.bench_with_input(BenchmarkId::new("fused", batch), &batch, |b, _| {
            b.iter(|| m.fused_batch(&data).expect("fused"))
        });
    }
    g.finish();

    // The headline figures, measured in this run: 1024 rows, which the fused path scores in
    // chunks of 256; the forward pass alone on the same chunks. The three are measured in
    // alternating short rounds rather than one long stretch each, so that a burst of load on a
    // shared machine lands on all of them alike; each figure is the median over the rounds, and
    // the ratio is taken round by round (its median and range are printed).
    let data = rows(1024, 3);
    let chunks: Vec<_> = data
        .chunks(homeostat_detector::learned::CHUNK * DIM)
        .map(|c| ae.batch(c).expect("tensor"))
        .collect();
    let rate = |f: &dyn Fn()| {
        let start = Instant::now();
        let mut n = 0;
        while start.elapsed().as_secs_f64() < 0.2 {
            f();
            n += 1;
        }
        (n * 1024) as f64 / start.elapsed().as_secs_f64()
    };
    const ROUNDS: usize = 15;
    // Where the processor has AVX-512, the fused score is also measured with both models' AVX2
    // kernels: what a processor without AVX-512 runs.
    let avx2_too = Autoencoder::kernel() != "avx2"
        && Autoencoder::kernels().contains(&"avx2")
        && forest.kernels().contains(&"avx2");
    let (mut forward, mut compiled, mut fused, mut ratio) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut fused_avx2, mut ratio_avx2) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let f = rate(&|| {
            for x in &chunks {
                let _ = ae.forward(x).expect("forward");
            }
        });
        let k = rate(&|| {
            for c in data.chunks(homeostat_detector::learned::CHUNK * DIM) {
                let _ = ae.row_errors(c).expect("errors");
            }
        });
        let u = rate(&|| {
            let _ = m.fused_batch(&data).expect("fused");
        });
        forward.push(f);
        compiled.push(k);
        fused.push(u);
        ratio.push(u / f);
        if avx2_too {
            let v = rate(&|| {
                let _ = m.fused_batch_named(Some("avx2"), &data).expect("fused");
            });
            fused_avx2.push(v);
            ratio_avx2.push(v / f);
        }
    }
    let range = |r: &[f64]| {
        let lo = r.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = r.iter().copied().fold(0.0, f64::max);
        (lo, hi)
    };
    let (lo, hi) = range(&ratio);
    let (forward, compiled, fused, median_ratio) =
        (median(&forward), median(&compiled), median(&fused), median(&ratio));
    println!(
        "\n1024 rows in chunks of 256, one thread, medians of {ROUNDS} alternating rounds:\n  Candle forward alone    {forward:>9.0} vectors/s\n  kernel forward alone    {compiled:>9.0} vectors/s ({} kernel; {:.2}x Candle)\n  fused                   {fused:>9.0} vectors/s (forest kernel {})\n  fused / Candle forward  {median_ratio:.2} (rounds {lo:.2} to {hi:.2})\n  fused / kernel forward  {:.2}",
        Autoencoder::kernel(),
        compiled / forward,
        forest.kernel(),
        fused / compiled,
    );
    if avx2_too {
        let (lo, hi) = range(&ratio_avx2);
        println!(
            "  fused, AVX2 kernels     {:>9.0} vectors/s (as without AVX-512)\n  … / Candle forward      {:.2} (rounds {lo:.2} to {hi:.2})",
            median(&fused_avx2),
            median(&ratio_avx2),
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
