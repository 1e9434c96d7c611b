// Offline field pages (issue 14): the page side of the outbox. Loaded on every page of a
// logged-in user (base.html), so that logging out is refused anywhere while a record is unsent
// and the outbox is sent from whatever page opens first; on the field pages (those with the
// #outbox panel: the sweep's list and visit forms, the follow-up's today page and check forms)
// it also registers the service worker of those pages, shows every record with the server's
// answer, and offers "同步".
//
// One outbox holds two kinds of records: visits (no kind) and checks (kind "check"). Records
// are sent on start, on reconnect (the online event), on a timer and from the button, through
// the outbox batch APIs (visits: POST /api/campaigns/<id>/visits/outbox; checks: POST
// /api/followup/checks/outbox). Background Sync is not used: some browsers lack it.
(function () {
  "use strict";
  var script = document.getElementById("offline-script");
  var Outbox = window.DoorstepOutbox;
  if (!script) return;
  var panel = document.getElementById("outbox");
  var cfg = script.dataset;
  var words = panel ? panel.dataset : {};
  var SYNC_EVERY_MS = 60 * 1000;
  var CHUNK = 100;
  var CHECKS_API = cfg.checksApi || "/api/followup/checks/outbox";
  var syncing = null;
  var canStore = !!(Outbox && window.indexedDB);

  function text(key, fallback) {
    return (words && words[key]) || cfg[key] || fallback;
  }

  function csrfToken() {
    var headers = document.body.getAttribute("hx-headers");
    try { return JSON.parse(headers)["X-CSRFToken"]; } catch (e) { return ""; }
  }

  // The logged-in user: a phone shared by two workers keeps each one's records apart (a
  // session that ended without logging out leaves its records for its own user's next login).
  var me = Number(cfg.user) || 0;

  function records() {
    if (!canStore) return Promise.resolve([]);
    return Outbox.all().then(function (rows) { return Outbox.mine(rows, me); })
      .catch(function () { return []; });
  }

  // The pages kept for offline use carry residents' names: another user's login drops them
  // (their owner is kept beside them), and the service worker is told to forget them too.
  var OWNER_KEY = "doorstep-field-pages-user";

  function forgetPages() {
    var worker = navigator.serviceWorker && navigator.serviceWorker.controller;
    if (worker) worker.postMessage({ type: "forget" });
    return window.caches ? caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) { return n.indexOf("doorstep-field-pages") === 0; })
        .map(function (n) { return caches.delete(n); }));
    }) : Promise.resolve();
  }

  function pagesOwner() {
    try { return window.localStorage.getItem(OWNER_KEY); } catch (e) { return null; }
  }

  function setPagesOwner(value) {
    try {
      if (value) window.localStorage.setItem(OWNER_KEY, value); else window.localStorage.removeItem(OWNER_KEY);
    } catch (e) { /* private mode: the pages are dropped on every change of user anyway */ }
  }

  var pagesChecked = (me && pagesOwner() !== String(me))
    ? forgetPages().catch(function () {}).then(function () { setPagesOwner(String(me)); })
    : Promise.resolve();

  // -- the header's count and the panel ---------------------------------------------------
  function badge() {
    var el = document.getElementById("outbox-badge");
    if (el) return el;
    var nav = document.querySelector("header.top nav") || document.querySelector("header.top");
    if (!nav) return null;
    el = document.createElement("a");
    el.id = "outbox-badge";
    el.className = "outbox-badge";
    el.href = cfg.listHint || "#outbox";
    nav.insertBefore(el, nav.firstChild);
    return el;
  }

  function render() {
    return records().then(function (rows) {
      var unsent = Outbox ? Outbox.unsent(rows).length : 0;
      var mark = badge();
      if (mark) {
        mark.hidden = !panel && unsent === 0;
        mark.textContent = text("tUnsent", "未发送") + " " + unsent;
        mark.classList.toggle("has-unsent", unsent > 0);
        mark.href = panel ? "#outbox" : (cfg.fieldUrl || "#");
      }
      if (!panel) return rows;
      document.getElementById("outbox-count").textContent = String(unsent);
      var list = document.getElementById("outbox-records");
      list.textContent = "";
      var campaign = Number(panel.dataset.campaign);
      var checks = panel.dataset.kind === "checks";
      // This page's records (this campaign's visits; the checks), and refused ones of any
      // kind (one whose campaign is gone has no page of its own where the worker could read
      // and dismiss it).
      rows.filter(function (r) {
        var here = checks ? r.kind === "check" : (r.kind !== "check" && r.campaign_id === campaign);
        return here || (r.status !== "unsent" && !Outbox.landed(r));
      }).forEach(function (r) {
        var li = document.createElement("li");
        li.className = "outbox-record s-" + r.status;
        li.dataset.uuid = r.client_uuid;
        if (r.kind === "check") li.dataset.keyPerson = String(r.key_person_id);
        else li.dataset.household = String(r.household_id);
        li.dataset.status = r.status;
        var what = document.createElement("span");
        what.className = "what";
        var outcome = field(r, "outcome");
        var said = words["outcome" + outcome.charAt(0).toUpperCase() + outcome.slice(1).replace(/_(\w)/g, function (m, c) { return c.toUpperCase(); })] || outcome;
        if (r.kind === "check" && outcome !== "unreachable" && field(r, "temperature")) {
          said += " " + field(r, "temperature") + " °C";
        }
        what.textContent = (r.label || ("#" + (r.kind === "check" ? r.key_person_id : r.household_id))) +
          " · " + said + " · " +
          new Date(r.kind === "check" ? r.measured_at : r.visited_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
        var state = document.createElement("b");
        state.className = "answer";
        state.textContent = words["status" + r.status.replace(/(^|_)(\w)/g, function (m, s, c) { return c.toUpperCase(); })] || r.status;
        li.appendChild(what);
        li.appendChild(document.createTextNode(" "));
        li.appendChild(state);
        if (r.message) {
          var why = document.createElement("div");
          why.className = "why muted";
          why.textContent = r.message;
          li.appendChild(why);
        }
        if (r.status !== "unsent") {
          var dismiss = document.createElement("button");
          dismiss.type = "button";
          dismiss.className = "link outbox-dismiss";
          dismiss.dataset.uuid = r.client_uuid;
          dismiss.textContent = words.tDismiss || "知道了";
          li.appendChild(document.createTextNode(" "));
          li.appendChild(dismiss);
        }
        list.appendChild(li);
      });
      markList(rows);
      return rows;
    });
  }

  function field(r, name) {
    return (r.form.filter(function (p) { return p[0] === name; })[0] || [])[1] || "";
  }

  // The list page: households with a record on the phone say so; the today page: key persons.
  function markList(rows) {
    rows.forEach(function (r) {
      var row = r.kind === "check"
        ? document.querySelector("#due a[href$='/key-persons/" + r.key_person_id + "/check/'], #overdue a[href$='/key-persons/" + r.key_person_id + "/check/'], #unreachable a[href$='/key-persons/" + r.key_person_id + "/check/']")
        : document.getElementById("hh-" + r.household_id);
      if (!row || row.querySelector(".on-phone")) return;
      var tag = document.createElement("span");
      tag.className = "on-phone badge";
      tag.textContent = r.status === "unsent" ? (words.tOnPhone || "存在手机上") : (words["status" + r.status.replace(/(^|_)(\w)/g, function (m, s, c) { return c.toUpperCase(); })] || r.status);
      var link = row.querySelector("a") || row;
      link.appendChild(tag);
    });
  }

  function note(message) {
    var el = document.getElementById("outbox-note");
    if (el) el.textContent = message || "";
  }

  // -- sending ----------------------------------------------------------------------------
  // campaign: a campaign's id for visits, "checks" for the follow-up's checks.
  function sendChunk(campaign, chunk, token) {
    var checks = campaign === "checks";
    var body = {
      records: chunk.map(function (r) {
        if (checks) {
          return { client_uuid: r.client_uuid, key_person_id: r.key_person_id, measured_at: r.measured_at, form: r.form };
        }
        return { client_uuid: r.client_uuid, household_id: r.household_id, visited_at: r.visited_at, form: r.form };
      }),
    };
    return fetch(checks ? CHECKS_API : cfg.api + campaign + "/visits/outbox", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify(body),
    });
  }

  function freshToken() {
    // A page kept from an earlier session carries an old CSRF token: read a fresh one.
    return fetch(cfg.fieldUrl || "/", { credentials: "same-origin" }).then(function (r) { return r.text(); })
      .then(function (html) {
        var m = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(html) || /"X-CSRFToken": "([^"]+)"/.exec(html);
        return m ? m[1] : "";
      });
  }

  function apply(chunk, answers) {
    var byUuid = {};
    answers.forEach(function (a) { byUuid[a.client_uuid] = a; });
    var answered = chunk.filter(function (r) {
      var a = byUuid[r.client_uuid];
      if (!a || a.status === "throttled") return false; // stays unsent: sent again later
      r.status = a.status;
      r.held = a.field === "held" && a.status !== "rejected";
      r.message = a.error || "";
      if (r.kind === "check") r.check_id = a.check_id; else r.visit_id = a.visit_id;
      r.answered_at = Date.now();
      return true;
    });
    return Outbox.putAll(answered);
  }

  // Answers refusing a whole chunk for good (sending it again gets the same answer).
  var REFUSED_BATCH = [400, 404, 413, 422];

  function refusal(response) {
    var fallback = (words.tRefusedBatch || "服务器拒绝了这批记录") + " (" + response.status + ")";
    return response.json().then(function (body) {
      var detail = body && body.detail;
      if (typeof detail === "string") return fallback + ": " + detail;
      if (detail && detail.length) {
        var first = detail[0] || {};
        var why = (first.ctx && first.ctx.error) || first.msg || "";
        return why ? fallback + ": " + String(why).slice(0, 200) : fallback;
      }
      return fallback;
    }).catch(function () { return fallback; });
  }

  function reject(chunk, message) {
    chunk.forEach(function (r) {
      r.status = "rejected";
      r.message = message;
      r.answered_at = Date.now();
    });
    return Outbox.putAll(chunk);
  }

  function sync() {
    if (!canStore) return Promise.resolve();
    if (syncing) return syncing;
    syncing = records().then(function (rows) {
      var unsent = Outbox.unsent(rows);
      if (!unsent.length) return;
      if (navigator.onLine === false) return; // the state line says so; sent on reconnect
      note(words.tSending || "正在发送…");
      var groups = {};
      unsent.forEach(function (r) {
        var group = r.kind === "check" ? "checks" : r.campaign_id;
        (groups[group] = groups[group] || []).push(r);
      });
      var token = csrfToken();
      var jobs = [];
      Object.keys(groups).forEach(function (c) {
        for (var i = 0; i < groups[c].length; i += CHUNK) jobs.push([c, groups[c].slice(i, i + CHUNK)]);
      });
      function next(i, retried) {
        if (i >= jobs.length) { note(""); return; }
        var job = jobs[i];
        return sendChunk(job[0], job[1], token).then(function (response) {
          if (response.status === 403 && !retried) {
            return freshToken().then(function (t) { token = t; return next(i, true); });
          }
          if (response.status === 401 || response.status === 403) {
            note(words.tLogin || "请重新登录后同步"); return;
          }
          if (REFUSED_BATCH.indexOf(response.status) >= 0) {
            // The server refused the whole chunk (the campaign is gone, a record it cannot
            // read): those records are never sent again as they are, so each is kept as
            // refused with the server's reason until the worker dismisses it, and the next
            // chunk goes on.
            return refusal(response).then(function (message) { return reject(job[1], message); })
              .then(function () { return next(i + 1); });
          }
          if (!response.ok) { note((words.tFailed || "发送失败") + " (" + response.status + ")"); return; }
          return response.json().then(function (answers) { return apply(job[1], answers); })
            .then(function () { return next(i + 1); });
        });
      }
      return next(0);
    }).catch(function () {
      note(words.tFailed || "发送失败");
    }).then(function () {
      syncing = null;
      return render();
    });
    return syncing;
  }

  // -- logging out --------------------------------------------------------------------------
  document.addEventListener("submit", function (event) {
    var form = event.target;
    // getAttribute: a form holding a field named "action" shadows the form's action property.
    var target = form.getAttribute("action") || "";
    if (target.indexOf(cfg.logout) === -1 || form.dataset.outboxChecked) return;
    event.preventDefault();
    records().then(function (rows) {
      var unsent = Outbox ? Outbox.unsent(rows).length : 0;
      if (unsent > 0) {
        if (window.confirm((cfg.tLogoutBlocked || "还有未发送的记录，不能退出。现在同步吗？") + " (" + unsent + ")")) sync();
        return;
      }
      var refused = rows.filter(function (r) { return r.status !== "unsent" && !Outbox.landed(r); }).length;
      if (refused > 0) {
        window.alert((cfg.tLogoutRefused || "有被拒绝的记录还没有查看，不能退出。") + " (" + refused + ")");
        return;
      }
      // Nothing waits: the pages kept for offline use (residents' names) go with the session.
      var forget = forgetPages().then(function () { setPagesOwner(""); });
      var clear = Promise.all(rows.map(function (r) { return Outbox.remove(r.client_uuid); }));
      Promise.all([forget, clear]).catch(function () {}).then(function () {
        form.dataset.outboxChecked = "1";
        form.submit();
      });
    });
  }, true);

  // -- the field pages ------------------------------------------------------------------------
  function setUp() {
    var state = document.getElementById("outbox-state");
    var supported = "serviceWorker" in navigator && canStore && window.isSecureContext !== false;
    if (!supported) {
      if (state) { state.textContent = words.tUnavailable || "离线不可用"; state.className = "unavailable"; }
      return;
    }
    if (state) state.textContent = navigator.onLine === false ? (words.tOffline || "离线") : (words.tOnline || "在线");
    // The page's own service worker: the sweep's (/campaigns/) or the follow-up's (/followup/).
    navigator.serviceWorker.register(panel.dataset.sw || cfg.sw, { scope: panel.dataset.swScope || cfg.swScope }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      return pagesChecked.then(function () { return registration; });
    }).then(function (registration) {
      if (state && navigator.onLine !== false) state.textContent = words.tReady || "可离线使用";
      if (panel.dataset.list && navigator.onLine !== false && registration.active) {
        registration.active.postMessage({ type: "precache", list: panel.dataset.list });
      }
    }).catch(function () {
      if (state) { state.textContent = words.tUnavailable || "离线不可用"; state.className = "unavailable"; }
    });
    navigator.serviceWorker.addEventListener("message", function (event) {
      var data = event.data || {};
      if (data.type === "outbox-changed") render();
      if (data.type === "precached" && state) state.dataset.precached = String(data.count);
    });
    var visitForm = document.getElementById("visit-form") || document.getElementById("check-form");
    if (visitForm) {
      visitForm.addEventListener("submit", function (event) {
        if (navigator.onLine === false && !navigator.serviceWorker.controller) {
          // No service worker holds this page yet: the post would be lost, so it is not sent.
          event.preventDefault();
          delete visitForm.dataset.sent;
          window.alert(words.tUnavailable || "离线不可用");
          return;
        }
        // The address the outbox shows for this record, and whose record it is (kept on the
        // phone only).
        if (visitForm.querySelector("input[name=offline_label]")) return;
        var label = document.createElement("input");
        label.type = "hidden";
        label.name = "offline_label";
        var heading = document.querySelector("main h1");
        label.value = heading ? heading.textContent.trim().slice(0, 80) : "";
        visitForm.appendChild(label);
        var owner = document.createElement("input");
        owner.type = "hidden";
        owner.name = "offline_user";
        owner.value = String(me);
        visitForm.appendChild(owner);
      }, true);
    }
    var queued = new URLSearchParams(location.search).get("queued");
    if (queued) note(words.tQueued || "已存在手机上，联网后自动发送");
    window.addEventListener("offline", function () { if (state) state.textContent = words.tOffline || "离线"; });
    document.getElementById("outbox-sync").addEventListener("click", function () { sync(); });
    document.getElementById("outbox-records").addEventListener("click", function (event) {
      var button = event.target.closest(".outbox-dismiss");
      if (!button) return;
      Outbox.remove(button.dataset.uuid).then(render);
    });
    if (navigator.storage && navigator.storage.persist) {
      navigator.storage.persisted().then(function (yes) { return yes || navigator.storage.persist(); })
        .catch(function () {});
    }
  }

  if (panel) setUp();
  window.addEventListener("online", function () {
    var state = document.getElementById("outbox-state");
    if (state && state.className !== "unavailable") state.textContent = words.tOnline || "在线";
    sync();
  });
  setInterval(sync, SYNC_EVERY_MS);
  render().then(sync);
  window.DoorstepOffline = { sync: sync, render: render };
})();
