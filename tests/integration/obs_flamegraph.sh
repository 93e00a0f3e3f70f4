#!/usr/bin/env bash
# otelprofd flamegraph on the recorded CPU fixture: the SVG is well-formed XML whose frame
# widths add up, the usage errors exit 2 and an empty selection exits 1; then headless
# Chromium runs the page: it renders (a screenshot is taken), the hottest leaf frame's box
# is the widest leaf box after layout, a search highlights exactly the matching frames
# with the right total, and a zoom stretches the chosen frame to the full width.
set -euo pipefail
source "$(dirname "$0")/obs_lib.sh"

"$BIN" flamegraph --input "$FIXTURE" --output "$WORK/flame.svg" 2>"$WORK/fg.log" ||
  fail "flamegraph failed: $(cat "$WORK/fg.log")"
"$BIN" flamegraph --input "$FIXTURE" --output "$WORK/flame.html" --filter team=payments \
  --title 'payments <&>' 2>>"$WORK/fg.log" || fail "flamegraph html failed"

python3 - "$WORK/flame.svg" <<'PY' || fail "the SVG's structure is wrong"
import sys, xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(sys.argv[1]).getroot()
frames = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "f"]
total = int(root.get("data-total"))
assert total == 280 * 50_000_000, total
byname = {}
for g in frames:
    byname.setdefault(g.get("data-n"), []).append(g)
# Root covers everything; each process is a child of it.
assert byname["all"][0].get("data-w") == str(total)
procs = [g for g in frames if g.get("data-k") == "process"]
assert sorted(g.get("data-n") for g in procs) == ["batch", "checkout", "fraud", "postgres", "python3"]
assert sum(int(g.get("data-w")) for g in procs) == total
# Frame kinds come from profile.frame.type.
kinds = {g.get("data-n"): g.get("data-k") for g in frames}
assert kinds["vfs_write"] == "kernel" and kinds["crypto/sha256.block"] == "go"
assert kinds["score"] == "interpreted" and kinds["hash_search"] == "native"
assert int(byname["crypto/sha256.block"][0].get("data-w")) == 60 * 50_000_000
PY
ok "SVG well-formed, widths add up, frame kinds coloured"

grep -q '<title>payments &lt;&amp;&gt;</title>' "$WORK/flame.html" || fail "title not escaped"
grep -q 'data-n="search"' "$WORK/flame.html" && fail "--filter team=payments kept discovery frames"
set +e
"$BIN" flamegraph --input "$FIXTURE" --output "$WORK/x.png" 2>/dev/null; rc1=$?
"$BIN" flamegraph --input "$FIXTURE" 2>/dev/null; rc2=$?
"$BIN" flamegraph --input "$FIXTURE" --output "$WORK/x.svg" --filter nokey 2>/dev/null; rc3=$?
"$BIN" flamegraph --input "$FIXTURE" --output "$WORK/x.svg" --filter team=nobody 2>/dev/null; rc4=$?
"$BIN" flamegraph --input "$WORK/missing.jsonl" --output "$WORK/x.svg" 2>/dev/null; rc5=$?
echo '{"not": "otlp"' >"$WORK/bad.jsonl"
"$BIN" flamegraph --input "$WORK/bad.jsonl" --output "$WORK/x.svg" 2>/dev/null; rc6=$?
set -e
[ "$rc1 $rc2 $rc3 $rc4 $rc5 $rc6" = "2 2 2 1 1 1" ] ||
  fail "exit codes $rc1 $rc2 $rc3 $rc4 $rc5 $rc6, want 2 2 2 1 1 1"
ok "usage errors exit 2, nothing to draw exits 1"

# A hostile stack 5000 frames deep: drawn to a bounded depth under "[truncated]".
python3 - "$WORK/deep.jsonl" <<'PY'
import json, sys
n = 5000
req = {"resourceProfiles": [{"resource": {"attributes": [
          {"key": "service.name", "value": {"stringValue": "deep"}}]},
        "scopeProfiles": [{"profiles": [{
          "sampleType": {"typeStrindex": 2, "unitStrindex": 3},
          "periodType": {"typeStrindex": 4, "unitStrindex": 5}, "period": "1000000",
          "samples": [{"stackIndex": 1, "values": ["3"]}]}]}]}],
       "dictionary": {"stringTable": ["", "f", "samples", "count", "cpu", "nanoseconds"],
         "functionTable": [{}, {"nameStrindex": 1}],
         "locationTable": [{}] + [{"lines": [{"functionIndex": 1}], "address": str(i)}
                                  for i in range(1, n + 1)],
         "stackTable": [{}, {"locationIndices": list(range(1, n + 1))}],
         "mappingTable": [{}], "attributeTable": [{}]}}
