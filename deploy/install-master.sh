#!/usr/bin/env bash
# Install a Bramble master on this board (Raspberry Pi OS / Debian with Node 20).
# Usage: sudo deploy/install-master.sh --name m1 --listen 192.168.1.11:7001 \
#          --peers m1=192.168.1.11:7001,m2=192.168.1.12:7001,m3=192.168.1.13:7001 [--http 192.168.1.11:8001] \
#          [--join-token abcdef.0123456789abcdef]   (the same on every master; agents join with it)
set -euo pipefail
name="" listen="" peers="" http="" flags=""
while [ $# -gt 0 ]; do
  case "$1" in
    --name) name="$2"; shift 2 ;;
    --listen) listen="$2"; shift 2 ;;
    --peers) peers="$2"; shift 2 ;;
    --http) http="$2"; shift 2 ;;
    --join-token|--node-grace|--pod-eviction-timeout) flags="$flags $1 $2"; shift 2 ;;
    *) echo "unknown flag: $1" >&2; exit 2 ;;
  esac
done
[ -n "$name" ] && [ -n "$listen" ] && [ -n "$peers" ] || { echo "need --name, --listen and --peers" >&2; exit 2; }
[ -n "$http" ] || http="${listen%:*}:8001"
node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || { echo "Node 20 or newer is required" >&2; exit 1; }
src="$(cd "$(dirname "$0")/.." && pwd)"
id -u bramble >/dev/null 2>&1 || useradd --system --home /var/lib/bramble --shell /usr/sbin/nologin bramble
mkdir -p /opt/bramble /var/lib/bramble /etc/bramble
# Copy the built tree (run `./scripts/test` or `npx tsc -b` first so dist/ exists).
cp -a "$src"/. /opt/bramble/
chown -R bramble:bramble /var/lib/bramble
umask 077
cat > /etc/bramble/master.env <<ENV
BRAMBLE_NAME=$name
BRAMBLE_LISTEN=$listen
BRAMBLE_PEERS=$peers
BRAMBLE_HTTP=$http
BRAMBLE_MASTER_FLAGS=$flags
ENV
install -m 0644 "$src/deploy/systemd/bramble-master.service" /etc/systemd/system/bramble-master.service
systemctl daemon-reload
systemctl enable --now bramble-master
systemctl --no-pager status bramble-master | head -5
