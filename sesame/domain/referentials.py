"""French communes and the countries of the INSEE Code officiel géographique, as values.

A person's birthplace is told to partner services as INSEE codes (OpenID Connect claims
``birthplace`` and ``birthcountry``, as FranceConnect does): a commune code such as ``75115``
for someone born in France, and a country code such as ``99109`` (``99100`` for France). The
data ship with Sésame (``sesame/data/referentials/``); the ``Referentials`` port searches them.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

#: Longest search text looked at (longer text is cut): no town name is longer.
QUERY_MAX_CHARS = 100
#: Most results one town search returns.
LIMIT_MAX = 50
#: The COG code of France in the list of countries (``birthcountry`` of someone born in France).
FRANCE_COUNTRY_CODE = "99100"


class TownKind(StrEnum):
    """What a town entry is today."""

    #: A commune that exists today.
    COMMUNE = "commune"
    #: A municipal district (arrondissement) of Paris, Lyon or Marseille: births there are coded so.
    DISTRICT = "district"
    #: A former commune merged into a "commune nouvelle", kept as a delegated commune.
    DELEGATED = "delegated"
    #: A former commune associated with another one (fusion-association).
    ASSOCIATED = "associated"
    #: A commune that no longer exists (merged, absorbed, renamed or moved), since 1943.
    FORMER = "former"


#: Kinds that exist today as places with postcodes.
CURRENT_KINDS = frozenset({TownKind.COMMUNE, TownKind.DISTRICT})


@dataclass(frozen=True, slots=True)
class Town:
    """One name an INSEE commune code has had (a code may have had several names)."""

    code: str
    name: str
    department: str
    kind: TownKind
    #: The commune it is part of today (None for a current commune, or when unknown).
    parent_code: str | None
    #: La Poste postcodes of a current commune or district (empty for other kinds).
    postcodes: tuple[str, ...]
    population: int
    #: When this code had this name, if INSEE's history (since 1943) says.
    valid_from: date | None = None
    valid_until: date | None = None

    @property
    def is_current(self) -> bool:
        return self.kind in CURRENT_KINDS

    @property
    def label(self) -> str:
        """``"Brest (29)"``: the name with its department, as lists show it."""
        return f"{self.name} ({self.department})"


@dataclass(frozen=True, slots=True)
class Country:
    """A country or territory of the COG (code ``99XXX``), historical ones included."""

    code: str
    name: str
    #: Territories that share the code (Jersey and Guernsey are coded as the United Kingdom).
    other_names: tuple[str, ...] = ()
    #: ISO 3166-1 alpha-2, when a CLDR name matched (None for historical entities and some others).
    iso2: str | None = None
    continent: str | None = None


def fold(text: str) -> str:
    """Lower case, no accents, punctuation as single spaces, "St"/"Ste" as "saint"/"sainte".

    ``fold("  St-Étienne-du-Rouvray ") == "saint etienne du rouvray"``: how a typed name is
    compared with the referential's, so that case, accents and hyphens do not matter.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    bare = bare.replace("œ", "oe").replace("æ", "ae").replace("ß", "ss")
    words = "".join(c if c.isalnum() else " " for c in bare).split()
    return " ".join(_ABBREVIATIONS.get(word, word) for word in words)


_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}
