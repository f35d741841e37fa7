#!/bin/bash
# totp-chain.sh [--at UNIX_TIME] QR.png|'otpauth://totp/...'
#
# Plays an authenticator app with programs that share no code with twostep:
# zbarimg reads the QR code, this script parses the otpauth:// URI (Key URI
# Format: secret, and algorithm/digits/period with the defaults SHA1/6/30),
# and oathtool computes the code, which is printed on its own line:
#   oathtool --totp=ALG -b -d DIGITS -s PERIODs -N @UNIX_TIME SECRET
# --at computes the code for a given unix time instead of now.
# Needs the Debian packages oathtool and zbar-tools; installs nothing.
# Exit status: 0 ok, 1 bad input, 2 a program is missing.
set -euo pipefail

die() { echo "totp-chain: $*" >&2; exit 1; }
need() {
    command -v "$1" >/dev/null 2>&1 && return
    echo "totp-chain: $1 not found: apt-get install -y $2" >&2
    exit 2
}
urldecode() { local s=${1//+/ }; printf '%b' "${s//%/\\x}"; }

AT="" INPUT=""
while [ $# -gt 0 ]; do
    case $1 in
        --at) [ $# -ge 2 ] || die "--at needs a unix time"; AT=$2; shift 2 ;;
        --at=*) AT=${1#--at=}; shift ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) [ -z "$INPUT" ] || die "give one PNG or URI"; INPUT=$1; shift ;;
    esac
done
[ -n "$INPUT" ] || die "usage: totp-chain.sh [--at UNIX_TIME] QR.png|otpauth://..."
[[ -z $AT || $AT =~ ^[0-9]+$ ]] || die "--at wants a unix time in seconds, not '$AT'"
need oathtool oathtool

case $INPUT in
    otpauth://*) URI=$INPUT ;;
    *)
        [ -r "$INPUT" ] || die "cannot read '$INPUT'"
        need zbarimg zbar-tools
        # zbarimg may warn about D-Bus on stderr; an image may hold several
        # symbols: take the first otpauth:// one.
        URI=$(zbarimg --raw -q "$INPUT" 2>/dev/null | grep -m1 '^otpauth://' || true)
        [ -n "$URI" ] || die "no otpauth:// QR code in '$INPUT'"
        ;;
esac

rest=${URI#otpauth://}
TYPE=${rest%%/*}
[ "${TYPE,,}" = totp ] || die "only otpauth://totp/ URIs are supported, not '$TYPE'"
QUERY=""
case $rest in *\?*) QUERY=${rest#*\?} ;; esac

SECRET="" ALG=SHA1 DIGITS=6 PERIOD=30
IFS='&' read -r -a PAIRS <<< "$QUERY"
for kv in "${PAIRS[@]}"; do
    k=${kv%%=*} v=""
    [[ $kv == *=* ]] && v=$(urldecode "${kv#*=}")
    case ${k,,} in
        secret) SECRET=$v ;;
        algorithm) ALG=$v ;;
        digits) DIGITS=$v ;;
        period) PERIOD=$v ;;
    esac
done

# oathtool takes unpadded base32 but refuses wrong '=' padding: drop it,
# and the spaces of a secret grouped for typing.
SECRET=${SECRET//[ =]/}
SECRET=${SECRET^^}
[ -n "$SECRET" ] || die "the URI has no secret"
[[ $SECRET =~ ^[A-Z2-7]+$ ]] || die "the secret is not base32"
ALG=${ALG^^}
ALG=${ALG#HMAC-}
case $ALG in SHA1|SHA256|SHA512) ;; *) die "unsupported algorithm '$ALG' (SHA1, SHA256, SHA512)" ;; esac
case $DIGITS in 6|7|8) ;; *) die "oathtool makes 6, 7 or 8 digits, not '$DIGITS'" ;; esac
[[ $PERIOD =~ ^[1-9][0-9]*$ ]] || die "bad period '$PERIOD'"

T=${AT:-$(date +%s)}
oathtool --totp="$ALG" -b -d "$DIGITS" -s "${PERIOD}s" -N "@$T" "$SECRET" || die "oathtool failed"
