// The dashboard's plots, drawn by uPlot (vendor/uPlot.iife.min.js) from /api/history: each
// host's CPU and memory over the last hour, the VMs by state, and how long requests took to be
// answered by path (warm, woke, restored, built, joined). Each plot is kept in
// window.farmPlots under its name, with the data it draws, so a test can compare it with the API.
'use strict';

const FarmPlots = (function () {
  const COLOURS = ['#2457c5', '#1f8a4c', '#b7791f', '#c53030', '#6b46c1', '#2c7a7b', '#975a16',
    '#4a5568'];
  const STATE_COLOURS = { ACTIVE: '#1f8a4c', SLEEPING: '#b7791f', ARCHIVED: '#975a16',
    FAILED: '#c53030', UNKNOWN: '#c53030', DELETED: '#a0aec0' };
  const WIDTH = 520;
  const HEIGHT = 200;
  const plots = {};
  window.farmPlots = plots;

  function colour(i, name) {
    return STATE_COLOURS[name] || COLOURS[i % COLOURS.length];
  }

  /** Draws (or redraws) a plot in element `id`: x values, and named series of y values. */
  function draw(id, names, data, options) {
    const element = document.getElementById(id);
    if (!element) {
      return;
    }
    const existing = plots[id];
    if (existing && existing.names.join('\n') === names.join('\n')) {
      existing.plot.setData(data);
      existing.data = data;
      return;
    }
    if (existing) {
      existing.plot.destroy();
    }
    const opts = Object.assign({
      width: Math.min(WIDTH, Math.max(element.clientWidth, 280)),
      height: HEIGHT,
      series: [{}].concat(names.map((name, i) => ({
        label: name,
        stroke: colour(i, name),
        width: 2,
        spanGaps: false,
        points: { show: data[0].length < 3 || (options && options.points) },
      }))),
    }, options ? options.uplot : {});
    element.replaceChildren();
    plots[id] = { plot: new uPlot(opts, data, element), names, data };
  }

  /** Aligns several [t, y] columns on the union of their times (null where one has no sample). */
  function joined(columns) {
    if (columns.length === 0) {
      return [[]];
    }
    return uPlot.join(columns.map((c) => [c[0], c[1]]));
  }

  /** The last hour up to now (epoch seconds), so one sample or none still makes a time axis. */
  function lastHour(now) {
    return { scales: { x: { time: true, range: () => [now - 3600, now] } } };
  }

  /** CPU and memory of every host in `hosts` ({id: {t, cpuPercent, memoryUsedMb, ...}}). */
  function drawHosts(hosts, cpuId, memoryId, now) {
    const ids = Object.keys(hosts).sort();
    const cpu = lastHour(now);
    cpu.scales.y = { range: [0, 100] };
    draw(cpuId, ids, joined(ids.map((id) => [hosts[id].t, hosts[id].cpuPercent])), { uplot: cpu });
    draw(memoryId, ids, joined(ids.map((id) => [hosts[id].t, hosts[id].memoryUsedMb])),
      { uplot: lastHour(now) });
  }

  function drawStates(states, now) {
    const names = Object.keys(states).filter((k) => k !== 't').sort();
    draw('plot-states', names, [states.t].concat(names.map((n) => states[n])),
      { uplot: lastHour(now) });
  }

  /** The distribution: per path, how many answers fell in each bucket of seconds. */
  function drawReady(ready) {
    const bounds = ready.bucketSeconds;
    const label = (i) => {
      if (i >= bounds.length) {
        return '> ' + bounds[bounds.length - 1] + ' s';
      }
      return '≤ ' + (bounds[i] < 1 ? Math.round(bounds[i] * 1000) + ' ms' : bounds[i] + ' s');
    };
    // One x per bucket (its index), labelled by its bound; the last takes the longer ones.
    const xs = bounds.concat([null]).map((b, i) => i);
    const names = Object.keys(ready.paths);
    draw('plot-ready', names, [xs].concat(names.map((p) => ready.paths[p].buckets)), {
      points: true,
      uplot: {
        scales: { x: { time: false } },
        axes: [{ incrs: [1, 2, 3, 4, 5], values: (u, splits) => splits.map(label) }, {}],
      },
    });
    plots['plot-ready'].bucketSeconds = bounds;
    const summary = names.filter((p) => ready.paths[p].count > 0).map((p) => p + ': '
      + ready.paths[p].count + ' (median ' + ready.paths[p].medianSeconds + ' s)');
    document.getElementById('ready-summary').textContent = summary.length === 0
      ? 'No request has been answered by this controller in the last hour.'
      : summary.join(' · ');
  }

  async function refresh() {
    let history;
    try {
      history = await Farm.getJson('/api/history');
    } catch (failed) {
      document.getElementById('history-note').textContent = 'history unavailable: '
        + failed.message;
      return;
    }
    window.farmHistory = history;
    const now = Date.parse(history.generatedAt) / 1000;
    drawHosts(history.hosts, 'plot-cpu', 'plot-memory', now);
    drawStates(history.vmStates, now);
    drawReady(history.readyTimes);
    document.getElementById('history-note').textContent = 'sampled every '
      + history.stepSeconds + ' s by this controller';
  }

  return { refresh, drawHosts, draw };
}());
