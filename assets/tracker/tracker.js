/*
 * DataInsight website analytics: the tracker script (readable source).
 *
 * Sites embed the minified build, served by DataInsight at /js/tracker.js:
 *
 *   <script>
 *     // Optional queue stub: calls made before the tracker has loaded are kept and sent
 *     // once it has (datainsight("Signup", {plan: "pro"}) is datainsight.track(...)).
 *     window.datainsight = window.datainsight || function () {
 *       (window.datainsight.q = window.datainsight.q || []).push(arguments);
 *     };
 *   </script>
 *   <script defer data-site="SITE_KEY" src="https://bi.example.com/js/tracker.js"></script>
 *
 * Attributes of that <script> tag:
 *   data-site             the site's public key (required; nothing is sent without it)
 *   data-api              where events go; default: the script's own origin + /api/collect
 *   data-respect-dnt      send nothing when the browser asks not to be tracked
 *                         (navigator.doNotTrack == "1")
 *   data-allow-localhost  also send from localhost, 127.x.x.x, [::1] and file: pages
 *                         (ignored by default so that development does not pollute the
 *                         numbers; the browser tests serve pages on 127.0.0.1 and set it)
 *
 * What it records: a pageview when it loads, and one for each single-page-app navigation
 * (history.pushState / replaceState / popstate) to a URL other than the last one recorded
 * (the part after # is not a new page), and again when a page comes back from the
 * back/forward cache. Custom events: datainsight.track(name, props) or datainsight(name,
 * props); props are a flat object, of which at most 30 string, number or boolean values
 * are sent (others are left out).
 *
 * What it sends: one JSON event per request, {site, type: "pageview" | "event", name
 * (events only), url: location.href, referrer: document.referrer, title: document.title,
 * props (events only)}, POSTed by navigator.sendBeacon as text/plain (a CORS "simple"
 * request: no preflight), or by fetch with keepalive where sendBeacon is missing or
 * refuses. No cookies are set, nothing is stored in the browser, no identifier is made.
 *
 * tracker.min.js beside this file is the hand-minified build that is served; keep the two
 * in step (tests/e2e/test_tracker_script.py runs the same checks against both).
 */
(function () {
  "use strict";
  var win = window, doc = document, nav = navigator, loc = location;

  // Already running on this page (the tag was included twice): keep the first one.
  if (win.datainsight && win.datainsight.track) return;

  // Our own tag; currentScript is null only in unusual loaders, where the first tag
  // that names a site is the best guess.
  var script = doc.currentScript || doc.querySelector("script[data-site]");
  var queued = (win.datainsight && win.datainsight.q) || [];
  var site = script && script.getAttribute("data-site");
  var api = script && (script.getAttribute("data-api") || new URL(script.src, loc.href).origin + "/api/collect");

  var off = !site
    || (script.hasAttribute("data-respect-dnt") && (nav.doNotTrack == "1" || win.doNotTrack == "1"))
    || (!script.hasAttribute("data-allow-localhost")
        && (loc.protocol == "file:" || /^(localhost|127(\.\d+){3}|\[::1\])$/.test(loc.hostname)));

  var lastUrl; // the last URL a pageview was recorded for, without its #fragment

  function send(type, name, props) {
    if (off) return;
    var event = {site: site, type: type, url: loc.href, referrer: doc.referrer, title: doc.title};
    if (name) event.name = String(name);
    if (props) event.props = props;
    var body = JSON.stringify(event);
    // sendBeacon outlives the page (a click that navigates away); it answers false when
    // the browser will not queue the request, and fetch with keepalive takes over.
    if (nav.sendBeacon && nav.sendBeacon(api, new Blob([body], {type: "text/plain"}))) return;
    if (win.fetch) {
      fetch(api, {method: "POST", body: body, keepalive: true, credentials: "omit",
                  headers: {"Content-Type": "text/plain"}})["catch"](function () {});
    }
  }

  function pageview(force) {
    var url = loc.href.split("#")[0];
    if (!force && url == lastUrl) return; // the same page again: not a new view
    lastUrl = url;
    send("pageview");
  }

  // Keep at most 30 flat values: strings, numbers (finite) and booleans.
  function flat(props) {
    var out = {}, count = 0, key, value;
    for (key in props) {
      value = props[key];
      if (count < 30 && Object.prototype.hasOwnProperty.call(props, key)
          && (typeof value == "string" || typeof value == "boolean"
              || (typeof value == "number" && isFinite(value)))) {
        out[key] = value;
        count++;
      }
    }
    return count ? out : undefined;
  }

  function track(name, props) {
    if (name) send("event", name, props && typeof props == "object" ? flat(props) : undefined);
  }

  // The public API: datainsight(name, props) and datainsight.track(name, props).
  win.datainsight = track;
  track.track = track;

  // Single-page apps: wrap the history methods, and listen for back/forward.
  var history = win.history;
  function wrap(method) {
    var original = history[method];
    if (!original) return;
    history[method] = function () {
      var result = original.apply(this, arguments);
      pageview();
      return result;
    };
  }
  wrap("pushState");
  wrap("replaceState");
  win.addEventListener("popstate", function () { pageview(); });
  // A page restored from the back/forward cache runs no script again, yet is a new view.
  win.addEventListener("pageshow", function (e) { if (e.persisted) pageview(true); });

  pageview();
  // Calls made before the script loaded, in their order.
  for (var i = 0; i < queued.length; i++) track(queued[i][0], queued[i][1]);
})();
