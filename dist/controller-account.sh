#!/usr/bin/env bash
# Prepares this machine's servicefarm account, which the controller's systemd unit runs as, to
# compose images without root: creates the account if it is missing, installs uidmap (newuidmap
# and newgidmap) and gives the account a range of 65536 subordinate user and group ids in
# /etc/subuid and /etc/subgid, after every range already there. The controller composes as root
# of a user namespace in which those ids are the image's users. Running it again changes nothing.
# Needs root. Usage: controller-account.sh [ACCOUNT]   (default servicefarm)
set -euo pipefail

ACCOUNT="${1:-servicefarm}"
IDS=65536

say() { printf '[controller-account] %s\n' "$*"; }
die() { printf 'controller-account.sh: %s\n' "$*" >&2; exit 2; }

[ "$(id -u)" -eq 0 ] || die "run as root (it changes /etc/passwd, /etc/subuid and /etc/subgid)"
case "$ACCOUNT" in
  -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  [a-z_]*) ;;
  *) die "'$ACCOUNT' is not an account name" ;;
esac

if ! command -v newuidmap >/dev/null || ! command -v newgidmap >/dev/null; then
  # From a package's maintainer script apt cannot run (dpkg holds its lock); the package
  # depends on uidmap, so only a forced install gets here.
  [ -z "${DPKG_MAINTSCRIPT_PACKAGE:-}" ] || die "uidmap (newuidmap, newgidmap) is not installed"
  say "installing uidmap (newuidmap, newgidmap)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq uidmap >/dev/null
fi

if ! id "$ACCOUNT" >/dev/null 2>&1; then
  say "creating the system account $ACCOUNT"
  useradd --system --home-dir /var/lib/servicefarm --shell /usr/sbin/nologin "$ACCOUNT"
fi

touch /etc/subuid /etc/subgid
if grep -q "^$ACCOUNT:" /etc/subuid && grep -q "^$ACCOUNT:" /etc/subgid; then
  say "$ACCOUNT has subordinate ids already: $(grep "^$ACCOUNT:" /etc/subuid | head -1)"
else
  # The same range in both files, above every range either file hands out, and above the ids
  # useradd gives ordinary users.
  start=$(awk -F: 'NF == 3 { end = $2 + $3; if (end > max) max = end } END { print max + 0 }' \
    /etc/subuid /etc/subgid)
  [ "$start" -ge 100000 ] || start=100000
  end=$((start + IDS - 1))
  say "giving $ACCOUNT the subordinate ids $start-$end"
  usermod --add-subuids "$start-$end" --add-subgids "$start-$end" "$ACCOUNT"
fi

for setting in kernel.unprivileged_userns_clone user.max_user_namespaces; do
  file="/proc/sys/${setting//.//}"
  if [ -r "$file" ] && [ "$(cat "$file")" = 0 ]; then
    say "WARNING: sysctl $setting is 0: the kernel forbids unprivileged user namespaces, so the"
    say "controller cannot compose images; set it (kernel.unprivileged_userns_clone=1,"
    say "user.max_user_namespaces=15000) in /etc/sysctl.d/ and run sysctl --system"
  fi
done
