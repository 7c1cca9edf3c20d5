"""Job progress in frames and the model each job used.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("model", sa.String(200)))
        batch.add_column(sa.Column("frames_done", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("frames_expected", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("frames_expected")
        batch.drop_column("frames_done")
        batch.drop_column("model")
