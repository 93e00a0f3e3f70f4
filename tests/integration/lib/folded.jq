# Independent folded-stack rendering of one OTLP/JSON request, to check the file exporter's
# `format: folded` output: "process;root;...;leaf count" per sample (counts summed later).
def n: if . == null then 0 elif type == "string" then tonumber else . end;
def s($d; $i): $d.stringTable[($i // 0)] // "";
def hex: if . < 16 then "0123456789abcdef"[.:.+1]
         else ((. / 16 | floor) | hex) + ("0123456789abcdef"[(. % 16):(. % 16)+1]) end;
def clean: gsub(";"; ":") | gsub("[\r\n]"; " ");

.dictionary as $d
| .resourceProfiles[]? as $rp
| ([ $rp.resource.attributes[]? | select(.key == "process.executable.name" or .key == "service.name" or .key == "process.command") ]
   | (map(select(.key == "process.executable.name")) + map(select(.key == "service.name")) + map(select(.key == "process.command")))
   | map(.value.stringValue // "" | select(. != "")) | first // "unknown") as $proc
| $rp.scopeProfiles[]?.profiles[]?.samples[]?
| (if (.values | length) > 0 then (.values[0] | n) else (.timestampsUnixNano | length) end) as $w
| select($w > 0)
| [ $d.stackTable[(.stackIndex // 0)].locationIndices // [] | reverse[] as $li | $d.locationTable[$li] as $loc
    | ([ $loc.attributeIndices[]? as $ai | $d.attributeTable[$ai] | select(s($d; .keyStrindex) == "profile.frame.type" and .value.stringValue == "kernel") ] | length > 0) as $k
    | (if ($loc.lines | length) == 0 then [null] else ($loc.lines | reverse) end)[]
    | (if . == null then "" else ($d.functionTable[(.functionIndex // 0)] | (s($d; .nameStrindex) | if . == "" then null else . end) // s($d; .systemNameStrindex)) end) as $name
    | (if $name != "" then $name
       else (s($d; $d.mappingTable[($loc.mappingIndex // 0)].filenameStrindex) | split("/") | last // "") as $base
            | ($base[0:48]) + (if $base != "" then "+" else "" end) + "0x" + ($loc.address | n | hex) end)
    | clean + (if $k then "_[k]" else "" end) ]
| "\(([$proc | clean] + .) | join(";")) \($w)"
