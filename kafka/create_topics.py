"""Create the topics of ``kafka/topics.yaml`` on a broker (idempotent: existing topics are kept).

    python kafka/create_topics.py --bootstrap kafka:9092
    python kafka/create_topics.py --dry-run        # print what would be created, as JSON

Compose runs it once the broker is healthy, before the Movies API and the loader start.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

TOPICS_FILE = Path(__file__).resolve().parent / "topics.yaml"
REQUEST_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str] = field(default_factory=dict)


def load_topics(path: Path = TOPICS_FILE) -> list[TopicSpec]:
    """Read and check the topic definitions; raise ValueError naming the file and the problem."""
    document: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get("topics"), list):
        raise ValueError(f"{path}: expected a mapping with a 'topics' list")
    specs = []
    for number, raw in enumerate(document["topics"], start=1):
        try:
            spec = TopicSpec(
                name=str(raw["name"]),
                partitions=int(raw["partitions"]),
                replication_factor=int(raw["replication_factor"]),
                config={str(k): str(v) for k, v in (raw.get("config") or {}).items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"{path}: topic #{number} is incomplete or ill-typed: {exc!r}") from exc
        if spec.partitions < 1 or spec.replication_factor < 1:
            raise ValueError(f"{path}: topic {spec.name} needs partitions and replication_factor >= 1")
        specs.append(spec)
    return specs


def create_topics(bootstrap: str, specs: list[TopicSpec]) -> list[str]:
    """Create missing topics; return one line per topic saying what happened."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    new = [
        NewTopic(s.name, num_partitions=s.partitions, replication_factor=s.replication_factor, config=s.config)
        for s in specs
    ]
    report = []
    for name, future in admin.create_topics(new, request_timeout=REQUEST_TIMEOUT_S).items():
        try:
            future.result()
            report.append(f"created {name}")
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
            report.append(f"kept existing {name}")
    return report


#: The docstring as help, its indented examples kept line by line (typer's ``\b`` paragraph marker).
HELP = "\n\n".join(f"\b\n{part}" if part.startswith("    ") else part for part in (__doc__ or "").split("\n\n"))

app = typer.Typer(add_completion=False)


@app.command(help=HELP)
def main(
    bootstrap: Annotated[str | None, typer.Option(help="Kafka bootstrap servers, e.g. kafka:9092")] = None,
    topics_file: Annotated[Path, typer.Option()] = TOPICS_FILE,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the topics as JSON and exit")] = False,
) -> None:
    specs = load_topics(topics_file)
    if dry_run:
        print(json.dumps([asdict(s) for s in specs], indent=2))
        return
    if not bootstrap:
        raise typer.BadParameter("required unless --dry-run", param_hint="--bootstrap")
    for line in create_topics(bootstrap, specs):
        print(line)


if __name__ == "__main__":
    app()
