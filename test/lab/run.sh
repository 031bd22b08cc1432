#!/usr/bin/env bash
# Runs the pcap lab: fibd forwards test/lab/input.pcap along
# test/lab/static.routes, stops when the input is drained and prints its
# counters; then a few of the routed packets are shown per output port.
set -euo pipefail
cd "$(dirname "$0")/../.."
fibd=${1:-bin/fibd}
out=test/lab/out
rm -rf "$out" && mkdir -p "$out"
# the EAL's runtime directory (fastdpi.conf's --file-prefix) goes, pass or fail
trap 'rm -rf /var/run/dpdk/fibdlab' EXIT
echo "== fibd: test/lab/input.pcap through test/lab/static.routes"
"$fibd" -c test/lab/fastdpi.conf --static test/lab/static.routes --lab --stats-json "$out/stats.json"
for p in net_pcap0 net_pcap1 net_pcap2; do
	echo
	echo "== $out/$p.pcap (first 6 packets)"
	tcpdump -nn -e -r "$out/$p.pcap" -c 6 2>/dev/null || true
done
