# Switchboard's two commands. Both install what is missing first (qemu/setup.sh).
#   make run   build the seL4 kernel and the system, and boot it in QEMU
#   make test  every check and test: format, lints, host tests, QEMU tests on the real kernel
#   make bench the benchmark on the real kernel in QEMU: prints a table
#   make fuzz  every fuzz target for RUNS executions each (default 10000000; nightly toolchain,
#              installs cargo-fuzz if missing): see fuzz/README.md
# run and bench boot the release kernel; `make run KERNEL=debug` boots the debug kernel (its
# debug system calls and its own reports on serial, for kernel diagnostics).
KERNEL ?= release

# Crates that only run on the host (everything else also builds for seL4 and is linted there).
HOST_ONLY = --exclude qemu --exclude system-tests --exclude cap-model
SEL4_TARGET = x86_64-unknown-none

# Executions per fuzz target for `make fuzz`.
RUNS ?= 10000000

.PHONY: run test bench setup lint fuzz

setup:
	@./qemu/setup.sh

run: setup
	cargo run --quiet --package qemu -- run --kernel $(KERNEL)

bench: setup
	cargo run --quiet --package qemu -- bench --kernel $(KERNEL)

fuzz:
	./fuzz/run-all $(RUNS)

lint: setup
	cargo fmt --all --check
	cargo clippy --quiet --all-targets -- -D warnings
	cargo clippy --quiet --package memory-manager --lib --tests -- -D warnings
	cargo clippy --quiet --workspace $(HOST_ONLY) --target $(SEL4_TARGET) -- -D warnings

test: lint
	cargo test --package memory-manager --lib
	cargo test
