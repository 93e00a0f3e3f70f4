#!/usr/bin/env bash
# otelprofd flamegraph on the recorded CPU fixture: the SVG is well-formed XML whose frame
# widths add up, the usage errors exit 2 and an empty selection exits 1; then headless
# Chromium runs the page: it renders (a screenshot is taken), the hottest leaf frame's box
# is the widest leaf box after layout, a search highlights exactly the matching frames
# with the right total, and a zoom stretches the chosen frame to the full width. A stack
# 300 frames deep opens on the graph in a 1280x800 window (screenshots: the root frame is
# in view), as an icicle by default and in the flame layout.
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

# Deep stacks open on the graph: in a 1280x800 window, without scrolling, the root frame
# ("all", the one rgb(210,210,210) bar across the full width) is in view. By default the
# page is an icicle (root on top, under the header); the flame layout (root at the bottom,
# --layout flame or #l=flame in the URL) opens its graph box at the root.
python3 - "$WORK/tall.jsonl" <<'PY'
import json, sys
n = 300
strings = ["", "samples", "count", "cpu", "nanoseconds"] + ["frame_%d" % i for i in range(n + 1)]
req = {"resourceProfiles": [{"resource": {"attributes": [
          {"key": "process.executable.name", "value": {"stringValue": "tall"}}]},
        "scopeProfiles": [{"profiles": [{
          "sampleType": {"typeStrindex": 1, "unitStrindex": 2},
          "periodType": {"typeStrindex": 3, "unitStrindex": 4}, "period": "10000000",
          "samples": [{"stackIndex": 1, "values": ["30"]}, {"stackIndex": 2, "values": ["10"]}]}]}]}],
       "dictionary": {"stringTable": strings,
         "functionTable": [{}] + [{"nameStrindex": 5 + i} for i in range(n + 1)],
         "locationTable": [{}] + [{"lines": [{"functionIndex": i + 1}], "address": str(i + 1)}
                                  for i in range(n + 1)],
         "stackTable": [{}, {"locationIndices": list(range(n, 0, -1))},
                        {"locationIndices": [n + 1, 3, 2, 1]}],
         "mappingTable": [{}], "attributeTable": [{}]}}
open(sys.argv[1], "w").write(json.dumps(req) + "\n")
PY
"$BIN" flamegraph --input "$WORK/tall.jsonl" --output "$WORK/tall.html" 2>>"$WORK/fg.log"
"$BIN" flamegraph --input "$WORK/tall.jsonl" --output "$WORK/tall.svg" 2>>"$WORK/fg.log"
"$BIN" flamegraph --input "$WORK/tall.jsonl" --output "$WORK/tall-flame.html" --layout flame \
  2>>"$WORK/fg.log"
"$BIN" flamegraph --input "$WORK/tall.jsonl" --output "$WORK/x.html" --layout sideways \
  2>/dev/null && fail "--layout sideways accepted"
root_in_view() { # root_in_view PNG top|bottom
  python3 - "$@" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
w, h = struct.unpack(">II", data[16:24])
depth, ctype = data[24], data[25]
assert (w, h) == (1280, 800) and depth == 8 and ctype in (2, 6), (w, h, depth, ctype)
idat, i = b"", 8
while i < len(data):
    n = struct.unpack(">I", data[i:i + 4])[0]
    if data[i + 4:i + 8] == b"IDAT":
        idat += data[i + 8:i + 8 + n]
    i += 12 + n
raw, bpp = zlib.decompress(idat), 3 if ctype == 2 else 4
stride, prev, rows, p = w * bpp, bytearray(w * bpp), [], 0
for y in range(h):  # PNG row filters: none, sub, up, average, paeth
    f, line = raw[p], bytearray(raw[p + 1:p + 1 + stride])
    p += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b, c = prev[x], prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line)
    prev = line
def run(line):  # longest run of the root's grey
    best = cur = 0
    for x in range(w):
        cur = cur + 1 if tuple(line[x * bpp:x * bpp + 3]) == (210, 210, 210) else 0
        best = max(best, cur)
    return best
ys = [y for y in range(h) if run(rows[y]) >= 1000]
assert ys, "no root frame in view"
where = sys.argv[2]
assert (ys[0] < 200) if where == "top" else (ys[-1] > 600), (where, ys[0], ys[-1])
print("root frame at y=%d..%d of 800" % (ys[0], ys[-1]))
PY
}
view() { # view NAME URL top|bottom WHAT: a 1280x800 screenshot shows the root frame
  chrome --window-size=1280,800 --screenshot="$WORK/$1.png" "$2" >/dev/null
  [ -s "$WORK/$1.png" ] || fail "no screenshot of $2"
  at=$(root_in_view "$WORK/$1.png" "$3") || fail "$4: the root is not in view ($3)"
  ok "$4, $at"
}
view tall-icicle "file://$WORK/tall.html" top \
  "302 frames deep, 1280x800: the page opens on the graph, icicle"
view tall-svg "file://$WORK/tall.svg" top "the SVG alone opens on the graph too"
view tall-flame "file://$WORK/tall-flame.html" bottom "--layout flame opens at the root"
view tall-switched "file://$WORK/tall.html#l=flame" bottom \
  "switched to the flame layout (#l=flame) it opens at the root"
[ -n "${OBS_SCREENSHOT:-}" ] && cp "$WORK/tall-icicle.png" "${OBS_SCREENSHOT%.png}-tall.png"
true
