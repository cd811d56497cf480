// Dashboard filter state in the address bar, so a filtered view can be shared by its URL.
// replaceState (not Dash navigation) keeps the page as it is: no reload, no new history entry.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  datainsight: Object.assign({}, (window.dash_clientside || {}).datainsight, {
    syncDashboardUrl: function (state, view) {
      var params = new URLSearchParams(window.location.search);
      var filters = {};
      Object.entries((state && state.filters) || {}).forEach(function (entry) {
        var value = entry[1];
        var empty = value === null || value === undefined ||
          (Array.isArray(value) && value.every(function (v) { return v === null || v === ""; }));
        if (!empty) { filters[entry[0]] = value; }
      });
      var cross = (state && state.cross) || [];
      if (Object.keys(filters).length) { params.set("filters", JSON.stringify(filters)); } else { params.delete("filters"); }
      if (cross.length) { params.set("xf", JSON.stringify(cross)); } else { params.delete("xf"); }
      if (view && view.tab) { params.set("tab", view.tab); } else { params.delete("tab"); }
      var query = params.toString();
      var url = window.location.pathname + (query ? "?" + query : "");
      if (url !== window.location.pathname + window.location.search) {
        window.history.replaceState(window.history.state, "", url);
      }
      return "";
    }
  })
});
