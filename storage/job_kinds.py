"""Background jobs by name: each kind of job is a function registered here, called as
``fn(storage, principal, params, reporter) -> dict`` with JSON params (ids, not objects),
so that a job can run in this process's thread pool or in a Celery worker on another
machine (storage/celery_jobs.py) alike. The acting principal travels as a user id and a
token scope and is resolved again where the job runs; the function checks access again
itself (the user may have lost the right since the job was queued)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from storage.errors import NotFound
from storage.principal import SCOPES, Principal

if TYPE_CHECKING:
    from storage import Storage
    from storage.jobs import Reporter

JobFunction = Callable[["Storage", Principal, dict, "Reporter"], dict]
KINDS: dict[str, JobFunction] = {}


def job_kind(name: str) -> Callable[[JobFunction], JobFunction]:
    def register(fn: JobFunction) -> JobFunction:
        if name in KINDS:
            raise ValueError(f"job kind {name} registered twice")
        KINDS[name] = fn
        return fn
    return register


def principal_params(principal: Principal) -> dict:
    """How a principal travels with a job: who, and what a token of theirs may do."""
    return {"user_id": principal.user_id, "scope": principal.scope, "via": principal.via,
            "token_id": principal.token_id}


def resolve_principal(storage: "Storage", acting: dict) -> Principal:
    user = storage.users.get(int(acting["user_id"]))
    if user is None or not getattr(user, "is_active", True):
        raise NotFound("The account that started this job is gone")
    scope = acting.get("scope") if acting.get("scope") in SCOPES else "read"
    return Principal(user_id=user.id, email=user.email, name=user.name, is_admin=user.is_admin,
                     via=acting.get("via") or "session", scope=scope, token_id=acting.get("token_id"))


def run_kind(storage: "Storage", task: str, payload: dict, reporter: "Reporter") -> dict:
    fn = KINDS.get(task)
    if fn is None:
        raise ValueError(f"unknown job kind {task!r}")
    principal = resolve_principal(storage, payload["principal"])
    return fn(storage, principal, payload["params"], reporter)


# --- the kinds ---------------------------------------------------------------------------

@job_kind("profile")
def profile(storage: "Storage", principal: Principal, params: dict, reporter: "Reporter") -> dict:
    storage.datasets.get(principal, params["dataset_id"])  # still visible to whoever asked
    return storage.profiles.compute(params, reporter)


@job_kind("report")
def report(storage: "Storage", principal: Principal, params: dict, reporter: "Reporter") -> dict:
    return storage.reports.render_export(principal, params, reporter)  # collect() checks access again


@job_kind("schedule_send")
def schedule_send(storage: "Storage", principal: Principal, params: dict, reporter: "Reporter") -> dict:
    # The run was claimed by the scheduler for the schedule's owner; the attempt reads the
    # schedule again and sends what its owner may see.
    return storage.schedules._attempt(int(params["run_id"]), params.get("log_id"))


@job_kind("alert_send")
def alert_send(storage: "Storage", principal: Principal, params: dict, reporter: "Reporter") -> dict:
    return {"sent": [storage.alerts._deliver(int(d)) for d in params["deliveries"]]}


@job_kind("analyze")
def analyze(storage: "Storage", principal: Principal, params: dict, reporter: "Reporter") -> dict:
    return storage.analyses.run(principal, params["kind"], params["params"], reporter)  # run() checks access


@job_kind("derive")
def derive(storage: "Storage", principal: Principal, params: dict, reporter: "Reporter") -> dict:
    return storage.analyses.save_labels_job(principal, params, reporter)


@job_kind("sync_refresh")
def sync_refresh(storage: "Storage", principal: Principal, params: dict, reporter: "Reporter") -> dict:
    return storage.syncs.refresh_job(principal, params, reporter)  # _refresh checks access again


@job_kind("sync_create")
def sync_create(storage: "Storage", principal: Principal, params: dict, reporter: "Reporter") -> dict:
    return storage.syncs.create_job(principal, params, reporter)  # checks the connection's role again


@job_kind("import")
def import_upload(storage: "Storage", principal: Principal, params: dict, reporter: "Reporter") -> dict:
    """An upload into a dataset (the API's import); the import checks the upload's owner
    and the workspace role again, and writes the dataset whole (temp file, rename)."""
    from storage import imports
    return imports.import_upload(storage, principal, params["upload_id"], report=reporter, **params["options"])


@job_kind("import_sheets")
def import_sheets(storage: "Storage", principal: Principal, params: dict, reporter: "Reporter") -> dict:
    """The import screen's import: one dataset per chosen sheet (storage.imports)."""
    from storage import imports
    return imports.import_sheets(storage, principal, params, reporter)
