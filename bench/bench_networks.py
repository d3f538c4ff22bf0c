#!/usr/bin/env python3
"""NetworkSet lookups and builds against the naive ``ipaddress`` scan, same run.

    python3 bench/bench_networks.py [--quick]

Prints a markdown table (median time per lookup, and the ratio naive/NetworkSet)
for hit and miss probes, IPv4 and IPv6, at 10, 1,000 and 100,000 rules, and the
build time of each set. Rules are random but seeded, so runs are comparable.
"""

import argparse
import ipaddress
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from perimeter.networks import NetworkSet  # noqa: E402


def random_rules(count, rng):
    rules = []
    for index in range(count):
        if index % 2:
            network = ipaddress.IPv6Network((rng.getrandbits(128), rng.choice((48, 56, 64, 128))), strict=False)
        else:
            network = ipaddress.IPv4Network((rng.getrandbits(32), rng.choice((16, 24, 28, 32))), strict=False)
        rules.append(str(network))
    return rules


def probes_for(rules, version, hit, count, rng):
    """Addresses inside (hit) or outside (miss) the rules, of one IP version."""
    networks = [ipaddress.ip_network(rule) for rule in rules if ipaddress.ip_network(rule).version == version]
    compiled = NetworkSet(rules)
    probes = []
    while len(probes) < count:
        if hit:
            network = rng.choice(networks)
            address = network.network_address + rng.randrange(network.num_addresses)
        else:
            address = ipaddress.ip_address(rng.getrandbits(32 if version == 4 else 128))
            if version == 6:
                address = ipaddress.IPv6Address(address)
        if (str(address) in compiled) == hit:
            probes.append(str(address))
    return probes


def median_per_call(function, probes, repeat):
    """Median over ``repeat`` rounds of the time per call, in microseconds."""
    rounds = []
    for _ in range(repeat):
        started = time.perf_counter()
        for probe in probes:
            function(probe)
        rounds.append((time.perf_counter() - started) / len(probes) * 1e6)
    return statistics.median(rounds)


def naive_scan(rules):
    networks = [ipaddress.ip_network(rule) for rule in rules]

    def contains(text):
        address = ipaddress.ip_address(text)
        return any(address in network for network in networks)

    return contains


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer probes (a smoke run)")
    args = parser.parse_args()
    rng = random.Random(20261129)
    probe_count = 200 if args.quick else 2000
    print(f"Python {sys.version.split()[0]}; median of 7 rounds; times in µs per lookup\n")
    print("| rules | build (s) | probe | NetworkSet µs | naive scan µs | naive / NetworkSet |")
    print("|---:|---:|---|---:|---:|---:|")
    for count in (10, 1_000, 100_000):
        rules = random_rules(count, rng)
        started = time.perf_counter()
        compiled = NetworkSet(rules)
        build = time.perf_counter() - started
        naive = naive_scan(rules)
        for version in (4, 6):
            for hit in (True, False):
                probes = probes_for(rules, version, hit, probe_count, rng)
                fast = median_per_call(compiled.__contains__, probes, 7)
                # The naive scan at 100,000 rules takes milliseconds a probe: fewer probes, same median.
                slow_probes = probes[: max(20, probe_count // max(1, count // 100))]
                slow = median_per_call(naive, slow_probes, 3 if count >= 100_000 else 7)
                label = f"IPv{version} {'hit' if hit else 'miss'}"
                print(f"| {count:,} | {build:.3f} | {label} | {fast:.2f} | {slow:.1f} | {slow / fast:,.0f}x |")


if __name__ == "__main__":
    main()
