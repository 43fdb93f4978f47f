#!/usr/bin/env bash
# Builds the Debian packages of a release with dpkg-deb: servicefarm-controller, servicefarm-agent,
# servicefarm-gateway and farmctl, each a runnable jar in /usr/share/servicefarm with its systemd unit, config file
# (a conffile) and maintainer scripts. ./farm dist runs it after building the jars.
#   build-debs.sh VERSION OUT_DIR     (VERSION as Maven writes it: 0.1.0-SNAPSHOT becomes 0.1.0~SNAPSHOT)
# The jars are taken from the modules' target/ folders; --jars DIR takes them all from DIR.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIST="$(dirname "$HERE")"
ROOT="$(dirname "$DIST")"
SHARE=/usr/share/servicefarm

die() { printf 'build-debs.sh: %s\n' "$*" >&2; exit 2; }

[ $# -ge 2 ] || die "usage: build-debs.sh VERSION OUT_DIR [--jars DIR]"
VERSION="${1//-/\~}"   # Debian sorts ~ before anything: 0.1.0~SNAPSHOT < 0.1.0
OUT="$2"
JARS=""
[ "${3:-}" != "--jars" ] || JARS="${4:?--jars needs a directory}"
[[ "$VERSION" =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "'$1' is not a version dpkg accepts"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found (Debian package dpkg)"
mkdir -p "$OUT"
ARCH=all
JAVA='default-jre-headless (>= 2:1.17) | java17-runtime-headless'

jar() {   # the path of a module's runnable jar
  if [ -n "$JARS" ]; then printf '%s/%s' "$JARS" "$(basename "$1")"; else printf '%s/%s' "$ROOT" "$1"; fi
}

# package NAME JAR DEPENDS DESCRIPTION [UNIT CONFIG]: one .deb in OUT_DIR. The unit comes from
# dist/systemd with its jar path moved from /opt/servicefarm (the tarball's) to $SHARE; the
# config from dist/config, installed as a conffile; maintainer scripts from dist/debian/NAME/.
package() {
  local name="$1" jar_path="$2" depends="$3" description="$4" unit="${5:-}" config="${6:-}"
  local source
  source="$(jar "$jar_path")"
  [ -r "$source" ] || die "$source is missing: build the jars first (./farm build)"
  local tree
  tree="$(mktemp -d)"
  chmod 0755 "$tree"  # the package's ./ : mktemp's 0700 would be /'s mode to dpkg
  # shellcheck disable=SC2064 # expand now: the tree of this call
  trap "rm -rf '$tree'" RETURN
  install -d -m 0755 "$tree/DEBIAN" "$tree$SHARE" "$tree/usr/share/doc/$name"
  install -m 0644 "$source" "$tree$SHARE/$(basename "$jar_path")"
  if [ -n "$unit" ]; then
    install -d -m 0755 "$tree/lib/systemd/system"
    sed "s|/opt/servicefarm/|$SHARE/|g" "$DIST/systemd/$unit" >"$tree/lib/systemd/system/$unit"
    chmod 0644 "$tree/lib/systemd/system/$unit"
  fi
  if [ -n "$config" ]; then
    install -d -m 0755 "$tree/etc/servicefarm"
    sed "s|/opt/servicefarm/|$SHARE/|g" "$DIST/config/$config" >"$tree/etc/servicefarm/$config"
    chmod 0644 "$tree/etc/servicefarm/$config"
    echo "/etc/servicefarm/$config" >"$tree/DEBIAN/conffiles"
  fi
  local script
  for script in preinst postinst prerm postrm; do
    if [ -f "$HERE/$name/$script" ]; then
      install -m 0755 "$HERE/$name/$script" "$tree/DEBIAN/$script"
    fi
  done
  if [ -d "$HERE/$name/files" ]; then
    cp -R "$HERE/$name/files/." "$tree/"
  fi
  if [ "$name" = farmctl ]; then  # the launcher: C1, serial GC and a class-data archive per user
    install -m 0755 "$ROOT/cli/farmctl" "$tree$SHARE/farmctl"
  fi
  if [ "$name" = servicefarm-controller ]; then  # the account script the tarball ships too
    install -m 0755 "$DIST/controller-account.sh" "$tree$SHARE/controller-account.sh"
  fi
  printf 'Service Farm %s %s: see README.md in the release for how to run it.\n' \
    "$name" "$VERSION" >"$tree/usr/share/doc/$name/README"
  cat >"$tree/DEBIAN/control" <<CONTROL
Package: $name
Version: $VERSION
Architecture: $ARCH
Maintainer: Service Farm <servicefarm@localhost>
Section: admin
Priority: optional
Installed-Size: $(du -sk "$tree" | cut -f1)
Depends: $depends
Description: $description
CONTROL
  dpkg-deb --root-owner-group -Zgzip -z1 --build "$tree" "$OUT/${name}_${VERSION}_${ARCH}.deb" >/dev/null
  printf '%s\n' "$OUT/${name}_${VERSION}_${ARCH}.deb"
}

package servicefarm-controller controller/target/servicefarm-controller.jar \
  "$JAVA, passwd, uidmap, mmdebstrap, e2fsprogs" \
  "Service Farm controller: hands out services living in VMs" \
  servicefarm-controller.service controller.conf
package servicefarm-agent agent/target/servicefarm-agent.jar \
  "$JAVA, libvirt0, libvirt-daemon-system, qemu-system-x86, qemu-utils" \
  "Service Farm agent: runs a farm host's VMs through libvirt" \
  servicefarm-agent.service agent.conf
package servicefarm-gateway gateway/target/servicefarm-gateway.jar "$JAVA" \
  "Service Farm gateway: stable addresses that wake services" \
  servicefarm-gateway.service
package farmctl cli/target/farmctl.jar "$JAVA" \
  "Service Farm command line: farmctl"
