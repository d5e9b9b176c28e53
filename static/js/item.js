// The item page: previews of the evidence chosen for a closure request (a thumbnail for an image,
// name and size for other files), each removable before sending. Without this script the plain
// file input still works.
(function () {
  "use strict";
  function size(bytes) {
    if (bytes >= 1048576) { return (bytes / 1048576).toFixed(1) + " MB"; }
    return Math.max(1, Math.round(bytes / 1024)) + " KB";
  }
  document.querySelectorAll("ul.file-previews").forEach(function (list) {
    var input = document.getElementById(list.dataset.input);
    if (!input || typeof DataTransfer === "undefined") { return; }
    var chosen = [];
    var urls = [];
    function sync() {
      var transfer = new DataTransfer();
      chosen.forEach(function (file) { transfer.items.add(file); });
      input.files = transfer.files;
    }
    function render() {
      urls.forEach(function (url) { URL.revokeObjectURL(url); });
      urls = [];
      list.textContent = "";
      chosen.forEach(function (file, index) {
        var item = document.createElement("li");
        item.className = "file-preview";
        if (file.type.indexOf("image/") === 0) {
          var img = document.createElement("img");
          var url = URL.createObjectURL(file);
          urls.push(url);
          img.src = url;
          img.alt = file.name;
          item.appendChild(img);
        } else {
          var icon = document.createElement("span");
          icon.className = "file-icon";
          icon.textContent = (file.name.split(".").pop() || "").toUpperCase().slice(0, 4);
          item.appendChild(icon);
        }
        var name = document.createElement("span");
        name.className = "file-name";
        name.textContent = file.name + "（" + size(file.size) + "）";
        item.appendChild(name);
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "file-remove";
        remove.textContent = list.dataset.remove;
        remove.setAttribute("aria-label", list.dataset.remove + " " + file.name);
        remove.addEventListener("click", function () {
          chosen.splice(index, 1);
          sync();
          render();
        });
        item.appendChild(remove);
        list.appendChild(item);
      });
    }
    input.addEventListener("change", function () {
      // A second choice adds to the first instead of replacing it.
      Array.prototype.forEach.call(input.files, function (file) {
        var known = chosen.some(function (c) { return c.name === file.name && c.size === file.size; });
        if (!known) { chosen.push(file); }
      });
      sync();
      render();
    });
  });
})();
