# Resolves every dictionary reference of one OTLP/JSON ExportProfilesServiceRequest and
# prints its profiles as self-contained records, so that two requests with different but
# equivalent dictionaries compare equal. Independent of otelprofd's own decoder.
def n: if . == null then "0" elif type == "number" then tostring else . end;
def s($d; $i): $d.stringTable[($i // 0)] // "";
def anyv: if .stringValue != null then {s: .stringValue}
          elif .intValue != null then {i: (.intValue | n)}
          elif .boolValue != null then {b: .boolValue}
          elif .doubleValue != null then {d: .doubleValue}
          else {} end;
def attrs($d): [ .[]? as $ai | $d.attributeTable[$ai] | {k: s($d; .keyStrindex), v: (.value | anyv)} ] | sort_by(.k);

.dictionary as $d
| .resourceProfiles[]? as $rp
| ($rp.resource.attributes // [] | map({key, value: (.value | anyv)}) | sort_by(.key)) as $rattrs
| $rp.scopeProfiles[]? as $sp
| $sp.profiles[]? as $p
| {
    resource: $rattrs,
    scope: [($sp.scope.name // ""), ($sp.scope.version // "")],
    type: [s($d; $p.sampleType.typeStrindex), s($d; $p.sampleType.unitStrindex)],
    period_type: [s($d; $p.periodType.typeStrindex), s($d; $p.periodType.unitStrindex)],
    period: ($p.period | n), time: ($p.timeUnixNano | n), duration: ($p.durationNano | n),
    profile_attrs: ($p.attributeIndices | attrs($d)),
    samples: ([ $p.samples[]? | {
      stack: [ $d.stackTable[(.stackIndex // 0)].locationIndices[]? as $li | $d.locationTable[$li] as $loc | {
        addr: ($loc.address | n),
        mapping: ($d.mappingTable[($loc.mappingIndex // 0)] | {
          file: s($d; .filenameStrindex), start: (.memoryStart | n), limit: (.memoryLimit | n),
          off: (.fileOffset | n), attrs: (.attributeIndices | attrs($d)) }),
        lines: [ $loc.lines[]? | $d.functionTable[(.functionIndex // 0)] as $f | {
          fn: s($d; $f.nameStrindex), sys: s($d; $f.systemNameStrindex),
          file: s($d; $f.filenameStrindex), line: (.line | n), col: (.column | n) } ],
        attrs: ($loc.attributeIndices | attrs($d)) } ],
      attrs: (.attributeIndices | attrs($d)),
      values: [ .values[]? | n ], ts: [ .timestampsUnixNano[]? | n ] } ] | sort_by(tostring))
  }
