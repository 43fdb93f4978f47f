// The dashboard's script: reads /api/summary, follows /api/events (Server-Sent Events) and
// re-reads the summary when the farm changes. Every value is put into the page as text
// (textContent), never as markup: service names, commands and events' causes come from users.
'use strict';

(function () {
  const POLL_MS = 2000;          // while the event stream is down
  const REFRESH_MS = 10000;      // host loads change without events
  const RECONNECT_MS = 5000;     // after the server refused a stream (e.g. too many open)
  const MAX_EVENTS = 50;

  let events = [];               // newest first
  let stream = null;
  let pollTimer = null;
  let refreshSoon = null;

  function byId(id) {
    return document.getElementById(id);
  }

  function cell(text, className) {
    const td = document.createElement('td');
    td.textContent = text === null || text === undefined ? '' : String(text);
    if (className) {
      td.className = className;
    }
    return td;
  }

  function meterCell(used, capacity, unit) {
    const td = document.createElement('td');
    const meter = document.createElement('meter');
    meter.min = 0;
    meter.max = Math.max(capacity, 1);
    meter.value = used;
    meter.high = meter.max * 0.8;
    td.appendChild(meter);
    td.appendChild(document.createTextNode(used + ' / ' + capacity + unit));
    return td;
  }

  function fill(tbodyId, rows, columns, emptyText) {
    const body = byId(tbodyId);
    if (rows.length === 0) {
      const tr = document.createElement('tr');
      const td = cell(emptyText, 'empty');
      td.colSpan = columns;
      tr.appendChild(td);
      body.replaceChildren(tr);
      return;
    }
    body.replaceChildren(...rows);
  }

  function row(cells, id) {
    const tr = document.createElement('tr');
    if (id) {
      tr.dataset.id = id;
    }
    cells.forEach((c) => tr.appendChild(c));
    return tr;
  }

  function time(iso) {
    return iso ? new Date(iso).toLocaleTimeString() : '';
  }

  function renderHosts(hosts) {
    fill('hosts', hosts.map((h) => row([
      cell(h.id, 'id'),
      cell(h.status + (h.connected ? '' : ' (agent not connected)'), 'status-' + h.status),
      meterCell(h.usedVcpus, h.capacityVcpus, ''),
      meterCell(h.usedMemoryMb, h.capacityMemoryMb, ' MB'),
      cell(h.cpuPercent + ' %'),
      cell(h.vmCount),
    ], h.id)), 6, 'No hosts have registered yet.');
  }

  function renderVms(states, vms) {
    const chips = Object.keys(states).sort().map((state) => {
      const li = document.createElement('li');
      li.className = 'state-' + state;
      li.textContent = state + ': ' + states[state];
      return li;
    });
    byId('vm-states').replaceChildren(...chips);
    fill('vms', vms.map((v) => row([
      cell(v.id, 'id'),
      cell(v.service),
      cell(v.state + (v.desiredState === v.state ? '' : ' → ' + v.desiredState),
          'state state-' + v.state),
      cell(v.host),
      cell(v.endpoint, 'id'),
      cell(time(v.updatedAt)),
    ], v.id)), 6, 'No VMs yet: request a service.');
  }

  function renderServices(services) {
    fill('services', services.map((s) => row([
      cell(s.name),
      cell(s.offers.join(', ')),
      cell((s.gateways || []).join(', ')),
      cell(s.packages),
      cell(s.command, 'id'),
      cell(s.vcpus),
      cell(s.memoryMb + ' MB'),
      cell(s.vms),
    ], s.name)), 8, 'No services are defined.');
  }

  function renderEvents() {
    fill('events', events.map((e) => row([
      cell(time(e.at)),
      cell(e.kind),
      cell(e.vmId, 'id'),
      cell(e.service),
      cell(e.hostId),
      cell(e.from || e.to ? (e.from || '') + ' → ' + (e.to || '') : ''),
      cell(e.cause),
    ], String(e.id))), 7, 'No events yet.');
  }

  function renderAudit(records) {
    fill('audit', records.map((a) => row([
      cell(time(a.at)),
      cell(a.caller),
      cell(a.peer, 'id'),
      cell(a.method.replace('servicefarm.v1.', '')),
      cell(a.target, 'id'),
      cell(a.outcome, a.outcome === 'OK' ? '' : 'refused'),
      cell(a.calls),
      cell(a.detail),
    ], String(a.id))), 8, 'Nothing recorded yet.');
  }

  /** Adds events not shown yet, keeping the newest first and at most MAX_EVENTS. */
  function mergeEvents(incoming) {
    const known = new Set(events.map((e) => e.id));
    const fresh = incoming.filter((e) => !known.has(e.id));
    if (fresh.length === 0) {
      return;
    }
    events = events.concat(fresh).sort((a, b) => b.id - a.id).slice(0, MAX_EVENTS);
    renderEvents();
  }

  function setConnection(text, className) {
    const badge = byId('connection');
    badge.textContent = text;
    badge.className = 'connection ' + className;
  }

  async function refresh() {
    let response;
    try {
      response = await fetch('/api/summary', { cache: 'no-store', credentials: 'same-origin' });
    } catch (unreachable) {
      setConnection('controller unreachable', 'down');
      return;
    }
    if (response.status === 401 || response.status === 403) {
      window.location.assign('/login');
      return;
    }
    if (!response.ok) {
      setConnection('summary failed: HTTP ' + response.status, 'down');
      return;
    }
    const summary = await response.json();
    renderHosts(summary.hosts);
    renderVms(summary.vmStates, summary.vms);
    renderServices(summary.services);
    mergeEvents(summary.events);
    renderAudit(summary.audit);
    byId('updated').textContent = 'updated ' + time(summary.generatedAt);
  }

  function scheduleRefresh() {
    if (refreshSoon === null) {
      refreshSoon = setTimeout(() => {
        refreshSoon = null;
        refresh();
      }, 250);
    }
  }

  function startPolling() {
    if (pollTimer === null) {
      pollTimer = setInterval(refresh, POLL_MS);
    }
  }

  function stopPolling() {
    if (pollTimer !== null) {
      clearInterval(pollTimer);
      pollTimer = null;
    }
  }

  function connect() {
    stream = new EventSource('/api/events');
    stream.addEventListener('open', () => {
      stopPolling();
      setConnection('live', 'live');
      // Whatever happened while no stream was open is in the summary.
      refresh();
    });
    stream.addEventListener('farm', (message) => {
      mergeEvents([JSON.parse(message.data)]);
      scheduleRefresh();
    });
    stream.addEventListener('resync', refresh);
    stream.addEventListener('error', () => {
      // The browser retries a dropped stream by itself; a refused one (CLOSED) is retried here.
      // Until a stream is open again, the page polls.
      setConnection('polling (event stream reconnecting)', 'polling');
      startPolling();
      if (stream.readyState === EventSource.CLOSED) {
        setTimeout(connect, RECONNECT_MS);
      }
    });
  }

  refresh();
  connect();
  setInterval(refresh, REFRESH_MS);
}());
