#!/usr/bin/env bash
# Installs what the test suite needs: corosync (the daemon the integration
# tests start in private namespaces), the C client libraries' headers (the
# oracles: libquorum, libvotequorum, libcmap, libcfg, libcpg), iproute2
# (network namespaces), prometheus (promtool and the server, for the
# exporter's alerts and dashboard), systemd (systemd-analyze) and staticcheck.
# Idempotent; needs root for apt-get.
set -euo pipefail
need=()
command -v corosync >/dev/null 2>&1 || need+=(corosync)
command -v corosync-cmapctl >/dev/null 2>&1 || need+=(corosync)
[ -f /usr/include/corosync/quorum.h ] || need+=(libquorum-dev)
[ -f /usr/include/corosync/votequorum.h ] || need+=(libvotequorum-dev)
[ -f /usr/include/corosync/cmap.h ] || need+=(libcmap-dev)
[ -f /usr/include/corosync/cfg.h ] || need+=(libcfg-dev)
[ -f /usr/include/corosync/cpg.h ] || need+=(libcpg-dev)
command -v corosync-qnetd >/dev/null 2>&1 || need+=(corosync-qnetd)
command -v corosync-qdevice >/dev/null 2>&1 || need+=(corosync-qdevice)
command -v certutil >/dev/null 2>&1 || need+=(libnss3-tools)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
# The exporter's alert rules and dashboard are checked by promtool and a real
# Prometheus server (cmd/corosync-exporter/monitoring), its unit by
# systemd-analyze verify (packaging/).
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: need root to apt-get install ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d keeps the package from starting a system-wide corosync.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! command -v staticcheck >/dev/null 2>&1 && [ ! -x "$(go env GOPATH)/bin/staticcheck" ]; then
  go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi
