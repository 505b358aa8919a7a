"""Who is calling, and what they may see. Scoping is decided here, once, for every domain."""

from __future__ import annotations

from dataclasses import dataclass

from config.district import Role


class OutOfScopeError(PermissionError):
    """The caller's role or street does not cover the resource; views map this to 403."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    user_id: int
    username: str
    role: Role
    street_id: str | None = None
    inspector_id: str | None = None

    @property
    def street_scope(self) -> frozenset[str] | None:
        """The streets whose data the caller may see; None means the whole district.

        Only street supervisors are bound to a street: the wall display and district admins see all,
        and inspectors work across street boundaries (their cases are scoped separately).
        """
        if self.role == "street_supervisor":
            return frozenset({self.street_id}) if self.street_id else frozenset()
        return None

    def can_see_street(self, street_id: str | None) -> bool:
        """True if data belonging to ``street_id`` is visible; district-wide data (None) is visible to all."""
        scope = self.street_scope
        return scope is None or street_id is None or street_id in scope

    def require_street(self, street_id: str | None, what: str) -> None:
        """Raise :class:`OutOfScopeError` naming ``what`` when it lies outside the caller's street."""
        if not self.can_see_street(street_id):
            raise OutOfScopeError(
                f"{what} belongs to street {street_id!r}; {self.username} supervises {self.street_id!r} only"
            )

    @property
    def read_only(self) -> bool:
        """The wall display only watches."""
        return self.role == "wall_display"
