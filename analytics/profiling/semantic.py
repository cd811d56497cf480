"""Semantic hints: what a column's values say it is, beyond its storage type.

Each hint is a share of a sample of values matching a pattern (e-mail, URL, country), or
the column's role (analytics.roles: "id" for identifiers, "categorical_code" for numbers
that name things; the one rule for both). A hint is a suggestion shown next to the
column, never a change of type.
"""
from __future__ import annotations

from analytics.countries import ISO2_TO_ISO3

# A value counts as an e-mail address or a URL when the whole value matches; a column
# gets the hint when at least this share of its sampled non-empty values do.
MATCH_SHARE = 0.9
EMAIL_PATTERN = r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$"
URL_PATTERN = r"^(https?|ftp)://[^\s/$.?#][^\s]*$|^www\.[^\s]+\.[A-Za-z]{2,}(/[^\s]*)?$"

# ISO 3166-1 alpha-2 and alpha-3 codes (analytics.countries, plus UK and EU) and English
# short names (with a few common variants), lower case. Used only to recognise a column
# of countries.
_ALPHA2 = [code.lower() for code in ISO2_TO_ISO3] + ["uk", "eu"]
_ALPHA3 = [code.lower() for code in ISO2_TO_ISO3.values()]
_NAMES = [
    "afghanistan", "albania", "algeria", "andorra", "angola", "antigua and barbuda", "argentina", "armenia",
    "australia", "austria", "azerbaijan", "bahamas", "bahrain", "bangladesh", "barbados", "belarus", "belgium",
    "belize", "benin", "bhutan", "bolivia", "bosnia and herzegovina", "botswana", "brazil", "brunei", "bulgaria",
    "burkina faso", "burundi", "cabo verde", "cape verde", "cambodia", "cameroon", "canada", "central african republic",
    "chad", "chile", "china", "colombia", "comoros", "congo", "costa rica", "cote d'ivoire", "côte d'ivoire",
    "ivory coast", "croatia", "cuba", "cyprus", "czechia", "czech republic", "denmark", "djibouti", "dominica",
    "dominican republic", "ecuador", "egypt", "el salvador", "equatorial guinea", "eritrea", "estonia", "eswatini",
    "ethiopia", "fiji", "finland", "france", "gabon", "gambia", "georgia", "germany", "ghana", "greece", "grenada",
    "guatemala", "guinea", "guinea-bissau", "guyana", "haiti", "honduras", "hungary", "iceland", "india", "indonesia",
    "iran", "iraq", "ireland", "eire", "israel", "italy", "jamaica", "japan", "jordan", "kazakhstan", "kenya",
    "kiribati", "korea", "south korea", "north korea", "kosovo", "kuwait", "kyrgyzstan", "laos", "latvia", "lebanon",
    "lesotho", "liberia", "libya", "liechtenstein", "lithuania", "luxembourg", "madagascar", "malawi", "malaysia",
    "maldives", "mali", "malta", "marshall islands", "mauritania", "mauritius", "mexico", "micronesia", "moldova",
    "monaco", "mongolia", "montenegro", "morocco", "mozambique", "myanmar", "namibia", "nauru", "nepal",
    "netherlands", "the netherlands", "holland", "new zealand", "nicaragua", "niger", "nigeria", "north macedonia",
    "macedonia", "norway", "oman", "pakistan", "palau", "palestine", "panama", "papua new guinea", "paraguay", "peru",
    "philippines", "poland", "portugal", "qatar", "romania", "russia", "russian federation", "rwanda",
    "saint kitts and nevis", "saint lucia", "saint vincent and the grenadines", "samoa", "san marino",
    "sao tome and principe", "saudi arabia", "senegal", "serbia", "seychelles", "sierra leone", "singapore",
    "slovakia", "slovenia", "solomon islands", "somalia", "south africa", "rsa", "south sudan", "spain", "sri lanka",
    "sudan", "suriname", "sweden", "switzerland", "syria", "taiwan", "tajikistan", "tanzania", "thailand",
    "timor-leste", "togo", "tonga", "trinidad and tobago", "tunisia", "turkey", "türkiye", "turkmenistan", "tuvalu",
    "uganda", "ukraine", "united arab emirates", "uae", "united kingdom", "great britain", "england", "scotland",
    "wales", "northern ireland", "united states", "united states of america", "usa", "us", "uruguay", "uzbekistan",
    "vanuatu", "vatican", "venezuela", "vietnam", "viet nam", "yemen", "zambia", "zimbabwe", "hong kong", "macau",
    "puerto rico", "greenland", "channel islands", "european community", "european union",
]
COUNTRY_CODES = sorted(set(_ALPHA2) | set(_ALPHA3))
COUNTRY_NAMES = sorted(set(_NAMES))


# The shares of sampled values each text column's profile keeps in "patterns" (for
# column roles: analytics.roles.stats_from_profile reads them).
PATTERN_KEYS = ("email", "url", "country_name", "country_code", "digits", "leading_zero", "weekday", "month",
                "numeric_min", "numeric_max")


def hints(column: dict, rows: int, matches: dict[str, float], role: str | None = None) -> list[str]:
    """The hints for one profiled column. ``matches`` holds the shares of sampled
    non-empty values that look like e-mail addresses, URLs, country names and codes;
    ``role`` is what the column is (analytics.roles, the one rule for ids and codes)."""
    found = []
    if column["kind"] == "text":
        if matches.get("email", 0) >= MATCH_SHARE:
            found.append("email")
        if matches.get("url", 0) >= MATCH_SHARE:
            found.append("url")
        if matches.get("country_name", 0) >= MATCH_SHARE:
            found.append("country_name")
        elif matches.get("country_code", 0) >= MATCH_SHARE and (column.get("length_max") or 0) <= 3:
            found.append("country_code")
    # A column of e-mail addresses or URLs is what it is, even when every value differs.
    if not found and role == "identifier":
        found.insert(0, "id")
    if role == "code" and column["kind"] == "numeric":
        found.append("categorical_code")
    return found


HINT_LABELS = {
    "id": "ID-like (a distinct value per row)",
    "categorical_code": "Numeric codes: probably categories rather than quantities",
    "email": "E-mail addresses",
    "url": "URLs",
    "country_name": "Country names",
    "country_code": "Country codes (ISO 3166)",
}
