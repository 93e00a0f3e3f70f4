#!/usr/bin/env bash
# Fetches the matrix's Debian cloud kernels (tests/kernels/kernels.list) into a cache
# outside the source tree, once: a series already in the cache is not fetched again, so
# later runs need no network (delete $OPD_KERNEL_CACHE/series/<series> to take a newer
# build of that series).
#
#   tests/kernels/fetch.sh [SERIES ...]     every series of kernels.list by default
#
# Prints one line per series on stdout (progress goes to stderr):
#   <series> <release> <path of the kernel image>
#   <series> SKIP <reason>
# apt runs with a private configuration (sources, lists, archives in the cache): the
# machine's /etc/apt is read for its mirror, never changed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${OPD_KERNEL_CACHE:-/var/cache/otelprofd/kernels}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
apt_dir=$cache/apt

log() { echo "fetch: $*" >&2; }

mkdir -p "$cache/series"
# Two runs at once (two checkouts on one machine) would share the apt lists and archives.
exec 9>"$cache/.lock"
flock 9

declare -A suites_of fallback_of
order=()
while read -r series suites fallback; do
  [[ -z $series || $series == \#* ]] && continue
  suites_of[$series]=$suites
  fallback_of[$series]=$fallback
  order+=("$series")
done <"$here/kernels.list"
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=("${order[@]}")

# cached SERIES: "<release> <image>" when the series is complete in the cache.
cached() {
  local release
  [ -f "$cache/series/$1" ] || return 1
  read -r release _ <"$cache/series/$1"
  [ -f "$cache/$release/vmlinuz" ] || return 1
  echo "$release $cache/$release/vmlinuz"
}

missing=()
for series in "${wanted[@]}"; do
  if [ -z "${suites_of[$series]:-}" ]; then
    echo "$series SKIP not in tests/kernels/kernels.list"
  elif line=$(cached "$series"); then
    echo "$series $line"
  else
    missing+=("$series")
  fi
done
[ ${#missing[@]} -gt 0 ] || exit 0

# machine_entries: "URI SUITE" for every enabled deb entry of the machine's apt sources,
# in the one-line (.list) and deb822 (.sources) formats.
machine_entries() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" { print $2, $3 }'
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'function flush(  i, j) {
           if (deb && on) for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print u[i], s[j]
           deb = 0; on = 1; nu = ns = 0
         }
         BEGIN { on = 1 }
         /^[ \t]*#/ { next }
         /^[ \t]*$/ { flush(); next }
         tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
         tolower($1) == "uris:" { for (i = 2; i <= NF; i++) u[++nu] = $i }
         tolower($1) == "suites:" { for (i = 2; i <= NF; i++) s[++ns] = $i }
         tolower($1) == "enabled:" { on = tolower($2) != "no" }
         END { flush() }' "$f"
  done
}

# The machine's Debian mirror serves every suite of the archive, its security mirror every
# -security suite. Other entries (third-party repositories) are told apart by their suite.
names='(buster|bullseye|bookworm|trixie|forky|duke|sid|oldoldstable|oldstable|stable|testing|unstable)'
main_uri=$(machine_entries | awk -v re="^$names\$" '$2 ~ re { print $1; exit }')
sec_uri=$(machine_entries | awk -v re="^$names-security\$" '$2 ~ re { print $1; exit }')
if [ -z "$main_uri" ]; then
  for series in "${missing[@]}"; do
    echo "$series SKIP no Debian mirror in the machine's apt sources"
  done
  exit 0
fi
# Debian's own layout puts the security archive next to the main one.
[ -n "$sec_uri" ] || sec_uri=${main_uri%/}-security

mkdir -p "$apt_dir"/{sources.list.d,preferences.d,lists/partial,cache/archives/partial,debs}
: >"$apt_dir/status"
# apt downloads as _apt when run as root; let it write there rather than fall back to root.
[ "$(id -u)" != 0 ] || chown _apt "$apt_dir/debs" 2>/dev/null || true
cat >"$apt_dir/apt.conf" <<EOF
Dir::Etc::SourceList "$apt_dir/sources.list";
Dir::Etc::SourceParts "$apt_dir/sources.list.d";
Dir::Etc::Preferences "$apt_dir/preferences";
Dir::Etc::PreferencesParts "$apt_dir/preferences.d";
Dir::State::Lists "$apt_dir/lists";
Dir::State::status "$apt_dir/status";
Dir::Cache "$apt_dir/cache";
Acquire::Languages "none";
EOF
export APT_CONFIG=$apt_dir/apt.conf
for series in "${missing[@]}"; do
  tr ',' '\n' <<<"${suites_of[$series]}"
done | sort -u | while read -r suite; do
  uri=$main_uri
  [[ $suite == *-security ]] && uri=$sec_uri
  echo "deb [signed-by=$keyring] $uri $suite main"
done >"$apt_dir/sources.list"

log "apt-get update (private lists in $apt_dir)"
# apt-get update exits 0 when a mirror cannot be reached ("W: Failed to fetch ..."): its log
# tells.
apt-get -q update >"$apt_dir/update.log" 2>&1 || true
update_error=$(grep -E '^(E:|W: Failed to fetch)' "$apt_dir/update.log" | head -1 | cut -c1-200 || true)
[ -z "$update_error" ] || log "apt-get update failed: $update_error (going on with the lists there are)"

# newest SERIES: "<package> <version>" of the newest linux-image-SERIES.*-cloud-amd64 in the
# series' suites, by Debian version order.
newest() {
  local allowed=",${suites_of[$1]}," pkg ver where suite best="" bestv=""
  for pkg in $(apt-cache pkgnames "linux-image-$1." 2>/dev/null | grep -E -- '-cloud-amd64$'); do
    while IFS='|' read -r _ ver where; do
      ver=${ver// /}
      suite=$(awk '{ print $2 }' <<<"$where")
      suite=${suite%%/*}
      [[ $allowed == *",$suite,"* ]] || continue
      if [ -z "$bestv" ] || dpkg --compare-versions "$ver" gt "$bestv"; then
        best=$pkg
        bestv=$ver
      fi
    done < <(apt-cache madison "$pkg" 2>/dev/null)
  done
  [ -n "$best" ] && echo "$best $bestv"
}

# extract_image DEB DIR RELEASE: the kernel image of a package as DIR/vmlinuz, and its
# config when it holds one. Only these: the guest needs no modules (the cloud kernels have
# what it uses built in), and the cache stays small. The image is boot/vmlinuz-RELEASE in
# linux-image-* up to about 6.15, usr/lib/modules/RELEASE/vmlinuz in linux-binary-* since.
extract_image() {
  dpkg-deb --fsys-tarfile "$1" |
    tar -x -C "$2" --wildcards './boot/*' './usr/lib/modules/*/vmlinuz' 2>/dev/null || true
  if [ -f "$2/boot/vmlinuz-$3" ]; then
    mv "$2/boot/vmlinuz-$3" "$2/vmlinuz"
  elif [ -f "$2/usr/lib/modules/$3/vmlinuz" ]; then
    mv "$2/usr/lib/modules/$3/vmlinuz" "$2/vmlinuz"
  fi
  [ ! -f "$2/boot/config-$3" ] || mv "$2/boot/config-$3" "$2/config"
  rm -rf "${2:?}/boot" "${2:?}/usr"
}

# download PACKAGE[=VERSION]: the .deb into $apt_dir/debs; prints its path.
download() {
  local out
  rm -f "$apt_dir"/debs/*.deb
  if ! out=$(cd "$apt_dir/debs" && apt-get -q download "$1" 2>&1); then
    echo "apt-get download $1 failed: $(grep -E '^(E|W|Err):' <<<"$out" | tail -1 | cut -c1-200)" >&2
    return 1
  fi
  ls "$apt_dir"/debs/*.deb
}

for series in "${missing[@]}"; do
  if pick=$(newest "$series"); then
    read -r pkg ver <<<"$pick"
  elif apt-cache show "${fallback_of[$series]}" >/dev/null 2>&1; then
    pkg=${fallback_of[$series]}
    ver=""
    log "$series: no linux-image-$series.*-cloud-amd64 in ${suites_of[$series]}; taking $pkg"
  else
    reason="no linux-image-$series.*-cloud-amd64 in ${suites_of[$series]} (nor ${fallback_of[$series]})"
    [ -z "$update_error" ] || reason="apt-get update failed ($update_error): $reason"
    echo "$series SKIP $reason"
    continue
  fi
  release=${pkg#linux-image-}
  log "$series: $pkg ${ver:-(candidate)}"
  tmp=$cache/$release.tmp
  rm -rf "$tmp"
  mkdir -p "$tmp"
  if ! deb=$(download "$pkg${ver:+=$ver}" 2>"$apt_dir/download.err"); then
    echo "$series SKIP $(cat "$apt_dir/download.err")"
    rm -rf "$tmp"
    continue
  fi
  extract_image "$deb" "$tmp" "$release"
  # From about 6.16 on linux-image-* is a metapackage; the kernel is in linux-binary-*.
  if [ ! -f "$tmp/vmlinuz" ]; then
    if ! deb=$(download "linux-binary-$release" 2>"$apt_dir/download.err"); then
      echo "$series SKIP $pkg holds no kernel and $(cat "$apt_dir/download.err")"
      rm -rf "$tmp"
      continue
    fi
    extract_image "$deb" "$tmp" "$release"
  fi
  rm -f "$apt_dir"/debs/*.deb
  if [ ! -f "$tmp/vmlinuz" ]; then
    echo "$series SKIP neither $pkg nor linux-binary-$release holds a kernel image"
    rm -rf "$tmp"
    continue
  fi
  rm -rf "${cache:?}/$release"
  mv "$tmp" "$cache/$release"
  echo "$release $pkg ${ver:-candidate}" >"$cache/series/$series"
  echo "$series $(cached "$series")"
done
