#!/usr/bin/env bash
# Installs a Debian machine as a Service Farm host: the packages the agent needs, the agent jar,
# its certificate, /etc/servicefarm/agent.conf and the systemd unit. Run it from the unpacked
# release tarball (the jars, systemd/ and config/ beside it); --help lists the flags.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PACKAGES=(libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils mmdebstrap e2fsprogs
  openjdk-17-jre-headless)

usage() {
  cat <<'EOF'
Usage: install-host.sh --host-id ID --controller HOST:PORT[,...] --address ADDRESS
                       (--tls-cert FILE --tls-key FILE --tls-ca FILE | --ca-dir DIR | --insecure)
                       [options]

Installs this machine as a Service Farm host: Debian packages (libvirt, QEMU, qemu-img,
mmdebstrap, e2fsprogs, Java 17), /opt/servicefarm/servicefarm-agent.jar,
/etc/servicefarm/agent.conf, the agent's certificate in /etc/servicefarm/pki, and the
servicefarm-agent systemd unit, enabled and started.

Agent settings (written to /etc/servicefarm/agent.conf):
  --host-id ID               this host's id, [a-z0-9][a-z0-9-]{0,62}
  --controller LIST          controller addresses, HOST:PORT[,HOST:PORT...]
  --address ADDRESS          address clients use to reach this host's forwarded ports
  --forward-bind IPV4        where forwarded ports listen (default: --address)
  --libvirt-uri URI          default qemu:///system
  --state-dir DIR            default /var/lib/servicefarm/agent

Certificate (one of):
  --tls-cert FILE --tls-key FILE --tls-ca FILE
                             the agent's certificate and key, and the farm's CA
  --ca-dir DIR               issue them here with farmctl pki agent (DIR holds ca.pem and
                             ca-key.pem, as farmctl pki init makes it)
  --insecure                 plaintext to the controllers, for a trusted network only

Installation:
  --agent-jar FILE           default servicefarm-agent.jar beside this script
  --farmctl-jar FILE         for --ca-dir; default farmctl.jar beside this script
  --root DIR                 install under DIR instead of / (a staging root for images and
                             tests); packages and systemctl are then left out, and root
                             privileges are not needed
  --skip-packages            do not run apt-get (the packages are already there)
  --no-start                 do not run systemctl (no enable, no start)
  -h, --help                 this help
EOF
}

say() { printf '[install-host] %s\n' "$*"; }
die() { printf 'install-host.sh: %s\n' "$*" >&2; exit 2; }

HOST_ID="" CONTROLLER="" ADDRESS="" FORWARD_BIND="" LIBVIRT_URI="qemu:///system"
STATE_DIR="/var/lib/servicefarm/agent" TLS_CERT="" TLS_KEY="" TLS_CA="" CA_DIR="" INSECURE=false
AGENT_JAR="$HERE/servicefarm-agent.jar" FARMCTL_JAR="$HERE/farmctl.jar" ROOT="/"
SKIP_PACKAGES=false NO_START=false

# Every flag but the switches takes a value; "--flag value" and "--flag=value" both work.
while [ $# -gt 0 ]; do
  flag="$1" value="" takes_value=true
  case "$flag" in
    --insecure|--skip-packages|--no-start|-h|--help) takes_value=false ;;
    --*=*) value="${flag#*=}" flag="${flag%%=*}" takes_value=false ;;
    --host-id|--controller|--address|--forward-bind|--libvirt-uri|--state-dir|--tls-cert|\
    --tls-key|--tls-ca|--ca-dir|--agent-jar|--farmctl-jar|--root) ;;
    *) die "unknown flag '$flag' (see --help)" ;;
  esac
  if $takes_value; then
    [ $# -ge 2 ] || die "$flag needs a value (see --help)"
    value="$2"
    shift
  fi
  shift
  case "$flag" in
    --host-id) HOST_ID="$value" ;;
    --controller) CONTROLLER="$value" ;;
    --address) ADDRESS="$value" ;;
    --forward-bind) FORWARD_BIND="$value" ;;
    --libvirt-uri) LIBVIRT_URI="$value" ;;
    --state-dir) STATE_DIR="$value" ;;
    --tls-cert) TLS_CERT="$value" ;;
    --tls-key) TLS_KEY="$value" ;;
    --tls-ca) TLS_CA="$value" ;;
    --ca-dir) CA_DIR="$value" ;;
    --insecure) INSECURE=true ;;
    --agent-jar) AGENT_JAR="$value" ;;
    --farmctl-jar) FARMCTL_JAR="$value" ;;
    --root) ROOT="$value" ;;
    --skip-packages) SKIP_PACKAGES=true ;;
    --no-start) NO_START=true ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown flag '$flag' (see --help)" ;;
  esac
