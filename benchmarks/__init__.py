"""obskit benchmarks: each ``bench_*`` module compares obskit with a peer and returns rows."""
