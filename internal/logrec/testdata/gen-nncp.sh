#!/usr/bin/env bash
# gen-nncp.sh -- regenerate testdata/nncp/: logs written by the real NNCP 8.8.2
# (/usr/bin/nncp-*) and what `nncp-log` prints for them.
#
# Runs a small scenario on three throwaway nodes made from
# /work/shared/testdata/nncp-8.8.2/configs (or $CONFIGS), then stores
#   nncp/{sat,hub}.log             the logs, temp dir replaced by /TESTDATA
#   nncp/{sat,hub}.log.out         `nncp-log` stdout for that log
#   nncp/{sat,hub}.log.debug.out   `nncp-log -debug` stdout
#   nncp/{sat,hub}.console         what the commands printed on stderr
#                                  (timestamps and temp dir as in the log)
# Usage: testdata/gen-nncp.sh   (from internal/logrec)
set -euo pipefail
CONFIGS=${CONFIGS:-/work/shared/testdata/nncp-8.8.2/configs}
OUT=$(cd "$(dirname "$0")" && pwd)/nncp
mkdir -p "$OUT"
D=$(mktemp -d /tmp/logrec-gen.XXXXXX)
trap 'rm -rf "$D"' EXIT
for n in sat hub far; do
  mkdir -p "$D/$n"/{spool,incoming,pub}
  sed "s#/TESTDATA#$D#g" "$CONFIGS/$n.hjson" > "$D/$n.hjson"
done
# extra exec handles on hub for sat: one failing with multi-line output
python3 - "$D/hub.hjson" <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
old = 'sink: ["/bin/sh", "-c", "cat >/dev/null"]'
new = old + '\n        fail: ["/bin/sh", "-c", "printf \'to stdout\\\\n\\\\n  indented\\\\n\'; echo to stderr >&2; exit 3"]'
s = s.replace(old, new, 1)
open(p, "w").write(s)
PY
cd "$D"
printf 'hello world\n' > hello.txt
printf 'a song\n' > hub/pub/song.txt
printf 'already here\n' > hub/incoming/hello.txt
S() { "$@" 2>>"$D/sat.console" || true; }
H() { "$@" 2>>"$D/hub.console" || true; }
S nncp-file -cfg sat.hjson -noprogress hello.txt hub:hello.txt
S sh -c 'echo from stdin | nncp-file -cfg sat.hjson -noprogress - hub:stdin.txt'
S sh -c 'echo body | nncp-exec -cfg sat.hjson -noprogress hub cat arg1 "two words"'
S sh -c 'echo body | nncp-exec -cfg sat.hjson -noprogress -nocompress hub cat fat'
S sh -c 'echo body | nncp-exec -cfg sat.hjson -noprogress hub fail'
S sh -c 'echo body | nncp-exec -cfg sat.hjson -noprogress hub nosuch'
S nncp-freq -cfg sat.hjson -noprogress hub:song.txt song.txt
S nncp-freq -cfg sat.hjson -noprogress hub:missing.txt missing.txt
S nncp-file -cfg sat.hjson -noprogress hello.txt far:hello.txt
mkdir xfer
S nncp-xfer -cfg sat.hjson -noprogress -mkdir -tx xfer
H nncp-xfer -cfg hub.hjson -noprogress -rx xfer
H nncp-toss -cfg hub.hjson -noprogress
H nncp-ack -cfg hub.hjson -noprogress -node sat
# corrupt one packet left in rx (the failed exec), then check it
p=$(ls hub/spool/LSA*/rx/ | grep -v hdr | head -1)
python3 -c "import sys; f=sys.argv[1]; b=bytearray(open(f,'rb').read()); b[len(b)//2]^=1; open(f,'wb').write(b)" hub/spool/LSA*/rx/"$p"
H nncp-check -cfg hub.hjson -noprogress
H nncp-rm -cfg hub.hjson -node sat -rx
H nncp-xfer -cfg hub.hjson -noprogress -mkdir -tx xfer
S nncp-xfer -cfg sat.hjson -noprogress -rx xfer
S nncp-toss -cfg sat.hjson -noprogress
for n in sat hub; do
  sed "s#$D#/TESTDATA#g" "$n/log" > "$OUT/$n.log"
  sed "s#$D#/TESTDATA#g" "$n.console" > "$OUT/$n.console"
  nncp-log -cfg "$n.hjson" -log "$OUT/$n.log" > "$OUT/$n.log.out"
  nncp-log -cfg "$n.hjson" -debug -log "$OUT/$n.log" > "$OUT/$n.log.debug.out"
done
echo "written to $OUT"
