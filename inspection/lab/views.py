"""HTTP views of lab results: post one, upload a CSV, list by scope, verify the chains."""

from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, UploadFile, status
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from command_center.auth.principal import OutOfScopeError, Principal
from command_center.context import AppContext
from command_center.database.core import transaction
from command_center.deps import ContextDep, PrincipalDep, SessionDep, require_roles
from inspection.lab import service
from inspection.lab.flows import StoredResult, publish_results
from inspection.lab.models import LabResult
from inspection.lab.schemas import CsvReport, CsvRow, LabResultIn, LabResultOut, VerifyOut

log = logging.getLogger(__name__)
router = APIRouter(tags=["lab results"])

MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_CSV_ROWS = 10_000
_ATTEMPTS = 3
CSV_COLUMNS = (
    "lab_id, sample_id, restaurant_id, market_stall, item, method, measured_value, limit, unit, "
    "passed, operator, tested_at"
)

_Poster = Annotated[Principal, Depends(require_roles("district_admin", "inspector"))]


def _append(
    ctx: AppContext, principal: Principal, items: list[tuple[int, LabResultIn]]
) -> tuple[list[tuple[int, StoredResult]], dict[int, Exception]]:
    """Check and append ``(line, result)`` pairs in one transaction; returns the stored ones by line and
    the errors by line. A lost race on a lab's next ``seq`` retries the whole transaction."""
    for attempt in range(1, _ATTEMPTS + 1):
        errors: dict[int, Exception] = {}
        try:
            with transaction(ctx.sessions) as session:
                now = datetime.now(UTC)
                good: list[tuple[int, tuple[LabResultIn, str | None]]] = []
                for line, data in items:
                    try:
                        street_id = service.check(session, principal=principal, data=data, now=now)
                    except (service.LabInputError, OutOfScopeError) as exc:
                        errors[line] = exc
                        continue
                    good.append((line, (data, street_id)))
                rows = service.append(
                    session, items=[g for _, g in good], recorded_by=principal.username, now=now
                )
                return [(line, _stored(row)) for (line, _), row in zip(good, rows, strict=True)], errors
        except IntegrityError:
            if attempt == _ATTEMPTS:
                raise
            log.info("lab result append raced another writer; retrying (attempt %s)", attempt)
    raise AssertionError("unreachable")


def _stored(row: LabResult) -> StoredResult:
    return StoredResult(
        *(row.id, row.lab_id, row.seq, row.hash, row.sample_id, row.restaurant_id, row.street_id),
        *(row.item, row.measured_value, row.limit_value, row.unit, row.passed),
    )


def _out(ctx: AppContext, result_id: int) -> LabResultOut:
    with ctx.sessions() as session:
        return LabResultOut.model_validate(session.get(LabResult, result_id))


@router.post("/api/lab-results", status_code=status.HTTP_201_CREATED)
async def post_result(data: LabResultIn, ctx: ContextDep, principal: _Poster) -> LabResultOut:
    """Append one result to its lab's chain (district admins; inspectors for vehicle labs)."""
    stored, errors = await run_in_threadpool(_append, ctx, principal, [(0, data)])
    if errors:
        error = errors[0]
        forbidden = isinstance(error, OutOfScopeError)
        raise HTTPException(
            status.HTTP_403_FORBIDDEN if forbidden else status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)
        )
    await publish_results(ctx.bus, [s for _, s in stored])
    return await run_in_threadpool(_out, ctx, stored[0][1].id)


@router.post("/api/lab-results/csv")
async def upload_csv(
    file: UploadFile,
    ctx: ContextDep,
    principal: _Poster,
    lab_id: Annotated[str | None, Query(description="lab of rows without a lab_id column")] = None,
) -> CsvReport:
    """Append the good rows of a CSV (header: the fields of ``POST /api/lab-results``) and report every
    row by line number; broken rows are reported, not stored, and do not stop the others."""
    raw = await file.read(MAX_CSV_BYTES + 1)
    if len(raw) > MAX_CSV_BYTES:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"CSV over {MAX_CSV_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"CSV is not UTF-8: {exc.reason}") from exc
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "sample_id" not in reader.fieldnames:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"CSV needs a header line with {CSV_COLUMNS}")
    parsed: list[tuple[int, LabResultIn]] = []
    report: dict[int, CsvRow] = {}
    for record in reader:
        line = reader.line_num
        if len(report) >= MAX_CSV_ROWS:
            raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"more than {MAX_CSV_ROWS} rows")
        try:
            parsed.append((line, LabResultIn.model_validate(_row_fields(record, lab_id))))
            report[line] = CsvRow(line=line, ok=True)
        except ValidationError as exc:
            report[line] = CsvRow(line=line, ok=False, errors=[_error(e) for e in exc.errors()])
        except ValueError as exc:
            report[line] = CsvRow(line=line, ok=False, errors=[str(exc)])
    stored, errors = await run_in_threadpool(_append, ctx, principal, parsed)
    for line, message in errors.items():
        report[line] = CsvRow(line=line, ok=False, errors=[str(message)])
    for line, result in stored:
        report[line] = CsvRow(line=line, ok=True, id=result.id, seq=result.seq)
    await publish_results(ctx.bus, [s for _, s in stored])
    rows = [report[line] for line in sorted(report)]
    failed = sum(not r.ok for r in rows)
    log.info("%s uploaded lab CSV: %s stored, %s failed", principal.username, len(stored), failed)
    return CsvReport(stored=len(stored), failed=failed, rows=rows)


def _row_fields(record: dict[str | Any, Any], default_lab: str | None) -> dict[str, Any]:
    if None in record:
        raise ValueError(f"{len(record[None])} more values than header columns")
    fields = {k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in record.items() if k}
    if any(v is None for v in fields.values()):
        raise ValueError("fewer values than header columns")
    fields = {k: v for k, v in fields.items() if v != ""}
    if "lab_id" not in fields and default_lab:
        fields["lab_id"] = default_lab
    if "passed" in fields:
        verdict = str(fields["passed"]).lower()
        fields["passed"] = {"pass": "true", "fail": "false"}.get(verdict, verdict)
    return fields


def _error(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


@router.get("/api/lab-results")
def list_results(
    session: SessionDep,
    principal: PrincipalDep,
    lab_id: str | None = None,
    restaurant_id: str | None = None,
    passed: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[LabResultOut]:
    """Results the caller may see, newest test first (a street supervisor: their street's)."""
    rows = service.list_results(
        session, principal=principal, lab_id=lab_id, restaurant_id=restaurant_id, passed=passed, limit=limit
    )
    return [LabResultOut.model_validate(r) for r in rows]


@router.get("/api/lab-results/verify")
def verify(session: SessionDep, principal: PrincipalDep) -> VerifyOut:
    """Check every lab's hash chain; a broken one names its first bad ``seq``."""
    labs = service.verify(session)
    return VerifyOut(ok=all(s.ok for s in labs), labs=labs)
