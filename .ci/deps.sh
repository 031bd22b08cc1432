#!/usr/bin/env bash
# Installs the Debian 12 packages fibd needs to build, test and run labs.
# Idempotent: does nothing when everything is there.
set -euo pipefail
pkgs=(libdpdk-dev dpdk dpdk-dev dpdk-doc meson ninja-build pkg-config gcc make
      libpcap-dev libnuma-dev python3-scapy tcpdump iproute2 ethtool bird2 frr
      iputils-ping traceroute iperf3 procps util-linux)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
	exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
