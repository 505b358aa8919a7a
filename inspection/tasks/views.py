"""HTTP views of field tasks: dispatch a task, the inspector's steps, findings with photos, the trail."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable
from typing import Annotated, TypeVar, cast

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from command_center.auth.principal import Principal
from command_center.cases import flows as case_flows
from command_center.cases.lifecycle import IllegalTransitionError
from command_center.context import AppContext
from command_center.database.core import transaction
from command_center.deps import ContextDep, PrincipalDep, SessionDep, require_roles
from inspection.tasks import flows, lifecycle, service
from inspection.tasks.lifecycle import IllegalTaskTransitionError, TaskState
from inspection.tasks.models import FieldTask, TaskPhoto
from inspection.tasks.photos import MAX_PHOTO_BYTES, PhotoError, PhotoStore, check, extension_of
from inspection.tasks.schemas import (
    CHECKLIST,
    ChecklistItem,
    FindingsIn,
    PhotoOut,
    TaskActionIn,
    TaskAuditOut,
    TaskDetail,
    TaskIn,
    TaskOut,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
router = APIRouter(tags=["field tasks"])

# Multipart headers and the boundary around one photo add a few hundred bytes; a caption field more.
_MULTIPART_SLACK = 16 * 1024
_Dispatcher = Annotated[Principal, Depends(require_roles("district_admin", "street_supervisor"))]


def photo_store(ctx: AppContext) -> PhotoStore:
    """Where on-site photos are kept: the data dir's ``photos/``."""
    return PhotoStore(ctx.settings.data_dir / "photos")


def _out(task: FieldTask) -> TaskOut:
    allowed = lifecycle.allowed_actions(cast(TaskState, task.state))
    return TaskOut.model_validate(task).model_copy(update={"allowed_actions": allowed})


def _photo_out(photo: TaskPhoto) -> PhotoOut:
    return PhotoOut.model_validate(photo).model_copy(
        update={"url": f"/api/tasks/{photo.task_id}/photos/{photo.id}"}
    )


def _run(ctx: AppContext, fn: Callable[[Session], T]) -> T:
    """Run one service step in a transaction, mapping its refusals to HTTP errors."""
    try:
        with transaction(ctx.sessions) as session:
            return fn(session)
    except (IllegalTaskTransitionError, IllegalTransitionError, service.TaskConflictError) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except service.TaskInputError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc


@router.get("/api/tasks/checklist")
def checklist(_: PrincipalDep) -> list[ChecklistItem]:
    """The on-site checklist: the keys ``findings.checklist`` takes, with what each one checks."""
    return [ChecklistItem(key=k, label=v) for k, v in CHECKLIST.items()]


@router.post("/api/tasks", status_code=status.HTTP_201_CREATED)
async def create_task(data: TaskIn, ctx: ContextDep, principal: _Dispatcher) -> TaskOut:
    """Push a field task to an inspector (live, over the WebSocket). For a case, the case is assigned to
    them too; pick them with ``GET /api/cases/{id}/dispatch``. 404 for an unknown case, 409 when the
    case is finished or already has an open task, 422 for an unknown inspector or restaurant."""

    def step(session: Session) -> service.Changed | None:
        return service.create(session, principal=principal, data=data, now=case_flows.now(ctx))

    changed = await run_in_threadpool(_run, ctx, step)
    if changed is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {data.case_id}")
    await flows.publish(ctx, flows.changed_events(changed, action="create", actor=principal.username))
    return _out(changed.task)


@router.get("/api/tasks")
def list_tasks(
    session: SessionDep,
    principal: PrincipalDep,
    state: Annotated[str | None, Query(description="a state, or `open` for unfinished tasks")] = None,
    inspector: Annotated[str | None, Query()] = None,
    case: Annotated[int | None, Query(description="tasks of this case")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TaskOut]:
    """Tasks the caller may see, most recently changed first: an inspector their own, a street supervisor
    their street's."""
    if state is not None and state != "open" and state not in lifecycle.STATES:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"state: unknown state {state!r} (one of open, {', '.join(lifecycle.STATES)})",
        )
    rows = service.list_tasks(
        session, principal=principal, state=state, inspector_id=inspector, case_id=case, limit=limit
    )
    return [_out(t) for t in rows]


@router.get("/api/tasks/{task_id}")
def get_task(task_id: int, session: SessionDep, principal: PrincipalDep) -> TaskDetail:
    """One task with its photos and audit trail; 403 outside the caller's scope, 404 if unknown."""
    task = service.get_task(session, principal=principal, task_id=task_id)
    if task is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task {task_id}")
    return TaskDetail.model_validate(_out(task).model_dump()).model_copy(
        update={
            "photos": [_photo_out(p) for p in service.photos_of(session, task_id=task.id)],
            "audit": [TaskAuditOut.model_validate(a) for a in service.audit_trail(session, task_id=task.id)],
        }
    )


