"""dues close day: the local day a month was closed, which decides whether its close reminded in time

Revision ID: c17a00000002
Revises: c17a00000001
Create Date: 2026-12-07 21:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c17a00000002'
down_revision = 'c17a00000001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('dues_close') as batch:
        batch.add_column(sa.Column('closed_on', sa.Date(), nullable=True))
    op.execute("UPDATE dues_close SET closed_on = CAST(closed_at AS DATE)")
    with op.batch_alter_table('dues_close') as batch:
        batch.alter_column('closed_on', existing_type=sa.Date(), nullable=False)


def downgrade():
    with op.batch_alter_table('dues_close') as batch:
        batch.drop_column('closed_on')
