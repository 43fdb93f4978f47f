#!/usr/bin/env bash
# A minimal Debian root for installing the farm's packages with dpkg --root: the dpkg database,
# /dev/null, root's account files, and the programs dpkg and the maintainer scripts run, copied
# from this machine with the libraries they load. Far smaller and faster than a debootstrap,
# and enough: the packages' dependencies (Java, libvirt) are not what the test looks at.
#   debian-test-root.sh DIR
set -euo pipefail
R="$1"
mkdir -p "$R"/usr/bin "$R"/usr/sbin "$R"/usr/lib "$R"/usr/lib64 "$R"/etc "$R"/dev "$R"/tmp \
  "$R"/run "$R"/var/log "$R"/var/lib/dpkg/info "$R"/var/lib/dpkg/updates "$R"/var/lib/dpkg/triggers
for l in bin sbin lib lib64; do ln -s "usr/$l" "$R/$l"; done
touch "$R"/var/lib/dpkg/status "$R"/var/lib/dpkg/available
mknod -m 0666 "$R/dev/null" c 1 3
chmod 1777 "$R/tmp"

# Where a program or library of this machine goes in the root (bookworm's /bin is /usr/bin).
inside() {
  case "$1" in
    /usr/*) printf '%s%s' "$R" "$1" ;;
    *) printf '%s/usr%s' "$R" "$1" ;;
  esac
}

for tool in sh bash env id useradd usermod groupadd touch grep awk cat head rm mkdir chmod \
    chown ldconfig start-stop-daemon newuidmap newgidmap diff tar ln mv cp sed; do
  path="$(command -v "$tool")" || { echo "debian-test-root.sh: $tool is not installed" >&2; exit 3; }
  dest="$(inside "$path")"
  mkdir -p "$(dirname "$dest")"
  cp -L "$path" "$dest"
  { ldd "$path" 2>/dev/null || true; } | { grep -o '/[^ ]*' || true; } | while read -r lib; do
    dest="$(inside "$lib")"
    if [ ! -e "$dest" ]; then
      mkdir -p "$(dirname "$dest")"
      cp -L "$lib" "$dest"
    fi
  done
done

for file in passwd group shadow gshadow; do
  if [ -r "/etc/$file" ]; then
    grep '^root:' "/etc/$file" >"$R/etc/$file"
  fi
done
cp /etc/login.defs "$R/etc/"
