/* walkflow: drafts and photos in IndexedDB, and the outbox that sends queued drafts to the server.

   A draft keeps its client UUID from the first keystroke to the server's acknowledgement, so a
   retry after a lost answer gets "200, same record" instead of a duplicate. States:
     draft     being edited on this device
     queued    waiting to be sent (offline, or retrying with backoff)
     sending   a request is in flight
     rejected  the server refused it (400/403): open it, fix the marked fields, submit again
     conflict  the server holds different content under this UUID (409): save as a new record
   A draft is deleted as soon as the server answers 201 or 200. */
(function () {
  "use strict";

  var MAX_BACKOFF_MS = 5 * 60 * 1000;
  var FIRST_BACKOFF_MS = 2000;

  function withStores(names, mode, body) {
    return WalkflowDB.open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(names, mode);
        var result;
        body(tx, function (value) { result = value; });
        tx.oncomplete = function () { resolve(result); };
        tx.onerror = tx.onabort = function () { reject(tx.error); };
      });
    });
  }

  function getDraft(uuid) {
    return withStores("drafts", "readonly", function (tx, done) {
      var r = tx.objectStore("drafts").get(uuid);
      r.onsuccess = function () { done(r.result || null); };
    });
  }

  function putDraft(draft) {
    draft.updatedAt = Date.now();
    return withStores("drafts", "readwrite", function (tx) { tx.objectStore("drafts").put(draft); });
  }

  function listDrafts(user) {
    return withStores("drafts", "readonly", function (tx, done) {
      var r = tx.objectStore("drafts").index("user").getAll(String(user));
      r.onsuccess = function () {
        done(r.result.sort(function (a, b) { return (a.createdAt || 0) - (b.createdAt || 0); }));
      };
    });
  }

  /* Removes the draft and every photo stored for it, in one transaction. */
  function deleteDraft(uuid) {
    return withStores(["drafts", "photos"], "readwrite", function (tx) {
      tx.objectStore("drafts").delete(uuid);
      var photos = tx.objectStore("photos");
      var r = photos.index("draft").getAllKeys(uuid);
      r.onsuccess = function () { r.result.forEach(function (key) { photos.delete(key); }); };
    });
  }

  /* Gives a draft a new UUID (after a 409), carrying its photos over. */
  function renameDraft(draft, newUuid) {
    var oldUuid = draft.uuid;
    return withStores(["drafts", "photos"], "readwrite", function (tx) {
      var drafts = tx.objectStore("drafts");
      var photos = tx.objectStore("photos");
      drafts.delete(oldUuid);
      draft.uuid = newUuid;
      draft.updatedAt = Date.now();
      drafts.put(draft);
      var r = photos.index("draft").getAll(oldUuid);
      r.onsuccess = function () {
        r.result.forEach(function (photo) { photo.draft = newUuid; photos.put(photo); });
      };
    });
  }

  function putPhoto(photo) {
    return withStores("photos", "readwrite", function (tx) { tx.objectStore("photos").put(photo); });
  }

  function getPhotos(ids) {
    return withStores("photos", "readonly", function (tx, done) {
      var store = tx.objectStore("photos");
      var found = {};
      ids.forEach(function (id) {
        var r = store.get(id);
        r.onsuccess = function () { if (r.result) found[id] = r.result; };
      });
      done(found);
    });
  }

  function deletePhoto(id) {
    return withStores("photos", "readwrite", function (tx) { tx.objectStore("photos").delete(id); });
  }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var input = document.querySelector('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  /* The request body: the payload JSON plus the photos, named as the payload lists them. */
  async function buildBody(draft) {
    var f = draft.fields || {};
    var ids = [];
    (draft.problems || []).forEach(function (p) { ids = ids.concat(p.photos || []); });
    var photos = await getPhotos(ids);
    var body = new FormData();
    var payload = {
      client_uuid: draft.uuid,
      campaign: f.campaign || "", unit: f.unit || "",
      service_item: f.service_item || "",
      new_service_item_name: f.service_item ? "" : (f.new_service_item_name || ""),
      leader_rank: f.leader_rank || "", identity: f.identity || "", way: f.way || "",
      place: f.place || "", started_at: f.started_at || "", ended_at: f.ended_at || "",
      companions: f.companions || "", companion_count: f.companion_count || "",
      deputy_count: f.deputy_count || "", notes: f.notes || "",
      problems: (draft.problems || []).map(function (p, i) {
        var names = [];
        (p.photos || []).forEach(function (id, j) {
          var photo = photos[id];
          if (!photo) return;
          var name = "photo-" + i + "-" + j;
          names.push(name);
          body.append(name, photo.blob, photo.name || "photo.jpg");
        });
        return {
          category: p.category || "", subcategory: p.subcategory || "", description: p.description || "",
          photos: names, resolution: p.resolution || "", on_spot_action: p.on_spot_action || "",
          lead_unit: p.lead_unit || "", owner: p.owner || "", measure: p.measure || "",
          deadline_mode: p.deadline_mode || "date", deadline: p.deadline || "", deadline_days: p.deadline_days || ""
        };
      })
    };
    body.append("payload", JSON.stringify(payload));
    return body;
  }

  function backoff(attempts) {
    var base = Math.min(FIRST_BACKOFF_MS * Math.pow(2, Math.max(0, attempts - 1)), MAX_BACKOFF_MS);
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  var Outbox = {
    user: null, url: null, listeners: [], running: false, again: false, timer: null,

    start: function (options) {
      this.user = String(options.user);
      this.url = options.submitUrl;
      var self = this;
      // Coming back online is the moment to try again at once, whatever the backoff said.
      window.addEventListener("online", function () { self.flush(true); });
      document.addEventListener("visibilitychange", function () {
        if (document.visibilityState === "visible") self.flush(false);
      });
      this.flush(false);
    },

    on: function (listener) { this.listeners.push(listener); },

    emit: function (draft, outcome) {
      this.listeners.forEach(function (listener) {
        try { listener(draft, outcome); } catch (e) { console.error(e); }
      });
    },

    queue: async function (draft) {
      draft.state = "queued";
      draft.attempts = 0;
      draft.nextAttemptAt = 0;
      draft.errors = {};
      draft.message = "";
      await putDraft(draft);
      this.emit(draft, { kind: "queued" });
      return this.flush(true);
    },

    flush: async function (force) {
      if (!this.user) return;
      if (this.running) { this.again = this.again || (force ? "force" : "normal"); return; }
      this.running = true;
      try {
        var drafts = await listDrafts(this.user);
        for (var i = 0; i < drafts.length; i++) {
          var draft = drafts[i];
          // "sending" left over from a page closed mid-request: the server may or may not have it,
          // and the same UUID makes sending it again safe.
          if (draft.state !== "queued" && draft.state !== "sending") continue;
          if (!force && draft.nextAttemptAt && draft.nextAttemptAt > Date.now()) continue;
          await this.send(draft);
        }
      } catch (e) {
        console.error(e);
      } finally {
        this.running = false;
        var again = this.again;
        this.again = false;
        if (again) this.flush(again === "force");
        else this.schedule();
      }
    },

    schedule: async function () {
      clearTimeout(this.timer);
      var drafts = await listDrafts(this.user);
      var next = null;
      drafts.forEach(function (d) {
        if (d.state === "queued" && (next === null || d.nextAttemptAt < next)) next = d.nextAttemptAt || 0;
      });
      if (next === null) return;
      var self = this;
      this.timer = setTimeout(function () { self.flush(false); }, Math.max(0, next - Date.now()) + 50);
    },

    send: async function (draft) {
      draft.state = "sending";
      await putDraft(draft);
      this.emit(draft, { kind: "sending" });
      var response, data = {};
      try {
        var body = await buildBody(draft);
        response = await fetch(this.url, {
          method: "POST", body: body, credentials: "same-origin",
          headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" }
        });
        var type = response.headers.get("Content-Type") || "";
        if (type.indexOf("application/json") === 0) data = await response.json();
      } catch (e) {
        return this.retryLater(draft, { kind: "offline" });
      }
      var status = response.status;
      if (response.redirected || ((status === 201 || status === 200) && !data.id)) {
        // Not our JSON answer (a login page after a redirect): the server does not have it yet.
        return this.retryLater(draft, { kind: "login" });
      }
      if (status === 201 || status === 200) {
        await deleteDraft(draft.uuid);
        draft.state = "sent";
        this.emit(draft, { kind: "sent", status: status, url: data.url, id: data.id });
        return;
      }
      if (status === 409) {
        draft.state = "conflict";
        draft.message = data.message || "";
        await putDraft(draft);
        this.emit(draft, { kind: "conflict", message: draft.message });
        return;
      }
      if (status === 401 || (status === 403 && !data.message)) {
        // Session expired, or the CSRF cookie went with it: keep it queued until the user logs in.
        return this.retryLater(draft, { kind: "login" });
      }
      if (status === 400 || status === 403) {
        draft.state = "rejected";
        draft.errors = data.errors || {};
        draft.message = data.message || "";
        await putDraft(draft);
        this.emit(draft, { kind: "rejected", errors: draft.errors, message: draft.message });
        return;
      }
      return this.retryLater(draft, { kind: "offline", status: status });
    },

    retryLater: async function (draft, outcome) {
      draft.state = "queued";
      draft.attempts = (draft.attempts || 0) + 1;
      draft.nextAttemptAt = Date.now() + backoff(draft.attempts);
      await putDraft(draft);
      this.emit(draft, outcome);
    }
  };

  window.WalkStore = {
    getDraft: getDraft, putDraft: putDraft, listDrafts: listDrafts, deleteDraft: deleteDraft,
    renameDraft: renameDraft, putPhoto: putPhoto, getPhotos: getPhotos, deletePhoto: deletePhoto,
    isUnsent: WalkflowDB.isUnsent, Outbox: Outbox
  };
})();
