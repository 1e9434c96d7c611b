// The field pages' service worker (issue 14, offline). Served by views/offline.py at
// /campaigns/sw.js (scope /campaigns/: the sweep's list and visit forms) and at
// /followup/sw.js (scope /followup/: the follow-up's today page and check forms), which put
// DOORSTEP_STATIC (the static files the pages need) and DOORSTEP_OUTBOX_DB (outbox-db.js) in
// front of this file. Both registrations share the caches and the outbox.
//
// - The worker's list (today page) and forms are fetched from the network first; each good
//   answer is kept (keyed without its query string), and served from the cache when there is
//   no network. They are the very pages the server rendered online: masked as online.
// - "precache" (a message from the list or today page): that page and the form of every
//   household of the worker's own assignment (every key person listed today), one at a time,
//   so that they work offline after one online visit.
// - A visit or check form POSTed without network (or answered 502/503/504 by a proxy) is not
//   lost: it goes to the outbox (IndexedDB) with the form's client UUID and the page is sent
//   back to the list, which shows it as waiting. The pages send the outbox (offline.js); this
//   worker never relies on Background Sync.
/* global DOORSTEP_STATIC, DOORSTEP_OUTBOX_DB, DoorstepOutbox */
"use strict";
importScripts(DOORSTEP_OUTBOX_DB);

