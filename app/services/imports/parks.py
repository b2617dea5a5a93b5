"""Parks, created on demand by the enterprise and roster imports."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Park


class _Parks:
    """Parks by (district, name); missing ones are created once per import."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.by_key = {(p.district_id, p.name): p for p in session.scalars(select(Park))}
        self.created = 0

    def known(self, district_id: int, name: str) -> bool:
        """Return whether the park exists already."""
        return (district_id, name) in self.by_key

    def get(self, district_id: int, name: str) -> Park:
        """Return the park, creating it in the district when missing."""
        park = self.by_key.get((district_id, name))
        if park is None:
            kind = "incubator" if any(w in name for w in ("孵化", "众创", "加速器")) else "park"
            park = Park(name=name, district_id=district_id, kind=kind)
            self.session.add(park)
            self.by_key[(district_id, name)] = park
            self.created += 1
        return park
