/* walkflow: the browser database of walk-through drafts, and a warning before signing out while
   some of them have not reached the server. Safe on every page (base.html may include it); the
   walk pages load it before walk-store.js, which uses WalkflowDB. */
(function () {
  "use strict";
  if (window.WalkflowDB) return;

  var NAME = "walkflow";
  var VERSION = 1;
  var connection = null;

  function open() {
    if (connection) return connection;
    connection = new Promise(function (resolve, reject) {
      if (!window.indexedDB) { reject(new Error("indexedDB unavailable")); return; }
      var request = indexedDB.open(NAME, VERSION);
      request.onupgradeneeded = function () {
        var db = request.result;
        if (!db.objectStoreNames.contains("drafts")) {
          db.createObjectStore("drafts", { keyPath: "uuid" }).createIndex("user", "user");
        }
        if (!db.objectStoreNames.contains("photos")) {
          db.createObjectStore("photos", { keyPath: "id" }).createIndex("draft", "draft");
        }
      };
      request.onsuccess = function () {
        var db = request.result;
        // Another tab upgrading the schema must not be blocked by this one.
        db.onversionchange = function () { db.close(); connection = null; };
        resolve(db);
      };
      request.onerror = function () { connection = null; reject(request.error); };
    });
    return connection;
  }

  /* A draft still needs the server when it was queued, refused or conflicting, or typed into. */
  function isUnsent(draft) {
    return draft.state !== "draft" || !!draft.dirty;
  }

  function unsent(user) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var request = db.transaction("drafts").objectStore("drafts").getAll();
        request.onsuccess = function () {
          resolve(request.result.filter(function (d) {
            return (user == null || String(d.user) === String(user)) && isUnsent(d);
          }));
        };
        request.onerror = function () { reject(request.error); };
      });
    });
  }

  function currentUser() {
    var meta = document.querySelector('meta[name="walkflow-user"]');
    return meta ? meta.content : null;
  }

  function text(key, fallback) {
    var node = document.getElementById("walk-text");
    if (node) {
      try { return JSON.parse(node.textContent)[key] || fallback; } catch (e) { /* keep fallback */ }
    }
    return fallback;
  }

  function forgetCachedPages() {
    // The cached logging page carries this user's names and units: the next person on the tablet
    // must not open it offline.
    if (!window.caches) return Promise.resolve();
    return caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) { return k.indexOf("walkflow-walk-") === 0; })
        .map(function (k) { return caches.delete(k); }));
    }).catch(function () {});
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || form.id !== "logout-form" || form.dataset.outboxChecked === "1") return;
    event.preventDefault();
    var proceed = function () {
      form.dataset.outboxChecked = "1";
      forgetCachedPages().then(function () { form.submit(); });
    };
    unsent(currentUser()).then(function (drafts) {
      if (!drafts.length) { proceed(); return; }
      var message = text("logoutWarning",
        "本机还有 {n} 条走流程记录没有提交到服务器。退出后它们仍保存在本机，但要用同一账号重新登录后才能提交。确定退出吗？");
      if (window.confirm(message.replace("{n}", drafts.length))) proceed();
    }, proceed);
  }, true);

  window.WalkflowDB = { open: open, unsent: unsent, isUnsent: isUnsent };
})();
