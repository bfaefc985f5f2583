"""Carriers, provinces and countries as ingest.numbers names them (phonenumbers' English),
in a viewer's language: the catalog's word for carriers and provinces, Babel's for countries,
else as stored (SingTel stays SingTel). Pages, the CLI and alert messages all name places here."""

from __future__ import annotations

from functools import cache

from babel import Locale

from ingest.i18n import N_, Language

# Carriers and provinces as numbers.describe names them (phonenumbers' English); countries
# are named by Babel (`place`), these by the catalog.
PLACES = (
    N_("China Mobile"),
    N_("China Unicom"),
    N_("China Telecom"),
    N_("fixed line"),
    N_("Anhui"),
    N_("Beijing"),
    N_("Chongqing"),
    N_("Fujian"),
    N_("Gansu"),
    N_("Guangdong"),
    N_("Guangxi"),
    N_("Guizhou"),
    N_("Hainan"),
    N_("Hebei"),
    N_("Heilongjiang"),
    N_("Henan"),
    N_("Hubei"),
    N_("Hunan"),
    N_("Inner Mongolia"),
    N_("Jiangsu"),
    N_("Jiangxi"),
    N_("Jilin"),
    N_("Liaoning"),
    N_("Ningxia"),
    N_("Qinghai"),
    N_("Shaanxi"),
    N_("Shandong"),
    N_("Shanghai"),
    N_("Shanxi"),
    N_("Sichuan"),
    N_("Tianjin"),
    N_("Tibet"),
    N_("Xinjiang"),
    N_("Yunnan"),
    N_("Zhejiang"),
    N_("Hong Kong"),
    N_("Macau"),
    N_("Taiwan"),
)


def place_name(name: str, language: Language) -> str:
    """`name` as stored, in `language`."""
    if not language.chinese:
        return name
    if name == "unknown":  # the catalog's "unknown" is an outcome's
        return language.gettext(N_("not known"))
    if (translated := language.gettext(name)) != name:
        return translated
    code = _territory_codes().get(name)
    return Locale.parse(language.code).territories.get(code, name) if code else name


@cache
def _territory_codes() -> dict[str, str]:
    """Country names in English (as phonenumbers gives them) to their ISO region codes."""
    return {name: code for code, name in Locale("en").territories.items() if code.isalpha()}
