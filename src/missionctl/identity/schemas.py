"""Identity schemas: sign-in, tokens, users, API keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from missionctl.common import Schema, StoredUTC, UTCDatetime
from missionctl.permissions import Role

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


class LoginRequest(Schema):
    """E-mail and password, and optionally which tenant to sign in to."""

    email: str = Field(max_length=320, pattern=EMAIL_PATTERN, description="The user's e-mail.")
    password: str = Field(min_length=1, max_length=1024, description="The password.")
    tenant: str | None = Field(
        default=None,
        pattern=SLUG_PATTERN,
        description="Tenant slug; the first membership if omitted.",
    )


class RefreshRequest(Schema):
    """A refresh token to exchange (it is used up)."""

    refresh_token: str = Field(min_length=1, max_length=200, description="From login or refresh.")


class TokenPair(BaseModel):
    """Credentials after sign-in or refresh."""

    access_token: str = Field(description="Send as `Authorization: Bearer …`.")
    refresh_token: str = Field(description="Exchange at /auth/refresh; each works once.")
    token_type: str = Field(default="bearer", description="Always `bearer`.")
    expires_in: int = Field(description="Seconds until the access token expires.")


class UserCreate(Schema):
    """A new user with a role in a tenant."""

    email: str = Field(max_length=320, pattern=EMAIL_PATTERN, description="Unique e-mail.")
    password: str = Field(min_length=12, max_length=1024, description="At least 12 characters.")
    role: Role = Field(description="Role in the tenant.")
    display_name: str = Field(default="", max_length=200, description="Name shown to others.")


class User(BaseModel):
    """A user as others see them."""

    model_config = ConfigDict(from_attributes=True)

    user_id: uuid.UUID = Field(description="The user's id.")
    email: str = Field(description="E-mail.")
    display_name: str = Field(description="Name shown to others.")
    is_active: bool = Field(description="Whether the user may sign in.")
    created_at: StoredUTC = Field(description="When the user was created (UTC).")


class Tenant(BaseModel):
    """A tenant (organisation)."""

    model_config = ConfigDict(from_attributes=True)

    tenant_id: uuid.UUID = Field(description="The tenant's id.")
    slug: str = Field(description="Short unique name, used in `X-Tenant`.")
    name: str = Field(description="Display name.")


class TenantMembership(BaseModel):
    """A tenant the signed-in person belongs to, and their role there."""

    tenant: Tenant = Field(description="The tenant.")
    role: Role = Field(description="The person's role in it.")


class Me(BaseModel):
    """Who the caller is, where, and with which role."""

    kind: str = Field(description="`user` or `api_key`.")
    user: User | None = Field(description="The signed-in user, for user tokens.")
    api_key_id: uuid.UUID | None = Field(description="The key, for API keys.")
    agent_id: uuid.UUID | None = Field(description="The agent an agent key acts as.")
    tenant: Tenant = Field(description="The tenant of this request.")
    role: Role = Field(description="The caller's role in it.")
    memberships: list[TenantMembership] = Field(
        default_factory=list,
        description="Every tenant a signed-in person belongs to (for switching; send its slug "
        "as `X-Tenant`); empty for API keys, which belong to one tenant.",
    )


class ApiKeyCreate(Schema):
    """A new API key: either with a role, or acting as one agent."""

    name: str = Field(min_length=1, max_length=200, description="What the key is for.")
    role: Role | None = Field(
        default=None, description="Role the key acts with (not `agent`); omit for an agent key."
    )
    agent_id: uuid.UUID | None = Field(default=None, description="The agent the key acts as.")
    expires_at: UTCDatetime | None = Field(default=None, description="Expiry; never if omitted.")


class ApiKey(BaseModel):
    """An API key as listed (the secret is never shown again)."""

    model_config = ConfigDict(from_attributes=True)

    api_key_id: uuid.UUID = Field(description="The key's id.")
    name: str = Field(description="What the key is for.")
    prefix: str = Field(description="Visible part of the key, to recognise it.")
    role: Role | None = Field(description="Role it acts with, for role keys.")
    agent_id: uuid.UUID | None = Field(description="Agent it acts as, for agent keys.")
    expires_at: StoredUTC | None = Field(description="Expiry (UTC), if any.")
    revoked_at: StoredUTC | None = Field(description="When it was revoked (UTC), if it was.")
    last_used_at: StoredUTC | None = Field(description="Last use (UTC), if ever.")
    created_at: StoredUTC = Field(description="Creation time (UTC).")


class ApiKeyCreated(ApiKey):
    """A new key, with its secret: shown this once."""

    key: str = Field(description="The full key. Store it now; it cannot be shown again.")


class Principal(BaseModel):
    """Who is calling, as established by authentication."""

    model_config = ConfigDict(frozen=True)

    tenant_id: uuid.UUID
    tenant_slug: str
    role: Role
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    expires_at: datetime | None = None


class Member(BaseModel):
    """A user's membership in this tenant."""

    user_id: uuid.UUID = Field(description="The user.")
    email: str = Field(description="Their e-mail.")
    display_name: str = Field(description="Name shown to others.")
    role: Role = Field(description="Their role here.")
    joined_at: StoredUTC = Field(description="When they joined (UTC).")


class MemberUpdate(Schema):
    """A new role for a member."""

    role: Role = Field(description="admin, developer, operator or viewer.")


class InvitationCreate(Schema):
    """Invite someone by e-mail to join this tenant with a role."""

    email: str = Field(max_length=320, pattern=EMAIL_PATTERN, description="Who to invite.")
    role: Role = Field(description="The role they will have.")


class Invitation(BaseModel):
    """An invitation as listed (its token is never shown again)."""

    model_config = ConfigDict(from_attributes=True)

    invitation_id: uuid.UUID = Field(description="The invitation's id.")
    email: str = Field(description="Who is invited.")
    role: Role = Field(description="The role they will have.")
    expires_at: StoredUTC = Field(description="Until when it can be accepted (UTC).")
    accepted_at: StoredUTC | None = Field(description="When it was accepted (UTC), if it was.")
    revoked_at: StoredUTC | None = Field(description="When it was revoked (UTC), if it was.")
    created_at: StoredUTC = Field(description="When it was made (UTC).")


class InvitationCreated(Invitation):
    """A new invitation with its one-time token: send the link to the invitee."""

    token: str = Field(description="One-time token; shown this once.")
    accept_path: str = Field(description="Path of the link that accepts it (carries the token).")


class InvitationAccept(Schema):
    """Accept an invitation: a new user sets a password; an existing one confirms theirs."""

    token: str = Field(min_length=1, max_length=200, description="From the invitation link.")
    password: str = Field(min_length=12, max_length=1024, description="At least 12 characters.")
    display_name: str = Field(default="", max_length=200, description="Name shown to others.")
