"""HTTP views of the district registry: streets and restaurants, scoped by the caller's street."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status

from command_center.deps import ContextDep, PrincipalDep, SessionDep
from command_center.district import service
from command_center.district.schemas import DistrictOut, RestaurantOut, StreetOut

router = APIRouter(tags=["district"])


@router.get("/api/district")
def district(ctx: ContextDep, principal: PrincipalDep) -> DistrictOut:
    """Name, time zone and size of the district (from the configuration the server runs)."""
    d = ctx.district
    if d is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this server was started without a district file")
    return DistrictOut(
        name=d.name,
        timezone=d.timezone,
        streets=len(d.streets),
        restaurants=len(d.restaurants),
        cameras=len(d.cameras),
        inspectors=len(d.inspectors),
        vehicles=len(d.vehicles),
        labs=len(d.labs),
    )


@router.get("/api/streets")
def list_streets(session: SessionDep, principal: PrincipalDep) -> list[StreetOut]:
    """The streets the caller may see (a street supervisor: only their own)."""
    return [
        StreetOut.model_validate(street).model_copy(update={"restaurant_count": count})
        for street, count in service.list_streets(session, principal=principal)
    ]


@router.get("/api/streets/{street_id}")
def get_street(street_id: str, session: SessionDep, principal: PrincipalDep) -> StreetOut:
    """One street; 403 for another street's supervisor, 404 if unknown."""
    street = service.get_street(session, principal=principal, street_id=street_id)
    if street is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no street {street_id!r}")
    return StreetOut.model_validate(street)


@router.get("/api/restaurants")
def list_restaurants(
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    street: Annotated[str | None, Query(description="only this street")] = None,
    kind: Annotated[str | None, Query(description="business type, e.g. restaurant")] = None,
    q: Annotated[str | None, Query(max_length=100, description="search name, address, licence")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[RestaurantOut]:
    """Restaurants the caller may see; the total is in the ``X-Total-Count`` header."""
    page, total = service.list_restaurants(
        session, principal=principal, street_id=street, kind=kind, query=q, limit=limit, offset=offset
    )
    response.headers["X-Total-Count"] = str(total)
    return [RestaurantOut.model_validate(r) for r in page]


@router.get("/api/restaurants/{restaurant_id}")
def get_restaurant(restaurant_id: str, session: SessionDep, principal: PrincipalDep) -> RestaurantOut:
    """One restaurant; 403 outside the caller's street, 404 if unknown."""
    restaurant = service.get_restaurant(session, principal=principal, restaurant_id=restaurant_id)
    if restaurant is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no restaurant {restaurant_id!r}")
    return RestaurantOut.model_validate(restaurant)