open(sys.argv[1], "w").write(json.dumps(req) + "\n")
PY
"$BIN" flamegraph --input "$WORK/deep.jsonl" --output "$WORK/deep.svg" 2>/dev/null ||
  fail "a 5000-frame stack was not drawn"
grep -q 'data-n="\[truncated\]"' "$WORK/deep.svg" || fail "the deep stack was not truncated"
ok "a 5000-frame stack is drawn to a bounded depth"

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || skip "headless checks need chromium (Debian package chromium)"
chrome() {
  timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --no-first-run --hide-scrollbars --user-data-dir="$WORK/chrome" "$@" 2>>"$WORK/chrome.log"
}

"$BIN" flamegraph --input "$FIXTURE" --output "$WORK/all.html" 2>>"$WORK/fg.log"
chrome --window-size=1200,320 --screenshot="$WORK/flame.png" "file://$WORK/all.html" >/dev/null
[ -s "$WORK/flame.png" ] || fail "chromium produced no screenshot"
python3 - "$WORK/flame.png" <<'PY' || fail "the screenshot is blank"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
w, h = struct.unpack(">II", data[16:24])
assert (w, h) == (1200, 320), (w, h)
# Decompress the image and count distinct byte values: a rendered graph has many colours.
idat = b"".join(data[i + 8:i + 8 + struct.unpack(">I", data[i:i + 4])[0]]
                for i in range(8, len(data)) if data[i + 4:i + 8] == b"IDAT")
raw = zlib.decompress(idat)
assert len(set(raw)) > 64, len(set(raw))
PY
[ -n "${OBS_SCREENSHOT:-}" ] && cp "$WORK/flame.png" "$OBS_SCREENSHOT"
ok "chromium renders the page ($(stat -c %s "$WORK/flame.png") byte screenshot)"

# After the page's script ran: the DOM with search #s=... and zoom #z=...
chrome --dump-dom "file://$WORK/all.html#s=sha256%7Cmallocgc" >"$WORK/search.html"
checkdom() {
  python3 - "$@" <<'PY'
import re, sys
html = open(sys.argv[1]).read()
frames = []
for m in re.finditer(r'<g class="f"([^>]*)>.*?<rect ([^>]*)>', html, re.S):
    a = dict(re.findall(r'([\w-]+)="([^"]*)"', m.group(1)))
    r = dict(re.findall(r'([\w-]+)="([^"]*)"', m.group(2)))
    frames.append((a, r))
mode = sys.argv[2]
if mode == "search":
    hits = sorted(a["data-n"] for a, r in frames if a.get("data-match") == "1")
    assert hits == ["crypto/sha256.block", "runtime.mallocgc"], hits
    assert all(r["fill"] == "rgb(230,0,230)" for a, r in frames if a.get("data-match"))
    m = re.search(r'id="matched"[^>]*>([^<]*)<', html)
    assert m and m.group(1) == "Matched: 28.57% (4.000 CPU s)", m and m.group(1)
    # The hottest leaf (most self time) has the widest box among the leaves.
    def leaf(a):
        d, x, w = int(a["data-d"]), int(a["data-x"]), int(a["data-w"])
        return not any(int(b["data-d"]) == d + 1 and x <= int(b["data-x"]) < x + w
                       for b, _ in frames)
    leaves = [(float(r["width"]), a["data-n"]) for a, r in frames if leaf(a)]
    widest = max(leaves)
    assert widest[1] == "crypto/sha256.block", widest
    assert sorted(leaves)[-2][0] < widest[0]
elif mode == "zoom":
    z = [(a, r) for a, r in frames if a["data-n"] == "main.handleCheckout"][0]
    assert abs(float(z[1]["width"]) - 1180) < 0.5, z[1]["width"]
    hidden = [a["data-n"] for a, r in frames if 'display: none' in a.get("style", "")]
    assert "hash_search" in hidden and "crypto/sha256.block" not in hidden
PY
}
checkdom "$WORK/search.html" search || fail "search or widths wrong in the rendered page"
ok "search highlights exactly the matches (28.57%); the hottest leaf is the widest"

id=$(grep -o '<g class="f" data-id="[0-9]*"[^>]*data-n="main.handleCheckout"' "$WORK/all.html" |
  grep -o 'data-id="[0-9]*"' | tr -dc 0-9)
chrome --dump-dom "file://$WORK/all.html#z=$id" >"$WORK/zoom.html"
checkdom "$WORK/zoom.html" zoom || fail "zoom did not stretch the frame to full width"
ok "click-to-zoom (via #z=) stretches the frame and hides the rest"
