"""``python -m movies_api``: serve the API with uvicorn; ``python -m movies_api token USER``: a development token."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import uvicorn

from movies_api.auth import DEFAULT_TOKEN_TTL_S, OPERATOR_ROLE, issue_token
from movies_api.bootstrap import create_app, jwt_secret_of
from movies_api.settings import MoviesApiSettings
from recsys_common.serving import uvicorn_options


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m movies_api", description="The Movies API")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve the API (the default); host and port from RECSYS_MOVIES_API_*")
    token = commands.add_parser("token", help="print a bearer token signed with the configured (or dev) secret")
    token.add_argument("user_id")
    token.add_argument("--ttl", type=float, default=DEFAULT_TOKEN_TTL_S, help="seconds the token is valid")
    token.add_argument("--operator", action="store_true", help="add the operator role")
    args = parser.parse_args(argv)
    settings = MoviesApiSettings()
    logging.basicConfig(level=settings.movies_api_log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    if args.command == "token":
        if args.ttl > settings.jwt_max_lifetime_s:
            parser.error(f"--ttl exceeds the tokens' maximum lifetime ({settings.jwt_max_lifetime_s} s)")
        roles = [OPERATOR_ROLE] if args.operator else []
        secret = jwt_secret_of(settings)
        audience, issuer = settings.jwt_audience, settings.jwt_issuer
        print(issue_token(args.user_id, secret, args.ttl, roles, audience=audience, issuer=issuer))
        return
    uvicorn.run(
        create_app(settings),
        host=settings.movies_api_host,
        port=settings.movies_api_port,
        log_level=settings.movies_api_log_level,
        **uvicorn_options(settings.movies_api_max_header_bytes),
    )


if __name__ == "__main__":
    main()
