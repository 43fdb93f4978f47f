// A VM's page (/vm/ID): what the farm knows of it, its leases and events (from /api/vm/ID), the
// end of its console log (/api/vm/ID/console, on load and on Reload), and its actions. It re-reads itself every few seconds and after each action.
'use strict';

(function () {
  const REFRESH_MS = 3000;
  const { byId, cell, linkCell, row, fill, time } = Farm;
  const id = decodeURIComponent(window.location.pathname.substring('/vm/'.length));
  byId('vm-id').textContent = id;

  function fact(name, value, href) {
    return row([cell(name, 'fact'), href ? linkCell(value, href) : cell(value)], name);
  }

  async function refresh() {
    let vm;
    try {
      vm = await Farm.getJson('/api/vm/' + encodeURIComponent(id));
    } catch (failed) {
      fill('facts', [], 2, failed.message);
      return;
    }
    fill('facts', [
      fact('Service', vm.service),
      fact('State', vm.state + (vm.desiredState === vm.state ? '' : ' → ' + vm.desiredState)),
      fact('Host', vm.host, vm.host ? '/host/' + encodeURIComponent(vm.host) : null),
      fact('Endpoint', vm.endpoint),
      fact('Size', vm.vcpus + ' vCPUs, ' + vm.memoryMb + ' MB'),
      fact('Live leases', vm.liveLeases),
      fact('Generation', vm.generation),
      fact('Created', new Date(vm.createdAt).toLocaleString()),
      fact('Changed', new Date(vm.updatedAt).toLocaleString()),
    ].concat(vm.failureReason ? [fact('Failure', vm.failureReason)] : []), 2, '');
    byId('actions').replaceChildren(Farm.vmActionsCell(vm, refresh));
    fill('leases', vm.leases.map((l) => row([
      cell(l.id, 'id'),
      cell(l.service),
      cell(time(l.createdAt)),
      cell(time(l.expiresAt)),
      cell(time(l.releasedAt)),
      cell(l.endReason),
    ], l.id)), 6, 'No leases.');
    fill('events', vm.events.slice().reverse().map((e) => row([
      cell(time(e.at)),
      cell(e.kind),
      cell(e.hostId),
      cell(e.from || e.to ? (e.from || '') + ' → ' + (e.to || '') : ''),
      cell(e.cause),
    ], String(e.id))), 5, 'No events.');
  }

  async function loadConsole() {
    const pre = byId('console');
    try {
      const tail = await Farm.getJson('/api/vm/' + encodeURIComponent(id) + '/console');
      pre.textContent = tail.error ? tail.error : (tail.text || '(the log is empty)');
      pre.classList.toggle('muted', Boolean(tail.error));
    } catch (failed) {
      pre.textContent = failed.message;
    }
  }

  byId('console-reload').addEventListener('click', loadConsole);
  refresh();
  loadConsole();
  setInterval(refresh, REFRESH_MS);
}());
