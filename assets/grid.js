// Number formatting for the data grid's columns (components/grid.py names these in each
// numeric column's valueFormatter). One formatter per (decimals, separator) pair, so a
// column shows every value with the same number of decimals: never "9,952" beside
// "10,086.02", and a year as "2013", never "2,013".
var dagfuncs = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});

(function () {
  var formatters = {};

  dagfuncs.gridNumber = function (value, decimals, grouped) {
    if (value === null || value === undefined || value === "") { return ""; }
    var number = typeof value === "number" ? value : Number(value);
    if (!isFinite(number)) { return String(value); }
    var key = decimals + (grouped ? "g" : "");
    if (!formatters[key]) {
      formatters[key] = new Intl.NumberFormat("en-US", {
        minimumFractionDigits: decimals, maximumFractionDigits: decimals, useGrouping: !!grouped,
      });
    }
    return formatters[key].format(number);
  };
})();

// A timestamp as "2013-01-01 05:00:00" rather than JSON's "2013-01-01T05:00:00".
dagfuncs.gridTimestamp = function (value) {
  if (value === null || value === undefined) { return ""; }
  return String(value).replace("T", " ");
};
