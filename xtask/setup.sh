#!/usr/bin/env bash
# Installs what building and booting Switchboard needs on a Debian machine, and only what is
# missing: the Debian packages (kernel build, QEMU) through apt-get, and the Rust toolchain,
# targets and components that rust-toolchain.toml names, through rustup. `make run` and
# `make test` call it first; a second call does nothing and takes a fraction of a second.
set -euo pipefail
cd "$(dirname "$0")/.."

# gcc, make, binutils (objcopy) and python3 with ply, tempita and six build the seL4 kernel
# (its generators run on python3); xmllint checks its interface files; QEMU boots it.
packages=(gcc make binutils python3 python3-ply python3-tempita python3-six libxml2-utils
          qemu-system-x86)
missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
if ((${#missing[@]})); then
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null; then
            echo "setup: these Debian packages are missing: ${missing[*]}" >&2
            echo "setup: run this as root, or install sudo, or run as root:" >&2
            echo "    apt-get install ${missing[*]}" >&2
            exit 1
        fi
        sudo=(sudo)
    fi
    # apt-get's progress goes to a log, shown only if the install fails.
    log="$(mktemp -t switchboard-setup.XXXXXX)"
    echo "setup: installing Debian packages (about a minute): ${missing[*]}"
    if ! { "${sudo[@]}" apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
            --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
        cat "$log" >&2
        echo "setup: installing the Debian packages failed (log above, also in $log)" >&2
        exit 1
    fi
    rm -f "$log"
fi

# The machines set RUSTUP_AUTO_INSTALL=0, so cargo does not add what rust-toolchain.toml
# lists by itself: ask rustup, which installs exactly that (and is quick when all is there).
if ! command -v rustup >/dev/null; then
    echo "setup: rustup is missing: install the Rust toolchain (https://rustup.rs) first" >&2
    exit 1
fi
rustup toolchain install >/dev/null 2>&1 || rustup toolchain install
