"""`flask --app app qscore reset-second-step USERNAME --reason …`: the server's console resets a second step,
for the street's last administrator whose phone and recovery codes are both gone (nobody else can)."""
from __future__ import annotations

import click
from sqlalchemy import select

from ..cli import qscore_cli
from ..db import db
from ..models import User
from . import reset


@qscore_cli.command("reset-second-step")
@click.argument("username")
@click.option("--reason", required=True, help="Why (kept in the audit log), e.g. 'phone lost, confirmed in person'.")
def reset_second_step_command(username: str, reason: str) -> None:
    """Remove an account's two-step verification and end its logins (audited)."""
    user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise click.ClickException(f"no account {username!r}")
    if not user.has_second_step:
        click.echo(f"{user.username} has no second step: nothing to reset")
        return
    reason = " ".join(reason.split())[:500]
    if not reason:
        raise click.ClickException("give a reason")
    reset(user, by=None, reason=reason)
    db.session.commit()
    click.echo(f"ok: the second step of {user.username} is reset and its logins have ended")
