"""HTTP routes for the audit trail (admins only)."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated

from fastapi import APIRouter, Query, Response

from missionctl.audit import service
from missionctl.audit.schemas import AuditEntry, AuditFilter, AuditFormat, ChainReport
from missionctl.common import Page
from missionctl.permissions import Permission
from missionctl.web.auth import need
from missionctl.web.deps import Ctx

router = APIRouter(prefix="/audit", tags=["audit"])
CSV_COLUMNS = list(AuditEntry.model_fields)


@router.get(
    "",
    summary="The audit trail of this tenant",
    response_model=Page[AuditEntry],
    responses={200: {"content": {"text/csv": {}}}},
    dependencies=[need(Permission.AUDIT_READ)],
)
def list_audit(ctx: Ctx, query: Annotated[AuditFilter, Query()]) -> Page[AuditEntry] | Response:
    with ctx.read() as session:
        page = service.list_audit(session, ctx.tenant_id, query)
    if query.format is AuditFormat.JSON:
        return page
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for entry in page.items:
        row = entry.model_dump(mode="json")
        writer.writerow(row | {"details": json.dumps(row["details"], sort_keys=True)})
    headers = {"Content-Disposition": 'attachment; filename="audit.csv"'}
    if page.next_cursor:
        headers["X-Next-Cursor"] = page.next_cursor
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


@router.get(
    "/verify",
    summary="Verify the whole chain",
    dependencies=[need(Permission.AUDIT_READ)],
)
def verify(ctx: Ctx) -> ChainReport:
    with ctx.read() as session:
        return service.verify_chain(session)
