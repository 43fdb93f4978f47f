// What every dashboard page shares: building table rows from text (never markup: names,
// commands and causes come from users), reading JSON, and taking actions. An action is one POST
// to /api/actions/..., which makes the FarmAdmin call farmctl makes; the farm's answer, refusal
// included, is shown in its own words. Destructive actions ask first, in the page's own dialog.
'use strict';

const Farm = (function () {
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

  function linkCell(text, href, className) {
    const td = document.createElement('td');
    if (className) {
      td.className = className;
    }
    if (text === null || text === undefined || text === '') {
      return td;
    }
    const a = document.createElement('a');
    a.href = href;
    a.textContent = String(text);
    td.appendChild(a);
    return td;
  }

  function row(cells, id) {
    const tr = document.createElement('tr');
    if (id) {
      tr.dataset.id = id;
    }
    cells.forEach((c) => tr.appendChild(c));
    return tr;
  }

  function fill(tbodyId, rows, columns, emptyText) {
    const body = byId(tbodyId);
    if (rows.length === 0) {
      const td = cell(emptyText, 'empty');
      td.colSpan = columns;
      body.replaceChildren(row([td]));
      return;
    }
    body.replaceChildren(...rows);
  }

  function time(iso) {
    return iso ? new Date(iso).toLocaleTimeString() : '';
  }

  /** GETs JSON; a browser no longer signed in goes to the sign-in page. */
  async function getJson(path) {
    const response = await fetch(path, { cache: 'no-store', credentials: 'same-origin' });
    if (response.status === 401 || response.status === 403) {
      window.location.assign('/login');
      throw new Error('not signed in');
    }
    const body = await response.json();
    if (!response.ok) {
      throw new Error(body.error || ('HTTP ' + response.status));
    }
    return body;
  }

  /** Shows the outcome of an action; extra buttons (e.g. "Force") follow the text. */
  function notify(text, kind, buttons) {
    const box = byId('notice');
    const message = document.createElement('span');
    message.className = 'notice-text';
    message.textContent = text;
    box.replaceChildren(message, ...(buttons || []));
    box.className = 'notice ' + kind;
    box.hidden = false;
  }

  /** Resolves true when the operator confirms in the page's dialog, false when they cancel. */
  function confirmed(question) {
    const dialog = byId('confirm');
    byId('confirm-text').textContent = question;
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'yes'), { once: true });
      dialog.returnValue = '';
      dialog.showModal();
    });
  }

  function button(label, onClick, className) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.dataset.action = label.toLowerCase();
    if (className) {
      b.className = className;
    }
    b.addEventListener('click', onClick);
    return b;
  }

  /**
   * Takes an action: asks first when `question` is given, POSTs it, and shows the farm's answer.
   * A refusal that forcing overrides (a VM in use) offers "Force", which asks again.
   * `done` runs after a success (to re-read the page's data).
   */
  async function act(label, path, options) {
    const opts = options || {};
    if (opts.question && !(await confirmed(opts.question))) {
      notify(label + ': cancelled', 'info');
      return false;
    }
    notify(label + '…', 'info');
    let response;
    let answer;
    try {
      response = await fetch('/api/actions/' + path, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(opts.body || {}),
      });
      answer = await response.json();
    } catch (failed) {
      notify(label + ' failed: ' + failed.message, 'refused');
      return false;
    }
    if (response.ok) {
      notify(answer.message, 'done');
      if (opts.done) {
        opts.done();
      }
      return true;
    }
    const force = opts.forcible && answer.code === 'FAILED_PRECONDITION'
      ? [button('Force', () => act(label + ' (forced)', path, {
        body: Object.assign({}, opts.body, { force: true }),
        question: label + ', forced: ' + answer.error + '. Force it anyway?',
        done: opts.done,
      }), 'danger')]
      : [];
    notify('Refused: ' + answer.error, 'refused', force);
    return false;
  }

  // Which actions a VM in each state offers; delete is offered in every state but DELETED.
  const VM_ACTIONS = {
    ACTIVE: ['suspend', 'archive'],
    SLEEPING: ['resume', 'archive'],
    ARCHIVED: ['restore'],
  };
  const VM_QUESTIONS = {
    archive: (id) => 'Archive VM ' + id + '? Its memory state is lost, its disk goes to the'
      + ' archive and its host is freed; a request or Restore brings it back.',
    delete: (id) => 'Delete VM ' + id + '? Its disk and saved state are gone for good.',
  };

  /** A cell with the buttons for a VM's actions (the same FarmAdmin calls as farmctl vm ...). */
  function vmActionsCell(vm, done) {
    const td = document.createElement('td');
    td.className = 'actions';
    if (vm.state === 'DELETED') {
      return td;
    }
    const names = (VM_ACTIONS[vm.state] || []).concat(['delete']);
    names.forEach((name) => {
      const label = name.charAt(0).toUpperCase() + name.slice(1);
      td.appendChild(button(label, () => act(label + ' VM ' + vm.id,
        'vm/' + encodeURIComponent(vm.id) + '/' + name, {
          question: VM_QUESTIONS[name] ? VM_QUESTIONS[name](vm.id) : null,
          forcible: ['suspend', 'archive', 'delete'].includes(name),
          done,
        }), name === 'delete' ? 'danger' : ''));
    });
    return td;
  }

  /** A cell with a host's drain or uncordon (farmctl host drain / uncordon). */
  function hostActionsCell(host, done) {
    const td = document.createElement('td');
    td.className = 'actions';
    const path = 'host/' + encodeURIComponent(host.id) + '/';
    if (host.status === 'DRAINING') {
      td.appendChild(button('Uncordon', () => act('Uncordon host ' + host.id, path + 'uncordon',
        { done })));
    } else {
      td.appendChild(button('Drain', () => act('Drain host ' + host.id, path + 'drain', {
        question: 'Drain host ' + host.id + '? It takes no new VMs, and its VMs move to other'
          + ' hosts.',
        done,
      }), 'danger'));
    }
    return td;
  }

  return {
    byId, cell, linkCell, row, fill, time, getJson, notify, confirmed, button, act,
    vmActionsCell, hostActionsCell,
  };
}());
