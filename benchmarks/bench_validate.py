"""Validate a generated project of N agent files and print a table of timings.

Run: python benchmarks/bench_validate.py [N ...]   (default: 100 1000)

Two kinds of file are measured. "libyaml" files parse with the C parser. "ruamel" files contain YAML
that libyaml (a YAML 1.1 parser) refuses but YAML 1.2 allows (here a plain scalar ending in "?" inside a
flow mapping), so the loader falls back to ruamel's pure-Python parser for them, which is several times
slower.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from agentsync.load import validate_project

AGENT = """# yaml-language-server: $schema=../schemas/agent.schema.json
name: Agent {i}
tags: [support, team-{team}]
conversation_config:
  agent:
    first_message: Hello from agent {i}, how can I help?
    language: en
    prompt:
      prompt: !file prompts/shared.md
      llm: gemini-2.5-flash
      temperature: 0.3
      tool_ids: [tool_a, tool_b]
  tts: {{voice_id: cjVigY5qzO86Huf0OWal, model_id: eleven_flash_v2, stability: 0.5, speed: 1.0}}
  turn: {{turn_timeout: 7, mode: turn}}
  asr: {{provider: scribe_realtime, keywords: [billing, refund]}}
platform_settings:
  call_limits: {{daily_limit: 500}}
  privacy: {{record_voice: true, retention_days: 30}}
  evaluation:
    criteria:
      - {{id: solved, name: Solved, conversation_goal_prompt: {question}}}
"""
QUESTIONS = {"libyaml": "Check that the issue was solved.", "ruamel": "Was the issue solved?"}


def build(root: Path, count: int, kind: str = "libyaml") -> None:
    (root / "agents" / "prompts").mkdir(parents=True)
    (root / "agentsync.yaml").write_text("namespace: bench\n")
    (root / "agents" / "prompts" / "shared.md").write_text("You are a helpful agent.\n" * 40)
    (root / "tags.yaml").write_text("".join(f"- title: tag {i}\n" for i in range(50)))
    for i in range(count):
        (root / "agents" / f"agent-{i:05d}.yaml").write_text(
            AGENT.format(i=i, team=i % 7, question=QUESTIONS[kind])
        )


def measure(count: int, kind: str) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build(root, count, kind)
        validate_project(root)  # warm the compiled schema, as a second run in a process would be
        start = time.perf_counter()
        problems = validate_project(root)
        return time.perf_counter() - start, len(problems)


def main(counts: list[int]) -> None:
    print(f"{'parser':>8} {'agent files':>12} {'seconds':>9} {'ms/file':>8} {'problems':>9}")
    for kind in QUESTIONS:
        for count in counts:
            seconds, problems = measure(count, kind)
            print(f"{kind:>8} {count:>12} {seconds:>9.3f} {seconds * 1000 / count:>8.3f} {problems:>9}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100, 1000])
