"""`flask create-admin`: the first city admin of a production installation."""

from __future__ import annotations

import sys

import click
from flask import Flask

from ..db import get_db
from ..errors import DomainError


@click.command("create-admin")
@click.argument("username")
@click.option("--name", "display_name", default="市科技局管理员", show_default=True,
              help="The name shown in the pages.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input (scripts).")
def create_admin_command(username: str, display_name: str, password_stdin: bool) -> None:
    """Create a city admin; asks for the password twice unless --password-stdin is given."""
    from ..services import user_accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")
    try:
        with get_db().unit_of_work() as session:
            user = user_accounts.create_city_admin(session, username, password, display_name)
            label = f"{user.username}（{user.display_name}）"
    except DomainError as exc:
        for err in exc.errors or [{"message": exc.message}]:
            click.echo(f"未创建：{err['message']}", err=True)
        sys.exit(1)
    click.echo(f"已创建市科技局管理员 {label}。")


def init_app(app: Flask) -> None:
    """Register the command."""
    app.cli.add_command(create_admin_command)
