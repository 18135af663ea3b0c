"""mentor is a member; early proposals

A rectification case's mentor (专人帮扶) becomes a member of the branch instead of a login account.
A mentor account linked to a member record becomes that member; a mentor account without one is
cleared (the case shows "not assigned yet") and an audit row keeps who it was. A proposal gets the
reason given when the branch meeting proposes before the case's deadline.

Revision ID: a7ed59ed3030
Revises: ec281920976c
Create Date: 2026-12-07 03:23:56.990535

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7ed59ed3030'
down_revision = 'ec281920976c'
branch_labels = None
depends_on = None

audit_log = sa.table(
    'audit_log', sa.column('at', sa.DateTime), sa.column('user_id', sa.Integer), sa.column('username', sa.String),
    sa.column('action', sa.String), sa.column('object_type', sa.String), sa.column('object_id', sa.Integer),
    sa.column('member_id', sa.Integer), sa.column('summary', sa.Text), sa.column('before', sa.JSON),
    sa.column('after', sa.JSON), sa.column('ip', sa.String))


def upgrade():
    with op.batch_alter_table('proposal', schema=None) as batch_op:
        batch_op.add_column(sa.Column('early_reason', sa.Text(), nullable=False, server_default=''))
    with op.batch_alter_table('proposal', schema=None) as batch_op:
        batch_op.alter_column('early_reason', server_default=None)  # the models set defaults, not the database

    with op.batch_alter_table('rectification_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mentor_member_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_rectification_case_mentor_member_id'), ['mentor_member_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_rectification_case_mentor_member_id_member'), 'member',
                                    ['mentor_member_id'], ['id'])

    conn = op.get_bind()
    conn.execute(sa.text(
        'UPDATE rectification_case SET mentor_member_id = '
        '(SELECT u.member_id FROM "user" u WHERE u.id = rectification_case.mentor_id) '
        'WHERE mentor_id IS NOT NULL'))
    unlinked = conn.execute(sa.text(
        'SELECT c.id, c.member_id, u.id, u.username, u.display_name FROM rectification_case c '
        'JOIN "user" u ON u.id = c.mentor_id WHERE u.member_id IS NULL')).all()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    if unlinked:
        op.bulk_insert(audit_log, [
            {"at": now, "user_id": None, "username": "", "action": "case_mentor_cleared",
             "object_type": "rectificationcase", "object_id": case_id, "member_id": member_id,
             "summary": f"mentor account {username} ({display_name}) has no member record: choose the mentor "
                        "again among the branch's members",
             "before": {"mentor_user_id": user_id, "username": username, "display_name": display_name},
             "after": {"mentor_member_id": None}, "ip": ""}
            for case_id, member_id, user_id, username, display_name in unlinked])

    with op.batch_alter_table('rectification_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rectification_case_mentor_id'))
        batch_op.drop_constraint(batch_op.f('fk_rectification_case_mentor_id_user'), type_='foreignkey')
        batch_op.drop_column('mentor_id')


def downgrade():
    with op.batch_alter_table('rectification_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mentor_id', sa.INTEGER(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_rectification_case_mentor_id_user'), 'user', ['mentor_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_rectification_case_mentor_id'), ['mentor_id'], unique=False)

    # Back to accounts: a mentor without a login account is lost (the case shows "not assigned yet").
    op.get_bind().execute(sa.text(
        'UPDATE rectification_case SET mentor_id = '
        '(SELECT u.id FROM "user" u WHERE u.member_id = rectification_case.mentor_member_id) '
        'WHERE mentor_member_id IS NOT NULL'))

    with op.batch_alter_table('rectification_case', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_rectification_case_mentor_member_id_member'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_rectification_case_mentor_member_id'))
        batch_op.drop_column('mentor_member_id')

    with op.batch_alter_table('proposal', schema=None) as batch_op:
        batch_op.drop_column('early_reason')
