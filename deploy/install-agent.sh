#!/usr/bin/env bash
# Install a Bramble worker agent on this board (Raspberry Pi OS / Debian with Node 20).
# Usage: sudo deploy/install-agent.sh --name node1 --address 192.168.1.21 \
#          --masters 192.168.1.11:7001,192.168.1.12:7001,192.168.1.13:7001 --join-token abcdef.0123456789abcdef \
#          [--labels k=v,...] [--cpu 4] [--memory 4Gi]
# The join token: `bramble token create` on any machine with the CLI, or the one the
# masters were started with (--join-token).
set -euo pipefail
name="" address="" masters="" token="" flags=""
while [ $# -gt 0 ]; do
  case "$1" in
    --name) name="$2"; shift 2 ;;
    --address) address="$2"; shift 2 ;;
    --masters) masters="$2"; shift 2 ;;
    --join-token) token="$2"; shift 2 ;;
    --labels|--cpu|--memory|--max-pods) flags="$flags $1 $2"; shift 2 ;;
    *) echo "unknown flag: $1" >&2; exit 2 ;;
  esac
done
[ -n "$name" ] && [ -n "$address" ] && [ -n "$masters" ] && [ -n "$token" ] || { echo "need --name, --address, --masters and --join-token" >&2; exit 2; }
node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || { echo "Node 20 or newer is required" >&2; exit 1; }
src="$(cd "$(dirname "$0")/.." && pwd)"
id -u bramble >/dev/null 2>&1 || useradd --system --home /var/lib/bramble --shell /usr/sbin/nologin bramble
mkdir -p /opt/bramble /var/lib/bramble/agent /etc/bramble
# Copy the built tree (run `npx tsc -b` first so dist/ exists).
cp -a "$src"/. /opt/bramble/
chown -R bramble:bramble /var/lib/bramble
umask 077
cat > /etc/bramble/agent.env <<ENV
BRAMBLE_NODE_NAME=$name
BRAMBLE_ADDRESS=$address
BRAMBLE_MASTERS=$masters
BRAMBLE_JOIN_TOKEN=$token
BRAMBLE_AGENT_FLAGS=$flags
ENV
install -m 0644 "$src/deploy/systemd/bramble-agent.service" /etc/systemd/system/bramble-agent.service
systemctl daemon-reload
systemctl enable --now bramble-agent
systemctl --no-pager status bramble-agent | head -5
