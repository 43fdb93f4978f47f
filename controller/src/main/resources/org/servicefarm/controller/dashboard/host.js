// A host's page (/host/ID): its capacity and load now, its CPU and memory over the last hour,
// the VMs placed on it with their actions, and drain or uncordon (from /api/host/ID).
'use strict';

(function () {
  const REFRESH_MS = 5000;
  const { byId, cell, linkCell, row, fill } = Farm;
  const id = decodeURIComponent(window.location.pathname.substring('/host/'.length));
  byId('host-id').textContent = id;

  function fact(name, value) {
    return row([cell(name, 'fact'), cell(value)], name);
  }

  async function refresh() {
    let host;
    try {
      host = await Farm.getJson('/api/host/' + encodeURIComponent(id));
    } catch (failed) {
      fill('facts', [], 2, failed.message);
      return;
    }
    window.farmHost = host;
    fill('facts', [
      fact('Status', host.status + (host.connected ? '' : ' (agent not connected)')),
      fact('Address', host.address),
      fact('Hypervisor', host.hypervisor),
      fact('vCPUs placed', host.usedVcpus + ' / ' + host.capacityVcpus),
      fact('Memory placed', host.usedMemoryMb + ' / ' + host.capacityMemoryMb + ' MB'),
      fact('CPU', host.cpuPercent + ' %'),
      fact('Memory in use', host.memoryReportedMb + ' / ' + host.memoryTotalMb + ' MB'),
      fact('Disk free', host.diskFreeMb + ' MB'),
      fact('Labels', host.labels || 'none'),
      fact('Overcommit', 'vCPUs ' + (host.cpuOvercommit || 'default') + ', memory '
        + (host.memoryOvercommit || 'default')),
    ], 2, '');
    byId('actions').replaceChildren(Farm.hostActionsCell(host, refresh));
    const hosts = {};
    hosts[host.id] = host.history;
    FarmPlots.drawHosts(hosts, 'plot-cpu', 'plot-memory', Date.now() / 1000);
    fill('vms', host.vms.map((v) => row([
      linkCell(v.id, '/vm/' + encodeURIComponent(v.id), 'id'),
      cell(v.service),
      cell(v.state + (v.desiredState === v.state ? '' : ' → ' + v.desiredState),
        'state state-' + v.state),
      cell(v.endpoint, 'id'),
      cell(v.vcpus + ' vCPUs, ' + v.memoryMb + ' MB'),
      cell(v.liveLeases),
      Farm.vmActionsCell(v, refresh),
    ], v.id)), 7, 'No VMs on this host.');
  }

  refresh();
  setInterval(refresh, REFRESH_MS);
}());
