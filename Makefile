# Switchboard's two commands. Both install what is missing first (xtask/setup.sh), then run
# the build tool, `cargo xtask` (xtask/), which holds the one definition of every step.
#   make run   build the seL4 kernel and the system, and boot it in QEMU
#   make test  every check and test: format, lints, host tests, QEMU tests on the real kernel
#   make bench the benchmark on the real kernel in QEMU: prints a table
#   make lint  the format check and the lints alone
#   make fuzz  every fuzz target for RUNS executions each (default 10000000; nightly toolchain,
#              installs cargo-fuzz if missing): see fuzz/README.md
# run and bench boot the release kernel; `make run KERNEL=debug` boots the debug kernel (its
# debug system calls and its own reports on serial, for kernel diagnostics).
KERNEL ?= release

.PHONY: run test bench setup lint fuzz

# Executions per fuzz target for `make fuzz`.
RUNS ?= 10000000

# A shell script, not an xtask command: it installs the Rust toolchain cargo needs to run
# xtask at all.
setup:
	@./xtask/setup.sh

run: setup
	cargo xtask run --kernel $(KERNEL)

bench: setup
	cargo xtask bench --kernel $(KERNEL)

fuzz:
	./fuzz/run-all $(RUNS)

lint: setup
	cargo xtask lint

test: setup
	cargo xtask test
