//! In-process loader benchmarks: the whole Genesis corpus, one large file, and the comparator
//! grammar. Whole-process figures (startup included) are in BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use rogue_runner::scenario::{LoadOptions, comparator, load_paths, load_text};

fn corpus() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/genesis");
    path.is_dir().then_some(path)
}

fn bench_loader(c: &mut Criterion) {
    let options = LoadOptions::default();
    if let Some(corpus) = corpus() {
        c.bench_function("load genesis corpus (67 files, 1626 scenarios)", |b| {
            b.iter(|| black_box(load_paths(std::slice::from_ref(&corpus), &options)));
        });
        let file = corpus.join("orchestration_p0.yaml");
        let text = fs_err::read_to_string(&file).unwrap();
        c.bench_function("load one file (orchestration_p0.yaml, 110 scenarios)", |b| {
            b.iter(|| black_box(load_text(&file, &text, false, &options)));
        });
    }
    let inputs = ["<2s", ">=0.85", "<$0.01", ">=90%", "5-10", "success", ">=2x vs sequential"];
    c.bench_function("parse 7 comparators", |b| {
        b.iter(|| {
            for input in inputs {
                black_box(comparator::parse(black_box(input)));
            }
        });
    });
}

criterion_group!(benches, bench_loader);
criterion_main!(benches);
