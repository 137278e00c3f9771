"""The viewers' web app: server-rendered pages (Jinja2, htmx) over the Movies API, its only backend."""
