"""Search boxes' data: French communes and COG countries, from the shipped INSEE referentials.

``GET /api/referentials/towns?q=bre`` and ``GET /api/referentials/countries?q=all`` answer small
JSON lists for the identity wizard's search boxes (which also work without JavaScript: the
forms accept a typed name). Public and the same for everyone, so cacheable; ``q`` is 1 to 100
characters and ``limit`` 1 to 50, anything else is a 422 with the details.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from sesame.bootstrap import Container
from sesame.domain.referentials import LIMIT_MAX, QUERY_MAX_CHARS, Country, Town
from sesame.web.deps import get_container

router = APIRouter(prefix="/api/referentials", tags=["referentials"])

#: The data change with a release only: a day in caches is harmless.
CACHE_CONTROL = "public, max-age=86400"


class TownOut(BaseModel):
    code: str = Field(description="INSEE commune code (what the forms store).", examples=["29019"])
    name: str = Field(examples=["Brest"])
    department: str = Field(examples=["29"])
    label: str = Field(description="Name and department, as lists show it.", examples=["Brest (29)"])
    kind: str = Field(description="commune, district, delegated, associated or former.", examples=["commune"])
    postcodes: list[str] = Field(examples=[["29200"]])
    current_code: str | None = Field(
        description="The current commune a district, delegated or former commune is part of.", examples=[None]
    )
    valid_until: date | None = Field(description="When a former commune ceased, if known.", examples=[None])


class TownsOut(BaseModel):
    towns: list[TownOut]


class CountryOut(BaseModel):
    code: str = Field(description="COG code (99100 is France).", examples=["99109"])
    name: str = Field(examples=["Allemagne"])
    other_names: list[str] = Field(description="Territories that share the code.", examples=[[]])
    iso2: str | None = Field(description="ISO 3166-1 alpha-2, when known.", examples=["DE"])


class CountriesOut(BaseModel):
    countries: list[CountryOut]


def _town(town: Town) -> TownOut:
    return TownOut(
        code=town.code,
        name=town.name,
        department=town.department,
        label=town.label,
        kind=town.kind.value,
        postcodes=list(town.postcodes),
        current_code=town.parent_code,
        valid_until=town.valid_until,
    )


def _country(country: Country) -> CountryOut:
    return CountryOut(code=country.code, name=country.name, other_names=list(country.other_names), iso2=country.iso2)


def _cached(body: BaseModel) -> JSONResponse:
    return JSONResponse(body.model_dump(mode="json"), headers={"Cache-Control": CACHE_CONTROL})


_QUERY = Query(min_length=1, max_length=QUERY_MAX_CHARS, description="What was typed: a name, or postcode digits.")
_LIMIT = Query(default=10, ge=1, le=LIMIT_MAX, description="Most results to return.")


@router.get("/towns", response_model=TownsOut, summary="French communes whose name or postcode starts so")
def search_towns(q: str = _QUERY, limit: int = _LIMIT, container: Container = Depends(get_container)) -> JSONResponse:
    """Communes, Paris/Lyon/Marseille districts, and former communes since 1943 (for birthplaces):
    a word of the name starting with ``q`` (case and accents ignored), or a postcode starting
    with its digits ("brest 29" narrows both)."""
    towns = container.referentials.search_towns(q, limit)
    return _cached(TownsOut(towns=[_town(town) for town in towns]))


@router.get("/countries", response_model=CountriesOut, summary="Countries and territories whose name starts so")
def search_countries(
    q: str = _QUERY, limit: int = _LIMIT, container: Container = Depends(get_container)
) -> JSONResponse:
    """Countries and territories of the INSEE COG (historical ones included), with their
    ``99XXX`` codes, for the birth country."""
    countries = container.referentials.search_countries(q, limit)
    return _cached(CountriesOut(countries=[_country(country) for country in countries]))