@router.post("/api/tasks/{task_id}/actions")
async def act(task_id: int, body: TaskActionIn, ctx: ContextDep, principal: PrincipalDep) -> TaskOut:
    """``accept``, ``decline``, ``arrive`` (the inspector; arrival is also noticed from the geofence) or
    ``cancel`` (the supervisor): 409 with the reason when the state does not allow it."""

    def step(session: Session) -> FieldTask | None:
        return service.act(
            session,
            principal=principal,
            task_id=task_id,
            action=body.action,
            now=case_flows.now(ctx),
            note=body.note,
        )

    task = await run_in_threadpool(_run, ctx, step)
    if task is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task {task_id}")
    await flows.publish(ctx, [flows.task_event(task, action=body.action, actor=principal.username)])
    return _out(task)


@router.post("/api/tasks/{task_id}/findings")
async def submit_findings(
    task_id: int, body: FindingsIn, ctx: ContextDep, principal: PrincipalDep
) -> TaskOut:
    """Submit the task with its findings (checklist, text, outcome); the case moves on: a re-inspection
    closes (compliant) or starts a new rectification (violation, with ``deadline``), any other open
    case records the findings. Photos are uploaded before, to ``/api/tasks/{id}/photos``."""

    def step(session: Session) -> service.Changed | None:
        return service.submit(
            session,
            principal=principal,
            task_id=task_id,
            findings=body,
            now=case_flows.now(ctx),
        )

    changed = await run_in_threadpool(_run, ctx, step)
    if changed is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task {task_id}")
    await flows.publish(ctx, flows.changed_events(changed, action="submit", actor=principal.username))
    return _out(changed.task)


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` (by its Content-Length when
    it has one, else while it streams), so a 200 MB upload is never held."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"upload of {declared} bytes is over the photo limit of {MAX_PHOTO_BYTES} bytes",
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE,
                f"upload is over the photo limit of {MAX_PHOTO_BYTES} bytes",
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def _photo_bytes(request: Request) -> tuple[bytes, str | None]:
    """The photo and caption from a multipart form (field ``photo`` or ``file``, optional ``caption``)
    or from a raw body (``?caption=``)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        body = await _read_body(request, MAX_PHOTO_BYTES)
        return body, request.query_params.get("caption")
    body = await _read_body(request, MAX_PHOTO_BYTES + _MULTIPART_SLACK)

    async def replay() -> AsyncGenerator[bytes, None]:
        yield body

    try:
        form = await MultiPartParser(request.headers, replay(), max_files=1, max_fields=4).parse()
    except MultiPartException as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"unreadable multipart form: {exc.message}") from exc
    upload = form.get("photo") or form.get("file")
    if not isinstance(upload, UploadFile):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "photo: send the image as form field 'photo'"
        )
    data = await upload.read()
    caption = form.get("caption")
    return data, caption if isinstance(caption, str) else request.query_params.get("caption")


@router.post("/api/tasks/{task_id}/photos", status_code=status.HTTP_201_CREATED)
async def upload_photo(task_id: int, request: Request, ctx: ContextDep, principal: PrincipalDep) -> PhotoOut:
    """Add an on-site photo to a task (its inspector, after accepting and before submitting).

    Send the image as the body (any Content-Type; ``?caption=``) or as multipart field ``photo``. The
    content decides: JPEG, PNG or WebP, at most 15 MB (413 beyond; 415 for anything that is not such an
    image). Stored once by content hash; the same photo twice is the same record."""
    data, caption = await _photo_bytes(request)
    try:
        photo = await run_in_threadpool(check, data)
    except PhotoError as exc:
        code = status.HTTP_413_CONTENT_TOO_LARGE if exc.too_large else status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
        raise HTTPException(code, str(exc)) from exc
    if caption is not None and len(caption) > 200:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "caption: at most 200 characters")

    def step(session: Session) -> TaskPhoto | None:
        # Scope and state first, so a refused upload leaves no file behind.
        task = service.get_task(session, principal=principal, task_id=task_id)
        if task is None:
            return None
        row = service.add_photo(
            session,
            principal=principal,
            task_id=task_id,
            photo=photo,
            caption=caption,
            now=case_flows.now(ctx),
        )
        photo_store(ctx).save(photo)
        return row

    row = await run_in_threadpool(_run, ctx, step)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task {task_id}")
    log.info("task %s: photo %s (%s bytes) from %s", task_id, row.sha256[:12], row.bytes, principal.username)
    return _photo_out(row)


@router.get("/api/tasks/{task_id}/photos/{photo_id}")
def get_photo(
    task_id: int, photo_id: int, session: SessionDep, principal: PrincipalDep, ctx: ContextDep
) -> FileResponse:
    """One photo of a task, to whoever may see the task."""
    task = service.get_task(session, principal=principal, task_id=task_id)
    photo = session.get(TaskPhoto, photo_id)
    if task is None or photo is None or photo.task_id != task.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no photo {photo_id} on task {task_id}")
    path = photo_store(ctx).path(photo.sha256, extension_of(photo.content_type))
    if not path.is_file():
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"photo {photo_id}'s file is missing from the data dir"
        )
    return FileResponse(
        path, media_type=photo.content_type, headers={"Cache-Control": "private, max-age=86400"}
    )
