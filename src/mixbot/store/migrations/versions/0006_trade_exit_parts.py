"""trades.exit_parts: the orders that closed a trade (a partly filled take-profit, then the
stop for the rest), each with its quantity, size-weighted price, charges and last fill time
(JSON text; see :mod:`mixbot.orders.exits`). NULL on trades stored before it.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trades") as batch:
        batch.add_column(sa.Column("exit_parts", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trades") as batch:
        batch.drop_column("exit_parts")
