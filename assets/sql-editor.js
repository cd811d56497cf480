// The SQL page's editor: the textarea #sql-text becomes CodeMirror 5 (served from
// assets/vendor-codemirror, loaded only when the page is open: Dash's assets_ignore
// keeps it out of every other page), with SQL highlighting, completion of the
// workspace's tables and columns, and Ctrl+Enter to run.
(function () {
  var BASE = "/assets/vendor-codemirror/";
  var loading = null;
  var editor = null;

  function load() {
    if (loading) return loading;
    loading = new Promise(function (resolve, reject) {
      ["codemirror.css", "show-hint.css"].forEach(function (file) {
        var link = document.createElement("link");
        link.rel = "stylesheet";
        link.href = BASE + file;
        document.head.appendChild(link);
      });
      var scripts = ["codemirror.js", "sql.js", "show-hint.js", "sql-hint.js"];
      (function next(i) {
        if (i === scripts.length) { resolve(); return; }
        var script = document.createElement("script");
        script.src = BASE + scripts[i];
        script.onload = function () { next(i + 1); };
        script.onerror = reject;
        document.head.appendChild(script);
      })(0);
    });
    return loading;
  }

  function upgrade(area) {
    if (area.dataset.upgraded) return;
    area.dataset.upgraded = "1";
    load().then(function () {
      var holder = document.getElementById("sql-tables-data");
      var tables = {};
      try { tables = JSON.parse((holder && holder.getAttribute("data-tables")) || "{}"); } catch (e) { tables = {}; }
      var sync = function () {
        window.dash_clientside.set_props("sql-text", {value: editor.getValue()});
      };
      var run = function () {
        sync();
        var button = document.getElementById("sql-run");
        if (button) button.click();
      };
      editor = CodeMirror.fromTextArea(area, {
        mode: "text/x-sql", lineNumbers: true, lineWrapping: true, indentWithTabs: false, tabSize: 2,
        extraKeys: {"Ctrl-Enter": run, "Cmd-Enter": run, "Ctrl-Space": "autocomplete"},
        hintOptions: {tables: tables, completeSingle: false}
      });
      editor.on("change", sync);
      editor.on("inputRead", function (cm, change) {
        if (change.origin === "+input" && /[\w.]/.test(change.text[0])) cm.showHint();
      });
      window.dataInsightSql.editor = editor;
    });
  }

  window.dataInsightSql = {
    load: function (sql) {
      if (editor && typeof sql === "string") {
        editor.setValue(sql);
        editor.focus();
      }
      return window.dash_clientside.no_update;
    }
  };

  new MutationObserver(function () {
    var area = document.getElementById("sql-text");
    if (area && area.tagName === "TEXTAREA" && !area.dataset.upgraded) upgrade(area);
    if (!area) editor = null;
  }).observe(document.documentElement, {childList: true, subtree: true});
})();
