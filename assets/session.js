// When a session ends while a page is open (signed out elsewhere, password changed,
// server restarted with a new key), callbacks answer 401. Send the person to sign in
// instead of leaving a page that silently stops working.
(function () {
  var originalFetch = window.fetch;
  window.fetch = function () {
    return originalFetch.apply(this, arguments).then(function (response) {
      if (response.status === 401 && String(response.url).indexOf("/_dash-update-component") !== -1) {
        var next = window.location.pathname + window.location.search;
        window.location.assign("/login?next=" + encodeURIComponent(next));
      }
      return response;
    });
  };
})();
