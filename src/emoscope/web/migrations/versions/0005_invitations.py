"""Invitations to record answers with the browser's camera: the link's SHA-256, the expiry, the consent
(its text and time) and the questions, each with the interview that answered it.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("candidate_id", sa.String(36), sa.ForeignKey("candidates.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("consent_text", sa.Text()),
        sa.Column("consented_at", sa.DateTime()),
        sa.Column("revoked_at", sa.DateTime()),
        sa.Column("completed_at", sa.DateTime()),
    )
    op.create_index("ix_invitations_candidate_id", "invitations", ["candidate_id"])
    op.create_table(
        "invitation_questions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("invitation_id", sa.String(36), sa.ForeignKey("invitations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.Column("interview_id", sa.String(36), sa.ForeignKey("interviews.id", ondelete="SET NULL")),
        sa.Column("answered_at", sa.DateTime()),
        sa.UniqueConstraint("invitation_id", "position"),
    )
    op.create_index("ix_invitation_questions_invitation_id", "invitation_questions", ["invitation_id"])


def downgrade() -> None:
    op.drop_table("invitation_questions")
    op.drop_table("invitations")
