"""Personal data: who reads an enterprise's contact or an expert's phone, and masking.

The contact rule (PRODUCT.md's tiers), decided here once for pages, the API, exports and
meeting lists. For an enterprise's contact person, phone and e-mail:

| reader | sees |
|---|---|
| the owning district's liaisons and admins | full (their own data, not audited) |
| campus liaison whose institution's expert took it on (accepted or later) | full, audited |
| campus liaison whose institution's expert was proposed, not yet engaged | masked |
| city bureau | masked, may reveal on request; a revealed read is audited |
| anyone else: other districts, other campus liaisons, API tokens | nothing, masked or not |

Publishing a demand changes nothing here: the contact is never part of the public record, so
the platform and other districts read no personal contact data of published demands.
An expert's phone and e-mail are full for the campus liaison of the expert's institution and the
city bureau, masked (138****5678) for everyone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .roles import DISTRICT_ROLES, Role


def mask_phone(phone: str | None) -> str:
    """Mask a phone number: 13812345678 -> 138****5678 (short numbers keep the last 2 digits)."""
    if not phone:
        return ""
    digits = str(phone).strip()
    if len(digits) >= 7:
        return digits[:3] + "****" + digits[-4:]
    if len(digits) > 2:
        return "*" * (len(digits) - 2) + digits[-2:]
    return "*" * len(digits)


def mask_email(email: str | None) -> str:
    """Mask an e-mail address: zhangsan@whu.edu.cn -> z***n@whu.edu.cn."""
    if not email:
        return ""
    local, sep, domain = str(email).strip().partition("@")
    if not sep:
        return mask_phone(local)
    masked = local[:1] + "***" if len(local) <= 2 else local[0] + "***" + local[-1]
    return f"{masked}@{domain}"


def mask_name(name: str | None) -> str:
    """Mask a person's name: 张三丰 -> 张**."""
    if not name:
        return ""
    return name[:1] + "*" * (len(name) - 1)


@dataclass(frozen=True)
class ContactView:
    """An enterprise contact as one reader may see it."""

    person: str
    phone: str
    email: str
    masked: bool
    can_reveal: bool  # masked now, and the reader may ask to reveal it
    audit: bool  # this view shows full data to a reader outside the owning district

    def as_dict(self) -> dict[str, Any]:
        """Return the view as a plain dict (templates, JSON)."""
        return {"person": self.person, "phone": self.phone, "email": self.email,
                "masked": self.masked, "can_reveal": self.can_reveal}


def contact_tier(user: Any, district_id: int | None, *, sent: bool = False,
                 engaged: bool = False) -> str:
    """Return how `user` reads a contact of `district_id`: full, audited, revealable, masked, none.

    `sent`: the demand was sent to an expert of the user's institution; `engaged`: such an
    expert has taken it on (accepted, introduced, negotiating, signed).
    """
    role = getattr(user, "role", None)
    if role in DISTRICT_ROLES:
        own = district_id is not None and getattr(user, "district_id", None) == district_id
        return "full" if own else "none"
    if role == Role.CITY_ADMIN:
        return "revealable"
    if role == Role.CAMPUS_LIAISON:
        return "audited" if engaged else "masked" if sent else "none"
    return "none"


def contact_view(user: Any, record: Any, *, district_id: int | None, sent: bool = False,
                 engaged: bool = False, reveal: bool = False) -> ContactView | None:
    """Return the contact of `record` (contact_person/_phone/_email) as `user` may see it.

    None when the user may not read it at all or there is nothing to show. `reveal` asks for the
    full data where the tier allows it; the view says whether this read must be audited.
    """
    person = getattr(record, "contact_person", None) or ""
    phone = getattr(record, "contact_phone", None) or ""
    email = getattr(record, "contact_email", None) or ""
    if not (person or phone or email):
        return None
    tier = contact_tier(user, district_id, sent=sent or engaged, engaged=engaged)
    if tier == "none":
        return None
    if tier == "full":
        return ContactView(person, phone, email, masked=False, can_reveal=False, audit=False)
    if tier == "audited" or (tier == "revealable" and reveal):
        return ContactView(person, phone, email, masked=False, can_reveal=False, audit=True)
    return ContactView(mask_name(person), mask_phone(phone), mask_email(email), masked=True,
                       can_reveal=tier == "revealable", audit=False)


#: Roles whose expert list and export have the phone and e-mail columns (each in full or masked
#: by :func:`can_read_expert_contact`); the district roles get no such column at all.
EXPERT_CONTACT_COLUMN_ROLES = (Role.CAMPUS_LIAISON, Role.CITY_ADMIN)


def can_read_expert_contact(user: Any, institution_id: int | None) -> bool:
    """Return whether `user` reads an expert's phone and e-mail in full."""
    role = getattr(user, "role", None)
    if role == Role.CITY_ADMIN:
        return True
    return (role == Role.CAMPUS_LIAISON and institution_id is not None
            and getattr(user, "institution_id", None) == institution_id)


def expert_contact(user: Any, expert: Any) -> dict[str, str]:
    """Return an expert's phone and e-mail as `user` may read them."""
    if can_read_expert_contact(user, expert.institution_id):
        return {"phone": expert.phone or "", "email": expert.email or "", "masked": False}
    return {"phone": mask_phone(expert.phone), "email": mask_email(expert.email), "masked": True}


def can_see_contact(user: Any, district_id: int | None, *, via_match: bool = False) -> bool:
    """Return whether `user` may read full contact data of `district_id` (perhaps on reveal)."""
    return contact_tier(user, district_id, engaged=via_match) in ("full", "audited", "revealable")
