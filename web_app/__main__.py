"""``python -m web_app``: serve the web app with uvicorn (host and port from RECSYS_WEB_*)."""

from __future__ import annotations

import typer
import uvicorn

from recsys_common.observability import configure_logging
from recsys_common.settings import warn_unknown_variables
from web_app.bootstrap import create_app
from web_app.settings import WebSettings

app = typer.Typer(help="The viewers' web app", add_completion=False)


@app.callback(invoke_without_command=True)
def default(ctx: typer.Context) -> None:
    """Serve the web app when no command is given."""
    if ctx.invoked_subcommand is None:
        serve()


@app.command()
def serve() -> None:
    """Serve the web app; host and port from RECSYS_WEB_HOST / RECSYS_WEB_PORT."""
    settings = WebSettings()
    configure_logging(settings.web_log_level.upper(), settings.log_format)
    warn_unknown_variables()
    print(f"the web app: http://{settings.web_host}:{settings.web_port}/", flush=True)
    uvicorn.run(
        create_app(settings),
        host=settings.web_host,
        port=settings.web_port,
        log_level=settings.web_log_level,
        log_config=None,  # uvicorn's loggers go through configure_logging's handler
    )


def main() -> None:
    app(prog_name="python -m web_app")


if __name__ == "__main__":
    main()
