// The console's one script (no build step): changes go to the JSON API with the session cookie and its
// CSRF token; htmx refreshes the live parts; the batch page follows its event stream; uPlot draws the chart.
(function () {
  'use strict';
  var csrf = (document.querySelector('meta[name=csrf-token]') || {}).content || '';
  var statusEl = function () { return document.getElementById('status'); };
  function say(text, error) {
    var s = statusEl();
    if (!s) return;
    s.textContent = text;
    s.className = error ? 'error' : '';
  }
  document.body.addEventListener('htmx:configRequest', function (e) { e.detail.headers['x-csrf-token'] = csrf; });

  // Live parts ([data-live]): a poll is skipped while the tab is hidden, while focus is inside the part (a
  // swap would take it from the keyboard) or while one of its fields has been edited (it would lose the
  // typing). A refresh asked for by a change made on the page (the `refresh` event) always runs.
  function edited(el) {
    return Array.prototype.some.call(el.querySelectorAll('input, textarea, select'), function (f) {
      if (f.type === 'checkbox' || f.type === 'radio') return f.checked !== f.defaultChecked;
      if (f.tagName === 'SELECT') return Array.prototype.some.call(f.options, function (o) { return o.selected !== o.defaultSelected; });
      if (f.type === 'file') return f.files && f.files.length > 0;
      return f.value !== f.defaultValue;
    });
  }
  document.body.addEventListener('htmx:confirm', function (e) {
    var el = e.detail.elt;
    if (!el.hasAttribute || !el.hasAttribute('data-live')) return;
    var asked = e.detail.triggeringEvent && e.detail.triggeringEvent.type === 'refresh';
    if (asked) return;
    var focused = document.activeElement && document.activeElement !== document.body && el.contains(document.activeElement);
    if (document.hidden || focused || edited(el)) e.preventDefault();
  });
  // A refresh asked for by a button inside the part (retry, rotate) puts focus back in the part, not on <body>.
  var hadFocus = null;
  document.body.addEventListener('htmx:beforeSwap', function (e) {
    var el = e.detail.target;
    hadFocus = el && document.activeElement && document.activeElement !== document.body && el.contains(document.activeElement) ? el : null;
  });
  document.body.addEventListener('htmx:afterSwap', function (e) {
    if (!hadFocus || hadFocus !== e.detail.target) return;
    hadFocus = null;
    if (document.activeElement && document.activeElement !== document.body) return;
    var first = e.detail.target.querySelector('button, a[href], input, select');
    if (first) first.focus();
  });

  function api(method, path, body, contentType) {
    var headers = { 'x-csrf-token': csrf };
    if (body !== undefined) headers['content-type'] = contentType || 'application/json';
    return fetch(path, { method: method, headers: headers, credentials: 'same-origin', body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) })
      .then(function (r) { return r.text().then(function (t) { var j = null; try { j = JSON.parse(t); } catch (x) { j = null; } return { ok: r.ok, status: r.status, json: j }; }); });
  }
  function errorText(res, fieldName) {
    var e = res.json && res.json.error;
    if (!e) return 'failed (' + res.status + ')';
    // An import's errors, every bad line: "line 3, column max_kw: must be ..." rather than the API's "[1].max_kw ...".
    if (fieldName && e.field) {
      var each = e.errors && e.errors.length ? e.errors : [e];
      return (each.length > 1 ? each.length + ' lines refused, nothing imported:\n' : 'Nothing imported: ') +
        each.map(function (x) { return x.field ? fieldName(x.field) + ': ' + x.message.replace(x.field, '').trim() + ' [' + x.code + ']' : x.message + ' [' + x.code + ']'; }).join('\n');
    }
    return e.message + (e.field ? ' (' + e.field + ')' : '') + ' [' + e.code + ']';
  }
  function showKey(res) {
    var box = document.getElementById('shown-key');
    if (!box || !res.json || !res.json.api_key) return;
    box.hidden = false;
    box.querySelector('code').textContent = res.json.api_key;
    box.querySelector('.for').textContent = res.json.gateway_id;
    box.querySelector('button').focus();
  }
  // <form data-api="/path" data-method="POST">: fields to JSON (data-number: as numbers; empty ones left out;
  // data-body: fixed JSON fields).
  document.addEventListener('submit', function (ev) {
    var form = ev.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.api) return;
    ev.preventDefault();
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    var numbers = (form.dataset.number || '').split(' ');
    var body = form.dataset.body ? JSON.parse(form.dataset.body) : {};
    new FormData(form).forEach(function (v, k) {
      if (k === '_csrf' || v === '') return;
      var value = numbers.indexOf(k) >= 0 ? Number(v) : v;
      // `a.b` names a field of an object (register_baseline.kwh).
      var dot = k.indexOf('.');
      if (dot > 0) {
        var outer = k.slice(0, dot);
        body[outer] = body[outer] || {};
        body[outer][k.slice(dot + 1)] = value;
      } else body[k] = value;
    });
    var path = form.dataset.api.replace(/\{(\w+)\}/g, function (_m, k) { var v = body[k]; delete body[k]; return encodeURIComponent(v); });
    var send = function (payload) {
      return api(form.dataset.method || 'POST', path, payload).then(function (res) {
        if (!res.ok) { say(errorText(res, form.dataset.csv ? csvLine : null), true); return; }
        showKey(res);
        var done = form.dataset.done || 'Done.';
        if (res.json && typeof res.json.moved === 'number') done = res.json.moved + ' reading(s) put back in the queue.';
        if (res.json && res.json.meters && form.dataset.csv) done = res.json.meters.length + ' meter(s) imported.';
        say(done, false);
        if (form.hasAttribute('data-reset')) form.reset();
        if (form.dataset.after === 'reload') setTimeout(function () { location.reload(); }, 600);
        else if (form.dataset.after) location.href = form.dataset.after.replace('{id}', res.json && (res.json.batch_id || res.json.reading_id) || '');
        document.querySelectorAll('[data-refresh]').forEach(function (el) { window.htmx && window.htmx.trigger(el, 'refresh'); });
      }, function () { say('the service did not answer', true); });
    };
    if (form.dataset.csv) {
      var file = form.querySelector('input[type=file]').files[0];
      if (!file) { say('choose a CSV file first', true); return; }
      file.text().then(function (t) {
        var parsed = parseCsv(t);
        if (parsed.errors) { say((parsed.errors.length > 1 ? parsed.errors.length + ' lines refused, nothing imported:\n' : 'Nothing imported: ') + parsed.errors.join('\n'), true); return; }
        send(parsed.rows);
      });
      return;
    }
    send(form.dataset.method === 'DELETE' ? undefined : body);
  });
  // `[3].max_kw` of the import → line 5 of the file (line 1 is the header).
  function csvLine(field) {
    var m = /^\[(\d+)\]\.?(.*)$/.exec(field);
    return m ? 'line ' + (Number(m[1]) + 2) + (m[2] ? ', column ' + m[2] : '') : field;
  }
  // A header line, then one meter per line; commas only (no quoted commas in meter fields).
  function parseCsv(text) {
    var lines = text.split(/\r?\n/).filter(function (l) { return l.trim() !== ''; });
    if (lines.length < 2) return { errors: ['the file needs a header line and at least one meter'] };
    var head = lines[0].split(',').map(function (h) { return h.trim(); });
    var rows = [];
    var errors = [];
    for (var i = 1; i < lines.length; i++) {
      var cells = lines[i].split(',');
      if (cells.length !== head.length) { errors.push('line ' + (i + 1) + ': ' + cells.length + ' columns, the header has ' + head.length); continue; }
      var row = {};
      head.forEach(function (h, j) {
        var v = cells[j].trim();
        if (v === '') return;
        row[h] = h === 'interval_minutes' ? Number(v) : v;
      });
      rows.push(row);
    }
    return errors.length ? { errors: errors } : { rows: rows };
  }
  document.addEventListener('click', function (ev) {
    var b = ev.target.closest && ev.target.closest('[data-copy]');
    if (!b) return;
    var text = document.querySelector(b.dataset.copy).textContent;
    (navigator.clipboard ? navigator.clipboard.writeText(text) : Promise.reject()).then(
      function () { say('Key copied to the clipboard.', false); },
      function () { say('Select the key and copy it: the clipboard is not available here.', true); },
    );
  });

  // The minted-per-minute chart.
  var plot = null;
  function drawChart() {
    var el = document.getElementById('chart');
    var data = document.getElementById('mpm-data');
    if (!el || !data || !window.uPlot) return;
    var points = JSON.parse(data.textContent);
    var xs = points.map(function (p) { return p[0]; });
    var ys = points.map(function (p) { return p[1]; });
    var width = Math.max(280, el.clientWidth - 16);
    if (plot) { plot.setData([xs, ys]); plot.setSize({ width: width, height: 220 }); return; }
    plot = new window.uPlot({ width: width, height: 220, series: [{}, { label: 'readings minted / min', stroke: '#0b57d0', fill: 'rgba(11,87,208,.12)' }], axes: [{}, {}] }, [xs, ys], el);
  }
  document.addEventListener('DOMContentLoaded', drawChart);
  document.body.addEventListener('htmx:afterSwap', drawChart);

  // One batch, live: its stored events, then each result as it lands, then the summary.
  var live = document.getElementById('batch-live');
  if (live) {
    var tbody = live.querySelector('tbody');
    var state = document.getElementById('batch-state');
    var es = new EventSource('/batches/' + live.dataset.batch + '/events');
    es.addEventListener('result', function (e) {
      var r = JSON.parse(e.data);
      var tr = document.createElement('tr');
      [r.reading_id, r.success ? 'minted' : 'failed', r.tx_signature || '', r.error || ''].forEach(function (v, i) {
        var td = document.createElement('td');
        if (i === 0 || i === 2) td.className = 'mono';
        if (i === 0) {
          var a = document.createElement('a');
          a.href = '/console/readings/' + v;
          a.textContent = v;
          td.appendChild(a);
        } else td.textContent = v;
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
      var n = document.getElementById('batch-results');
      if (n) n.textContent = String(tbody.children.length);
    });
    es.addEventListener('summary', function (e) {
      var s = JSON.parse(e.data);
      state.textContent = s.state + ': ' + s.successful_mints + ' minted, ' + s.failed_mints + ' failed of ' + s.total_readings;
      state.dataset.state = s.state;
      var cancel = document.getElementById('batch-cancel');
      if (cancel) cancel.remove();
      var txs = document.getElementById('batch-txs');
      if (txs && window.htmx) window.htmx.trigger(txs, 'batch-done');
      es.close();
    });
    es.addEventListener('error', function () { if (es.readyState === 2) say('the event stream closed; reload to follow again', true); });
  }
})();
