package org.servicefarm.controller.images;

import java.io.IOException;
import java.nio.file.Path;

/**
 * What a composed image runs as PID 1: a shell script that brings up the network QEMU's user
 * networking expects, writes a page naming the service and the VM (so a client can see which
 * guest answered), and keeps the service's command running. The command is stored as a file of
 * its own and run by {@code sh -c}, so quotes and spaces in it reach the shell exactly as written
 * and never pass through the script's text.
 *
 * @param serviceName the definition's name, shown on the guest's page
 * @param command the definition's command; empty means the guest only keeps its network up
 */
public record GuestInit(String serviceName, String command) {
  /** Where the kernel finds the script, as {@code init=} says. */
  public static final String INIT_PATH = "/sbin/servicefarm-init";
  public static final String COMMAND_PATH = "/etc/servicefarm/command";
  public static final String SERVICE_PATH = "/etc/servicefarm/service";
  /** The composed image's kernel command line; the agent appends the VM's identity (sf.vm=). */
  public static final String KERNEL_CMDLINE =
      "root=/dev/vda rw console=ttyS0 init=" + INIT_PATH;

  /** The script. It uses only busybox and kmod, which every composed image includes. */
  public String script() {
    return """
        #!/bin/sh
        # Service Farm guest init, written by the controller's image constructor.
        PATH=/usr/sbin:/usr/bin:/sbin:/bin
        export PATH
        log() { echo "servicefarm-init: $*"; }

        # The initrd has usually mounted /proc, /sys and /dev already: a failed mount is expected.
        mount -t proc proc /proc 2>/dev/null
        mount -t sysfs sys /sys 2>/dev/null
        mount -t devtmpfs dev /dev 2>/dev/null
        mount -t tmpfs tmp /tmp 2>/dev/null
        mount -t tmpfs run /run 2>/dev/null

        # virtio_net is a module of the cloud kernel; the initrd loads only the disk's driver.
        modprobe virtio_net 2>/dev/null || busybox modprobe virtio_net 2>/dev/null
        # QEMU user networking: the guest is 10.0.2.15, the gateway 10.0.2.2, DNS 10.0.2.3.
        # The interface's name depends on the machine, so take the first one that is not lo.
        IF=$(ls /sys/class/net | grep -v '^lo$' | head -1)
        busybox ip link set lo up
        if [ -n "$IF" ]; then
          busybox ip link set "$IF" up
          busybox ip addr add 10.0.2.15/24 dev "$IF"
          busybox ip route add default via 10.0.2.2
        else
          log "no network interface found"
        fi
        echo "nameserver 10.0.2.3" > /etc/resolv.conf

        # The VM's id, its host and its service ports come from the kernel command line
        # (sf.vm=, sf.host=, sf.ports=), appended by the agent.
        VM=unknown
        HOST=unknown
        PORTS=
        for word in $(cat /proc/cmdline); do
          case "$word" in
            sf.vm=*) VM="${word#sf.vm=}" ;;
            sf.host=*) HOST="${word#sf.host=}" ;;
            sf.ports=*) PORTS="${word#sf.ports=}" ;;
          esac
        done
        case "$VM" in *[!A-Za-z0-9-]*|'') VM=unknown ;; esac
        case "$HOST" in *[!A-Za-z0-9-]*|'') HOST=unknown ;; esac
        case "$PORTS" in *[!0-9,]*) PORTS= ;; esac
        SERVICE=$(cat %2$s 2>/dev/null)
        busybox hostname "sf-$VM" 2>/dev/null

        # A page that proves which guest served it, unless the service brings its own, and a
        # line for every boot, so a guest restored from the archive shows its disk came back.
        mkdir -p /srv/www
        if [ ! -e /srv/www/index.html ]; then
          printf '<!doctype html>\\n<title>%%s</title>\\n<p>service %%s on VM %%s</p>\\n' \\
            "$SERVICE" "$SERVICE" "$VM" > /srv/www/index.html
        fi
        echo "boot $(date -u +%%Y-%%m-%%dT%%H:%%M:%%SZ) on host $HOST" >> /srv/www/boots.txt
        sync
        log "VM $VM on host $HOST, service $SERVICE, network on ${IF:-none}, ports ${PORTS:-none}"

        if [ -s %1$s ]; then
          # The command runs again whenever it stops; PID 1 itself must never exit.
          (
            while true; do
              log "starting: $(cat %1$s)"
              sh -c "$(cat %1$s)"
              log "command exited with status $?; restarting in 1 s"
              sleep 1
            done
          ) &
        else
          log "no command to run; keeping the guest up"
        fi

        # The agent hands out the VM once this line appears: every service port listens.
        for port in $(echo "$PORTS" | tr ',' ' '); do
          hex=$(printf '%%04X' "$port")
          until grep -qE ":$hex [0-9A-F]+:[0-9A-F]+ 0A" /proc/net/tcp /proc/net/tcp6 2>/dev/null; do
            sleep 0.2
          done
        done
        echo "servicefarm: ready"

        # Archiving stops the guest hard; flushing every few seconds bounds what it can lose.
        while true; do
          sleep 5
          sync
        done
        """.formatted(COMMAND_PATH, SERVICE_PATH);
  }

  /**
   * Writes the script (mode 0755), the command and the service name into a root file system,
   * resolving the paths as the guest will ({@link GuestRoot}): links the packages left there
   * (merged /usr's /sbin, or a hostile absolute one) never lead the writes out of the image.
   */
  public void writeInto(Path rootfs) throws IOException {
    writeBaseInto(rootfs);
    writeServiceInto(rootfs);
  }

  /**
   * What the base layer holds of the init: the script, which is the same for every service (it
   * reads the command and the name from files), and the page's directory.
   */
  public void writeBaseInto(Path rootfs) throws IOException {
    GuestRoot guest = new GuestRoot(rootfs);
    guest.writeFile(INIT_PATH, script(), "rwxr-xr-x");
    guest.createDirectories("/srv/www");
    guest.createDirectories("/etc/servicefarm");
  }

  /** What a service layer holds of the init: the command and the service's name. */
  public void writeServiceInto(Path rootfs) throws IOException {
    GuestRoot guest = new GuestRoot(rootfs);
    guest.writeFile(COMMAND_PATH, command, "rw-r--r--");
    guest.writeFile(SERVICE_PATH, serviceName + "\n", "rw-r--r--");
  }
}
