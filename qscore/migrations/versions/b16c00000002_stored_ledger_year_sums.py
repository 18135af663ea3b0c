"""stored ledger year sums: one row per member-year, what scoring reads instead of grouping the ledger

Grading a district grouped the year's whole ledger (~330,000 entries, 1.8-3 s). ledger_year_sums holds
each member's live points of a year per (indicator, category, month), recomputed from point_entry in
the transaction of every ledger write (qscore/scoring/year_sums.py). This upgrade creates the table and
fills it from the ledger with the code that maintains it: the rows are derived data in the format the
running code reads, and a later change of that format rebuilds them in its own migration.

Revision ID: b16c00000002
Revises: b16c00000001
Create Date: 2026-12-07 13:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b16c00000002'
down_revision = 'b16c00000001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'ledger_year_sums',
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('sums', sa.Text(), nullable=False),
        sa.Column('last_earned_on', sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_ledger_year_sums_member_id_member')),
        sa.PrimaryKeyConstraint('member_id', 'year', name=op.f('pk_ledger_year_sums')),
    )
    from qscore.scoring import year_sums
    year_sums.rebuild(op.get_bind())


def downgrade():
    op.drop_table('ledger_year_sums')
