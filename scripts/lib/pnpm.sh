# Make `pnpm` available: corepack cannot fetch it on these machines, so use npm.
if ! command -v pnpm >/dev/null 2>&1; then
  echo "pnpm not found; installing pnpm@9 with npm" >&2
  npm install -g pnpm@9 >/dev/null 2>&1 || true
fi
if ! command -v pnpm >/dev/null 2>&1; then
  pnpm() { npx --yes pnpm@9 "$@"; }
fi
