import { CLIENT_SCRIPT_PATH } from '../server/client-route.js';
import { DEMO_EVENT_TYPES } from './emit.js';
import type { DemoInfo } from './prepare.js';

export interface DemoPageOptions {
  /** The `--db` argument `teampass-ws emit` needs to reach this database; empty for the embedded default. */
  emitDbArgument: string;
}

/** JSON that can sit inside a <script> element whatever the strings hold. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/**
 * The demo page: pick a demo user, watch the events of every folder that user may see arrive
 * live through the real browser client, fire events, and see those fired with `teampass-ws emit`.
 * Everything from the database is put in the page with textContent, never as HTML.
 */
export function renderDemoPage(demo: DemoInfo, options: DemoPageOptions): string {
  const data = {
    database: demo.database,
    tokenTtlHours: demo.tokenTtlHours,
    users: demo.users,
    folders: demo.folders,
    eventTypes: DEMO_EVENT_TYPES,
    emitDbArgument: options.emitDbArgument,
  };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>teampass-ws live demo</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<div class="banner" role="alert"><strong>Demo mode: not connected to TeamPass.</strong> The users, folders and items below live in the demo database <code id="db"></code>.</div>
<header>
  <h1>teampass-ws <span>live demo</span></h1>
  <label class="who">Signed in as <select id="user"></select></label>
  <span id="status" class="status connecting" data-state="connecting">connecting…</span>
  <span class="last">last event id <b id="last-id">–</b></span>
</header>
<p id="role" class="role"></p>
<main>
  <section>
    <h2>Folders <small>each card shows the live events of that folder, when this user may see it</small></h2>
    <div id="folders" class="folders"></div>
  </section>
  <aside>
    <section class="panel">
      <h2>Fire an event</h2>
      <form id="fire">
        <label>Event <select id="fire-type"></select></label>
        <label id="fire-folder-label">Folder <select id="fire-folder"></select></label>
        <label>Label <input id="fire-label" maxlength="200" placeholder="e.g. Staging database"></label>
        <label class="check"><input type="checkbox" id="fire-exclude"> exclude me (TeamPass leaves the acting user out)</label>
        <button type="submit">Fire</button>
        <p id="fire-result" class="result" aria-live="polite"></p>
      </form>
    </section>
    <section class="panel">
      <h2>…or from the command line</h2>
      <p>In the folder where the demo runs:</p>
      <pre id="cli"></pre>
    </section>
    <section class="panel">
      <h2>Your own, knowledge-base and broadcast events</h2>
      <p id="kb-state" class="sub"></p>
      <ol id="other-events" class="events"></ol>
    </section>
  </aside>
</main>
<script>window.TEAMPASS_WS_DEMO = ${scriptJson(data)};</script>
<script src="${CLIENT_SCRIPT_PATH}"></script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;background:#f3f5f8}
.banner{background:#b42318;color:#fff;padding:10px 20px;font-size:15px}
.banner code{background:rgba(255,255,255,.18);padding:1px 5px;border-radius:3px}
header{display:flex;flex-wrap:wrap;align-items:center;gap:16px;padding:14px 20px;background:#fff;border-bottom:1px solid #dde2ea}
h1{font-size:20px;margin:0 12px 0 0}
h1 span{font-weight:400;color:#5a6478}
h2{font-size:15px;margin:0 0 10px}
h2 small{font-weight:400;color:#6b7486;margin-left:6px}
select,input,button{font:inherit}
select,input{padding:4px 6px;border:1px solid #c4cbd7;border-radius:4px;background:#fff}
button{padding:6px 14px;border:0;border-radius:4px;background:#2457c5;color:#fff;cursor:pointer}
button:hover{background:#1b459f}
.status{padding:3px 10px;border-radius:12px;font-weight:600;font-size:13px}
.status.connected{background:#dcf5e3;color:#17663a}
.status.connecting,.status.reconnecting{background:#fff3cd;color:#7a5a00}
.status.stopped,.status.disconnected{background:#fde2e1;color:#9b1c14}
.last{color:#5a6478}
.role{margin:10px 20px 0;color:#48505f}
main{display:grid;grid-template-columns:minmax(0,2fr) minmax(280px,1fr);gap:20px;padding:16px 20px 30px}
@media (max-width:900px){main{grid-template-columns:1fr}}
.folders{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:12px}
.folder,.panel{background:#fff;border:1px solid #dde2ea;border-radius:6px;padding:12px}
.panel{margin-bottom:14px}
.folder h3{font-size:14px;margin:0 0 4px;display:flex;justify-content:space-between;align-items:flex-start;gap:6px}
.folder.refused{opacity:.55;background:#f7f8fa}
.tag{font-size:11px;font-weight:600;padding:1px 7px;border-radius:9px;white-space:nowrap}
.tag.write{background:#e0ebff;color:#1f4aa8}
.tag.read-only{background:#fff0d6;color:#8a5300}
.tag.personal{background:#efe3ff;color:#5b2a9e}
.tag.none{background:#eceef2;color:#5a6478}
.sub{font-size:12px;color:#6b7486;margin:0 0 6px}
.sub.ok{color:#17663a}
.sub.no{color:#9b1c14}
.sub.wait{color:#7a5a00}
.events{list-style:none;margin:0;padding:0;max-height:260px;overflow:auto}
.events li{border-top:1px solid #eef0f4;padding:5px 0;font-size:13px}
.events li.fresh{animation:flash 1.6s ease-out}
@keyframes flash{from{background:#fff6bf}to{background:transparent}}
.events .type{font-weight:600}
.events .meta{color:#6b7486;font-size:12px}
.empty{color:#9aa2b1;font-style:italic;font-size:12px}
form label{display:block;margin-bottom:8px}
form label select,form label input:not([type=checkbox]){display:block;width:100%;margin-top:2px}
.check{font-size:13px;color:#48505f}
.result{font-size:13px;min-height:1.2em;margin:8px 0 0}
.result.error{color:#9b1c14}
pre{background:#1d2330;color:#e6e9ef;padding:10px;border-radius:4px;white-space:pre-wrap;overflow-wrap:break-word;font-size:12px;margin:0}
`;

// Plain ES2019 for any browser; it only uses the page's DOM and the client bundle.
const SCRIPT = `
(function () {
  'use strict';
  var demo = window.TEAMPASS_WS_DEMO;
  var $ = function (id) { return document.getElementById(id); };
  var el = function (tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };
  var params = new URLSearchParams(location.search);
  var user = demo.users.filter(function (u) { return u.login === params.get('user'); })[0] || demo.users[0];
  var access = {};
  user.access.forEach(function (a) { access[a.folderId] = a.access; });

  $('db').textContent = demo.database;
  demo.users.forEach(function (u) {
    var o = el('option', '', u.displayName + ' (' + u.login + ')');
    o.value = u.login;
    if (u === user) o.selected = true;
    $('user').appendChild(o);
  });
  $('user').addEventListener('change', function () { location.search = '?user=' + encodeURIComponent($('user').value); });
  $('role').textContent = user.displayName + ' — ' + user.role + '. Token valid ' + demo.tokenTtlHours + ' h.';

  var cards = {};
  demo.folders.forEach(function (f) {
    var card = el('article', 'folder');
    card.setAttribute('data-folder', String(f.id));
    var h = el('h3');
    h.appendChild(el('span', 'title', f.path));
    var a = access[f.id] || 'none';
    h.appendChild(el('span', 'tag ' + a, a === 'none' ? 'no access' : a));
    card.appendChild(h);
    var sub = el('p', 'sub', 'subscribing…');
    sub.setAttribute('data-state', 'subscribing');
    card.appendChild(sub);
    var list = el('ol', 'events');
    list.appendChild(el('li', 'empty', 'no event yet'));
    card.appendChild(list);
    $('folders').appendChild(card);
    cards[f.id] = { card: card, sub: sub, list: list };
  });
  $('other-events').appendChild(el('li', 'empty', 'no event yet'));

  function setStatus(state, text) {
    var s = $('status');
    s.className = 'status ' + state;
    s.setAttribute('data-state', state);
    s.textContent = text;
  }

  function describe(name, data) {
    data = data || {};
    var what = data.label || data.title || data.message || data.reason || '';
    var by = data.created_by || data.updated_by || data.deleted_by || data.copied_by || data.moved_by || data.changed_by || data.user_login || '';
    // TeamPass names the actor by user id: show a demo user's login instead.
    var actor = demo.users.filter(function (u) { return String(u.id) === String(by); })[0];
    if (actor) by = actor.login;
    return { what: what, by: by };
  }

  function addEvent(list, name, data, meta) {
    var empty = list.querySelector('.empty');
    if (empty) list.removeChild(empty);
    var li = el('li', 'fresh');
    li.setAttribute('data-event-id', String(meta.event_id));
    li.setAttribute('data-event', name);
    var d = describe(name, data);
    li.appendChild(el('span', 'type', name));
    if (d.what) li.appendChild(document.createTextNode(' — ' + d.what));
    var time = meta.timestamp ? new Date(meta.timestamp * 1000).toLocaleTimeString() : '';
    li.appendChild(el('div', 'meta', '#' + meta.event_id + (d.by ? ' · by ' + d.by : '') + (time ? ' · ' + time : '')));
    list.insertBefore(li, list.firstChild);
  }

  var client = new TeamPassWebSocket({ url: (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws', token: user.token });
  window.demoClient = client;

  function setSub(c, state, cls, text) {
    c.sub.setAttribute('data-state', state);
    c.sub.className = 'sub ' + cls;
    c.sub.textContent = text;
    if (cls === 'no') c.card.classList.add('refused'); else c.card.classList.remove('refused');
  }

  // The subscription's answer: the first one, and again after each reconnect (the client
  // resubscribes by itself; asking again shares that request).
  function watchSubscription(f) {
    var c = cards[f.id];
    client.subscribeToFolder(f.id).then(function () {
      setSub(c, 'live', 'ok', 'subscribed: live');
    }, function (err) {
      // No error_code: the connection dropped before the answer; the next login asks again.
      if (!err.error_code) setSub(c, stopped ? 'stopped' : 'reconnecting', 'wait', stopped ? 'not live: ' + stopped : 'reconnecting…');
      else setSub(c, 'refused', 'no', 'refused by the server (' + err.error_code + ')');
    });
  }

  // While the connection is down no event arrives: a card that was live says so.
  function cardsOffline(text) {
    demo.folders.forEach(function (f) {
      var c = cards[f.id];
      var state = c.sub.getAttribute('data-state');
      if (state === 'live' || state === 'reconnecting') setSub(c, 'reconnecting', 'wait', text);
    });
  }

  // The client has given up (login refused, or out of attempts): no card is live any more.
  var stopped = '';
  function cardsStopped(reason) {
    stopped = reason;
    demo.folders.forEach(function (f) {
      var c = cards[f.id];
      var state = c.sub.getAttribute('data-state');
      if (state === 'live' || state === 'reconnecting' || state === 'subscribing') setSub(c, 'stopped', 'wait', 'not live: ' + reason);
    });
  }

  client.onOpen(function () {
    setStatus('connected', 'connected as ' + user.login);
    demo.folders.forEach(function (f) {
      if (cards[f.id].sub.getAttribute('data-state') === 'reconnecting') watchSubscription(f);
    });
  });
  client.onClose(function (e) {
    setStatus('disconnected', 'disconnected (' + e.code + ')');
    cardsOffline('reconnecting…');
  });
  client.onReconnecting(function (attempt, delay) {
    setStatus('reconnecting', 'reconnecting: attempt ' + attempt + ' in ' + (delay / 1000).toFixed(1) + ' s');
    cardsOffline('reconnecting: no live events until the daemon is back');
  });
  client.on('auth_failed', function (info) {
    setStatus('stopped', 'stopped: ' + (info.session_ended ? 'session ended' : 'login refused') + ' (' + (info.error_code || info.code) + ')');
    cardsStopped(info.session_ended ? 'session ended' : 'login refused');
  });
  client.on('reconnect_failed', function () {
    setStatus('stopped', 'gave up reconnecting');
    cardsStopped('gave up reconnecting; reload the page');
  });
  client.on('subscription_revoked', function (m) {
    var c = cards[m.folder_id];
    if (c) setSub(c, 'revoked', 'no', 'access revoked');
  });
  client.on('*', function (name, data, meta) {
    if (!meta) return;
    // The event's own id; the client's resume point (getLastEventId) is the server's settled watermark.
    if (meta.event_id != null) $('last-id').textContent = String(meta.event_id);
    var folderId = data && (data.folder_id || data.to_folder_id || data.from_folder_id);
    var c = cards[folderId];
    addEvent(c && !c.card.classList.contains('refused') ? c.list : $('other-events'), name, data, meta);
  });

  client.connect().catch(function () {});
  demo.folders.forEach(watchSubscription);
  client.subscribeToKb().then(function () { $('kb-state').textContent = 'knowledge base: subscribed'; },
    function (err) { $('kb-state').textContent = 'knowledge base: refused (' + (err.error_code || err.message) + ')' + (user.admin ? ': TeamPass keeps admins out of the KB channel' : ''); });

  demo.eventTypes.forEach(function (t) { var o = el('option', '', t); o.value = t; $('fire-type').appendChild(o); });
  demo.folders.forEach(function (f) {
    var o = el('option', '', f.path + (access[f.id] ? '' : ' (no access)'));
    o.value = String(f.id);
    $('fire-folder').appendChild(o);
  });
  var firstVisible = user.access.length ? user.access[0].folderId : demo.folders[0].id;
  $('fire-folder').value = String(firstVisible);

  function quote(s) { return "'" + String(s).replace(/'/g, "'\\\\''") + "'"; }
  function updateCli() {
    var folder = $('fire-folder').value;
    var db = demo.emitDbArgument ? ' --db ' + quote(demo.emitDbArgument) : '';
    $('cli').textContent = 'npx teampass-ws emit item_created item_id=100 folder_id=' + folder + " label='Hello from the CLI' created_by=1" + db;
    $('fire-folder-label').style.display = $('fire-type').value.indexOf('item_') === 0 ? '' : 'none';
  }
  $('fire-folder').addEventListener('change', updateCli);
  $('fire-type').addEventListener('change', updateCli);
  updateCli();

  $('fire').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var result = $('fire-result');
    result.className = 'result';
    result.textContent = 'sending…';
    fetch('/demo/emit', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: user.token, event_type: $('fire-type').value, folder_id: Number($('fire-folder').value), label: $('fire-label').value, exclude_self: $('fire-exclude').checked })
    }).then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); }).then(function (r) {
      if (!r.ok) throw new Error(r.body.error + (r.body.suggestion ? ' ' + r.body.suggestion : ''));
      result.textContent = 'event #' + r.body.ids.join(', #') + ' written: ' + r.body.event_type + ' → ' + r.body.target;
    }).catch(function (err) { result.className = 'result error'; result.textContent = err.message; });
  });
})();
`;
