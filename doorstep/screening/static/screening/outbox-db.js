// The outbox of the field pages (issue 14, offline): visits and follow-up checks recorded
// without network, kept in IndexedDB until the server has answered each one. Shared by the pages (offline.js) and the
// service worker (sw.js), so both read and write the same records.
//
// A record: {client_uuid, campaign_id, household_id, visited_at (ISO), form: [[name, value]...]
// (the visit form's fields as the page posts them), label (the address shown), user_id (who
// recorded it: only that user's pages send and show it), status
// ("unsent" until the server answered; then its answer: created, duplicate, held, conflict,
// taken, rejected, not_found), held (true when the server keeps it for the community: the
// answer's field "held"), message (the server's reason), answered_at, created_at}.
// A check (kind "check") has key_person_id and measured_at (the phone's time when saved) in
// place of campaign_id, household_id and visited_at, the check form's fields as its form, and
// one more answer: replaced (saved; the slot's earlier check kept as history).
(function (root) {
  "use strict";
  var NAME = "doorstep-outbox";
  var STORE = "records";

  var opened = null;

  // One connection for the page (opening IndexedDB costs more than a small transaction).
  function open() {
    if (!opened) {
      opened = connect().then(function (db) {
        db.onversionchange = function () { db.close(); opened = null; };
        db.onclose = function () { opened = null; };
        return db;
      }, function (error) { opened = null; throw error; });
    }
    return opened;
  }

  function connect() {
    return new Promise(function (resolve, reject) {
      var request = root.indexedDB.open(NAME, 1);
      request.onupgradeneeded = function () {
        var db = request.result;
        if (!db.objectStoreNames.contains(STORE)) {
          db.createObjectStore(STORE, { keyPath: "client_uuid" });
        }
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function run(mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode);
        var request = work(tx.objectStore(STORE));
        tx.oncomplete = function () { resolve(request && request.result !== undefined ? request.result : undefined); };
        tx.onerror = tx.onabort = function () { reject(tx.error); };
      });
    });
  }

  // Landed on the server (a visit, or a record the community keeps to decide on): nothing
  // more to send. Refused ones stay on the device until the worker dismisses them. A
  // "conflict" has landed only when the server holds it (r.held, from the answer's field
  // "held": someone else screened meanwhile); a conflict without it is a refusal (the UUID
  // was used for another visit) and nothing of it is on the server.
  var LANDED = ["created", "duplicate", "held", "replaced"];

  root.DoorstepOutbox = {
    LANDED: LANDED,
    put: function (record) { return run("readwrite", function (s) { return s.put(record); }); },
    // Many records in one transaction: all stored, or none.
    putAll: function (records) {
      return run("readwrite", function (s) { records.forEach(function (r) { s.put(r); }); });
    },
    all: function () {
      return run("readonly", function (s) { return s.getAll(); }).then(function (rows) {
        return (rows || []).sort(function (a, b) { return a.created_at - b.created_at; });
      });
    },
    remove: function (uuid) { return run("readwrite", function (s) { return s.delete(uuid); }); },
    // The records of this user (one made before records carried their user counts as theirs).
    mine: function (rows, userId) {
      return rows.filter(function (r) { return !r.user_id || r.user_id === userId; });
    },
    unsent: function (rows) { return rows.filter(function (r) { return r.status === "unsent"; }); },
    landed: function (r) {
      return LANDED.indexOf(r.status) >= 0 || (r.status === "conflict" && r.held === true);
    },
    newUuid: function () {
      if (root.crypto && root.crypto.randomUUID) return root.crypto.randomUUID();
      var b = new Uint8Array(16);
      root.crypto.getRandomValues(b);
      b[6] = (b[6] & 0x0f) | 0x40;
      b[8] = (b[8] & 0x3f) | 0x80;
      var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
      return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
    },
  };
})(self);
