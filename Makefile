# The commands a developer and CI run. Every target first makes sure Samba's libtdb
# 1.4.8 is vendored (downloaded once, sha256-checked, never committed).

CARGO ?= cargo

.PHONY: vendor capi example test lint bindings-check bench bench-sets bench-engines microbench capi-bench capture-bench fuzz ci

FUZZ_SECONDS ?= 60

vendor:
	./vendor/fetch-libtdb.sh

## libtdb.so.1 over tdb-pure (drop-in for Samba's libtdb): target/release/libtdb.so.1.
capi:
	CARGO="$(CARGO)" ./tdb-capi/build-so.sh

## Record a 3-process torture workload on C tdb and replay it, checking every result.
example: vendor
	$(CARGO) run --release --bin tdb-replay -- example

## The whole test suite (corpus tests run when TDB_REPLAY_CORPUS is set). Test binaries
## run their tests in parallel; the one whose replays fork workers (tests/integration)
## runs them one by one on its main thread (docs/TESTING.md).
test: vendor capi
	$(CARGO) test --workspace --release

lint: vendor
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --release -- -D warnings
	# The fuzz crate builds the engine without backends.
	$(CARGO) clippy -p replay-engine --no-default-features --release -- -D warnings

## Prove the committed bindgen output matches a fresh generation (needs libclang).
bindings-check: vendor
	./tdb-sys/check-bindings.sh

## The benchmark figures (needs the corpus: TDB_REPLAY_CORPUS=../shared/traces).
bench: vendor
	$(CARGO) build --release --bin tdb-replay
	./target/release/tdb-replay bench -n 5 "$(TDB_REPLAY_CORPUS)/ldb/users.ldb.trace.19774.zst"

## Differential-testing figures: bench -n 3 (c, pure, mixed, diff) on users.ldb and on
## every torture set, then one summary table (needs TDB_REPLAY_CORPUS).
bench-sets: vendor
	$(CARGO) build --release --bin tdb-replay
	./scripts/bench-sets.sh "$(TDB_REPLAY_CORPUS)" 3

## Single operations, tdb-pure against C tdb in the same run, at several sizes.
## A/B bench of the static build against Debian's libtdb.so.1 (the same tdb 1.4.8) on
## users.ldb, interleaved, with the HTML report (needs TDB_REPLAY_CORPUS and libtdb1).
bench-engines: vendor
	$(CARGO) build --release --bin tdb-replay
	./target/release/tdb-replay bench -n 15 --engines c,lib:/usr/lib/x86_64-linux-gnu/libtdb.so.1=debian \
		--overwrite --report bench-engines.html "$(TDB_REPLAY_CORPUS)/ldb/users.ldb.trace.19774.zst"

microbench: vendor
	$(CARGO) build --release --bin tdb-replay
	./target/release/tdb-replay microbench

## The drop-in library's speed: the same single operations through the C ABI on Debian's
## libtdb.so.1 and ours, and on tdb-pure from Rust, in one run (one table).
capi-bench: vendor capi
	$(CARGO) test --release -p tdb-capi --test abi_bench -- --ignored --nocapture

## The cost of `capture`: 100k python3-tdb calls without capture, with capture filtered to
## another database, and recorded (needs Debian's python3-tdb; docs/BENCHMARKS.md).
capture-bench: vendor
	$(CARGO) build --release -p replay-cli -p tdb-capture
	dir=$$(mktemp -d) && workload=replay-cli/tests/capture/workload.py && \
	/usr/bin/python3 $$workload --bench $$dir/plain.tdb 100000 && \
	./target/release/tdb-replay capture --dir $$dir/filtered --db other.tdb -- \
		/usr/bin/python3 $$workload --bench $$dir/filtered.tdb 100000 && \
	./target/release/tdb-replay capture --dir $$dir/recorded -- \
		/usr/bin/python3 $$workload --bench $$dir/recorded.tdb 100000; \
	status=$$?; rm -rf "$$dir"; exit $$status

## Fuzz tdb-pure's open/check/traverse/write paths with arbitrary files (needs cargo-fuzz).
fuzz:
	./fuzz/run.sh $(FUZZ_SECONDS)
