#!/usr/bin/env bash
# otelprofd report: the markdown report on the recorded CPU fixture matches the reviewed
# golden file (tests/data/obs/report_team_top3.md, numbers checked by hand against the
# totals in gen_fixture.py), and the JSON report agrees with an independent aggregation of
# the same OTLP/JSON done here in Python, for --by team and --by k8s.namespace.name, from
# a file and from a directory. Usage errors exit 2, no CPU data exits 1.
set -euo pipefail
source "$(dirname "$0")/obs_lib.sh"

cd "$SRC"
"$BIN" report --input tests/data/obs/cpu.jsonl --by team --top 3 >"$WORK/team.md"
diff -u tests/data/obs/report_team_top3.md "$WORK/team.md" || fail "markdown report changed"
ok "markdown report matches the golden file"

mkdir "$WORK/dir"
cp "$FIXTURE" "$WORK/dir/a.jsonl"
cp "$FIXTURE" "$WORK/dir/b.json"
echo 'ignored' >"$WORK/dir/notes.txt"
for by in team k8s.namespace.name; do
  "$BIN" report --input "$FIXTURE" --by "$by" --top 100 --format json >"$WORK/file.json"
  "$BIN" report --input "$WORK/dir" --by "$by" --top 100 --format json >"$WORK/dir.json"
  python3 - "$FIXTURE" "$by" "$WORK/file.json" "$WORK/dir.json" <<'PY' || fail "JSON report --by $by disagrees"
import json, sys
from collections import defaultdict
fixture, by, file_json, dir_json = sys.argv[1:]
want = defaultdict(lambda: defaultdict(float))
total = 0.0
for line in open(fixture):
    req = json.loads(line)
    d = req["dictionary"]
    s = d["stringTable"]
    for rp in req["resourceProfiles"]:
        attrs = {a["key"]: a["value"]["stringValue"] for a in rp["resource"]["attributes"]}
        group = attrs.get(by, "unassigned")
        svc = attrs.get("service.name") or "unknown_service:" + attrs["process.executable.name"]
        for sp in rp["scopeProfiles"]:
            for p in sp["profiles"]:
                period = int(p["period"])
                for smp in p["samples"]:
                    w = int(smp["values"][0]) if "values" in smp else len(smp["timestampsUnixNano"])
                    leaf = d["locationTable"][d["stackTable"][smp["stackIndex"]]["locationIndices"][0]]
                    fn = s[d["functionTable"][leaf["lines"][0]["functionIndex"]]["nameStrindex"]]
                    sec = w * period / 1e9
                    want[group][(fn, svc)] += sec
                    total += sec
for path, mult in ((file_json, 1), (dir_json, 2)):
    got = json.load(open(path))
    assert got["by"] == by
    assert abs(got["cpu_seconds"] - mult * total) < 1e-6, (got["cpu_seconds"], total)
    assert abs(sum(g["share"] for g in got["groups"]) - 1) < 0.01
    names = [g["name"] for g in got["groups"]]
    assert sorted(names) == sorted(want), (names, list(want))
    cpu = [g["cpu_seconds"] for g in got["groups"]]
    assert cpu == sorted(cpu, reverse=True), cpu
    for g in got["groups"]:
        w = want[g["name"]]
        assert abs(g["cpu_seconds"] - mult * sum(w.values())) < 1e-3, g["name"]
        assert len(g["functions"]) == len(w)
        for f in g["functions"]:
            assert abs(f["cpu_seconds"] - mult * w[(f["function"], f["service"])]) < 1e-3, f
PY
done
ok "JSON report agrees with an independent aggregation (--by team, --by k8s.namespace.name)"

"$BIN" report --input "$FIXTURE" --filter service.name=search --format json >"$WORK/f.json"
python3 -c 'import json,sys; g=json.load(open(sys.argv[1]))["groups"]; assert [x["name"] for x in g]==["discovery"] and g[0]["cpu_seconds"]==2.0, g' \
  "$WORK/f.json" || fail "--filter was not applied"
ok "--filter narrows the report"

# The team processor writes team.name: --by team reads it the same way.
sed 's/"key":"team"/"key":"team.name"/g' "$FIXTURE" >"$WORK/teamname.jsonl"
grep -q '"team.name"' "$WORK/teamname.jsonl" || fail "fixture rewrite failed"
"$BIN" report --input "$FIXTURE" --format json | jq -S '.groups' >"$WORK/g1.json"
"$BIN" report --input "$WORK/teamname.jsonl" --format json | jq -S '.groups' >"$WORK/g2.json"
diff -u "$WORK/g1.json" "$WORK/g2.json" || fail "team.name is not grouped like team"
ok "--by team reads the team processor's team.name"

set +e
"$BIN" report --input "$FIXTURE" --top 0 >/dev/null 2>&1; rc1=$?
"$BIN" report --input "$FIXTURE" --format html >/dev/null 2>&1; rc2=$?
"$BIN" report >/dev/null 2>&1; rc3=$?
"$BIN" report --input "$WORK/none" >/dev/null 2>&1; rc4=$?
: >"$WORK/empty.jsonl"
"$BIN" report --input "$WORK/empty.jsonl" >/dev/null 2>&1; rc5=$?
set -e
[ "$rc1 $rc2 $rc3 $rc4 $rc5" = "2 2 2 1 1" ] || fail "exit codes $rc1 $rc2 $rc3 $rc4 $rc5"
ok "usage errors exit 2, missing or empty input exits 1"
