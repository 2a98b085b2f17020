"""The check stage: does the tuned model know its entities, and is it still as good at the rest?

Knowledge (recognition on held-out photos, facts as multiple choice, name recall), retention
(general probe accuracy base vs tuned per family, forward KL(base || tuned) and greedy agreement
teacher-forced on the base's cached answers, concept bleed), and the export gate that turns them
into pass / warn / fail with reasons. Entry point: `run_check` (a generator of progress records
ending in `CheckFinished`); `latest_check` reads the stored verdict back. Submodules: `config`,
`probes`, `batch`, `baseline`, `knowledge`, `retention`, `gate`, `report`, `metrics`, `runner`.
Importing this package loads no model framework.
"""

from .config import CheckConfig, GateConfig, resolve_check_config
from .report import (Bleed, CheckFinished, CheckProgressed, CheckReport, CheckStarted, EntityKnowledge,
                     FamilyRetention, GateVerdict, KnowledgeReport, Reason, Recognition, RetentionReport)
from .runner import StoredCheck, latest_check, load_report, run_check

__all__ = [
    "Bleed", "CheckConfig", "CheckFinished", "CheckProgressed", "CheckReport", "CheckStarted",
    "EntityKnowledge", "FamilyRetention", "GateConfig", "GateVerdict", "KnowledgeReport", "Reason",
    "Recognition", "RetentionReport", "StoredCheck", "latest_check", "load_report", "resolve_check_config",
    "run_check",
]