var PAGES = "doorstep-field-pages-v1";
var STATIC = "doorstep-static-v1";
var FIELD_PAGE = /^\/(campaigns\/\d+\/(my|households\/\d+\/visit)|followup\/(today|key-persons\/\d+\/check))\/$/;
var VISIT_FORM = /^\/campaigns\/(\d+)\/households\/(\d+)\/visit\/$/;
var CHECK_FORM = /^\/followup\/key-persons\/(\d+)\/check\/$/;
var PRECACHE_GAP_MS = 250; // at most 4 pages a second: well inside the read budget

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(STATIC).then(function (cache) { return cache.addAll(DOORSTEP_STATIC); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) {
        return n.indexOf("doorstep-") === 0 && n !== PAGES && n !== STATIC;
      }).map(function (n) { return caches.delete(n); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function pageKey(url) {
  return url.origin + url.pathname;
}

function cacheable(response) {
  return response && response.ok && response.status === 200 && !response.redirected &&
    response.type === "basic";
}

function networkFirst(request, url) {
  return fetch(request).then(function (response) {
    if (cacheable(response)) {
      var copy = response.clone();
      caches.open(PAGES).then(function (cache) { cache.put(pageKey(url), copy); });
    }
    return response;
  }).catch(function () {
    return caches.open(PAGES).then(function (cache) {
      return cache.match(pageKey(url));
    }).then(function (hit) {
      return hit || offlinePage();
    });
  });
}

function offlinePage() {
  var body = "<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>" +
    "<title>离线</title><p>没有网络，这一页没有存在手机上。</p><p><a href='javascript:history.back()'>返回</a></p>";
  return new Response(body, { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

function staticFirst(request) {
  return caches.open(STATIC).then(function (cache) {
    return cache.match(request).then(function (hit) {
      var fresh = fetch(request).then(function (response) {
        if (cacheable(response)) cache.put(request, response.clone());
        return response;
      });
      return hit || fresh;
    });
  });
}

// The form's fields as the page posts them (the UUID, the label and the user apart).
function formRecord(form) {
  var out = { pairs: [], label: "", clientUuid: "", userId: 0 };
  form.forEach(function (value, name) {
    if (typeof value !== "string") return;
    if (name === "offline_label") { out.label = value; return; }
    // whose record: only their pages send and show it (offline.js)
    if (name === "offline_user") { out.userId = Number(value) || 0; return; }
    // The form's own UUID: if the post did reach the server (only its answer was lost), the
    // replay is the same record, answered "duplicate", never a second one.
    if (name === "client_uuid") { out.clientUuid = value.trim(); return; }
    if (name === "csrfmiddlewaretoken") return;
    out.pairs.push([name, value]);
  });
  return out;
}

function told() {
  return self.clients.matchAll().then(function (clients) {
    clients.forEach(function (c) { c.postMessage({ type: "outbox-changed" }); });
  });
}

// A check of the follow-up (the same outbox, its own kind of record): dated when the worker
// saved it on the phone; the today page shows it as waiting.
function queueCheck(request, match) {
  return request.formData().then(function (form) {
    var f = formRecord(form);
    var record = {
      kind: "check",
      client_uuid: f.clientUuid || DoorstepOutbox.newUuid(),
      key_person_id: Number(match[1]),
      measured_at: new Date().toISOString(),
      form: f.pairs,
      label: f.label,
      user_id: f.userId,
      status: "unsent",
      message: "",
      created_at: Date.now(),
    };
    return DoorstepOutbox.put(record).then(told).then(function () {
      return Response.redirect("/followup/today/?queued=" + match[1], 303);
    });
  });
}

function queueVisit(request, match) {
  return request.formData().then(function (form) {
    var f = formRecord(form);
    var record = {
      client_uuid: f.clientUuid || DoorstepOutbox.newUuid(),
      campaign_id: Number(match[1]),
      household_id: Number(match[2]),
      visited_at: new Date().toISOString(),
      form: f.pairs,
      label: f.label,
      user_id: f.userId,
      status: "unsent",
      message: "",
      created_at: Date.now(),
    };
    return DoorstepOutbox.put(record).then(told).then(function () {
      var list = "/campaigns/" + match[1] + "/my/?queued=" + match[2] + "#hh-" + match[2];
      return Response.redirect(list, 303);
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === "GET") {
    if (url.pathname.indexOf("/static/") === 0) {
      event.respondWith(staticFirst(request));
    } else if (FIELD_PAGE.test(url.pathname) && request.mode === "navigate") {
      event.respondWith(networkFirst(request, url));
    }
    return;
  }
  if (request.method !== "POST") return;
  var visit = VISIT_FORM.exec(url.pathname);
  var check = !visit && CHECK_FORM.exec(url.pathname);
  if (visit || check) {
    var copy = request.clone();
    var queue = visit ? function () { return queueVisit(copy, visit); }
      : function () { return queueCheck(copy, check); };
    // Kept on the phone without network, and also when a proxy answers 502/503/504 for a
    // server it could not reach: the replay carries the form's UUID, so a post that did land is
    // answered as a duplicate.
    event.respondWith(fetch(request).then(function (response) {
      if (response.status >= 502 && response.status <= 504) return queue();
      return response;
    }, queue));
  }
});

function sleep(ms) {
  return new Promise(function (resolve) { setTimeout(resolve, ms); });
}

var precaching = null;

// The list and the visit form of each household of the worker's own assignment (the list's
// rows are the assignment: the server renders only the worker's own households).
function precache(listUrl) {
  var list = new URL(listUrl, self.location.origin);
  return caches.open(PAGES).then(function (cache) {
    return fetch(list.pathname, { credentials: "same-origin" }).then(function (response) {
      if (!cacheable(response)) return [];
      // The list itself (its first load came before this worker controlled the page).
      var kept = cache.put(pageKey(list), response.clone());
      return Promise.all([kept, response.text()]).then(function (both) {
        var html = both[1];
        var seen = {};
        var urls = [];
        var pattern = list.pathname.indexOf("/followup/") === 0
          ? /href="(\/followup\/key-persons\/\d+\/check\/)"/g
          : /href="(\/campaigns\/\d+\/households\/\d+\/visit\/)/g;
        var m;
        while ((m = pattern.exec(html))) {
          if (!seen[m[1]]) { seen[m[1]] = true; urls.push(m[1]); }
        }
        return urls;
      });
    }).then(function (urls) {
      var done = 0;
      function next(i) {
        if (i >= urls.length) return done;
        var key = self.location.origin + urls[i];
        return cache.match(key).then(function (hit) {
          if (hit) return next(i + 1);
          return fetch(urls[i], { credentials: "same-origin" }).then(function (response) {
            // Over the read budget: stop here; the next online visit of the list goes on.
            if (response.status === 429) return false;
            if (!cacheable(response)) return true;
            done += 1;
            return cache.put(key, response).then(function () { return true; });
          }).then(function (goOn) {
            if (!goOn) return done;
            return sleep(PRECACHE_GAP_MS).then(function () { return next(i + 1); });
          });
        });
      }
      return next(0);
    });
  });
}

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type === "precache" && !precaching) {
    precaching = precache(data.list).catch(function () { return 0; }).then(function (n) {
      precaching = null;
      if (event.source) event.source.postMessage({ type: "precached", count: n });
    });
    event.waitUntil(precaching);
  } else if (data.type === "forget") {
    // Logging out: the pages kept for offline use carry residents' names.
    event.waitUntil(caches.delete(PAGES));
  }
});