done

# --- checks, all before anything is written ----------------------------------------------
[ -n "$HOST_ID" ] || die "--host-id is required (see --help)"
[[ "$HOST_ID" =~ ^[a-z0-9][a-z0-9-]{0,62}$ ]] \
  || die "--host-id '$HOST_ID' must match [a-z0-9][a-z0-9-]{0,62}"
[ -n "$CONTROLLER" ] || die "--controller is required (see --help)"
IFS=',' read -r -a controller_list <<<"$CONTROLLER"
for c in "${controller_list[@]}"; do
  [[ "$c" =~ ^[^:,[:space:]]+:[0-9]{1,5}$ ]] \
    || die "--controller '$CONTROLLER': '$c' is not HOST:PORT"
done
[ -n "$ADDRESS" ] || die "--address is required: the address clients reach this host at"
[[ "$ADDRESS" =~ ^[^[:space:]]+$ ]] || die "--address '$ADDRESS' must be one address"
[ -z "$FORWARD_BIND" ] || [[ "$FORWARD_BIND" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] \
  || die "--forward-bind '$FORWARD_BIND' must be an IPv4 address such as 0.0.0.0"
[[ "$STATE_DIR" = /* ]] || die "--state-dir '$STATE_DIR' must be an absolute path"

tls_files=0
for f in "$TLS_CERT" "$TLS_KEY" "$TLS_CA"; do [ -z "$f" ] || tls_files=$((tls_files + 1)); done
modes=0
[ "$tls_files" -eq 0 ] || modes=$((modes + 1))
[ -z "$CA_DIR" ] || modes=$((modes + 1))
! $INSECURE || modes=$((modes + 1))
[ "$modes" -eq 1 ] || die "give exactly one of --tls-cert/--tls-key/--tls-ca, --ca-dir or --insecure"
if [ "$tls_files" -gt 0 ]; then
  [ "$tls_files" -eq 3 ] || die "--tls-cert, --tls-key and --tls-ca go together"
  for f in "$TLS_CERT" "$TLS_KEY" "$TLS_CA"; do
    [ -r "$f" ] || die "'$f' is not a readable file"
  done
fi
if [ -n "$CA_DIR" ]; then
  if [ ! -r "$CA_DIR/ca.pem" ] || [ ! -r "$CA_DIR/ca-key.pem" ]; then
    die "--ca-dir '$CA_DIR' holds no ca.pem and ca-key.pem (farmctl pki init --dir DIR makes them)"
  fi
  [ -r "$FARMCTL_JAR" ] || die "--farmctl-jar '$FARMCTL_JAR' is not a readable file"
fi
[ -r "$AGENT_JAR" ] || die "--agent-jar '$AGENT_JAR' is not a readable file"
[ -r "$HERE/systemd/servicefarm-agent.service" ] \
  || die "$HERE/systemd/servicefarm-agent.service is missing: run the script from the unpacked release"
[ -d "$ROOT" ] || die "--root '$ROOT' is not a directory"
ROOT="$(cd "$ROOT" && pwd)"
if [ "$ROOT" = / ] && [ "$(id -u)" -ne 0 ]; then
  die "installing on this machine needs root (or --root DIR to install into a staging root)"
fi
prefix="${ROOT%/}"   # "" for /, so "$prefix/etc" is /etc

# --- packages ------------------------------------------------------------------------------
if [ "$ROOT" != / ]; then
  say "--root $ROOT: packages not installed there; the host needs: ${PACKAGES[*]}"
elif $SKIP_PACKAGES; then
  say "--skip-packages: not running apt-get"
else
  say "installing Debian packages: ${PACKAGES[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PACKAGES[@]}" >/dev/null
fi

# --- files ---------------------------------------------------------------------------------
install -d -m 0755 "$prefix/opt/servicefarm" "$prefix/etc/servicefarm" \
  "$prefix/etc/systemd/system"
install -m 0644 "$AGENT_JAR" "$prefix/opt/servicefarm/servicefarm-agent.jar"
say "agent jar: /opt/servicefarm/servicefarm-agent.jar"

pki="/etc/servicefarm/pki"
if [ -n "$CA_DIR" ]; then
  issued_cert="$CA_DIR/agent-$HOST_ID.pem" issued_key="$CA_DIR/agent-$HOST_ID-key.pem"
  if [ -e "$issued_cert" ] && [ -e "$issued_key" ]; then
    say "using the certificate already issued for $HOST_ID in $CA_DIR"
  else
    java -jar "$FARMCTL_JAR" pki agent --dir "$CA_DIR" --host-id "$HOST_ID" \
      || die "farmctl pki agent --dir $CA_DIR --host-id $HOST_ID failed"
  fi
  TLS_CERT="$issued_cert" TLS_KEY="$issued_key" TLS_CA="$CA_DIR/ca.pem"
fi
if [ -n "$TLS_CERT" ]; then
  install -d -m 0755 "$prefix$pki"
  install -m 0644 "$TLS_CA" "$prefix$pki/ca.pem"
  install -m 0644 "$TLS_CERT" "$prefix$pki/agent.pem"
  install -m 0600 "$TLS_KEY" "$prefix$pki/agent-key.pem"
  say "certificate for $HOST_ID: $pki/agent.pem, agent-key.pem, ca.pem"
fi

conf="$prefix/etc/servicefarm/agent.conf"
{
  echo "# Written by install-host.sh; every key is a servicefarm-agent option (see --help)."
  echo "host-id = $HOST_ID"
  echo "controller = $CONTROLLER"
  echo "address = $ADDRESS"
  [ -z "$FORWARD_BIND" ] || echo "forward-bind = $FORWARD_BIND"
  echo "libvirt-uri = $LIBVIRT_URI"
  echo "state-dir = $STATE_DIR"
  if [ -n "$TLS_CERT" ]; then
    echo "tls-ca = $pki/ca.pem"
    echo "tls-cert = $pki/agent.pem"
    echo "tls-key = $pki/agent-key.pem"
  else
    echo "insecure = true"
  fi
} >"$conf.new"
chmod 0644 "$conf.new"
mv "$conf.new" "$conf"
say "configuration: /etc/servicefarm/agent.conf"
if command -v java >/dev/null; then
  # The agent itself reads the file back, so a value it would refuse stops the install here.
  if ! refusal="$(java -jar "$prefix/opt/servicefarm/servicefarm-agent.jar" --config "$conf" \
      --print-config 2>&1 >/dev/null)"; then
    die "the agent refuses $conf: $refusal"
  fi
fi

install -m 0644 "$HERE/systemd/servicefarm-agent.service" \
  "$prefix/etc/systemd/system/servicefarm-agent.service"
say "unit: /etc/systemd/system/servicefarm-agent.service"

# --- services ------------------------------------------------------------------------------
if $NO_START || [ "$ROOT" != / ]; then
  say "not starting anything; on the host: systemctl enable --now libvirtd servicefarm-agent"
else
  systemctl daemon-reload
  systemctl enable --now libvirtd
  systemctl enable --now servicefarm-agent
  say "servicefarm-agent started; its log: journalctl -u servicefarm-agent"
fi
