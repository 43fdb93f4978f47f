// The dashboard's script: reads /api/summary, follows /api/events (Server-Sent Events) and
// re-reads the summary (and the plots' history) when the farm changes; each row offers the
// actions farmctl has for it (common.js takes them). Every value is put into the page as text
// (textContent), never as markup: service names, commands and events' causes come from users.
'use strict';

(function () {
  const POLL_MS = 2000;          // while the event stream is down
  const REFRESH_MS = 10000;      // host loads change without events
  const RECONNECT_MS = 5000;     // after the server refused a stream (e.g. too many open)
  const MAX_EVENTS = 50;

  let events = [];               // newest first
  let summary = null;            // the last one read, re-shown when the project filter changes
  let stream = null;
  let pollTimer = null;
  let refreshSoon = null;
  const { byId, cell, linkCell, row, fill, time } = Farm;

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

  /** The project the page is filtered to; '' shows every project. */
  function chosenProject() {
    return byId('project').value;
  }

  /** Whether a row of this project passes the filter (host events, of none, only unfiltered). */
  function shown(project) {
    const chosen = chosenProject();
    return chosen === '' || project === chosen;
  }

  function renderProjects(projects) {
    const select = byId('project');
    const chosen = select.value;
    const options = [''].concat(projects).map((name) => {
      const option = document.createElement('option');
      option.value = name;
      option.textContent = name === '' ? 'All projects' : name;
      return option;
    });
    select.replaceChildren(...options);
    select.value = projects.includes(chosen) ? chosen : '';
  }

  function renderHosts(hosts) {
    fill('hosts', hosts.map((h) => row([
      linkCell(h.id, '/host/' + encodeURIComponent(h.id), 'id'),
      cell(h.status + (h.connected ? '' : ' (agent not connected)'), 'status-' + h.status),
      meterCell(h.usedVcpus, h.capacityVcpus, ''),
      meterCell(h.usedMemoryMb, h.capacityMemoryMb, ' MB'),
      cell(h.cpuPercent + ' %'),
      cell(h.vmCount),
      Farm.hostActionsCell(h, refresh),
    ], h.id)), 7, 'No hosts have registered yet.');
  }

  function renderVms(states, vms) {
    const chips = Object.keys(states).sort().map((state) => {
      const li = document.createElement('li');
      li.className = 'state-' + state;
      li.textContent = state + ': ' + states[state];
      return li;
    });
    byId('vm-states').replaceChildren(...chips);
    fill('vms', vms.filter((v) => shown(v.project)).map((v) => row([
      linkCell(v.id, '/vm/' + encodeURIComponent(v.id), 'id'),
      cell(v.service),
      cell(v.project),
      cell(v.state + (v.desiredState === v.state ? '' : ' → ' + v.desiredState),
          'state state-' + v.state),
      linkCell(v.host, '/host/' + encodeURIComponent(v.host || '')),
      cell(v.endpoint, 'id'),
      cell(time(v.updatedAt)),
      Farm.vmActionsCell(v, refresh),
    ], v.id)), 8, 'No VMs yet: request a service.');
  }

  function renderServices(services) {
    fill('services', services.filter((s) => s.shared || shown(s.project)).map((s) => {
      const actions = cell('', 'actions');
      actions.appendChild(Farm.button('Delete', () => Farm.act('Delete service ' + s.name,
        'service/' + encodeURIComponent(s.name) + '/delete', {
          question: 'Delete service ' + s.name + '? Requests for it are answered "not found"'
            + ' until it is defined again.',
          forcible: true,
          done: refresh,
        }), 'danger'));
      return row([
        cell(s.name),
        cell(s.shared ? s.project + ' (shared)' : s.project),
        cell(s.offers.join(', ')),
        cell((s.gateways || []).join(', ')),
        cell(s.packages),
        cell(s.command, 'id'),
        cell(s.vcpus),
        cell(s.memoryMb + ' MB'),
        cell(s.vms),
        actions,
      ], s.name);
    }), 10, 'No services are defined.');
  }

  /** The define form, sent as farmctl service define would send it. */
  function defineFromForm(event) {
    event.preventDefault();
    const form = byId('define-form');
    const data = {};
    new FormData(form).forEach((value, key) => {
      if (key !== 'stateless' && key !== 'preemptible' && String(value).trim() !== '') {
        data[key] = String(value);
      }
    });
    data.stateless = form.elements.stateless.checked;
    data.preemptible = form.elements.preemptible.checked;
    Farm.act('Define service ' + (data.name || ''), 'service/define', {
      body: data,
      done: refresh,
    });
  }

  function renderEvents() {
    fill('events', events.filter((e) => shown(e.project)).map((e) => row([
      cell(time(e.at)),
      cell(e.kind),
      linkCell(e.vmId, '/vm/' + encodeURIComponent(e.vmId || ''), 'id'),
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
    summary = await response.json();
    renderProjects(summary.projects);
    render();
  }

  function render() {
    if (summary === null) {
      return;
    }
    renderHosts(summary.hosts);
    renderVms(summary.vmStates, summary.vms);
    renderServices(summary.services);
    mergeEvents(summary.events);
    renderEvents();
    renderAudit(summary.audit);
    byId('updated').textContent = 'updated ' + time(summary.generatedAt);
    FarmPlots.refresh();
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

  byId('define-form').addEventListener('submit', defineFromForm);
  byId('project').addEventListener('change', render);
  refresh();
  connect();
  setInterval(refresh, REFRESH_MS);
}());
