"""agentsync: GitOps for ElevenLabs Agents."""

__version__ = "0.1.0"
