/* walkflow: the walk-through logging page (and the outbox panel of "my walk-throughs").

   Every change is written to IndexedDB at once, photos included (resized here to at most
   1600 px), so a reload, a closed tab or a flat battery loses nothing. Submitting queues the
   draft in the outbox (walk-store.js), which sends it now or when the network returns. */
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("walk-data").textContent);
  var T = JSON.parse(document.getElementById("walk-text").textContent);
  var Store = window.WalkStore;
  var Outbox = Store.Outbox;
  var form = document.getElementById("walk-form");
  var statusBar = document.getElementById("walk-status");
  var outboxPanel = document.getElementById("walk-outbox");
  var CURRENT_KEY = "walkflow.current." + DATA.user;
  var PHOTO_MAX_SIDE = 1600;

  var draft = null;          // the draft on screen (form pages only)
  var foreground = null;     // uuid of the draft the user just submitted and is waiting for
  var lastSent = null;       // {url} of the latest acknowledged draft, for the status bar
  var saving = false;         // a write to IndexedDB is in flight
  var saveAgain = false;      // and another change came in meanwhile
  var objectUrls = [];

  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // Insecure contexts have no randomUUID; getRandomValues is enough for a unique draft key.
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function localNow() {
    var d = new Date();
    d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
    return d.toISOString().slice(0, 16);
  }

  function today() { return localNow().slice(0, 10); }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text != null) node.textContent = text;
    return node;
  }

  // -------------------------------------------------------------------------------------------
  // Status bar and the list of drafts kept on this device
  // -------------------------------------------------------------------------------------------

  async function renderStatus() {
    var drafts = await Store.listDrafts(DATA.user);
    var waiting = drafts.filter(function (d) { return d.state === "queued" || d.state === "sending"; });
    var sending = waiting.some(function (d) { return d.state === "sending"; });
    var parts = [], state = "saved";
    if (draft) parts.push(T.savedLocally);
    if (waiting.length) {
      state = sending ? "sending" : "waiting";
      parts.push(sending ? T.sending : T.waitingNetwork.replace("{n}", waiting.length));
    }
    statusBar.textContent = "";
    if (lastSent && !waiting.length) {
      state = "sent";
      parts.unshift(T.submitted);
    }
    // A write started while the list was being read: "saved" would be premature.
    if (state === "saved" && (saving || saveAgain)) state = "saving";
    statusBar.dataset.state = state;
    statusBar.appendChild(document.createTextNode(parts.join(" · ")));
    if (lastSent && !waiting.length && lastSent.url) {
      statusBar.appendChild(document.createTextNode(" "));
      statusBar.appendChild(el("a", { href: lastSent.url }, T.viewRecord));
    }
    renderOutbox(drafts);
  }

  function renderOutbox(drafts) {
    if (!outboxPanel) return;
    var list = outboxPanel.querySelector(".outbox-list");
    list.textContent = "";
    var others = drafts.filter(function (d) {
      return (!draft || d.uuid !== draft.uuid) && Store.isUnsent(d);
    });
    outboxPanel.hidden = !others.length;
    others.forEach(function (d) {
      var li = el("li", { "class": "outbox-item state-" + d.state, "data-uuid": d.uuid });
      var title = (d.fields && d.fields.service_item_label) || T.untitled;
      var when = d.fields && d.fields.started_at ? d.fields.started_at.replace("T", " ") : "";
      li.appendChild(el("span", { "class": "outbox-title" }, title + (when ? "（" + when + "）" : "")));
      li.appendChild(el("span", { "class": "outbox-state" }, T["state_" + d.state] || d.state));
      if (d.message) li.appendChild(el("span", { "class": "outbox-message" }, d.message));
      if (d.state === "queued") {
        var retry = el("button", { type: "button", "class": "outbox-retry" }, T.retryNow);
        retry.addEventListener("click", function () { Outbox.flush(true); });
        li.appendChild(retry);
      } else if (d.state !== "sending") {
        var open = el("button", { type: "button", "class": "outbox-open" }, T.openDraft);
        open.addEventListener("click", function () { openDraft(d.uuid); });
        li.appendChild(open);
      }
      list.appendChild(li);
    });
  }

  async function openDraft(uuid) {
    if (!form) { window.location.href = DATA.newUrl + "?draft=" + encodeURIComponent(uuid); return; }
    var chosen = await Store.getDraft(uuid);
    if (!chosen) return;
    if (draft && draft.uuid !== uuid && !draft.dirty) await Store.deleteDraft(draft.uuid);
    var errors = chosen.errors || {};
    var message = chosen.message;
    if (chosen.state !== "conflict") chosen.state = "draft";
    await Store.putDraft(chosen);
    await show(chosen);
    showErrors(errors, message);
    window.scrollTo(0, 0);
  }

  Outbox.on(async function (sent, outcome) {
    if (outcome.kind === "sent") {
      lastSent = { url: outcome.url };
      if (sent.uuid === foreground && outcome.url) {
        window.location.href = outcome.url + "?submitted=1";
        return;
      }
    }
    var reveal = false;
    if (sent.uuid === foreground && (outcome.kind === "offline" || outcome.kind === "login")) {
      // Queued for later: clear the form for the next walk-through; the outbox list shows this one,
      // brought into view with a calm note: nothing went wrong, the record waits for the network.
      foreground = null;
      if (form) await newDraft();
      setNotice(outcome.kind === "login" ? T.loginNeeded : T.queuedOffline, outcome.kind);
      reveal = true;
    }
    if (sent.uuid === foreground && (outcome.kind === "rejected" || outcome.kind === "conflict")) {
      foreground = null;
      openDraft(sent.uuid);
    }
    if (outcome.kind === "login" && !form) setFormError(T.loginNeeded);
    await renderStatus();
    if (reveal && outboxPanel && !outboxPanel.hidden) outboxPanel.scrollIntoView({ block: "start" });
  });

  function setNotice(message, kind) {
    var node = document.getElementById("walk-notice");
    if (!node) return;
    node.textContent = message || "";
    node.dataset.kind = kind || "";
    node.hidden = !message;
  }

  function setFormError(message) {
    var node = document.getElementById("form-error");
    if (!node) return;
    node.textContent = message || "";
    node.hidden = !message;
  }

  if (!form) {
    Outbox.start({ user: DATA.user, submitUrl: DATA.submitUrl });
    renderStatus();
    return;
  }

  // -------------------------------------------------------------------------------------------
  // The form <-> the draft
  // -------------------------------------------------------------------------------------------

  var problemsBox = document.getElementById("problems");
  var template = document.getElementById("problem-template");
  var ownerOptions = Array.prototype.map.call(
    template.content.querySelectorAll('select[data-field="owner"] option[value]:not([value=""])'),
    function (o) { return { value: o.value, label: o.textContent, path: o.dataset.path }; });
  var unitPaths = {};
  Array.prototype.forEach.call(document.querySelectorAll("#f-unit option"), function (o) {
    unitPaths[o.value] = o.dataset.path;
  });

  function blankDraft() {
    return {
      uuid: uuid4(), user: String(DATA.user), state: "draft", dirty: false, createdAt: Date.now(),
      fields: {
        campaign: form.elements.campaign.value, unit: String(DATA.unit || ""), leader_rank: "top",
        started_at: localNow(), companion_count: "0", deputy_count: "0"
      },
      problems: []
    };
  }

  async function newDraft() {
    var fresh = blankDraft();
    await Store.putDraft(fresh);
    await show(fresh);
  }

  function walkFields() {
    var fields = {};
    Array.prototype.forEach.call(form.querySelectorAll("[name]"), function (input) {
      if (input.closest(".problem")) return;
      if (input.type === "radio") {
        if (input.checked) fields[input.name] = input.value;
        else if (!(input.name in fields)) fields[input.name] = "";
      } else {
        fields[input.name] = input.value;
      }
    });
    return fields;
  }

  function problemFields(box) {
    var p = { key: box.dataset.key, photos: (box._photos || []).slice() };
    Array.prototype.forEach.call(box.querySelectorAll("[data-field]"), function (input) {
      var name = input.dataset.field;
      if (name === "photo-input") return;
      if (input.type === "radio") {
        if (input.checked) p[name] = input.value;
        else if (!(name in p)) p[name] = "";
      } else {
        p[name] = input.value;
      }
    });
    return p;
  }

  function collect() {
    draft.fields = walkFields();
    draft.problems = Array.prototype.map.call(problemsBox.querySelectorAll(".problem"), problemFields);
  }

  function scheduleSave() {
    if (!draft) return;
    draft.dirty = true;
    statusBar.dataset.state = "saving";
    save();
  }

  /* Every change is written at once; changes arriving during a write are coalesced into one more. */
  async function save() {
    if (saving) { saveAgain = true; return; }
    // Once queued the outbox owns the draft: a late keystroke must not bring a sent one back.
    if (!draft || (draft.state !== "draft" && draft.state !== "conflict")) return;
    saving = true;
    try {
      collect();
      await Store.putDraft(draft);
    } finally {
      saving = false;
    }
    if (saveAgain) {
      saveAgain = false;
      return save();
    }
    await renderStatus();
  }

  function setValue(input, value) {
    if (input.type === "radio") input.checked = input.value === value;
    else if (value != null) input.value = value;
  }

  async function show(chosen) {
    draft = chosen;
    localStorage.setItem(CURRENT_KEY, draft.uuid);
    objectUrls.forEach(URL.revokeObjectURL);
    objectUrls = [];
    form.reset();
    clearErrors();
    setFormError("");
    var f = draft.fields || {};
    Array.prototype.forEach.call(form.querySelectorAll("[name]"), function (input) {
      if (input.closest(".problem")) return;
      // form.reset() leaves hidden inputs alone: clear them, or one draft's item leaks into the next.
      if (input.type === "hidden") input.value = f[input.name] || "";
      else if (input.name in f) setValue(input, f[input.name]);
    });
    showServiceItem();
    problemsBox.textContent = "";
    for (var i = 0; i < (draft.problems || []).length; i++) await addProblem(draft.problems[i]);
    renumber();
    await renderStatus();
    var conflict = draft.state === "conflict";
    document.getElementById("walk-submit").textContent = conflict ? T.saveAsNew : T.submit;
  }

  // -------------------------------------------------------------------------------------------
  // Service item type-ahead: the campaign's must-walk items, the server's matches, or a new name
  // -------------------------------------------------------------------------------------------

  var search = document.getElementById("f-service-search");
  var results = document.getElementById("service-results");
  var chosenBox = document.getElementById("service-chosen");
  var searchTimer = null;
  var seen = {};  // items the server returned this session, for offline look-ups

  function mustWalk() {
    return DATA.mustWalk[form.elements.campaign.value] || [];
  }

  function showServiceItem() {
    var f = form.elements;
    var label = f.service_item_label.value;
    var chosen = !!(f.service_item.value || f.new_service_item_name.value);
    chosenBox.hidden = !chosen;
    search.hidden = chosen;
    results.textContent = "";
    if (chosen) {
      var name = chosenBox.querySelector(".service-chosen-name");
      name.textContent = label || f.new_service_item_name.value;
      if (!f.service_item.value) name.textContent += "（" + T.newItem + "）";
    }
  }

  function chooseItem(item) {
    var f = form.elements;
    f.service_item.value = item.id ? String(item.id) : "";
    f.new_service_item_name.value = item.id ? "" : item.name;
    f.service_item_label.value = item.name + (item.must ? "（" + T.mustWalk + "）" : "");
    search.value = "";
    showServiceItem();
    clearError(form.querySelector('.field[data-name="service_item"]'));
    scheduleSave();
  }

  function renderResults(items, query) {
    results.textContent = "";
    var exact = false;
    items.forEach(function (item) {
      if (item.name === query) exact = true;
      var li = el("li", { role: "option" });
      var button = el("button", { type: "button", "class": "service-option" });
      button.appendChild(el("span", {}, item.name));
      if (item.must) button.appendChild(el("span", { "class": "mark mark-must" }, T.mustWalk));
      button.appendChild(el("span", { "class": "muted small" }, item.unit));
      button.addEventListener("click", function () { chooseItem(item); });
      li.appendChild(button);
      results.appendChild(li);
    });
    if (query && !exact) {
      var li = el("li", { role: "option" });
      var add = el("button", { type: "button", "class": "service-option service-add" },
        T.addItem.replace("{name}", query));
      add.addEventListener("click", function () { chooseItem({ id: null, name: query, must: false }); });
      li.appendChild(add);
      results.appendChild(li);
    }
  }

  function localMatches(query) {
    var pool = mustWalk().concat(Object.keys(seen).map(function (k) { return seen[k]; }));
    var byId = {};
    return pool.filter(function (item) {
      if (byId[item.id] || (query && item.name.indexOf(query) < 0)) return false;
      byId[item.id] = true;
      return true;
    }).slice(0, 20);
  }

  async function lookUp() {
    var query = search.value.trim();
    var url = DATA.typeaheadUrl + "?q=" + encodeURIComponent(query) +
      "&campaign=" + encodeURIComponent(form.elements.campaign.value);
    renderResults(localMatches(query), query);
    try {
      var response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) return;
      var items = (await response.json()).items;
      items.forEach(function (item) { seen[item.id] = item; });
      if (search.value.trim() === query) renderResults(items, query);
    } catch (e) { /* offline: the local matches stay */ }
  }

  search.addEventListener("input", function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(lookUp, 200);
  });
  search.addEventListener("focus", function () { if (!results.children.length) lookUp(); });
  chosenBox.querySelector(".service-clear").addEventListener("click", function () {
    var f = form.elements;
    f.service_item.value = f.new_service_item_name.value = f.service_item_label.value = "";
    showServiceItem();
    scheduleSave();
    search.focus();
  });

  // -------------------------------------------------------------------------------------------
  // Problems
  // -------------------------------------------------------------------------------------------

  function renumber() {
    var boxes = problemsBox.querySelectorAll(".problem");
    Array.prototype.forEach.call(boxes, function (box, i) {
      box.querySelector(".problem-no").textContent = String(i + 1);
    });
    document.getElementById("no-problems").hidden = boxes.length > 0;
  }

  function fillSubcategories(box, value) {
    var select = box.querySelector('[data-field="subcategory"]');
    var category = (box.querySelector('[data-field="category"]:checked') || {}).value;
    var keep = value != null ? value : select.value;
    while (select.options.length > 1) select.remove(1);
    DATA.subcategories.forEach(function (s) {
      if (s.category === category) select.appendChild(el("option", { value: String(s.id) }, s.name));
    });
    select.value = keep;
    if (select.value !== keep) select.value = "";
    select.closest(".field").hidden = select.options.length <= 1;
  }

  function fillOwners(box, value) {
    var select = box.querySelector('[data-field="owner"]');
    var lead = box.querySelector('[data-field="lead_unit"]').value;
    var path = unitPaths[lead] || "";
    var keep = value != null ? value : select.value;
    var matching = ownerOptions.filter(function (o) { return path && o.path.indexOf(path) === 0; });
    if (!matching.length) matching = ownerOptions;
    while (select.options.length > 1) select.remove(1);
    matching.forEach(function (o) { select.appendChild(el("option", { value: o.value }, o.label)); });
    select.value = keep;
    if (select.value !== keep) select.value = "";
  }

  function toggleSections(box) {
    var resolution = (box.querySelector('[data-field="resolution"]:checked') || {}).value;
    box.querySelector(".when-on_spot").hidden = resolution !== "on_spot";
    box.querySelector(".when-ledger").hidden = resolution !== "ledger";
    var mode = (box.querySelector('[data-field="deadline_mode"]:checked') || {}).value || "days";
    box.querySelector(".deadline-days").hidden = mode !== "days";
    box.querySelector(".deadline-date").hidden = mode !== "date";
  }

  async function addProblem(saved) {
    var box = template.content.firstElementChild.cloneNode(true);
    var key = (saved && saved.key) || uuid4().slice(0, 8);
    box.dataset.key = key;
    box._photos = [];
    Array.prototype.forEach.call(box.querySelectorAll('input[type="radio"]'), function (radio) {
      radio.name = radio.dataset.field + "-" + key;
    });
    box.querySelector('[data-field="deadline"]').min = today();
    problemsBox.appendChild(box);
    if (saved) {
      Array.prototype.forEach.call(box.querySelectorAll("[data-field]"), function (input) {
        var name = input.dataset.field;
        if (name !== "photo-input" && name in saved) setValue(input, saved[name]);
      });
    }
    fillSubcategories(box, saved ? saved.subcategory || "" : "");
    fillOwners(box, saved ? saved.owner || "" : "");
    toggleSections(box);
    if (saved && saved.photos && saved.photos.length) {
      var photos = await Store.getPhotos(saved.photos);
      saved.photos.forEach(function (id) { if (photos[id]) addThumb(box, photos[id]); });
    }
    return box;
  }

  function addThumb(box, photo) {
    box._photos.push(photo.id);
    var url = URL.createObjectURL(photo.blob);
    objectUrls.push(url);
    var li = el("li", { "class": "photo", "data-id": photo.id });
    li.appendChild(el("img", { src: url, alt: photo.name || "" }));
    var remove = el("button", { type: "button", "class": "photo-remove", "aria-label": T.removePhoto }, "×");
    remove.addEventListener("click", async function () {
      box._photos = box._photos.filter(function (id) { return id !== photo.id; });
      li.remove();
      await save();
      await Store.deletePhoto(photo.id);
    });
    li.appendChild(remove);
    box.querySelector(".photos").appendChild(li);
  }

  /* A JPEG of at most 1600 px on the long side; rejects what the browser cannot decode. */
  async function resize(file) {
    var source;
    try {
      source = await createImageBitmap(file, { imageOrientation: "from-image" });
    } catch (e) {
      source = await new Promise(function (resolve, reject) {
        var img = new Image();
        var url = URL.createObjectURL(file);
        img.onload = function () { URL.revokeObjectURL(url); resolve(img); };
        img.onerror = function () { URL.revokeObjectURL(url); reject(new Error("not an image")); };
        img.src = url;
      });
    }
    var w = source.width, h = source.height;
    if (!w || !h) throw new Error("not an image");
    var scale = Math.min(1, PHOTO_MAX_SIDE / Math.max(w, h));
    var canvas = document.createElement("canvas");
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    var ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
    if (source.close) source.close();
    return new Promise(function (resolve, reject) {
      canvas.toBlob(function (blob) { blob ? resolve(blob) : reject(new Error("encode failed")); }, "image/jpeg", 0.85);
    });
  }

  async function takePhotos(box, input) {
    var field = box.querySelector('.field[data-name="photos"]');
    clearError(field);
    var files = Array.prototype.slice.call(input.files || []);
    input.value = "";
    for (var i = 0; i < files.length; i++) {
      var file = files[i];
      if (box._photos.length >= 9) { showError(field, T.tooManyPhotos); break; }
      var blob;
      try {
        blob = await resize(file);
      } catch (e) {
        showError(field, T.notImage.replace("{name}", file.name));
        continue;
      }
      if (blob.size > DATA.maxBytes) { showError(field, T.tooBig.replace("{name}", file.name)); continue; }
      var name = (file.name || "photo").replace(/\.[^.]*$/, "") + ".jpg";
      var photo = { id: uuid4(), draft: draft.uuid, blob: blob, name: name, type: "image/jpeg" };
      await Store.putPhoto(photo);
      addThumb(box, photo);
      draft.dirty = true;
      await save();
    }
  }

  problemsBox.addEventListener("change", function (event) {
    var box = event.target.closest(".problem");
    if (!box) return;
    var name = event.target.dataset.field;
    if (name === "photo-input") { takePhotos(box, event.target); return; }
    if (name === "category") fillSubcategories(box);
    if (name === "lead_unit") fillOwners(box);
    if (name === "resolution" || name === "deadline_mode") toggleSections(box);
    clearError(event.target.closest(".field"));
  });

  problemsBox.addEventListener("click", function (event) {
    var button = event.target.closest(".remove-problem");
    if (!button) return;
    var box = button.closest(".problem");
    var filled = box.querySelector("textarea").value.trim() || box._photos.length;
    if (filled && !window.confirm(T.confirmRemoveProblem)) return;
    var photos = box._photos.slice();
    box.remove();
    renumber();
    save().then(function () { photos.forEach(Store.deletePhoto); });
  });

  document.getElementById("add-problem").addEventListener("click", async function () {
    var box = await addProblem(null);
    renumber();
    scheduleSave();
    box.scrollIntoView({ behavior: "smooth", block: "start" });
    var first = box.querySelector('[data-field="category"]');
    if (first) first.focus({ preventScroll: true });
  });

  Array.prototype.forEach.call(document.querySelectorAll(".set-now"), function (button) {
    button.addEventListener("click", function () {
      document.getElementById(button.dataset.target).value = localNow();
      scheduleSave();
    });
  });

  form.addEventListener("input", function (event) {
    if (event.target === search || event.target.type === "file") return;
    clearError(event.target.closest(".field"));
    scheduleSave();
  });
  form.addEventListener("change", function (event) {
    if (event.target === search || event.target.type === "file") return;
    if (event.target.name === "campaign") results.textContent = "";
    scheduleSave();
  });
  // A tablet put to sleep or a tab closed mid-typing: write what is there now.
  window.addEventListener("pagehide", function () { save(); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") save();
  });

  // -------------------------------------------------------------------------------------------
  // Checking and submitting
  // -------------------------------------------------------------------------------------------

  function fieldOf(path) {
    var parts = path.split(".");
    if (parts[0] === "problems" && parts.length === 3) {
      var box = problemsBox.querySelectorAll(".problem")[Number(parts[1])];
      return box ? box.querySelector('.field[data-name="' + parts[2] + '"]') : null;
    }
    if (parts[0] === "problems" && parts.length === 2) {
      var whole = problemsBox.querySelectorAll(".problem")[Number(parts[1])];
      return whole ? whole.querySelector(".field") : null;
    }
    return form.querySelector('.field[data-name="' + parts[0] + '"]');
  }

  function showError(field, message) {
    if (!field) return;
    var node = field.querySelector(".field-error");
    node.textContent = message;
    node.hidden = false;
    field.classList.add("has-error");
  }

  function clearError(field) {
    if (!field || !field.classList.contains("has-error")) return;
    var node = field.querySelector(".field-error");
    node.textContent = "";
    node.hidden = true;
    field.classList.remove("has-error");
  }

  function clearErrors() {
    Array.prototype.forEach.call(form.querySelectorAll(".field.has-error"), clearError);
  }

  function showErrors(errors, message) {
    clearErrors();
    var first = null, unplaced = [];
    Object.keys(errors || {}).forEach(function (path) {
      var field = fieldOf(path);
      if (field) { showError(field, errors[path]); first = first || field; }
      else unplaced.push(errors[path]);
    });
    var summary = [message].concat(unplaced).filter(Boolean).join(" ");
    setFormError(summary);
    if (first) first.scrollIntoView({ behavior: "smooth", block: "center" });
    return !!first || !!summary;
  }

  function check() {
    var errors = {}, f = draft.fields;
    if (!f.campaign) errors.campaign = T.required_campaign;
    if (!f.service_item && !f.new_service_item_name) errors.service_item = T.required_service_item;
    if (!f.identity) errors.identity = T.required_identity;
    if (!f.way) errors.way = T.required_way;
    if (!f.started_at) errors.started_at = T.required_started_at;
    if (f.started_at && f.ended_at && f.ended_at < f.started_at) errors.ended_at = T.endBeforeStart;
    if (Number(f.deputy_count || 0) > Number(f.companion_count || 0)) errors.deputy_count = T.tooManyDeputies;
    draft.problems.forEach(function (p, i) {
      var at = "problems." + i + ".";
      if (!p.category) errors[at + "category"] = T.required_category;
      if (!p.description.trim()) errors[at + "description"] = T.required_description;
      if (!p.resolution) errors[at + "resolution"] = T.required_resolution;
      if (p.resolution === "on_spot" && !p.on_spot_action.trim()) errors[at + "on_spot_action"] = T.required_on_spot_action;
      if (p.resolution === "ledger") {
        if (!p.lead_unit) errors[at + "lead_unit"] = T.required_lead_unit;
        if (!p.owner) errors[at + "owner"] = T.required_owner;
        if (!p.measure.trim()) errors[at + "measure"] = T.required_measure;
        if (p.deadline_mode === "date") {
          if (!p.deadline) errors[at + "deadline"] = T.required_deadline;
          else if (p.deadline < today()) errors[at + "deadline"] = T.deadlinePast;
        } else if (!/^\d+$/.test(p.deadline_days || "") || Number(p.deadline_days) < 1 || Number(p.deadline_days) > 365) {
          errors[at + "deadline"] = T.badWorkingDays;
        }
      }
    });
    return errors;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    var button = document.getElementById("walk-submit");
    if (button.disabled) return;
    button.disabled = true;
    try {
      collect();
      if (draft.state === "conflict") {
        // The server keeps other content under the old UUID; this content becomes a new record.
        await Store.renameDraft(draft, uuid4());
        localStorage.setItem(CURRENT_KEY, draft.uuid);
        draft.state = "draft";
        button.textContent = T.submit;
      }
      var errors = check();
      if (Object.keys(errors).length) {
        draft.dirty = true;
        await Store.putDraft(draft);
        showErrors(errors, T.fixMarked);
        await renderStatus();
        return;
      }
      clearErrors();
      setFormError("");
      setNotice("");
      foreground = draft.uuid;
      draft.dirty = true;
      await Outbox.queue(draft);
    } finally {
      button.disabled = false;
    }
  });

  // -------------------------------------------------------------------------------------------
  // Start: the service worker, the draft on this device, the outbox
  // -------------------------------------------------------------------------------------------

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(DATA.swUrl, { scope: DATA.swScope }).catch(function (e) {
      console.warn("service worker not registered", e);
    });
  }
  if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(function () {});

  // Keep the session alive while the leader is actually typing (the server ends idle sessions
  // after 30 minutes); with no input for 30 minutes the page stops asking and the session lapses.
  var lastInput = Date.now();
  ["input", "change", "click"].forEach(function (type) {
    document.addEventListener(type, function () { lastInput = Date.now(); }, true);
  });
  if (DATA.keepaliveUrl) {
    setInterval(function () {
      if (!navigator.onLine || Date.now() - lastInput > 30 * 60 * 1000) return;
      var token = (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || "";
      fetch(DATA.keepaliveUrl, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": token } })
        .catch(function () {});
    }, 5 * 60 * 1000);
  }

  (async function start() {
    try {
      var wanted = new URLSearchParams(window.location.search).get("draft") || localStorage.getItem(CURRENT_KEY);
      var saved = wanted ? await Store.getDraft(wanted) : null;
      if (saved && saved.user === String(DATA.user) && ["draft", "rejected", "conflict"].indexOf(saved.state) >= 0) {
        var errors = saved.errors, message = saved.message;
        if (saved.state === "rejected") saved.state = "draft";
        await show(saved);
        if (errors && Object.keys(errors).length || message) showErrors(errors, message);
      } else {
        await newDraft();
      }
      // Blank drafts left behind by earlier visits are worth nothing: drop them.
      (await Store.listDrafts(DATA.user)).forEach(function (d) {
        if (d.uuid !== draft.uuid && d.state === "draft" && !d.dirty) Store.deleteDraft(d.uuid);
      });
      Outbox.start({ user: DATA.user, submitUrl: DATA.submitUrl });
    } catch (e) {
      console.error(e);
      statusBar.dataset.state = "error";
      statusBar.textContent = T.storageUnavailable;
    }
  })();
})();
