"""Label Studio ids keyed by their server

Every fresh Label Studio numbers users, projects, tasks and annotations from 1 again, so a
stored id is unique only together with the server it came from (``ls_server``, the server's
normalised base URL: engine/publishing/ls_server.py). Rows stored before get the configured
server (KAZI_LABEL_STUDIO_URL, when a token says Label Studio is in use), else ''.

The three mapping tables are rebuilt (their primary key changes; nothing references them);
workers only gets a column and a new unique constraint (many tables reference it).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# SQLite reflects the unnamed UNIQUE (ls_user_id) of 0003 without a name: this names it.
_SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
_OLD = "_pre_0011"


def _current_server() -> str:
    try:
        from engine.publishing.ls_server import label_studio_server
        from engine.settings import get_settings

        settings = get_settings()
    except Exception:  # settings that do not load: the server is unknown
        return ""
    if not settings.label_studio_token:
        return ""
    return label_studio_server(settings.label_studio_url)


def _server_column() -> sa.Column[str]:
    return sa.Column("ls_server", sa.String(length=200), nullable=False)


def _projects_table(with_server: bool) -> None:
    server = [_server_column()] if with_server else []
    key = ["ls_server", "ls_project_id"] if with_server else ["ls_project_id"]
    unique = [*key[:-1], "job_id", "role", "replica"]
    op.create_table(
        "label_studio_projects",
        *server,
        sa.Column("ls_project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("replica", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint(*key, name="pk_label_studio_projects"),
        sa.UniqueConstraint(*unique, name="uq_ls_projects_job"),
    )
    op.create_index("ix_label_studio_projects_job_id", "label_studio_projects", ["job_id"])


def _tasks_table(with_server: bool) -> None:
    server = [_server_column()] if with_server else []
    key = ["ls_server", "ls_task_id"] if with_server else ["ls_task_id"]
    unique = [*key[:-1], "ls_project_id", "task_id"]
    op.create_table(
        "label_studio_tasks",
        *server,
        sa.Column("ls_task_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ls_project_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("replica", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint(*key, name="pk_label_studio_tasks"),
        sa.UniqueConstraint(*unique, name="uq_ls_tasks_project"),
    )
    op.create_index("ix_label_studio_tasks_ls_project_id", "label_studio_tasks", ["ls_project_id"])
    op.create_index("ix_label_studio_tasks_task_id", "label_studio_tasks", ["task_id"])


def _refused_table(with_server: bool) -> None:
    server = [_server_column()] if with_server else []
    key = ["ls_server", "ls_annotation_id"] if with_server else ["ls_annotation_id"]
    op.create_table(
        "refused_annotations",
        *server,
        sa.Column("ls_annotation_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ls_project_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("worker_id", sa.String(length=36), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(*key, name="pk_refused_annotations"),
    )


TABLES = {
    "label_studio_projects": (
        _projects_table,
        ["ls_project_id", "job_id", "role", "replica", "created_at"],
        ["ix_label_studio_projects_job_id"],
        ["uq_ls_projects_job"],
    ),
    "label_studio_tasks": (
        _tasks_table,
        ["ls_task_id", "ls_project_id", "task_id", "replica"],
        ["ix_label_studio_tasks_ls_project_id", "ix_label_studio_tasks_task_id"],
        ["uq_ls_tasks_project"],
    ),
    "refused_annotations": (
        _refused_table,
        ["ls_annotation_id", "ls_project_id", "task_id", "worker_id", "reason", "payload",
         "created_at"],
        [],
        [],
    ),
}  # fmt: skip


def _rebuild(name: str, with_server: bool, server: str) -> None:
    """Set the old table aside, create the new one and copy the rows over."""
    create, columns, indexes, uniques = TABLES[name]
    postgres = op.get_bind().dialect.name == "postgresql"
    for index in indexes:  # index names are database-wide
        op.drop_index(index, table_name=name)
    if postgres:  # so are the names of constraints backed by an index
        for unique in uniques:
            op.drop_constraint(unique, name, type_="unique")
        op.execute(sa.text(f'ALTER TABLE "{name}" DROP CONSTRAINT IF EXISTS "{name}_pkey"'))
        op.execute(sa.text(f'ALTER TABLE "{name}" DROP CONSTRAINT IF EXISTS "pk_{name}"'))
    op.rename_table(name, name + _OLD)
    create(with_server)
    listed = ", ".join(columns)
    if with_server:
        op.get_bind().execute(
            sa.text(
                f"INSERT INTO {name} (ls_server, {listed}) SELECT :server, {listed} "
                f"FROM {name}{_OLD}"
            ),
            {"server": server},
        )
    else:
        op.execute(sa.text(f"INSERT INTO {name} ({listed}) SELECT {listed} FROM {name}{_OLD}"))
    op.drop_table(name + _OLD)


def upgrade() -> None:
    server = _current_server()
    for name in TABLES:
        _rebuild(name, True, server)
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.add_column("workers", sa.Column("ls_server", sa.String(length=200), nullable=True))
        op.drop_constraint("workers_ls_user_id_key", "workers", type_="unique")
        op.create_unique_constraint("uq_workers_ls_user", "workers", ["ls_server", "ls_user_id"])
    else:
        with op.batch_alter_table("workers", naming_convention=_SQLITE_NAMES) as batch:
            batch.add_column(sa.Column("ls_server", sa.String(length=200), nullable=True))
            batch.drop_constraint("uq_workers_ls_user_id", type_="unique")
            batch.create_unique_constraint("uq_workers_ls_user", ["ls_server", "ls_user_id"])
    op.get_bind().execute(
        sa.text("UPDATE workers SET ls_server = :server WHERE ls_user_id IS NOT NULL"),
        {"server": server},
    )
    # An answer's annotation id is unique only with its (server's) task: an index, not UNIQUE.
    if postgres:
        op.drop_constraint("answers_ls_annotation_id_key", "answers", type_="unique")
    else:
        with op.batch_alter_table("answers", naming_convention=_SQLITE_NAMES) as batch:
            batch.drop_constraint("uq_answers_ls_annotation_id", type_="unique")
    op.create_index("ix_answers_ls_annotation_id", "answers", ["ls_annotation_id"])


def downgrade() -> None:
    op.drop_index("ix_answers_ls_annotation_id", table_name="answers")
    if op.get_bind().dialect.name == "postgresql":
        op.create_unique_constraint("answers_ls_annotation_id_key", "answers", ["ls_annotation_id"])
    else:
        with op.batch_alter_table("answers") as batch:
            batch.create_unique_constraint("uq_answers_ls_annotation_id", ["ls_annotation_id"])
    # Back to one server: fails when two servers left ids that collide; a worker keeps its
    # Label Studio link unless another worker has the same user id.
    for name in TABLES:
        _rebuild(name, False, "")
    op.get_bind().execute(
        sa.text(
            "UPDATE workers SET ls_user_id = NULL WHERE ls_user_id IS NOT NULL AND id NOT IN "
            "(SELECT MIN(id) FROM workers WHERE ls_user_id IS NOT NULL GROUP BY ls_user_id)"
        )
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.drop_constraint("uq_workers_ls_user", "workers", type_="unique")
        op.drop_column("workers", "ls_server")
        op.create_unique_constraint("workers_ls_user_id_key", "workers", ["ls_user_id"])
    else:
        with op.batch_alter_table("workers") as batch:
            batch.drop_constraint("uq_workers_ls_user", type_="unique")
            batch.drop_column("ls_server")
            batch.create_unique_constraint("uq_workers_ls_user_id", ["ls_user_id"])
