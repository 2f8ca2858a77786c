"""Usage reports: model requests aggregated by day, agent, model, deployment, task or run."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import ColumnElement, Integer, case, cast, func, literal_column, select
from sqlalchemy.orm import Session

from missionctl.models.accounting import nanos_to_usd
from missionctl.models.models import UsageRow
from missionctl.models.schemas import UsageFilter, UsageGroup, UsageGroupBy, UsageReport

CSV_COLUMNS = [
    "key",
    "requests",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "unpriced_requests",
    "cache_hits",
    "errors",
    "avg_latency_ms",
]


def _group_column(session: Session, group_by: UsageGroupBy) -> ColumnElement[object]:
    if group_by is UsageGroupBy.DAY:
        if session.get_bind().dialect.name == "postgresql":
            return func.to_char(
                func.timezone("UTC", UsageRow.created_at), literal_column("'YYYY-MM-DD'")
            )
        return func.substr(UsageRow.created_at, 1, 10)
    columns = {
        UsageGroupBy.AGENT: UsageRow.agent_id,
        UsageGroupBy.MODEL: UsageRow.model,
        UsageGroupBy.DEPLOYMENT: UsageRow.deployment,
        UsageGroupBy.TASK: UsageRow.task_id,
        UsageGroupBy.RUN: UsageRow.run_id,
    }
    return columns[group_by]  # type: ignore[return-value]


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(cast(case((condition, 1), else_=0), Integer))


def usage_report(session: Session, usage_filter: UsageFilter) -> UsageReport:
    """The tenant's model usage in a date range, aggregated one way."""
    key = _group_column(session, usage_filter.group_by).label("key")
    query = select(
        key,
        func.count().label("requests"),
        func.coalesce(func.sum(UsageRow.input_tokens), 0).label("input_tokens"),
        func.coalesce(func.sum(UsageRow.output_tokens), 0).label("output_tokens"),
        func.coalesce(func.sum(UsageRow.cost_nanos), 0).label("cost_nanos"),
        _flag(UsageRow.cost_nanos.is_(None)).label("unpriced"),
        _flag(UsageRow.is_cache_hit.is_(True)).label("cache_hits"),
        _flag(UsageRow.outcome.notin_(["ok", "cache_hit"])).label("errors"),
        func.coalesce(func.avg(UsageRow.latency_ms), 0).label("latency"),
    )
    if usage_filter.since is not None:
        query = query.where(
            UsageRow.created_at >= datetime.combine(usage_filter.since, time(), UTC)
        )
    if usage_filter.until is not None:
        end = datetime.combine(usage_filter.until + timedelta(days=1), time(), UTC)
        query = query.where(UsageRow.created_at < end)
    for column, wanted in (
        (UsageRow.agent_id, usage_filter.agent_id),
        (UsageRow.task_id, usage_filter.task_id),
        (UsageRow.run_id, usage_filter.run_id),
    ):
        if wanted is not None:
            query = query.where(column == wanted)
    rows = session.execute(query.group_by(key).order_by(key)).all()
    groups = [
        UsageGroup(
            key=None if row.key is None else str(row.key),
            requests=row.requests,
            input_tokens=int(row.input_tokens),
            output_tokens=int(row.output_tokens),
            cost_usd=nanos_to_usd(int(row.cost_nanos)) or 0.0,
            unpriced_requests=int(row.unpriced or 0),
            cache_hits=int(row.cache_hits or 0),
            errors=int(row.errors or 0),
            avg_latency_ms=round(float(row.latency), 3),
        )
        for row in rows
    ]
    return UsageReport(
        group_by=usage_filter.group_by,
        since=usage_filter.since,
        until=usage_filter.until,
        total=_total(groups),
        groups=groups,
    )


def _total(groups: list[UsageGroup]) -> UsageGroup:
    requests = sum(g.requests for g in groups)
    latency = sum(g.avg_latency_ms * g.requests for g in groups) / requests if requests else 0.0
    return UsageGroup(
        key=None,
        requests=requests,
        input_tokens=sum(g.input_tokens for g in groups),
        output_tokens=sum(g.output_tokens for g in groups),
        cost_usd=round(sum(g.cost_usd for g in groups), 9),
        unpriced_requests=sum(g.unpriced_requests for g in groups),
        cache_hits=sum(g.cache_hits for g in groups),
        errors=sum(g.errors for g in groups),
        avg_latency_ms=round(latency, 3),
    )


def report_csv(report: UsageReport) -> str:
    """The report's groups as CSV, with a header row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["group_by", *CSV_COLUMNS])
    for group in report.groups:
        row = group.model_dump()
        writer.writerow(
            [report.group_by.value, *("" if row[c] is None else row[c] for c in CSV_COLUMNS)]
        )
    return out.getvalue()
