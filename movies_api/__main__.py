"""``python -m movies_api``: serve the API with uvicorn; ``python -m movies_api token USER``: a development token."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from movies_api.auth import OPERATOR_ROLE
from movies_api.bootstrap import create_app, jwt_secret_of
from movies_api.settings import MoviesApiSettings
from recsys_common.observability import configure_logging
from recsys_common.serving import uvicorn_options
from recsys_common.settings import warn_unknown_variables
from recsys_common.tokens import DEFAULT_TOKEN_TTL_S, issue_token

app = typer.Typer(help="The Movies API", add_completion=False)


def _settings() -> MoviesApiSettings:
    settings = MoviesApiSettings()
    configure_logging(settings.movies_api_log_level.upper(), settings.log_format)
    warn_unknown_variables()
    return settings


@app.callback(invoke_without_command=True)
def default(ctx: typer.Context) -> None:
    """Serve the API when no command is given."""
    if ctx.invoked_subcommand is None:
        serve()


@app.command()
def serve() -> None:
    """Serve the API (the default); host and port from RECSYS_MOVIES_API_*."""
    settings = _settings()
    uvicorn.run(
        create_app(settings),
        host=settings.movies_api_host,
        port=settings.movies_api_port,
        log_level=settings.movies_api_log_level,
        log_config=None,  # uvicorn's loggers go through configure_logging's handler
        **uvicorn_options(settings.movies_api_max_header_bytes),
    )


@app.command()
def token(
    user_id: str,
    ttl: Annotated[float, typer.Option(help="seconds the token is valid")] = DEFAULT_TOKEN_TTL_S,
    operator: Annotated[bool, typer.Option("--operator", help="add the operator role")] = False,
) -> None:
    """Print a bearer token signed with the configured (or dev) secret."""
    settings = _settings()
    if ttl > settings.jwt_max_lifetime_s:
        raise typer.BadParameter(
            f"exceeds the tokens' maximum lifetime ({settings.jwt_max_lifetime_s} s)", param_hint="--ttl"
        )
    roles = [OPERATOR_ROLE] if operator else []
    secret = jwt_secret_of(settings)
    audience, issuer = settings.jwt_audience, settings.jwt_issuer
    print(issue_token(user_id, secret, ttl, roles, audience=audience, issuer=issuer))


def main() -> None:
    app(prog_name="python -m movies_api")


if __name__ == "__main__":
    main()
